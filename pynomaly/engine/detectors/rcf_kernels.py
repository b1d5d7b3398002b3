"""Numba kernels of the streaming Random Cut Forest (see :mod:`.rcf`).

All trees hold the same sliding window of points, kept in a ring of
``S = tree_size + 1`` slots (``points``, shape ``(S, D)``). Per tree ``t``,
node ids ``0 .. S - 2`` are internal nodes and ``S - 1 + s`` is the leaf whose
point sits in slot ``s``; a leaf standing for several equal points (its
count) keeps the slot of one of them. Arrays (first axis = tree)::

    parent, count        (T, 2S - 1)  parent id (-1 at the root), points below
    left, right, cut_dim (T, S - 1)   children; cut ``x[cut_dim] <= cut_val`` goes left
    cut_val              (T, S - 1)
    lo, hi               (T, S - 1, D) bounding box of each internal node
    slot_leaf            (T, S)       leaf holding each slot's point (-1: none)
    root, n_free         (T,)         root id (-1: empty tree), free internal ids
    free                 (T, S - 1)   stack of free internal ids
    rng                  (T,) uint64  SplitMix64 state

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
def _sibling(left, right, t, node, p):
    return right[t, p] if left[t, p] == node else left[t, p]


@njit(cache=True, nogil=True, inline="always")
def _replace_child(left, right, root, t, p, old, new):
    if p < 0:
        root[t] = new
    elif left[t, p] == old:
        left[t, p] = new
    else:
        right[t, p] = new


@njit(cache=True, nogil=True, inline="always")
def _leaf_cut(points, ps, x, u):
    """rrcf's ``_insert_point_cut`` against a leaf's point; see :func:`_branch_cut`."""
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
def _branch_cut(lo, hi, t, node, x, u):
    """Draw a cut over the node's box extended by ``x`` (rrcf's ``_insert_point_cut``).

    Returns ``(side, dimension, value)``: side -1 when the cut leaves the box
    on the low side (``x`` goes left of the node), 1 on the high side, 0 when
    it falls inside the box (descend).
    """
    D = x.shape[0]
    total = 0.0
    for j in range(D):
        total += max(hi[t, node, j], x[j]) - min(lo[t, node, j], x[j])
    r = total * u
    acc = 0.0
    q = D - 1
    for j in range(D):
        acc += max(hi[t, node, j], x[j]) - min(lo[t, node, j], x[j])
        if acc >= r:
            q = j
            break
    cut = min(lo[t, node, q], x[q]) + acc - r
    side = -1 if cut <= lo[t, node, q] else (1 if cut >= hi[t, node, q] else 0)
    return side, q, cut


@njit(cache=True, nogil=True, inline="always")
def _duplicate_below(tr, t, node, x, points):
    """The leaf under ``node`` holding a point equal to ``x`` (rrcf's query), or -1."""
    left, right, cut_dim, cut_val = tr[2], tr[3], tr[4], tr[5]
    n_int = left.shape[1]
    while node < n_int:
        node = left[t, node] if x[cut_dim[t, node]] <= cut_val[t, node] else right[t, node]
    for j in range(x.shape[0]):
        if points[node - n_int, j] != x[j]:
            return -1
    return node


@njit(cache=True, nogil=True, inline="always")
def _inside(lo, hi, t, node, x):
    inside = True
    for j in range(x.shape[0]):
        inside = inside and lo[t, node, j] <= x[j] <= hi[t, node, j]
    return inside


@njit(cache=True, nogil=True, inline="always")
def _count_up(tr, t, child, grow, x):
    """Add one point above ``child`` up to the root (growing boxes to ``x`` while
    ``grow``); returns the CoDisp of the new point and the cut dimension where
    it peaks (ratio of sibling to own count at each ancestor, rrcf's codisp)."""
    parent, count, left, right, cut_dim, lo, hi = tr[0], tr[1], tr[2], tr[3], tr[4], tr[6], tr[7]
    best = 0.0
    best_dim = -1
    a = parent[t, child]
    while a >= 0:
        count[t, a] += 1
        if grow:
            grow = False
            for j in range(x.shape[0]):
                if x[j] < lo[t, a, j]:
                    lo[t, a, j] = x[j]
                    grow = True
                elif x[j] > hi[t, a, j]:
                    hi[t, a, j] = x[j]
                    grow = True
        ratio = count[t, _sibling(left, right, t, child, a)] / count[t, child]
        if ratio > best or best_dim < 0:
            best = ratio
            best_dim = cut_dim[t, a]
        child = a
        a = parent[t, a]
    return best, best_dim


@njit(cache=True, nogil=True)
def insert(tr, t, slot, points):
    """Insert the point in ``slot`` into tree ``t``; returns its CoDisp and peak cut dimension.

    Equivalent to rrcf's ``insert_point`` then ``codisp``: rrcf first looks for
    an equal point (query descent) and then descends again drawing cuts; here
    the cut-drawing descent runs first and the random state is rewound when it
    ends on an equal point, so both consume the same draws and build the same tree.
    """
    parent, count, left, right, cut_dim, cut_val, lo, hi, slot_leaf, root, free, n_free, rng = tr
    n_int = left.shape[1]
    x = points[slot]
    leaf = n_int + slot
    if root[t] < 0:
        root[t] = leaf
        parent[t, leaf] = -1
        count[t, leaf] = 1
        slot_leaf[t, slot] = leaf
        return 0.0, -1
    start = rng[t]
    node = root[t]
    above = -1
    same = -1
    while True:
        if node >= n_int:
            same = _duplicate_below(tr, t, node, x, points)
            if same >= 0:
                break
            side, q, cut = _leaf_cut(points, node - n_int, x, uniform(rng, t))
            break
        side, q, cut = _branch_cut(lo, hi, t, node, x, uniform(rng, t))
        if side != 0:
            if _inside(lo, hi, t, node, x):  # a cut rounded onto the box edge
                same = _duplicate_below(tr, t, node, x, points)
            break
        above = node
        node = left[t, node] if x[cut_dim[t, node]] <= cut_val[t, node] else right[t, node]
    if same >= 0:
        rng[t] = start
        slot_leaf[t, slot] = same
        count[t, same] += 1
        return _count_up(tr, t, same, False, x)
    n_free[t] -= 1
    branch = free[t, n_free[t]]
    cut_dim[t, branch] = q
    cut_val[t, branch] = cut
    if side < 0:
        left[t, branch] = leaf
        right[t, branch] = node
    else:
        left[t, branch] = node
        right[t, branch] = leaf
    for j in range(x.shape[0]):  # the node's box; _count_up extends it to x
        if node >= n_int:
            lo[t, branch, j] = points[node - n_int, j]
            hi[t, branch, j] = points[node - n_int, j]
        else:
            lo[t, branch, j] = lo[t, node, j]
            hi[t, branch, j] = hi[t, node, j]
    _replace_child(left, right, root, t, above, node, branch)
    parent[t, branch] = above
    parent[t, node] = branch
    parent[t, leaf] = branch
    count[t, leaf] = 1
    count[t, branch] = count[t, node]
    slot_leaf[t, slot] = leaf
    return _count_up(tr, t, leaf, True, x)


@njit(cache=True, nogil=True)
def forget(tr, t, slot, points):
    """Remove the point in ``slot`` from tree ``t`` (rrcf's ``forget_point``)."""
    parent, count, left, right, lo, hi = tr[0], tr[1], tr[2], tr[3], tr[6], tr[7]
    slot_leaf, root, free, n_free = tr[8], tr[9], tr[10], tr[11]
    n_int = left.shape[1]
    leaf = slot_leaf[t, slot]
    slot_leaf[t, slot] = -1
    if count[t, leaf] > 1:
        a = leaf
        while a >= 0:
            count[t, a] -= 1
            a = parent[t, a]
        if leaf == n_int + slot:  # the leaf keeps its point in a slot still in use
            other = 0
            while slot_leaf[t, other] != leaf:
                other += 1
            moved = n_int + other
            parent[t, moved] = parent[t, leaf]
            count[t, moved] = count[t, leaf]
            _replace_child(left, right, root, t, parent[t, leaf], leaf, moved)
            for s in range(slot_leaf.shape[1]):
                if slot_leaf[t, s] == leaf:
                    slot_leaf[t, s] = moved
            parent[t, leaf] = -1
            count[t, leaf] = 0
        return
    count[t, leaf] = 0
    if root[t] == leaf:
        root[t] = -1
        return
    p = parent[t, leaf]
    parent[t, leaf] = -1
    sibling = _sibling(left, right, t, leaf, p)
    g = parent[t, p]
    parent[t, p] = -1  # unused nodes keep the initial values, so states compare equal
    count[t, p] = 0
    left[t, p] = 0
    right[t, p] = 0
    tr[4][t, p] = 0
    tr[5][t, p] = 0.0
    _replace_child(left, right, root, t, g, p, sibling)
    parent[t, sibling] = g
    free[t, n_free[t]] = p
    n_free[t] += 1
    a = g
    while a >= 0:
        count[t, a] -= 1
        a = parent[t, a]
    a = g
    while a >= 0 and _refit_box(points, lo, hi, left[t, a], right[t, a], t, a):
        a = parent[t, a]


@njit(cache=True, nogil=True, inline="always")
def _refit_box(points, lo, hi, l_node, r_node, t, a):
    """Set node ``a``'s box to the union of its children's; True if it changed."""
    n_int = lo.shape[1]
    changed = False
    for j in range(lo.shape[2]):
        if l_node >= n_int:
            l_lo = points[l_node - n_int, j]
            l_hi = l_lo
        else:
            l_lo = lo[t, l_node, j]
            l_hi = hi[t, l_node, j]
        if r_node >= n_int:
            r_lo = points[r_node - n_int, j]
            r_hi = r_lo
        else:
            r_lo = lo[t, r_node, j]
            r_hi = hi[t, r_node, j]
        new_lo = min(l_lo, r_lo)
        new_hi = max(l_hi, r_hi)
        if new_lo != lo[t, a, j] or new_hi != hi[t, a, j]:
            changed = True
            lo[t, a, j] = new_lo
            hi[t, a, j] = new_hi
    return changed


@njit(cache=True, nogil=True)
def score_learn(P, tr, points, window, tree_size, learn, n_features, out, attribution):
    """CoDisp of each row of ``P`` among the window's points, averaged over trees.

    Each row is inserted into every tree and scored; with ``learn`` it stays
    (and the oldest point is forgotten once the window holds more than
    ``tree_size``); without, it is removed and the random states rewound, so
    scoring alone changes nothing. ``window`` is ``[n_points, next_slot]``.
    ``attribution[i, f]`` gets each tree's CoDisp charged to the feature of
    the cut where it peaks (summing over shingle positions), divided by T.
    """
    rng = tr[12]
    n_trees = rng.shape[0]
    S = points.shape[0]
    saved = rng.copy()
    for i in range(P.shape[0]):
        slot = window[1]
        points[slot, :] = P[i]
        total = 0.0
        for t in range(n_trees):
            value, dim = insert(tr, t, slot, points)
            total += value
            if dim >= 0:
                attribution[i, dim % n_features] += value / n_trees
        out[i] = total / n_trees
        if learn:
            window[0] += 1
            window[1] = (slot + 1) % S
            if window[0] > tree_size:
                oldest = (slot + S - tree_size) % S
                for t in range(n_trees):
                    forget(tr, t, oldest, points)
                window[0] -= 1
        else:
            for t in range(n_trees):
                forget(tr, t, slot, points)
            rng[:] = saved


@njit(cache=True, nogil=True)
def rebuild_boxes(tr, points):
    """Recompute every internal node's bounding box from its leaves (post-order)."""
    left, right, lo, hi, root = tr[2], tr[3], tr[6], tr[7], tr[9]
    n_int = left.shape[1]
    stack = np.empty(2 * n_int + 2, dtype=np.int64)
    for t in range(root.shape[0]):
        if root[t] < 0 or root[t] >= n_int:
            continue
        top = 0
        stack[top] = root[t]
        top += 1
        while top > 0:
            node = stack[top - 1]
            if node >= 0:
                stack[top - 1] = -node - 1  # children first, then this node
                for child in (left[t, node], right[t, node]):
                    if child < n_int:
                        stack[top] = child
                        top += 1
                continue
            top -= 1
            node = -node - 1
            _refit_box(points, lo, hi, left[t, node], right[t, node], t, node)
