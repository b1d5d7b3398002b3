"""RS-Hash: kernel vs exact-count twin, PySAD agreement, warm-up, snapshot, edge input."""

from __future__ import annotations

import numpy as np
import pytest
from naive_projections import naive_rshash
from sklearn.metrics import roc_auc_score

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.rshash import draw_components


def _stream(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=bool)
    y[rng.choice(np.arange(min(300, n // 2), n), size=n // 60, replace=False)] = True
    X[y] += rng.choice([-1.0, 1.0], size=(int(y.sum()), d)) * 4.0
    return X, y


@pytest.mark.kernel
@pytest.mark.parametrize(("d", "decay"), [(1, 0.015), (3, 0.1), (6, 0.015)])
def test_kernel_matches_exact_count_twin(d: int, decay: float) -> None:
    X, _ = _stream(200, d, seed=d)
    mins, maxes = X.min(axis=0), X.max(axis=0)
    det = create_detector(
        "rshash",
        n_components=20,
        decay=decay,
        n_hash_fns=4,
        hash_range=2**16,
        feature_mins=mins.tolist(),
        feature_maxes=maxes.tolist(),
        seed=9,
    )
    got = det.score_learn_many(X) - det._offset
    scales, dims, n_dims, shifts, _ = draw_components(mins, maxes, 20, decay, 9)
    want = naive_rshash(X, mins, maxes, scales, dims, n_dims, shifts, decay)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_agrees_with_pysad_rshash() -> None:
    pysad_models = pytest.importorskip("pysad.models")
    X, y = _stream(2000, 4, seed=5)
    mins, maxes = X.min(axis=0), X.max(axis=0)
    det = create_detector(
        "rshash", feature_mins=mins.tolist(), feature_maxes=maxes.tolist(), seed=4
    )
    ours = det.score_learn_many(X)
    ref_model = pysad_models.RSHash(mins, maxes, random_state=4)
    ref = np.array([ref_model.fit_score_partial(x) for x in X])
    assert abs(roc_auc_score(y, ours) - roc_auc_score(y, ref)) < 0.01
    assert np.corrcoef(ours, ref)[0, 1] > 0.99
    # Same cells; only hash collisions differ, so most scores agree closely.
    assert np.median(np.abs(ours - det._offset - ref)) < 0.05


def test_warmup_buffers_then_learns_in_order() -> None:
    X, y = _stream(1500, 3, seed=2)
    det = create_detector("rshash", warmup=100, seed=1)
    s = np.concatenate([det.score_learn_many(X[i : i + 64]) for i in range(0, 1500, 64)])
    assert np.all(s[:100] == 0.0)
    given = create_detector(
        "rshash",
        feature_mins=X[:100].min(axis=0).tolist(),
        feature_maxes=X[:100].max(axis=0).tolist(),
        seed=1,
    )
    ref = given.score_learn_many(X)
    np.testing.assert_array_equal(s[100:], ref[100:])
    assert roc_auc_score(y[300:], s[300:]) > 0.9


@pytest.mark.parametrize("n_learned", [40, 700])
def test_snapshot_round_trip(n_learned: int) -> None:
    X, _ = _stream(900, 2, seed=3)
    det = create_detector("rshash", warmup=64, seed=2)
    det.learn_many(X[:n_learned])
    restored = type(det).restore(det.snapshot())
    assert restored.snapshot() == det.snapshot()
    np.testing.assert_array_equal(
        restored.score_learn_many(X[n_learned:]), det.score_learn_many(X[n_learned:])
    )


def test_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="both"):
        create_detector("rshash", feature_mins=[0.0])
    det = create_detector("rshash", feature_mins=[0.0, 0.0], feature_maxes=[1.0, 1.0])
    with pytest.raises(ValueError, match="feature_mins has 2 values"):
        det.score_one([0.5])


def test_constant_and_extreme_input_stay_finite() -> None:
    det = create_detector("rshash", warmup=10, n_components=20)
    X = np.r_[
        np.ones((30, 3)), [[np.nan, np.inf, -np.inf]], [[1e308, -1e308, 0.0]], np.ones((5, 3))
    ]
    s = det.score_learn_many(X)
    assert np.isfinite(s).all()


def test_sketch_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="n_hash_fns \\* hash_range"):
        create_detector("rshash", n_hash_fns=16, hash_range=2**26)
