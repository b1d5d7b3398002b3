"""Numba kernels of :mod:`pynomaly.engine.detectors.xstream`.

Bin counts live in one open-addressing table (linear probing) of shape
``(capacity, 2)``: a row holds a 63-bit fingerprint (0 = empty) and both
counts packed in one int64 (reference window in the high 32 bits, current
window in the low 32; a count never exceeds the window size), so a row is 16
bytes and a probe touches one cache line. The fingerprint of a chain's bin
at depth ``l`` is built incrementally: ``h = sum_s v(s, bin_s)`` (mod 2^64)
over the chain's split slots, with ``v`` a splitmix64 mix of a per-slot seed
and the bin, updated by one term when a slot's bin changes, then xor-ed with
the mixed chain/depth id (seeds and ids are mixed once, when the detector is built).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Kernel exit reasons.
DONE, WINDOW_FULL, NEED_ROOM = 0, 1, 2
_COORD_LIMIT = 2.0**62
_KEY_MASK = np.uint64(0x7FFFFFFFFFFFFFFF)
_LOW = 0xFFFFFFFF


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
def hash_constants(n_chains: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-slot seeds and per-(chain, depth) ids for the fingerprints (mixed once)."""
    slot_seeds = np.empty(depth, dtype=np.uint64)
    for s in range(depth):
        slot_seeds[s] = _mix(np.uint64(s) + np.uint64(0x9E3779B97F4A7C15))
    level_ids = np.empty((n_chains, depth), dtype=np.uint64)
    for c in range(n_chains):
        for level in range(depth):
            level_ids[c, level] = _mix(np.uint64(c * depth + level) + np.uint64(0xD1B54A32D192ED03))
    return slot_seeds, level_ids


@njit(cache=True, nogil=True)
def _slot_term(seed: np.uint64, b: float) -> np.uint64:
    """Hash term of one slot holding integer bin ``b`` (a float holding an integer)."""
    q = np.int64(b)
    return _mix(seed ^ np.uint64((q << 1) ^ (q >> 63)))


@njit(cache=True, nogil=True)
def chain_keys(z: np.ndarray, features: np.ndarray, slots: np.ndarray, shift_d: np.ndarray, half_d: np.ndarray,
               shift_over_d: np.ndarray, slot_seeds: np.ndarray, level_ids: np.ndarray, keys: np.ndarray) -> None:
    """keys[c, l]: fingerprint of chain c's bin at depth l for projected event z."""
    n_chains, depth = features.shape
    prebin = np.zeros(depth)
    terms = np.empty(depth, dtype=np.uint64)
    zero_terms = np.empty(depth, dtype=np.uint64)
    base = np.uint64(0)
    for s in range(depth):
        zero_terms[s] = _slot_term(slot_seeds[s], 0.0)
        base += zero_terms[s]
    for c in range(n_chains):
        h = base
        for s in range(depth):
            prebin[s] = 0.0
            terms[s] = zero_terms[s]
        for level in range(depth):
            s = slots[c, level]
            if s == level:  # first split on this feature
                u = (z[features[c, level]] + shift_d[c, level]) / half_d[c, level]
            else:
                u = 2.0 * prebin[s] - shift_over_d[c, level]
            prebin[s] = u
            b = min(max(np.floor(u), -_COORD_LIMIT), _COORD_LIMIT)
            term = _slot_term(slot_seeds[s], b)
            h = h - terms[s] + term
            terms[s] = term
            keys[c, level] = np.int64(((h ^ level_ids[c, level]) & _KEY_MASK) | np.uint64(1))


@njit(cache=True, nogil=True)
def _find(table: np.ndarray, key: int) -> int:
    """Row of ``key`` in ``table``, or the empty row where it would go."""
    mask = table.shape[0] - 1
    i = key & mask
    while table[i, 0] != 0 and table[i, 0] != key:
        i = (i + 1) & mask
    return int(i)


@njit(cache=True, nogil=True)
def xstream_kernel(
    X: np.ndarray, proj: np.ndarray, features: np.ndarray, slots: np.ndarray, shift_d: np.ndarray, half_d: np.ndarray,
    shift_over_d: np.ndarray, slot_seeds: np.ndarray, level_ids: np.ndarray, table: np.ndarray,
    used: int, step: int, window: int, first: np.ndarray, first_done: bool, learn: bool, out: np.ndarray,
) -> tuple[int, int, int, int]:  # fmt: skip
    """Score rows of X before learning each.

    Stops after learning the row that completes a window (WINDOW_FULL) or
    before a row when the table could pass half full (NEED_ROOM). Returns
    ``(rows_done, used, step, reason)``.
    """
    n_chains, depth = features.shape
    per_event = n_chains * depth
    z = np.empty(proj.shape[0])
    keys = np.empty((n_chains, depth), dtype=np.int64)
    shift = 32 if first_done else 0  # first window: scored on its live counts
    for i in range(X.shape[0]):
        if learn and 2 * (used + per_event) > table.shape[0]:
            return i, used, step, NEED_ROOM
        for k in range(proj.shape[0]):
            acc = 0.0
            for j in range(proj.shape[1]):
                acc += proj[k, j] * X[i, j]
            z[k] = acc
        chain_keys(z, features, slots, shift_d, half_d, shift_over_d, slot_seeds, level_ids, keys)
        # min_l log2(1 + count) + l + 1 == log2(min_l (1 + count) * 2^(l + 1)); the
        # logs of the chains' minima are summed as the log of chunked products.
        total = 0.0
        prod = 1.0
        for c in range(n_chains):
            best = np.inf
            scale = 1.0
            for level in range(depth):
                scale *= 2.0
                row = _find(table, keys[c, level])
                count = (table[row, 1] >> shift) & _LOW
                best = min(best, (1.0 + count) * scale)
                if learn:
                    if table[row, 0] == 0:
                        table[row, 0] = keys[c, level]
                        used += 1
                    table[row, 1] += 1
            prod *= best
            if prod > 1e200:
                total += np.log2(prod)
                prod = 1.0
        total += np.log2(prod)
        out[i] = depth + 1.0 - total / n_chains
        if learn:
            if not first_done:
                first[step] = z
            step += 1
            if step % window == 0:
                return i + 1, used, step, WINDOW_FULL
    return X.shape[0], used, step, DONE


@njit(cache=True, nogil=True)
def count_projected(
    Z: np.ndarray, features: np.ndarray, slots: np.ndarray, shift_d: np.ndarray, half_d: np.ndarray, shift_over_d: np.ndarray,
    slot_seeds: np.ndarray, level_ids: np.ndarray, table: np.ndarray, used: int,
) -> int:
    """Add the bins of projected events Z to the current counts; returns ``used``."""
    n_chains, depth = features.shape
    keys = np.empty((n_chains, depth), dtype=np.int64)
    for i in range(Z.shape[0]):
        chain_keys(
            Z[i], features, slots, shift_d, half_d, shift_over_d, slot_seeds, level_ids, keys
        )
        for c in range(n_chains):
            for level in range(depth):
                row = _find(table, keys[c, level])
                if table[row, 0] == 0:
                    table[row, 0] = keys[c, level]
                    used += 1
                table[row, 1] += 1
    return used


@njit(cache=True, nogil=True)
def rehash(old: np.ndarray, capacity: int, promote: bool) -> tuple[np.ndarray, int]:
    """A table of ``capacity`` rows holding ``old``'s entries.

    With ``promote`` the current counts become the reference counts, the
    current counts restart at 0, and entries left with no count are dropped.
    Returns ``(table, used)``.
    """
    table = np.zeros((capacity, 2), dtype=np.int64)
    used = 0
    for r in range(old.shape[0]):
        if old[r, 0] == 0:
            continue
        packed = (old[r, 1] & _LOW) << 32 if promote else old[r, 1]
        if packed == 0:
            continue
        row = _find(table, old[r, 0])
        table[row, 0] = old[r, 0]
        table[row, 1] = packed
        used += 1
    return table, used
