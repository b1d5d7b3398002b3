"""A slow, obvious twin of the ``left_discord`` kernels: every distance from its definition."""

from __future__ import annotations

import math

import numpy as np


def naive_znorm_distance(a: np.ndarray, b: np.ndarray) -> float:
    """z-normalised Euclidean distance; STUMPY's convention for constant windows."""
    const_a, const_b = a.max() == a.min(), b.max() == b.min()
    if const_a and const_b:
        return 0.0
    if const_a or const_b:
        return math.sqrt(a.size)
    za = (a - a.mean()) / a.std()
    zb = (b - b.mean()) / b.std()
    return float(np.sqrt(np.sum((za - zb) ** 2)))


def naive_left_profile(x: np.ndarray, m: int, history: int, excl: int) -> np.ndarray:
    """Distance of the window ending at each point to its nearest earlier window at a lag in
    ``(excl, history]``; 0 where there is none. Windows are z-normalised one by one."""
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float64), m)
    const = windows.max(axis=1) == windows.min(axis=1)
    sd = np.where(const, 1.0, windows.std(axis=1))
    z = (windows - windows.mean(axis=1, keepdims=True)) / sd[:, None]
    out = np.zeros(len(x))
    for i in range(len(windows)):  # window i ends at point i + m - 1
        lo, hi = max(0, i - history), i - excl - 1  # earlier windows i - d, excl < d <= history
        if hi < lo:
            continue
        d = np.sqrt(np.sum((z[lo : hi + 1] - z[i]) ** 2, axis=1))
        d = np.where(const[lo : hi + 1] & const[i], 0.0, d)
        d = np.where(const[lo : hi + 1] ^ const[i], math.sqrt(m), d)
        out[i + m - 1] = d.min()
    return out


def naive_dominant_period(x: np.ndarray, min_lag: int, max_lag: int) -> tuple[int, float]:
    """Highest local maximum of the biased autocorrelation, lag by lag."""
    d = np.asarray(x, dtype=np.float64) - np.mean(x)
    var = float(np.sum(d * d))
    if var <= 0.0:
        return 0, 0.0
    hi = min(max_lag, len(d) - 1)
    acf = [float(np.sum(d[k:] * d[: len(d) - k])) / var for k in range(hi + 1)]
    best, best_acf = 0, 0.0
    for k in range(max(min_lag, 1), hi):
        if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1] and (best == 0 or acf[k] > best_acf):
            best, best_acf = k, acf[k]
    return best, best_acf


def naive_shape_combine(
    s_e: np.ndarray,
    d: np.ndarray,
    warmup: int,
    weight: float,
    z_scale: float,
    alarm_z: float,
    quiet: int,
) -> np.ndarray:
    """``shape_ensemble``'s score: discord z against all earlier non-zero distances, fire once."""
    alarm = 1.0 - math.exp(-alarm_z / z_scale)
    past: list[float] = []
    out = np.empty(len(d))
    quiet_until = -1
    for i, (e, v) in enumerate(zip(s_e, d, strict=True)):
        z = 0.0
        if v > 0.0:
            if len(past) >= warmup and np.std(past) > 0.0:
                z = max((v - np.mean(past)) / np.std(past), 0.0)
            past.append(v)
        u = 1.0 - math.exp(-weight * z / z_scale)
        if i > quiet_until and weight * z >= alarm_z:
            s_d = u
            quiet_until = i + quiet
        else:
            s_d = alarm / 2 * u
        out[i] = max(e, s_d) + 1e-6 * u
    return out
