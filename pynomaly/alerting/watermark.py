"""Watermarks: how far event time has got, per source origin (a Kafka
partition, a file), and the ticks that carry it to every shard.

A source batch comes from one origin; the parse step stamps the batch with
its origin and that origin's newest event time. A shard keeps each origin's
newest time (:class:`OriginWatermarks`) and judges a key against the origin
it arrives from: partitions read at different speeds never make each
other's keys look silent. An origin that has not spoken for ``idle_s``
seconds of wall-clock time (a partition whose only producer stopped) is
judged against the smallest watermark of the origins still speaking.

Keys go silent in shards that receive no more events, so the shard step also
sends an empty batch carrying the origin and its watermark to every shard (a
*tick*) each time that origin's watermark has advanced ``TICK_EVENT_S``
seconds of event time since its last tick.

>>> import numpy as np
>>> w = Watermarks()
>>> w.observe("m/0", np.array([10.0, 50.0])), w.observe("m/1", np.array([30.0]))
(50.0, 30.0)
>>> w.observe("m/0", np.array([20.0]))
50.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where used: pynomaly.dataflow imports this module
    from pynomaly.dataflow.records import EventBatch

#: event-time seconds the watermark must advance between two ticks
TICK_EVENT_S = 30.0
#: origins silent this long (wall clock) no longer hold the watermark back
IDLE_ORIGIN_S = 10.0


class Watermarks:
    """Newest event time per origin, as a parse step sees it."""

    def __init__(self) -> None:
        self.newest: dict[str, float] = {}

    def observe(self, origin: str, times: np.ndarray) -> float:
        """Take a batch's event times from ``origin``; the origin's
        watermark after it (``-inf`` before any event)."""
        old = self.newest.get(origin, -math.inf)
        if len(times):
            t = float(times.max())
            if t > old:
                self.newest[origin] = old = t
        return old


class OriginWatermarks:
    """A shard's watermarks: each origin's newest event time, and when (wall
    clock) it last spoke; see the module docstring.

    >>> w = OriginWatermarks(clock=lambda: 0.0)
    >>> w.update("p0", 100.0), w.update("p1", 40.0)
    (0, 1)
    >>> w.effective().tolist()           # each origin its own
    [100.0, 40.0]
    >>> for t in range(5, 65, 5):        # p0 goes on speaking, p1 does not
    ...     w.clock = lambda t=t: float(t); _ = w.update("p0", 100.0 + t)
    >>> w.effective().tolist()           # p1 silent for 60 s: judged by those speaking
    [160.0, 160.0]
    >>> w.clock = lambda: 200.0; w.update("p0", 170.0)  # nothing spoke for 140 s: an outage
    0
    >>> w.effective().tolist()           # p1 gets its idle time again
    [170.0, 40.0]
    """

    def __init__(self, idle_s: float = IDLE_ORIGIN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self.ids: dict[str, int] = {}
        self.newest = np.zeros(0)
        self.spoke = np.zeros(0)

    def update(self, origin: str, watermark: float) -> int:
        """Take ``watermark`` (NaN: none) from ``origin``; its id.

        When no origin at all has spoken for ``idle_s`` (the source or its
        broker was away), every origin's idle clock restarts: after an outage
        each partition gets ``idle_s`` to speak again before it counts as
        idle, so the first partition back does not make the others' keys
        look silent."""
        now = self.clock()
        if self.spoke.size and now - float(self.spoke.max()) > self.idle_s:
            self.spoke[:] = now
        i = self.ids.get(origin)
        if i is None:
            i = self.ids[origin] = len(self.ids)
            self.newest = np.r_[self.newest, -np.inf]
            self.spoke = np.r_[self.spoke, now]
        if watermark == watermark and watermark > self.newest[i]:
            self.newest[i] = watermark
        self.spoke[i] = now
        return i

    def watermark(self, origin: str) -> float:
        """The newest event time of ``origin`` (``-inf`` when unknown)."""
        i = self.ids.get(origin)
        return -math.inf if i is None else float(self.newest[i])

    def effective(self) -> np.ndarray:
        """Per origin id, the watermark its keys are judged against."""
        active = self.clock() - self.spoke <= self.idle_s
        if active.all() or not active.any():
            return self.newest.copy()
        return np.where(active, self.newest, max(float(self.newest[active].min()), -math.inf))

    def __getstate__(self) -> dict:
        return {"idle_s": self.idle_s, "ids": self.ids, "newest": self.newest}

    def __setstate__(self, st: dict) -> None:
        # wall-clock ages do not survive a restart: every origin starts fresh
        self.__init__(st["idle_s"])
        self.ids = dict(st["ids"])
        self.newest = np.array(st["newest"], dtype=np.float64)
        self.spoke = np.full(len(self.ids), self.clock())


class Ticker:
    """Decides when a shard step sends ticks for an origin (see the module
    docstring); remembers at most ``MAX_ORIGINS`` origins."""

    MAX_ORIGINS = 100_000

    def __init__(self, every_s: float = TICK_EVENT_S) -> None:
        self.every_s = every_s
        self.last: dict[str, float] = {}

    def due(self, origin: str, watermark: float) -> bool:
        """Whether to tick at ``watermark`` of ``origin`` (and remember it if so)."""
        if not math.isfinite(watermark) or watermark < self.last.get(origin, -math.inf) + self.every_s:
            return False
        if len(self.last) >= self.MAX_ORIGINS:
            self.last.clear()
        self.last[origin] = watermark
        return True


def with_ticks(parts: list[tuple[str, EventBatch]], batch: EventBatch, shards: int,
               ticker: Ticker) -> list[tuple[str, EventBatch]]:
    """``parts`` (a batch split by shard) plus, when a tick is due, an empty
    batch carrying the watermark for every shard not in ``parts``.

    >>> from pynomaly.dataflow.records import EventBatch
    >>> b = EventBatch(["a"], np.zeros(1), np.zeros((1, 1)), ("v",), watermark=100.0)
    >>> [(s, len(sub)) for s, sub in with_ticks([("1", b)], b, 3, Ticker())]
    [('1', 1), ('0', 0), ('2', 0)]
    """
    from pynomaly.dataflow.records import EventBatch

    if not ticker.due(batch.watermark_from, batch.watermark):
        return parts
    present = {label for label, _ in parts}
    empty_values = np.empty((0, len(batch.fields)))
    ticks = [(str(s), EventBatch([], np.empty(0), empty_values, batch.fields, batch.read_at,
                                 watermark=batch.watermark, watermark_from=batch.watermark_from))
             for s in range(shards) if str(s) not in present]
    return parts + ticks
