"""Slow, obvious twin of the metric_deviation kernel: Python lists and sorted()."""

from __future__ import annotations

import math

import numpy as np


def naive_metric_deviation(
    X: np.ndarray,
    top_k: int,
    smoothing: float,
    floor: float,
    relative_floor: float,
    cap: float,
    memory: float,
    learn_clip: float,
) -> np.ndarray:
    """Smoothed mean of the top-k capped per-metric z-scores, each event scored before learned."""
    d = X.shape[1]
    mean = [0.0] * d
    var = [0.0] * d
    lo = [0.0] * d
    hi = [0.0] * d
    smoothed = 0.0
    scores = []

    def scale(j: int) -> float:
        return max(math.sqrt(var[j]), relative_floor * (hi[j] - lo[j]), floor)

    for count, row in enumerate(X.tolist()):
        if count == 0:
            scores.append(0.0)
            mean, var, lo, hi = list(row), [0.0] * d, list(row), list(row)
            continue
        zs = []
        for j, x in enumerate(row):
            s, diff = scale(j), abs(x - mean[j])
            z = diff / s if s > 0 else (cap if diff > 0 else 0.0)
            zs.append(min(z, cap))
        top = sorted(zs, reverse=True)[: min(top_k, d)]
        smoothed = smoothed + smoothing * (sum(top) / len(top) - smoothed)
        scores.append(smoothed)
        w = max(1.0 / (count + 1), 1.0 / memory if memory > 0 else 0.0)
        for j, x in enumerate(row):
            diff = x - mean[j]
            if learn_clip > 0:
                limit = learn_clip * scale(j)
                diff = min(max(diff, -limit), limit)
            mean[j] += w * diff
            var[j] = (1 - w) * (var[j] + w * diff * diff)
            lo[j], hi[j] = min(lo[j], x), max(hi[j], x)
    return np.array(scores)
