"""Seasonal baseline: kernel vs naive twin, phase handling, detection, edge input."""

from __future__ import annotations

import numpy as np
import pytest
from naive_stats import naive_seasonal

from pynomaly.engine import create_detector


def _daily(n_days: int, d: int, seed: int) -> np.ndarray:
    t = np.arange(24 * n_days)
    rng = np.random.default_rng(seed)
    base = 10 + 5 * np.sin(2 * np.pi * t / 24)
    return base[:, None] * np.arange(1, d + 1) + rng.normal(0, 0.5, size=(t.size, d))


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("period", "n_bins", "warmup", "clip_z"),
    [(24, None, 3, 6.0), (24, 6, 1, 0.0), (7.5, 3, 2, 3.0)],
)
def test_kernel_matches_naive_twin(period, n_bins, warmup, clip_z) -> None:
    X = _daily(12, 2, seed=1)
    X[::53] += 9.0
    det = create_detector("seasonal", period=period, n_bins=n_bins, warmup=warmup, clip_z=clip_z)
    got = det.score_learn_many(X)
    bins = n_bins if n_bins is not None else round(period)
    want = naive_seasonal(X, period, bins, 0.1, warmup, clip_z, 1e-9, phase_feature=False)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.kernel
def test_phase_feature_matches_naive_twin_and_ignores_order() -> None:
    X = _daily(10, 1, seed=2)
    hours = (np.arange(len(X)) % 24).astype(float)
    rows = np.c_[X, hours + 0.25]
    det = create_detector("seasonal", period=24, phase_feature=True)
    got = det.score_learn_many(rows)
    want = naive_seasonal(rows, 24, 24, 0.1, 3, 6.0, 1e-9, phase_feature=True)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # With the phase given, dropping events does not shift later phases.
    kept = np.ones(len(rows), dtype=bool)
    kept[30:40] = False
    other = create_detector("seasonal", period=24, phase_feature=True)
    s = other.score_learn_many(rows[kept])
    assert np.median(s[100:]) < 3.0
    assert det.explain_one(rows[-1])[-1] == 0.0


def test_flags_a_missing_peak_that_a_global_baseline_misses() -> None:
    X = _daily(20, 1, seed=0)
    target = 24 * 19 + 6  # peak hour on the last day
    X[target] = 10.0  # the daily mean: normal overall, abnormal for this hour
    s = create_detector("seasonal", period=24).score_learn_many(X)
    z = create_detector("robust_zscore").score_learn_many(X)
    assert int(np.argmax(s[24 * 5 :])) + 24 * 5 == target
    assert z[target] < np.quantile(z[24 * 5 :], 0.9)


def test_score_many_scores_every_row_in_the_next_phase_without_learning() -> None:
    X = _daily(6, 1, seed=3)
    det = create_detector("seasonal", period=24)
    det.learn_many(X[:120])
    before = det.snapshot()
    batch = det.score_many(X[120:144])
    assert det.snapshot() == before
    assert batch.tolist() == [det.score_one(x) for x in X[120:144]]
    assert batch[0] < 3.0 < batch[6]  # all rows are judged against phase 120 % 24 == 0


def test_phase_feature_needs_a_value_column() -> None:
    det = create_detector("seasonal", phase_feature=True)
    with pytest.raises(ValueError, match="at least 2 features"):
        det.score_one([1.0])


def test_constant_and_extreme_input_stay_finite() -> None:
    det = create_detector("seasonal", period=4, warmup=1)
    X = np.r_[np.ones((40, 2)), [[np.nan, np.inf]], [[1e308, -1e308]], np.ones((8, 2))]
    s = det.score_learn_many(X)
    assert np.isfinite(s).all()
    assert s[:40].max() == 0.0
