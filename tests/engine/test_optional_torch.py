"""Without the torch extra, the torch autoencoder's tests are skipped, not errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: pytest in a child where ``import torch`` fails as it does without the extra
NO_TORCH = """
import sys


class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NoTorch())
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-rs", sys.argv[1]]))
"""


def test_torch_tests_skip_without_torch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "tests/engine/test_torch_autoencoder.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    # 5: pytest's "no tests ran", as every test of the module was skipped
    assert done.returncode in (0, 5), done.stdout + done.stderr
    assert " skipped in " in done.stdout, done.stdout
    assert "the torch extra is not installed" in done.stdout, done.stdout
    assert "error" not in done.stdout.lower(), done.stdout
