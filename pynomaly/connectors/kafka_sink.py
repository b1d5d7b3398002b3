"""Kafka sinks that confirm delivery: alerts (JSON, keyed by entity) and dead letters.

Unlike Bytewax's stock ``KafkaSink``, which ignores delivery reports, every
batch goes through a :class:`ConfirmedProducer`: an idempotent producer
(``acks=all``) whose delivery report is checked for each message. A message
whose report carries a retriable error (a timeout while the broker is away, a
leader change) is produced again after an exponential backoff, at most
``retries`` times; librdkafka's own retries run inside each attempt. When a
message cannot be confirmed — a permanent error, a fatal producer error, or
the retries are spent — the failure is loud: an ERROR log line, the
``failed`` metric hook, and :class:`DeliveryError`, which stops the dataflow
so Bytewax recovery replays the batch on restart (at-least-once; the alert id
header makes the replay idempotent for consumers).

Dead letters keep the original record bytes as the message value; records
larger than ``max_raw_bytes`` (a 10 MB message that was dead-lettered as
``too_large``) are cut to that size and marked by the ``raw_size`` and
``raw_truncated`` headers, so a hostile record can never make the
dead-letter write itself fail.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, KafkaException, Producer

from pynomaly.connectors.delivery import DeliveryError, backoff_delay, delivery_failed
from pynomaly.connectors.kafka_logging import with_client_logger
from pynomaly.dataflow.records import DeadLetter
from pynomaly.runtime import metrics_hooks

__all__ = [
    "ConfirmedProducer",
    "DeliveryError",
    "KafkaAlertSink",
    "KafkaDeadLetterSink",
    "classify",
    "dead_letter_message",
    "producer_config",
]

log = logging.getLogger("pynomaly.kafka_sink")

#: Dead-letter values are cut to this many bytes (the broker's default
#: ``message.max.bytes`` is about 1 MB).
DEFAULT_MAX_RAW_BYTES = 100_000
#: Seconds between two warnings about a producer's connection trouble (the
#: delivery retries say what happens to the messages meanwhile).
CLIENT_WARNING_INTERVAL_S = 30.0
#: Extra seconds ``flush`` waits beyond the message timeout for the reports.
FLUSH_MARGIN_S = 5.0

Message = tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]


def producer_config(bootstrap: str, extra: dict[str, str] | None = None, *,
                    message_timeout_s: float = 120.0) -> dict[str, Any]:
    """Settings for a producer that never loses acknowledged writes silently.

    >>> cfg = producer_config("127.0.0.1:9092", message_timeout_s=30)
    >>> cfg["enable.idempotence"], cfg["acks"], cfg["message.timeout.ms"]
    (True, 'all', 30000)
    """
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "none",
        "message.timeout.ms": max(1, round(message_timeout_s * 1000)),
        **(extra or {}),
    }


#: Delivery-report errors worth another attempt besides those librdkafka marks
#: retriable: timeouts and connectivity loss while the broker is away.
_TRANSIENT = frozenset({
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN, KafkaError._QUEUE_FULL, KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION,
})


#: Errors that spoil the idempotent producer's identity (producer id and
#: epoch): a fresh producer is made and the messages are produced again.
_IDENTITY = frozenset({
    KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError.UNKNOWN_PRODUCER_ID, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.INVALID_PRODUCER_ID_MAPPING, KafkaError._FENCED, KafkaError._FATAL,
})


def classify(err: KafkaError) -> str:
    """``"transient"`` (retry), ``"identity"`` (retry with a new producer) or
    ``"permanent"`` (give up).

    >>> classify(KafkaError(KafkaError._MSG_TIMED_OUT))
    'transient'
    >>> classify(KafkaError(KafkaError.PRODUCER_FENCED))
    'identity'
    >>> classify(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    'permanent'
    """
    if err.fatal() or err.code() in _IDENTITY:
        return "identity"
    if err.retriable() or err.code() in _TRANSIENT:
        return "transient"
    return "permanent"


def _record(results: dict[int, KafkaError | None], i: int, err: KafkaError | None, _msg: Any
            ) -> None:
    results[i] = err


class ConfirmedProducer:
    """Produce a batch and wait until every message is acknowledged.

    Parameters
    ----------
    bootstrap, topic
        Where to write.
    delivery_timeout_s
        How long one attempt waits for a message's delivery report (librdkafka
        ``message.timeout.ms``).
    config
        Extra librdkafka settings (they win over the defaults).
    retries
        Further attempts for messages that failed with a retriable error.
    backoff_s, max_backoff_s
        Exponential backoff between attempts: ``backoff_s * 2**k``, capped.
    sink
        Name reported to the metrics hooks and in error messages.

    The counters :attr:`delivered`, :attr:`retried` and :attr:`failed` count
    messages over the producer's life.

    >>> callable(ConfirmedProducer.send_batch)
    True
    """

    def __init__(self, bootstrap: str, topic: str, *, delivery_timeout_s: float = 30.0,
                 config: dict[str, str] | None = None, retries: int = 3,
                 backoff_s: float = 0.5, max_backoff_s: float = 5.0, sink: str = "kafka") -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.bootstrap = bootstrap
        self.topic = topic
        self.delivery_timeout_s = delivery_timeout_s
        self.config = dict(config or {})
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sink = sink
        self.delivered = 0
        self.retried = 0
        self.failed = 0
        self._last_warning = 0.0
        self._producer = self._new_producer()

    def _new_producer(self) -> Producer:
        cfg = producer_config(self.bootstrap, self.config,
                              message_timeout_s=self.delivery_timeout_s)
        cfg.setdefault("error_cb", self._on_client_error)
        return Producer(with_client_logger(cfg))

    def _on_client_error(self, err: KafkaError) -> None:
        # connection-level trouble (all brokers down, ...): librdkafka keeps
        # retrying; say so at most every CLIENT_WARNING_INTERVAL_S. Message
        # outcomes are judged by the delivery reports, not here.
        now = time.monotonic()
        if err.fatal() or now - self._last_warning > CLIENT_WARNING_INTERVAL_S:
            self._last_warning = now
            log.warning("kafka producer for topic %r on %s: %s", self.topic, self.bootstrap,
                        err.str())

    def _produce(self, messages: list[Message], pending: list[int],
                 results: dict[int, KafkaError | None]) -> None:
        produce = self._producer.produce
        for i in pending:
            key, value, headers = messages[i]
            on_delivery = partial(_record, results, i)
            while True:
                try:
                    produce(self.topic, value, key, headers=headers, on_delivery=on_delivery)
                    break
                except BufferError:  # local queue full: serve reports, it drains
                    self._producer.poll(0.05)
                except KafkaException as exc:  # e.g. message too large: judged below
                    results[i] = exc.args[0]
                    break

    def send_batch(self, messages: list[Message]) -> None:
        """Produce ``(key, value, headers)`` messages; return once every one is
        confirmed, raise :class:`DeliveryError` when one cannot be."""
        if not messages:
            return
        hooks = metrics_hooks.current()
        results: dict[int, KafkaError | None] = {}
        pending = list(range(len(messages)))
        attempt = 0
        while True:
            attempt += 1
            self._produce(messages, pending, results)
            self._producer.flush(self.delivery_timeout_s + FLUSH_MARGIN_S)
            ok = sum(1 for i in pending if i in results and results[i] is None)
            errors = {i: results[i] for i in pending if results.get(i) is not None}
            unconfirmed = [i for i in pending if i not in results]
            if ok:
                self.delivered += ok
                hooks.delivered(self.sink, self.topic, ok)
            if not errors and not unconfirmed:
                return
            kinds = {i: classify(e) for i, e in errors.items()}
            if "identity" in kinds.values():  # this producer id is spent: start afresh
                self._producer = self._new_producer()
            permanent = [errors[i] for i, k in kinds.items() if k == "permanent"]
            if permanent or unconfirmed or attempt > self.retries:
                if permanent:
                    why = f"{permanent[0].name()}: {permanent[0].str()}"
                elif errors:
                    first = next(iter(errors.values()))
                    why = f"{first.name()}: {first.str()} (after {attempt} attempt(s))"
                else:
                    why = f"no delivery report within {self.delivery_timeout_s:g}s"
                lost = len(errors) + len(unconfirmed)
                self.failed += lost
                raise delivery_failed(self.sink, self.topic, lost,
                                      f"{why}; {lost} of {len(messages)} in the batch")
            pending = sorted(errors)
            for i in pending:
                del results[i]
            self.retried += len(pending)
            hooks.retried(self.sink, self.topic, len(pending))
            first = next(iter(errors.values()))
            delay = backoff_delay(attempt, self.backoff_s, self.max_backoff_s)
            log.warning("kafka topic %r: %d message(s) failed (%s), retry %d/%d in %.1fs",
                        self.topic, len(pending), first.str(), attempt, self.retries, delay)
            time.sleep(delay)

    def close(self) -> None:
        left = self._producer.flush(self.delivery_timeout_s)
        if left:
            log.error("kafka topic %r: %d message(s) unconfirmed at close", self.topic, left)


class _AlertPartition(StatelessSinkPartition[dict]):
    def __init__(self, producer: ConfirmedProducer) -> None:
        self._producer = producer

    def write_batch(self, items: list[dict]) -> None:
        self._producer.send_batch(
            [(a["key"].encode(), orjson.dumps(a), [("alert_id", a["id"].encode())]) for a in items]
        )

    def close(self) -> None:
        self._producer.close()


class _SinkBase:
    def __init__(self, bootstrap: str, topic: str, *, delivery_timeout_s: float = 30.0,
                 config: dict[str, str] | None = None, retries: int = 3,
                 backoff_s: float = 0.5, max_backoff_s: float = 5.0) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.delivery_timeout_s, self.config = delivery_timeout_s, config
        self.retries, self.backoff_s, self.max_backoff_s = retries, backoff_s, max_backoff_s

    def _producer(self, sink: str) -> ConfirmedProducer:
        return ConfirmedProducer(self.bootstrap, self.topic,
                                 delivery_timeout_s=self.delivery_timeout_s, config=self.config,
                                 retries=self.retries, backoff_s=self.backoff_s,
                                 max_backoff_s=self.max_backoff_s, sink=sink)


class KafkaAlertSink(_SinkBase, DynamicSink[dict]):
    """Alerts to a Kafka topic, keyed by entity, with the alert id as the
    ``alert_id`` header; delivery confirmed per batch."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        return _AlertPartition(self._producer("kafka"))


def dead_letter_message(d: DeadLetter, max_raw_bytes: int = DEFAULT_MAX_RAW_BYTES) -> Message:
    """The Kafka message of a dead letter: key, original bytes (cut to
    ``max_raw_bytes``) and the reason, detail and origin as headers.

    >>> from pynomaly.dataflow.records import Reason
    >>> key, value, headers = dead_letter_message(
    ...     DeadLetter(Reason.TOO_LARGE, "big", b"x" * 10, "m/0@5"), max_raw_bytes=4)
    >>> value, dict(headers)["reason"], dict(headers)["raw_size"]
    (b'xxxx', b'too_large', b'10')
    """
    headers = [("reason", str(d.reason).encode()), ("detail", d.detail.encode()),
               ("origin", d.origin.encode())]
    raw = d.raw
    if len(raw) > max_raw_bytes:
        headers += [("raw_size", str(len(raw)).encode()), ("raw_truncated", b"1")]
        raw = raw[:max_raw_bytes]
    return (d.key.encode() if d.key else None, raw, headers)


class _DeadPartition(StatelessSinkPartition[DeadLetter]):
    def __init__(self, producer: ConfirmedProducer, max_raw_bytes: int) -> None:
        self._producer = producer
        self._max_raw = max_raw_bytes

    def write_batch(self, items: list[DeadLetter]) -> None:
        self._producer.send_batch([dead_letter_message(d, self._max_raw) for d in items])

    def close(self) -> None:
        self._producer.close()


class KafkaDeadLetterSink(_SinkBase, DynamicSink[DeadLetter]):
    """Dead letters to a Kafka topic: the original bytes as value, the reason,
    detail and origin as headers; delivery confirmed per batch."""

    def __init__(self, bootstrap: str, topic: str, *, max_raw_bytes: int = DEFAULT_MAX_RAW_BYTES,
                 **kwargs: Any) -> None:
        super().__init__(bootstrap, topic, **kwargs)
        self.max_raw_bytes = max_raw_bytes

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DeadPartition:
        return _DeadPartition(self._producer("kafka-dlq"), self.max_raw_bytes)
