"""EWMA mean/variance z-score: the cheapest robust-statistics detector.

For each feature ``j`` it keeps an exponentially weighted mean ``m`` and
variance ``v`` (West 1979, incremental form)::

    d = x - m
    m <- m + alpha * d
    v <- (1 - alpha) * (v + alpha * d * d)

and scores an event by ``max_j |x_j - m_j| / sqrt(v_j + eps)`` computed before
the update. During the first ``warmup`` events the score is 0. Inputs whose
z-score exceeds ``clip_z`` are learned as if they sat at ``clip_z`` (winsorised
learning), which keeps a single spike from inflating the variance.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("robust_zscore", alpha=0.05, warmup=10)
>>> rng = np.random.default_rng(1)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(200, 2)), [[9.0, 0.0]]])
>>> bool(s[-1] > 6.0), bool(np.all(s[:10] == 0.0))
(True, True)

References
----------
Finch, T. (2009). Incremental calculation of weighted mean and variance.
University of Cambridge Computing Service, eq. 143-144.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register

EPS = 1e-12


@njit(cache=True, nogil=True)
def _ewma_zscore_kernel(X: np.ndarray, mean: np.ndarray, var: np.ndarray, count: int, alpha: float, warmup: int,
                        clip_z: float, learn: bool, out: np.ndarray) -> int:
    """Score rows of X before learning each; returns the updated count."""
    n, d = X.shape
    for i in range(n):
        best = 0.0
        for j in range(d):
            z = abs(X[i, j] - mean[j]) / np.sqrt(var[j] + EPS)
            if z > best:
                best = z
        out[i] = best if count >= warmup else 0.0
        if learn:
            for j in range(d):
                x = X[i, j]
                if count >= warmup and clip_z > 0.0:
                    sd = np.sqrt(var[j] + EPS)
                    hi = mean[j] + clip_z * sd
                    lo = mean[j] - clip_z * sd
                    if x > hi:
                        x = hi
                    elif x < lo:
                        x = lo
                if count == 0:
                    mean[j] = x
                    var[j] = 0.0
                else:
                    a = alpha if count >= 1.0 / alpha else 1.0 / (count + 1.0)
                    diff = x - mean[j]
                    mean[j] += a * diff
                    var[j] = (1.0 - a) * (var[j] + a * diff * diff)
            count += 1
    return count


class RobustZScoreParams(DetectorParams):
    alpha: float = Field(0.02, gt=0.0, le=1.0, description="EWMA smoothing factor")
    warmup: int = Field(30, ge=0, description="events scored 0 before alerts can happen")
    clip_z: float = Field(6.0, ge=0.0, description="winsorise learning at this z (0 = off)")


@register
class RobustZScore(Detector):
    """EWMA z-score per feature; see the module docstring."""

    name = "robust_zscore"
    Params = RobustZScoreParams
    params: RobustZScoreParams

    def _reset(self, n_features: int) -> None:
        self._mean = np.zeros(n_features)
        self._var = np.zeros(n_features)
        self._count = 0

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        out = np.empty(X.shape[0])
        p = self.params
        mean, var = (self._mean, self._var) if learn else (self._mean.copy(), self._var.copy())
        count = _ewma_zscore_kernel(
            X, mean, var, self._count, p.alpha, p.warmup, p.clip_z, learn, out
        )
        if learn:
            self._count = int(count)
        return out

    def _explain(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x - self._mean) / np.sqrt(self._var + EPS)

    def _get_state(self) -> dict[str, Any]:
        return {"mean": self._mean.copy(), "var": self._var.copy(), "count": self._count}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._mean = np.asarray(state["mean"], dtype=np.float64).copy()
        self._var = np.asarray(state["var"], dtype=np.float64).copy()
        self._count = int(state["count"])
