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
                                 watermark=batch.watermark))
             for s in range(shards) if str(s) not in present]
    return parts + ticks
