"""Numba kernels of the streaming Random Cut Forest (see :mod:`.rcf`).

Insertion, CoDisp and deletion over the node arrays laid out in
:mod:`.rcf_nodes`, one tree at a time over a chunk of points.

One pass down the tree does the whole insertion:

- at a node whose box already holds the point no cut can separate it, so
  no random number is drawn and the point just follows the node's cut
  (``rrcf`` draws one there too, but it always lands inside the box); once
  the point is outside a box it is outside every box below, so the test
  stops there;
- elsewhere a cut is drawn over the box extended by the point, as ``rrcf``
  does; if it falls outside the box the point becomes a new leaf there,
  otherwise the node's box grows to the point and the descent goes on;
- every node passed gains one point, and the CoDisp candidate of the node
  (its other child's count over the count of the child taking the point)
  is compared on the way, so no walk back up is needed. Going down, ``>=``
  keeps the deepest of equal ratios, as ``rrcf``'s walk up with ``>`` does.

Deletion walks up from the forgotten leaf, refitting boxes only while the
forgotten point lies on them (a box it does not touch cannot change, nor can
any box above it) and decrementing counts to the root.

The kernel is one function on purpose: a numba helper that takes arrays
costs an atomic reference-count pair per array per call, about a third of
the time here. Array rows are flattened and indexed with unsigned offsets,
which spares numba's negative-index fix-up on every access. Inputs reach the
kernel finite (the detector base clips them), so it is compiled without NaN
and infinity handling; every operation is still rounded exactly as written.

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
    uniform,
    unit_double,
)

__all__ = ["CHUNK", "COUNT", "DIM", "LEFT", "N_LINKS", "PARENT", "RIGHT", "rebuild_boxes",
           "score_learn", "uniform"]

_STEP = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (see rcf_nodes.uniform)
_U1 = np.uint64(1)
#: Unsigned field offsets within a node's row of ``links``.
_LEFT, _RIGHT, _PARENT, _COUNT, _DIM = (np.uint64(f) for f in (LEFT, RIGHT, PARENT, COUNT, DIM))
_ROW = np.uint64(N_LINKS)


@njit(cache=True, nogil=True, fastmath={"nnan", "ninf"})
def _tree_chunk(L: np.ndarray, B: np.ndarray, SL: np.ndarray, free: np.ndarray, state: tuple[np.ndarray, np.ndarray, np.ndarray], t: int,
                P: np.ndarray, n_int: int, D: int, first_slot: int, n: int, n_points: int,
                tree_size: int, learn: bool, feature_of: np.ndarray, n_trees: int, out: np.ndarray,
                attribution: np.ndarray) -> None:
    """Run ``n`` points, from ring slot ``first_slot`` on, through tree ``t``.

    ``L``/``B`` are the tree's ``links``/``box`` rows flattened, ``P`` the
    ring of points flattened, ``SL``/``free`` its ``slot_leaf``/``free`` rows,
    ``state`` the ``(root, n_free, rng)`` arrays. Adds the tree's CoDisp of
    point ``i`` to ``out[i]`` and its attribution to ``attribution[i]``.
    """
    S = SL.shape[0]
    Du = np.uint64(D)
    W = np.uint64(1 + 2 * D)  # floats per internal node: cut, low corner, high corner
    root = np.int64(state[0][t])
    n_free = np.int64(state[1][t])
    z = state[2][t]
    xs = first_slot
    cums = np.empty(D)  # cumulative spans of the box a cut is drawn over
    for i in range(n):
        if i > 0:
            xs += 1
            if xs == S:
                xs = 0
        start = z
        xo = np.uint64(xs) * Du
        leaf = n_int + xs
        lf = np.uint64(leaf) * _ROW
        best_sib = np.int64(0)  # CoDisp so far: best_sib / best_own at the cut best_dim
        best_own = np.int64(1)
        best_dim = -1
        # ---- insert the point of slot xs ----
        if root < 0:
            L[lf + _PARENT] = -1
            L[lf + _COUNT] = 1
            SL[xs] = leaf
            root = np.int64(leaf)
        else:
            node = root
            above = np.int64(-1)
            side = 0  # where the new leaf goes beside `node`: -1 low, 1 high, 0 nowhere
            q = 0
            cut = 0.0
            outside = False
            while True:
                if node >= n_int:  # a leaf: an equal point, or a cut between the two
                    po = np.uint64(node - n_int) * Du
                    equal = True
                    for j in range(Du):
                        equal = equal & (P[po + j] == P[xo + j])
                    if equal:
                        L[np.uint64(node) * _ROW + _COUNT] += 1
                        SL[xs] = node
                        break
                    z += _STEP
                    c = 0.0
                    for j in range(Du):
                        c += abs(P[po + j] - P[xo + j])
                        cums[j] = c
                    r = c * unit_double(z)
                    q = 0
                    for j in range(Du):  # the first dimension whose cumulative span reaches r
                        q += cums[j] < r
                    q = min(q, D - 1)
                    acc = cums[q]
                    v = P[po + np.uint64(q)]
                    cut = min(v, P[xo + np.uint64(q)]) + acc - r
                    side = -1 if cut <= v else 1
                    break
                bo = np.uint64(node) * W
                lo = bo + _U1
                hi = lo + Du
                inside = False
                if not outside:  # outside a box, the point is outside every box below it
                    inside = True
                    for j in range(Du):
                        xj = P[xo + j]
                        inside = inside & (B[lo + j] <= xj) & (xj <= B[hi + j])
                    outside = not inside
                if not inside:  # draw a cut over the box extended by the point
                    z += _STEP
                    c = 0.0
                    for j in range(Du):
                        xj = P[xo + j]
                        c += max(B[hi + j], xj) - min(B[lo + j], xj)
                        cums[j] = c
                    r = c * unit_double(z)
                    q = 0
                    for j in range(Du):
                        q += cums[j] < r
                    q = min(q, D - 1)
                    acc = cums[q]
                    low = B[lo + np.uint64(q)]
                    cut = min(low, P[xo + np.uint64(q)]) + acc - r
                    if cut <= low:
                        side = -1
                        break
                    if cut >= B[hi + np.uint64(q)]:
                        side = 1
                        break
                    for j in range(Du):
                        xj = P[xo + j]
                        B[lo + j] = min(B[lo + j], xj)
                        B[hi + j] = max(B[hi + j], xj)
                no = np.uint64(node) * _ROW
                L[no + _COUNT] += 1
                d = L[no + _DIM]
                left = np.int64(L[no + _LEFT])
                right = np.int64(L[no + _RIGHT])
                go_right = P[xo + np.uint64(d)] > B[bo]
                child = right if go_right else left
                other = left if go_right else right
                n_other = np.int64(L[np.uint64(other) * _ROW + _COUNT])
                n_child = np.int64(L[np.uint64(child) * _ROW + _COUNT]) + 1
                if n_other * best_own >= best_sib * n_child:
                    best_sib = n_other
                    best_own = n_child
                    best_dim = d
                above = node
                node = child
            if side != 0:  # a new branch above `node`: the new leaf on `side`
                n_free -= 1
                branch = np.int64(free[n_free])
                bl = np.uint64(branch) * _ROW
                bb = np.uint64(branch) * W
                B[bb] = cut
                L[bl + _DIM] = q
                L[bl + (_LEFT if side < 0 else _RIGHT)] = leaf
                L[bl + (_RIGHT if side < 0 else _LEFT)] = node
                if node >= n_int:
                    po = np.uint64(node - n_int) * Du
                    for j in range(Du):
                        xj = P[xo + j]
                        B[bb + _U1 + j] = min(P[po + j], xj)
                        B[bb + _U1 + Du + j] = max(P[po + j], xj)
                else:
                    nb = np.uint64(node) * W
                    for j in range(Du):
                        xj = P[xo + j]
                        B[bb + _U1 + j] = min(B[nb + _U1 + j], xj)
                        B[bb + _U1 + Du + j] = max(B[nb + _U1 + Du + j], xj)
                if above < 0:
                    root = branch
                else:
                    al = np.uint64(above) * _ROW
                    L[al + (_LEFT if L[al + _LEFT] == node else _RIGHT)] = branch
                nl = np.uint64(node) * _ROW
                n_node = np.int64(L[nl + _COUNT])
                L[bl + _PARENT] = above
                L[bl + _COUNT] = n_node + 1
                L[nl + _PARENT] = branch
                L[lf + _PARENT] = branch
                L[lf + _COUNT] = 1
                SL[xs] = leaf
                if n_node * best_own >= best_sib:
                    best_sib = n_node
                    best_own = np.int64(1)
                    best_dim = q
            value = best_sib / best_own
            out[i] += value
            if best_dim >= 0:
                attribution[i, feature_of[best_dim]] += value / n_trees
        # ---- forget: the point itself when only scoring, else the oldest beyond the window ----
        if not learn:
            fs = xs
            z = start
        elif n_points == tree_size:
            fs = xs - tree_size
            if fs < 0:
                fs += S
        else:
            n_points += 1
            continue
        fl = np.int64(SL[fs])
        SL[fs] = -1
        fll = np.uint64(fl) * _ROW
        if L[fll + _COUNT] > 1:  # one of several equal points
            a = fl
            while a >= 0:
                al = np.uint64(a) * _ROW
                L[al + _COUNT] -= 1
                a = np.int64(L[al + _PARENT])
            if fl == n_int + fs:  # the leaf keeps its point in a slot still in use
                kept = 0
                while SL[kept] != fl:
                    kept += 1
                moved = n_int + kept
                ml = np.uint64(moved) * _ROW
                up = np.int64(L[fll + _PARENT])
                L[ml + _PARENT] = up
                L[ml + _COUNT] = L[fll + _COUNT]
                if up < 0:
                    root = np.int64(moved)
                else:
                    ul = np.uint64(up) * _ROW
                    L[ul + (_LEFT if L[ul + _LEFT] == fl else _RIGHT)] = moved
                for s in range(S):
                    if SL[s] == fl:
                        SL[s] = moved
                L[fll + _PARENT] = -1
                L[fll + _COUNT] = 0
            continue
        L[fll + _COUNT] = 0
        if root == fl:
            root = np.int64(-1)
            continue
        p = np.int64(L[fll + _PARENT])
        L[fll + _PARENT] = -1
        pl = np.uint64(p) * _ROW
        sibling = np.int64(L[pl + _LEFT] + L[pl + _RIGHT] - fl)
        g = np.int64(L[pl + _PARENT])
        L[pl + _LEFT] = 0  # unused nodes go back to their initial values
        L[pl + _RIGHT] = 0
        L[pl + _PARENT] = -1
        L[pl + _COUNT] = 0
        L[pl + _DIM] = 0
        B[np.uint64(p) * W] = 0.0
        if g < 0:
            root = sibling
        else:
            gl = np.uint64(g) * _ROW
            L[gl + (_LEFT if L[gl + _LEFT] == p else _RIGHT)] = sibling
        L[np.uint64(sibling) * _ROW + _PARENT] = g
        free[n_free] = p
        n_free += 1
        fo = np.uint64(fs) * Du
        a = g
        refit = True
        while refit and a >= 0:  # boxes the point touched: the union of the children's
            al = np.uint64(a) * _ROW
            L[al + _COUNT] -= 1
            ab = np.uint64(a) * W + _U1
            touch = False
            for j in range(Du):
                fj = P[fo + j]
                touch = touch | (fj == B[ab + j]) | (fj == B[ab + Du + j])
            refit = False
            if touch:
                l_node = np.int64(L[al + _LEFT])
                r_node = np.int64(L[al + _RIGHT])
                l_leaf = l_node >= n_int
                r_leaf = r_node >= n_int
                l_lo = np.uint64(l_node - n_int) * Du if l_leaf else np.uint64(l_node) * W + _U1
                r_lo = np.uint64(r_node - n_int) * Du if r_leaf else np.uint64(r_node) * W + _U1
                for j in range(Du):
                    if l_leaf:
                        a_lo = P[l_lo + j]
                        a_hi = a_lo
                    else:
                        a_lo = B[l_lo + j]
                        a_hi = B[l_lo + Du + j]
                    if r_leaf:
                        b_lo = P[r_lo + j]
                        b_hi = b_lo
                    else:
                        b_lo = B[r_lo + j]
                        b_hi = B[r_lo + Du + j]
                    new_lo = min(a_lo, b_lo)
                    new_hi = max(a_hi, b_hi)
                    refit = refit | (new_lo != B[ab + j]) | (new_hi != B[ab + Du + j])
                    B[ab + j] = new_lo
                    B[ab + Du + j] = new_hi
            a = np.int64(L[al + _PARENT])
        while a >= 0:
            al = np.uint64(a) * _ROW
            L[al + _COUNT] -= 1
            a = np.int64(L[al + _PARENT])
    state[0][t] = root
    state[1][t] = n_free
    state[2][t] = z


@njit(cache=True, nogil=True)
def score_learn(P: np.ndarray, tr: tuple[np.ndarray, ...], points: np.ndarray, window: np.ndarray, tree_size: int,
                learn: bool, n_features: int, out: np.ndarray, attribution: np.ndarray) -> None:
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
    links, box, slot_leaf, root, free, n_free, rng = tr
    n_trees = rng.shape[0]
    S, D = points.shape
    n_int = box.shape[1]
    chunk = S - tree_size
    out[:] = 0.0
    state = (root, n_free, rng)
    feature_of = np.arange(D) % n_features
    flat_points = points.reshape(-1)
    for c0 in range(0, P.shape[0], chunk):
        c1 = min(P.shape[0], c0 + chunk)
        for i in range(c0, c1):
            points[(window[1] + i - c0) % S, :] = P[i]
        for t in range(n_trees):
            _tree_chunk(links[t].reshape(-1), box[t].reshape(-1), slot_leaf[t], free[t], state, t,
                        flat_points, n_int, D, window[1], c1 - c0, window[0], tree_size, learn,
                        feature_of, n_trees, out[c0:c1], attribution[c0:c1])
        if learn:
            window[0] = min(window[0] + c1 - c0, tree_size)
            window[1] = (window[1] + c1 - c0) % S
    for i in range(P.shape[0]):
        out[i] /= n_trees


@njit(cache=True, nogil=True)
def _refit_box(points: np.ndarray, links: np.ndarray, box: np.ndarray, t: int, a: int) -> None:
    """Set node ``a``'s box to the union of its children's."""
    n_int = box.shape[1]
    D = points.shape[1]
    for j in range(D):
        lo = np.inf
        hi = -np.inf
        for child in (links[t, a, LEFT], links[t, a, RIGHT]):
            if child >= n_int:
                lo = min(lo, points[child - n_int, j])
                hi = max(hi, points[child - n_int, j])
            else:
                lo = min(lo, box[t, child, 1 + j])
                hi = max(hi, box[t, child, 1 + D + j])
        box[t, a, 1 + j] = lo
        box[t, a, 1 + D + j] = hi


@njit(cache=True, nogil=True)
def rebuild_boxes(tr: tuple[np.ndarray, ...], points: np.ndarray) -> None:
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
