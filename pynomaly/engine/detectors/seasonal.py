"""Seasonal baseline: a robust z-score against the profile of the current phase.

For periodic metrics (hourly traffic with a daily cycle, per-minute load with
an hourly one) the detector splits the season into ``n_bins`` phase bins and
keeps, per bin and feature, an EWMA location ``m`` and an EWMA of the absolute
deviation ``a`` (a robust spread: ``E|X - mu| = sigma * sqrt(2/pi)`` for a
normal, so ``sigma ~ 1.2533 * a``)::

    score = max_j |x_j - m_bj| / (1.2533 * a_bj + eps)        (before learning)
    dev = x - m;  m <- m + w * dev;  a <- a + w * (|dev| - a)
    w = max(alpha, 1 / (n_b + 1))

``n_b`` counts the events a bin has learned, so each bin starts as a plain
running mean (mean absolute deviation) and turns into an EWMA after ``1/alpha``
seasons. Bins that have learned fewer than ``warmup`` events score 0. Learning
is winsorised at ``clip_z`` so a spike does not shift the profile.

The phase. The engine has no clock, so by default the phase is the event
counter: event ``t`` (0-based, counted per detector) lies in bin
``floor((t mod period) * n_bins / period)``; ``period`` is the number of events
per season (24 for hourly data with daily seasonality). ``score_many`` (no learning)
scores every row as a candidate for the next event, in phase ``t``. With
``phase_feature=True`` the *last* feature carries the phase instead (for
example the hour of day with ``period=24``, or seconds of the week with
``period=604800, n_bins=168``); it is used only for binning, never scored,
and its explanation is 0. Use it when events may be missing or irregular.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> t = np.arange(24 * 20)
>>> y = 10 + 5 * np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.3, t.size)
>>> y[24 * 19 + 6] = 10.0  # the daily peak (15) is missing on the last day
>>> det = create_detector("seasonal", period=24)
>>> s = det.score_learn_many(y.reshape(-1, 1))
>>> int(np.argmax(s)) == 24 * 19 + 6
True

References
----------
Hyndman, R. J. & Athanasopoulos, G. (2021). Forecasting: principles and
practice, 3rd ed., §3.4 (classical decomposition: a seasonal component per
phase) and §5.2 (seasonal naive). OTexts.
Hochenbaum, J., Vallis, O. S. & Kejariwal, A. (2017). Automatic anomaly
detection in the cloud via statistical learning. arXiv:1704.07706
(seasonal decomposition with robust, median/MAD-based scoring).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register

#: sqrt(pi / 2): mean absolute deviation -> standard deviation under normality.
MEAN_ABS_DEV_SCALE = 1.2533141373155001
MAX_BINS = 1_000_000


@njit(cache=True, nogil=True)
def _phase_bin(phase: float, period: float, n_bins: int) -> int:
    frac = phase - period * np.floor(phase / period)  # phase mod period, in [0, period]
    b = int(np.floor(min(max(frac, 0.0), period) * n_bins / period))
    return min(max(b, 0), n_bins - 1)


@njit(cache=True, nogil=True)
def _seasonal_kernel(
    X: np.ndarray, loc: np.ndarray, spread: np.ndarray, seen: np.ndarray, t: int, period: float,
    alpha: float, warmup: int, clip_z: float, eps: float, phase_feature: bool, learn: bool,
    out: np.ndarray,
) -> int:
    """Score rows of X before learning each; returns the updated event counter."""
    n_bins, d = loc.shape
    for i in range(X.shape[0]):
        phase = X[i, d] if phase_feature else float(t)
        b = _phase_bin(phase, period, n_bins)
        nb = seen[b]
        best = 0.0
        if nb >= warmup and nb > 0:
            for j in range(d):
                z = abs(X[i, j] - loc[b, j]) / (MEAN_ABS_DEV_SCALE * spread[b, j] + eps)
                if z > best:
                    best = z
        out[i] = best
        if learn:
            w = max(alpha, 1.0 / (nb + 1.0))
            for j in range(d):
                v = X[i, j]
                if nb == 0:
                    loc[b, j] = v
                    spread[b, j] = 0.0
                    continue
                if nb >= warmup and clip_z > 0.0:
                    half = clip_z * (MEAN_ABS_DEV_SCALE * spread[b, j] + eps)
                    v = min(max(v, loc[b, j] - half), loc[b, j] + half)
                dev = v - loc[b, j]
                loc[b, j] += w * dev
                spread[b, j] += w * (abs(dev) - spread[b, j])
            seen[b] = nb + 1
            t += 1
    return t


class SeasonalParams(DetectorParams):
    period: float = Field(24.0, gt=0.0, description="events (or phase units) per season")
    n_bins: int | None = Field(
        None, ge=1, le=MAX_BINS, description="phase bins per season (default: round(period))"
    )
    alpha: float = Field(0.1, gt=0.0, le=1.0, description="per-bin EWMA weight once warm")
    warmup: int = Field(3, ge=1, description="events a bin learns before it scores")
    clip_z: float = Field(6.0, ge=0.0, description="winsorise learning at this z (0 = off)")
    eps: float = Field(1e-9, gt=0.0, description="added to the scaled spread (avoids 1/0)")
    phase_feature: bool = Field(False, description="the last feature is the phase")


@register
class Seasonal(Detector):
    """Per-phase robust baseline; see the module docstring."""

    name = "seasonal"
    Params = SeasonalParams
    params: SeasonalParams

    @property
    def n_bins(self) -> int:
        """Phase bins in use (``n_bins`` or ``round(period)``)."""
        p = self.params
        return p.n_bins if p.n_bins is not None else max(1, min(MAX_BINS, round(p.period)))

    def _reset(self, n_features: int) -> None:
        d = n_features - 1 if self.params.phase_feature else n_features
        if d < 1:
            raise ValueError(f"{self.name}: phase_feature needs at least 2 features (value, phase)")
        self._loc = np.zeros((self.n_bins, d))
        self._spread = np.zeros((self.n_bins, d))
        self._seen = np.zeros(self.n_bins, dtype=np.int64)
        self._t = 0

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        p = self.params
        out = np.empty(X.shape[0])
        self._t = int(
            _seasonal_kernel(
                X,
                self._loc,
                self._spread,
                self._seen,
                self._t,
                float(p.period),
                p.alpha,
                p.warmup,
                p.clip_z,
                p.eps,
                p.phase_feature,
                learn,
                out,
            )
        )
        return out

    def _explain(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        d = self._loc.shape[1]
        phase = x[d] if p.phase_feature else float(self._t)
        b = int(_phase_bin(phase, float(p.period), self.n_bins))
        out = np.zeros(x.size)
        if self._seen[b] >= p.warmup:
            scale = MEAN_ABS_DEV_SCALE * self._spread[b] + p.eps
            out[:d] = np.abs(x[:d] - self._loc[b]) / scale
        return out

    def _get_state(self) -> dict[str, Any]:
        return {
            "loc": self._loc.copy(),
            "spread": self._spread.copy(),
            "seen": self._seen.copy(),
            "t": self._t,
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._loc = np.asarray(state["loc"], dtype=np.float64).copy()
        self._spread = np.asarray(state["spread"], dtype=np.float64).copy()
        self._seen = np.asarray(state["seen"], dtype=np.int64).copy()
        self._t = int(state["t"])
