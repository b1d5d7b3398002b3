"""Without a dead-letter output, dead letters go to standard error: never dropped."""

from __future__ import annotations

import orjson

from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec


def test_dead_letters_go_to_stderr_without_a_dead_letter_output(tmp_path, capfd):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"key":"a","ts":1767225600,"cpu":1}\n{"key":"a","ts":1767225601,"cpu":NaN}\n'
                     b'{oops\n{"key":"a","ts":1767225602,"cpu":2}\n')
    spec = parse_spec({"name": "stderr-dl", "source": {"type": "file", "path": str(data)},
                       "record": {"value_fields": ["cpu"], "time_format": "epoch_s",
                                  "max_future_s": 3.2e8},
                       "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]})
    run_dataflow(build_flow(spec), RunOptions())
    lines = [orjson.loads(line) for line in capfd.readouterr().err.splitlines()
             if line.startswith('{"reason"')]
    assert sorted(d["reason"] for d in lines) == ["malformed_json", "non_finite"]
