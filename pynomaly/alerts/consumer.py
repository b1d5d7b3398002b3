"""Read a flow's alerts topic as typed, validated alerts.

:class:`AlertConsumer` is a context manager and an iterator of
:class:`~pynomaly.alerts.models.AlertV1`/:class:`~pynomaly.alerts.models.AlertV2`
objects. A message that is not a valid alert never raises in the loop: it
goes to ``on_error`` as an :class:`AlertError` (position, reason, original
bytes) and iteration goes on. A topic that does not exist yet is waited for
(``on_wait`` is told once).

Delivery is at least once. With a ``group_id``, the offset of a message is
stored for commit when the loop asks for the next one, that is after the
body of the loop has handled it; stored offsets are committed every second
and when the consumer closes. An alert whose handling was cut short (an
exception, a crash, a ``break``) is delivered again to the group's next
reader, and so are those handled in the last second before a crash. Flows
already publish some alerts twice after a restart (same id, same content),
so ``dedup=N`` skips an id seen among the last N.
Without a ``group_id`` the consumer reads alone (all partitions assigned,
nothing committed), which is what ``pynomaly alerts tail`` does.

Example (needs a broker)::

    from pynomaly.alerts import AlertConsumer

    with AlertConsumer("127.0.0.1:9092", "alerts", group_id="pager", dedup=10_000,
                       on_error=lambda e: print("skipped", e)) as alerts:
        for alert in alerts:
            page(alert.key, alert.event_time, alert.score)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pynomaly.alerts.models import AlertFormatError, AlertV1, AlertV2, parse_alert

__all__ = ["AlertConsumer", "AlertError", "Received"]

log = logging.getLogger("pynomaly.alerts")

#: Longest wait for a group to hand over partitions before ``idle_timeout_s``
#: starts counting anyway.
GROUP_JOIN_WAIT_S = 30.0


@dataclass(frozen=True)
class AlertError:
    """A message that could not be read as an alert, or a Kafka error.

    ``reason`` is one of ``empty``, ``invalid_json``, ``not_an_object``,
    ``unsupported_version``, ``invalid_alert`` (the message is skipped) or
    ``kafka`` (a client error such as a broker that went away; the consumer
    keeps retrying).
    """

    reason: str
    detail: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    value: bytes | None = None

    @property
    def position(self) -> str:
        """``topic/partition@offset`` (or what is known of it)."""
        if self.partition is None:
            return self.topic or "?"
        return f"{self.topic}/{self.partition}@{self.offset}"

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}: {self.detail}"


@dataclass(frozen=True)
class Received:
    """One alert with where it came from and its bytes as published."""

    alert: AlertV1 | AlertV2
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def _log_error(error: AlertError) -> None:
    log.warning("alert consumer: %s", error)


class AlertConsumer:
    """Typed alerts from ``topic`` on ``bootstrap_servers``.

    Parameters
    ----------
    group_id
        Consumer group whose committed offsets say where to resume; None reads
        alone and commits nothing.
    from_beginning
        Where a reader without a committed offset starts: the oldest alert
        (True) or the next new one (False).
    on_error
        Called with an :class:`AlertError` for every message that is not a
        valid alert and every client error (default: a warning log line).
    on_wait
        Called once with a sentence while the topic does not exist yet.
    dedup
        Skip an alert whose id is among the last ``dedup`` ids seen (0: off).
    idle_timeout_s
        Stop iterating after this many seconds without a message, and give up
        waiting for a missing topic after as long (None: never).
    config
        Extra librdkafka settings.
    """

    def __init__(self, bootstrap_servers: str, topic: str, *, group_id: str | None = None,
                 from_beginning: bool = True,
                 on_error: Callable[[AlertError], None] | None = None,
                 on_wait: Callable[[str], None] | None = None,
                 dedup: int = 0, idle_timeout_s: float | None = None,
                 poll_timeout_s: float = 0.5, config: dict[str, Any] | None = None) -> None:
        if dedup < 0:
            raise ValueError(f"dedup must be >= 0, got {dedup}")
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.group_id = group_id
        self.from_beginning = from_beginning
        self.on_error = on_error or _log_error
        self.on_wait = on_wait
        self.dedup = dedup
        self.idle_timeout_s = idle_timeout_s
        self.poll_timeout_s = poll_timeout_s
        self.config = dict(config or {})
        self.duplicates = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._consumer: Any = None
        self._pending: Any = None  # the message handed out last, committed on the next read
        #: when the group gave this reader its partitions (None: not yet)
        self._assigned_at: float | None = None

    # -- life cycle ---------------------------------------------------------
    def __enter__(self) -> AlertConsumer:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self) -> AlertConsumer:
        """Connect, wait for the topic, subscribe (or assign). Idempotent.

        The wait for a topic that does not exist yet lasts ``idle_timeout_s``
        at most (then :class:`TimeoutError`), or as long as it takes.
        """
        if self._consumer is not None:
            return self
        from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

        from pynomaly.connectors.kafka_logging import with_client_logger
        from pynomaly.connectors.kafka_probe import probe

        probe(self.bootstrap_servers, needed_by=[f"the alert consumer (topic {self.topic!r})"],
              hint=f"check the address, or give another: kafka://HOST:PORT/{self.topic}")
        partitions = self._wait_for_topic(self.idle_timeout_s)
        settings: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": self.group_id or f"pynomaly-alerts-{uuid.uuid4().hex[:12]}",
            # offsets are stored by hand once handled, committed in the background
            "enable.auto.commit": self.group_id is not None,
            "enable.auto.offset.store": False,
            "auto.commit.interval.ms": 1000,
            "auto.offset.reset": "earliest" if self.from_beginning else "latest",
            # the embedded broker holds a join for half the session timeout
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "error_cb": self._on_client_error,
            **self.config,
        }
        self._consumer = Consumer(with_client_logger(settings))
        if self.group_id is None:
            start = OFFSET_BEGINNING if self.from_beginning else OFFSET_END
            self._consumer.assign([TopicPartition(self.topic, p, start) for p in partitions])
            self._assigned_at = time.monotonic()
        else:
            self._consumer.subscribe([self.topic], on_assign=self._on_assign)
        return self

    def _on_assign(self, _consumer: Any, _partitions: Any) -> None:
        if self._assigned_at is None:
            self._assigned_at = time.monotonic()

    def close(self) -> None:
        """Commit the offsets of the handled alerts and leave the group; the
        alert handed out last is not committed (it is read again: at least once)."""
        consumer, self._consumer = self._consumer, None
        self._pending = None
        self._assigned_at = None
        if consumer is not None:
            consumer.close()

    def _wait_for_topic(self, timeout_s: float | None) -> list[int]:
        from confluent_kafka.admin import AdminClient

        from pynomaly.connectors.kafka_logging import with_client_logger

        admin = AdminClient(with_client_logger({"bootstrap.servers": self.bootstrap_servers}))
        told = False
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            # all topics: naming one in a metadata request creates it on some brokers
            info = admin.list_topics(timeout=10.0).topics.get(self.topic)
            if info is not None and info.error is None and info.partitions:
                return sorted(info.partitions)
            if not told and self.on_wait is not None:
                self.on_wait(f"topic {self.topic!r} does not exist on {self.bootstrap_servers} "
                             "yet; waiting for it")
                told = True
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"topic {self.topic!r} did not appear within {timeout_s:g} s")
            time.sleep(0.5)

    def _on_client_error(self, err: Any) -> None:
        self.on_error(AlertError("kafka", err.str(), topic=self.topic))

    # -- reading -------------------------------------------------------------
    def _mark_handled(self) -> None:
        if self._pending is not None and self.group_id is not None:
            from confluent_kafka import KafkaException, TopicPartition

            msg = self._pending
            try:
                self._consumer.store_offsets(offsets=[TopicPartition(
                    msg.topic(), msg.partition(), msg.offset() + 1)])
            except KafkaException as exc:  # e.g. the partition moved to another reader
                self.on_error(AlertError("kafka", f"offset not stored: {exc.args[0]}",
                                         msg.topic(), msg.partition(), msg.offset()))
        self._pending = None

    def poll(self, timeout_s: float | None = None) -> Received | None:
        """The next alert within ``timeout_s`` (None when there was none).

        Marks the alert returned by the previous call as handled first (its
        offset is committed with the next commit). Bad messages
        and client errors on the way go to ``on_error``; repeats (``dedup``)
        are skipped.
        """
        self.open()
        self._mark_handled()
        deadline = time.monotonic() + (self.poll_timeout_s if timeout_s is None else timeout_s)
        while True:
            left = deadline - time.monotonic()
            msg = self._consumer.poll(max(0.0, left))
            if msg is None:
                return None
            received = self._read(msg)
            if received is not None:
                self._pending = msg
                return received
            self._pending = msg  # a skipped message is handled: commit it too
            self._mark_handled()
            if time.monotonic() >= deadline:
                return None

    def _read(self, msg: Any) -> Received | None:
        err = msg.error()
        if err is not None:
            self.on_error(AlertError("kafka", err.str(), msg.topic(), msg.partition(),
                                     msg.offset() if msg.offset() is not None and
                                     msg.offset() >= 0 else None))
            return None
        value = msg.value()
        try:
            alert = parse_alert(value)
        except AlertFormatError as exc:
            self.on_error(AlertError(exc.reason, exc.detail, msg.topic(), msg.partition(),
                                     msg.offset(), msg.key(), value))
            return None
        if self.dedup:
            if alert.id in self._seen:
                self._seen.move_to_end(alert.id)
                self.duplicates += 1
                return None
            self._seen[alert.id] = None
            if len(self._seen) > self.dedup:
                self._seen.popitem(last=False)
        return Received(alert, msg.topic(), msg.partition(), msg.offset(), msg.key(), value)

    def received(self) -> Iterator[Received]:
        """Alerts with their position and bytes, until ``idle_timeout_s`` passes
        without a message (or forever).

        The idle time counts from when the group hands this reader its
        partitions (joining a group takes seconds), or from
        :data:`GROUP_JOIN_WAIT_S` after the start if it never does.
        """
        self.open()
        started = time.monotonic()
        last_message: float | None = None
        while True:
            got = self.poll()
            now = time.monotonic()
            if got is not None:
                last_message = now
                yield got
                continue
            if self.idle_timeout_s is None:
                continue
            idle_since = last_message or self._assigned_at or started + GROUP_JOIN_WAIT_S
            if now - idle_since >= self.idle_timeout_s:
                return

    def __iter__(self) -> Iterator[AlertV1 | AlertV2]:
        for got in self.received():
            yield got.alert
