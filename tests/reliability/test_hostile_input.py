"""Hostile input through the real broker: 100k bad records of every kind
mixed with 25k good ones. The flow never dies on data; afterwards every good
record has alerted (the threshold flags everything), every bad one is in the
dead-letter topic with its reason, and nothing is missing."""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from hostile import BIG, FLOOD_ADMITTED, hostile_stream
from services import create_topic, unique_name
from streams import BatchProducer

from pynomaly.dataflow.flow import build_flow
from pynomaly.dataflow.records import Reason
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec

pytestmark = [pytest.mark.broker, pytest.mark.slow]

N_GOOD, N_BAD, N_KEYS = 25_000, 100_000, 50


def _spec(bs, source, alerts, dead):
    return parse_spec({
        "name": "hostile",
        "source": {"type": "kafka", "bootstrap_servers": bs, "topics": [source], "tail": False,
                   "batch_size": 5000},
        "record": {"value_fields": ["cpu"], "time_format": "epoch_s",
                   "max_age_s": 2 * 365 * 86_400, "max_future_s": 3.2e8},
        "window": {"allowed_lateness_s": 5},
        "detection": {"detector": "robust_zscore", "warmup": 0, "explain": False,
                      "threshold": {"kind": "static", "value": -1.0}},
        # every good record alerts (threshold -1, no cooldown, rules off), so each is
        # accounted for as an alert or a dead letter
        "alerts": {"cooldown_s": 0, "explain_top": 0, "rules": {"min_sigma": 0}},
        "keys": {"shards": 1, "max_keys": N_KEYS + FLOOD_ADMITTED},
        "sinks": [{"type": "kafka", "bootstrap_servers": bs, "topic": alerts}],
        "dead_letter": {"type": "kafka", "bootstrap_servers": bs, "topic": dead},
    })


def _read_all(bs, topic, headers=False):
    """Every record of a one-partition topic: (value, reason header)."""
    c = Consumer({"bootstrap.servers": bs, "group.id": unique_name("read"),
                  "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 0})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + 60
    try:
        while True:
            msgs = c.consume(10_000, 0.2)
            if not msgs and time.monotonic() > deadline:
                raise AssertionError(f"no end of {topic!r} after {len(out)} records")
            done = False
            for m in msgs:
                if m.error() is not None:
                    done = True  # partition EOF: every record up to the end is read
                    continue
                out.append((m.value(), dict(m.headers() or []).get("reason") if headers else None))
            if done:
                return out
    finally:
        c.close()


def test_100k_bad_records_among_good_ones_all_accounted_for(bootstrap):
    records, alerting, out_of_order, reasons = hostile_stream(N_GOOD, N_BAD, N_KEYS)
    assert sum(reasons.values()) == N_BAD
    # every reason code there is, but the CSV reader's own (tests/connectors/test_csv_source.py)
    assert set(reasons) == {str(r) for r in Reason} - {"malformed_csv"}
    source = create_topic(bootstrap, 1, "hostile")
    alerts, dead = create_topic(bootstrap, 1, "alerts"), create_topic(bootstrap, 1, "dlq")
    BatchProducer(bootstrap, **{"message.max.bytes": 2 * BIG}).send(source, records)

    run_dataflow(build_flow(_spec(bootstrap, source, alerts, dead)), RunOptions())

    got_alerts = [orjson.loads(v) for v, _ in _read_all(bootstrap, alerts)]
    ids = [a["id"] for a in got_alerts]
    assert len(ids) == len(set(ids)) == alerting + out_of_order
    assert sum(a["key"].startswith("flood-") for a in got_alerts) == FLOOD_ADMITTED
    got_dead = _read_all(bootstrap, dead, headers=True)
    assert Counter(r.decode() for _, r in got_dead) == reasons
    assert len(got_alerts) + len(got_dead) == len(records)
    # the dead letters carry the original bytes (cut to 100 kB for the 10 MB ones)
    sent_bad = Counter(v for k, v in records if k is None and len(v) < BIG)
    kept = Counter(v for v, r in got_dead if r not in (b"too_large", b"late_event",
                                                      b"key_overflow"))
    assert kept == sent_bad
    # late events and keys over the cap too carry their bytes as sent
    sent = Counter(v for _, v in records)
    assert not Counter(v for v, r in got_dead if r != b"too_large") - sent
    assert all(len(v) == 100_000 for v, r in got_dead if r == b"too_large")
