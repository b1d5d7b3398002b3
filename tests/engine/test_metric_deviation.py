"""metric_deviation: kernel vs the naive twin, batching, snapshot, explanation, edge input."""

from __future__ import annotations

import numpy as np
import pytest
from naive_deviation import naive_metric_deviation

from pynomaly.engine import create_detector

CASES = [
    dict(top_k=3, smoothing=0.1, floor=0.01, relative_floor=0.0, cap=100.0, memory=0.0, learn_clip=0.0),
    dict(top_k=1, smoothing=1.0, floor=0.0, relative_floor=0.05, cap=8.0, memory=50.0, learn_clip=0.0),
    dict(top_k=5, smoothing=0.3, floor=0.1, relative_floor=0.02, cap=30.0, memory=0.0, learn_clip=3.0),
    dict(top_k=10, smoothing=0.05, floor=0.0, relative_floor=0.0, cap=50.0, memory=20.0, learn_clip=2.0),
]


def _stream(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, d))
    X[:, 0] = 1.0  # a constant metric that later moves (zero variance, zero range)
    X[300:, 0] = 2.0
    X[::11] = np.round(X[::11])  # ties
    X[150:170, 1 % d] += 9.0  # an incident
    return X


@pytest.mark.kernel
@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("d", [1, 4, 12])
def test_kernel_matches_naive_twin(case: int, d: int) -> None:
    params = CASES[case]
    X = _stream(d, case * 10 + d)
    got = create_detector("metric_deviation", **params).score_learn_many(X)
    np.testing.assert_allclose(got, naive_metric_deviation(X, **params), rtol=1e-10, atol=1e-12)


def test_batches_single_events_and_scoring_without_learning_agree() -> None:
    X = _stream(6, 1)
    whole = create_detector("metric_deviation").score_learn_many(X)
    b = create_detector("metric_deviation")
    parts = np.concatenate([b.score_learn_many(X[i : i + 37]) for i in range(0, len(X), 37)])
    np.testing.assert_array_equal(whole, parts)
    c = create_detector("metric_deviation")
    singles = [c.score_one(X[0])]
    c.learn_one(X[0])
    for x in X[1:60]:
        before = c.snapshot()
        singles.append(c.score_one(x))
        assert c.snapshot() == before  # scoring alone learns nothing
        c.learn_one(x)
    np.testing.assert_allclose(whole[:60], singles, rtol=1e-12)


def test_snapshot_round_trip_mid_stream() -> None:
    X = _stream(5, 2)
    det = create_detector("metric_deviation", learn_clip=4.0, memory=100.0)
    det.learn_many(X[:173])
    restored = type(det).restore(det.snapshot())
    np.testing.assert_array_equal(
        restored.score_learn_many(X[173:]), det.score_learn_many(X[173:])
    )


def test_explanation_names_the_incident_metrics() -> None:
    rng = np.random.default_rng(4)
    det = create_detector("metric_deviation")
    det.learn_many(rng.normal(size=(3000, 10)))
    shift = np.zeros(10)
    shift[[2, 7]] = 6.0
    incident = rng.normal(size=(25, 10)) + shift
    s = det.score_learn_many(incident)
    assert s[-1] > 3.0
    contrib = det.explain_one(incident[-1])
    assert sorted(np.argsort(-contrib)[:2].tolist()) == [2, 7]


def test_a_few_metrics_together_outrank_one_noisy_metric() -> None:
    """top-k averaging: three metrics at z=5 beat one metric at z=10 with k=3."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=(5000, 8))
    det = create_detector("metric_deviation", smoothing=1.0, top_k=3)
    det.learn_many(base)
    together = det.score_many(np.array([[5.0, 5.0, 5.0, 0, 0, 0, 0, 0]]))[0]
    alone = det.score_many(np.array([[10.0, 0, 0, 0, 0, 0, 0, 0]]))[0]
    assert together > alone


def test_constant_and_extreme_input_stay_finite() -> None:
    det = create_detector("metric_deviation", floor=0.0)
    X = np.r_[np.ones((20, 2)), [[np.nan, np.inf]], [[1e308, -1e308]], np.ones((3, 2))]
    s = det.score_learn_many(X)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)
    assert s[:20].max() == 0.0  # an unchanging metric deviates by nothing
