"""The Redis stream sink against a real redis-server: every XADD confirmed,
MAXLEN trimming, a frozen server ridden out, a dead one and an error reply
failing loudly."""

from __future__ import annotations

import logging
import os
import signal
import threading

import orjson
import pytest
import redis
from faults import wait_stopped
from services import RedisServer, unique_name

from pynomaly.connectors.delivery import DeliveryError
from pynomaly.connectors.redis_sink import RedisStreamSink, RedisStreamWriter

pytestmark = pytest.mark.redis


def _alerts(n, start=0):
    return [{"id": f"id-{i:05d}", "key": f"k{i % 5}", "score": float(i)}
            for i in range(start, start + n)]


def _ids(url, stream):
    entries = redis.Redis.from_url(url).xrange(stream)
    return [fields[b"id"].decode() for _, fields in entries]


def test_alerts_land_in_order_with_their_json(redis_server, counts):
    stream = unique_name("alerts")
    part = RedisStreamSink(redis_server, stream, 100_000).build("alerts", 0, 1)
    part.write_batch(_alerts(500))
    part.write_batch([])
    part.close()
    assert _ids(redis_server, stream) == [a["id"] for a in _alerts(500)]
    _, fields = redis.Redis.from_url(redis_server).xrange(stream, count=1)[0]
    assert orjson.loads(fields[b"alert"]) == _alerts(1)[0] and fields[b"key"] == b"k0"
    assert counts.get("delivered", "redis", stream) == 500


def test_maxlen_trims_old_entries(redis_server):
    stream = unique_name("alerts")
    writer = RedisStreamWriter(redis_server, stream, maxlen=50)
    for i in range(20):
        writer.write(_alerts(100, start=i * 100))
    ids = _ids(redis_server, stream)
    # approximate trimming keeps whole macro nodes (100 entries by default)
    assert 50 <= len(ids) <= 200
    assert ids[-1] == "id-01999"


def test_frozen_server_is_ridden_out():
    with RedisServer() as server:
        stream = unique_name("alerts")
        writer = RedisStreamWriter(server.url, stream, 1000, timeout_s=0.3, backoff_s=0.1,
                                   max_backoff_s=0.3, retries=20)
        writer.write(_alerts(10))
        os.kill(server.pid, signal.SIGSTOP)
        wait_stopped(server.pid)
        threading.Timer(1.0, os.kill, (server.pid, signal.SIGCONT)).start()
        writer.write(_alerts(10, start=10))
        assert writer.retried > 0 and writer.failed == 0
        ids = _ids(server.url, stream)
        # a batch that landed before the timeout may be there twice, same ids
        assert set(ids) == {a["id"] for a in _alerts(20)}


def test_dead_server_fails_loudly(counts, caplog):
    server = RedisServer().start()
    url = server.url
    server.stop()
    writer = RedisStreamWriter(url, "s", 1000, timeout_s=0.3, backoff_s=0.05, retries=3)
    with caplog.at_level(logging.WARNING), pytest.raises(DeliveryError, match="retries spent"):
        writer.write(_alerts(7))
    assert writer.retried == 21 and writer.failed == 7
    assert counts.get("failed", "redis", "s") == 7
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_error_reply_is_permanent(redis_server):
    stream = unique_name("not-a-stream")
    redis.Redis.from_url(redis_server).set(stream, "x")
    writer = RedisStreamWriter(redis_server, stream, 1000, backoff_s=0.01)
    with pytest.raises(DeliveryError, match="WRONGTYPE"):
        writer.write(_alerts(3))
    assert writer.retried == 0 and writer.failed == 3
