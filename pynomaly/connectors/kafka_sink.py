"""Kafka sinks that confirm delivery: alerts (JSON, keyed by entity) and dead letters.

Unlike Bytewax's stock ``KafkaSink``, every batch is flushed and each
message's delivery report is checked. If any message of the batch cannot be
confirmed within ``delivery_timeout_s`` the step raises, naming the topic and
the error, so the failure is loud and Bytewax recovery replays the batch
(at-least-once; alert ids make the replay idempotent for consumers).
"""

from __future__ import annotations

from typing import Any

import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaException, Producer

from pynomaly.records import DeadLetter


class DeliveryError(RuntimeError):
    """Some messages of a batch could not be confirmed by the broker."""


def producer_config(bootstrap: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings for a producer that never loses acknowledged writes silently."""
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "compression.type": "none",
        "message.timeout.ms": 120_000,
        **(extra or {}),
    }


class ConfirmedProducer:
    """Produce a batch and wait until every message is acknowledged.

    >>> p = ConfirmedProducer.__new__(ConfirmedProducer)  # doctest only checks the API
    >>> callable(ConfirmedProducer.send_batch)
    True
    """

    def __init__(self, bootstrap: str, topic: str, *, delivery_timeout_s: float = 30.0,
                 config: dict[str, str] | None = None) -> None:
        self.topic = topic
        self.delivery_timeout_s = delivery_timeout_s
        self._producer = Producer(producer_config(bootstrap, config))
        self.delivered = 0
        self.failed = 0

    def send_batch(self, messages: list[tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]]
                   ) -> None:
        """Produce ``(key, value, headers)`` messages; raise :class:`DeliveryError`
        unless all are confirmed."""
        errors: list[str] = []
        acked = 0

        def on_delivery(err: Any, _msg: Any) -> None:
            nonlocal acked
            if err is not None:
                errors.append(str(err))
            else:
                acked += 1

        produce = self._producer.produce
        for key, value, headers in messages:
            while True:
                try:
                    produce(self.topic, value, key, headers=headers, on_delivery=on_delivery)
                    break
                except BufferError:
                    self._producer.poll(0.05)
                except KafkaException as exc:
                    raise DeliveryError(f"kafka topic {self.topic!r}: {exc}") from exc
        remaining = self._producer.flush(self.delivery_timeout_s)
        self.delivered += acked
        if errors or remaining:
            self.failed += len(messages) - acked
            what = errors[0] if errors else f"{remaining} message(s) unconfirmed after {self.delivery_timeout_s}s"
            raise DeliveryError(
                f"kafka topic {self.topic!r}: {len(messages) - acked} of {len(messages)} not delivered: {what}"
            )

    def close(self) -> None:
        self._producer.flush(self.delivery_timeout_s)


class _AlertPartition(StatelessSinkPartition[dict]):
    def __init__(self, producer: ConfirmedProducer) -> None:
        self._producer = producer

    def write_batch(self, items: list[dict]) -> None:
        self._producer.send_batch(
            [(a["key"].encode(), orjson.dumps(a), [("alert_id", a["id"].encode())]) for a in items]
        )

    def close(self) -> None:
        self._producer.close()


class KafkaAlertSink(DynamicSink[dict]):
    """Alerts to a Kafka topic, keyed by entity, delivery confirmed per batch."""

    def __init__(self, bootstrap: str, topic: str, *, delivery_timeout_s: float = 30.0,
                 config: dict[str, str] | None = None) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.delivery_timeout_s, self.config = delivery_timeout_s, config

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AlertPartition:
        return _AlertPartition(ConfirmedProducer(self.bootstrap, self.topic,
                                                 delivery_timeout_s=self.delivery_timeout_s,
                                                 config=self.config))


class _DeadPartition(StatelessSinkPartition[DeadLetter]):
    def __init__(self, producer: ConfirmedProducer) -> None:
        self._producer = producer

    def write_batch(self, items: list[DeadLetter]) -> None:
        self._producer.send_batch([
            (d.key.encode() if d.key else None, d.raw,
             [("reason", str(d.reason).encode()), ("detail", d.detail.encode()),
              ("origin", d.origin.encode())])
            for d in items
        ])

    def close(self) -> None:
        self._producer.close()


class KafkaDeadLetterSink(DynamicSink[DeadLetter]):
    """Dead letters to a Kafka topic: the original bytes as value, the reason,
    detail and origin as headers; delivery confirmed per batch."""

    def __init__(self, bootstrap: str, topic: str, *, delivery_timeout_s: float = 30.0,
                 config: dict[str, str] | None = None) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.delivery_timeout_s, self.config = delivery_timeout_s, config

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _DeadPartition:
        return _DeadPartition(ConfirmedProducer(self.bootstrap, self.topic,
                                                delivery_timeout_s=self.delivery_timeout_s,
                                                config=self.config))
