"""A batch is ``(n_samples, n_features)``: a 1-D array is refused, never guessed.

Before, ``score_many(np.arange(5.0))`` was read as one event of five features
(or, once trained on one feature, as five events): the same call meant two
different things. Every detector, the pipeline and the banked forms now say
how to reshape instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from pynomaly.engine import create_detector, list_detectors
from pynomaly.engine.banked import make_bank
from pynomaly.engine.pipeline import PipelineConfig, ScoringPipeline

ONE_D = np.linspace(0.0, 1.0, 7)
HINT = r"must be 2-D, shape \(n_samples, n_features\); got a 1-D array of 7 values\. " \
       r"Use X\.reshape\(-1, 1\) for 7 events of one feature"


@pytest.mark.parametrize("name", list_detectors())
@pytest.mark.parametrize("method", ["score_many", "score_learn_many", "learn_many"])
def test_untrained_detector_refuses_a_1d_batch(name, method):
    det = create_detector(name)
    with pytest.raises(ValueError, match=HINT):
        getattr(det, method)(ONE_D)
    assert det.n_features is None, "a refused batch must not fix the feature count"


@pytest.mark.parametrize("name", list_detectors())
def test_trained_detector_refuses_a_1d_batch_and_keeps_its_state(name):
    det = create_detector(name)
    X = np.random.default_rng(3).normal(size=(40, 1))
    det.learn_many(X)
    before = det.snapshot()
    for method in ("score_many", "score_learn_many", "learn_many"):
        with pytest.raises(ValueError, match=HINT):
            getattr(det, method)(ONE_D)  # was read as 7 events of the one feature
        with pytest.raises(ValueError, match=HINT):
            getattr(det, method)(ONE_D.tolist())  # a plain list too
    assert det.snapshot() == before
    assert det.score_many(ONE_D.reshape(-1, 1)).shape == (7,)  # the advised reshape works


def test_one_event_methods_still_take_a_1d_event():
    det = create_detector("robust_zscore")
    det.learn_one([1.0, 2.0])
    assert np.isfinite(det.score_one([1.0, 2.0]))
    assert det.explain_one([1.0, 2.0]).shape == (2,)


def test_pipeline_refuses_a_1d_batch():
    with pytest.raises(ValueError, match=r"pipeline: X " + HINT):
        ScoringPipeline().process_many(ONE_D)


@pytest.mark.parametrize("detector", [
    {"name": "robust_zscore"},
    {"name": "hst", "params": {"limits": "unit"}},
])
def test_banked_forms_refuse_a_1d_batch(detector):
    cfg = PipelineConfig.model_validate({"detector": detector, "calibration": {"kind": "none"},
                                         "threshold": {"kind": "static", "value": 6.0}})
    bank = make_bank(cfg, n_features=1)
    bank.ensure(1)
    slots = np.zeros(7, dtype=np.int64)
    with pytest.raises(ValueError, match=HINT):
        bank.score_learn(ONE_D, slots, np.ones(7, dtype=bool))
