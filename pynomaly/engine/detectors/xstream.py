"""xStream: density in half-space chains over StreamHash projections (Manzoor et al. 2018).

An event ``x`` is projected to ``K`` dimensions by the sparse StreamHash
matrix (entry ``(k, j)`` from MurmurHash3 of the decimal string of ``j`` with
seed ``k``: ``-c`` below ``density / 2``, ``+c`` below ``density``, else 0;
``c = sqrt(1 / density) / sqrt(K)``). Each of ``n_chains`` chains splits, at
depth ``l = 1..depth``, the projected feature ``f_l`` (drawn with replacement):
the first split of a feature bins ``(z_f + s_f) / delta_f``, every later split
of it doubles the resolution (``u <- 2 u - s_f / delta_f``), and the bin of the
chain at depth ``l`` is the vector of the current integer bins of all features
split so far. Counts of bins are kept for the current window and the previous
(reference) one; windows swap every ``window_size`` learned events. The score
(paper, Algorithm 1; PySAD's form) is::

    score(x) = depth + 1 - 1/C * sum_c min_l (log2(1 + count_cl(x)) + l)

computed before learning — PySAD's score plus ``depth + 1``, so a bin no chain
has seen scores ``depth``. As in the paper, the authors' code and PySAD, the
shifts ``s_f = U(0, 1) * delta_f`` and half-ranges ``delta_f`` are estimated
once, from the first window (``delta = 0.5`` and live first-window counts
until then; a half-range <= 1e-4 becomes 1); the first window is then
recounted with them and becomes the reference.

Counts live in one open-addressing hash table keyed by a 64-bit fingerprint
of (chain, depth, bin vector), updated incrementally along the chain: exact
counts unless two bins share a fingerprint (probability ~2^-64 per pair). The
split features, shifts and projections are those of PySAD's ``xStream`` with
the same seed (``RandomState(seed)``), so both count the same bins.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("xstream", n_chains=30, depth=10, window_size=128, seed=1)
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(600, 3)), [[7.0, -7.0, 7.0]]])
>>> bool(s[-1] > np.quantile(s[128:-1], 0.99))
True

References
----------
Manzoor, E., Lamba, H. & Akoglu, L. (2018). xStream: Outlier detection in
feature-evolving data streams. KDD 2018, 1963-1972. doi:10.1145/3219819.3220107
(§3.1 StreamHash, §3.2 half-space chains, Algorithm 1 scoring).
PySAD ``pysad.models.xStream`` (Yilmaz & Kozat 2020, arXiv:2009.02572).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.xstream_kernels import (
    NEED_ROOM,
    WINDOW_FULL,
    count_projected,
    hash_constants,
    rehash,
    xstream_kernel,
)
from pynomaly.engine.registry import register

#: Most bins one window can add (each event adds n_chains * depth); bounds the
#: count table at about 4 x 16 bytes x this (1 GiB).
MAX_BINS_PER_WINDOW = 2**24


def _murmur3_32(data: bytes, seed: int) -> int:
    """MurmurHash3 x86_32 (unsigned), as ``mmh3.hash(data, seed, signed=False)``."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed & mask
    n_blocks = len(data) // 4
    for b in range(n_blocks):
        k = int.from_bytes(data[4 * b : 4 * b + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    tail = data[4 * n_blocks :]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    return h ^ (h >> 16)


@functools.lru_cache(maxsize=32)
def streamhash_matrix(n_features: int, n_components: int, density: float) -> np.ndarray:
    """The StreamHash projection matrix, shape ``(n_components, n_features)``.

    >>> streamhash_matrix(3, 2, 1 / 3).shape
    (2, 3)
    """
    const = np.sqrt(1.0 / density) / np.sqrt(n_components)
    R = np.zeros((n_components, n_features))
    for j in range(n_features):
        key = str(j).encode()
        for k in range(n_components):
            u = _murmur3_32(key, k) / (2.0**32 - 1)
            R[k, j] = -const if u <= density / 2.0 else (const if u <= density else 0.0)
    R.flags.writeable = False
    return R


def draw_chains(n_components: int, n_chains: int, depth: int, seed: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split features (chains x depth) and uniform shift fractions (chains x K), PySAD's order."""
    rng = np.random.RandomState(seed)
    features = np.empty((n_chains, depth), dtype=np.int64)
    fractions = np.empty((n_chains, n_components))
    for c in range(n_chains):
        features[c] = [rng.randint(0, n_components) for _ in range(depth)]
        fractions[c] = rng.rand(n_components)
    first_slot = np.argmax(features[:, :, None] == features[:, None, :], axis=2).astype(np.int64)
    return features, fractions, first_slot


def half_ranges(window: np.ndarray) -> np.ndarray:
    """(max - min) / 2 per projected feature; 1 where that is <= 1e-4 (PySAD's rule)."""
    half: np.ndarray = (window.max(axis=0) - window.min(axis=0)) / 2.0
    half[np.abs(half) <= 0.0001] = 1.0
    return half


class XStreamParams(DetectorParams):
    n_components: int = Field(100, ge=1, le=4096, description="StreamHash projections K")
    n_chains: int = Field(100, ge=1, le=4096, description="half-space chains")
    depth: int = Field(15, ge=1, le=64, description="splits per chain")
    window_size: int = Field(256, ge=2, le=1_000_000, description="events per count window")
    density: float = Field(1 / 3, gt=0.0, le=1.0, description="non-zero share of StreamHash")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of split features and shifts")

    @model_validator(mode="after")
    def _bounded_table(self) -> XStreamParams:
        if self.window_size * self.n_chains * self.depth > MAX_BINS_PER_WINDOW:
            raise ValueError(f"window_size * n_chains * depth must be <= {MAX_BINS_PER_WINDOW}")
        return self


@register
class XStream(Detector):
    """xStream with PySAD's semantics; see the module docstring."""

    name = "xstream"
    Params = XStreamParams
    params: XStreamParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        self._proj = streamhash_matrix(n_features, p.n_components, p.density)
        self._features, self._fractions, self._slots = draw_chains(
            p.n_components, p.n_chains, p.depth, p.seed
        )
        self._slot_seeds, self._level_ids = hash_constants(p.n_chains, p.depth)
        self._set_half_ranges(np.full(p.n_components, 0.5))
        self._table = np.zeros((1024, 2), dtype=np.int64)
        self._used = 0
        self._step = 0
        self._first = np.zeros((p.window_size, p.n_components))  # projected first window
        self._first_done = False

    def _set_half_ranges(self, half: np.ndarray) -> None:
        self._half = half
        shift = self._fractions * half
        rows = np.arange(self._features.shape[0])[:, None]
        self._shift_d = np.ascontiguousarray(shift[rows, self._features])
        self._half_d = np.ascontiguousarray(half[self._features])
        self._shift_over_d = self._shift_d / self._half_d

    def _chains(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                               np.ndarray, np.ndarray]:
        return (
            self._features, self._slots, self._shift_d, self._half_d, self._shift_over_d,
            self._slot_seeds, self._level_ids,
        )  # fmt: skip

    def _make_room(self, n_events: int) -> None:
        """Grow the table until ``n_events`` more events keep it at most half full."""
        need = 2 * (self._used + n_events * self._features.size)
        capacity = self._table.shape[0]
        while capacity < need:
            capacity *= 2
        if capacity != self._table.shape[0]:
            self._table, self._used = rehash(self._table, capacity, False)

    def _end_window(self) -> None:
        if not self._first_done:  # fix half-ranges from the first window, recount it
            self._set_half_ranges(half_ranges(self._first))
            self._table[:] = 0
            self._used = 0
            for start in range(0, self._first.shape[0], 16):
                self._make_room(16)
                self._used = count_projected(
                    self._first[start : start + 16], *self._chains(), self._table, self._used
                )
            self._first_done = True
            self._first = self._first[:0]
        self._table, self._used = rehash(self._table, self._table.shape[0], True)

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        out = np.empty(X.shape[0])
        start = 0
        while start < X.shape[0]:
            done, used, step, reason = xstream_kernel(
                X[start:], self._proj, *self._chains(), self._table, self._used, self._step,
                self.params.window_size, self._first, self._first_done, learn, out[start:],
            )  # fmt: skip
            start += int(done)
            self._used, self._step = int(used), int(step)
            if reason == NEED_ROOM:
                self._make_room(1)
            elif reason == WINDOW_FULL:
                self._end_window()
        return out

    def _get_state(self) -> dict[str, Any]:
        rows = self._table[self._table[:, 0] != 0]
        return {
            "counts": rows[np.argsort(rows[:, 0])],
            "step": self._step,
            "half": self._half.copy(),
            "first": self._first.copy(),
            "first_done": self._first_done,
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        counts = np.asarray(state["counts"], dtype=np.int64)
        capacity = 1024
        while capacity < 4 * counts.shape[0]:
            capacity *= 2
        padded = np.zeros((capacity, 2), dtype=np.int64)
        padded[: counts.shape[0]] = counts
        self._table, self._used = rehash(padded, capacity, False)
        self._step = int(state["step"])
        self._set_half_ranges(np.asarray(state["half"], dtype=np.float64).copy())
        self._first = np.asarray(state["first"], dtype=np.float64).copy()
        self._first_done = bool(state["first_done"])
