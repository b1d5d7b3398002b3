"""Calibrators against slow naive twins, scipy's GPD fit, and uniformity checks."""

from __future__ import annotations

import math
import pickle
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from pynomaly.engine.decision.calibration import StatefulComponent, make_calibrator
from pynomaly.engine.decision.calibration_conformal import ConformalCalibrator
from pynomaly.engine.decision.calibration_spot import DSpotCalibrator, SpotCalibrator


# -- naive twins ---------------------------------------------------------------
def naive_conformal(scores, window):
    buf: deque[float] = deque(maxlen=window)
    out = []
    for s in scores:
        out.append((1 + sum(1 for w in buf if w >= s)) / (1 + len(buf)))
        buf.append(s)
    return np.array(out)


def _moments_fit(peaks):
    y = np.array(peaks)
    mean = y.mean()
    if mean <= 0:
        return 0.0, 1e-12
    var = ((y - mean) ** 2).mean()
    if var <= 0:
        return 0.0, mean
    r = mean * mean / var
    return 0.5 * (1 - r), 0.5 * mean * (1 + r)


def _zq(t, gamma, sigma, q, n, nt):
    r = q * n / nt
    return t - sigma * math.log(r) if gamma == 0 else t + sigma / gamma * (r ** (-gamma) - 1)


def naive_spot(scores, n_init, level, q, max_peaks, depth=0, refit_growth=0.05):
    """Siffer et al. Alg. 1/3 written plainly, with the method-of-moments fit."""
    init: list[float] = []
    win: deque[float] = deque(maxlen=max(depth, 1))
    peaks: deque[float] = deque(maxlen=max_peaks)
    t = n = nt = gamma = sigma = zq = 0.0
    since = 0
    out = []
    for s in scores:
        x = s - (sum(win) / len(win) if depth and win else 0.0)
        if len(init) < n_init:
            out.append((1 + sum(v >= x for v in init)) / (1 + len(init)))
            init.append(x)
            if len(init) == n_init:
                srt = sorted(init)
                t = srt[min(n_init - 1, max(0, math.ceil(level * n_init) - 1))]
                for v in reversed(srt):
                    if v <= t or len(peaks) == max_peaks:
                        break
                    peaks.append(v - t)
                n, nt = float(n_init), float(max(len(peaks), 1))
                gamma, sigma = _moments_fit(peaks)
                zq = _zq(t, gamma, sigma, q, n, nt)
        else:
            if x > t:
                z = 1 + gamma * (x - t) / sigma
                tail = math.exp(-(x - t) / sigma) if gamma == 0 else (z ** (-1 / gamma) if z > 0 else 0.0)
                out.append(nt / n * tail)
            else:
                out.append(max((1 + sum(v >= x for v in init)) / (1 + n_init), nt / n))
            if x > zq:
                continue
            n += 1
            if x > t:
                peaks.append(x - t)
                nt += 1
                since += 1
                if since >= max(1.0, refit_growth * len(peaks)):
                    gamma, sigma = _moments_fit(peaks)
                    since = 0
                zq = _zq(t, gamma, sigma, q, n, nt)
        if depth:
            win.append(s)
    return np.array(out)


# -- conformal ------------------------------------------------------------------
@pytest.mark.kernel
@pytest.mark.parametrize("window", [1, 7, 64])
def test_conformal_matches_naive_twin_with_ties(window):
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=600), 1)  # many ties
    got = ConformalCalibrator(window=window).p_values(scores)
    np.testing.assert_array_equal(got, naive_conformal(scores, window))


@pytest.mark.kernel
@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False, width=32), max_size=80),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=80),
)
def test_conformal_batch_split_and_twin(scores, window, split):
    arr = np.clip(np.array(scores, dtype=np.float64), -1e300, 1e300)
    whole = ConformalCalibrator(window=window).p_values(arr)
    np.testing.assert_array_equal(whole, naive_conformal(arr.tolist(), window))
    cal = ConformalCalibrator(window=window)
    parts = np.r_[cal.p_values(arr[:split]), cal.p_values(arr[split:])]
    np.testing.assert_array_equal(parts, whole)


def test_conformal_p_values_are_uniform_on_exchangeable_scores():
    rng = np.random.default_rng(11)
    p = ConformalCalibrator(window=500).p_values(rng.gamma(2.0, size=6000))[500:]
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert abs(np.mean(p <= 0.05) - 0.05) < 0.015


def test_conformal_learn_false_leaves_state_alone():
    cal = ConformalCalibrator(window=10)
    cal.p_values(np.arange(20.0))
    before = cal.snapshot()
    cal.p_values([3.0, 100.0], learn=False)
    assert cal.snapshot() == before


def test_nan_scores_rejected_and_inf_accepted():
    cal = ConformalCalibrator(window=5)
    with pytest.raises(ValueError, match="NaN"):
        cal.p_values([1.0, float("nan")])
    p = cal.p_values([1.0, float("inf"), float("-inf")])
    assert np.all((p > 0) & (p <= 1))


# -- SPOT / DSPOT ---------------------------------------------------------------
@pytest.mark.kernel
@pytest.mark.parametrize(("depth", "growth"), [(0, 0.0), (5, 0.0), (0, 0.2), (5, 0.1)])
def test_spot_moments_matches_naive_twin(depth, growth):
    rng = np.random.default_rng(5)
    scores = rng.exponential(size=1500) + np.linspace(0, 3, 1500)
    scores[[900, 1200]] = 40.0  # alarms: not learned
    kw = dict(n_init=300, level=0.9, q=1e-3, max_peaks=40, fit="moments", refit_growth=growth)
    cal = DSpotCalibrator(depth=depth, **kw) if depth else SpotCalibrator(**kw)
    got = np.r_[cal.p_values(scores[:700]), cal.p_values(scores[700:])]
    expected = naive_spot(scores, 300, 0.9, 1e-3, 40, depth, refit_growth=growth)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(("shape", "seed"), [(0.25, 1), (0.0, 2), (-0.2, 3)])
def test_spot_grimshaw_agrees_with_scipy_gpd_fit(shape, seed):
    data = stats.genpareto.rvs(shape, size=20000, random_state=np.random.default_rng(seed))
    cal = SpotCalibrator(n_init=20000, level=0.9, q=1e-4, max_peaks=5000, refit_growth=0.0)
    cal.learn_many(data)
    peaks = cal.peaks()
    c, _, scale = stats.genpareto.fit(peaks, floc=0)
    ref_zq = _zq(cal.t, c, scale, 1e-4, 20000, len(peaks))
    assert cal.z_q == pytest.approx(ref_zq, rel=0.01)
    ours = stats.genpareto.logpdf(peaks, cal.gamma, 0, cal.sigma).sum()
    assert ours >= stats.genpareto.logpdf(peaks, c, 0, scale).sum() - 1e-4  # we are the MLE
    assert cal.gamma == pytest.approx(shape, abs=0.1)


def test_spot_tail_probability_is_calibrated_on_fresh_data():
    rng = np.random.default_rng(8)
    cal = SpotCalibrator(n_init=5000, level=0.98, q=1e-4)
    cal.learn_many(rng.standard_normal(5000))
    fresh = rng.standard_normal(200_000)
    p = cal.p_values(fresh, learn=False)
    for a in (1e-2, 1e-3):
        assert np.mean(p <= a) == pytest.approx(a, rel=0.35)
    assert np.all(np.diff(cal.p_values(np.sort(fresh[:2000]), learn=False)) <= 1e-15)  # monotone


def test_spot_alarms_are_not_learned():
    rng = np.random.default_rng(9)
    cal = SpotCalibrator(n_init=500, level=0.95, q=1e-3)
    cal.learn_many(rng.exponential(size=1000))
    before = (cal.z_q, cal.peaks().size)
    p, zq = cal.thresholds([1e6])
    assert p[0] < 1e-3 and zq[0] == before[0]
    assert (cal.z_q, cal.peaks().size) == before


def test_dspot_follows_a_trend_that_spot_flags():
    rng = np.random.default_rng(12)
    x = rng.normal(size=4000) * 0.5 + np.linspace(0, 40, 4000)
    spot, dspot = SpotCalibrator(n_init=1000, q=1e-3), DSpotCalibrator(n_init=1000, q=1e-3, depth=20)
    assert np.mean(spot.p_values(x)[1000:] < 1e-3) > 0.5
    assert np.mean(dspot.p_values(x)[1000:] < 1e-3) < 0.01


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "conformal", "window": 50},
        {"kind": "spot", "n_init": 100, "level": 0.9, "q": 1e-3},
        {"kind": "dspot", "n_init": 100, "level": 0.9, "q": 1e-3, "depth": 7},
        {"kind": "spot", "n_init": 100, "level": 0.9, "q": 1e-3, "fit": "moments"},
    ],
)
def test_snapshot_round_trip_continues_identically(params):
    rng = np.random.default_rng(4)
    a, b = rng.lognormal(size=300), rng.lognormal(size=200)
    cal = make_calibrator(params)
    cal.p_values(a)
    blob = cal.snapshot()
    twin = StatefulComponent.restore_any(blob)
    assert type(twin) is type(cal) and twin.get_params() == cal.get_params()
    np.testing.assert_array_equal(twin.p_values(b), cal.p_values(b))
    assert pickle.loads(pickle.dumps(cal)).snapshot() == cal.snapshot()
    with pytest.raises(ValueError, match="snapshot is of"):
        (SpotCalibrator if params["kind"] == "conformal" else ConformalCalibrator).restore(blob)


def test_bad_calibration_params_are_explained():
    with pytest.raises(ValueError, match="unknown calibration kind 'gauss'"):
        make_calibrator({"kind": "gauss"})
    with pytest.raises(ValidationError, match="must be below 1 - level"):
        SpotCalibrator(level=0.99, q=0.05)
    with pytest.raises(ValidationError, match="window"):
        ConformalCalibrator(window=0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(allow_nan=False), min_size=1, max_size=120),
    st.sampled_from(["spot", "dspot"]),
    st.sampled_from(["grimshaw", "moments"]),
)
def test_spot_p_values_stay_in_unit_interval_on_any_floats(scores, kind, fit):
    params = {"kind": kind, "n_init": 20, "level": 0.8, "q": 0.01, "max_peaks": 10, "fit": fit}
    cal = make_calibrator(params)
    p = np.r_[cal.p_values(scores), cal.p_values(scores[::-1], learn=False)]
    assert np.all((p >= 0.0) & (p <= 1.0)), p


# -- SPOT against its earlier release ---------------------------------------------
def _spot_reference():
    """Outputs, snapshots and pickles written by the SpotCalibrator that kept
    its own 1-D state arrays, before its state became one slot of the banked
    layout
    (data/spot_reference_v1.pkl: 3 streams x 5 configurations, scores in two
    batches, snapshot and pickle after the first)."""
    from pathlib import Path

    with open(Path(__file__).parent / "data" / "spot_reference_v1.pkl", "rb") as f:
        return pickle.load(f)


def test_spot_gives_the_outputs_of_its_earlier_layout():
    ref = _spot_reference()
    assert len(ref["runs"]) == 15
    for run in ref["runs"]:
        x, k = ref["scores"][run["stream"]], run["split"]
        cal = make_calibrator(run["config"])
        p1, z1 = cal.thresholds(x[:k])
        p2, z2 = cal.thresholds(x[k:])
        np.testing.assert_array_equal(np.r_[p1, p2], run["p"], err_msg=str(run["config"]))
        np.testing.assert_array_equal(np.r_[z1, z2], run["z_q"])
        assert (cal.gamma, cal.sigma, cal.t) == (run["gamma"], run["sigma"], run["t"])


def test_spot_snapshots_and_pickles_of_its_earlier_layout_restore():
    ref = _spot_reference()
    runs = [r for r in ref["runs"] if r["snapshot"] is not None]
    assert len(runs) == 5
    for run in runs:
        x, k = ref["scores"][run["stream"]], run["split"]
        for twin in (StatefulComponent.restore_any(run["snapshot"]), pickle.loads(run["pickle"])):
            assert twin.get_params() == make_calibrator(run["config"]).get_params()
            p, z = twin.thresholds(x[k:])
            np.testing.assert_array_equal(p, run["p"][k:])
            np.testing.assert_array_equal(z, run["z_q"][k:])
            # and the snapshot it writes is the one it read
            again = make_calibrator(run["config"])
            again.thresholds(x[:k])
            assert again.snapshot() == run["snapshot"]
