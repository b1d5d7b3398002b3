"""The on-call check end to end: six hosts at a 10 s cadence with a gentle
hourly cycle for 8 hours, replayed from a file through a flow that names no
detector and lists ``region`` nowhere. At most 3 alerts on the healthy hosts,
at most 2 for a 60 s spike, one ``missing_data`` alert for the host that
goes silent, and the spike alert says what was expected, the normal band,
that the value went up, how bad it is and the host's region."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator
from oncall_stream import OncallStream

from pynomaly.alerting.alert_v2 import alert_schema_v2
from pynomaly.dataflow.alert_record import iso_ms
from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec

SCENARIOS = {
    "gentle": OncallStream(),
    "noisy-small-spike": OncallStream(seed=11, cycle=4.0, noise=3.0, spike_height=30.0),
}


def _run(stream: OncallStream, tmp_path: Path, workers: int = 1) -> list[dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = stream.write_jsonl(tmp_path / "metrics.jsonl")
    spec = parse_spec({
        "name": "oncall",
        "source": {"type": "file", "path": str(data)},
        "record": {"key_field": "host", "value_fields": ["cpu"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "dead_letter": {"type": "jsonl", "path": str(tmp_path / "dead.jsonl")},
    })
    run_dataflow(build_flow(spec), RunOptions(workers=workers))
    dead = tmp_path / "dead.jsonl"
    assert not dead.exists() or dead.read_bytes() == b""
    path = tmp_path / "alerts.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_oncall_check(tmp_path: Path, name: str) -> None:
    s = SCENARIOS[name]
    alerts = _run(s, tmp_path)
    validator = Draft202012Validator(alert_schema_v2())
    for a in alerts:
        validator.validate(a)
    anomalies = [a for a in alerts if a["kind"] == "anomaly"]
    healthy = [a for a in anomalies if a["key"] not in (s.spike_host, s.silent_host)]
    assert len(healthy) <= 3, healthy

    spike_from, spike_to = iso_ms(s.spike_start), iso_ms(s.spike_start + s.spike_s)
    spike = [a for a in anomalies if a["key"] == s.spike_host]
    assert 1 <= len(spike) <= 2, spike
    first = spike[0]
    assert spike_from <= first["event_time"] < spike_to
    value = first["values"]["cpu"]
    low, high = first["bounds"]["cpu"]
    assert low < first["expected"]["cpu"] < high < value
    assert first["direction"] == {"cpu": "up"}
    assert first["severity"] in ("warning", "critical")
    assert first["labels"]["region"] == "us-east-1"
    assert first["labels"]["service"] == "checkout"

    missing = [a for a in alerts if a["kind"] == "missing_data"]
    assert [a["key"] for a in missing] == [s.silent_host]
    assert missing[0]["event_time"] > iso_ms(s.silent_from)
    assert missing[0]["missing"]["cadence_s"] == pytest.approx(s.cadence_s, rel=0.05)
    assert missing[0]["labels"]["region"] == "us-east-1"
    assert not [a for a in alerts if a["kind"] == "recovery"]  # it never came back


def test_a_host_that_comes_back_gets_one_recovery_record(tmp_path: Path) -> None:
    s = OncallStream(hours=3.0, spike_at_h=1.0, silent_at_h=2.0)
    rows = s.records()
    back = s.silent_from + 600  # ten minutes of silence, then data again
    from oncall_stream import START, iso

    for i in range(int((START + 3 * 3600 - back) / s.cadence_s)):
        rows.append({"host": s.silent_host, "ts": iso(back + i * s.cadence_s), "cpu": 43.0,
                     "region": "us-east-1", "service": "checkout"})
    rows.sort(key=lambda r: r["ts"])
    data = tmp_path / "metrics.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    spec = parse_spec({
        "name": "oncall", "source": {"type": "file", "path": str(data), "batch_size": 500},
        "record": {"key_field": "host", "value_fields": ["cpu"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
    })
    run_dataflow(build_flow(spec), RunOptions())
    alerts = [orjson.loads(x) for x in (tmp_path / "alerts.jsonl").read_bytes().splitlines()]
    silent = [a for a in alerts if a["key"] == s.silent_host]
    assert [a["kind"] for a in silent] == ["missing_data", "recovery"]
    assert silent[1]["event_time"] == iso_ms(back)
    assert silent[1]["missing"]["last_seen"] == silent[0]["missing"]["last_seen"]
    # the first value after the gap is not an anomaly of the gap
    assert not [a for a in alerts if a["kind"] == "anomaly" and a["key"] == s.silent_host]


def test_same_alert_ids_with_two_workers_and_small_batches(tmp_path: Path) -> None:
    s = SCENARIOS["gentle"]
    one = _run(s, tmp_path / "one")
    s2 = OncallStream()
    data = s2.write_jsonl(tmp_path / "m.jsonl")
    spec = parse_spec({
        "name": "oncall", "source": {"type": "file", "path": str(data), "batch_size": 333},
        "record": {"key_field": "host", "value_fields": ["cpu"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "two.jsonl")}],
    })
    run_dataflow(build_flow(spec), RunOptions(workers=2))
    two = [orjson.loads(x) for x in (tmp_path / "two.jsonl").read_bytes().splitlines()]
    assert sorted(a["id"] for a in one) == sorted(a["id"] for a in two)


def test_oncall_check_through_kafka(tmp_path: Path, bootstrap, topic_factory,
                                    kafka_consume_all) -> None:
    """The same check with the stream on a 3-partition topic keyed by host."""
    from confluent_kafka import Producer

    s = SCENARIOS["gentle"]
    src, out = topic_factory(3, "oncall"), topic_factory(1, "oncall-alerts")
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for r in s.records():
        p.produce(src, orjson.dumps(r), r["host"].encode())
    assert p.flush(30) == 0
    spec = parse_spec({
        "name": "oncall",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [src],
                   "tail": False},
        "record": {"key_field": "host", "value_fields": ["cpu"]},
        "sinks": [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": out}],
    })
    run_dataflow(build_flow(spec), RunOptions())
    alerts = [orjson.loads(r.value) for r in kafka_consume_all(bootstrap, out, expected=2)]
    anomalies = [a for a in alerts if a["kind"] == "anomaly"]
    assert [a["key"] for a in anomalies] == [s.spike_host]
    assert anomalies[0]["labels"]["region"] == "us-east-1"
    assert [a["key"] for a in alerts if a["kind"] == "missing_data"] == [s.silent_host]


def test_oncall_check_from_parquet_carries_labels(tmp_path: Path) -> None:
    """Arrow rows (Parquet, CSV) carry labels too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    s = SCENARIOS["gentle"]
    data = tmp_path / "metrics.parquet"
    pq.write_table(pa.Table.from_pylist(s.records()), data)
    spec = parse_spec({
        "name": "oncall", "source": {"type": "file", "path": str(data)},
        "record": {"key_field": "host", "value_fields": ["cpu"]},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
    })
    run_dataflow(build_flow(spec), RunOptions())
    alerts = [orjson.loads(x) for x in (tmp_path / "alerts.jsonl").read_bytes().splitlines()]
    spike = [a for a in alerts if a["kind"] == "anomaly"]
    assert [a["key"] for a in spike] == [s.spike_host]
    assert spike[0]["labels"] == {"region": "us-east-1", "service": "checkout"}
    assert [a["key"] for a in alerts if a["kind"] == "missing_data"] == [s.silent_host]
