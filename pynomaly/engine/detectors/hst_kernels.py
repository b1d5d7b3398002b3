"""Numba kernels of Half-Space Trees (see :mod:`pynomaly.engine.detectors.hst`).

Trees are complete binary trees of height ``h`` stored in heap order: node
``i`` has children ``2i + 1`` (``x[feature] < threshold``) and ``2i + 2``;
the ``2**h - 1`` internal nodes come first, then the ``2**h`` leaves. Masses
are ``(n_trees, 2**(h + 1) - 1)`` arrays of the smallest unsigned type a window
fits in (:func:`~pynomaly.engine.detectors.hst.mass_dtype`); the kernels take any.

Example
-------
>>> import numpy as np
>>> feature = np.zeros((1, 1), dtype=np.int32)
>>> threshold = np.zeros((1, 1))
>>> draws = np.array([[[0.3, 0.5]]])
>>> build_trees(np.array([0.0]), np.array([1.0]), draws, 0.15, 1, feature, threshold)
>>> float(threshold[0, 0])
0.5
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: River's padding: split values are drawn from the middle 70 % of the range.
PADDING = 0.15
#: A node whose reference mass is below this fraction of the window ends the
#: scoring walk (Tan et al. 2011, "sizeLimit" = 0.1 * window size).
SIZE_LIMIT_FRACTION = 0.1


@njit(cache=True, nogil=True)
def build_trees(lo: np.ndarray, hi: np.ndarray, draws: np.ndarray, padding: float, height: int, feature: np.ndarray,
                threshold: np.ndarray) -> None:
    """Draw every internal node's split from two uniforms, in pre-order.

    For each node the first uniform picks a feature with probability
    proportional to the width of that feature's current range (as
    ``random.choices`` does: bisect on the cumulative widths), the second
    picks the split uniformly inside the padded range. Children inherit the
    range with the split applied. ``draws`` is ``(n_trees, 2**h - 1, 2)`` in
    pre-order, which is the order River's recursive builder consumes them.
    """
    n_trees = draws.shape[0]
    d = lo.shape[0]
    box_lo = np.empty((height + 1, d))
    box_hi = np.empty((height + 1, d))
    cum = np.empty(d)
    stack = np.empty(height + 1, dtype=np.int64)
    for t in range(n_trees):
        box_lo[0, :] = lo
        box_hi[0, :] = hi
        stack[0] = 0
        top = 1
        k = 0
        while top > 0:
            top -= 1
            node = stack[top]
            depth = int(np.log2(node + 1.0) + 1e-9)
            if depth > 0:
                parent = (node - 1) // 2
                box_lo[depth, :] = box_lo[depth - 1, :]
                box_hi[depth, :] = box_hi[depth - 1, :]
                f = feature[t, parent]
                if node == 2 * parent + 1:
                    box_hi[depth, f] = threshold[t, parent]
                else:
                    box_lo[depth, f] = threshold[t, parent]
            acc = 0.0
            for j in range(d):
                acc += box_hi[depth, j] - box_lo[depth, j]
                cum[j] = acc
            x = draws[t, k, 0] * (cum[d - 1] + 0.0)
            f = 0
            while f < d - 1 and cum[f] <= x:
                f += 1
            a = box_lo[depth, f]
            b = box_hi[depth, f]
            a2 = a + padding * (b - a)
            b2 = b - padding * (b - a)
            feature[t, node] = f
            threshold[t, node] = a2 + (b2 - a2) * draws[t, k, 1]
            k += 1
            if depth + 1 < height:
                stack[top] = 2 * node + 2
                stack[top + 1] = 2 * node + 1
                top += 2


@njit(cache=True, nogil=True)
def score_learn(X: np.ndarray, feature: np.ndarray, threshold: np.ndarray, l_mass: np.ndarray, r_mass: np.ndarray,
                path_score: np.ndarray, height: int, window: int, state: np.ndarray, learn: bool,
                out: np.ndarray) -> None:
    """Score each row of ``X`` on the reference masses, then learn it.

    ``state`` is ``[counter, first_window]`` (int64, updated in place). The
    score is River's ``1 - sum_t sum_depth r_mass * 2**depth / max_score``,
    walking down each tree until a node's reference mass drops below the size
    limit; it is 0 during the first window. Learning adds one to the latest
    masses along each path; every ``window`` events the latest masses become
    the reference and the latest masses restart at zero.

    All trees advance one level at a time (independent chains for the CPU to
    overlap) and the descent is branch-free. The sum is kept in integers: every
    term is an integer below 2**53, so it equals River's float sum exactly.
    """
    n_trees = feature.shape[0]
    size_limit = SIZE_LIMIT_FRACTION * window
    max_score = float(n_trees) * float(window) * float(2 ** (height + 1) - 1)
    node = np.zeros(n_trees, dtype=np.int64)
    walking = np.zeros(n_trees, dtype=np.int64)
    for i in range(X.shape[0]):
        scoring = state[1] == 0
        for t in range(n_trees):
            node[t] = 0
            walking[t] = 1 if scoring else 0
        total = 0
        pow2 = 1
        for _ in range(height):
            for t in range(n_trees):
                nd = node[t]
                if learn:
                    l_mass[t, nd] += 1
                r = r_mass[t, nd]
                total += walking[t] * r * pow2
                walking[t] &= r >= size_limit
                node[t] = 2 * nd + 2 - (X[i, feature[t, nd]] < threshold[t, nd])
            pow2 *= 2
        for t in range(n_trees):
            nd = node[t]
            if learn:
                l_mass[t, nd] += 1
            total += walking[t] * r_mass[t, nd] * pow2
        out[i] = 1.0 - total / max_score if scoring else 0.0
        if learn:
            state[0] += 1
            if state[0] == window:
                swap_window(l_mass, r_mass, path_score, height, window, state)


@njit(cache=True, nogil=True)
def explain(x: np.ndarray, feature: np.ndarray, threshold: np.ndarray, r_mass: np.ndarray, height: int, window: int,
            out: np.ndarray) -> None:
    """Split the score of ``x`` over features; ``out`` sums to the score.

    Per tree, the score is the mass missing below a full window at each level
    of the path, weighted by ``2**depth``. The missing mass at depth ``k`` is
    the sum of the drops ``r_j - r_(j+1)`` at the splits above it, so each
    drop is charged to its split's feature, weighted by the levels below it.
    Levels skipped after the walk stops early are charged in proportion to
    the drops seen so far.
    """
    n_trees = feature.shape[0]
    d = x.shape[0]
    size_limit = SIZE_LIMIT_FRACTION * window
    max_score = float(n_trees) * float(window) * float(2 ** (height + 1) - 1)
    path_mass = np.empty(height + 1)
    path_feature = np.empty(height + 1, dtype=np.int64)
    out[:] = 0.0
    for t in range(n_trees):
        node = 0
        stop = height
        for depth in range(height + 1):
            path_mass[depth] = r_mass[t, node]
            if depth == height:
                break
            path_feature[depth] = feature[t, node]
            if r_mass[t, node] < size_limit:
                stop = depth
                break
            if x[feature[t, node]] < threshold[t, node]:
                node = 2 * node + 1
            else:
                node = 2 * node + 2
        skipped = float(2 ** (height + 1) - 2 ** (stop + 1))
        lost = window - path_mass[stop]
        charged = 0.0
        if lost > 0.0:
            tail = skipped * (1.0 + path_mass[stop] / lost)
            for j in range(stop):
                drop = path_mass[j] - path_mass[j + 1]
                below = float(2 ** (stop + 1) - 2 ** (j + 1))
                share = drop * (below + tail)
                out[path_feature[j]] += share
                charged += share
        deficit = window * float(2 ** (height + 1) - 1)
        for depth in range(stop + 1):
            deficit -= path_mass[depth] * float(2**depth)
        rest = (deficit - charged) / d
        for j in range(d):
            out[j] += rest
    for j in range(d):
        out[j] /= max_score


#: Batches of at least this many rows take :func:`score_learn_batched`; its
#: per-call set-up (path scores, internal masses) costs about one pass over
#: the trees, which a one-row call would pay for a single event.
BATCHED_MIN_ROWS = 64


@njit(cache=True, nogil=True)
def path_scores(r_mass: np.ndarray, height: int, window: int, path_score: np.ndarray) -> None:
    """Each leaf's total of River's score sum for a walk that ends in it.

    ``path_score[t, k]`` (leaf ``k``, node ``2**height - 1 + k``) is
    ``sum r_mass * 2**depth`` over the nodes from the root to the leaf that
    the walk counts (it stops after the first node whose reference mass is
    below the size limit). Depends on the reference masses only: the kernels
    refresh it at every window swap.

    >>> import numpy as np
    >>> r = np.array([[100, 60, 40]], dtype=np.uint16)  # height 1, window 100
    >>> ps = np.zeros((1, 2), dtype=np.int64)
    >>> path_scores(r, 1, 100, ps)
    >>> ps.tolist()  # the root counts once, a leaf twice
    [[220, 180]]
    """
    n_trees = r_mass.shape[0]
    n_nodes = r_mass.shape[1]
    n_internal = n_nodes // 2
    limit = np.int64(np.ceil(SIZE_LIMIT_FRACTION * window))
    total = np.empty(n_nodes, dtype=np.int64)
    # 0 once the walk has stopped, else 2**depth of the node's children
    gate = np.empty(n_nodes, dtype=np.int64)
    for t in range(n_trees):
        r = r_mass[t]
        ps = path_score[t]
        total[0] = r[0]
        gate[0] = 2 if np.int64(r[0]) >= limit else 0
        first = 1
        for _ in range(height - 1):
            last = 2 * first + 1
            for c in range(first, last):
                p = (c - 1) >> 1
                rc = np.int64(r[c])
                g = gate[p]
                total[c] = total[p] + g * rc
                gate[c] = 2 * g if rc >= limit else 0
            first = last
        for c in range(n_internal, n_nodes):
            p = (c - 1) >> 1
            ps[c - n_internal] = total[p] + gate[p] * np.int64(r[c])


@njit(cache=True, nogil=True)
def sum_internal(l_mass: np.ndarray) -> None:
    """Set each internal latest mass to the sum of its children's.

    Every walk ends in a leaf, so the leaf counts determine the rest: the
    batched kernel counts leaves only and the window swap fills in the
    internal nodes from them.

    >>> import numpy as np
    >>> m = np.array([[0, 0, 0, 1, 2, 3, 4]], dtype=np.uint16)
    >>> sum_internal(m)
    >>> m.tolist()
    [[10, 3, 7, 1, 2, 3, 4]]
    """
    n_internal = l_mass.shape[1] // 2
    for t in range(l_mass.shape[0]):
        m = l_mass[t]
        for n in range(n_internal - 1, -1, -1):
            m[n] = m[2 * n + 1] + m[2 * n + 2]


@njit(cache=True, nogil=True)
def swap_window(l_mass: np.ndarray, r_mass: np.ndarray, path_score: np.ndarray, height: int, window: int,
                state: np.ndarray) -> None:
    """End a window: the latest masses (internal nodes summed from the leaves)
    become the reference, the latest restart at zero, the path scores follow."""
    sum_internal(l_mass)
    for t in range(l_mass.shape[0]):
        for q in range(l_mass.shape[1]):
            r_mass[t, q] = l_mass[t, q]
            l_mass[t, q] = 0
    state[0] = 0
    state[1] = 0
    path_scores(r_mass, height, window, path_score)


@njit(inline="always")
def _down(xf: np.ndarray, row: np.uint64, ft: np.ndarray, th: np.ndarray, node: np.uint64) -> np.uint64:
    """One level of a descent: the child of ``node`` that row ``xf[row:]`` goes to."""
    return np.uint64(2) * node + np.uint64(2) - np.uint64(xf[row + np.uint64(ft[node])] < th[node])


@njit(inline="always")
def _count(counts: np.ndarray, ps: np.ndarray, total: np.ndarray, j: int, leaf: np.uint64) -> None:
    """Add the leaf's path score to event ``j``'s total and count the leaf."""
    counts[leaf] += 1
    total[j] += ps[leaf]


@njit(cache=True, nogil=True)
def score_learn_batched(
    X: np.ndarray, feature: np.ndarray, threshold: np.ndarray, l_mass: np.ndarray, r_mass: np.ndarray, path_score: np.ndarray,
    height: int, window: int, state: np.ndarray, learn: bool, out: np.ndarray,
) -> None:
    """:func:`score_learn` for batches, with the same scores and state.

    Within one window the reference masses are fixed, so each walk's score is
    the :func:`path_scores` value of its leaf, and learning only counts
    leaves: the internal latest masses are left stale until the window swap
    (:func:`swap_window`) sums them, which is the only place they are read
    (snapshots sum them too). Trees are taken one at a time and eight events
    descend each tree together as independent chains, indexed with unsigned
    integers (signed indices make numba handle negative wrap-around at every
    load, which halves the speed of this loop).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> feature = rng.integers(0, 2, (3, 7)).astype(np.int32)
    >>> threshold = rng.random((3, 7))
    >>> X = rng.random((50, 2))
    >>> outs, masses = [], []
    >>> for kernel in (score_learn, score_learn_batched):
    ...     l, r = np.zeros((3, 15), np.uint16), np.zeros((3, 15), np.uint16)
    ...     ps, st, out = np.zeros((3, 8), np.int64), np.array([0, 1]), np.empty(50)
    ...     kernel(X, feature, threshold, l, r, ps, 3, 20, st, True, out)
    ...     sum_internal(l)
    ...     outs.append(out); masses.append((l, r, ps, st))
    >>> bool(np.array_equal(outs[0], outs[1]))
    True
    >>> all(np.array_equal(a, b) for a, b in zip(*masses))
    True
    """
    n_trees = feature.shape[0]
    n_internal = feature.shape[1]
    first_leaf = np.uint64(n_internal)
    max_score = float(n_trees) * float(window) * float(2 ** (height + 1) - 1)
    n = X.shape[0]
    d = np.uint64(X.shape[1])
    xf = X.reshape(-1)  # C-contiguous rows (the detector passes them so)
    # leaf node n is entry n - n_internal here and in path_score; a score-only
    # call counts into scratch (a branch in the loop would cost more than that)
    if learn:
        leaf_counts = l_mass[:, n_internal:]
    else:
        leaf_counts = np.zeros((n_trees, n_internal + 1), dtype=l_mass.dtype)
    total = np.zeros(n, dtype=np.int64)
    i = 0
    while i < n:
        end = n
        if learn and state[0] + (n - i) > window:
            end = i + (window - state[0])
        scoring = state[1] == 0
        for t in range(n_trees):
            ft = feature[t]
            th = threshold[t]
            lm = leaf_counts[t]
            ps = path_score[t]
            j = i
            while j + 8 <= end:
                r0 = np.uint64(j) * d
                r1 = r0 + d
                r2 = r1 + d
                r3 = r2 + d
                r4 = r3 + d
                r5 = r4 + d
                r6 = r5 + d
                r7 = r6 + d
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.uint64(0)
                for _ in range(height):
                    a0 = _down(xf, r0, ft, th, a0)
                    a1 = _down(xf, r1, ft, th, a1)
                    a2 = _down(xf, r2, ft, th, a2)
                    a3 = _down(xf, r3, ft, th, a3)
                    a4 = _down(xf, r4, ft, th, a4)
                    a5 = _down(xf, r5, ft, th, a5)
                    a6 = _down(xf, r6, ft, th, a6)
                    a7 = _down(xf, r7, ft, th, a7)
                _count(lm, ps, total, j, a0 - first_leaf)
                _count(lm, ps, total, j + 1, a1 - first_leaf)
                _count(lm, ps, total, j + 2, a2 - first_leaf)
                _count(lm, ps, total, j + 3, a3 - first_leaf)
                _count(lm, ps, total, j + 4, a4 - first_leaf)
                _count(lm, ps, total, j + 5, a5 - first_leaf)
                _count(lm, ps, total, j + 6, a6 - first_leaf)
                _count(lm, ps, total, j + 7, a7 - first_leaf)
                j += 8
            while j < end:
                r0 = np.uint64(j) * d
                a0 = np.uint64(0)
                for _ in range(height):
                    a0 = _down(xf, r0, ft, th, a0)
                _count(lm, ps, total, j, a0 - first_leaf)
                j += 1
        for j in range(i, end):
            out[j] = 1.0 - total[j] / max_score if scoring else 0.0
        if learn:
            state[0] += end - i
            if state[0] == window:
                swap_window(l_mass, r_mass, path_score, height, window, state)
        i = end
