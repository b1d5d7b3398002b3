"""The typed public API: the Bytewax operators' modules and ``pynomaly.engine``
pass ``mypy --strict`` (settings in pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: pynomaly.operators and the modules its operators are made of
OPERATORS = ["__init__", "alert_record", "detect_op", "detect_options", "instrumented",
             "parse_arrow", "parse_op", "record_rows", "score_records", "sinks_op",
             "window_op"]
#: engine modules not yet annotated throughout (the banked path's bank
#: classes, and detectors still being written)
ENGINE_PENDING = {"banked.py", "banked_calibration.py", "left_discord_kernels.py",
                  "shape_ensemble.py", "metric_deviation.py"}


def _engine_modules() -> list[str]:
    engine = ROOT / "pynomaly" / "engine"
    files = sorted([*engine.glob("*.py"), *engine.glob("detectors/*.py")])
    return [str(f) for f in files if f.name not in ENGINE_PENDING]


@pytest.mark.slow
def test_operators_and_engine_pass_mypy_strict():
    files = [str(ROOT / "pynomaly" / "operators" / f"{m}.py") for m in OPERATORS]
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
                           "--no-incremental", *files, *_engine_modules()], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
