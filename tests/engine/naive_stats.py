"""Slow, obvious twins of the robust-statistics kernels (np.median on lists)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

MAD_SCALE = 1.482602218505602


def naive_rolling_mad(X: np.ndarray, window: int, warmup: int, eps: float) -> np.ndarray:
    """max_j |x_j - median| / (1.4826 * MAD + eps) over the last ``window`` events."""
    recent: deque[np.ndarray] = deque(maxlen=window)
    scores = []
    for learned, x in enumerate(X):
        if learned >= warmup and recent:
            W = np.array(recent)
            med = np.median(W, axis=0)
            mad = np.median(np.abs(W - med), axis=0)
            scores.append(float(np.max(np.abs(x - med) / (MAD_SCALE * mad + eps))))
        else:
            scores.append(0.0)
        recent.append(np.array(x, dtype=float))
    return np.array(scores)


def naive_seasonal(
    X: np.ndarray,
    period: float,
    n_bins: int,
    alpha: float,
    warmup: int,
    clip_z: float,
    eps: float,
    phase_feature: bool,
) -> np.ndarray:
    """Per-phase-bin EWMA location and mean absolute deviation, scored as robust z.

    Written as a dictionary of per-bin lists of per-feature values.
    """
    bins: dict[int, dict[str, list[float]]] = {}
    scores = []
    for t, row in enumerate(X):
        phase = row[-1] if phase_feature else float(t)
        values = list(row[:-1]) if phase_feature else list(row)
        b = min(math.floor((phase % period) * n_bins / period), n_bins - 1)
        state = bins.setdefault(
            b, {"n": [0], "loc": [0.0] * len(values), "spr": [0.0] * len(values)}
        )
        n = state["n"][0]
        if n >= warmup and n > 0:
            zs = [
                abs(v - state["loc"][j]) / (1.2533141373155001 * state["spr"][j] + eps)
                for j, v in enumerate(values)
            ]
            scores.append(max(zs))
        else:
            scores.append(0.0)
        for j, v in enumerate(values):
            if n == 0:
                state["loc"][j] = v
                state["spr"][j] = 0.0
                continue
            if n >= warmup and clip_z > 0.0:
                half = clip_z * (1.2533141373155001 * state["spr"][j] + eps)
                v = min(max(v, state["loc"][j] - half), state["loc"][j] + half)
            a = max(alpha, 1.0 / (n + 1))
            dev = v - state["loc"][j]
            state["loc"][j] += a * dev
            state["spr"][j] += a * (abs(dev) - state["spr"][j])
        state["n"][0] = n + 1
    return np.array(scores)
