"""Drift monitors: numba Page-Hinkley vs its naive twin and River; wrappers; config."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from river.drift import PageHinkley

from pynomaly.engine.decision.drift import (
    MONITORS,
    DriftEvent,
    DriftMonitorConfig,
    FastPageHinkleyMonitor,
    make_monitor,
)


def naive_page_hinkley(xs, min_instances=30, delta=0.005, threshold=50.0, alpha=1 - 1e-4, mode="both"):
    """Page (1954) as River writes it: plain Python, state restarted after an alarm."""
    hits = []
    n = mean = inc = dec = 0.0
    min_inc, max_dec = float("inf"), -1.0
    for i, x in enumerate(xs):
        n += 1
        mean += (x - mean) / n
        dev = x - mean
        inc = alpha * inc + dev - delta
        dec = alpha * dec + dev + delta
        min_inc, max_dec = min(min_inc, inc), max(max_dec, dec)
        if n >= min_instances:
            up, down = inc - min_inc > threshold, max_dec - dec > threshold
            if {"both": up or down, "up": up, "down": down}[mode]:
                hits.append(i)
                n = mean = inc = dec = 0.0
                min_inc, max_dec = float("inf"), -1.0
    return hits


def shifting_stream(seed, n=3000):
    rng = np.random.default_rng(seed)
    levels = np.repeat(rng.normal(scale=4.0, size=6), n // 6)
    return levels + rng.normal(size=levels.size)


@pytest.mark.kernel
@pytest.mark.parametrize("mode", ["both", "up", "down"])
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_page_hinkley_matches_naive_twin_and_river(mode, seed):
    x = shifting_stream(seed)
    params = {"threshold": 20.0, "min_instances": 20, "mode": mode}
    mon = make_monitor("fast_page_hinkley", params)
    got = np.r_[mon.update_many(x[:1111]), 1111 + mon.update_many(x[1111:])].tolist()
    assert got == naive_page_hinkley(x.tolist(), min_instances=20, threshold=20.0, mode=mode)
    river_ph = PageHinkley(threshold=20.0, min_instances=20, mode=mode)
    river_hits = []
    for i, v in enumerate(x.tolist()):
        river_ph.update(v)
        if river_ph.drift_detected:
            river_hits.append(i)
    assert got == river_hits
    if mode == "both":
        assert len(got) >= 3


@pytest.mark.kernel
@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), max_size=200), st.floats(0.5, 30.0))
def test_fast_page_hinkley_twin_property(xs, threshold):
    mon = FastPageHinkleyMonitor(threshold=threshold, min_instances=5)
    assert mon.update_many(xs).tolist() == naive_page_hinkley(xs, min_instances=5, threshold=threshold)


@pytest.mark.parametrize("kind", ["adwin", "page_hinkley", "kswin", "fast_page_hinkley"])
def test_every_monitor_detects_a_clear_shift_and_round_trips(kind):
    rng = np.random.default_rng(7)
    x = np.r_[rng.normal(size=600), rng.normal(loc=6.0, size=400)]
    # KSWIN tests every step; at its default alpha=0.005 it false-alarms often.
    mon = make_monitor(kind, {"seed": 1, "alpha": 1e-4} if kind == "kswin" else {})
    first = mon.update_many(x[:450])
    twin = type(mon).restore(mon.snapshot())
    rest, rest_twin = mon.update_many(x[450:]), twin.update_many(x[450:])
    np.testing.assert_array_equal(rest, rest_twin)
    hits = np.r_[first, rest + 450]
    after = hits[hits >= 600]
    assert after.size and after[0] < 700, (kind, hits)


@pytest.mark.parametrize("kind", sorted(MONITORS))
def test_monitors_tolerate_non_finite_values(kind):
    """Non-finite values neither raise nor poison the state: positions stay in
    range, and a clear shift after them is still found."""
    rng = np.random.default_rng(3)
    mon = make_monitor(kind, {"seed": 1, "alpha": 1e-4} if kind == "kswin" else {})
    hits = mon.update_many([np.nan, np.inf, -np.inf, 1.0])
    assert hits.dtype.kind in "iu" and ((hits >= 0) & (hits < 4)).all(), hits
    later = mon.update_many(np.r_[rng.normal(size=600), rng.normal(loc=6.0, size=400)])
    assert (later >= 600).any(), (kind, later)


def test_drift_event_is_small_data():
    ev = DriftEvent("adwin", "score", 12, {"feature": 1})
    assert (ev.monitor, ev.stream, ev.index, ev.detail) == ("adwin", "score", 12, {"feature": 1})
    with pytest.raises(AttributeError):
        ev.index = 3  # type: ignore[misc]


def test_monitor_config_validation():
    cfg = DriftMonitorConfig(monitor="kswin", stream="input", features=[0, 2], params={"seed": 3})
    assert cfg.build().get_params()["seed"] == 3
    with pytest.raises(ValidationError, match="monitor"):
        DriftMonitorConfig(monitor="ddm")
    with pytest.raises(ValidationError, match="only be given for stream='input'"):
        DriftMonitorConfig(monitor="adwin", stream="score", features=[0])
    with pytest.raises(ValidationError, match="delta"):
        DriftMonitorConfig(monitor="adwin", params={"delta": 2.0})
    with pytest.raises(ValidationError, match="stat_size must be smaller"):
        DriftMonitorConfig(monitor="kswin", params={"window_size": 10, "stat_size": 10})
    with pytest.raises(ValidationError, match="Extra inputs"):
        DriftMonitorConfig(monitor="page_hinkley", params={"lambda_": 3})
    with pytest.raises(ValueError, match="unknown drift monitor"):
        make_monitor("cusum2")
