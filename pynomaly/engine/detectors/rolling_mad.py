"""Rolling median and MAD per feature over the last ``window`` events.

For each feature ``j`` the detector keeps the last ``window`` values in
arrival order and, alongside, in sorted order (one O(window) shift per insert
and per eviction). An event is scored before it is learned::

    med_j = median(last window values of feature j)
    MAD_j = median(|v - med_j|)
    score = max_j |x_j - med_j| / (1.4826 * MAD_j + eps)

``1.4826 = 1 / Phi^-1(3/4)`` makes ``1.4826 * MAD`` a consistent estimate of
the standard deviation under normality, so scores read as robust z-scores.
The MAD is found in O(window) by merging the two sorted runs of deviations
on either side of the median. Until ``warmup`` events have been learned the
score is 0. A window of constant values has MAD 0: any different value then
scores ``|x - med| / eps`` (huge but finite); raise ``eps`` for discrete data.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("rolling_mad", window=50, warmup=10)
>>> rng = np.random.default_rng(2)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(200, 2)), [[0.0, 7.0]]])
>>> bool(s[-1] > 5.0), bool(np.all(s[:10] == 0.0))
(True, True)
>>> det.explain_one([0.0, 7.0]).round(0)
array([0., 7.])

References
----------
Rousseeuw, P. J. & Croux, C. (1993). Alternatives to the median absolute
deviation. JASA 88(424), 1273-1283. doi:10.1080/01621459.1993.10476408
(MAD_n = b * med_i |x_i - med_j x_j|, b = 1.4826, eq. 1).
Hampel, F. R. (1974). The influence curve and its role in robust estimation.
JASA 69(346), 383-393.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register

#: 1 / Phi^-1(0.75): scales the MAD to the standard deviation of a normal.
MAD_SCALE = 1.482602218505602


@njit(cache=True, nogil=True)
def _median_sorted(s: np.ndarray, m: int) -> float:
    if m % 2 == 1:
        return float(s[m // 2])
    return float(s[m // 2 - 1] + s[m // 2]) / 2.0


@njit(cache=True, nogil=True)
def _mad_sorted(s: np.ndarray, m: int, med: float) -> float:
    """median(|s[:m] - med|) for sorted ``s`` by merging the two sorted runs."""
    i = (m - 1) // 2  # walks left: med - s[i] grows
    k = i + 1  # walks right: s[k] - med grows
    want_hi = m // 2
    prev = 0.0
    for rank in range(want_hi + 1):
        if i >= 0 and (k >= m or med - s[i] <= s[k] - med):
            cur = med - s[i]
            i -= 1
        else:
            cur = s[k] - med
            k += 1
        if rank == want_hi:
            if m % 2 == 1:
                return float(cur)
            return float(prev + cur) / 2.0
        prev = cur
    return 0.0


@njit(cache=True, nogil=True)
def _replace_sorted(s: np.ndarray, m: int, old: float, new: float, evict: bool) -> None:
    """Insert ``new`` into sorted ``s[:m]`` (removing ``old`` first if ``evict``)."""
    if evict:
        pos = np.searchsorted(s[:m], old)
        for t in range(pos, m - 1):
            s[t] = s[t + 1]
        m -= 1
    pos = np.searchsorted(s[:m], new)
    for t in range(m, pos, -1):
        s[t] = s[t - 1]
    s[pos] = new


@njit(cache=True, nogil=True)
def _robust_z(x: np.ndarray, sorted_vals: np.ndarray, m: int, eps: float,
              out: np.ndarray) -> None:
    """out[j] = |x_j - med_j| / (MAD_SCALE * MAD_j + eps) over the window."""
    for j in range(x.shape[0]):
        s = sorted_vals[j]
        med = _median_sorted(s, m)
        mad = _mad_sorted(s, m, med)
        out[j] = abs(x[j] - med) / (MAD_SCALE * mad + eps)


@njit(cache=True, nogil=True)
def _rolling_mad_kernel(X: np.ndarray, ring: np.ndarray, sorted_vals: np.ndarray, pos: int,
                        count: int, warmup: int, eps: float, learn: bool,
                        out: np.ndarray) -> tuple[int, int]:
    """Score rows of X before learning each; returns (pos, count)."""
    n, d = X.shape
    window = ring.shape[1]
    z = np.empty(d)
    for i in range(n):
        m = min(count, window)
        if count >= warmup and m > 0:
            _robust_z(X[i], sorted_vals, m, eps, z)
            out[i] = z.max()
        else:
            out[i] = 0.0
        if learn:
            full = count >= window
            for j in range(d):
                s = sorted_vals[j]
                _replace_sorted(s, m, ring[j, pos], X[i, j], full)
                ring[j, pos] = X[i, j]
            pos = (pos + 1) % window
            count += 1
    return pos, count


class RollingMadParams(DetectorParams):
    window: int = Field(128, ge=3, le=1_000_000, description="events in the rolling window")
    warmup: int = Field(16, ge=1, description="events learned before scores can be non-zero")
    eps: float = Field(1e-9, gt=0.0, description="added to the scaled MAD (avoids 1/0)")


@register
class RollingMad(Detector):
    """Rolling median/MAD robust z-score; see the module docstring."""

    name = "rolling_mad"
    Params = RollingMadParams
    params: RollingMadParams

    def _reset(self, n_features: int) -> None:
        window = self.params.window
        self._ring = np.zeros((n_features, window))
        self._sorted = np.zeros((n_features, window))
        self._pos = 0
        self._count = 0

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        out = np.empty(X.shape[0])
        p = self.params
        pos, count = _rolling_mad_kernel(
            X, self._ring, self._sorted, self._pos, self._count, p.warmup, p.eps, learn, out
        )
        self._pos, self._count = int(pos), int(count)
        return out

    def _explain(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros(x.size)
        m = min(self._count, self.params.window)
        if m > 0:
            _robust_z(x, self._sorted, m, self.params.eps, out)
        return out

    def _get_state(self) -> dict[str, Any]:
        m = min(self._count, self.params.window)
        # Oldest first, so the state does not depend on the ring's rotation.
        order = (np.arange(m) + (self._pos if self._count >= self.params.window else 0)) % max(m, 1)
        return {"values": self._ring[:, order].copy(), "count": self._count}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        values = np.asarray(state["values"], dtype=np.float64)
        m = values.shape[1]
        self._count = int(state["count"])
        self._ring[:, :m] = values
        self._pos = m % self.params.window
        self._sorted[:, :m] = np.sort(values, axis=1)
