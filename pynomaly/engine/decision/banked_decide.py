"""Per-row decisions of the banked path: late events, each slot's stream
position (warm-up), the quantile threshold and the cooldown, for a batch of
mixed keys in arrival order.

These are what :class:`~pynomaly.engine.pipeline.ScoringPipeline` (stream
position, warm-up, threshold) and the per-key detect step (late events,
cooldown) do per key, written as one pass over rows with per-slot counters.

Example
-------
>>> import numpy as np
>>> slots = np.array([0, 0, 0, -1])
>>> last = np.full(1, -np.inf)
>>> keep = admit(slots, np.array([5.0, 3.0, 6.0, 1.0]), last, 1.0)
>>> keep.tolist(), last.tolist()
([True, False, True, False], [6.0])
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pynomaly.engine.decision.calibration_conformal import _window_push, window_quantile


@njit(cache=True, nogil=True)
def _admit_kernel(slots: np.ndarray, times: np.ndarray, last_time: np.ndarray, lateness: float,
                  keep: np.ndarray) -> None:
    for i in range(slots.shape[0]):
        s = slots[i]
        if s < 0:
            keep[i] = False
            continue
        t = times[i]
        if t < last_time[s] - lateness:
            keep[i] = False
            continue
        keep[i] = True
        if t > last_time[s]:
            last_time[s] = t


def admit(slots: np.ndarray, times: np.ndarray, last_time: np.ndarray,
          lateness: float) -> np.ndarray:
    """Which rows are scored: not over the key cap (slot ``< 0``) and not late
    (event time behind the slot's newest event time minus ``lateness``).
    Updates ``last_time`` in place."""
    keep = np.empty(slots.shape[0], dtype=np.bool_)
    _admit_kernel(slots, times, last_time, float(lateness), keep)
    return keep


@njit(cache=True, nogil=True)
def _stream_index_kernel(slots: np.ndarray, keep: np.ndarray, n_seen: np.ndarray,
                         index: np.ndarray) -> None:
    for i in range(slots.shape[0]):
        if keep[i]:
            s = slots[i]
            index[i] = n_seen[s]
            n_seen[s] += 1
        else:
            index[i] = -1


def stream_index(slots: np.ndarray, keep: np.ndarray, n_seen: np.ndarray) -> np.ndarray:
    """Each kept row's position in its slot's stream (what a per-key pipeline
    counts as ``n_seen`` before the row; -1 for the other rows), counting the
    kept rows into ``n_seen``.

    >>> n_seen = np.array([5, 0])
    >>> stream_index(np.array([0, 1, 0, 1]), np.array([True, True, True, False]),
    ...              n_seen).tolist(), n_seen.tolist()
    ([5, 0, 6, -1], [7, 1])
    """
    index = np.empty(slots.shape[0], dtype=np.int64)
    _stream_index_kernel(slots, keep, n_seen, index)
    return index


@njit(cache=True, nogil=True)
def _quantile_bank_kernel(scores: np.ndarray, slots: np.ndarray, keep: np.ndarray,
                          ring: np.ndarray, sorted_w: np.ndarray, n: np.ndarray,
                          head: np.ndarray, count: np.ndarray, level: float, min_count: int,
                          thr: np.ndarray, flags: np.ndarray) -> None:
    for i in range(scores.shape[0]):
        if not keep[i]:
            thr[i] = np.nan
            flags[i] = False
            continue
        s = slots[i]
        t = window_quantile(sorted_w[s], n[s], level)
        if count[s] < min_count:
            t = np.inf
        thr[i] = t
        flags[i] = scores[i] > t
        n[s], head[s] = _window_push(ring[s], sorted_w[s], n[s], head[s], scores[i])
        count[s] += 1


def quantile_thresholds(scores: np.ndarray, slots: np.ndarray, keep: np.ndarray,
                        ring: np.ndarray, sorted_w: np.ndarray, n: np.ndarray,
                        head: np.ndarray, count: np.ndarray, level: float,
                        min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """``(flags, threshold)`` of a ``quantile`` threshold per slot: each kept
    row's score against the ``level``-quantile of its slot's window of past
    scores (``ring``, ``sorted_w``, ``n``, ``head`` per slot; inf until
    ``count`` reaches ``min_count``), then learned into it — the statements
    of :class:`~pynomaly.engine.decision.thresholds.QuantileThreshold` per row. Other
    rows get no flag and a NaN threshold.

    >>> ring, srt = np.zeros((1, 3)), np.zeros((1, 3))
    >>> n, head, count = (np.zeros(1, dtype=np.int64) for _ in range(3))
    >>> flags, thr = quantile_thresholds(np.array([1.0, 2.0, 3.0, 2.5]), np.zeros(4, np.int64),
    ...     np.ones(4, bool), ring, srt, n, head, count, 0.5, 2)
    >>> flags.tolist(), thr.tolist()
    ([False, False, True, True], [inf, inf, 1.0, 2.0])
    """
    flags = np.empty(scores.shape[0], dtype=np.bool_)
    thr = np.empty(scores.shape[0])
    _quantile_bank_kernel(scores, slots, keep, ring, sorted_w, n, head, count, float(level),
                          int(min_count), thr, flags)
    return flags, thr


@njit(cache=True, nogil=True)
def _cooldown_kernel(slots: np.ndarray, flags: np.ndarray, times: np.ndarray,
                     cooldown_until: np.ndarray, cooldown: float, alert: np.ndarray) -> None:
    for i in range(slots.shape[0]):
        alert[i] = False
        if not flags[i]:
            continue
        s = slots[i]
        # no alert within ``cooldown`` of the key's latest alert, on either
        # side (an out-of-order event just before it is the same incident)
        if not abs(times[i] - (cooldown_until[s] - cooldown)) < cooldown:
            alert[i] = True
            if times[i] + cooldown > cooldown_until[s]:
                cooldown_until[s] = times[i] + cooldown


def cooldown(slots: np.ndarray, flags: np.ndarray, times: np.ndarray,
             cooldown_until: np.ndarray, cooldown_s: float) -> np.ndarray:
    """Which flagged rows alert: those outside their slot's cooldown (each
    alert starts one). Updates ``cooldown_until``.

    >>> cool = np.full(1, -np.inf)
    >>> cooldown(np.zeros(4, dtype=np.int64), np.ones(4, dtype=bool), np.arange(4.0),
    ...          cool, 1.5).tolist()
    [True, False, True, False]
    """
    alert = np.empty(slots.shape[0], dtype=np.bool_)
    _cooldown_kernel(slots, np.ascontiguousarray(flags, dtype=np.bool_), times, cooldown_until,
                     float(cooldown_s), alert)
    return alert
