"""The scikit-learn estimators: contamination, streaming, equivalence with the engine."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pynomaly.sklearn
from pynomaly.sklearn import HalfSpaceTrees, RSHash

CLASSES = [getattr(pynomaly.sklearn, n) for n in pynomaly.sklearn.__all__]


def data(n: int, seed: int, outliers: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated normal rows; a share ``outliers`` moved far off the correlation."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) @ (np.eye(4) + 0.3)
    y = rng.random(n) < outliers
    X[y] += rng.choice([-1.0, 1.0], size=(int(y.sum()), 4)) * rng.uniform(
        4, 6, size=(int(y.sum()), 4)
    )
    return X, y


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_contamination_share_of_the_training_data_is_flagged(cls: type) -> None:
    X, _ = data(1000, 0)
    model = cls(contamination=0.05, random_state=0).fit(X)
    flagged = model.predict(X) == -1
    assert abs(flagged.mean() - 0.05) <= 0.01
    np.testing.assert_allclose(model.decision_function(X), model.score_samples(X) - model.offset_)
    assert set(np.unique(model.predict(X))) == {-1, 1}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_outliers_of_new_data_score_lower(cls: type) -> None:
    X, _ = data(1000, 1)
    test, y = data(1000, 2, outliers=0.05)
    model = cls(random_state=0).fit(X)
    assert roc_auc_score(y, -model.score_samples(test)) > 0.9
    assert model.predict(test)[y].mean() < 0.0 < model.predict(test)[~y].mean()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_partial_fit_streams_like_the_engine_detector(cls: type) -> None:
    X, _ = data(1200, 3, outliers=0.02)
    model = cls(random_state=7)
    for start in range(0, 1000, 100):
        model.partial_fit(X[start : start + 100])
    engine = type(model.detector_)(**model.detector_.get_params())  # same seed, fresh
    engine.learn_many(X[:1000])
    np.testing.assert_array_equal(model.score_samples(X[1000:]), -engine.score_many(X[1000:]))
    scores = model.score_samples(X[900:1000])
    assert model.offset_ == np.percentile(scores, 100 * model.contamination)


def test_fit_sizes_the_window_to_small_data_and_partial_fit_does_not() -> None:
    X, _ = data(100, 4)
    assert HalfSpaceTrees(random_state=0).fit(X).detector_.params.window_size == 100
    assert HalfSpaceTrees(random_state=0).partial_fit(X).detector_.params.window_size == 250
    fitted = RSHash(random_state=0).fit(X).detector_.params
    np.testing.assert_allclose(fitted.feature_mins, X.min(axis=0))
    assert RSHash(random_state=0).partial_fit(X).detector_.params.feature_mins is None


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_pickle_clone_and_params(cls: type) -> None:
    X, _ = data(600, 5)
    model = cls(random_state=3).fit(X)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.score_samples(X), model.score_samples(X))
    fresh = clone(model)
    assert not hasattr(fresh, "detector_") and fresh.get_params() == model.get_params()
    np.testing.assert_array_equal(fresh.fit(X).score_samples(X), model.score_samples(X))
    assert model.set_params(contamination=0.2) is model and model.contamination == 0.2


def test_invalid_parameters_fail_in_fit_not_in_init() -> None:
    model = HalfSpaceTrees(n_trees=0)
    with pytest.raises(ValueError, match="n_trees"):
        model.fit(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="contamination"):
        HalfSpaceTrees(contamination=0.7).fit(np.zeros((10, 2)))


def test_in_a_pipeline_and_a_grid_search() -> None:
    X, _ = data(800, 6)
    test, y = data(800, 7, outliers=0.05)
    pipe = make_pipeline(StandardScaler(), HalfSpaceTrees(random_state=0)).fit(X)
    assert roc_auc_score(y, -pipe.score_samples(test)) > 0.9

    def auc(estimator: HalfSpaceTrees, X_: np.ndarray, y_: np.ndarray) -> float:
        return roc_auc_score(y_, -estimator.score_samples(X_))

    search = GridSearchCV(HalfSpaceTrees(random_state=0), {"height": [4, 8]}, scoring=auc, cv=2)
    search.fit(test, y)
    assert search.best_params_["height"] in (4, 8)
