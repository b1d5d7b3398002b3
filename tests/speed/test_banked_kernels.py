"""Each bank kernel against its naive twin: one per-key detector per slot,
fed the slot's rows in order. Scores must be bit-identical."""

from __future__ import annotations

import numpy as np
import pytest

from pynomaly.engine import create_detector
from pynomaly.engine.banked import bank_supported, make_bank
from pynomaly.engine.pipeline import PipelineConfig

CASES = {
    "robust_zscore": {"alpha": 0.1, "warmup": 5, "clip_z": 3.0},
    "hst": {"n_trees": 4, "height": 4, "window_size": 7, "limits": [[-4.0, 4.0]] * 3, "seed": 2},
    "hst_auto": {"n_trees": 4, "height": 4, "window_size": 7, "seed": 2},
}


def _detector(name: str) -> str:
    return name.removesuffix("_auto")


def _config(name: str) -> PipelineConfig:
    return PipelineConfig.model_validate({
        "detector": {"name": _detector(name), "params": CASES[name]},
        "calibration": {"kind": "none"},
        "threshold": {"kind": "static", "value": 1.0}})


@pytest.mark.parametrize("name", list(CASES))
def test_bank_kernel_equals_one_detector_per_key(name: str) -> None:
    rng = np.random.default_rng(11)
    n_slots, n = 9, 600
    bank = make_bank(_config(name), 3)
    bank.ensure(n_slots)
    twins = [create_detector(_detector(name), **CASES[name]) for _ in range(n_slots)]
    expected = np.zeros(n)
    got = np.zeros(n)
    for lo in range(0, n, 97):  # several batches, uneven
        X = rng.normal(size=(min(97, n - lo), 3))
        X[rng.random(len(X)) < 0.05] *= 6.0
        slots = rng.integers(0, n_slots, len(X))
        keep = rng.random(len(X)) > 0.1
        got[lo:lo + len(X)] = np.where(keep, bank.score_learn(X, slots, keep), 0.0)
        for i in np.flatnonzero(keep):
            expected[lo + i] = twins[slots[i]].score_learn_many(X[i:i + 1])[0]
    assert np.array_equal(got, expected)
    for s in range(n_slots):  # explanations at the end agree too
        x = rng.normal(size=3)
        assert np.array_equal(bank.explain(s, x), twins[s].explain_one(x))


def test_reset_slot_is_a_fresh_detector() -> None:
    bank = make_bank(_config("robust_zscore"), 3)
    bank.ensure(2)
    X = np.random.default_rng(0).normal(size=(50, 3))
    first = bank.score_learn(X, np.zeros(50, dtype=np.int64), np.ones(50, dtype=bool))
    bank.reset(np.array([0]))
    again = bank.score_learn(X, np.zeros(50, dtype=np.int64), np.ones(50, dtype=bool))
    assert np.array_equal(first, again)


def test_auto_limits_hst_is_banked_with_a_scale_per_slot() -> None:
    cfg = PipelineConfig.model_validate({
        "detector": {"name": "hst"}, "calibration": {"kind": "none"},
        "threshold": {"kind": "static", "value": 0.9}})
    assert bank_supported(cfg)
    bank = make_bank(cfg, 2)
    bank.ensure(2)
    rng = np.random.default_rng(4)
    # two keys in very different units share the unit trees through their scales
    X = np.c_[rng.normal(size=600), rng.normal(size=600)] * np.tile([[1.0, 1.0], [1e3, 1e-3]],
                                                                     (300, 1))
    slots = np.tile([0, 1], 300)
    bank.score_learn(X, slots, np.ones(600, dtype=bool))
    assert bank.scale[1, 1, 0] / bank.scale[0, 1, 0] > 100.0
    assert bank.mass.dtype == np.uint8  # a 250-event window fits in a byte


@pytest.mark.parametrize("name", list(CASES))
def test_contributions_are_on_the_state_each_row_was_scored_with(name: str) -> None:
    rng = np.random.default_rng(5)
    n_slots = 4
    bank = make_bank(_config(name), 3)
    bank.ensure(n_slots)
    twins = [create_detector(_detector(name), **CASES[name]) for _ in range(n_slots)]
    explained = 0
    for size in (1, 7, 300):  # the same rows in batches of any size
        X = rng.normal(size=(size, 3)) * rng.choice([1.0, 6.0], size=(size, 1))
        slots = rng.integers(0, n_slots, size)
        keep = np.ones(size, dtype=bool)
        scores, contrib = bank.score_learn_explain(X, slots, keep, 0.5)
        for i in range(size):
            want = twins[slots[i]].explain_one(X[i])  # before the twin learns row i
            assert twins[slots[i]].score_learn_many(X[i:i + 1])[0] == scores[i]
            if scores[i] >= 0.5:
                assert np.array_equal(contrib[i], want)
                explained += 1
    assert explained >= 10
