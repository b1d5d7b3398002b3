"""Redis stream and webhook sinks built from a flow spec, in a real flow: both
receive exactly the alerts the JSONL sink gets, the webhook despite failing
its first requests."""

from __future__ import annotations

import orjson
import pytest
import redis
from services import unique_name
from webhook_server import FlakyEndpoint

from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec

pytestmark = pytest.mark.redis


def test_redis_and_webhook_sinks_in_a_flow(redis_server, tmp_path):
    stream = unique_name("alerts")
    with FlakyEndpoint(lambda n, _: 503 if n < 2 else 200) as endpoint:
        spec = parse_spec({
            "name": "extra-sinks",
            "source": {"type": "file", "path": "flows/data/sample.jsonl"},
            "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
            "detection": {"detector": "robust_zscore", "warmup": 30,
                          "threshold": {"kind": "static", "value": 8.0}},
            "alerts": {"cooldown_s": 600},
            "sinks": [{"type": "redis", "url": redis_server, "stream": stream, "maxlen": 1000},
                      {"type": "webhook", "url": endpoint.url, "max_retries": 3},
                      {"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
            "dead_letter": {"type": "jsonl", "path": str(tmp_path / "dead.jsonl")},
        })
        run_dataflow(build_flow(spec), RunOptions(workers=2))
        posted = endpoint.accepted_ids()
    expected = [orjson.loads(line)["id"] for line in
                (tmp_path / "alerts.jsonl").read_bytes().splitlines()]
    assert len(expected) >= 2
    entries = redis.Redis.from_url(redis_server).xrange(stream)
    assert sorted(f[b"id"].decode() for _, f in entries) == sorted(expected)
    assert sorted(posted) == sorted(expected)
