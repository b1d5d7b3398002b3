"""The numba kernels' naive-twin tests (marker ``kernel``) once more with the
JIT disabled, so that the kernels' Python source, which compiled runs never
execute, is exercised and checked against the twins too.

The run is a subprocess: ``NUMBA_DISABLE_JIT`` is read when numba is first
imported. Its ``numba.config.DISABLE_JIT`` is asserted before the tests start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Directories holding ``kernel`` tests.
KERNEL_TEST_DIRS = ("tests/engine", "tests/bench/nab", "tests/incidents")

#: Compiled, these kernels wrap uint64 arithmetic modulo 2**64 silently
#: (SplitMix64 and the hash mixes rely on it); run as Python, NumPy's uint64
#: scalars wrap the same way but warn.
WRAPPING_MODULES = (
    "pynomaly.engine.detectors.rcf_kernels",
    "pynomaly.engine.detectors.rcf_nodes",
    "pynomaly.engine.detectors.rshash",
    "pynomaly.engine.detectors.xstream_kernels",
)

RUN = """
import sys

import numba
import pytest

assert numba.config.DISABLE_JIT, "NUMBA_DISABLE_JIT did not reach numba"
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_kernel_twins_pass_with_the_jit_disabled() -> None:
    wraps = [f"-Wignore:overflow encountered in scalar:RuntimeWarning:{m}" for m in WRAPPING_MODULES]
    proc = subprocess.run(
        [sys.executable, "-c", RUN, "-q", "-p", "no:cacheprovider", "-m", "kernel",
         "--no-header", *wraps, *KERNEL_TEST_DIRS],
        cwd=ROOT, env=os.environ | {"NUMBA_DISABLE_JIT": "1"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    summary = out.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, summary
    assert not re.search(r"skipped|xfail|xpass|error", summary), summary
