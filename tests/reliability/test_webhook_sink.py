"""The webhook sink against a local HTTP server that fails on purpose:
blips are retried, an outage opens the circuit (few probes, no lost alert),
a longer outage and a rejection fail loudly."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from webhook_server import FlakyEndpoint

from pynomaly.connectors.delivery import DeliveryError
from pynomaly.connectors.webhook_sink import WebhookPoster, WebhookSink


def _alerts(n):
    return [{"id": f"id-{i:04d}", "key": f"k{i % 3}", "score": float(i)} for i in range(n)]


def test_blips_are_retried_and_every_alert_arrives_once(counts):
    with FlakyEndpoint(lambda n, _: 503 if n in (0, 1, 5) else 200) as ep:
        poster = WebhookPoster(ep.url, backoff_s=0.01, max_retries=3)
        poster.post_all(_alerts(20))
        assert ep.accepted_ids() == [a["id"] for a in _alerts(20)]
        keys = [k for _, s, k, _ in ep.requests if s == 200]
        assert keys == ep.accepted_ids()  # Idempotency-Key carries the alert id
    assert (poster.delivered, poster.retried, poster.failed) == (20, 3, 0)
    assert poster.breaker.opened == 0
    assert counts.get("delivered", "webhook", ep.url) == 20
    assert counts.get("retried", "webhook", ep.url) == 3


def test_outage_opens_the_circuit_probes_rarely_and_loses_nothing(counts):
    outage_until = [0.0]

    def plan(n, _body):
        if n == 3:  # the fourth request starts a 1.5 s outage
            outage_until[0] = time.monotonic() + 1.5
        return 503 if time.monotonic() < outage_until[0] else 200

    with FlakyEndpoint(plan) as ep:
        poster = WebhookPoster(ep.url, backoff_s=0.01, max_retries=10, failure_threshold=3,
                               reset_timeout_s=0.4, max_outage_s=20)
        poster.post_all(_alerts(10))
        assert ep.accepted_ids() == [a["id"] for a in _alerts(10)]
        failed_requests = sum(1 for _, s, _, _ in ep.requests if s != 200)
    # 3 failures open the circuit; then one probe per 0.4 s over 1.5 s
    assert 3 <= failed_requests <= 3 + 1.5 / 0.4 + 1
    assert poster.breaker.opened >= 1 and poster.breaker.state == "closed"
    states = [s for _, _, s in counts.transitions]
    assert states[0] == "open" and "half_open" in states and states[-1] == "closed"


def test_endpoint_down_longer_than_the_budget_fails_loudly(counts, caplog):
    ep = FlakyEndpoint(lambda n, _: 200).start()
    url = ep.url
    ep.stop()  # connection refused from now on
    poster = WebhookPoster(url, backoff_s=0.01, failure_threshold=2, reset_timeout_s=0.2,
                           max_outage_s=1.0)
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(DeliveryError, match="id-0000"):
        poster.post_all(_alerts(5))
    assert time.monotonic() - t0 < 5
    assert poster.failed == 1 and poster.delivered == 0
    assert counts.get("failed", "webhook", url) == 1
    assert any(r.levelno == logging.ERROR and "not delivered" in r.getMessage()
               for r in caplog.records)


def test_endpoint_back_on_the_same_port_resumes_delivery():
    ep = FlakyEndpoint(lambda n, _: 200).start()
    port = int(ep.url.rsplit(":", 1)[1].split("/")[0])
    ep.stop()
    back = FlakyEndpoint(lambda n, _: 200, port=port)
    threading.Timer(1.0, back.start).start()
    poster = WebhookPoster(back.url, backoff_s=0.05, failure_threshold=2, reset_timeout_s=0.3,
                           max_outage_s=15)
    try:
        poster.post_all(_alerts(4))
        assert back.accepted_ids() == [a["id"] for a in _alerts(4)]
    finally:
        back.stop()


def test_rejected_alert_is_not_retried():
    with FlakyEndpoint(lambda n, _: 400) as ep:
        poster = WebhookPoster(ep.url, backoff_s=0.01)
        with pytest.raises(DeliveryError, match="rejected: HTTP 400"):
            poster.post_all(_alerts(3))
        assert len(ep.requests) == 1
    assert poster.breaker.state == "closed"


def test_sink_partition_writes_batches():
    with FlakyEndpoint(lambda n, _: 204) as ep:
        part = WebhookSink(ep.url, backoff_s=0.01).build("alerts", 0, 1)
        part.write_batch(_alerts(3))
        part.write_batch([])
        part.close()
        assert ep.accepted_ids() == ["id-0000", "id-0001", "id-0002"]
