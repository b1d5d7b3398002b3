"""Random Cut Forest: kernels against the naive twin and against the rrcf package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_trees import NaiveRandomCutForest, SplitMix64
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.rcf import TREE_ARRAYS, RandomCutForest
from pynomaly.engine.detectors.rcf_kernels import COUNT, rebuild_boxes, uniform


def load_rrcf():
    """rrcf's tree module, loaded without the package ``__init__`` (which needs
    ``pkg_resources``, gone from recent setuptools)."""
    spec = importlib.util.find_spec("rrcf")
    if spec is None:
        pytest.fail("rrcf is not installed (it is in the dev extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / "rrcf.py"
    module_spec = importlib.util.spec_from_file_location("rrcf_tree", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def tree_seeds(seed: int, n_trees: int) -> np.ndarray:
    return np.random.SeedSequence(seed).generate_state(n_trees, dtype=np.uint64)


def labelled_stream(n: int = 700, d: int = 3, seed: int = 0):
    """Gaussian events with 2 % far outliers after the first 200, plus repeats."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=int)
    spikes = rng.choice(np.arange(200, n), size=n // 50, replace=False)
    X[spikes] += rng.choice([-1, 1], size=(len(spikes), d)) * rng.uniform(5, 8, size=(len(spikes), d))
    y[spikes] = 1
    return X, y


def leaf_box_corrected(rrcf):
    """rrcf's tree with one defect fixed and one draw spared.

    The defect: a leaf's box is stored as one row (shape ``(1, d)``), so
    ``_insert_point_cut`` writes the lower and upper corners of the extended
    box into the same row and always cuts dimension 0 at ``max(x0, leaf0)``
    when separating a point from a leaf, instead of drawing the cut over the
    box of both points (Guha et al. 2016, §3.1).

    The spared draw: at a node whose box holds the point, rrcf's cut always
    falls inside the box and the point follows the node's own cut, so the
    draw changes nothing but the random state; the kernels skip it. Here
    the cut returned is the middle of the widest side (inside the box) and no
    number is drawn."""

    class CorrectedTree(rrcf.RCTree):
        def _insert_point_cut(self, point, bbox):
            if bbox.shape[0] == 1:
                bbox = np.vstack([bbox, bbox])
            if np.all(bbox[0] <= point) and np.all(point <= bbox[-1]):
                q = int(np.argmax(bbox[-1] - bbox[0]))
                return q, (bbox[0, q] + bbox[-1, q]) / 2
            return super()._insert_point_cut(point, bbox)

    return CorrectedTree


def rrcf_scores(tree_class, X, n_trees, tree_size, rngs):
    """rrcf's streaming loop: insert, CoDisp, then forget the oldest beyond tree_size."""
    forest = []
    for rng in rngs:
        tree = tree_class()
        tree.rng = rng
        forest.append(tree)
    out = []
    for i, x in enumerate(X):
        total = 0.0
        for tree in forest:
            tree.insert_point(x, index=i)
            total += tree.codisp(i)
            if len(tree.leaves) > tree_size:
                tree.forget_point(i - tree_size)
        out.append(total / n_trees)
    return np.array(out)


@pytest.mark.kernel
def test_uniform_is_splitmix64():
    state = np.array([12345, 2**64 - 1], dtype=np.uint64)
    ours = [[uniform(state, t) for _ in range(5)] for t in range(2)]
    for t, seed in enumerate([12345, 2**64 - 1]):
        twin = SplitMix64(seed)
        assert ours[t] == [twin.random() for _ in range(5)]


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("n_trees", "tree_size", "d", "shingle"), [(3, 16, 1, 1), (4, 64, 3, 1), (2, 32, 2, 3), (1, 2, 2, 1)]
)
def test_scores_and_attributions_match_naive(n_trees, tree_size, d, shingle):
    rng = np.random.default_rng(tree_size)
    X = rng.normal(size=(400, d))
    X[150:170] = X[100:120]  # exact repeats: duplicate leaves
    X[250:300] = 0.5  # a constant run: one leaf with a large count
    X[320] = 1e150
    det = RandomCutForest(n_trees=n_trees, tree_size=tree_size, shingle_size=shingle, seed=5)
    naive = NaiveRandomCutForest(tree_seeds(5, n_trees), tree_size, d)
    for i, x in enumerate(X):
        expected_attr = det.explain_one(x)
        score = det.score_learn_many(x[None])[0]
        if i < shingle - 1:
            assert score == 0.0
            continue
        want, want_attr = naive.score_learn(X[i - shingle + 1 : i + 1].ravel())
        assert score == want, f"event {i}"
        np.testing.assert_allclose(expected_attr, want_attr, rtol=1e-12, atol=1e-12)
        assert expected_attr.sum() == pytest.approx(score, rel=1e-9, abs=1e-12)


@pytest.mark.kernel
@settings(max_examples=40, deadline=None)
@given(
    n_trees=st.integers(1, 3),
    tree_size=st.integers(2, 24),
    d=st.integers(1, 3),
    levels=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_tied_and_repeated_values_match_naive(n_trees, tree_size, d, levels, seed):
    """Few distinct values per feature: equal points, zero-width boxes, points on
    box edges and tied CoDisp ratios everywhere; scores, attributions and
    score-only calls must still equal the twin's."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, levels, size=(150, d)).astype(float)
    det = RandomCutForest(n_trees=n_trees, tree_size=tree_size, seed=seed % 1000)
    naive = NaiveRandomCutForest(tree_seeds(seed % 1000, n_trees), tree_size, d)
    for x in X:
        alone = det.score_one(x)
        attribution = det.explain_one(x)
        score = det.score_learn_many(x[None])[0]
        want, want_attr = naive.score_learn(x)
        assert score == want == alone
        np.testing.assert_allclose(attribution, want_attr, rtol=1e-12, atol=1e-12)


def test_scores_equal_rrcf_given_the_same_random_draws():
    """With rrcf's leaf-box defect corrected (and its no-op draws spared),
    rrcf computes exactly our scores."""
    tree_class = leaf_box_corrected(load_rrcf())
    X, _ = labelled_stream(n=400, d=3, seed=1)
    X[300:310] = X[200:210]
    ours = RandomCutForest(n_trees=4, tree_size=48, seed=9).score_learn_many(X)
    theirs = rrcf_scores(tree_class, X, 4, 48, [SplitMix64(s) for s in tree_seeds(9, 4)])
    np.testing.assert_array_equal(ours, theirs)


def test_agrees_with_rrcf_in_distribution():
    """Independent random draws: same detection quality, correlated scores."""
    rrcf = load_rrcf()
    X, y = labelled_stream(n=700, d=3, seed=2)
    theirs = rrcf_scores(rrcf.RCTree, X, 10, 64, [np.random.RandomState(i) for i in range(10)])
    ours = RandomCutForest(n_trees=10, tree_size=64, seed=3).score_learn_many(X)
    ours_again = RandomCutForest(n_trees=10, tree_size=64, seed=4).score_learn_many(X)
    after = slice(200, None)
    auc_ours, auc_theirs = roc_auc_score(y[after], ours[after]), roc_auc_score(y[after], theirs[after])
    assert auc_ours > 0.95 and abs(auc_ours - auc_theirs) <= 0.01
    peer = spearmanr(ours[after], theirs[after]).statistic
    self_agreement = spearmanr(ours[after], ours_again[after]).statistic
    assert peer > 0.5 and abs(peer - self_agreement) < 0.1


def test_shingles_equal_scoring_pre_shingled_points():
    rng = np.random.default_rng(3)
    x = np.sin(np.arange(600) / 5.0) + 0.1 * rng.normal(size=600)
    det = create_detector("rcf", n_trees=8, tree_size=64, shingle_size=4, seed=2)
    parts = [det.score_learn_many(x[a:b, None]) for a, b in [(0, 2), (2, 3), (3, 250), (250, 600)]]
    shingled = np.lib.stride_tricks.sliding_window_view(x, 4)
    plain = create_detector("rcf", n_trees=8, tree_size=64, seed=2).score_learn_many(shingled)
    got = np.concatenate(parts)
    np.testing.assert_array_equal(got[:3], 0.0)
    np.testing.assert_array_equal(got[3:], plain)


def live_internal(trees, t: int) -> list[int]:
    free = set(trees["free"][t, : trees["n_free"][t]].tolist())
    return [n for n in range(trees["box"].shape[1]) if n not in free]


def test_window_holds_the_last_tree_size_points_and_boxes_rebuild_exactly():
    X, _ = labelled_stream(n=300, d=2, seed=4)
    det = RandomCutForest(n_trees=3, tree_size=50, seed=1)
    det.learn_many(X)
    trees = det._trees
    assert np.all(trees["links"][np.arange(3), trees["root"], COUNT] == 50)
    held = {tuple(p) for p, leaf in zip(det._points, trees["slot_leaf"][0], strict=True) if leaf >= 0}
    assert held == {tuple(x) for x in X[-50:]}
    rebuilt = {k: v.copy() for k, v in trees.items()}
    rebuilt["box"][:, :, 1:] = np.nan
    rebuild_boxes(tuple(rebuilt[k] for k in TREE_ARRAYS), det._points)
    for t in range(3):
        live = live_internal(trees, t)
        assert len(live) == 49
        np.testing.assert_array_equal(rebuilt["box"][t, live], trees["box"][t, live])


def test_scoring_alone_leaves_the_forest_unchanged():
    X, _ = labelled_stream(n=300, d=2, seed=5)
    det = RandomCutForest(n_trees=5, tree_size=32, seed=1)
    det.learn_many(X[:100])
    before = {k: v.copy() for k, v in det._trees.items()}
    det.score_many(X[100:])
    det.explain_one(X[150])
    for k in TREE_ARRAYS:
        if k != "box":  # boxes of unused nodes are left as they are
            np.testing.assert_array_equal(det._trees[k], before[k], err_msg=k)
    for t in range(5):
        live = live_internal(before, t)
        np.testing.assert_array_equal(det._trees["box"][t, live], before["box"][t, live])


def test_outlier_scores_high_and_explanation_names_its_feature():
    X, _ = labelled_stream(n=500, d=4, seed=6)
    det = create_detector("rcf", seed=0)
    det.learn_many(X[:500])
    probe = np.array([0.0, 0.0, 12.0, 0.0])
    assert det.score_one(probe) > np.quantile(det.score_many(X[300:500]), 0.99)
    assert int(np.argmax(det.explain_one(probe))) == 2


def test_too_many_dimensions_is_refused():
    with pytest.raises(ValueError, match="40960 dimensions"):
        RandomCutForest(shingle_size=1024).learn_many(np.zeros((1, 40)))


@pytest.mark.kernel
def test_batches_longer_than_a_chunk_match_naive():
    """One call spanning several chunks and ring wraps equals the event-by-event twin."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(700, 2))
    X[600:650] = X[500:550]
    det = RandomCutForest(n_trees=3, tree_size=16, seed=2)
    naive = NaiveRandomCutForest(tree_seeds(2, 3), 16, 2)
    np.testing.assert_array_equal(det.score_learn_many(X), [naive.score_learn(x)[0] for x in X])
    probe = rng.normal(size=(300, 2))
    np.testing.assert_array_equal(det.score_many(probe), [det.score_one(x) for x in probe])
