"""Array layout, random source and cut drawing of the Random Cut Forest kernels.

All trees hold the same sliding window of points, kept in a ring of
``S = tree_size + CHUNK`` slots (``points``, shape ``(S, D)``). Per tree
``t``, node ids ``0 .. tree_size - 1`` are internal nodes and
``tree_size + s`` is the leaf whose point sits in slot ``s``; a leaf standing
for several equal points (its count) keeps the slot of one of them. Each node's fields sit together (one or
two cache lines per node visited)::

    links      int16 (T, tree_size + S, 5)  LEFT, RIGHT, PARENT (-1 at the root),
                                      COUNT (points below), DIM (cut dimension)
    box        float (T, tree_size, 1 + 2D)  cut value, then the box's low corner,
                                      then its high corner (internal nodes)
    slot_leaf  int16 (T, S)           leaf holding each slot's point (-1: none)
    root       int16 (T,)             root id (-1: empty tree)
    free       int16 (T, tree_size)   stack of free internal ids, n_free (T,) deep
    rng        uint64 (T,)            SplitMix64 state

A point ``x`` goes left of an internal node when ``x[DIM] <= cut value``.

Insertion, deletion and CoDisp follow the ``rrcf`` package (Bartos et al.
2019), including its duplicate handling and its draw of a cut (``r = range *
U``, the first dimension whose cumulative span reaches ``r``, cut at ``lo +
cumspan - r``), with two differences (docs/adr/0011): at a leaf the cut is
drawn over the box of both points as the paper says, where ``rrcf`` always
cuts dimension 0 (its leaf box is one row); and no number is drawn at a node
whose box already holds the point, where ``rrcf``'s cut could not separate it.

Example
-------
>>> import numpy as np
>>> state = np.array([0], dtype=np.uint64)
>>> u = uniform(state, 0)
>>> 0.0 <= u < 1.0, int(state[0]) == 0x9E3779B97F4A7C15
(True, True)
"""

from __future__ import annotations

import numpy as np
from numba import njit

LEFT, RIGHT, PARENT, COUNT, DIM = 0, 1, 2, 3, 4
N_LINKS = 5
#: Rows processed tree by tree at a time; the ring holds the window plus this.
CHUNK = 256

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def unit_double(z: np.uint64) -> float:
    """SplitMix64's output for state ``z`` (already advanced): a double in [0, 1)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def uniform(rng: np.ndarray, t: int) -> float:
    """SplitMix64 (Steele, Lea & Flood 2014) step of ``rng[t]``: a double in [0, 1)."""
    rng[t] += _GOLDEN
    return unit_double(rng[t])
