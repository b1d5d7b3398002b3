"""docs/python-flows.md: its example is flows/python_operators.py verbatim,
and that file runs with ``python -m bytewax.run`` and finds the anomalies."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
from jsonschema import Draft202012Validator

from pynomaly.dataflow.alert_record import alert_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "flows" / "python_operators.py"


def test_docs_show_the_example_file_verbatim():
    doc = (ROOT / "docs" / "python-flows.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, re.S)
    assert EXAMPLE.read_text() in blocks


def test_example_runs_with_bytewax_run(tmp_path):
    (tmp_path / "flows" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "flows" / "data" / "sample.jsonl", tmp_path / "flows" / "data")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "bytewax.run", "flows.python_operators:flow"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out" / "python-operators"
    alerts = [orjson.loads(x) for x in (out / "alerts.jsonl").read_bytes().splitlines()]
    validator = Draft202012Validator(alert_schema())
    for a in alerts:
        validator.validate(a)
    assert {(a["key"], a["event_time"]) for a in alerts} == {
        ("db-1", "2026-01-01T06:40:00.000Z"), ("web-2", "2026-01-01T08:20:00.000Z")}
    assert all(a["flow"] == "python-operators" for a in alerts)
    scores = (out / "scores.jsonl").read_bytes().splitlines()
    assert len(scores) == 1800  # every valid record of the file
    dead = [orjson.loads(x) for x in (out / "dead-letters.jsonl").read_bytes().splitlines()]
    assert [d["reason"] for d in dead] == ["wrong_type"]
