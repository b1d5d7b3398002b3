"""Numba kernel of the streaming left matrix profile over a bounded history.

For each new point ``t`` the subsequence ``S_t = x[t-m+1 .. t]`` is compared
with every earlier subsequence ``S_{t-d}``, ``excl < d <= history``, by the
z-normalised Euclidean distance; the smallest is the left matrix-profile value
of ``S_t`` (its distance to its nearest neighbour in the past).

The dot products ``QT[d] = <S_t, S_{t-d}>`` are kept per lag ``d`` and moved
forward in O(1) each (Zhu et al. 2016, STOMP, the QT update of eq. 5 read
along a diagonal)::

    QT[d] += x[t] * x[t-d] - x[t-m] * x[t-m-d]

so a point costs O(history + m). Distances follow from
``d^2 = 2m (1 - (QT/m - mu_t mu_j) / (sigma_t sigma_j))`` (Mueen's MASS
identity). Constant subsequences follow STUMPY: two constant subsequences are
at distance 0, a constant and a varying one at ``sqrt(m)``. Every ``refresh``
points the running dot products are recomputed from the values, so rounding
cannot accumulate over long streams.

Values and window statistics live in rings written twice (at ``i`` and
``i + size``) so each pass reads one contiguous slice.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: ints state: [points seen, window m, exclusion zone, history, refresh interval]
T, M, EXCL, HISTORY, REFRESH = range(5)


def ring_sizes(history: int, m: int) -> tuple[int, int]:
    """Lengths of the value ring and of the window-statistics ring (each stored twice)."""
    return history + m + 1, history + 1


@njit(cache=True, nogil=True)
def _window_stats(buf: np.ndarray, p: int, m: int) -> tuple[float, float, bool]:
    """Mean, population std and constancy of the window ``buf[p .. p+m-1]`` (newest first)."""
    s = 0.0
    lo = buf[p]
    hi = buf[p]
    for k in range(p, p + m):
        v = buf[k]
        s += v
        lo = min(lo, v)
        hi = max(hi, v)
    mu = s / m
    ss = 0.0
    for k in range(p, p + m):
        ss += (buf[k] - mu) * (buf[k] - mu)
    return mu, math.sqrt(ss / m), lo == hi


@njit(cache=True, nogil=True)
def _refresh_qt(buf: np.ndarray, p: int, t: int, qt: np.ndarray, m: int, history: int) -> None:
    """Recompute every dot product from the values (indices before the stream start are 0)."""
    for d in range(min(t, history) + 1):
        s = 0.0
        for k in range(min(m, t - d + 1)):
            s += buf[p + k] * buf[p + d + k]
        qt[d] = s


@njit(cache=True, nogil=True, fastmath=True)
def _best_correlation(qt: np.ndarray, mu: np.ndarray, isig: np.ndarray, cbase: np.ndarray,
                      sp: int, lo: int, hi: int, inv_m: float, mu_t: float,
                      inv_t: float) -> float:
    """Highest z-normalised correlation of the current window with those at lags ``lo..hi``."""
    best = -2.0
    for d in range(lo, hi + 1):
        j = sp + d
        c = (qt[d] * inv_m - mu_t * mu[j]) * inv_t * isig[j] + cbase[j]
        best = max(best, c)
    return best


@njit(cache=True, nogil=True)
def left_profile_kernel(x: np.ndarray, buf: np.ndarray, qt: np.ndarray, mu: np.ndarray,
                        isig: np.ndarray, cbase: np.ndarray, ints: np.ndarray,
                        out: np.ndarray) -> None:
    """Left matrix-profile distance of the subsequence ending at each value of ``x``.

    ``out[i]`` is the distance (not normalised) of the window ending at
    ``x[i]`` to its nearest earlier window; 0 while no earlier window lies
    beyond the exclusion zone. State arrays are updated in place. The rings
    run backwards in time, so lag ``d`` sits at ``position + d``.
    """
    m = ints[M]
    excl = ints[EXCL]
    history = ints[HISTORY]
    refresh = ints[REFRESH]
    nb = buf.shape[0] // 2
    ns = mu.shape[0] // 2
    inv_m = 1.0 / m
    for i in range(x.shape[0]):
        t = ints[T]
        v = x[i]
        p = nb - 1 - t % nb  # x[t - d] is buf[p + d]
        buf[p] = v
        buf[p + nb] = v
        top = min(t, history)
        old_top = min(t - m, history)  # lags whose outgoing product x[t-m]*x[t-m-d] exists
        if old_top >= 0:
            xo = buf[p + m]
            for d in range(old_top + 1):
                qt[d] += v * buf[p + d] - xo * buf[p + m + d]
        for d in range(max(old_top + 1, 0), top + 1):
            qt[d] += v * buf[p + d]
        if refresh > 0 and t % refresh == refresh - 1:
            _refresh_qt(buf, p, t, qt, m, history)
        out[i] = 0.0
        if t >= m - 1:
            mu_t, sig_t, const_t = _window_stats(buf, p, m)
            sp = ns - 1 - t % ns  # statistics of the window ending at t - d: index sp + d
            inv = 0.0 if const_t else 1.0 / sig_t
            cb = 0.5 if const_t else 0.0
            mu[sp] = mu_t
            mu[sp + ns] = mu_t
            isig[sp] = inv
            isig[sp + ns] = inv
            cbase[sp] = cb
            cbase[sp + ns] = cb
            last = min(history, t - (m - 1))  # the earliest window must be complete
            if last > excl:
                if const_t:  # constant: 0 to a constant window, sqrt(m) to any other
                    best = 0.5
                    for d in range(excl + 1, last + 1):
                        if cbase[sp + d] > 0.0:
                            best = 1.0
                            break
                else:
                    best = _best_correlation(
                        qt, mu, isig, cbase, sp, excl + 1, last, inv_m, mu_t, inv
                    )
                out[i] = math.sqrt(max(0.0, 2.0 * m * (1.0 - min(best, 1.0))))
        ints[T] = t + 1


def new_state(m: int, history: int, exclusion: int, refresh: int) -> dict[str, np.ndarray]:
    """Fresh kernel state for window ``m``."""
    nb, ns = ring_sizes(history, m)
    return {
        "buf": np.zeros(2 * nb),
        "qt": np.zeros(history + 1),
        "mu": np.zeros(2 * ns),
        "isig": np.zeros(2 * ns),
        "cbase": np.zeros(2 * ns),
        "ints": np.array([0, m, exclusion, history, refresh], dtype=np.int64),
    }


def run_kernel(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Left matrix-profile distances of ``x`` (float64, 1-D) continuing ``state``."""
    out = np.empty(x.shape[0])
    left_profile_kernel(
        np.ascontiguousarray(x, dtype=np.float64), state["buf"], state["qt"], state["mu"],
        state["isig"], state["cbase"], state["ints"], out,
    )  # fmt: skip
    return out
