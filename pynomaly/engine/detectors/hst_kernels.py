"""Numba kernels of Half-Space Trees (see :mod:`pynomaly.engine.detectors.hst`).

Trees are complete binary trees of height ``h`` stored in heap order: node
``i`` has children ``2i + 1`` (``x[feature] < threshold``) and ``2i + 2``;
the ``2**h - 1`` internal nodes come first, then the ``2**h`` leaves. Masses
are ``(n_trees, 2**(h + 1) - 1)`` int32 arrays.

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
def build_trees(lo, hi, draws, padding, height, feature, threshold):
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
def score_learn(X, feature, threshold, l_mass, r_mass, height, window, state, learn, out):
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
    n_nodes = l_mass.shape[1]
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
                for t in range(n_trees):
                    for n in range(n_nodes):
                        r_mass[t, n] = l_mass[t, n]
                        l_mass[t, n] = 0
                state[0] = 0
                state[1] = 0


@njit(cache=True, nogil=True)
def explain(x, feature, threshold, r_mass, height, window, out):
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
def _path_scores(r_mass, height, size_limit, path_score):
    """Each node's share of River's score sum for a walk that reaches it.

    ``path_score[t, n]`` is ``sum r_mass * 2**depth`` over the nodes from the
    root to ``n`` that the walk counts (it stops after the first node whose
    reference mass is below the size limit), so a walk's total is the value at
    the leaf it ends in."""
    n_trees = r_mass.shape[0]
    open_ = np.empty(r_mass.shape[1], dtype=np.int64)
    for t in range(n_trees):
        path_score[t, 0] = r_mass[t, 0]
        open_[0] = 1
        first = 1
        pow2 = 2
        for _ in range(height):
            for n in range(first, 2 * first + 1):
                p = (n - 1) // 2
                walk = open_[p] & (r_mass[t, p] >= size_limit)
                open_[n] = walk
                path_score[t, n] = path_score[t, p] + walk * np.int64(r_mass[t, n]) * pow2
            first = 2 * first + 1
            pow2 *= 2


@njit(cache=True, nogil=True)
def _sum_internal(l_mass, n_internal):
    """Internal masses as the sums of their children (every path ends in a leaf)."""
    for t in range(l_mass.shape[0]):
        for n in range(n_internal - 1, -1, -1):
            l_mass[t, n] = l_mass[t, 2 * n + 1] + l_mass[t, 2 * n + 2]


@njit(cache=True, nogil=True)
def score_learn_batched(X, feature, threshold, l_mass, r_mass, height, window, state, learn, out):
    """:func:`score_learn` for batches, with the same results and state.

    Within one window the reference masses are fixed, so each walk's score is
    the precomputed :func:`_path_scores` value of its leaf, and learning only
    counts leaves: the internal masses are their children's sums, filled in
    at each window swap and before returning. Trees are taken one at a time
    and four events descend each tree together as independent chains.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> feature = rng.integers(0, 2, (3, 7)).astype(np.int32)
    >>> threshold = rng.random((3, 7))
    >>> X = rng.random((50, 2))
    >>> outs, masses = [], []
    >>> for kernel in (score_learn, score_learn_batched):
    ...     l, r = np.zeros((3, 15), np.uint16), np.zeros((3, 15), np.uint16)
    ...     st, out = np.array([0, 1]), np.empty(50)
    ...     kernel(X, feature, threshold, l, r, 3, 20, st, True, out)
    ...     outs.append(out); masses.append((l, r, st))
    >>> bool(np.array_equal(outs[0], outs[1]))
    True
    >>> all(np.array_equal(a, b) for a, b in zip(*masses))
    True
    """
    n_trees = feature.shape[0]
    n_nodes = l_mass.shape[1]
    n_internal = feature.shape[1]
    size_limit = SIZE_LIMIT_FRACTION * window
    max_score = float(n_trees) * float(window) * float(2 ** (height + 1) - 1)
    path_score = np.empty((n_trees, n_nodes), dtype=np.int64)
    _path_scores(r_mass, height, size_limit, path_score)
    n = X.shape[0]
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
            lm = l_mass[t]
            ps = path_score[t]
            j = i
            while j + 4 <= end:
                a = 0
                b = 0
                c = 0
                e = 0
                for _ in range(height):
                    a = 2 * a + 2 - (X[j, ft[a]] < th[a])
                    b = 2 * b + 2 - (X[j + 1, ft[b]] < th[b])
                    c = 2 * c + 2 - (X[j + 2, ft[c]] < th[c])
                    e = 2 * e + 2 - (X[j + 3, ft[e]] < th[e])
                if learn:
                    lm[a] += 1
                    lm[b] += 1
                    lm[c] += 1
                    lm[e] += 1
                total[j] += ps[a]
                total[j + 1] += ps[b]
                total[j + 2] += ps[c]
                total[j + 3] += ps[e]
                j += 4
            while j < end:
                a = 0
                for _ in range(height):
                    a = 2 * a + 2 - (X[j, ft[a]] < th[a])
                if learn:
                    lm[a] += 1
                total[j] += ps[a]
                j += 1
        for j in range(i, end):
            out[j] = 1.0 - total[j] / max_score if scoring else 0.0
        if learn:
            state[0] += end - i
            if state[0] == window:
                _sum_internal(l_mass, n_internal)
                for t in range(n_trees):
                    for q in range(n_nodes):
                        r_mass[t, q] = l_mass[t, q]
                        l_mass[t, q] = 0
                state[0] = 0
                state[1] = 0
                _path_scores(r_mass, height, size_limit, path_score)
        i = end
    if learn:
        _sum_internal(l_mass, n_internal)
