"""Half-Space Trees: kernels against the naive twin, and against River's HalfSpaceTrees."""

from __future__ import annotations

import numpy as np
import pytest
from naive_trees import HSNode, NaiveHalfSpaceTrees
from pydantic import ValidationError
from river.anomaly import HalfSpaceTrees as RiverHalfSpaceTrees
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.hst import HalfSpaceTrees, auto_limits, river_draws


def river_scores(X: np.ndarray, limits: np.ndarray | None, **params) -> np.ndarray:
    """Score-then-learn over X with River's HalfSpaceTrees, features keyed 0..d-1."""
    river_limits = None if limits is None else {j: tuple(limits[:, j]) for j in range(X.shape[1])}
    model = RiverHalfSpaceTrees(limits=river_limits, **params)
    out = []
    for row in X:
        x = dict(enumerate(row.tolist()))
        out.append(model.score_one(x))
        model.learn_one(x)
    return np.array(out)


def stream(n: int = 900, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.1, 1.1, size=(n, d))  # some values beyond the unit limits
    X[rng.choice(n, size=n // 50, replace=False)] = rng.uniform(-3, 3, size=(n // 50, d))
    return X


def walk_pairs(feature, threshold, root: HSNode, height: int):
    """Yield (heap index, naive node) for every internal node."""
    todo = [(0, root)]
    while todo:
        i, node = todo.pop()
        if node.left is None:
            continue
        yield i, node
        todo += [(2 * i + 1, node.left), (2 * i + 2, node.right)]


@pytest.mark.kernel
@pytest.mark.parametrize(("height", "d"), [(1, 1), (4, 3), (7, 5)])
def test_build_matches_naive(height, d):
    det = HalfSpaceTrees(n_trees=3, height=height, window_size=10, seed=4, limits="unit")
    det.learn_many(np.zeros((1, d)))
    naive = NaiveHalfSpaceTrees(np.stack([np.zeros(d), np.ones(d)]),
                                river_draws(4, 3, height), height, 10)
    for t, root in enumerate(naive.trees):
        pairs = list(walk_pairs(det._feature[t], det._threshold[t], root, height))
        assert len(pairs) == 2**height - 1
        for i, node in pairs:
            assert det._feature[t, i] == node.feature
            assert det._threshold[t, i] == node.split


@pytest.mark.kernel
@pytest.mark.parametrize(("n_trees", "height", "window"), [(3, 3, 20), (5, 6, 50), (2, 8, 7)])
def test_scores_and_explanations_match_naive(n_trees, height, window):
    X = stream(n=6 * window + 5, d=3, seed=height)
    limits = np.array([[-0.2, 0.0, 0.1], [1.0, 1.3, 0.9]])
    det = HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window, seed=9,
                         limits=tuple(map(tuple, limits.T)))
    naive = NaiveHalfSpaceTrees(limits, river_draws(9, n_trees, height), height, window)
    expected = []
    for row in X:
        expected.append(naive.score(row))
        naive.learn(row)
    np.testing.assert_array_equal(det.score_learn_many(X), np.array(expected))
    for row in X[:40]:
        np.testing.assert_allclose(det.explain_one(row), naive.explain(row), rtol=1e-9, atol=1e-12)
        assert det.explain_one(row).sum() == pytest.approx(det.score_one(row), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "params",
    [dict(n_trees=10, height=8, window_size=250, seed=42), dict(n_trees=4, height=3, window_size=25, seed=1)],
)
def test_scores_equal_rivers_with_unit_limits(params):
    X = stream(n=1200, d=4, seed=1)
    ours = create_detector("hst", limits="unit", **params).score_learn_many(X)
    np.testing.assert_allclose(ours, river_scores(X, None, **params), rtol=0, atol=1e-12)


def test_auto_limits_equal_rivers_on_the_stream_scaled_by_them(reference_stream):
    X, y = reference_stream
    params = dict(n_trees=10, height=8, window_size=250, seed=7)
    det = create_detector("hst", **params)
    ours = det.score_learn_many(X)
    limits = auto_limits(X[:250].copy())
    theirs = river_scores((X - limits[0]) / (limits[1] - limits[0]), None, **params)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    after = slice(1000, None)
    assert roc_auc_score(y[after], ours[after]) == pytest.approx(
        roc_auc_score(y[after], theirs[after]), abs=0.01
    )
    assert spearmanr(ours[after], theirs[after]).statistic > 0.9
    assert roc_auc_score(y[after], ours[after]) > 0.85


def test_auto_mode_buffers_first_window_across_batches():
    X = stream(n=700, d=2, seed=3)
    whole = create_detector("hst", window_size=100, seed=2).score_learn_many(X)
    det = create_detector("hst", window_size=100, seed=2)
    parts = [det.score_learn_many(X[a:b]) for a, b in [(0, 30), (30, 99), (99, 101), (101, 700)]]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert np.all(whole[:100] == 0.0) and np.all(whole[100:] > 0.0)


def test_snapshot_mid_window_and_while_buffering():
    X = stream(n=600, d=3, seed=5)
    for cut in (40, 333):
        det = create_detector("hst", window_size=100, seed=8)
        det.learn_many(X[:cut])
        clone = HalfSpaceTrees.restore(det.snapshot())
        np.testing.assert_array_equal(clone.score_learn_many(X[cut:]), det.score_learn_many(X[cut:]))


def test_constant_feature_and_out_of_range_values_stay_in_unit_interval():
    X = np.c_[np.full(500, 3.0), np.linspace(0.0, 1.0, 500)]
    det = create_detector("hst", window_size=50)
    s = det.score_learn_many(np.r_[X, [[1e150, -1e150]]])
    assert np.all((s >= 0.0) & (s <= 1.0))
    assert s[-1] > np.max(s[100:-1])


def test_parameter_validation():
    with pytest.raises(ValidationError):
        create_detector("hst", limits=((1.0, 0.0),))
    with pytest.raises(ValidationError):
        create_detector("hst", n_trees=1000, height=20)
    det = create_detector("hst", limits=((0.0, 1.0),))
    with pytest.raises(ValueError, match="1 limits for 2 features"):
        det.learn_many(np.zeros((3, 2)))


@pytest.mark.parametrize("height,window", [(3, 20), (6, 50), (8, 250)])
def test_batched_kernel_equals_the_per_row_kernel(height: int, window: int) -> None:
    """Scores, masses, path scores and counters stay identical whatever the
    batch cuts, across window swaps, with score-only calls in between, and
    with the two kernels taking turns on one state."""
    from pynomaly.engine.detectors.hst_kernels import (
        score_learn,
        score_learn_batched,
        sum_internal,
    )

    rng = np.random.default_rng(height)
    n_trees, d = 5, 3
    n_internal = 2**height - 1
    feature = rng.integers(0, d, (n_trees, n_internal)).astype(np.int32)
    threshold = rng.random((n_trees, n_internal))
    X = stream(n=7 * window + 13, d=d, seed=height)
    cuts = np.sort(rng.choice(np.arange(1, X.shape[0]), size=12, replace=False))
    states = []
    for kernels in ((score_learn,), (score_learn_batched,), (score_learn_batched, score_learn)):
        l_mass = np.zeros((n_trees, 2 * n_internal + 1), dtype=np.uint16)
        r_mass = np.zeros_like(l_mass)
        path_score = np.zeros((n_trees, n_internal + 1), dtype=np.uint32)
        st = np.array([0, 1], dtype=np.int64)
        outs = []
        for k, part in enumerate(np.split(X, cuts)):
            learn = k % 4 != 3  # every fourth part is scored only
            out = np.empty(part.shape[0])
            kernel = kernels[k % len(kernels)]
            kernel(part, feature, threshold, l_mass, r_mass, path_score, height, window, st,
                   learn, out)  # fmt: skip
            outs.append(out)
        sum_internal(l_mass)
        states.append((np.concatenate(outs), l_mass, r_mass, path_score, st))
    for other in states[1:]:
        for a, b in zip(states[0], other, strict=True):
            assert np.array_equal(a, b)
    assert states[0][0].max() > 0  # past the first window: real scores compared
