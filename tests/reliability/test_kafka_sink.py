"""The confirmed Kafka producer against the real embedded broker, with faults:
a frozen broker (SIGSTOP) for less and for longer than the retry budget, a
permanent error, and a 10 MB dead letter."""

from __future__ import annotations

import logging
import threading
import time

import orjson
import pytest
from faults import freeze
from services import create_topic, kafka_consume_all

from pynomaly.connectors.kafka_sink import (
    ConfirmedProducer,
    DeliveryError,
    KafkaAlertSink,
    KafkaDeadLetterSink,
)
from pynomaly.dataflow.records import DeadLetter, Reason

pytestmark = pytest.mark.broker


def _messages(n, tag="m"):
    return [(f"k{i % 7}".encode(), f"{tag}-{i}".encode(), [("n", str(i).encode())])
            for i in range(n)]


def test_every_message_confirmed_and_counted(bootstrap, counts):
    topic = create_topic(bootstrap, 3)
    p = ConfirmedProducer(bootstrap, topic, delivery_timeout_s=10)
    p.send_batch(_messages(5000))
    p.send_batch([])
    p.close()
    got = kafka_consume_all(bootstrap, topic, expected=5000)
    assert sorted(r.value for r in got) == sorted(v for _, v, _ in _messages(5000))
    assert (p.delivered, p.retried, p.failed) == (5000, 0, 0)
    assert counts.get("delivered", "kafka", topic) == 5000


def test_frozen_broker_beyond_the_budget_fails_loudly(own_broker, counts, caplog):
    bs = own_broker.bootstrap_servers
    topic = create_topic(bs, 1)
    p = ConfirmedProducer(bs, topic, delivery_timeout_s=1.0, retries=1, backoff_s=0.2)
    p.send_batch(_messages(10, "warm"))
    retried_before = p.retried
    freeze(own_broker)
    try:
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING), pytest.raises(DeliveryError) as info:
            p.send_batch(_messages(50))
        elapsed = time.monotonic() - t0
    finally:
        own_broker.resume()
    assert "50 of 50" in str(info.value) and topic in str(info.value)
    assert info.value.undelivered == 50
    assert elapsed < 15
    assert (p.retried - retried_before, p.failed) == (50, 50)
    assert counts.get("failed", "kafka", topic) == 50
    assert counts.get("retried", "kafka", topic) == p.retried
    assert any(r.levelno == logging.ERROR and topic in r.getMessage() for r in caplog.records)


def test_frozen_broker_within_the_budget_is_ridden_out(own_broker, counts):
    bs = own_broker.bootstrap_servers
    topic = create_topic(bs, 2)
    p = ConfirmedProducer(bs, topic, delivery_timeout_s=1.0, retries=6, backoff_s=0.2,
                          max_backoff_s=1.0)
    p.send_batch(_messages(10, "warm"))
    freeze(own_broker)
    threading.Timer(2.5, own_broker.resume).start()
    p.send_batch(_messages(300))  # blocks through the outage, retries, then succeeds
    assert not own_broker.paused
    assert p.retried > 0 and p.failed == 0
    got = kafka_consume_all(bs, topic, expected=310)
    # at-least-once: a message whose report timed out may have been written too
    assert {r.value for r in got} == {v for _, v, _ in _messages(10, "warm") + _messages(300)}
    assert counts.get("failed", "kafka", topic) == 0


def test_permanent_error_is_not_retried(bootstrap, counts):
    topic = create_topic(bootstrap, 1)
    p = ConfirmedProducer(bootstrap, topic, delivery_timeout_s=5, retries=3,
                          config={"message.max.bytes": "10000"})
    with pytest.raises(DeliveryError, match="MSG_SIZE_TOO_LARGE"):
        p.send_batch([(b"k", b"ok", None), (b"k", b"x" * 20_000, None)])
    assert p.retried == 0 and p.failed == 1 and p.delivered == 1


def test_sinks_write_alerts_with_id_header_and_cut_huge_dead_letters(bootstrap):
    alerts_topic, dead_topic = create_topic(bootstrap, 1), create_topic(bootstrap, 1)
    alert = {"id": "abc", "key": "host-1", "score": 9.0}
    part = KafkaAlertSink(bootstrap, alerts_topic).build("alerts", 0, 1)
    part.write_batch([alert])
    part.close()
    huge = b"{" + b"x" * 10_000_000
    dead = KafkaDeadLetterSink(bootstrap, dead_topic).build("dead", 0, 1)
    dead.write_batch([DeadLetter(Reason.TOO_LARGE, "10000001 bytes", huge, "m/0@3"),
                      DeadLetter(Reason.EMPTY, "empty message", b"", "m/0@4", key="h")])
    dead.close()
    (rec,) = kafka_consume_all(bootstrap, alerts_topic, expected=1)
    assert rec.key == b"host-1" and orjson.loads(rec.value) == alert
    got = _with_headers(bootstrap, dead_topic, 2)
    assert [h["reason"] for _, h in got] == [b"too_large", b"empty"]
    assert got[0][0] == huge[:100_000] and got[0][1]["raw_size"] == b"10000001"
    assert got[1][0] in (b"", None) and "raw_size" not in got[1][1]


def _with_headers(bootstrap, topic, n):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "h", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.monotonic() + 15
    try:
        while len(out) < n and time.monotonic() < deadline:
            out += [(m.value(), dict(m.headers() or [])) for m in c.consume(100, 0.5)
                    if m.error() is None]
    finally:
        c.close()
    return out
