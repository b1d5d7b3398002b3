"""Rolling median/MAD: kernel vs np.median twin, eviction, snapshot, edge input."""

from __future__ import annotations

import numpy as np
import pytest
from naive_stats import naive_rolling_mad

from pynomaly.engine import create_detector


@pytest.mark.kernel
@pytest.mark.parametrize(("window", "d"), [(3, 1), (4, 2), (25, 3), (64, 1)])
def test_kernel_matches_naive_twin(window: int, d: int) -> None:
    rng = np.random.default_rng(window)
    X = rng.normal(size=(300, d))
    X[::7] = np.round(X[::7])  # ties
    X[::31] += 8.0
    det = create_detector("rolling_mad", window=window, warmup=2, eps=1e-6)
    got = det.score_learn_many(X)
    np.testing.assert_allclose(got, naive_rolling_mad(X, window, 2, 1e-6), rtol=1e-12)


def test_batches_and_single_events_agree() -> None:
    X = np.random.default_rng(0).standard_t(df=3, size=(400, 2))
    a = create_detector("rolling_mad", window=50)
    b = create_detector("rolling_mad", window=50)
    whole = a.score_learn_many(X)
    parts = np.concatenate([b.score_learn_many(X[i : i + 37]) for i in range(0, 400, 37)])
    np.testing.assert_array_equal(whole, parts)
    singles = []
    c = create_detector("rolling_mad", window=50)
    for x in X[:80]:
        singles.append(c.score_one(x))
        c.learn_one(x)
    np.testing.assert_array_equal(whole[:80], singles)


@pytest.mark.parametrize("n_learned", [10, 50, 173])
def test_snapshot_round_trip_mid_ring(n_learned: int) -> None:
    X = np.random.default_rng(1).normal(size=(300, 2))
    det = create_detector("rolling_mad", window=50, warmup=3)
    det.learn_many(X[:n_learned])
    restored = type(det).restore(det.snapshot())
    assert restored.snapshot() == det.snapshot()
    np.testing.assert_array_equal(
        restored.score_learn_many(X[n_learned:]), det.score_learn_many(X[n_learned:])
    )


def test_level_shift_is_absorbed_after_half_a_window() -> None:
    det = create_detector("rolling_mad", window=40, warmup=5)
    rng = np.random.default_rng(3)
    s = det.score_learn_many(np.r_[rng.normal(size=(200, 1)), 10 + rng.normal(size=(100, 1))])
    assert s[200] > 5.0
    assert np.median(s[260:]) < 2.0


def test_constant_and_extreme_input_stay_finite() -> None:
    det = create_detector("rolling_mad", window=10, warmup=1)
    X = np.r_[np.ones((20, 2)), [[np.nan, np.inf]], [[1e308, -1e308]], np.ones((3, 2))]
    s = det.score_learn_many(X)
    assert np.isfinite(s).all()
    assert s[1:20].max() == 0.0
