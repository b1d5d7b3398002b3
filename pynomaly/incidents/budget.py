"""A global alert budget for a flow: at most about ``alerts_per_hour`` alerts,
the most significant ones, whatever the number of keys.

Every scored record is a test. Event time is cut into slices of ``slice_s``.
For one slice:

1. **p-values pooled across keys.** A candidate alert's p-value is its score's
   conformal rank among the scores of *all* keys in the last ``history_s``
   seconds (in whole epochs of ``epoch_s``; the slice itself included, which
   only raises p), ``p = (1 + #{pool >= s}) / (1 + N)``. With 100k
   keys the pool holds millions of scores, so p-values reach 1e-7, where a
   per-key calibrator stops at ``1 / (window + 1)``. Scores are kept in a
   histogram of log-spaced bins; a score counts every pooled score of its own
   bin as at least as large, which only makes p larger (conservative).
2. **Benjamini–Hochberg over the slice** at level ``q = alerts_per_hour ×
   slice_s / 3600``, with ``m`` = the records scored in the slice: candidate
   ``i`` (``i``-th smallest p) passes when some ``j >= i`` has
   ``p_(j) <= j q / m``. The slice length is chosen so that ``q`` stays at or
   below ``max_slice_level`` (0.02), where, under a null stream, the expected
   number of passes per slice is within a few percent of ``q``.
3. **A token bucket** caps what passes: it refills at ``alerts_per_hour`` and
   holds at most ``burst`` tokens; passing candidates take tokens smallest p
   first. So in any interval ``T``, released alerts ``<= alerts_per_hour × T /
   3600 + burst``, whatever the calibration. The level of step 2 follows the
   bucket (:meth:`AlertBudget.level_now`): from ``2 q`` when it is full down to
   0 when it is empty, so budget left unspent by a quiet stream buys power,
   as wealth does in alpha-investing (Foster & Stine 2008).

What is held back is counted (``held_back``) and the last ``keep_held``
held-back alerts are kept for queries (:meth:`AlertBudget.held`).
See docs/adr/0035-alert-budget.md for the guarantee.

Example
-------
>>> import numpy as np
>>> b = AlertBudget(BudgetConfig(alerts_per_hour=72, slice_s=1.0))
>>> rng = np.random.default_rng(0)
>>> for s in range(100):                       # 100 s of 1000 healthy scores a second
...     b.observe(float(s), rng.normal(size=1000) ** 2)
>>> b.offer({"id": "big", "score": 80.0}, t=100.5, score=80.0)
>>> b.offer({"id": "meh", "score": 9.0}, t=100.6, score=9.0)
>>> b.observe(100.0, rng.normal(size=1000) ** 2)
>>> [a["id"] for a in b.close(101.0)], b.held_back
(['big'], 1)
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field

#: histogram of log2(score): ``BINS_PER_OCTAVE`` bins per doubling over
#: ``[2**LOG2_LO, 2**LOG2_HI)``; smaller scores share the first bin, larger the last
BINS_PER_OCTAVE = 256
LOG2_LO, LOG2_HI = -16, 32
N_BINS = (LOG2_HI - LOG2_LO) * BINS_PER_OCTAVE


class BudgetConfig(BaseModel):
    """The alert budget of a flow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts_per_hour: float = Field(gt=0, description="alerts the flow may raise per hour")
    slice_s: float | None = Field(
        None, gt=0, description="event-time slice (default: the longest with q <= max_slice_level)")
    max_slice_level: float = Field(0.02, gt=0, lt=1)
    history_s: float = Field(3600.0, gt=0, description="event time of scores pooled for p-values")
    epoch_s: float = Field(60.0, gt=0, description="the pool ages out in epochs this long")
    burst: float | None = Field(None, gt=0, description="token bucket size (default: a "
                                "quarter hour of budget, at least 1)")
    keep_held: int = Field(10_000, ge=0, description="held-back alerts kept for queries")

    def slice_seconds(self) -> float:
        if self.slice_s is not None:
            return self.slice_s
        return self.max_slice_level * 3600.0 / self.alerts_per_hour

    def level(self) -> float:
        """The BH level ``q`` of one slice."""
        return min(1.0, self.alerts_per_hour * self.slice_seconds() / 3600.0)

    def bucket_size(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.alerts_per_hour / 4.0)


def score_bins(scores: np.ndarray) -> np.ndarray:
    """The histogram bin of each score: ``BINS_PER_OCTAVE`` equal steps of the
    mantissa per power of two (monotone in the score, which is all a rank
    needs); non-finite and <= 0 go to the first bin, NaN too.

    >>> score_bins(np.array([0.0, 1.0, 1.5, 2.0, np.inf])).tolist()
    [0, 4096, 4224, 4352, 12287]
    """
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    mant, exp = np.frexp(s)  # s = mant * 2**exp, mant in [0.5, 1)
    b = (exp.astype(np.int64) - 1 - LOG2_LO) * BINS_PER_OCTAVE + (
        (mant * 2.0 - 1.0) * BINS_PER_OCTAVE).astype(np.int64)
    b[s <= 0.0] = 0
    b[np.isinf(s)] = N_BINS - 1
    return np.clip(b, 0, N_BINS - 1)


@njit(cache=True, nogil=True)
def _count_bins(scores: np.ndarray, hist: np.ndarray) -> None:
    """``hist[score_bins(s)] += 1`` for each score, in one pass."""
    for i in range(scores.shape[0]):
        s = scores[i]
        if not s > 0.0:  # NaN, 0 and negatives
            b = 0
        elif s == np.inf:
            b = N_BINS - 1
        else:
            mant, exp = math.frexp(s)
            b = (exp - 1 - LOG2_LO) * BINS_PER_OCTAVE + int((mant * 2.0 - 1.0) * BINS_PER_OCTAVE)
            b = min(max(b, 0), N_BINS - 1)
        hist[b] += 1


def bh_passes(p: np.ndarray, m: int, q: float) -> np.ndarray:
    """Benjamini–Hochberg step-up: which of ``p`` pass at level ``q`` among ``m`` tests.

    >>> bh_passes(np.array([0.001, 0.025, 0.5]), m=10, q=0.1).tolist()
    [True, False, False]
    >>> bh_passes(np.array([0.02, 0.015, 0.5]), m=10, q=0.1).tolist()  # step-up: 0.02 <= 2q/m
    [True, True, False]
    """
    m = max(m, p.size)
    order = np.argsort(p, kind="stable")
    ok = p[order] <= q * np.arange(1, p.size + 1) / max(m, 1)
    passed = np.zeros(p.size, dtype=bool)
    if ok.any():
        k = int(np.flatnonzero(ok).max()) + 1
        passed[order[:k]] = True
    return passed


class AlertBudget:
    """The budget state of a flow (picklable): the score pool, the open
    slices' tests and candidates, and the token bucket."""

    def __init__(self, config: BudgetConfig) -> None:
        self.config = config
        self.slice_s = config.slice_seconds()
        self.q = config.level()
        self._pool = np.zeros(N_BINS, dtype=np.int64)
        self._epochs: dict[int, np.ndarray] = {}  # epoch -> histogram of its scores
        self._tests: dict[int, int] = {}          # open slice -> records scored in it
        self._candidates: dict[int, list[tuple[float, dict[str, Any]]]] = {}
        self._tokens = config.bucket_size()
        self._token_time: float | None = None
        self.released = 0
        self.held_back = 0
        self._held: deque[dict[str, Any]] = deque(maxlen=config.keep_held or None)

    def slice_of(self, t: float) -> int:
        return math.floor(t / self.slice_s)

    def observe(self, t: float, scores: np.ndarray) -> None:
        """Count the records scored at event time ``t`` as tests, and pool their scores."""
        scores = np.asarray(scores, dtype=np.float64)
        self.observe_many(np.full(scores.shape, float(t)), scores)

    def observe_many(self, times: np.ndarray, scores: np.ndarray) -> None:
        """Count records scored at event times ``times`` as tests of their
        slices, and add their scores to the pool (by epoch, for ageing)."""
        times = np.asarray(times, dtype=np.float64)
        if times.size == 0:
            return
        lo, hi = float(times.min()), float(times.max())
        if self.slice_of(lo) == self.slice_of(hi):  # the usual case: one slice
            sl = self.slice_of(lo)
            self._tests[sl] = self._tests.get(sl, 0) + times.size
        else:
            slices, counts = np.unique(np.floor(times / self.slice_s).astype(np.int64),
                                       return_counts=True)
            for sl, c in zip(slices.tolist(), counts.tolist(), strict=True):
                self._tests[sl] = self._tests.get(sl, 0) + c
        scores = np.ascontiguousarray(scores, dtype=np.float64)
        first = math.floor(lo / self.config.epoch_s)
        last = math.floor(hi / self.config.epoch_s)
        epochs = None if first == last else np.floor(times / self.config.epoch_s)
        spread = range(first, last + 1) if epochs is None or last - first < 64 else (
            int(e) for e in np.unique(epochs))
        for ep in spread:
            hist = np.zeros(N_BINS, dtype=np.int64)
            _count_bins(scores if epochs is None else scores[epochs == ep], hist)
            if ep in self._epochs:
                self._epochs[ep] += hist
            else:
                self._epochs[ep] = hist
            self._pool += hist
        keep = math.ceil(self.config.history_s / self.config.epoch_s)
        for ep in [e for e in self._epochs if e <= last - keep]:
            self._pool -= self._epochs.pop(ep)

    def offer(self, alert: dict[str, Any], *, t: float, score: float) -> None:
        """A candidate alert of event time ``t``; it is decided when its slice closes."""
        self._candidates.setdefault(self.slice_of(t), []).append((score, alert))

    def p_value(self, score: float) -> float:
        """The pooled conformal p-value of ``score`` (1.0 with an empty pool)."""
        n = int(self._pool.sum())
        b = int(score_bins(np.array([score]))[0])
        return (1.0 + float(self._pool[b:].sum())) / (1.0 + n)

    def score_at_p(self, p: float) -> float:
        """The smallest pooled score whose p-value is at most ``p`` (a bin's lower edge)."""
        tail = np.cumsum(self._pool[::-1])[::-1]
        n = int(tail[0])
        ok = np.flatnonzero((1.0 + tail) / (1.0 + n) <= p)
        b = int(ok[0]) if ok.size else N_BINS - 1
        return float(2.0 ** (LOG2_LO + b / BINS_PER_OCTAVE))

    def close(self, watermark: float) -> list[dict[str, Any]]:
        """Decide every slice that ends at or before ``watermark``; the released alerts."""
        due = sorted(s for s in set(self._tests) | set(self._candidates)
                     if (s + 1) * self.slice_s <= watermark)
        out: list[dict[str, Any]] = []
        for s in due:
            out.extend(self._decide(s))
        return out

    def _decide(self, s: int) -> list[dict[str, Any]]:
        m = self._tests.pop(s, 0)
        cands = self._candidates.pop(s, [])
        released: list[dict[str, Any]] = []
        if cands:
            tail = np.cumsum(self._pool[::-1])[::-1]
            n = int(tail[0]) if self._pool.size else 0
            bins = score_bins(np.array([c[0] for c in cands]))
            p = (1.0 + tail[bins]) / (1.0 + n)
            self._refill((s + 1) * self.slice_s)
            passed = bh_passes(p, m, self.level_now())
            for i in np.argsort(p, kind="stable"):
                alert = cands[int(i)][1]
                if passed[i] and self._tokens >= 1.0:
                    self._tokens -= 1.0
                    released.append(alert)
                else:
                    self.held_back += 1
                    self._held.append(alert)
            self.released += len(released)
        return released

    def level_now(self) -> float:
        """The BH level of the next slice: ``q`` scaled by the bucket's fill, from
        0 (empty) to ``2 q`` (full). Unspent budget buys power; a stream whose
        alerts spend the budget gets stricter (alpha-investing's wealth)."""
        return self.q * min(2.0, 2.0 * self._tokens / self.config.bucket_size())

    def _refill(self, t: float) -> None:
        if self._token_time is not None and t > self._token_time:
            gained = (t - self._token_time) * self.config.alerts_per_hour / 3600.0
            self._tokens = min(self.config.bucket_size(), self._tokens + gained)
        self._token_time = t if self._token_time is None else max(self._token_time, t)

    def held(self) -> list[dict[str, Any]]:
        """The most recent held-back alerts (oldest first)."""
        return list(self._held)
