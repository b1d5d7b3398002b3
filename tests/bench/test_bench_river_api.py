"""The River-API rows of ``pynomaly bench detectors`` time the very detector of their row."""

from __future__ import annotations

import numpy as np
import pytest

from pynomaly.bench.detectors import build_pairs, make_stream
from pynomaly.bench.river_api import river_model
from pynomaly.engine import create_detector

X, _ = make_stream(1200, 4, seed=0)
PAIRS = {pair.native: pair.params for pair in build_pairs(X)}


RIVER_NAMES = {"hst", "loda", "rcf", "rshash", "xstream", "robust_zscore"}


def test_every_detector_with_a_river_class_gets_the_river_api_rows() -> None:
    assert {name for name in PAIRS if river_model(name, PAIRS[name]) is not None} == RIVER_NAMES


@pytest.mark.parametrize("name", sorted(RIVER_NAMES))
def test_river_model_scores_equal_the_engine_detector(name: str) -> None:
    model = river_model(name, PAIRS[name])
    expected = create_detector(name, **PAIRS[name]).score_learn_many(X)
    got = []
    for x in X.tolist():
        event = dict(enumerate(x))
        got.append(model.score_one(event))
        model.learn_one(event)
    assert got[0] == 0.0  # nothing learned yet: 0 by the River classes' rule
    np.testing.assert_allclose(got[1:], expected[1:], rtol=1e-12, atol=1e-12)
