"""The PyOD adapter against a naive refit-on-the-window loop, snapshots, refits."""

from __future__ import annotations

import importlib
import pickle
import threading
from collections import deque

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pynomaly.engine.detectors import pyod as pyod_adapter
from pynomaly.engine.detectors.pyod import MODELS, PyODDetector
from pynomaly.engine.detectors.pyod_ecdf import EcdfScorer
from pynomaly.engine.registry import create_detector, list_detectors, restore_detector


def stream(n: int, d: int = 4, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian events with 2% injected spikes; returns (X, is_anomaly)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=bool)
    idx = rng.choice(np.arange(n), size=max(1, n // 50), replace=False)
    X[idx] += rng.choice([-1.0, 1.0], size=(idx.size, d)) * rng.uniform(4, 7, size=(idx.size, d))
    y[idx] = True
    return X, y


def naive(make, X, window, refit_every, min_fit, lagged=False):
    """Refit a fresh model on the window every ``refit_every`` events; score one row per call.

    ``lagged``: at each refit point put in use the fit started at the previous
    one (the first fit is used at once), as the background mode does.
    """
    buf: deque = deque(maxlen=window)
    model, pending, since, out = None, None, 0, []
    for x in X:
        out.append(0.0 if model is None else float(model.decision_function(x[None])[0]))
        buf.append(x)
        since += 1
        if model is None and len(buf) >= min_fit:
            model, since = make().fit(np.array(buf)), 0
        elif model is not None and since >= refit_every:
            fresh, since = make().fit(np.array(buf)), 0
            if not lagged:
                model = fresh
            else:
                model, pending = (pending if pending is not None else model), fresh
    return np.array(out)


def pyod_class(name):
    module, _, cls = name.rpartition(".")
    if name in MODELS:
        module, cls, _ = MODELS[name]
    return getattr(importlib.import_module(module), cls)


def feed(det, X, sizes=(1, 37, 5, 120, 64)):
    """score_learn_many over irregular batch sizes (cycled), concatenated."""
    out, i, k = [], 0, 0
    while i < len(X):
        step = sizes[k % len(sizes)]
        out.append(det.score_learn_many(X[i : i + step]))
        i, k = i + step, k + 1
    return np.concatenate(out)


CASES = {
    "ECOD": ({}, 600),
    "COPOD": ({}, 600),
    "HBOS": ({}, 600),
    "LOF": ({"n_neighbors": 15}, 500),
    "KNN": ({"n_neighbors": 5}, 500),
    "PCA": ({}, 500),
    "IForest": ({"n_estimators": 15, "random_state": 3}, 260),
    "pyod.models.gmm.GMM": ({"n_components": 2, "random_state": 1}, 200),
}


def test_registered_by_name_with_the_listed_models():
    assert "pyod" in list_detectors()
    assert {"IForest", "ECOD", "COPOD", "HBOS", "LOF"} <= set(MODELS)


@pytest.mark.parametrize("model", sorted(CASES))
def test_synchronous_adapter_equals_naive_refit_loop(model):
    mp, n = CASES[model]
    X, _ = stream(n)
    cfg = {"window": 150, "refit_every": 40, "min_fit": 50}
    det = create_detector("pyod", model=model, model_params=mp, synchronous=True, **cfg)
    expected = naive(lambda: pyod_class(model)(**mp), X, **cfg)
    got = feed(det, X)
    np.testing.assert_array_equal(got, expected)
    assert det.n_fits == 1 + (n - 50) // 40


def test_scores_are_zero_until_min_fit_then_computed_before_learning():
    X, _ = stream(200)
    det = create_detector("pyod", model="HBOS", min_fit=30, window=100, synchronous=True)
    s = det.score_learn_many(X[:31])
    assert np.all(s[:30] == 0.0) and s[30] != 0.0
    probe = det.score_many(X[31:60])  # learns nothing
    np.testing.assert_array_equal(det.score_learn_many(X[31:60]), probe)


@pytest.mark.parametrize("model", ["ECOD", "IForest", "LOF"])
@pytest.mark.parametrize("synchronous", [True, False])
def test_snapshot_round_trip_gives_identical_subsequent_scores(model, synchronous):
    X, _ = stream(420)
    params = {"model": model, "window": 128, "refit_every": 32, "min_fit": 40}
    if model == "IForest":
        params["model_params"] = {"n_estimators": 15}
    det = create_detector("pyod", synchronous=synchronous, **params)
    det.score_learn_many(X[:250])
    assert (det._pending is None) == synchronous  # a background fit is in flight
    blob = det.snapshot()
    assert len(blob) < 4 * 8 * 3 * 128 + 4096  # rows, not pickled models
    restored = restore_detector(blob)
    via_pickle = pickle.loads(pickle.dumps(det))
    a = feed(det, X[250:])
    np.testing.assert_array_equal(feed(restored, X[250:]), a)
    np.testing.assert_array_equal(feed(via_pickle, X[250:]), a)


def test_unfitted_snapshot_round_trip():
    X, _ = stream(100)
    det = create_detector("pyod", window=64, min_fit=20, synchronous=True)
    det.learn_many(X[:10])
    restored = restore_detector(det.snapshot())
    np.testing.assert_array_equal(restored.score_learn_many(X[10:]), det.score_learn_many(X[10:]))


@pytest.mark.parametrize("model", ["ECOD", "HBOS", "IForest"])
def test_background_refits_equal_the_lagged_naive_loop(model):
    mp, n = CASES[model]
    X, _ = stream(min(n, 400))
    cfg = {"window": 150, "refit_every": 40, "min_fit": 50}
    det = create_detector("pyod", model=model, model_params=mp, **cfg)
    expected = naive(lambda: pyod_class(model)(**mp), X, lagged=True, **cfg)
    np.testing.assert_array_equal(feed(det, X), expected)
    one_by_one = create_detector("pyod", model=model, model_params=mp, **cfg)
    np.testing.assert_array_equal(feed(one_by_one, X, sizes=(1,)), expected)


def test_scoring_between_refit_points_does_not_wait_for_a_slow_fit(monkeypatch):
    """Fault injection: background fits that block until released."""
    X, _ = stream(300)
    det = create_detector("pyod", model="HBOS", window=100, refit_every=50, min_fit=50)
    det.score_learn_many(X[:50])  # first fit, in line
    assert det.n_fits == 1
    gate, started = threading.Event(), threading.Event()
    real_fit = pyod_adapter._Fitted.fit

    def slow_fit(*args):
        started.set()
        if not gate.wait(10):
            raise TimeoutError("the scoring path waited for a fit between refit points")
        return real_fit(*args)

    monkeypatch.setattr(pyod_adapter._Fitted, "fit", slow_fit)
    model_before = det._fitted
    det.score_learn_many(X[50:100])  # refit point at event 100: fit handed to the pool
    assert started.wait(10)
    s = det.score_learn_many(X[100:149])  # up to the next refit point: no waiting
    assert det._fitted is model_before and not det._pending.done()
    np.testing.assert_array_equal(s, model_before.score(X[100:149]))
    gate.set()
    det.score_learn_many(X[149:151])  # refit point at event 150 adopts the fit
    assert det.n_fits == 2 and det._fitted is not model_before


def test_refit_errors_surface(monkeypatch):
    X, _ = stream(200)
    bad = {"model": "KNN", "model_params": {"n_neighbors": 80}, "window": 60, "min_fit": 60}
    with pytest.raises(ValueError, match="n_neighbors"):
        create_detector("pyod", synchronous=True, **bad).learn_many(X)
    det = create_detector("pyod", model="HBOS", window=60, refit_every=20, min_fit=20)
    det.learn_many(X[:20])

    def failing_fit(*args):
        raise MemoryError("no room for this fit")

    monkeypatch.setattr(pyod_adapter._Fitted, "fit", failing_fit)
    det.learn_many(X[20:40])  # the failing fit is started in the pool
    with pytest.raises(RuntimeError, match="refit of HBOS failed: no room"):
        det.learn_many(X[40:60])  # and reported at the next refit point


@pytest.mark.parametrize("model", ["ECOD", "IForest"])
def test_detects_injected_anomalies(model):
    X, y = stream(2500, seed=9)
    mp = {"n_estimators": 50} if model == "IForest" else {}
    det = create_detector("pyod", model=model, model_params=mp, window=512, synchronous=True)
    s = feed(det, X, sizes=(250,))
    assert roc_auc_score(y[200:], s[200:]) > 0.97


def test_parameter_validation():
    with pytest.raises(ValueError, match="min_fit"):
        create_detector("pyod", window=10, min_fit=20)
    with pytest.raises(ValueError, match="must be one of"):
        create_detector("pyod", model="sklearn.ensemble.IsolationForest")
    with pytest.raises(ValueError, match="cannot import"):
        create_detector("pyod", model="pyod.models.nothing.Here")
    with pytest.raises(ValueError, match="bad model_params"):
        create_detector("pyod", model="HBOS", model_params={"n_trees": 3})
    assert isinstance(create_detector("pyod", model="IForest"), PyODDetector)


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
@pytest.mark.parametrize("kind", ["ECOD", "COPOD"])
def test_ecdf_scorer_equals_one_row_calls_on_ties_and_symmetric_columns(kind):
    rng = np.random.default_rng(2)
    W = rng.normal(size=(300, 3))
    W[:, 0] = np.round(W[:, 0] * 2)  # ties
    W[:, 1] = np.tile([-2.0, -1.0, 0.0, 1.0, 2.0], 60)  # exactly symmetric: skew ~ 0
    W[:, 2] = 3.0  # constant
    X = np.r_[rng.normal(size=(100, 3)) * 2, W[:20], np.zeros((3, 3)), np.full((3, 3), 3.0)]
    model = pyod_class(kind)().fit(W)
    scorer = EcdfScorer(model, kind)
    expected = [model.decision_function(x[None])[0] for x in X]
    np.testing.assert_array_equal(scorer.score(X), expected)
    assert scorer.fallbacks > 0  # the guarded path was exercised
