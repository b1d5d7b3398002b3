"""The flow's watermark as a parse step sees it, and the ticks that carry it
to every shard.

A source batch comes from one origin (a Kafka partition, a file). The
watermark is the smallest of the newest event times of the origins that
delivered within the last ``idle_s`` seconds of wall-clock time: a partition
that is behind holds it back (its keys are not called silent because another
partition runs ahead), one that went idle does not stall it.

Keys go silent in shards that receive no more events, so the shard step also
sends an empty batch carrying the watermark to every shard (a *tick*) each
time the watermark has advanced ``TICK_EVENT_S`` seconds of event time since
the last tick: the missing-data check runs there.

>>> import numpy as np
>>> w = Watermarks(clock=lambda: 0.0)
>>> w.observe("m/0", np.array([10.0, 50.0])), w.observe("m/1", np.array([30.0]))
(50.0, 30.0)
>>> w.observe("m/0", np.array([]))
30.0
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable

import numpy as np

from pynomaly.records import EventBatch

#: event-time seconds the watermark must advance between two ticks
TICK_EVENT_S = 30.0
#: origins silent this long (wall clock) no longer hold the watermark back
IDLE_ORIGIN_S = 10.0


class Watermarks:
    """Newest event time per origin; the watermark is their minimum over
    active origins (see the module docstring)."""

    def __init__(self, idle_s: float = IDLE_ORIGIN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.clock = clock
        #: names this tracker (one per parser, so one per process) in ticks
        self.token = uuid.uuid4().hex[:12]
        self.newest: dict[str, float] = {}
        self.seen_at: dict[str, float] = {}

    def observe(self, origin: str, times: np.ndarray) -> float:
        """Take a batch's event times from ``origin``; the watermark after it
        (``-inf`` before any event)."""
        now = self.clock()
        if len(times):
            t = float(times.max())
            if t > self.newest.get(origin, -math.inf):
                self.newest[origin] = t
            self.seen_at[origin] = now
        active = [t for o, t in self.newest.items() if now - self.seen_at[o] <= self.idle_s]
        return min(active) if active else max(self.newest.values(), default=-math.inf)


class SourceWatermarks:
    """A shard's view of the flow's watermark: the smallest of the latest
    watermarks of the sources (the parse steps of the processes) that sent
    the shard events, among those that spoke within ``idle_s`` seconds of
    wall-clock time. A source that only sends ticks (it reads partitions
    whose keys live elsewhere) does not count, so a process reading a
    partition that is ahead does not make another's keys look silent.

    >>> w = SourceWatermarks(clock=lambda: 0.0)
    >>> w.update("a", 100.0, rows=False)   # a tick from a source with no events here
    -inf
    >>> w.update("b", 40.0, rows=True), w.update("a", 120.0, rows=False)
    (40.0, 40.0)
    """

    def __init__(self, idle_s: float = IDLE_ORIGIN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self.latest: dict[str, tuple[float, float]] = {}

    def update(self, source: str, watermark: float, rows: bool) -> float:
        """Take ``watermark`` from ``source`` (``rows``: the batch had events
        for this shard); the shard's watermark (``-inf`` while unknown)."""
        now = self.clock()
        old = self.latest.get(source)
        if (old is not None or rows) and watermark == watermark and math.isfinite(watermark):
            self.latest[source] = (watermark if old is None else max(old[0], watermark), now)
        fresh = [w for w, at in self.latest.values() if now - at <= self.idle_s]
        return min(fresh) if fresh else -math.inf

    def __getstate__(self) -> dict:
        # wall-clock ages mean nothing after a restart: the sources speak again
        return {"idle_s": self.idle_s}

    def __setstate__(self, st: dict) -> None:
        self.idle_s = st["idle_s"]
        self.latest = {}
        self.clock = time.monotonic


class Ticker:
    """Decides when a shard step sends ticks (see the module docstring)."""

    def __init__(self, every_s: float = TICK_EVENT_S) -> None:
        self.every_s = every_s
        self.last = -math.inf

    def due(self, watermark: float) -> bool:
        """Whether to tick at ``watermark`` (and remember it if so)."""
        if not math.isfinite(watermark) or watermark < self.last + self.every_s:
            return False
        self.last = watermark
        return True


def with_ticks(parts: list[tuple[str, EventBatch]], batch: EventBatch, shards: int,
               ticker: Ticker) -> list[tuple[str, EventBatch]]:
    """``parts`` (a batch split by shard) plus, when a tick is due, an empty
    batch carrying the watermark for every shard not in ``parts``.

    >>> b = EventBatch(["a"], np.zeros(1), np.zeros((1, 1)), ("v",), watermark=100.0)
    >>> [(s, len(sub)) for s, sub in with_ticks([("1", b)], b, 3, Ticker())]
    [('1', 1), ('0', 0), ('2', 0)]
    """
    if not ticker.due(batch.watermark):
        return parts
    present = {label for label, _ in parts}
    empty_values = np.empty((0, len(batch.fields)))
    ticks = [(str(s), EventBatch([], np.empty(0), empty_values, batch.fields, batch.read_at,
                                 watermark=batch.watermark, watermark_from=batch.watermark_from))
             for s in range(shards) if str(s) not in present]
    return parts + ticks
