"""End to end against the real embedded broker: metrics topic → flow → alerts
and dead-letter topics, read back with a real consumer."""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer

from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec

MALFORMED = [b"{broken", b"", b'{"key":"x","ts":"2026-01-01T00:00:00Z","cpu":"hot","latency_ms":1}',
             b"\xff\xfe\x00", b'{"key":"x","ts":"2026-01-01T00:00:00Z","latency_ms":1}']


def _produce(bootstrap, topic):
    lines = Path("flows/data/sample.jsonl").read_bytes().splitlines()
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, line in enumerate(lines):
        key = orjson.loads(line)["key"].encode() if line.startswith(b'{"key"') else None
        p.produce(topic, line, key)
        if i % 400 == 0:
            p.produce(topic, MALFORMED[(i // 400) % len(MALFORMED)], None)
    assert p.flush(15) == 0
    return len(lines)


def _spec(bootstrap, src, alerts, dead):
    return parse_spec({
        "name": "e2e",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [src],
                   "tail": False, "batch_size": 500},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
        "detection": {"detector": "robust_zscore", "threshold": {"kind": "static", "value": 8.0}},
        "alerts": {"cooldown_s": 600},
        "sinks": [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": alerts}],
        "dead_letter": {"type": "kafka", "bootstrap_servers": bootstrap, "topic": dead},
    })


def _check(bootstrap, alerts_topic, dead_topic, kafka_consume_all):
    alerts = [orjson.loads(r.value) for r in kafka_consume_all(bootstrap, alerts_topic, expected=2)]
    hits = {(a["key"], a["event_time"]) for a in alerts}
    assert ("db-1", "2026-01-01T06:40:00.000Z") in hits
    assert ("web-2", "2026-01-01T08:20:00.000Z") in hits
    # records keyed by entity
    recs = kafka_consume_all(bootstrap, alerts_topic)
    assert all(r.key == orjson.loads(r.value)["key"].encode() for r in recs)
    dead = kafka_consume_all(bootstrap, dead_topic, expected=7)
    # sample.jsonl has 2 bad lines; we injected 5 more (one of each kind)
    assert len(dead) == 7
    assert {r.value for r in dead} >= set(MALFORMED)
    reasons = _dead_reasons(bootstrap, dead_topic, len(dead))
    assert sorted(reasons) == sorted(
        ["malformed_json", "wrong_type", "malformed_json", "empty", "wrong_type", "not_utf8",
         "missing_field"])


def _dead_reasons(bootstrap, topic, expected):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reasons", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    try:
        while len(out) < expected:
            msgs = c.consume(100, 5.0)
            if not msgs:
                return out
            out += [dict(m.headers())["reason"].decode() for m in msgs if m.error() is None]
    finally:
        c.close()
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_kafka_flow_in_process(bootstrap, topic_factory, kafka_consume_all, workers):
    src, alerts, dead = topic_factory(3, "metrics"), topic_factory(1, "alerts"), topic_factory(1, "dlq")
    _produce(bootstrap, src)
    run_dataflow(build_flow(_spec(bootstrap, src, alerts, dead)), RunOptions(workers=workers))
    _check(bootstrap, alerts, dead, kafka_consume_all)


def test_kafka_flow_via_cli_two_processes(bootstrap, topic_factory, kafka_consume_all, tmp_path,
                                          free_port):
    src, alerts, dead = topic_factory(2, "metrics"), topic_factory(1, "alerts"), topic_factory(1, "dlq")
    _produce(bootstrap, src)
    spec_path = tmp_path / "flow.json"
    spec_path.write_bytes(orjson.dumps(_spec(bootstrap, src, alerts, dead).model_dump()))
    proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec_path),
                           "-p", "2", "--base-port", str(free_port())],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _check(bootstrap, alerts, dead, kafka_consume_all)


def test_partition_route_gives_the_same_alerts_on_two_processes(
        bootstrap, topic_factory, kafka_consume_all, tmp_path, free_port):
    """With the input keyed by entity, keeping shards on the worker that reads
    them (``keys.route: partition``) changes where state lives, not results."""
    src, dead = topic_factory(2, "metrics"), topic_factory(1, "dlq")
    _produce(bootstrap, src)
    found = {}
    for route in ("hash", "partition"):
        alerts = topic_factory(1, f"alerts-{route}")
        data = _spec(bootstrap, src, alerts, dead).model_dump()
        data["keys"]["route"] = route
        spec_path = tmp_path / f"flow-{route}.json"
        spec_path.write_bytes(orjson.dumps(data))
        proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec_path),
                               "-p", "2", "--base-port", str(free_port())],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        recs = [orjson.loads(r.value) for r in kafka_consume_all(bootstrap, alerts, expected=2)]
        found[route] = sorted((a["key"], a["event_time"], a["score"]) for a in recs)
    assert len(found["hash"]) >= 2
    assert found["partition"] == found["hash"]
