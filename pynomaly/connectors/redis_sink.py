"""Alerts to a Redis stream: ``XADD`` with ``MAXLEN``, every reply checked.

Each batch is one pipelined round trip of ``XADD <stream> MAXLEN ~ <maxlen> *
id <alert id> key <entity> alert <json>``. The reply of every ``XADD`` is
checked; a connection error or timeout (Redis restarting, a network blip, a
frozen server) is retried with exponential backoff (tenacity) for at most
``retries`` attempts and ``max_outage_s`` seconds, and the whole batch is sent
again — entries that did land before the error appear twice, with the same
alert id (at-least-once; consumers dedupe by id). An error reply (the key
holds another type, out of memory) is permanent. Either way, giving up is
loud: an ERROR log, the ``failed`` metric hook and
:class:`~pynomaly.connectors.delivery.DeliveryError`.

``MAXLEN ~`` trims the stream to about ``maxlen`` entries (Redis keeps
whole macro nodes, so a few more may remain): that is the stream's retention
policy, not a loss of undelivered alerts.

Example (needs a redis-server)::

    writer = RedisStreamWriter("redis://127.0.0.1:6379/0", "pynomaly:alerts", 100_000)
    writer.write([alert])
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import redis
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from pynomaly.connectors.delivery import delivery_failed
from pynomaly.runtime import metrics_hooks

log = logging.getLogger("pynomaly.redis_sink")

_TRANSIENT = (redis.ConnectionError, redis.TimeoutError)


def stream_fields(alert: dict[str, Any]) -> dict[str, bytes]:
    """The stream entry of one alert.

    >>> stream_fields({"id": "ab12", "key": "host-1", "score": 9.5})["alert"]
    b'{"id":"ab12","key":"host-1","score":9.5}'
    """
    return {"id": alert["id"].encode(), "key": str(alert["key"]).encode(),
            "alert": orjson.dumps(alert)}


class RedisStreamWriter:
    """Append alerts to a Redis stream with confirmed replies.

    The counters :attr:`delivered`, :attr:`retried` and :attr:`failed` count
    entries over the writer's life.
    """

    sink = "redis"

    def __init__(self, url: str, stream: str, maxlen: int, *, retries: int = 5,
                 backoff_s: float = 0.2, max_backoff_s: float = 5.0, max_outage_s: float = 60.0,
                 timeout_s: float = 5.0) -> None:
        self.url, self.stream, self.maxlen = url, stream, maxlen
        self.retries, self.max_outage_s = retries, max_outage_s
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s,
                                            socket_connect_timeout=timeout_s)
        self.delivered = 0
        self.retried = 0
        self.failed = 0

    def _send(self, entries: list[dict[str, bytes]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for fields in entries:
            pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
        replies = pipe.execute(raise_on_error=False)
        errors = [r for r in replies if isinstance(r, Exception)]
        if errors:
            raise _ReplyError(len(errors), errors[0])

    def _before_sleep(self, state: RetryCallState, n: int) -> None:
        self.retried += n
        metrics_hooks.current().retried(self.sink, self.stream, n)
        exc = state.outcome.exception() if state.outcome else None
        log.warning("redis stream %r: %s; retry %d in %.1fs", self.stream, exc,
                    state.attempt_number, state.next_action.sleep if state.next_action else 0)

    def write(self, alerts: list[dict[str, Any]]) -> None:
        """Append ``alerts``; raise :class:`DeliveryError` unless every
        ``XADD`` was acknowledged."""
        if not alerts:
            return
        entries = [stream_fields(a) for a in alerts]
        retrying = Retrying(
            retry=retry_if_exception_type(_TRANSIENT),
            stop=stop_after_attempt(self.retries + 1) | stop_after_delay(self.max_outage_s),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
            before_sleep=lambda s: self._before_sleep(s, len(entries)),
            reraise=True,
        )
        try:
            retrying(self._send, entries)
        except _ReplyError as exc:
            self.failed += exc.count
            raise delivery_failed(self.sink, self.stream, exc.count,
                                  f"error reply: {exc.first}") from exc
        except _TRANSIENT as exc:
            self.failed += len(entries)
            raise delivery_failed(self.sink, self.stream, len(entries),
                                  f"{type(exc).__name__}: {exc} (retries spent)") from exc
        self.delivered += len(entries)
        metrics_hooks.current().delivered(self.sink, self.stream, len(entries))

    def close(self) -> None:
        self._client.close()


class _ReplyError(Exception):
    def __init__(self, count: int, first: Exception) -> None:
        super().__init__(f"{count} error replies, first: {first}")
        self.count = count
        self.first = first


class _StreamPartition(StatelessSinkPartition[dict]):
    def __init__(self, writer: RedisStreamWriter) -> None:
        self._writer = writer

    def write_batch(self, items: list[dict]) -> None:
        self._writer.write(items)

    def close(self) -> None:
        self._writer.close()


class RedisStreamSink(DynamicSink[dict]):
    """Alerts to a Redis stream (see the module docstring); one connection per worker."""

    def __init__(self, url: str, stream: str, maxlen: int, **writer_options: Any) -> None:
        self.url, self.stream, self.maxlen = url, stream, maxlen
        self.writer_options = writer_options

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StreamPartition:
        return _StreamPartition(RedisStreamWriter(self.url, self.stream, self.maxlen,
                                                  **self.writer_options))
