"""The file-replay flow end to end through Bytewax, in 1 and 2 workers."""

from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from pynomaly.dataflow.alert_record import alert_schema
from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import load_spec


def _spec(tmp_path, path="flows/data/sample.jsonl"):
    spec = load_spec("flows/file_replay.yaml").model_dump()
    spec["source"]["path"] = path
    spec["source"]["batch_size"] = 97
    spec["sinks"] = [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]
    spec["dead_letter"] = {"type": "jsonl", "path": str(tmp_path / "dead.jsonl")}
    return type(load_spec("flows/file_replay.yaml")).model_validate(spec)


def _read(path):
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("workers", [1, 2])
def test_file_flow_alerts_on_injected_anomalies(tmp_path, workers):
    spec = _spec(tmp_path)
    run_dataflow(build_flow(spec), RunOptions(workers=workers))
    alerts = _read(tmp_path / "alerts.jsonl")
    dead = _read(tmp_path / "dead.jsonl")
    hits = {(a["key"], a["event_time"]) for a in alerts}
    assert ("db-1", "2026-01-01T06:40:00.000Z") in hits
    assert ("web-2", "2026-01-01T08:20:00.000Z") in hits
    assert len(alerts) <= 4
    assert sorted(d["reason"] for d in dead) == ["malformed_json", "wrong_type"]
    validator = Draft202012Validator(alert_schema())
    for a in alerts:
        validator.validate(a)
    assert alerts[0]["explanation"]


def test_same_alert_ids_for_one_and_two_workers(tmp_path):
    ids = []
    for workers in (1, 2):
        d = tmp_path / f"w{workers}"
        run_dataflow(build_flow(_spec(d)), RunOptions(workers=workers))
        ids.append(sorted(a["id"] for a in _read(d / "alerts.jsonl")))
    assert ids[0] == ids[1] and ids[0]


def test_parquet_and_csv_replay_give_the_same_alerts(tmp_path):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = []
    for line in Path("flows/data/sample.jsonl").read_bytes().splitlines():
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(r.get("cpu"), float | int):
            rows.append(r)
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "m.parquet")
    pacsv.write_csv(table, tmp_path / "m.csv")
    got = []
    for name in ("m.parquet", "m.csv"):
        out = tmp_path / name.replace(".", "_")
        run_dataflow(build_flow(_spec(out, str(tmp_path / name))), RunOptions())
        got.append(sorted(a["id"] for a in _read(out / "alerts.jsonl")))
        assert _read(out / "dead.jsonl") == []
    assert got[0] == got[1] and len(got[0]) >= 2
