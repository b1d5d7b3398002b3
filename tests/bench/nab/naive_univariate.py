"""A slow, obvious twin of the ``univariate_ensemble`` kernels (plain Python lists)."""

from __future__ import annotations

import math

import numpy as np


def naive_rarity(past: list[float], x: float, bandwidth: float) -> float:
    c = sum(1 for v in past if abs(v - x) <= bandwidth)
    return -math.log((c + 1.0) / (len(past) + 1.0))


def naive_period(x: list[float], min_lag: int, max_lag: int) -> tuple[int, float]:
    arr = np.asarray(x, dtype=np.float64)
    d = arr - arr.mean()
    var = float(np.sum(d * d))
    if var <= 0.0:
        return 0, 0.0
    best, best_acf = 0, 0.0
    for lag in range(min_lag, min(max_lag, len(arr) // 2)):
        a = float(np.sum(d[lag:] * d[:-lag])) / var
        if a > best_acf:
            best, best_acf = lag, a
    return best, best_acf


class NaiveLikelihood:
    def __init__(self, short_n: int, long_n: int, warmup: int, var_floor: float) -> None:
        self.raws: list[float] = []
        self.means: list[float] = []
        self.short_n, self.long_n, self.warmup, self.var_floor = short_n, long_n, warmup, var_floor

    def z(self, raw: float) -> float:
        self.raws.append(raw)
        m = float(np.mean(self.raws[-self.short_n :]))
        past = self.means[-self.long_n :]
        z = 0.0
        if len(past) >= self.warmup:
            mu = float(np.mean(past))
            var = max(float(np.mean(np.square(past))) - mu * mu, self.var_floor)
            z = (m - mu) / math.sqrt(var)
        self.means.append(m)
        return z


def naive_univariate_ensemble(values, p) -> np.ndarray:
    """Scores of ``values`` (1-D) under params ``p`` (a UnivariateEnsembleParams)."""
    season_n = max(p.season_history, p.season_max_lag + 1)
    lik_v = NaiveLikelihood(p.short_window, p.long_window, p.likelihood_warmup, p.var_floor)
    lik_s = NaiveLikelihood(p.short_window, p.long_window, p.likelihood_warmup, p.var_floor)
    alarm = 1.0 - math.exp(-p.alarm_z / p.z_scale)
    seen: list[float] = []
    resid: list[float] = []
    period, quiet, fired, budget = 0, 0, 0.0, 0.0
    record_quiet, best_z = 0, 0.0
    level2 = alarm / 2
    out = []
    for x in map(float, values):
        n = len(seen)
        span = (max(seen) - min(seen)) if seen else 0.0
        warm = n >= p.warmup and span > 0.0
        raw_v = naive_rarity(seen[-p.history :], x, p.bandwidth * span) if warm else 0.0
        direction = 0.0
        if n >= p.warmup and x > max(seen) + p.spatial_tolerance * span:
            direction = 1.0
        elif n >= p.warmup and x < min(seen) - p.spatial_tolerance * span:
            direction = -1.0
        novel = direction != 0.0
        if p.seasonal and n >= p.season_first and (n - p.season_first) % p.season_every == 0:
            lag, acf = naive_period(seen[-season_n:], p.season_min_lag, p.season_max_lag)
            period = lag if acf >= p.season_min_acf else 0
        raw_s = None
        if period > 0 and n >= period:
            r = x - seen[n - period]
            rspan = (max(resid) - min(resid)) if resid else 0.0
            if len(resid) >= p.warmup and rspan > 0.0:
                raw_s = naive_rarity(resid[-p.history :], r, p.bandwidth * rspan)
            resid.append(r)
        z = lik_v.z(raw_v) if warm else 0.0
        if raw_s is not None:
            z = max(z, lik_s.z(raw_s))
        budget *= 0.5 ** (1.0 / p.budget_half_life)
        z = z / (1.0 + p.budget_weight * budget)
        score = 1.0 if novel else 1.0 - math.exp(-max(z, 0.0) / p.z_scale)
        own = max(raw_v if warm else 0.0, raw_s if raw_s is not None else 0.0)
        below = level2 * (1.0 - math.exp(-(max(z, 0.0) + own) / p.z_scale))
        free = False
        if quiet > 0 and not (p.breakthrough and novel and direction != fired):
            out.append(below)
            quiet -= 1
        else:
            out.append(score if score >= alarm else below)
            fired = direction
            if score >= alarm:
                quiet = p.refractory
                if not novel:
                    budget += 1.0
            else:
                free = True
        if record_quiet > 0:
            record_quiet -= 1
        elif p.record and free and z >= p.record_floor and z >= best_z * (1 + p.record_margin):
            out[-1] = level2 + (alarm - level2) * (1 - math.exp(-(z - p.record_floor) / p.z_scale))
            record_quiet = p.refractory
        best_z = max(best_z, z)
        seen.append(x)
    return np.asarray(out)
