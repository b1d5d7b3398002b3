"""The River-native detectors: River parity, feature policy, mini-batches, composition."""

from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pandas as pd
import pytest
import river.anomaly
from offline_stream import OfflineStream
from river import compose, preprocessing
from sklearn.metrics import roc_auc_score

import pynomaly.river
from pynomaly.river import HalfSpaceTrees, RobustZScore

CLASSES = [getattr(pynomaly.river, n) for n in pynomaly.river.__all__]


def make(cls: type, **params: object) -> river.base.AnomalyDetector:
    """A small, seeded instance (seeds only where the class has one)."""
    model = cls(**params)
    return model.clone({"seed": 3}) if "seed" in model._get_params() else model


def prequential(model: river.base.AnomalyDetector, stream: OfflineStream) -> np.ndarray:
    out = []
    for x, _ in stream:
        out.append(model.score_one(x))
        model.learn_one(x)
    return np.array(out)


def test_hst_equals_river_hst_with_unit_limits() -> None:
    stream = OfflineStream(1500, seed=1)
    ours = prequential(
        HalfSpaceTrees(n_trees=10, height=6, window_size=100, limits="unit", seed=7), stream
    )
    theirs = prequential(
        river.anomaly.HalfSpaceTrees(n_trees=10, height=6, window_size=100, seed=7), stream
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    assert ours[100:].std() > 0


def test_hst_equals_river_hst_with_dict_limits() -> None:
    stream = OfflineStream(600, seed=2)
    limits = {"V1": (-1.0, 2.0), "V3": (0.2, 0.8)}  # the rest (0, 1), as River
    ours = prequential(HalfSpaceTrees(window_size=50, limits=limits, seed=1), stream)
    theirs = prequential(
        river.anomaly.HalfSpaceTrees(window_size=50, limits=limits, seed=1), stream
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls", CLASSES)
def test_detects_the_anomalies_of_the_stream(cls: type) -> None:
    stream = OfflineStream(3000, seed=4)
    scores = prequential(make(cls), stream)
    assert roc_auc_score(stream.y[600:], scores[600:]) > 0.9


@pytest.mark.parametrize("cls", CLASSES)
def test_dict_order_does_not_matter(cls: type) -> None:
    stream = OfflineStream(700, seed=5)
    a, b = make(cls), make(cls)
    rng = random.Random(0)
    for x, _ in stream:
        keys = list(x)
        rng.shuffle(keys)
        shuffled = {k: x[k] for k in keys}
        assert a.score_one(x) == b.score_one(shuffled)
        a.learn_one(x)
        b.learn_one(shuffled)


def test_missing_features_hold_their_last_learned_value() -> None:
    model = RobustZScore(alpha=0.5, warmup=2)
    for v in [1.0, 2.0, 3.0, 4.0]:
        model.learn_one({"a": v, "b": 10.0 * v})
    model.learn_one({"a": 5.0})  # b missing: learned as 40.0 again
    full = model.score_one({"a": 5.0, "b": 40.0})
    assert model.score_one({"a": 5.0}) == full
    assert model.score_one({"a": 5.0, "b": float("nan")}) == full
    assert model.score_one({"a": 5.0, "b": None}) == full
    assert model.score_one({"a": 5.0, "b": 400.0}) > full


def test_new_features_are_ignored() -> None:
    stream = OfflineStream(500, seed=6)
    a, b = make(HalfSpaceTrees), make(HalfSpaceTrees)
    first = next(iter(stream))[0]
    a.learn_one(first)
    b.learn_one(first)  # the columns are fixed here; "later" arrives after
    for x, _ in stream:
        extra = {**x, "later": random.random()}
        assert a.score_one(x) == b.score_one(extra)
        a.learn_one(x)
        b.learn_one(extra)


@pytest.mark.parametrize("cls", CLASSES)
def test_score_one_learns_nothing(cls: type) -> None:
    model = make(cls)
    stream = list(OfflineStream(600, seed=7))
    for x, _ in stream[:300]:
        model.learn_one(x)
    untouched = copy.deepcopy(model)
    for x, _ in stream[300:400]:
        model.score_one(x)
        model.score_one({"V1": x["V1"]})
    for x, _ in stream[400:]:
        assert model.score_one(x) == untouched.score_one(x)
        model.learn_one(x)
        untouched.learn_one(x)


def batches_with_changing_columns(stream: OfflineStream) -> list[pd.DataFrame]:
    """Frames of 50 rows whose columns come and go, with NaN holes, as in River's checks."""
    frame = pd.DataFrame(stream.X, columns=stream.names)
    frame.iloc[3::7, 2] = np.nan  # not in row 0, which fixes the columns
    names = stream.names
    subsets = [names, names[:4], names, names[4:], names[:1], names]
    return [
        frame.iloc[i * 50 : (i + 1) * 50][subsets[i % len(subsets)]]
        for i in range(len(frame) // 50)
    ]


def rows_of(batch: pd.DataFrame) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if v == v} for row in batch.to_dict("records")]


@pytest.mark.parametrize("cls", CLASSES)
def test_learn_many_and_score_many_match_the_one_by_one_path(cls: type) -> None:
    one, many = make(cls), make(cls)
    for batch in batches_with_changing_columns(OfflineStream(1200, seed=8)):
        rows = rows_of(batch)
        expected = [one.score_one(x) for x in rows]
        got = many.score_many(batch)
        assert isinstance(got, pd.Series) and got.index.equals(batch.index)
        np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-12, atol=1e-12)
        for x in rows:
            one.learn_one(x)
        many.learn_many(batch)
    assert pickle.dumps(one._detector.snapshot()) == pickle.dumps(many._detector.snapshot())


@pytest.mark.parametrize("cls", CLASSES)
def test_numpy_batches_use_the_sorted_feature_columns(cls: type) -> None:
    stream = OfflineStream(800, seed=9)
    by_frame, by_array = make(cls), make(cls)
    frame = pd.DataFrame(stream.X, columns=stream.names)[stream.names[::-1]]
    by_frame.learn_many(frame.iloc[:500])
    by_array.learn_many(stream.X[:500])
    scores = by_array.score_many(stream.X[500:])
    assert isinstance(scores, np.ndarray) and scores.shape == (300,)
    renamed = frame.iloc[500:].set_axis(range(len(stream.names))[::-1], axis=1)
    np.testing.assert_array_equal(by_frame.score_many(frame.iloc[500:]).to_numpy(), scores)
    np.testing.assert_array_equal(by_array.score_many(renamed).to_numpy(), scores)
    with pytest.raises(ValueError, match="2-D array of 8 columns"):
        by_array.score_many(stream.X[0])


def test_score_before_learning_is_zero_and_empty_events_are_skipped() -> None:
    model = make(HalfSpaceTrees)
    assert model.score_one({"a": 1.0}) == 0.0
    model.learn_one({})
    assert model._columns is None
    assert model.score_many(pd.DataFrame({"a": [1.0, 2.0]})).tolist() == [0.0, 0.0]


def test_invalid_parameters_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="n_trees"):
        HalfSpaceTrees(n_trees=0)
    with pytest.raises(ValueError, match="finite lo < hi"):
        HalfSpaceTrees(limits={"a": (1.0, 0.0)})


def test_in_a_pipeline_equals_river_hst_in_the_same_pipeline() -> None:
    stream = OfflineStream(1000, seed=10)
    ours = compose.Pipeline(preprocessing.MinMaxScaler(), HalfSpaceTrees(limits="unit", seed=5))
    theirs = preprocessing.MinMaxScaler() | river.anomaly.HalfSpaceTrees(seed=5)
    np.testing.assert_allclose(prequential(ours, stream), prequential(theirs, stream), atol=1e-12)


@pytest.mark.parametrize("cls", CLASSES)
def test_quantile_and_threshold_filters(cls: type) -> None:
    stream = OfflineStream(2000, seed=11)
    quantile = river.anomaly.QuantileFilter(make(cls), q=0.98)
    threshold = river.anomaly.ThresholdFilter(make(cls), threshold=0.0)
    flagged = []
    for x, _ in stream:
        score = quantile.score_one(x)
        flagged.append(quantile.classify(score))
        quantile.learn_one(x)
        assert threshold.classify(threshold.score_one(x)) == (threshold.score_one(x) >= 0.0)
        threshold.learn_one(x)
    flagged_arr = np.array(flagged)[600:]
    y = stream.y[600:]
    assert flagged_arr[y].mean() > 0.5 > flagged_arr[~y].mean()


def test_pickle_round_trip_keeps_scores_and_columns() -> None:
    model = make(HalfSpaceTrees)
    stream = list(OfflineStream(600, seed=12))
    for x, _ in stream[:400]:
        model.learn_one(x)
    copy = pickle.loads(pickle.dumps(model))
    for x, _ in stream[400:]:
        assert copy.score_one(x) == model.score_one(x)
        assert copy.score_one({"V2": x["V2"]}) == model.score_one({"V2": x["V2"]})
        copy.learn_one(x)
        model.learn_one(x)


@pytest.mark.parametrize("cls", CLASSES)
def test_large_batches_then_single_events_match_single_events(cls: type) -> None:
    """Batches large enough for the engine's batched kernels, mixed with the per-event path."""
    stream = OfflineStream(1500, seed=13)
    frame = pd.DataFrame(stream.X, columns=stream.names)
    rows = rows_of(frame)
    mixed, single = make(cls), make(cls)
    for start in range(0, len(rows), 300):
        mixed.learn_many(frame.iloc[start : start + 200])
        for x in rows[start : start + 200]:
            single.learn_one(x)
        for x in rows[start + 200 : start + 300]:
            assert mixed.score_one(x) == pytest.approx(single.score_one(x), abs=1e-12)
            mixed.learn_one(x)
            single.learn_one(x)
    probe = rows[-200:]
    np.testing.assert_allclose(
        [mixed.score_one(x) for x in probe], [single.score_one(x) for x in probe], atol=1e-12
    )
