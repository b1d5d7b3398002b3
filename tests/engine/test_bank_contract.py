"""The detector contract, run over every banked form.

A bank holds many keys' detector state in slot-indexed arrays
(:mod:`pynomaly.engine.banked`); the per-key detector is its one-slot case.
Parametrised over ``BANKS`` (and auto limits for HST) and two detectors held
as one object per slot (``ObjectBank``), each with and without conformal
calibration, every bank must:

- give each slot exactly the scores, explanations and p-values of its own
  per-key detector and calibrator, whatever other slots' rows are interleaved
  with it and however the stream is cut into batches;
- survive a snapshot (pickle of the shard state, arrays cut to the slots in
  use) and a ``copy()`` mid-stream with identical continuations, the copy
  independent of the original;
- give a reset slot the state of a new detector;
- return finite scores on adversarial input (NaN, ±inf, ±1e308, constant
  streams), after the flow's own input preparation;
- report its bytes per slot as the sum of its per-slot arrays.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from pynomaly.dataflow.detect_banked import BankedShardState
from pynomaly.engine import create_detector
from pynomaly.engine.banked import BANKS, make_bank, prepare_values
from pynomaly.engine.decision.calibration_conformal import ConformalCalibrator
from pynomaly.engine.object_bank import ObjectBank
from pynomaly.engine.pipeline import PipelineConfig

#: (detector, parameters) of every banked form; small windows so the stream
#: crosses several of them
FORMS = {
    "robust_zscore": ("robust_zscore", {"warmup": 20}),
    "hst": ("hst", {"n_trees": 5, "height": 5, "window_size": 40,
                    "limits": [[-5.0, 5.0]] * 4, "seed": 3}),
    "hst_auto_limits": ("hst", {"n_trees": 5, "height": 5, "window_size": 40, "seed": 3}),
    "metric_deviation": ("metric_deviation", {}),
    # detectors without array kernels: one object per slot (ObjectBank)
    "loda_objects": ("loda", {"seed": 1}),
    "rcf_objects": ("rcf", {"n_trees": 8, "tree_size": 32}),
}
CALIBRATIONS = ["none", "conformal"]
WINDOW = 60


def test_every_bank_has_a_form_here() -> None:
    assert set(BANKS) <= {det for det, _ in FORMS.values()}
    assert all(isinstance(make_bank(_config(f, "none"), 4), ObjectBank) == f.endswith("_objects")
               for f in FORMS)


def _config(form: str, calibration: str) -> PipelineConfig:
    det, params = FORMS[form]
    decision = ({"calibration": {"kind": "conformal", "window": WINDOW},
                 "threshold": {"kind": "probability", "level": 0.99}}
                if calibration == "conformal" else
                {"calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": 1.0}})
    return PipelineConfig.model_validate({"detector": {"name": det, "params": params},
                                          **decision})


def _stream(seed: int, n: int = 900, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d)
    spikes = rng.random(n) < 0.02
    X[spikes] *= 8.0
    return X


def _bank_run(bank, X, slots, keep, cuts, calibrated: bool):
    """Scores, explanation rows and p-values of a bank over ``X``, in batches cut at ``cuts``."""
    scores, pvals = np.zeros(len(X)), np.ones(len(X))
    contrib = np.full(X.shape, np.nan)
    bounds = [0, *cuts, len(X)]
    for a, b in itertools.pairwise(bounds):
        s, c = bank.score_learn_explain(X[a:b], slots[a:b], keep[a:b], 0.0)
        scores[a:b] = np.where(keep[a:b], s, 0.0)
        contrib[a:b][keep[a:b]] = c[keep[a:b]]
        if calibrated:
            pvals[a:b] = bank.p_values(s, slots[a:b], keep[a:b])
    return scores, contrib, pvals


@pytest.mark.parametrize("calibration", CALIBRATIONS)
@pytest.mark.parametrize("form", list(FORMS))
def test_each_slot_is_its_own_per_key_detector(form: str, calibration: str) -> None:
    det, params = FORMS[form]
    rng = np.random.default_rng(1)
    X = _stream(2)
    n_slots = 5
    slots = rng.integers(0, n_slots, len(X))
    keep = rng.random(len(X)) > 0.05
    bank = make_bank(_config(form, calibration), X.shape[1])
    bank.ensure(n_slots)
    scores, _, pvals = _bank_run(bank, X, slots, keep, [97, 98, 400, 401, 650],
                                 calibration == "conformal")
    for s in range(n_slots):
        rows = np.flatnonzero((slots == s) & keep)
        twin = create_detector(det, **params)
        expected = np.array([twin.score_learn_many(X[i:i + 1])[0] for i in rows])
        assert np.array_equal(scores[rows], expected), f"slot {s} scores"
        x = X[rows[-1]] * 2.0
        assert np.array_equal(bank.explain(s, x), twin.explain_one(x)), f"slot {s} explanation"
        if calibration == "conformal":
            cal = ConformalCalibrator(window=WINDOW)
            assert np.array_equal(pvals[rows], cal.p_values(expected)), f"slot {s} p-values"


@pytest.mark.parametrize("form", list(FORMS))
def test_batching_and_interleaving_do_not_change_a_slots_scores(form: str) -> None:
    X = _stream(3, n=600)
    rng = np.random.default_rng(4)
    results = []
    for cuts, other_rows in (([], 0), ([1, 2, 3, 250, 251], 0), ([300], 400)):
        bank = make_bank(_config(form, "conformal"), X.shape[1])
        bank.ensure(2)
        noise = _stream(int(rng.integers(100)), n=other_rows)  # another key's rows
        mix = np.r_[X, noise]
        slots = np.r_[np.zeros(len(X), dtype=np.int64), np.ones(other_rows, dtype=np.int64)]
        perm = np.argsort(rng.random(len(mix)))  # interleave, keeping slot 0's own order
        mine = np.flatnonzero(slots[perm] == 0)
        perm[mine] = np.sort(perm[mine])
        keep = np.ones(len(mix), dtype=bool)
        s, _, p = _bank_run(bank, mix[perm], slots[perm], keep, cuts, True)
        results.append((s[slots[perm] == 0], p[slots[perm] == 0]))
    for s, p in results[1:]:
        assert np.array_equal(s, results[0][0]) and np.array_equal(p, results[0][1])


@pytest.mark.parametrize("calibration", CALIBRATIONS)
@pytest.mark.parametrize("form", list(FORMS))
def test_snapshot_and_copy_mid_stream_continue_identically(form: str, calibration: str) -> None:
    X = _stream(5)
    slots = np.arange(len(X)) % 3
    keep = np.ones(len(X), dtype=bool)
    state = BankedShardState(make_bank(_config(form, calibration), X.shape[1]))
    state.add_keys(["a", "b", "c"])
    calibrated = calibration == "conformal"
    _bank_run(state.bank, X[:450], slots[:450], keep[:450], [], calibrated)
    restored = pickle.loads(pickle.dumps(state))
    copied = state.bank.copy()
    runs = [_bank_run(b, X[450:], slots[450:], keep[450:], [100], calibrated)
            for b in (state.bank, restored.bank, copied)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            assert np.array_equal(a, b, equal_nan=True)
    for name in state.bank.arrays:  # the copy shares no state array with the original
        assert not np.shares_memory(getattr(copied, name), getattr(state.bank, name))


@pytest.mark.parametrize("form", list(FORMS))
def test_a_reset_slot_is_a_new_detector(form: str) -> None:
    X = _stream(6, n=300)
    zeros = np.zeros(len(X), dtype=np.int64)
    keep = np.ones(len(X), dtype=bool)
    bank = make_bank(_config(form, "conformal"), X.shape[1])
    bank.ensure(1)
    first = _bank_run(bank, X, zeros, keep, [], True)
    bank.reset(np.array([0]))
    again = _bank_run(bank, X, zeros, keep, [], True)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, 1e308, -1e308, 7.5, 0.0])
@pytest.mark.parametrize("form", list(FORMS))
def test_finite_scores_on_adversarial_input(form: str, value: float) -> None:
    X = _stream(7, n=200)
    X[::3, 1] = value  # every third row carries the value in one feature
    X[150:] = value  # then a constant stream of it
    bank = make_bank(_config(form, "none"), X.shape[1])
    bank.ensure(2)
    slots = np.arange(len(X)) % 2
    scores = bank.score_learn(prepare_values(X), slots, np.ones(len(X), dtype=bool))
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("calibration", CALIBRATIONS)
@pytest.mark.parametrize("form", list(FORMS))
def test_bytes_per_slot_are_the_per_slot_arrays(form: str, calibration: str) -> None:
    bank = make_bank(_config(form, calibration), 4)
    bank.ensure(10)
    total = sum(getattr(bank, name).nbytes for name in bank.arrays)
    assert bank.bytes_per_slot() * bank.capacity == total
    # only detector objects hold no arrays (pynomaly plan measures those)
    assert total > 0 or (form.endswith("_objects") and calibration == "none")
