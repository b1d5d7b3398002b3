"""Numba kernels of the streaming Random Cut Forest (see :mod:`.rcf`).

Insertion, deletion, CoDisp and the batch loop over the node arrays laid out
in :mod:`.rcf_nodes`.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine.detectors.rcf import RandomCutForest
>>> det = RandomCutForest(n_trees=2, tree_size=4, seed=0)
>>> det.learn_many(np.arange(12.0).reshape(6, 2))
>>> [int(c) for c in det._trees["links"][np.arange(2), det._trees["root"], COUNT]]
[4, 4]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pynomaly.engine.detectors.rcf_nodes import (
    CHUNK,
    COUNT,
    DIM,
    LEFT,
    N_LINKS,
    PARENT,
    RIGHT,
    branch_cut,
    child_of,
    duplicate_below,
    inside_box,
    leaf_cut,
    replace_child,
    sibling_of,
    uniform,
)

__all__ = ["CHUNK", "COUNT", "DIM", "LEFT", "N_LINKS", "PARENT", "RIGHT", "forget", "insert",
           "rebuild_boxes", "score_learn", "uniform"]


@njit(cache=True, nogil=True, inline="always")
def _count_up(links, box, t, child, grow, x):
    """Add one point above ``child`` up to the root, growing boxes to ``x``
    while ``grow``; returns the new point's CoDisp (rrcf's ``codisp``: the
    largest ratio of the sibling's count to the own subtree's count over the
    ancestors) and the cut dimension of the ancestor where it peaks."""
    D = x.shape[0]
    best_sib = 0
    best_own = 1
    best_dim = -1
    a = links[t, child, PARENT]
    while a >= 0:
        links[t, a, COUNT] += 1
        if grow:
            grow = False
            for j in range(D):
                if x[j] < box[t, a, 1 + j]:
                    box[t, a, 1 + j] = x[j]
                    grow = True
                elif x[j] > box[t, a, 1 + D + j]:
                    box[t, a, 1 + D + j] = x[j]
                    grow = True
        sib = np.int64(links[t, sibling_of(links, t, child, a), COUNT])
        own = np.int64(links[t, child, COUNT])
        if sib * best_own > best_sib * own or best_dim < 0:
            best_sib = sib
            best_own = own
            best_dim = links[t, a, DIM]
        child = a
        a = links[t, a, PARENT]
    return best_sib / best_own, best_dim


@njit(cache=True, nogil=True, inline="always")
def insert(tr, t, slot, points):
    """Insert the point in ``slot`` into tree ``t``; returns its CoDisp and peak cut dimension.

    Equivalent to rrcf's ``insert_point`` then ``codisp``: rrcf first looks for
    an equal point (query descent) and then descends again drawing cuts; here
    the cut-drawing descent runs first and the random state is rewound when it
    ends on an equal point, so both consume the same draws and build the same tree.
    """
    links, box, slot_leaf, root, free, n_free, rng = tr
    n_int = box.shape[1]
    D = points.shape[1]
    x = points[slot]
    leaf = n_int + slot
    if root[t] < 0:
        root[t] = leaf
        links[t, leaf, PARENT] = -1
        links[t, leaf, COUNT] = 1
        slot_leaf[t, slot] = leaf
        return 0.0, -1
    start = rng[t]
    node = root[t]
    above = -1
    same = -1
    while True:
        if node >= n_int:
            same = duplicate_below(links, box, t, node, x, points)
            if same >= 0:
                break
            side, q, cut = leaf_cut(points, node - n_int, x, uniform(rng, t))
            break
        side, q, cut = branch_cut(box, t, node, x, uniform(rng, t))
        if side != 0:
            if inside_box(box, t, node, x):  # a cut rounded onto the box edge
                same = duplicate_below(links, box, t, node, x, points)
            break
        above = node
        node = child_of(links, box, t, node, x)
    if same >= 0:
        rng[t] = start
        slot_leaf[t, slot] = same
        links[t, same, COUNT] += 1
        return _count_up(links, box, t, same, False, x)
    n_free[t] -= 1
    branch = free[t, n_free[t]]
    box[t, branch, 0] = cut
    links[t, branch, DIM] = q
    if side < 0:
        links[t, branch, LEFT] = leaf
        links[t, branch, RIGHT] = node
    else:
        links[t, branch, LEFT] = node
        links[t, branch, RIGHT] = leaf
    for j in range(D):  # the node's box; _count_up extends it to x
        if node >= n_int:
            box[t, branch, 1 + j] = points[node - n_int, j]
            box[t, branch, 1 + D + j] = points[node - n_int, j]
        else:
            box[t, branch, 1 + j] = box[t, node, 1 + j]
            box[t, branch, 1 + D + j] = box[t, node, 1 + D + j]
    replace_child(links, root, t, above, node, branch)
    links[t, branch, PARENT] = above
    links[t, branch, COUNT] = links[t, node, COUNT]
    links[t, node, PARENT] = branch
    links[t, leaf, PARENT] = branch
    links[t, leaf, COUNT] = 1
    slot_leaf[t, slot] = leaf
    return _count_up(links, box, t, leaf, True, x)


@njit(cache=True, nogil=True, inline="always")
def forget(tr, t, slot, points):
    """Remove the point in ``slot`` from tree ``t`` (rrcf's ``forget_point``).

    Unused nodes are reset to their initial values, so inserting and then
    forgetting a point leaves the arrays exactly as they were (boxes of unused
    nodes aside).
    """
    links, box, slot_leaf, root, free, n_free = tr[0], tr[1], tr[2], tr[3], tr[4], tr[5]
    n_int = box.shape[1]
    leaf = slot_leaf[t, slot]
    slot_leaf[t, slot] = -1
    if links[t, leaf, COUNT] > 1:
        a = leaf
        while a >= 0:
            links[t, a, COUNT] -= 1
            a = links[t, a, PARENT]
        if leaf == n_int + slot:  # the leaf keeps its point in a slot still in use
            other = 0
            while slot_leaf[t, other] != leaf:
                other += 1
            moved = n_int + other
            up = links[t, leaf, PARENT]
            links[t, moved, PARENT] = up
            links[t, moved, COUNT] = links[t, leaf, COUNT]
            replace_child(links, root, t, up, leaf, moved)
            for s in range(slot_leaf.shape[1]):
                if slot_leaf[t, s] == leaf:
                    slot_leaf[t, s] = moved
            links[t, leaf, PARENT] = -1
            links[t, leaf, COUNT] = 0
        return
    links[t, leaf, COUNT] = 0
    if root[t] == leaf:
        root[t] = -1
        return
    p = links[t, leaf, PARENT]
    links[t, leaf, PARENT] = -1
    sibling = sibling_of(links, t, leaf, p)
    g = links[t, p, PARENT]
    links[t, p, LEFT] = 0
    links[t, p, RIGHT] = 0
    links[t, p, PARENT] = -1
    links[t, p, COUNT] = 0
    links[t, p, DIM] = 0
    box[t, p, 0] = 0.0
    replace_child(links, root, t, g, p, sibling)
    links[t, sibling, PARENT] = g
    free[t, n_free[t]] = p
    n_free[t] += 1
    a = g
    refit = True  # boxes above an unchanged box are unchanged too
    while a >= 0:
        links[t, a, COUNT] -= 1
        refit = refit and _refit_box(points, links, box, t, a)
        a = links[t, a, PARENT]


@njit(cache=True, nogil=True, inline="always")
def _refit_box(points, links, box, t, a):
    """Set node ``a``'s box to the union of its children's; True if it changed."""
    n_int = box.shape[1]
    D = points.shape[1]
    l_node = links[t, a, LEFT]
    r_node = links[t, a, RIGHT]
    changed = False
    for j in range(D):
        if l_node >= n_int:
            l_lo = points[l_node - n_int, j]
            l_hi = l_lo
        else:
            l_lo = box[t, l_node, 1 + j]
            l_hi = box[t, l_node, 1 + D + j]
        if r_node >= n_int:
            r_lo = points[r_node - n_int, j]
            r_hi = r_lo
        else:
            r_lo = box[t, r_node, 1 + j]
            r_hi = box[t, r_node, 1 + D + j]
        new_lo = min(l_lo, r_lo)
        new_hi = max(l_hi, r_hi)
        if new_lo != box[t, a, 1 + j] or new_hi != box[t, a, 1 + D + j]:
            changed = True
            box[t, a, 1 + j] = new_lo
            box[t, a, 1 + D + j] = new_hi
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

    Trees share nothing but the (read-only) points, so rows are taken in
    chunks of ``S - tree_size`` and each tree runs through a whole chunk
    before the next tree starts: one tree's arrays stay in the L1 cache. The
    ring has room for the window plus a chunk, so no slot is reused within one.
    """
    rng = tr[6]
    n_trees = rng.shape[0]
    S = points.shape[0]
    chunk = S - tree_size
    out[:] = 0.0
    for c0 in range(0, P.shape[0], chunk):
        c1 = min(P.shape[0], c0 + chunk)
        for i in range(c0, c1):
            points[(window[1] + i - c0) % S, :] = P[i]
        for t in range(n_trees):
            n_points = window[0]
            for i in range(c0, c1):
                slot = (window[1] + i - c0) % S
                start = rng[t]
                value, dim = insert(tr, t, slot, points)
                out[i] += value
                if dim >= 0:
                    attribution[i, dim % n_features] += value / n_trees
                if not learn:
                    forget(tr, t, slot, points)
                    rng[t] = start
                elif n_points == tree_size:
                    forget(tr, t, (slot + S - tree_size) % S, points)
                else:
                    n_points += 1
        if learn:
            window[0] = min(window[0] + c1 - c0, tree_size)
            window[1] = (window[1] + c1 - c0) % S
    for i in range(P.shape[0]):
        out[i] /= n_trees


@njit(cache=True, nogil=True)
def rebuild_boxes(tr, points):
    """Recompute every internal node's bounding box from its leaves (post-order)."""
    links, box, root = tr[0], tr[1], tr[3]
    n_int = box.shape[1]
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
                for child in (links[t, node, LEFT], links[t, node, RIGHT]):
                    if child < n_int:
                        stack[top] = child
                        top += 1
                continue
            top -= 1
            _refit_box(points, links, box, t, -node - 1)
