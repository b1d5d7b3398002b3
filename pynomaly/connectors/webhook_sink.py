"""Alerts to an HTTP webhook: one JSON ``POST`` per alert, retries, a circuit breaker.

Each alert is posted as its JSON record with the header
``Idempotency-Key: <alert id>``; any 2xx answer confirms it. What happens
otherwise:

* a connection error, a timeout, or status 408, 425, 429 or 5xx is transient:
  the post is retried with exponential backoff (tenacity), at most
  ``max_retries`` times while the endpoint's circuit is closed;
* ``failure_threshold`` failed posts in a row open the circuit
  (:mod:`pynomaly.connectors.circuit_breaker`): the sink stops posting and
  waits, probing the endpoint once per ``reset_timeout_s``, so a webhook that
  is down is not hammered and the flow pauses (back-pressure) instead of
  losing alerts; the first successful probe closes the circuit and delivery
  resumes;
* any other status (a 4xx: the receiver rejects the alert) is permanent.

An alert that is not confirmed within ``max_outage_s``, or that got a
permanent answer, fails the batch loudly: an ERROR log, the ``failed`` metric
hook and :class:`~pynomaly.connectors.delivery.DeliveryError` (which stops
the flow; recovery replays the batch on restart, and receivers dedupe by the
idempotency key).

Example (needs an HTTP endpoint)::

    poster = WebhookPoster("http://127.0.0.1:8080/alerts")
    poster.post_all([alert])
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from pynomaly.connectors.circuit_breaker import CLOSED, CircuitBreaker, CircuitOpenError
from pynomaly.connectors.delivery import backoff_delay, delivery_failed
from pynomaly.runtime import metrics_hooks

log = logging.getLogger("pynomaly.webhook_sink")

#: statuses worth another try: the receiver may recover
TRANSIENT_STATUS = frozenset({408, 425, 429})


class TransientStatus(Exception):
    """The endpoint answered with a status that may go away (5xx, 429, ...)."""


class PermanentStatus(Exception):
    """The endpoint rejected the alert (a 4xx other than 408/425/429)."""


def is_transient_status(status: int) -> bool:
    """>>> [is_transient_status(s) for s in (200, 400, 404, 429, 500, 503)]
    [False, False, False, True, True, True]
    """
    return status in TRANSIENT_STATUS or 500 <= status <= 599


class WebhookPoster:
    """Post alerts one by one with retries and a circuit breaker (module docs).

    The counters :attr:`delivered`, :attr:`retried` (failed attempts that
    were followed by another) and :attr:`failed` count alerts and attempts
    over the poster's life; :attr:`breaker` is its circuit breaker.
    """

    sink = "webhook"

    def __init__(self, url: str, *, timeout_s: float = 5.0, max_retries: int = 5,
                 backoff_s: float = 0.2, max_backoff_s: float = 5.0, failure_threshold: int = 5,
                 reset_timeout_s: float = 5.0, max_outage_s: float = 120.0,
                 headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.max_retries = max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.max_outage_s = max_outage_s
        self.breaker = CircuitBreaker(self.sink, url, failure_threshold=failure_threshold,
                                      reset_timeout_s=reset_timeout_s)
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False,
                                    headers={"content-type": "application/json",
                                             "user-agent": "pynomaly-webhook/1",
                                             **(headers or {})})
        self.delivered = 0
        self.retried = 0
        self.failed = 0

    # -- one attempt ------------------------------------------------------
    def _attempt(self, body: bytes, alert_id: str) -> None:
        self.breaker.allow()  # raises CircuitOpenError while open
        try:
            resp = self._client.post(self.url, content=body,
                                     headers={"idempotency-key": alert_id})
        except httpx.TransportError:
            self.breaker.record_failure()
            raise
        if 200 <= resp.status_code <= 299:
            self.breaker.record_success()
            return
        if is_transient_status(resp.status_code):
            self.breaker.record_failure()
            raise TransientStatus(f"HTTP {resp.status_code}")
        # the endpoint is up and answering: not a reason to open the circuit
        self.breaker.record_success()
        raise PermanentStatus(f"HTTP {resp.status_code}: {resp.text[:200]}")

    # -- retry policy -----------------------------------------------------
    def _stop(self, state: RetryCallState) -> bool:
        if state.seconds_since_start >= self.max_outage_s:
            return True
        # while the circuit is closed, a failure is a blip: bounded retries
        return self.breaker.state == CLOSED and state.attempt_number > self.max_retries

    def _wait(self, state: RetryCallState) -> float:
        if self.breaker.state != CLOSED:  # outage: sleep until the next probe
            left = self.max_outage_s - state.seconds_since_start
            return max(0.01, min(self.breaker.retry_in(), left))
        return backoff_delay(state.attempt_number, self.backoff_s, self.max_backoff_s)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, CircuitOpenError):
            return  # refused locally: nothing was sent
        self.retried += 1
        metrics_hooks.current().retried(self.sink, self.url, 1)
        log.warning("webhook %s: %s; attempt %d, next in %.1fs (circuit %s)", self.url,
                    exc, state.attempt_number,
                    state.next_action.sleep if state.next_action else 0, self.breaker.state)

    def post(self, alert: dict[str, Any]) -> None:
        """Deliver one alert or raise :class:`DeliveryError`."""
        body = orjson.dumps(alert)
        retrying = Retrying(
            retry=retry_if_exception_type(
                (httpx.TransportError, TransientStatus, CircuitOpenError)),
            stop=self._stop, wait=self._wait, before_sleep=self._before_sleep, reraise=True,
        )
        started = time.monotonic()
        try:
            retrying(self._attempt, body, alert["id"])
        except (httpx.TransportError, TransientStatus, CircuitOpenError) as exc:
            self.failed += 1
            raise delivery_failed(
                self.sink, self.url, 1,
                f"alert {alert['id']}: {type(exc).__name__}: {exc} "
                f"(gave up after {time.monotonic() - started:.1f}s)") from exc
        except PermanentStatus as exc:
            self.failed += 1
            raise delivery_failed(self.sink, self.url, 1,
                                  f"alert {alert['id']} rejected: {exc}") from exc
        self.delivered += 1
        metrics_hooks.current().delivered(self.sink, self.url, 1)

    def post_all(self, alerts: list[dict[str, Any]]) -> None:
        """Deliver ``alerts`` in order; the first that fails raises."""
        for alert in alerts:
            self.post(alert)

    def close(self) -> None:
        self._client.close()


class _WebhookPartition(StatelessSinkPartition[dict]):
    def __init__(self, poster: WebhookPoster) -> None:
        self._poster = poster

    def write_batch(self, items: list[dict]) -> None:
        self._poster.post_all(items)

    def close(self) -> None:
        self._poster.close()


class WebhookSink(DynamicSink[dict]):
    """Alerts to an HTTP webhook (see the module docstring); one client per worker."""

    def __init__(self, url: str, **poster_options: Any) -> None:
        self.url = url
        self.poster_options = poster_options

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _WebhookPartition:
        return _WebhookPartition(WebhookPoster(self.url, **self.poster_options))
