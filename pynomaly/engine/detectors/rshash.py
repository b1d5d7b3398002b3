"""RS-Hash: randomized subspace hashing with time-decayed counts (RS-Stream).

Each of ``m`` components (Sathe & Aggarwal 2016, §II) picks a grid scale
``f ~ U(1/sqrt(s), 1 - 1/sqrt(s))``, a random subspace ``V`` of ``r`` features
and shifts ``alpha_k ~ U(0, f)``; an event ``x``, normalised to
``x' = (x - min) / (max - min)`` (eq. 1), falls in the grid cell::

    cell = (component, floor((x'_k + alpha_k) / f) for k in V)

Cell counts live in one count-min sketch (``n_hash_fns`` tables of
``hash_range`` slots) shared by all components, decayed by ``2^(-decay * dt)``
over ``dt`` events (RS-Stream, §III). The score, computed before learning, is
PySAD's ``-1/m * sum_c log2(1 + count_c)`` shifted by the log count of a
saturated cell, ``log2(1 + 1/(1 - 2^-decay))``, so the densest cells score
about 0 and empty cells score the most.

Grid, subspaces and shifts are drawn exactly as PySAD's ``RSHash`` draws them
(``RandomState(seed)``); the hash of a cell (splitmix64 over the component and
its zigzag-coded coordinates) is our own, so collisions — and only they —
differ. ``feature_mins``/``feature_maxes`` give the normalisation; without
them the first ``warmup`` events are buffered (scored 0), their per-feature
min and max fix it, and then they are learned in order.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("rshash", warmup=200, seed=1)
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(1000, 3)), [[6.0, -6.0, 6.0]]])
>>> bool(s[-1] > np.quantile(s[200:-1], 0.99))
True

References
----------
Sathe, S. & Aggarwal, C. C. (2016). Subspace outlier detection in linear time
with randomized hashing. ICDM 2016, 459-468. doi:10.1109/ICDM.2016.0057
(eq. 1 normalisation; §II-A grid and r range; §III streaming variant).
PySAD ``pysad.models.RSHash`` (Yilmaz & Kozat 2020, arXiv:2009.02572).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register

_COORD_LIMIT = 2.0**62
#: Largest sketch accepted (n_hash_fns * hash_range slots, 16 bytes each: 256 MiB).
MAX_SLOTS = 2**24


@njit(cache=True, nogil=True)
def _mix(h: np.uint64) -> np.uint64:
    """splitmix64 finaliser (uint64 -> uint64)."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@njit(cache=True, nogil=True)
def _cell_slots(x: np.ndarray, mins: np.ndarray, ranges: np.ndarray, dims: np.ndarray,
               n_dims: np.ndarray, shifts: np.ndarray, scales: np.ndarray, seeds: np.ndarray,
               hash_range: int, slots: np.ndarray) -> None:
    """slots[c, k]: sketch slot of component c's cell in table k."""
    p = np.uint64(hash_range)
    for c in range(dims.shape[0]):
        h = _mix(np.uint64(c) + np.uint64(0x9E3779B97F4A7C15))
        for t in range(n_dims[c]):
            j = dims[c, t]
            v = np.floor(((x[j] - mins[j]) / ranges[j] + shifts[c, t]) / scales[c])
            v = min(max(v, -_COORD_LIMIT), _COORD_LIMIT)
            q = np.int64(v)
            zig = np.uint64((q << 1) ^ (q >> 63))
            h = _mix(h ^ zig)
        for k in range(seeds.shape[0]):
            slots[c, k] = np.int64(_mix(h ^ seeds[k]) % p)


@njit(cache=True, nogil=True)
def _decay_factor(dt: int, decay: float, table: np.ndarray) -> float:
    """2^(-decay * dt), from ``table`` when dt is small (same pow, precomputed)."""
    if dt < table.shape[0]:
        return float(table[dt])
    return float(2.0 ** (-decay * dt))


@njit(cache=True, nogil=True)
def _decay_table(decay: float, size: int) -> np.ndarray:
    table = np.empty(size)
    for dt in range(size):
        table[dt] = 2.0 ** (-decay * dt)
    return table


@njit(cache=True, nogil=True)
def _rshash_kernel(
    X: np.ndarray, mins: np.ndarray, ranges: np.ndarray, dims: np.ndarray, n_dims: np.ndarray,
    shifts: np.ndarray, scales: np.ndarray, seeds: np.ndarray, stamps: np.ndarray,
    counts: np.ndarray, index: int, decay: float, table: np.ndarray, offset: float,
    learn: bool, out: np.ndarray,
) -> int:  # fmt: skip
    """Score rows of X before learning each; returns the updated event index.

    The sum of log2(1 + count) is taken as the log of chunked products (one
    log per ~20 components); a product stays below 1e280 * (1 + max count).
    """
    m = dims.shape[0]
    w = seeds.shape[0]
    slots = np.empty((m, w), dtype=np.int64)
    for i in range(X.shape[0]):
        _cell_slots(X[i], mins, ranges, dims, n_dims, shifts, scales, seeds, counts.shape[1], slots)
        total = 0.0
        prod = 1.0
        for c in range(m):
            best = np.inf
            for k in range(w):
                s = slots[c, k]
                val = counts[k, s] * _decay_factor(index - stamps[k, s], decay, table)
                best = min(best, val)
            prod *= 1.0 + best
            if prod > 1e280:
                total += np.log2(prod)
                prod = 1.0
        total += np.log2(prod)
        out[i] = offset - total / m
        if learn:
            for c in range(m):
                for k in range(w):
                    s = slots[c, k]
                    factor = _decay_factor(index - stamps[k, s], decay, table)
                    counts[k, s] = counts[k, s] * factor + 1.0
                    stamps[k, s] = index
            index += 1
    return index


@functools.lru_cache(maxsize=16)
def decay_table(decay: float, size: int = 4096) -> np.ndarray:
    """Read-only ``2^(-decay * dt)`` for ``dt < size`` (shared by detectors)."""
    table = _decay_table(decay, size)
    table.flags.writeable = False
    return table


def draw_components(
    mins: np.ndarray, maxes: np.ndarray, n_components: int, decay: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.random.RandomState]:
    """Scales f, subspaces (padded dims, their counts) and shifts, in PySAD's order.

    Returns ``(scales, dims, n_dims, shifts, rng)``; ``rng`` continues the stream.

    >>> f, dims, n, shifts, _ = draw_components(np.zeros(3), np.ones(3), 4, 0.015, 0)
    >>> f.shape, dims.shape[0], bool((n >= 1).all() and (n <= 3).all())
    ((4,), 4, True)
    """
    eff_s = max(1000.0, 1.0 / (1.0 - 2.0**-decay))
    rng = np.random.RandomState(seed)
    scales = rng.uniform(low=1.0 / np.sqrt(eff_s), high=1 - 1.0 / np.sqrt(eff_s), size=n_components)
    all_feats = np.arange(mins.size)
    choice = all_feats[mins != maxes]
    if choice.size == 0:
        choice = all_feats
    common = np.log(eff_s) / np.log(np.maximum(2.0, 1.0 / scales))
    high = np.floor(common).astype(int)
    low = np.minimum(np.ceil(1 + 0.5 * common).astype(int), high)
    n_dims = np.empty(n_components, dtype=np.int64)
    subspaces = []
    for c in range(n_components):
        n_dims[c] = min(rng.randint(low=low[c], high=high[c] + 1), choice.size)
        subspaces.append(rng.choice(choice, size=n_dims[c], replace=False))
    dims = np.zeros((n_components, int(n_dims.max())), dtype=np.int64)
    shifts = np.zeros((n_components, int(n_dims.max())))
    for c in range(n_components):
        dims[c, : n_dims[c]] = subspaces[c]
        shifts[c, : n_dims[c]] = rng.uniform(low=0, high=scales[c], size=n_dims[c])
    return scales, dims, n_dims, shifts, rng


class RSHashParams(DetectorParams):
    n_components: int = Field(100, ge=1, le=10_000, description="ensemble components m")
    decay: float = Field(0.015, gt=0.0, le=10.0, description="counts decay by 2^-decay per event")
    n_hash_fns: int = Field(1, ge=1, le=16, description="count-min tables w (paper: 4)")
    hash_range: int = Field(10_000, ge=16, le=2**26, description="slots per table p")
    feature_mins: list[float] | None = Field(None, description="normalisation minimum per feature")
    feature_maxes: list[float] | None = Field(None, description="normalisation maximum per feature")
    warmup: int = Field(256, ge=2, description="events buffered to find min/max when not given")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of grids, subspaces, shifts, hashes")

    @model_validator(mode="after")
    def _bounds_together(self) -> RSHashParams:
        if self.n_hash_fns * self.hash_range > MAX_SLOTS:
            raise ValueError(f"n_hash_fns * hash_range must be <= {MAX_SLOTS}")
        if (self.feature_mins is None) != (self.feature_maxes is None):
            raise ValueError("give both feature_mins and feature_maxes, or neither")
        if self.feature_mins is not None and self.feature_maxes is not None:
            lo, hi = np.asarray(self.feature_mins), np.asarray(self.feature_maxes)
            if lo.shape != hi.shape or not np.isfinite(lo).all() or not np.isfinite(hi).all():
                raise ValueError("feature_mins and feature_maxes must be finite, of equal length")
            if (lo > hi).any():
                raise ValueError("each feature_mins value must be <= its feature_maxes value")
        return self


@register
class RSHash(Detector):
    """RS-Hash with a decayed count-min sketch; see the module docstring."""

    name = "rshash"
    Params = RSHashParams
    params: RSHashParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        if p.feature_mins is not None and len(p.feature_mins) != n_features:
            raise ValueError(
                f"{self.name}: feature_mins has {len(p.feature_mins)} values, events have "
                f"{n_features} features"
            )
        self._stamps = np.zeros((p.n_hash_fns, p.hash_range), dtype=np.int64)
        self._counts = np.zeros((p.n_hash_fns, p.hash_range))
        self._index = 1
        self._buffer = np.empty((0, n_features))
        self._mins: np.ndarray | None = None
        self._offset = float(np.log2(1.0 + 1.0 / (1.0 - 2.0**-p.decay)))
        if p.feature_mins is not None and p.feature_maxes is not None:
            self._fix_bounds(np.asarray(p.feature_mins, float), np.asarray(p.feature_maxes, float))

    def _fix_bounds(self, mins: np.ndarray, maxes: np.ndarray) -> None:
        p = self.params
        self._mins, self._maxes = mins, maxes
        self._ranges = np.where(maxes - mins > 0.0, maxes - mins, 1.0)
        self._scales, self._dims, self._n_dims, self._shifts, rng = draw_components(
            mins, maxes, p.n_components, p.decay, p.seed
        )
        self._seeds = rng.randint(1, 2**62, size=p.n_hash_fns, dtype=np.int64).astype(np.uint64)

    def _kernel(self, X: np.ndarray, learn: bool) -> np.ndarray:
        assert self._mins is not None, "bounds are fixed before the first batch is scored"
        out = np.empty(X.shape[0])
        self._index = int(
            _rshash_kernel(
                X,
                self._mins,
                self._ranges,
                self._dims,
                self._n_dims,
                self._shifts,
                self._scales,
                self._seeds,
                self._stamps,
                self._counts,
                self._index,
                self.params.decay,
                decay_table(self.params.decay),
                self._offset,
                learn,
                out,
            )
        )
        return out

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if self._mins is not None:
            return self._kernel(X, learn)
        if not learn:
            return np.zeros(X.shape[0])
        need = self.params.warmup - self._buffer.shape[0]
        self._buffer = np.concatenate([self._buffer, X[:need]])
        out = np.zeros(X.shape[0])
        if self._buffer.shape[0] == self.params.warmup:
            self._fix_bounds(self._buffer.min(axis=0), self._buffer.max(axis=0))
            self._kernel(self._buffer, True)
            self._buffer = self._buffer[:0]
            out[need:] = self._kernel(X[need:], True)
        return out

    def _get_state(self) -> dict[str, Any]:
        used = np.flatnonzero(self._stamps.ravel())
        return {
            "buffer": self._buffer.copy(),
            "bounds": None if self._mins is None else (self._mins.copy(), self._maxes.copy()),
            "used": used,
            "stamps": self._stamps.ravel()[used],
            "counts": self._counts.ravel()[used],
            "index": self._index,
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._buffer = np.asarray(state["buffer"], dtype=np.float64).copy()
        if state["bounds"] is not None and self._mins is None:
            self._fix_bounds(*(np.asarray(b, dtype=np.float64) for b in state["bounds"]))
        used = np.asarray(state["used"], dtype=np.int64)
        self._stamps.ravel()[used] = state["stamps"]
        self._counts.ravel()[used] = state["counts"]
        self._index = int(state["index"])
