"""The typed alert consumer type-checks under ``mypy --strict`` (it is public API)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_alerts_package_passes_mypy_strict():
    files = sorted(str(p) for p in (ROOT / "pynomaly" / "alerts").glob("*.py"))
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--no-incremental", *files], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
