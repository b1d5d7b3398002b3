"""The detector contract, run over every registered detector.

Parametrised over ``pynomaly.engine.list_detectors()``, so a detector module
added to ``pynomaly/engine/detectors/`` is checked without editing this file.
Every detector is built with its default parameters and must:

- round-trip through ``snapshot()`` (``type(d).restore`` and
  ``restore_detector``, untrained and trained) and through pickle, with
  identical subsequent scores and explanations;
- be deterministic (two fresh detectors give identical scores; with a
  ``seed`` parameter, the same seed gives the same scores);
- keep parameters free of shared mutable defaults (frozen ``Params``);
- give the same scores through every path: ``score_learn_many`` on a batch ==
  ``score_one`` then ``learn_one`` per row; ``learn_many`` == learning through
  ``score_learn_many``; ``score_many`` learns nothing;
- return finite scores (and finite explanations of the right length) on
  adversarial input: NaN, ±inf, ±1e308, subnormals, constant streams, 1 and 100
  features;
- reach ``min_reference_roc_auc`` (a fixture of ``conftest.py``) on its reference stream
  after the warm-up.

Opting out: a detector that only models one feature (a univariate series)
declares the class attribute ``univariate_only = True``. It then gets the
univariate reference stream and one-feature adversarial input; every other
detector gets the 4-feature reference stream and 1 to 100 features. A
univariate detector that scores the shape of windows, not single values,
also declares ``subsequence_only = True`` and gets the shape reference stream.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import roc_auc_score

from pynomaly.engine import create_detector, detector_class, list_detectors, restore_detector

NAMES = list_detectors()
#: Tolerance between the batch and the one-event paths (floating-point order).
RTOL, ATOL = 1e-9, 1e-12
MUTABLE = (list, dict, set, bytearray, np.ndarray)


def univariate_only(name: str) -> bool:
    return bool(getattr(detector_class(name), "univariate_only", False))


@pytest.fixture
def stream(name, reference_stream, univariate_stream, shape_stream):
    """The labelled reference stream this detector is held to."""
    if getattr(detector_class(name), "subsequence_only", False):
        return shape_stream
    return univariate_stream if univariate_only(name) else reference_stream


def assert_same(actual, expected, what: str) -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def assert_same_explanation(a, b) -> None:
    assert (a is None) == (b is None)
    if a is not None:
        assert_same(a, b, "explanations differ")


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_frozen_without_shared_mutable_defaults(name):
    cls = detector_class(name)
    for field_name, info in cls.Params.model_fields.items():
        assert not isinstance(info.default, MUTABLE), f"{name}.{field_name} has a mutable default"
        if info.default_factory is not None:
            first, second = info.default_factory(), info.default_factory()
            assert not isinstance(first, MUTABLE) or first is not second
    a, b = create_detector(name), create_detector(name)
    for field_name in cls.Params.model_fields:
        value = getattr(a.params, field_name)
        if isinstance(value, MUTABLE):
            assert value is not getattr(b.params, field_name), f"{name}.{field_name} is shared"
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError
        a.params.__setattr__(next(iter(cls.Params.model_fields), "x"), None)


@pytest.mark.parametrize("name", NAMES)
def test_clone_is_untrained_with_equal_parameters(name, stream):
    X, _ = stream
    det = create_detector(name)
    det.learn_many(X[:300])
    clone = det.clone()
    assert clone.get_params() == det.get_params()
    assert clone.n_features is None
    assert_same(clone.score_learn_many(X[:400]), create_detector(name).score_learn_many(X[:400]),
                "a clone of a trained detector scores differently from a fresh one")


@pytest.mark.parametrize("name", NAMES)
def test_snapshot_round_trip_gives_identical_scores(name, stream):
    X, _ = stream
    det = create_detector(name)
    untrained = type(det).restore(det.snapshot())
    assert untrained.n_features is None
    det.learn_many(X[:500])
    blob = det.snapshot()
    copies = [type(det).restore(blob), restore_detector(blob), pickle.loads(pickle.dumps(det))]
    probe = X[500:520]
    expected_static = det.score_many(probe)
    expected_explain = det.explain_one(probe[0])
    expected = det.score_learn_many(X[500:800])
    for copy in copies:
        assert type(copy) is type(det) and copy.get_params() == det.get_params()
        np.testing.assert_array_equal(copy.score_many(probe), expected_static)
        assert_same_explanation(copy.explain_one(probe[0]), expected_explain)
        np.testing.assert_array_equal(copy.score_learn_many(X[500:800]), expected)
    np.testing.assert_array_equal(untrained.score_learn_many(X[:300]),
                                  create_detector(name).score_learn_many(X[:300]))


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_a_seed(name, stream):
    X, _ = stream
    first = create_detector(name).score_learn_many(X[:600])
    np.testing.assert_array_equal(create_detector(name).score_learn_many(X[:600]), first)
    if "seed" in detector_class(name).Params.model_fields:
        a = create_detector(name, seed=12345).score_learn_many(X[:600])
        np.testing.assert_array_equal(create_detector(name, seed=12345).score_learn_many(X[:600]), a)


@pytest.mark.parametrize("name", NAMES)
def test_batch_and_one_event_paths_agree(name, stream):
    X, _ = stream
    X = X[:600]
    batch = create_detector(name)
    expected = batch.score_learn_many(X)

    single = create_detector(name)
    got = np.empty(len(X))
    for i in [*range(100), *range(400, 600)]:
        if i == 400:
            single.learn_many(X[100:400])
        got[i] = single.score_one(X[i])
        single.learn_one(X[i])
    rows = np.r_[0:100, 400:600]
    assert_same(got[rows], expected[rows], "score_one+learn_one != score_learn_many")

    probe = X[::37]
    static = batch.score_many(probe)
    assert_same(batch.score_many(probe), static, "score_many changed the state")
    assert_same(static, [batch.score_one(x) for x in probe], "score_many != score_one")
    assert_same(single.score_many(probe), static, "states differ after the same events")
    assert_same_explanation(single.explain_one(probe[0]), batch.explain_one(probe[0]))


@pytest.mark.parametrize("name", NAMES)
def test_score_many_does_not_learn(name, stream):
    X, _ = stream
    touched, untouched = create_detector(name), create_detector(name)
    touched.learn_many(X[:300])
    untouched.learn_many(X[:300])
    touched.score_many(X[300:500])
    touched.explain_one(X[300])
    np.testing.assert_array_equal(touched.score_learn_many(X[300:600]),
                                  untouched.score_learn_many(X[300:600]))


def adversarial_batches(name: str):
    """Batches mixing NaN, ±inf, ±1e308, subnormals and ordinary values."""
    widths = [1] if univariate_only(name) else [1, 3, 100]
    specials = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 0.0, 1.0, -1.0])
    elements = st.one_of(specials, st.floats(allow_nan=True, allow_infinity=True, width=64))

    @st.composite
    def batch(draw):
        d = draw(st.sampled_from(widths))
        n = draw(st.integers(1, 40 if d < 100 else 8))
        return draw(arrays(np.float64, (n, d), elements=elements))

    return batch()


def check_finite(det, X: np.ndarray) -> None:
    scores = det.score_learn_many(X)
    assert scores.shape == (len(X),) and np.all(np.isfinite(scores))
    assert np.all(np.isfinite(det.score_many(X)))
    explanation = det.explain_one(X[-1])
    if explanation is not None:
        assert explanation.shape == (X.shape[1],) and np.all(np.isfinite(explanation))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(data=st.data())
def test_finite_scores_on_adversarial_input(name, data):
    X = data.draw(adversarial_batches(name))
    warm = np.random.default_rng(0).normal(size=(200, X.shape[1]))
    fresh = create_detector(name).explain_one(X[0])  # before anything was learned
    assert fresh is None or (fresh.shape == (X.shape[1],) and np.all(np.isfinite(fresh)))
    det = create_detector(name)
    check_finite(det, X)
    det = create_detector(name)
    det.learn_many(warm)
    check_finite(det, X)
    check_finite(det, warm[:50])
    check_finite(type(det).restore(det.snapshot()), X)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value", [0.0, 7.5, -1e300])
def test_constant_streams_score_finite(name, value):
    d = 1 if univariate_only(name) else 3
    det = create_detector(name)
    check_finite(det, np.full((600, d), value))
    check_finite(det, np.full((5, d), value + 1.0))


@pytest.mark.parametrize("name", NAMES)
def test_minimum_roc_auc_on_the_reference_stream(
    name, stream, reference_warmup, min_reference_roc_auc
):
    X, y = stream
    det = create_detector(name)
    scores = np.concatenate([det.score_learn_many(X[i : i + 100]) for i in range(0, len(X), 100)])
    auc = roc_auc_score(y[reference_warmup:], scores[reference_warmup:])
    assert auc >= min_reference_roc_auc, f"{name}: ROC-AUC {auc:.3f} < {min_reference_roc_auc}"
