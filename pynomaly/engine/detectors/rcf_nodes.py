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
cumspan - r``), except at a leaf: there the cut is drawn over the box of both
points as the paper says, where ``rrcf`` always cuts dimension 0 (its leaf box
is one row; see docs/adr/0011).

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
def uniform(rng, t):
    """SplitMix64 (Steele, Lea & Flood 2014) step of ``rng[t]``: a double in [0, 1)."""
    z = rng[t] + _GOLDEN
    rng[t] = z
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def sibling_of(links, t, node, p):
    """The other child of ``p`` (branch-free: the children's ids sum to both)."""
    return links[t, p, LEFT] + links[t, p, RIGHT] - node


@njit(cache=True, nogil=True, inline="always")
def replace_child(links, root, t, p, old, new):
    if p < 0:
        root[t] = new
    elif links[t, p, LEFT] == old:
        links[t, p, LEFT] = new
    else:
        links[t, p, RIGHT] = new


@njit(cache=True, nogil=True, inline="always")
def child_of(links, box, t, node, x):
    """The child of internal ``node`` on ``x``'s side of its cut (branch-free;
    RIGHT follows LEFT in a node's row)."""
    return links[t, node, LEFT + (x[links[t, node, DIM]] > box[t, node, 0])]


@njit(cache=True, nogil=True, inline="always")
def leaf_cut(points, ps, x, u):
    """rrcf's ``_insert_point_cut`` against a leaf's point; see :func:`branch_cut`."""
    D = x.shape[0]
    total = 0.0
    for j in range(D):
        v = points[ps, j]
        total += max(v, x[j]) - min(v, x[j])
    r = total * u
    acc = 0.0
    q = D - 1
    for j in range(D):
        v = points[ps, j]
        acc += max(v, x[j]) - min(v, x[j])
        if acc >= r:
            q = j
            break
    v = points[ps, q]
    cut = min(v, x[q]) + acc - r
    return (-1 if cut <= v else 1), q, cut


@njit(cache=True, nogil=True, inline="always")
def branch_cut(box, t, node, x, u):
    """Draw a cut over the node's box extended by ``x`` (rrcf's ``_insert_point_cut``).

    Returns ``(side, dimension, value)``: side -1 when the cut leaves the box
    on the low side (``x`` goes left of the node), 1 on the high side, 0 when
    it falls inside the box (descend).
    """
    D = x.shape[0]
    total = 0.0
    for j in range(D):
        total += max(box[t, node, 1 + D + j], x[j]) - min(box[t, node, 1 + j], x[j])
    r = total * u
    acc = 0.0
    q = D - 1
    for j in range(D):
        acc += max(box[t, node, 1 + D + j], x[j]) - min(box[t, node, 1 + j], x[j])
        if acc >= r:
            q = j
            break
    low = box[t, node, 1 + q]
    cut = min(low, x[q]) + acc - r
    side = -1 if cut <= low else (1 if cut >= box[t, node, 1 + D + q] else 0)
    return side, q, cut


@njit(cache=True, nogil=True, inline="always")
def duplicate_below(links, box, t, node, x, points):
    """The leaf under ``node`` holding a point equal to ``x`` (rrcf's query), or -1."""
    n_int = box.shape[1]
    while node < n_int:
        node = child_of(links, box, t, node, x)
    for j in range(x.shape[0]):
        if points[node - n_int, j] != x[j]:
            return -1
    return node


@njit(cache=True, nogil=True, inline="always")
def inside_box(box, t, node, x):
    D = x.shape[0]
    inside = True
    for j in range(D):
        inside = inside and box[t, node, 1 + j] <= x[j] <= box[t, node, 1 + D + j]
    return inside
