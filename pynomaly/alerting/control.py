"""The maintenance control topic: maintenance windows changed at run time.

Each message on the topic is one JSON object::

    {"op": "upsert", "window": {"name": "db-patch", "start": "2026-12-06T02:00:00",
                                "timezone": "Europe/Berlin", "duration_s": 3600,
                                "keys": ["db-*"], "learning": "skip"}}
    {"op": "delete", "name": "db-patch"}

A running flow reads the topic from its beginning in a background thread
and applies every message to its :class:`~.maintenance.Calendar` in order,
so the windows in force are the topic's fold: a restarted flow (after a
crash or a redeploy) rebuilds them before it reads its first event, and the
spec's own windows come first. A message that is not valid is logged with
its offset and reason and counted; it changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pynomaly.alerting.maintenance import Calendar, MaintenanceWindowSpec

log = logging.getLogger("pynomaly.maintenance")


class ControlTopicSpec(BaseModel):
    """Where maintenance windows are changed at run time (``maintenance_control:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = Field(min_length=1)
    #: at start, how long to wait for the topic to be read to its end
    catch_up_timeout_s: float = Field(30.0, gt=0)
    config: dict[str, str] = Field(default_factory=dict, description="extra librdkafka settings")


def apply_message(calendar: Calendar, raw: bytes) -> str:
    """Apply one control message; returns what it did (``upsert NAME``,
    ``delete NAME``) or raises ``ValueError`` naming what is wrong.

    >>> cal = Calendar()
    >>> apply_message(cal, b'{"op":"upsert","window":{"name":"w","start":"2026-01-01T00:00:00",'
    ...               b'"duration_s":60}}')
    'upsert w'
    >>> apply_message(cal, b'{"op":"delete","name":"w"}'), list(cal.windows)
    ('delete w', [])
    >>> apply_message(cal, b'{"op":"upsert","window":{"name":"w"}}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: window: ...start: Field required...
    """
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ValueError("a control message must be a JSON object")
    op = msg.get("op")
    if op == "upsert":
        try:
            window = MaintenanceWindowSpec.model_validate(msg.get("window"))
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'window'}: {e['msg']}"
                               for e in exc.errors())
            raise ValueError(f"window: {detail}") from None
        calendar.upsert(window)
        return f"upsert {window.name}"
    if op == "delete":
        name = msg.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("delete needs a window 'name'")
        calendar.delete(name)
        return f"delete {name}"
    raise ValueError(f"unknown op {op!r} (upsert or delete)")


class ControlFeed:
    """Reads the control topic into ``calendar`` in a daemon thread."""

    def __init__(self, spec: ControlTopicSpec, calendar: Calendar) -> None:
        self.spec = spec
        self.calendar = calendar
        self.applied = 0
        self.rejected = 0
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ControlFeed:
        """Start reading and wait until the topic has been read to its end
        (or ``catch_up_timeout_s``, then log that windows may be missing)."""
        self._thread = threading.Thread(target=self._run, name="pynomaly-maintenance",
                                        daemon=True)
        self._thread.start()
        if not self.caught_up.wait(self.spec.catch_up_timeout_s):
            log.warning("maintenance control topic %r not read to its end within %.0f s; "
                        "windows defined there may apply late", self.spec.topic,
                        self.spec.catch_up_timeout_s)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        conf: dict[str, Any] = {
            "bootstrap.servers": self.spec.bootstrap_servers,
            "group.id": f"pynomaly-maintenance-{id(self)}-{time.time_ns()}",
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            "logger": log, **self.spec.config}
        consumer = Consumer(conf)
        try:
            topic = self.spec.topic
            parts: list[int] = []
            while not parts and not self._stop.is_set():
                md = consumer.list_topics(topic, timeout=10).topics.get(topic)
                parts = sorted(md.partitions) if md is not None and md.error is None else []
                if not parts:  # no topic yet: no windows yet; look again later
                    self.caught_up.set()
                    self._stop.wait(5.0)
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in parts}
            pending = {p for p, end in ends.items() if end > 0}
            if not pending:
                self.caught_up.set()
            while not self._stop.is_set():
                m = consumer.poll(0.2)
                if m is None:
                    continue
                if m.error() is not None:
                    log.warning("maintenance control topic: %s", m.error())
                    continue
                self._apply(m)
                if pending and m.offset() + 1 >= ends.get(m.partition(), 0):
                    pending.discard(m.partition())
                    if not pending:
                        self.caught_up.set()
        finally:
            consumer.close()

    def _apply(self, m: Any) -> None:
        where = f"{m.topic()}/{m.partition()}@{m.offset()}"
        try:
            done = apply_message(self.calendar, m.value() or b"")
        except ValueError as exc:
            self.rejected += 1
            log.error("maintenance control message %s rejected: %s", where, exc)
            return
        self.applied += 1
        log.info("maintenance control %s: %s", where, done)
