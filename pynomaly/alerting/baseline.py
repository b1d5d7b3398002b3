"""The per-key, per-field baseline behind an alert's ``expected`` and
``bounds``: a local level and trend (Holt's linear method) and a robust
spread, for many keys at once (one slot per key).

For each row (in arrival order, per slot) and field, before learning::

    expected = level + trend
    sigma    = 1.2533 * spread        (E|X - mu| = sigma * sqrt(2/pi) for a normal)

then it learns the row winsorised at ``clip_sigma`` spreads::

    d      = clip(x - expected, -clip_sigma * sigma, clip_sigma * sigma)
    level' = expected + a * d
    trend  = trend + b * (level' - level - trend)
    spread = spread + s * (|d| - spread)

with ``a = max(level_alpha, 1/(n+1))`` (and the same for ``s``) so a new key
starts as a running mean. The trend follows slow cycles (an hourly cycle at
a 10 s cadence) closely enough that the spread stays near the noise, so a
spike stands many sigmas out while the cycle itself does not.

Example
-------
>>> import numpy as np
>>> from pynomaly.alerting.baseline import Baseline
>>> from pynomaly.alerting.config import BaselineSpec
>>> b = Baseline(BaselineSpec(), n_fields=1)
>>> b.ensure(1)
>>> x = 10 + np.random.default_rng(0).normal(0, 1, 300)
>>> x[250] = 30.0
>>> exp, sig = b.observe(np.zeros(300, dtype=np.int64), np.ones(300, bool), x.reshape(-1, 1))
>>> bool(abs(exp[250, 0] - 10) < 1), bool((x[250] - exp[250, 0]) / sig[250, 0] > 10)
(True, True)
>>> bool(abs(b.level[0, 0] - 10) < 1)  # the spike did not move the baseline
True

References
----------
Holt, C. C. (2004). Forecasting seasonals and trends by exponentially
weighted moving averages. International Journal of Forecasting 20(1), 5-10
(reprint of the 1957 ONR memorandum), eq. for level and trend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from pynomaly.alerting.config import BaselineSpec

#: sigma of a normal per unit of mean absolute deviation, sqrt(pi / 2)
SIGMA_PER_MAD = 1.2533141373155003


@njit(cache=True, nogil=True)
def _observe_kernel(slots, keep, X, level, trend, spread, count, a_level, b_trend, a_spread,
                    clip, warmup, expected, sigma, seen):
    n, d = X.shape
    for i in range(n):
        seen[i] = count[slots[i]] if keep[i] else 0
        if not keep[i]:
            for j in range(d):
                expected[i, j] = np.nan
                sigma[i, j] = np.nan
            continue
        s = slots[i]
        c = count[s]
        for j in range(d):
            x = X[i, j]
            if c == 0:
                expected[i, j] = x
                sigma[i, j] = np.nan
                level[s, j] = x
                trend[s, j] = 0.0
                spread[s, j] = 0.0
                continue
            e = level[s, j] + trend[s, j]
            sd = 1.2533141373155003 * spread[s, j]
            expected[i, j] = e
            sigma[i, j] = sd if c >= warmup else np.nan
            dev = x - e
            if c >= warmup:
                lim = clip * sd
                if dev > lim:
                    dev = lim
                elif dev < -lim:
                    dev = -lim
            w = a_level if c * a_level >= 1.0 else 1.0 / (c + 1.0)
            ws = a_spread if c * a_spread >= 1.0 else 1.0 / (c + 1.0)
            new_level = e + w * dev
            if c >= 2:
                trend[s, j] += b_trend * (new_level - level[s, j] - trend[s, j])
            level[s, j] = new_level
            spread[s, j] += ws * (abs(dev) - spread[s, j])
        count[s] = c + 1


class Baseline:
    """Level, trend and spread per slot and field; see the module docstring."""

    def __init__(self, spec: BaselineSpec, n_fields: int) -> None:
        self.spec = spec
        self.n_fields = n_fields
        self.level = np.zeros((0, n_fields))
        self.trend = np.zeros((0, n_fields))
        self.spread = np.zeros((0, n_fields))
        self.count = np.zeros(0, dtype=np.int64)

    def ensure(self, n: int) -> None:
        """Room for slots ``0..n-1`` (new slots start empty)."""
        cap = self.count.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap, 16)
        pad = ((0, new - cap), (0, 0))
        self.level = np.pad(self.level, pad)
        self.trend = np.pad(self.trend, pad)
        self.spread = np.pad(self.spread, pad)
        self.count = np.pad(self.count, (0, new - cap))

    def reset(self, slots: np.ndarray) -> None:
        """Forget the slots (reused for new keys)."""
        self.count[slots] = 0

    def observe(self, slots: np.ndarray, keep: np.ndarray, X: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """``expected`` and ``sigma`` of every row before it is learned (NaN
        where a row is not kept; sigma NaN while a key is warming up), then
        learn the kept rows. ``self.seen`` then holds, per row, how many
        records its key had learned before it."""
        n = X.shape[0]
        expected = np.empty((n, self.n_fields))
        sigma = np.empty((n, self.n_fields))
        self.seen = np.empty(n, dtype=np.int64)
        sp = self.spec
        _observe_kernel(np.ascontiguousarray(slots, dtype=np.int64), keep,
                        np.ascontiguousarray(X, dtype=np.float64), self.level, self.trend,
                        self.spread, self.count, sp.level_alpha, sp.trend_beta, sp.spread_alpha,
                        sp.clip_sigma, sp.warmup, expected, sigma, self.seen)
        return expected, sigma

    def state(self, n: int) -> dict[str, Any]:
        """The first ``n`` slots' arrays (for snapshots)."""
        return {"level": self.level[:n].copy(), "trend": self.trend[:n].copy(),
                "spread": self.spread[:n].copy(), "count": self.count[:n].copy()}

    def load(self, st: dict[str, Any]) -> None:
        for name in ("level", "trend", "spread", "count"):
            setattr(self, name, np.array(st[name]))

    def copy(self) -> Baseline:
        new = Baseline(self.spec, self.n_fields)
        new.load(self.state(self.count.shape[0]))
        return new
