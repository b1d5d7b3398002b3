"""Numba kernels of the default univariate detector (``univariate_ensemble``).

Each function works on plain arrays and scalars; the detector class in
:mod:`pynomaly.engine.detectors.univariate_ensemble` holds the state and
explains the method. Every kernel has a slow twin in ``tests/bench/nab/naive_univariate.py``.

Example
-------
>>> import numpy as np
>>> ring = np.array([1.0, 2.0, 2.1, 5.0])
>>> float(rarity(ring, 4, 2.05, 0.1))  # 2 of 4 past values lie within 0.1: -log(3/5)
0.5108256237659907
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def rarity(ring: np.ndarray, n: int, x: float, bandwidth: float) -> float:
    """``-log((c + 1) / (n + 1))``: c of the ``n`` values in ``ring[:n]`` lie within ``bandwidth`` of x."""
    c = 0
    for j in range(n):
        if abs(ring[j] - x) <= bandwidth:
            c += 1
    return -math.log((c + 1.0) / (n + 1.0))


@njit(cache=True, nogil=True)
def best_period(x: np.ndarray, min_lag: int, max_lag: int) -> tuple[int, float]:
    """The lag in ``[min_lag, min(max_lag, len(x) // 2))`` of highest autocorrelation.

    Returns ``(lag, acf)``; ``(0, 0.0)`` for a constant or too short ``x``.
    """
    n = x.shape[0]
    mu = 0.0
    for i in range(n):
        mu += x[i]
    mu /= max(n, 1)
    var = 0.0
    for i in range(n):
        var += (x[i] - mu) * (x[i] - mu)
    best, best_acf = 0, 0.0
    if var <= 0.0:
        return best, best_acf
    for lag in range(min_lag, min(max_lag, n // 2)):
        s = 0.0
        for i in range(lag, n):
            s += (x[i] - mu) * (x[i - lag] - mu)
        a = s / var
        if a > best_acf:
            best_acf = a
            best = lag
    return best, best_acf


@njit(cache=True, nogil=True)
def likelihood_z(raw: float, short: np.ndarray, lik: np.ndarray, ints: np.ndarray, k: int, short_n: int,
                 long_n: int, warmup: int, var_floor: float) -> float:
    """HTM-style anomaly likelihood, as a z-score, for component ``k``; then learn.

    ``short[k]`` is a ring of the last ``short_n`` raw scores, ``lik[k]`` a ring
    of the last ``long_n`` short-window means; ``ints[k]`` holds
    (events seen, ring heads) and the running sums sit in ``lik[k, long_n:]``.
    Returns ``(m - mu) / sd``: the short mean ``m`` against the mean and
    standard deviation of the past short means (0 until ``warmup`` of them).
    """
    seen = ints[k, 0]
    short[k, seen % short_n] = raw
    m_count = min(seen + 1, short_n)
    s = 0.0
    for j in range(m_count):
        s += short[k, j]
    m = s / m_count
    hn = min(seen, long_n)
    z = 0.0
    if hn >= warmup:
        mu = lik[k, long_n] / hn
        var = lik[k, long_n + 1] / hn - mu * mu
        if var < var_floor:
            var = var_floor
        z = (m - mu) / math.sqrt(var)
    head = seen % long_n
    if seen >= long_n:
        old = lik[k, head]
        lik[k, long_n] -= old
        lik[k, long_n + 1] -= old * old
    lik[k, head] = m
    lik[k, long_n] += m
    lik[k, long_n + 1] += m * m
    ints[k, 0] = seen + 1
    if (seen + 1) % long_n == 0:  # resum now and then: no drift from running sums
        a = 0.0
        b = 0.0
        for j in range(long_n):
            a += lik[k, j]
            b += lik[k, j] * lik[k, j]
        lik[k, long_n] = a
        lik[k, long_n + 1] = b
    return z


@njit(cache=True, nogil=True)
def ensemble_kernel(
    X: np.ndarray, dens: np.ndarray, season: np.ndarray, resid: np.ndarray, short: np.ndarray, lik: np.ndarray, lik_ints: np.ndarray,
    fl: np.ndarray, it: np.ndarray,
    history: int, bandwidth: float, tolerance: float, warmup: int, short_n: int, long_n: int,
    lik_warmup: int, var_floor: float,
    seasonal: bool, min_lag: int, max_lag: int, min_acf: float, every: int, first: int,
    alarm: float, z_scale: float, refractory: int, breakthrough: bool, budget_weight: float,
    budget_decay: float,
    record: bool, record_floor: float, record_margin: float, out: np.ndarray,
) -> None:  # fmt: skip
    """Score each value of ``X`` before learning it; updates every state array in place.

    ``fl`` = (min, max, residual min, residual max, side of the last emitted
    range novelty: +1 high, -1 low, 0 none; decayed count of likelihood
    alarms; highest likelihood z so far); ``it`` = (events seen, period,
    residuals seen, quiet steps left, record-level quiet steps left).
    Below-alarm scores lie in ``[0, alarm / 2)``; with ``record``, a likelihood
    z of at least ``record_floor`` that beats every earlier z by the share
    ``record_margin`` scores in ``[alarm / 2, alarm)`` (its own quiet period).
    """
    level2 = 0.5 * alarm
    season_n = season.shape[0]
    for i in range(X.shape[0]):
        x = X[i]
        seen = it[0]
        span = fl[1] - fl[0]
        warm = seen >= warmup and span > 0.0
        # 1. value rarity and range novelty
        raw_v = rarity(dens, min(seen, history), x, bandwidth * span) if warm else 0.0
        direction = 0.0  # +1 a new high, -1 a new low (a constant's first change too)
        if seen >= warmup and x > fl[1] + tolerance * span:
            direction = 1.0
        elif seen >= warmup and x < fl[0] - tolerance * span:
            direction = -1.0
        novel = direction != 0.0
        # 2. seasonal residual rarity (period re-estimated from the past only)
        if seasonal and seen >= first and (seen - first) % every == 0:
            m = min(seen, season_n)
            past = np.empty(m)
            for j in range(m):
                past[j] = season[(seen - m + j) % season_n]
            lag, acf = best_period(past, min_lag, max_lag)
            it[1] = lag if acf >= min_acf else 0
        raw_s = -1.0  # -1: the component has no score yet
        period = it[1]
        if period > 0 and seen >= period:
            r = x - season[(seen - period) % season_n]
            n_res = it[2]
            rspan = fl[3] - fl[2]
            if n_res >= warmup and rspan > 0.0:
                raw_s = rarity(resid, min(n_res, history), r, bandwidth * rspan)
            resid[n_res % history] = r
            if n_res == 0 or r < fl[2]:
                fl[2] = r
            if n_res == 0 or r > fl[3]:
                fl[3] = r
            it[2] = n_res + 1
        # 3. anomaly likelihood of each warm component, combined on one scale
        z = 0.0
        if warm:
            z = likelihood_z(raw_v, short, lik, lik_ints, 0, short_n, long_n, lik_warmup, var_floor)
        if raw_s >= 0.0:
            z_s = likelihood_z(
                raw_s, short, lik, lik_ints, 1, short_n, long_n, lik_warmup, var_floor
            )
            z = max(z, z_s)
        # an alarm budget: each recent likelihood alarm raises the bar for the next
        fl[5] *= budget_decay
        z = z / (1.0 + budget_weight * fl[5])
        score = 1.0 if novel else 1.0 - math.exp(-max(z, 0.0) / z_scale)
        # below the alarm level, rank events by the likelihood plus their own rarity
        own = raw_v if warm else 0.0
        if raw_s > own:
            own = raw_s
        below = level2 * (1.0 - math.exp(-(max(z, 0.0) + own) / z_scale))
        # 4. fire once, then stay quiet
        free = False  # neither quiet nor an alarm: the record level may speak
        if it[3] > 0 and not (breakthrough and novel and direction != fl[4]):
            out[i] = below
            it[3] -= 1
        else:
            fl[4] = direction
            out[i] = score if score >= alarm else below
            if score >= alarm:
                it[3] = refractory
                if not novel:
                    fl[5] += 1.0
            else:
                free = True
        # 5. record level: the strongest evidence this metric has shown yet
        if it[4] > 0:
            it[4] -= 1
        elif record and free and z >= record_floor and z >= fl[6] * (1.0 + record_margin):
            out[i] = level2 + (alarm - level2) * (1.0 - math.exp(-(z - record_floor) / z_scale))
            it[4] = refractory
        if z > fl[6]:
            fl[6] = z
        # 6. learn the value
        dens[seen % history] = x
        season[seen % season_n] = x
        if seen == 0 or x < fl[0]:
            fl[0] = x
        if seen == 0 or x > fl[1]:
            fl[1] = x
        it[0] = seen + 1
