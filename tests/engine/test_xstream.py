"""xStream: kernel vs dict-of-tuples twin, PySAD agreement, windows, snapshot, edge input."""

from __future__ import annotations

import numpy as np
import pytest
from naive_projections import naive_xstream
from sklearn.metrics import roc_auc_score

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.xstream import _murmur3_32, draw_chains, streamhash_matrix


def _stream(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=bool)
    y[rng.choice(np.arange(n // 3, n), size=max(1, n // 60), replace=False)] = True
    X[y] += rng.choice([-1.0, 1.0], size=(int(y.sum()), d)) * 4.0
    return X, y


def test_murmur3_matches_reference_values() -> None:
    # Reference values of MurmurHash3_x86_32 (smhasher): "" seed 0 -> 0,
    # "" seed 1 -> 0x514E28B7, "hello" seed 0 -> 0x248BFA47.
    assert _murmur3_32(b"", 0) == 0
    assert _murmur3_32(b"", 1) == 0x514E28B7
    assert _murmur3_32(b"hello", 0) == 0x248BFA47


@pytest.mark.kernel
@pytest.mark.parametrize(("d", "depth", "window"), [(1, 4, 20), (3, 6, 32), (12, 5, 25)])
def test_kernel_matches_naive_twin(d: int, depth: int, window: int) -> None:
    X, _ = _stream(130, d, seed=d)
    det = create_detector(
        "xstream", n_components=8, n_chains=6, depth=depth, window_size=window, seed=3
    )
    got = det.score_learn_many(X) - (depth + 1)
    proj = streamhash_matrix(d, 8, 1 / 3)
    features, fractions, _ = draw_chains(8, 6, depth, 3)
    np.testing.assert_allclose(got, naive_xstream(X, proj, features, fractions, window), atol=1e-9)


def test_agrees_with_pysad_xstream() -> None:
    pysad_models = pytest.importorskip("pysad.models")
    X, y = _stream(900, 4, seed=5)
    kw = {"n_chains": 25, "depth": 10, "window_size": 64}
    ours = create_detector("xstream", seed=4, **kw).score_learn_many(X)
    ref_model = pysad_models.xStream(num_components=100, random_state=4, **kw)
    ref = np.array([ref_model.fit_score_partial(x) for x in X])
    assert abs(roc_auc_score(y[64:], ours[64:]) - roc_auc_score(y[64:], ref[64:])) < 0.01
    np.testing.assert_allclose(ours - 11, ref, atol=1e-9)


@pytest.mark.parametrize("n_learned", [30, 64, 200])
def test_snapshot_round_trip_in_and_after_the_first_window(n_learned: int) -> None:
    X, _ = _stream(400, 2, seed=3)
    det = create_detector("xstream", n_chains=10, depth=8, window_size=64)
    det.learn_many(X[:n_learned])
    restored = type(det).restore(det.snapshot())
    assert restored.snapshot() == det.snapshot()
    np.testing.assert_array_equal(
        restored.score_learn_many(X[n_learned:]), det.score_learn_many(X[n_learned:])
    )


def test_table_grows_and_batches_match_single_events() -> None:
    X, _ = _stream(300, 3, seed=1)
    whole = create_detector("xstream", n_chains=40, depth=12, window_size=50)
    a = whole.score_learn_many(X)
    assert whole._table.shape[0] > 1024
    parts = create_detector("xstream", n_chains=40, depth=12, window_size=50)
    b = np.concatenate([parts.score_learn_many(X[i : i + 7]) for i in range(0, 300, 7)])
    np.testing.assert_array_equal(a, b)


def test_detects_injected_anomalies() -> None:
    X, y = _stream(3000, 4, seed=2)
    s = create_detector("xstream", seed=0).score_learn_many(X)
    assert roc_auc_score(y[512:], s[512:]) > 0.9


def test_constant_and_extreme_input_stay_finite() -> None:
    det = create_detector("xstream", n_chains=10, depth=8, window_size=16)
    X = np.r_[
        np.ones((40, 3)), [[np.nan, np.inf, -np.inf]], [[1e308, -1e308, 0.0]], np.ones((5, 3))
    ]
    s = det.score_learn_many(X)
    assert np.isfinite(s).all()


def test_table_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="window_size \\* n_chains \\* depth"):
        create_detector("xstream", n_chains=4096, depth=64, window_size=256)
