"""The River adapter: exact parity with raw River models, dict input, snapshots."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river import anomaly, compose, drift, preprocessing
from sklearn.metrics import roc_auc_score

from pynomaly.engine.detectors.river import RiverDetector
from pynomaly.engine.registry import create_detector, list_detectors, restore_detector

HST = {"n_trees": 10, "height": 6, "window_size": 50}


def stream(n: int = 600, d: int = 4, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian events with 2% injected spikes; returns (X, is_anomaly)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=bool)
    idx = rng.choice(np.arange(100, n), size=n // 50, replace=False)
    X[idx] += rng.choice([-1.0, 1.0], size=(idx.size, d)) * rng.uniform(4, 7, size=(idx.size, d))
    y[idx] = True
    return X, y


def raw_scores(model, X: np.ndarray, names: list[str]) -> np.ndarray:
    """The naive loop: River's own score_one then learn_one on dicts."""
    out = []
    for row in X:
        x = {k: float(v) for k, v in zip(names, row, strict=True)}
        out.append(model.score_one(x))
        model.learn_one(x)
    return np.asarray(out)


RAW_MODELS = {
    "HalfSpaceTrees": lambda: compose.Pipeline(
        preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(**HST, seed=0)
    ),
    "LODA": lambda: compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.LODA(seed=0)),
    "OneClassSVM": lambda: compose.Pipeline(
        preprocessing.StandardScaler(), anomaly.OneClassSVM(nu=0.2)
    ),
    "LocalOutlierFactor": lambda: anomaly.LocalOutlierFactor(n_neighbors=10),
}
ADAPTER_PARAMS = {
    "HalfSpaceTrees": {"model_params": HST},
    "LODA": {},
    "OneClassSVM": {"model_params": {"nu": 0.2}, "preprocessing": "StandardScaler"},
    "LocalOutlierFactor": {"model_params": {"n_neighbors": 10}, "preprocessing": None},
}


def test_registered_by_name():
    assert "river" in list_detectors()
    det = create_detector("river", model="river.anomaly.LODA")
    assert isinstance(det, RiverDetector)


@pytest.mark.parametrize("model", sorted(RAW_MODELS))
def test_batch_scores_equal_raw_river_model(model):
    n = 150 if model == "LocalOutlierFactor" else 400
    X, _ = stream(n)
    expected = raw_scores(RAW_MODELS[model](), X, [f"x{j}" for j in range(4)])
    det = create_detector("river", model=model, **ADAPTER_PARAMS[model])
    got = np.r_[det.score_learn_many(X[:97]), det.score_learn_many(X[97:])]
    np.testing.assert_array_equal(got, expected)


def test_per_event_scores_equal_raw_and_keep_negative_scores():
    X, _ = stream(300)
    expected = raw_scores(RAW_MODELS["OneClassSVM"](), X, [f"x{j}" for j in range(4)])
    det = create_detector("river", model="OneClassSVM", **ADAPTER_PARAMS["OneClassSVM"])
    got = []
    for row in X:
        got.append(det.score_one(row))
        det.learn_one(row)
    np.testing.assert_array_equal(got, expected)
    assert expected.min() < 0  # River's one-class SVM scores can be negative


def test_scores_are_computed_before_learning():
    X, _ = stream(200)
    det = create_detector("river", model_params=HST)
    before = [det.score_one(X[0])]
    assert before == [0.0]  # fresh HalfSpaceTrees scores 0 until its first window
    det.learn_many(X[:120])
    pre = det.score_many(X[120:160])
    np.testing.assert_array_equal(det.score_learn_many(X[120:121]), pre[:1])
    # score_many learned nothing: a twin fed the same events agrees afterwards
    twin = create_detector("river", model_params=HST)
    twin.learn_many(X[:121])
    np.testing.assert_array_equal(det.score_many(X[150:]), twin.score_many(X[150:]))


def test_dict_input_matches_raw_model_and_sets_feature_order():
    X, _ = stream(300, d=3)
    names = ["cpu", "mem", "io"]
    expected = raw_scores(RAW_MODELS["HalfSpaceTrees"](), X, names)
    det = create_detector("river", model_params=HST)
    got = []
    for row in X:
        event = {k: float(v) for k, v in zip(names, row, strict=True)}
        got.append(det.score_one(event))
        det.learn_one(event)
    np.testing.assert_array_equal(got, expected)
    # after the first dict, arrays are read in that key order
    assert det.score_one({"io": 0.3, "cpu": 0.1, "mem": 0.2}) == det.score_one([0.1, 0.2, 0.3])
    lst = [{"cpu": 1.0, "mem": 2.0, "io": 3.0}, {"cpu": 0.0, "mem": 0.0, "io": 0.0}]
    np.testing.assert_array_equal(det.score_many(lst), det.score_many([[1, 2, 3], [0, 0, 0]]))
    with pytest.raises(ValueError, match=r"missing \['io'\], unexpected \['disk'\]"):
        det.score_one({"cpu": 1.0, "mem": 1.0, "disk": 1.0})


def test_feature_names_name_array_columns():
    X, _ = stream(200, d=2)
    expected = raw_scores(RAW_MODELS["LODA"](), X, ["a", "b"])
    det = create_detector("river", model="LODA", feature_names=("a", "b"))
    np.testing.assert_array_equal(det.score_learn_many(X), expected)
    assert det.score_one({"b": 1.0, "a": 0.5}) == det.score_one([0.5, 1.0])
    with pytest.raises(ValueError, match="2 feature names for 3 features"):
        create_detector("river", feature_names=("a", "b")).score_one([1.0, 2.0, 3.0])


@pytest.mark.parametrize("model", ["HalfSpaceTrees", "LODA", "OneClassSVM"])
def test_snapshot_round_trip_gives_identical_subsequent_scores(model):
    X, _ = stream(500)
    det = create_detector("river", model=model, **ADAPTER_PARAMS[model])
    det.score_learn_many(X[:300])
    restored = restore_detector(det.snapshot())
    via_pickle = pickle.loads(pickle.dumps(det))
    a = det.score_learn_many(X[300:])
    np.testing.assert_array_equal(restored.score_learn_many(X[300:]), a)
    np.testing.assert_array_equal(via_pickle.score_learn_many(X[300:]), a)


def test_detects_injected_anomalies():
    X, y = stream(3000, seed=11)
    det = create_detector("river", model="HalfSpaceTrees", model_params={"window_size": 250})
    s = det.score_learn_many(X)
    assert roc_auc_score(y[500:], s[500:]) > 0.95


def test_from_model_wraps_an_instance_including_untrained_snapshots():
    X, _ = stream(300)
    names = [f"x{j}" for j in range(4)]
    built = preprocessing.StandardScaler() | anomaly.LODA(n_bins=8, seed=5)
    det = RiverDetector.from_model(built)
    assert "model_pickle=<" in repr(det)
    untrained = restore_detector(det.snapshot())
    expected = raw_scores(built.clone(), X, names)
    np.testing.assert_array_equal(det.score_learn_many(X), expected)
    np.testing.assert_array_equal(untrained.score_learn_many(X), expected)
    with pytest.raises(TypeError, match="not an unsupervised river anomaly detector"):
        RiverDetector.from_model(anomaly.GaussianScorer())


def test_from_model_accepts_anomaly_filters():
    X, _ = stream(300)
    names = [f"x{j}" for j in range(4)]
    flt = anomaly.QuantileFilter(
        compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(**HST, seed=3)),
        q=0.95,
    )
    det = RiverDetector.from_model(flt)
    np.testing.assert_array_equal(det.score_learn_many(X), raw_scores(flt.clone(), X, names))


def test_bad_names_and_supervised_models_are_rejected():
    with pytest.raises(ValueError, match="has no 'NoSuchModel'"):
        create_detector("river", model="NoSuchModel")
    with pytest.raises(ValueError, match="not an unsupervised"):
        create_detector("river", model="StandardAbsoluteDeviation")
    with pytest.raises(ValueError, match="has no 'NoScaler'"):
        create_detector("river", preprocessing="NoScaler")


def test_drift_detector_resets_model_on_level_shift_only():
    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(size=(1500, 3)), rng.normal(size=(1500, 3)) * 0.2 + 3.0]
    params = {
        "model_params": {"n_trees": 10, "height": 6, "window_size": 100},
        "drift_detector": "ADWIN",
        "drift_grace": 100,
    }
    det = create_detector("river", **params)
    det.learn_many(X[:1500])
    assert det.n_drifts == 0
    restored = restore_detector(det.snapshot())
    a = det.score_learn_many(X[1500:])
    assert det.n_drifts >= 1
    np.testing.assert_array_equal(restored.score_learn_many(X[1500:]), a)
    assert restored.n_drifts == det.n_drifts
    # without the drift detector the same model never resets, and scores differ after the shift
    plain = create_detector("river", model_params=params["model_params"])
    assert not np.array_equal(plain.score_learn_many(X)[1500:], a)
    assert isinstance(det._drift, drift.ADWIN)
