"""Per-row decisions of the banked path: late events, warm-up, static
threshold and cooldown, for a batch of mixed keys in arrival order.

These are what :class:`~pynomaly.engine.pipeline.ScoringPipeline` (warm-up,
threshold) and the per-key detect step (late events, cooldown) do per key,
written as one pass over rows with per-slot counters.

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

from pynomaly.engine.base import SCORE_LIMIT


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
def _decide_kernel(slots: np.ndarray, keep: np.ndarray, times: np.ndarray, scores: np.ndarray, seen: np.ndarray,
                   cooldown_until: np.ndarray, warmup: int, value: float, cooldown: float,
                   alert: np.ndarray) -> None:
    for i in range(slots.shape[0]):
        alert[i] = False
        if not keep[i]:
            continue
        s = slots[i]
        sc = scores[i]
        if sc != sc:
            sc = 0.0
        elif sc > SCORE_LIMIT:
            sc = SCORE_LIMIT
        elif sc < -SCORE_LIMIT:
            sc = -SCORE_LIMIT
        scores[i] = sc
        warm = seen[s] >= warmup
        seen[s] += 1
        # cooldown: no alert within ``cooldown`` of the key's latest alert,
        # on either side (an out-of-order event just before it is the same incident)
        if warm and sc >= value and not abs(times[i] - (cooldown_until[s] - cooldown)) < cooldown:
            alert[i] = True
            if times[i] + cooldown > cooldown_until[s]:
                cooldown_until[s] = times[i] + cooldown


def decide(slots: np.ndarray, keep: np.ndarray, times: np.ndarray, scores: np.ndarray,
           seen: np.ndarray, cooldown_until: np.ndarray, warmup: int, value: float,
           cooldown: float) -> np.ndarray:
    """Alert flags of kept rows: past the slot's warm-up, score ``>= value``
    and outside the slot's cooldown. Cleans ``scores`` in place as
    ``Detector._finish`` does (NaN → 0, clipped) and updates ``seen`` and
    ``cooldown_until``.

    >>> import numpy as np
    >>> seen, cool = np.zeros(1, dtype=np.int64), np.full(1, -np.inf)
    >>> decide(np.zeros(4, dtype=np.int64), np.ones(4, dtype=bool), np.arange(4.0),
    ...        np.array([9.0, 9.0, 9.0, 9.0]), seen, cool, 1, 5.0, 1.5).tolist()
    [False, True, False, True]
    """
    alert = np.empty(slots.shape[0], dtype=np.bool_)
    _decide_kernel(slots, keep, times, scores, seen, cooldown_until, int(warmup), float(value),
                   float(cooldown), alert)
    return alert
