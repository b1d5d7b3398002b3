"""LODA: kernel vs naive twin, agreement with PySAD, explanation, edge input."""

from __future__ import annotations

import numpy as np
import pytest
from naive_projections import naive_loda

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.loda import draw_projections


def _stream(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=bool)
    y[rng.choice(np.arange(50, n), size=n // 50, replace=False)] = True
    X[y] += rng.choice([-1.0, 1.0], size=(int(y.sum()), d)) * rng.uniform(
        3, 6, size=(int(y.sum()), d)
    )
    return X, y


@pytest.mark.kernel
@pytest.mark.parametrize(("d", "n_bins"), [(1, 10), (3, 7), (9, 4), (20, 6)])  # 20: sparse path
def test_kernel_matches_naive_twin(d: int, n_bins: int) -> None:
    X, _ = _stream(250, d, seed=d)
    det = create_detector("loda", n_projections=12, n_bins=n_bins, seed=5)
    got = det.score_learn_many(X)
    idx, w = draw_projections(d, 12, seed=5)
    np.testing.assert_allclose(got, naive_loda(X, idx, w, n_bins), rtol=1e-9, atol=1e-9)


def test_score_many_learns_nothing_and_matches_score_one() -> None:
    X, _ = _stream(300, 2, seed=1)
    det = create_detector("loda", seed=2)
    det.learn_many(X[:200])
    before = det.snapshot()
    batch = det.score_many(X[200:])
    assert det.snapshot() == before
    assert [det.score_one(x) for x in X[200:210]] == pytest.approx(batch[:10], rel=1e-12)


def test_agrees_with_pysad_loda() -> None:
    pysad_models = pytest.importorskip("pysad.models")
    from sklearn.metrics import roc_auc_score

    X, y = _stream(2000, 4, seed=7)
    ours = create_detector("loda", n_projections=100, n_bins=10, seed=11).score_learn_many(X)
    ref_model = pysad_models.LODA(num_bins=10, num_random_cuts=100, random_state=11)
    ref = np.array([ref_model.fit_score_partial(x) for x in X])
    assert abs(roc_auc_score(y, ours) - roc_auc_score(y, ref)) < 0.01
    assert np.corrcoef(ours, ref)[0, 1] > 0.999
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_detects_injected_anomalies() -> None:
    from sklearn.metrics import roc_auc_score

    X, y = _stream(3000, 4, seed=3)
    s = create_detector("loda", seed=0).score_learn_many(X)
    assert roc_auc_score(y[200:], s[200:]) > 0.9


def test_explanation_points_at_the_shifted_feature() -> None:
    rng = np.random.default_rng(4)
    det = create_detector("loda", n_projections=200, seed=4)
    det.learn_many(rng.normal(size=(2000, 6)))
    x = np.zeros(6)
    x[3] = 9.0
    contrib = det.explain_one(x)
    assert contrib.shape == (6,)
    assert int(np.argmax(contrib)) == 3


def test_extreme_and_constant_input_stay_finite() -> None:
    det = create_detector("loda", n_projections=20, seed=0)
    X = np.r_[
        np.ones((50, 3)), [[np.nan, np.inf, -np.inf]], [[1e308, -1e308, 0.0]], np.ones((5, 3))
    ]
    s = det.score_learn_many(X)
    assert np.isfinite(s).all()
    assert np.isfinite(det.score_one([2.0, 2.0, 2.0]))


def test_state_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="n_projections \\* n_bins"):
        create_detector("loda", n_projections=10_000, n_bins=10_000)
