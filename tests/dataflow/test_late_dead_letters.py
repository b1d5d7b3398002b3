"""Records rejected after parsing (late events, keys over the cap) are
dead-lettered with the position and original bytes they were read with,
like every other dead letter (docs/alert-schema.md)."""

import pickle

import numpy as np
import orjson
import pytest

from pynomaly.dataflow.detect import split_by_shard
from pynomaly.dataflow.flow import build_flow
from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import RawBatch
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import FlowSpec, RecordSpec

T0 = 1_767_225_600


def _lines(n=400):
    """JSON lines of 3 keys; every 50th line is 10 minutes behind its key."""
    out = []
    for i in range(n):
        ts = T0 + 10 * i - (600 if i % 50 == 49 else 0)
        # spaces and field order as a producer might write them: the raw bytes
        # differ from any re-serialisation
        out.append(b'{ "ts": %d, "key": "k%d", "cpu": %s }' % (ts, i % 3, b"0.50"))
    return out


def _spec(src, out, kind: str, **over) -> FlowSpec:
    detection = {"warmup": 10, "calibration": {"kind": "none"},
                 "threshold": {"kind": "static", "value": 50.0}}
    if kind == "per_key":
        detection["calibration"] = {"kind": "conformal", "window": 100}
    return FlowSpec.model_validate({
        "name": "late", "source": {"type": "file", "path": str(src), "batch_size": 64},
        "record": {"key_field": "key", "time_field": "ts", "time_format": "epoch_s",
                   "value_fields": ["cpu"], "max_future_s": 315360000},
        "detection": detection, "keys": {"shards": 4, **over.get("keys", {})},
        "sinks": [{"type": "jsonl", "path": str(out / "alerts.jsonl")}],
        "dead_letter": {"type": "jsonl", "path": str(out / "dead.jsonl")}})


@pytest.mark.parametrize("kind", ["banked", "per_key"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_late_events_carry_file_line_and_original_bytes(tmp_path, kind, fmt):
    lines = _lines()
    if fmt == "csv":
        rows = [orjson.loads(x) for x in lines]
        lines = [b"%d,%s,%s" % (r["ts"], r["key"].encode(), b"0.50") for r in rows]
        src = tmp_path / "m.csv"
        src.write_bytes(b"ts,key,cpu\n" + b"\n".join(lines) + b"\n")
        first_line = 2
    else:
        src = tmp_path / "m.jsonl"
        src.write_bytes(b"\n".join(lines) + b"\n")
        first_line = 1
    run_dataflow(build_flow(_spec(src, tmp_path, kind)), RunOptions())
    dead = [orjson.loads(x) for x in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    late = [i for i in range(len(lines)) if i % 50 == 49]
    assert sorted((d["origin"], d["raw"]) for d in dead) == sorted(
        (f"{src.name}@{i + first_line}", lines[i].decode()) for i in late)
    assert {d["reason"] for d in dead} == {"late_event"}


def test_keys_over_the_cap_carry_their_position(tmp_path):
    lines = [b'{"key":"k%d","ts":%d,"cpu":0.5}' % (i, T0 + i) for i in range(40)]
    src = tmp_path / "m.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    spec = _spec(src, tmp_path, "banked", keys={"max_keys": 4, "shards": 1})
    run_dataflow(build_flow(spec), RunOptions())
    dead = [orjson.loads(x) for x in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert [(d["reason"], d["origin"], d["raw"]) for d in dead] == [
        ("key_overflow", f"m.jsonl@{i + 1}", lines[i].decode()) for i in range(4, 40)]


def test_a_pickled_sub_batch_carries_only_its_own_rows():
    parser = RecordParser(RecordSpec(value_fields=["cpu"], time_format="epoch_s",
                                     max_future_s=315360000))
    payloads = [b'{"key":"k%d","ts":%d,"cpu":0.5}' % (i % 5, T0 + i) for i in range(200)]
    payloads[7] = b"not json"
    good, dead = parser.parse(RawBatch(payloads, "metrics/3", 1000))
    assert [d.origin for d in dead] == ["metrics/3@1007"]
    for _, sub in split_by_shard(good, 4):
        copy = pickle.loads(pickle.dumps(sub))
        assert len(copy.source.batch.payloads) == len(sub)  # not the 199 others
        for i in range(len(sub)):
            assert copy.source.position(i) == sub.source.position(i)
            assert copy.source.raw(i) == sub.source.raw(i)
            line = int(sub.source.position(i).rpartition("@")[2]) - 1000
            assert orjson.loads(sub.source.raw(i))["key"] == sub.keys[i]
            assert payloads[line] == sub.source.raw(i)
    assert np.array_equal(good.source.rows, np.r_[0:7, 8:200])
