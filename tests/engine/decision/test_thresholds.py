"""Thresholds: naive twin of the running quantile, the three kinds, snapshots."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pynomaly.engine.decision.thresholds import (
    ProbabilityThreshold,
    QuantileThreshold,
    StaticThreshold,
    make_threshold,
)


def naive_quantile_threshold(scores, level, window, min_count):
    buf: deque[float] = deque(maxlen=window)
    flags, thr = [], []
    for i, s in enumerate(scores):
        if i < min_count or not buf:
            t = math.inf
        else:
            srt = sorted(buf)
            t = srt[min(len(srt) - 1, max(0, math.ceil(level * len(srt)) - 1))]
        thr.append(t)
        flags.append(s > t)
        buf.append(s)
    return np.array(flags), np.array(thr)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), max_size=60),
    st.floats(0.01, 0.99),
    st.integers(1, 15),
    st.integers(1, 20),
    st.integers(0, 60),
)
def test_quantile_threshold_matches_naive_twin(scores, level, window, min_count, split):
    th = QuantileThreshold(level=level, window=window, min_count=min_count)
    arr = np.array(scores, dtype=np.float64)
    f1, t1 = th.decide(arr[:split])
    f2, t2 = th.decide(arr[split:])
    flags, thr = naive_quantile_threshold(scores, level, window, min_count)
    np.testing.assert_array_equal(np.r_[f1, f2], flags)
    np.testing.assert_array_equal(np.r_[t1, t2], thr)


def test_quantile_threshold_flags_the_top_fraction():
    rng = np.random.default_rng(0)
    flags, _ = QuantileThreshold(level=0.99, window=2000).decide(rng.normal(size=20000))
    assert 0.005 < flags[2000:].mean() < 0.015


def test_static_and_probability_thresholds():
    flags, thr = StaticThreshold(value=3.0).decide([2.9, 3.0, 7.0])
    assert flags.tolist() == [False, True, True] and thr.tolist() == [3.0] * 3
    th = ProbabilityThreshold(level=0.99)
    assert th.scale == "probability"
    assert th.decide([0.0, 0.0, 0.0], [0.5, 0.99, 0.999])[0].tolist() == [False, True, True]
    with pytest.raises(ValueError, match="needs calibrated probabilities"):
        th.decide([1.0])
    with pytest.raises(ValueError, match="2 scores but 1 probabilities"):
        th.decide([1.0, 2.0], [0.5])


def test_decide_without_learning_keeps_state_and_snapshot_round_trips():
    th = make_threshold({"kind": "quantile", "level": 0.9, "window": 50, "min_count": 5})
    th.decide(np.arange(30.0))
    blob = th.snapshot()
    th.decide([100.0, -3.0], learn=False)
    assert th.snapshot() == blob
    twin = QuantileThreshold.restore(blob)
    x = np.linspace(-5, 50, 40)
    np.testing.assert_array_equal(twin.decide(x)[1], th.decide(x)[1])


def test_threshold_config_errors():
    with pytest.raises(ValueError, match="unknown threshold kind 'zscore'"):
        make_threshold({"kind": "zscore"})
    with pytest.raises(ValidationError, match="less than 1"):
        make_threshold({"kind": "probability", "level": 1.5})
    with pytest.raises(ValidationError, match="value"):
        make_threshold({"kind": "static"})
