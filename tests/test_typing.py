"""The Bytewax operators' public modules type-check under ``mypy --strict``."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: pynomaly.operators and the modules its operators are made of
STRICT = ["__init__", "detect_op", "detect_options", "instrumented", "parse_op",
          "record_rows", "score_records", "sinks_op", "window_op"]


@pytest.mark.slow
def test_operator_modules_pass_mypy_strict():
    files = [str(ROOT / "pynomaly" / "operators" / f"{m}.py") for m in STRICT]
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--no-incremental", *files], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
