"""Per-key event-time windows: tumbling and sliding aggregation.

A :class:`KeyWindows` collects one key's events into windows and releases a
window's aggregate once the key's watermark (its newest event time) has moved
past the window end plus the allowed lateness. Events older than the watermark
minus the allowed lateness are late and reported back to the caller (which
dead-letters them).

>>> import numpy as np
>>> from pynomaly.dataflow.windowing import KeyWindows
>>> w = KeyWindows(size=60.0, slide=60.0, lateness=0.0, agg="mean", n_fields=1)
>>> w.add(np.array([0.0, 30.0, 61.0]), np.array([[1.0], [3.0], [10.0]]))
([], [(60.0, [2.0])])
"""

from __future__ import annotations

import math

import numpy as np


class KeyWindows:
    """Open windows of one key; picklable."""

    __slots__ = ("acc", "agg", "lateness", "n_fields", "size", "slide", "watermark")

    def __init__(self, size: float, slide: float, lateness: float, agg: str, n_fields: int) -> None:
        self.size = size
        self.slide = slide
        self.lateness = lateness
        self.agg = agg
        self.n_fields = n_fields
        self.watermark = -math.inf
        #: window start → [count, sum..., min..., max..., last...]
        self.acc: dict[float, list[float]] = {}

    def _starts(self, t: float) -> list[float]:
        last = math.floor(t / self.slide) * self.slide
        starts = []
        s = last
        while s > t - self.size:
            starts.append(s)
            s -= self.slide
        return starts

    def _update(self, start: float, row: np.ndarray) -> None:
        nf = self.n_fields
        a = self.acc.get(start)
        if a is None:
            a = [0.0] + [0.0] * nf + [math.inf] * nf + [-math.inf] * nf + [0.0] * nf
            self.acc[start] = a
        a[0] += 1
        for j in range(nf):
            v = float(row[j])
            a[1 + j] += v
            if v < a[1 + nf + j]:
                a[1 + nf + j] = v
            if v > a[1 + 2 * nf + j]:
                a[1 + 2 * nf + j] = v
            a[1 + 3 * nf + j] = v

    def _result(self, a: list[float]) -> list[float]:
        nf = self.n_fields
        n = a[0]
        if self.agg == "mean":
            return [a[1 + j] / n for j in range(nf)]
        if self.agg == "sum":
            return a[1 : 1 + nf]
        if self.agg == "min":
            return a[1 + nf : 1 + 2 * nf]
        if self.agg == "max":
            return a[1 + 2 * nf : 1 + 3 * nf]
        if self.agg == "last":
            return a[1 + 3 * nf : 1 + 4 * nf]
        return [n] * nf  # count

    def add(self, times: np.ndarray, rows: np.ndarray) -> tuple[list[int], list[tuple[float, list[float]]]]:
        """Add events in arrival order; returns (indices of late events,
        closed windows as (window end, aggregate) in end order)."""
        late: list[int] = []
        for i in range(len(times)):
            t = float(times[i])
            if t < self.watermark - self.lateness:
                late.append(i)
                continue
            if t > self.watermark:
                self.watermark = t
            for s in self._starts(t):
                self._update(s, rows[i])
        closed = []
        for s in sorted(self.acc):
            if s + self.size + self.lateness <= self.watermark:
                closed.append((s + self.size, self._result(self.acc.pop(s))))
        return late, closed
