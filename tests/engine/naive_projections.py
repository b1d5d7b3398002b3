"""Slow, obvious twins of the projection/hashing detectors' kernels.

They keep every learned value (or exact cell counts in a dict) and recompute
what the kernels maintain incrementally, in plain Python.
"""

from __future__ import annotations

import math

import numpy as np


def naive_loda(X: np.ndarray, idx: np.ndarray, w: np.ndarray, n_bins: int) -> np.ndarray:
    """LODA scores (score before learn) recounting each histogram from all values.

    Every learned value keeps its bin number on its projection's grid; when the
    grid doubles its width, each number is remapped (right: ``b // 2``; left:
    ``(b + n_bins) // 2``). Counts are recounted from these lists.
    """
    n_proj = idx.shape[0]
    bins: list[list[int]] = [[] for _ in range(n_proj)]
    first = [0.0] * n_proj
    low = [0.0] * n_proj
    width = [0.0] * n_proj
    scores = []
    for x in X:
        z = [sum(x[idx[r, k]] * w[r, k] for k in range(idx.shape[1])) for r in range(n_proj)]
        n = len(bins[0])
        total = 0.0
        for r in range(n_proj):
            if width[r] > 0.0:
                b = math.floor((z[r] - low[r]) / width[r])
                count = bins[r].count(b) if 0 <= b < n_bins else 0
                total += -math.log((count + 1) / ((n + n_bins) * width[r]))
        scores.append(total / n_proj)
        for r in range(n_proj):
            if n == 0:
                first[r] = z[r]
            if width[r] == 0.0 and z[r] != first[r]:
                width[r] = abs(z[r] - first[r]) / (n_bins - 0.5)
                low[r] = min(z[r], first[r])
                b_first = math.floor((first[r] - low[r]) / width[r])
                bins[r] = [b_first] * len(bins[r])
            if width[r] == 0.0:
                bins[r].append(0)
                continue
            while not 0 <= math.floor((z[r] - low[r]) / width[r]) < n_bins:
                if z[r] < low[r]:
                    low[r] -= n_bins * width[r]
                    bins[r] = [(b + n_bins) // 2 for b in bins[r]]
                else:
                    bins[r] = [b // 2 for b in bins[r]]
                width[r] *= 2.0
            bins[r].append(math.floor((z[r] - low[r]) / width[r]))
    return np.array(scores)


def naive_rshash(
    X: np.ndarray,
    mins: np.ndarray,
    maxes: np.ndarray,
    scales: np.ndarray,
    dims: np.ndarray,
    n_dims: np.ndarray,
    shifts: np.ndarray,
    decay: float,
) -> np.ndarray:
    """RS-Stream scores with exact per-cell decayed counts in a dict (no sketch).

    Returns PySAD's sign convention: ``-mean_c log2(1 + count_c)``.
    """
    ranges = np.where(maxes - mins > 0, maxes - mins, 1.0)
    table: dict[tuple[int, ...], tuple[float, int]] = {}
    scores = []
    for index, x in enumerate(X, start=1):
        norm = (x - mins) / ranges
        cells = [
            (
                c,
                *(
                    math.floor((norm[dims[c, t]] + shifts[c, t]) / scales[c])
                    for t in range(n_dims[c])
                ),
            )
            for c in range(len(scales))
        ]

        def decayed(cell: tuple[int, ...], now: int) -> float:
            count, stamp = table.get(cell, (0.0, now))
            return count * 2.0 ** (-decay * (now - stamp))

        scores.append(-sum(math.log2(1.0 + decayed(cell, index)) for cell in cells) / len(cells))
        for cell in cells:
            table[cell] = (decayed(cell, index) + 1.0, index)
    return np.array(scores)


def naive_xstream(
    X: np.ndarray,
    proj: np.ndarray,
    features: np.ndarray,
    fractions: np.ndarray,
    window: int,
) -> np.ndarray:
    """xStream scores (PySAD's sign) with exact bin counts in dicts keyed by tuples.

    Each chain walks its splits, keeping a dict ``feature -> (value, bin)``;
    the bin at depth ``l`` is the tuple of (feature, bin) pairs split so far
    (sorted), and a count is looked up by ``(chain, l, that tuple)``.
    """
    n_chains, depth = features.shape
    half = np.full(proj.shape[0], 0.5)

    def bins_of(z: np.ndarray) -> list[tuple]:
        out = []
        for c in range(n_chains):
            split: dict[int, float] = {}
            for level in range(depth):
                f = int(features[c, level])
                shift = fractions[c, f] * half[f]
                if f not in split:
                    split[f] = (z[f] + shift) / half[f]
                else:
                    split[f] = 2.0 * split[f] - shift / half[f]
                state = tuple(sorted((g, math.floor(u)) for g, u in split.items()))
                out.append((c, level, state))
        return out

    reference: dict[tuple, int] = {}
    current: dict[tuple, int] = {}
    first: list[np.ndarray] = []
    scores = []
    for step, x in enumerate(X, start=1):
        z = proj @ x
        keys = bins_of(z)
        counts = current if len(first) < window else reference
        total = 0.0
        for c in range(n_chains):
            total += min(
                math.log2(1 + counts.get(keys[c * depth + level], 0)) + level + 1
                for level in range(depth)
            )
        scores.append(-total / n_chains)
        for key in keys:
            current[key] = current.get(key, 0) + 1
        if len(first) < window:
            first.append(z)
        if step % window == 0:
            if step == window:
                Z = np.array(first)
                half = (Z.max(axis=0) - Z.min(axis=0)) / 2.0
                half[np.abs(half) <= 0.0001] = 1.0
                current = {}
                for z_old in Z:
                    for key in bins_of(z_old):
                        current[key] = current.get(key, 0) + 1
                first.append(z)  # the first window is over
            reference, current = current, {}
    return np.array(scores)
