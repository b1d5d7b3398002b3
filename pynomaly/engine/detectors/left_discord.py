"""Left discords: a streaming subsequence detector (the left matrix profile).

Most anomalies of periodic signals (a distorted heartbeat, a missing peak, a
gait cycle out of step) are in the *shape* of a stretch of the series, not in
any single value. This detector scores each new point by how unlike anything
in the recent past the window ending there is:

1. Unless ``window`` is given, the first values are only stored (scoring 0). After ``period_after``
   of them, the window length ``m = window_factor * P`` comes from the
   dominant period ``P`` of the stored values: the highest local maximum of
   their autocorrelation over lags ``[min_period, min(n // 2, max_period))``,
   if it reaches ``min_acf``. Without one, the search is repeated each time
   the stored values double, up to ``period_until`` values (long periods need
   long stretches); then ``fallback_window`` is used (0: the detector stays
   silent, scoring 0).
2. From then on, the window ``S_t`` of the last ``m`` values is compared with
   every earlier window that starts at most ``history`` points before it and
   does not overlap it by more than ``1 - exclusion`` of its length; the score
   is the z-normalised Euclidean distance to the nearest one (its left
   matrix-profile value, Lu et al. 2022), divided by ``2 sqrt(m)`` so it lies
   in [0, 1] (1 only for a perfectly inverted shape). The first windows,
   with nothing yet to compare with, score 0.

The distances are exact (see :mod:`~pynomaly.engine.detectors.left_discord_kernels`):
O(history + m) per point, with no approximation or pruning, so every point
gets a score that keeps ranking (no saturation). Score before learn, past
values only.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> rng = np.random.default_rng(0)
>>> x = np.sin(np.arange(6000) * 2 * np.pi / 80) + rng.normal(0, 0.05, 6000)
>>> x[4000:4040] = np.sin(np.arange(40) * 2 * np.pi / 40)  # one cycle twice as fast
>>> det = create_detector("left_discord")
>>> s = det.score_learn_many(x.reshape(-1, 1))
>>> det.window, 4000 <= int(np.argmax(s)) < 4000 + 40 + det.window
(80, True)

References
----------
Lu, Y., Wu, R., Mueen, A., Zuluaga, M. A., Keogh, E. (2022). Matrix Profile
XXIV: Scaling time series anomaly detection to trillions of datapoints and
ultra-fast arriving data streams. KDD '22, 1173-1182, doi:10.1145/3534678.3539271
(the left matrix profile as the anomaly score, section 3).
Zhu, Y. et al. (2016). Matrix Profile II: Exploiting a novel algorithm and GPUs
to break the one hundred million barrier for time series motifs and joins.
IEEE ICDM, doi:10.1109/ICDM.2016.0085 (the QT update along a diagonal).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.left_discord_kernels import M, new_state, run_kernel
from pynomaly.engine.registry import register

#: Points between exact recomputations of the running dot products.
REFRESH = 1 << 16
_KERNEL_STATE = ("buf", "qt", "mu", "isig", "cbase", "ints")


def dominant_period(x: np.ndarray, min_lag: int, max_lag: int) -> tuple[int, float]:
    """The lag of the highest local maximum of the autocorrelation in ``[min_lag, max_lag)``.

    The autocorrelation is the biased estimate ``sum (x_i - mean)(x_{i+k} - mean) / sum (x_i
    - mean)^2`` (computed by FFT). Returns ``(lag, acf)``; ``(0, 0.0)`` when ``x`` is
    constant or no local maximum lies in the range.
    """
    d = np.asarray(x, dtype=np.float64) - float(np.mean(x))
    var = float(d @ d)
    n = d.size
    hi = min(max_lag, n - 1)
    if var <= 0.0 or hi - 1 <= max(min_lag, 1):
        return 0, 0.0
    f = np.fft.rfft(d, 2 * n)
    acf = np.fft.irfft(f * np.conj(f), 2 * n)[: hi + 1] / var
    k = np.arange(max(min_lag, 1), hi)
    peaks = k[(acf[k] > acf[k - 1]) & (acf[k] >= acf[k + 1])]
    if peaks.size == 0:
        return 0, 0.0
    best = int(peaks[np.argmax(acf[peaks])])
    return best, float(acf[best])


class LeftDiscordParams(DetectorParams):
    window: int = Field(0, ge=0, description="window length (0: from the period, see below)")
    history: int = Field(10000, ge=2, description="past windows each window is compared with")
    period_after: int = Field(1000, ge=16, description="values of the first period search")
    period_until: int = Field(
        16000, ge=16, description="values of the last period search (doubling from period_after)"
    )
    max_period: int = Field(1000, ge=3, description="longest period considered")
    min_period: int = Field(4, ge=2, description="shortest period considered")
    min_acf: float = Field(0.3, gt=0.0, le=1.0, description="autocorrelation a period needs")
    window_factor: float = Field(1.0, gt=0.0, description="window length in periods")
    min_window: int = Field(4, ge=2, description="shortest window")
    fallback_window: int = Field(
        0, ge=0, description="window when no period is found (0: score 0 throughout)"
    )
    exclusion: float = Field(
        0.25, ge=0.0, le=1.0, description="lags up to this share of the window are trivial matches"
    )


@register
class LeftDiscord(Detector):
    """Streaming left matrix profile (DAMP's score), window from the period; see the module."""

    name = "left_discord"
    Params = LeftDiscordParams
    params: LeftDiscordParams
    #: One metric per detector (a subsequence of one series).
    univariate_only: ClassVar[bool] = True
    #: Scores the shape of windows: the contract suite holds it to shape anomalies.
    subsequence_only: ClassVar[bool] = True

    def _reset(self, n_features: int) -> None:
        self.pending = np.zeros(max(self.params.period_after, self.params.period_until))
        self.n_pending = 0
        self.kernel: dict[str, np.ndarray] | None = None
        self.offset = 0.0
        self.window = 0

    def _choose_window(self, x: np.ndarray) -> int:
        p = self.params
        lag, acf = dominant_period(x, p.min_period, min(x.size // 2, p.max_period))
        if lag == 0 or acf < p.min_acf:
            return 0
        return max(p.min_window, round(p.window_factor * lag))

    def _search(self) -> bool:
        """At a search point: pick the window and start the kernel; True once decided."""
        p = self.params
        last = max(p.period_after, p.period_until)
        n = self.n_pending
        doublings, rest = divmod(n, p.period_after)
        if n != last and (rest or doublings & (doublings - 1)):  # not period_after * 2^k
            return False
        stored = self.pending[:n]
        self.window = self._choose_window(stored)
        if self.window == 0 and n < last:
            return False
        self._begin(self.window or p.fallback_window, stored, float(np.mean(stored)))
        return True

    def _begin(self, window: int, stored: np.ndarray, offset: float) -> None:
        """Start the kernel with ``window`` (none below 2) and catch up on the stored values.

        Distances are shift-invariant: values enter the kernel less ``offset`` (a typical
        value), which keeps the running dot products small."""
        self.window = window
        if window >= 2:
            self.offset = offset
            excl = math.ceil(window * self.params.exclusion)
            self.kernel = new_state(window, self.params.history, excl, REFRESH)
            run_kernel(self.kernel, stored - self.offset)  # their scores were given already
        self.pending = np.zeros(0)

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if not learn:  # each row against the current state, which is put back after it
            saved = self._get_state()
            out = np.empty(X.shape[0])
            for i in range(X.shape[0]):
                out[i] = self._score_learn(X[i : i + 1], True)[0]
                self._set_state(saved, self.state_version)
            return out
        x = X[:, 0]
        out = np.zeros(x.size)
        i = 0
        if self.params.window and self.pending.size:  # a given window: nothing stored, no search
            self._begin(self.params.window, np.zeros(0), float(x[0]))
        while self.pending.size and i < x.size:  # storing values until the window is decided
            self.pending[self.n_pending] = x[i]
            self.n_pending += 1
            i += 1
            self._search()
        if i < x.size and self.kernel is not None:
            dist = run_kernel(self.kernel, x[i:] - self.offset)
            out[i:] = dist / (2.0 * math.sqrt(self.kernel["ints"][M]))
        return out

    def _get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "pending": self.pending.copy(),
            "n_pending": self.n_pending,
            "offset": self.offset,
            "window": self.window,
        }
        if self.kernel is not None:
            state.update({k: v.copy() for k, v in self.kernel.items()})
        return state

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self.pending = np.asarray(state["pending"], dtype=np.float64).copy()
        self.n_pending = int(state["n_pending"])
        self.offset = float(state["offset"])
        self.window = int(state["window"])
        self.kernel = None
        if "ints" in state:
            self.kernel = {k: np.asarray(state[k]).copy() for k in _KERNEL_STATE}
