"""Streaming empirical (conformal) calibration over a sliding window of scores.

For a new score ``s`` and the window ``W`` of the last ``n <= window`` learned
scores, the p-value is the (non-randomised) conformal p-value::

    p(s) = (1 + #{w in W : w >= s}) / (1 + n)

Under exchangeability of the scores it is super-uniform, ``P(p <= a) <= a``,
and uniform on ``{1/(n+1), ..., 1}`` for continuous scores (Vovk, Gammerman &
Shafer 2005, ch. 2; Angelopoulos & Bates 2021, eq. 1). It needs no model of
the score distribution, so it fits any detector; its resolution is
``1/(window+1)``, so alerting at ``p <= alpha`` needs ``window >= 1/alpha``.

The window is kept twice: a ring buffer in arrival order (to know which score
leaves) and a sorted copy. A rank query is a binary search, ``O(log n)``; an
update moves the sorted entries between the leaving and the entering score,
``O(n)`` worst case but a ``memmove``-like loop over a few kB.

Examples
--------
>>> import numpy as np
>>> cal = ConformalCalibrator(window=4)
>>> cal.p_values([1.0, 2.0, 3.0, 4.0, 0.5]).round(3).tolist()
[1.0, 0.5, 0.333, 0.25, 1.0]
>>> cal.p_values([10.0, 2.0], learn=False).tolist()  # window holds 2, 3, 4, 0.5
[0.2, 0.8]

References
----------
Vovk, V., Gammerman, A., Shafer, G. (2005). Algorithmic Learning in a Random
World. Springer. doi:10.1007/b106715
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numba import njit
from pydantic import Field

from pynomaly.engine.decision.calibration import Calibrator, ComponentParams, as_scores


@njit(cache=True, nogil=True)
def _lower_bound(sorted_w: np.ndarray, n: int, x: float) -> int:
    """First index i < n with sorted_w[i] >= x (n when none)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_w[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _window_push(ring: np.ndarray, sorted_w: np.ndarray, n: int, head: int,
                 x: float) -> tuple[int, int]:
    """Add x to the window (dropping the oldest when full); returns (n, head)."""
    return _window_push_at(ring, sorted_w, n, head, x, _lower_bound(sorted_w, n, x))


@njit(cache=True, nogil=True)
def _window_push_at(ring: np.ndarray, sorted_w: np.ndarray, n: int, head: int, x: float,
                    k: int) -> tuple[int, int]:
    """``_window_push`` given ``k = _lower_bound(sorted_w, n, x)``."""
    cap = ring.shape[0]
    if n == cap:
        old = ring[head]
        j = _lower_bound(sorted_w, n, old)  # position of one copy of `old`
        if k > j:  # x goes right of the hole: shift (j, k) left by one
            k -= 1
            for i in range(j, k):
                sorted_w[i] = sorted_w[i + 1]
        else:  # shift [k, j) right by one
            for i in range(j, k, -1):
                sorted_w[i] = sorted_w[i - 1]
        sorted_w[k] = x
    else:
        for i in range(n, k, -1):
            sorted_w[i] = sorted_w[i - 1]
        sorted_w[k] = x
        n += 1
    ring[head] = x
    head += 1
    if head == cap:
        head = 0
    return n, head


@njit(cache=True, nogil=True)
def _conformal_kernel(scores: np.ndarray, ring: np.ndarray, sorted_w: np.ndarray, n: int,
                      head: int, learn: bool, out: np.ndarray) -> tuple[int, int]:
    """p-value of each score before learning it; returns (n, head)."""
    for i in range(scores.shape[0]):
        s = scores[i]
        k = _lower_bound(sorted_w, n, s)  # the rank query is also the insert position
        out[i] = (1.0 + (n - k)) / (1.0 + n)
        if learn:
            n, head = _window_push_at(ring, sorted_w, n, head, s, k)
    return n, head


@njit(cache=True, nogil=True)
def _window_push_clipped(values: np.ndarray, ring: np.ndarray, sorted_w: np.ndarray, n: int,
                         head: int) -> tuple[int, int]:
    """Learn values capped at the window's current maximum; returns (n, head)."""
    for i in range(values.shape[0]):
        x = values[i]
        if n > 0 and x > sorted_w[n - 1]:
            x = sorted_w[n - 1]
        n, head = _window_push(ring, sorted_w, n, head, x)
    return n, head


@njit(cache=True, nogil=True)
def _conformal_until_kernel(scores: np.ndarray, ring: np.ndarray, sorted_w: np.ndarray,
                            n: int, head: int, level: float, eligible_from: int,
                            out: np.ndarray) -> tuple[int, int, int]:
    """As _conformal_kernel, but stop at the first row >= eligible_from with 1 - p >= level.

    That row is learned capped at the window maximum (a protected flagged
    event). Returns (n, head, rows done).
    """
    for i in range(scores.shape[0]):
        s = scores[i]
        k = _lower_bound(sorted_w, n, s)
        p = (1.0 + (n - k)) / (1.0 + n)
        out[i] = p
        if i >= eligible_from and 1.0 - p >= level:
            if n > 0 and s > sorted_w[n - 1]:
                s = sorted_w[n - 1]
                k = _lower_bound(sorted_w, n, s)
            n, head = _window_push_at(ring, sorted_w, n, head, s, k)
            return n, head, i + 1
        n, head = _window_push_at(ring, sorted_w, n, head, s, k)
    return n, head, scores.shape[0]


@njit(cache=True, nogil=True)
def window_quantile(sorted_w: np.ndarray, n: int, level: float) -> float:
    """The ``level``-quantile of a window of ``n`` sorted values (inf when empty)."""
    if n == 0:
        return np.inf
    k = int(np.ceil(level * n)) - 1
    if k < 0:
        k = 0
    elif k > n - 1:
        k = n - 1
    return float(sorted_w[k])


@njit(cache=True, nogil=True)
def _window_quantile_kernel(values: np.ndarray, ring: np.ndarray, sorted_w: np.ndarray,
                            n: int, head: int, level: float, learn: bool,
                            out: np.ndarray) -> tuple[int, int]:
    """``level``-quantile of the window before learning each value (inf when empty)."""
    for i in range(values.shape[0]):
        out[i] = window_quantile(sorted_w, n, level)
        if learn:
            n, head = _window_push(ring, sorted_w, n, head, values[i])
    return n, head


class SlidingWindow:
    """The last ``capacity`` values, in arrival order and sorted (plain state)."""

    def __init__(self, capacity: int) -> None:
        self.ring = np.zeros(capacity)
        self.sorted = np.zeros(capacity)
        self.n = 0
        self.head = 0

    def push_clipped(self, values: np.ndarray) -> None:
        """Learn values capped at the current maximum (how flagged events are kept)."""
        self.n, self.head = (int(v) for v in _window_push_clipped(values, self.ring, self.sorted, self.n, self.head))

    def get_state(self) -> dict[str, Any]:
        return {"ring": self.ring.copy(), "sorted": self.sorted.copy(), "n": self.n, "head": self.head}

    def set_state(self, state: dict[str, Any]) -> None:
        ring = np.asarray(state["ring"], dtype=np.float64)
        if ring.shape != self.ring.shape:
            raise ValueError(f"window state has {ring.shape[0]} slots, expected {self.ring.shape[0]}")
        self.ring = ring.copy()
        self.sorted = np.asarray(state["sorted"], dtype=np.float64).copy()
        self.n = int(state["n"])
        self.head = int(state["head"])


class ConformalParams(ComponentParams):
    kind: Literal["conformal"] = "conformal"
    window: int = Field(1000, ge=1, le=10_000_000, description="number of past scores kept")


class ConformalCalibrator(Calibrator):
    """Sliding-window conformal p-values; see the module docstring."""

    kind = "conformal"
    Params = ConformalParams
    params: ConformalParams

    def reset(self) -> None:
        self._window = SlidingWindow(self.params.window)

    @property
    def n_seen(self) -> int:
        return self._window.n

    def _p_values(self, scores: np.ndarray, learn: bool) -> np.ndarray:
        out = np.empty(scores.shape[0])
        w = self._window
        n, head = _conformal_kernel(scores, w.ring, w.sorted, w.n, w.head, learn, out)
        if learn:
            w.n, w.head = int(n), int(head)
        return out

    def _learn_flagged(self, scores: np.ndarray) -> None:
        self._window.push_clipped(scores)

    def p_values_until(self, scores: Any, level: float, eligible_from: int = 0) -> tuple[np.ndarray, int]:
        """Learn scores until the first flag of a probability threshold, protected.

        Processes scores in order as :meth:`p_values` does, but stops after the
        first row ``>= eligible_from`` whose probability ``1 - p >= level``,
        which is learned as :meth:`learn_flagged` would. Returns the p-values
        of the rows done and their count. This is what lets a protected
        pipeline skip re-running the calibrator after a flag.

        >>> cal = ConformalCalibrator(window=10)
        >>> p, done = cal.p_values_until([1.0, 2.0, 3.0, 9.0, 0.0], level=0.7, eligible_from=2)
        >>> p.round(2).tolist(), done, cal.n_seen
        ([1.0, 0.5, 0.33, 0.25], 4, 4)
        """
        arr = as_scores(scores, self.kind)
        out = np.empty(arr.shape[0])
        w = self._window
        n, head, done = _conformal_until_kernel(
            arr, w.ring, w.sorted, w.n, w.head, level, eligible_from, out
        )
        w.n, w.head = int(n), int(head)
        return out[:done], int(done)

    def _get_state(self) -> dict[str, Any]:
        return self._window.get_state()

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._window.set_state(state)
