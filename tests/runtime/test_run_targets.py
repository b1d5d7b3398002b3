import subprocess
import sys

import pytest
from bytewax.dataflow import Dataflow

from pynomaly.cli.main import main
from pynomaly.runtime.runner import load_target
from pynomaly.spec import FlowSpec


def test_load_target_forms():
    assert isinstance(load_target("flows.python_flow:flow"), FlowSpec)
    assert isinstance(load_target("flows.python_flow:dataflow"), Dataflow)
    assert isinstance(load_target("flows/file_replay.yaml"), FlowSpec)
    with pytest.raises(ValueError, match="cannot import"):
        load_target("no_such_module:flow")
    with pytest.raises(ValueError, match="no attribute"):
        load_target("flows.python_flow:nothing")


def test_errors_are_one_line_without_debug(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsource: {type: file, path: a}\nrecord: {value_fields: [v]}\n"
                   "detection: {detector: {name: robust_zscore, params: {alpha: 7}}}\n")
    assert main(["run", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "detection.detector" in err and "alpha" in err
    with pytest.raises(Exception):  # noqa: B017 - --debug re-raises whatever it was
        main(["--debug", "run", str(bad)])


def test_replay_command_end_to_end(tmp_path):
    out = tmp_path / "alerts.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "replay", "flows/data/sample.jsonl",
         "--spec", "flows/file_replay.yaml", "--out", str(out), "-q"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "replayed 1802 records" in proc.stdout and "2 alerts" in proc.stdout
    assert "2 dead letters" in proc.stdout
    assert len(out.read_text().splitlines()) == 2
