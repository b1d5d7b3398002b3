"""Ensemble: p-value combination against scipy, detector contract, snapshots."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from pynomaly.engine import create_detector, restore_detector
from pynomaly.engine.ensemble import combine_p_values, fisher_log_p

MEMBERS = [
    {"detector": "robust_zscore", "params": {"alpha": 0.05, "warmup": 5}},
    {"detector": "robust_zscore", "params": {"alpha": 0.01, "warmup": 5}, "weight": 3.0},
]
SMALL_CAL = {"kind": "conformal", "window": 100}


def test_combinations_match_their_definitions():
    rng = np.random.default_rng(0)
    P = rng.uniform(0.001, 1.0, size=(50, 3))
    w = np.array([1.0, 2.0, 5.0])
    np.testing.assert_allclose(combine_p_values(P, "mean", w), P.mean(axis=1))
    np.testing.assert_allclose(combine_p_values(P, "weighted", w), (P * w).sum(axis=1) / w.sum())
    np.testing.assert_allclose(combine_p_values(P, "max", w), np.minimum(1, 3 * P.min(axis=1)))
    fisher = [stats.combine_pvalues(row, method="fisher").pvalue for row in P]
    np.testing.assert_allclose(combine_p_values(P, "fisher", w), fisher, rtol=1e-10)
    np.testing.assert_allclose(np.exp(fisher_log_p(P)), fisher, rtol=1e-10)
    with pytest.raises(ValueError, match="unknown combination"):
        combine_p_values(P, "median", w)


@pytest.mark.parametrize("combine", ["mean", "weighted", "max", "fisher"])
def test_ensemble_score_is_surprise_of_the_combined_p(combine):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    ens = create_detector("ensemble", members=MEMBERS, combine=combine, calibration=SMALL_CAL)
    members = [create_detector(m["detector"], **m["params"]) for m in MEMBERS]
    cals = [create_detector("ensemble", members=[m], calibration=SMALL_CAL) for m in MEMBERS]
    got = ens.score_learn_many(X)
    single = np.column_stack([10.0 ** -c.score_learn_many(X) for c in cals])  # each member's own p
    expected = -np.log10(np.maximum(combine_p_values(single, combine, np.array([1.0, 3.0])), 1e-300))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert all(m.n_features is None for m in members)


def test_fisher_keeps_resolution_when_p_underflows():
    ens = create_detector("ensemble", members=MEMBERS * 3, combine="fisher",
                          calibration={"kind": "spot", "n_init": 200, "level": 0.9, "q": 1e-3})
    rng = np.random.default_rng(2)
    ens.learn_many(rng.normal(size=(400, 2)))
    s = ens.score_many(np.array([[30.0, 0.0], [60.0, 0.0]]))
    assert np.all(np.isfinite(s)) and s[1] > s[0] > 300


def test_ensemble_snapshot_and_pickle_round_trip():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    ens = create_detector("ensemble", members=MEMBERS, combine="weighted", calibration=SMALL_CAL)
    ens.learn_many(X[:150])
    twin = restore_detector(ens.snapshot())
    np.testing.assert_array_equal(twin.score_learn_many(X[150:]), ens.score_learn_many(X[150:]))
    again = pickle.loads(pickle.dumps(ens))
    np.testing.assert_array_equal(again.score_many(X[:5]), ens.score_many(X[:5]))
    assert ens.clone().get_params() == ens.get_params()


def test_score_many_does_not_learn():
    ens = create_detector("ensemble", members=MEMBERS, calibration=SMALL_CAL)
    ens.learn_many(np.random.default_rng(4).normal(size=(100, 2)))
    blob = ens.snapshot()
    ens.score_many(np.ones((10, 2)))
    assert ens.snapshot() == blob


def test_explanations_are_weighted_and_normalised():
    ens = create_detector("ensemble", members=MEMBERS, calibration=SMALL_CAL)
    ens.learn_many(np.random.default_rng(5).normal(size=(200, 3)))
    e = ens.explain_one([0.0, 9.0, 0.0])
    assert e.sum() == pytest.approx(1.0) and int(np.argmax(e)) == 1


def test_invalid_members_are_reported():
    with pytest.raises(ValidationError, match="unknown detector 'zz'"):
        create_detector("ensemble", members=[{"detector": "zz"}])
    with pytest.raises(ValidationError, match="alpha"):
        create_detector("ensemble", members=[{"detector": "robust_zscore", "params": {"alpha": 9}}])
    with pytest.raises(ValidationError, match="at least 1 item"):
        create_detector("ensemble", members=[])
    with pytest.raises(ValidationError, match="weight"):
        create_detector("ensemble", members=[{"detector": "robust_zscore", "weight": 0}])
    with pytest.raises(ValidationError, match="unknown calibration kind"):
        create_detector("ensemble", members=MEMBERS, calibration={"kind": "x"})
