"""Left discords: the kernel against its naive twin and STUMPY, the window, the detector."""

from __future__ import annotations

import math

import numpy as np
import pytest
from naive_left_discord import naive_dominant_period, naive_left_profile

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.left_discord import dominant_period
from pynomaly.engine.detectors.left_discord_kernels import new_state, run_kernel


def _shape_stream(n: int, period: int, seed: int) -> np.ndarray:
    """A noisy periodic signal with a constant stretch, a spike and a distorted cycle."""
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 2 * np.pi / period) + rng.normal(0, 0.1, n)
    x[n // 3 : n // 3 + period // 2] = 0.25  # constant windows on both sides of the convention
    x[n // 2] += 3.0
    x[2 * n // 3 : 2 * n // 3 + period] *= np.linspace(1.0, -1.0, period)
    return x


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("m", "history", "excl", "refresh", "batch"),
    [(20, 100, 5, 97, 53), (7, 1000, 2, 0, 1), (50, 60, 13, 11, 700), (12, 5, 0, 64, 31)],
)
def test_kernel_equals_the_naive_twin(m, history, excl, refresh, batch) -> None:
    x = _shape_stream(700, 40, seed=m)
    state = new_state(m, history, excl, refresh)
    got = np.concatenate([run_kernel(state, x[i : i + batch]) for i in range(0, x.size, batch)])
    np.testing.assert_allclose(got, naive_left_profile(x, m, history, excl), rtol=1e-9, atol=1e-7)


@pytest.mark.kernel
def test_kernel_stays_exact_far_from_zero_and_over_long_streams() -> None:
    """Running dot products of large values: the refresh keeps rounding from piling up."""
    x = 1e4 + _shape_stream(3000, 25, seed=5)
    state = new_state(25, 300, 7, 256)
    got = run_kernel(state, x - x[:1000].mean())
    np.testing.assert_allclose(got, naive_left_profile(x, 25, 300, 7), rtol=1e-7, atol=1e-6)


def test_kernel_matches_stumpy_stumpi_left_profile() -> None:
    """With a history longer than the stream, the left matrix profile of ``stumpy.stumpi``."""
    stumpy = pytest.importorskip("stumpy")
    x = _shape_stream(1200, 30, seed=2)
    m, start = 30, 200
    stream = stumpy.stumpi(x[:start], m, egress=False)
    for v in x[start:]:
        stream.update(v)
    theirs = np.asarray(stream.left_P_)[start - m + 1 :]  # windows ending at start..n-1
    ours = run_kernel(new_state(m, 10_000, math.ceil(m / 4), 1 << 16), x)[start:]
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-6)


@pytest.mark.kernel
@pytest.mark.parametrize("seed", range(4))
def test_dominant_period_equals_the_naive_twin(seed) -> None:
    rng = np.random.default_rng(seed)
    period = int(rng.integers(8, 120))
    x = np.sin(np.arange(1000) * 2 * np.pi / period) + rng.normal(0, 0.5, 1000)
    got = dominant_period(x, 4, 500)
    want = naive_dominant_period(x, 4, 500)
    assert got[0] == want[0] and got[1] == pytest.approx(want[1], abs=1e-9)
    assert abs(got[0] - period) <= 1
    assert dominant_period(np.full(100, 3.0), 4, 50) == (0, 0.0)
    assert dominant_period(np.arange(100.0), 4, 50) == (0, 0.0)  # a trend has no peak


def test_detector_scores_the_kernel_from_the_learned_window() -> None:
    x = _shape_stream(4000, 60, seed=9)
    det = create_detector("left_discord", period_after=1000, history=500)
    s = det.score_learn_many(x.reshape(-1, 1))
    assert det.window == 60
    assert np.all(s[:1000] == 0.0) and s.min() >= 0.0 and s.max() <= 1.0
    excl = math.ceil(60 * 0.25)
    want = naive_left_profile(x, 60, 500, excl)[1000:] / (2 * math.sqrt(60))
    np.testing.assert_allclose(s[1000:], want, rtol=1e-9, atol=1e-9)
    assert 2 * 4000 // 3 <= int(np.argmax(s)) < 2 * 4000 // 3 + 2 * 60


def test_no_period_means_silence_unless_a_fallback_window_is_given() -> None:
    x = np.random.default_rng(4).normal(size=3000)
    silent = create_detector("left_discord", period_until=2000)
    assert np.all(silent.score_learn_many(x.reshape(-1, 1)) == 0.0) and silent.window == 0
    fallback = create_detector("left_discord", period_until=2000, fallback_window=32)
    s = fallback.score_learn_many(x.reshape(-1, 1))
    assert fallback.window == 32 and np.all(s[:2000] == 0.0) and s[2000:].min() > 0.0


def test_a_long_period_is_found_when_the_stored_values_double() -> None:
    """Period 700 cannot show in 1000 values (lags < 500): the search at 2000 finds it."""
    rng = np.random.default_rng(8)
    x = np.sin(np.arange(6000) * 2 * np.pi / 700) + rng.normal(0, 0.05, 6000)
    det = create_detector("left_discord", history=3000)
    s = np.concatenate([det.score_learn_many(x[i : i + 300, None]) for i in range(0, 6000, 300)])
    assert abs(det.window - 700) <= 10  # the biased estimate leans to shorter lags
    assert np.all(s[:2000] == 0.0) and s[2000:].min() > 0.0
    excl = math.ceil(det.window * 0.25)
    want = naive_left_profile(x, det.window, 3000, excl)[2000:] / (2 * math.sqrt(det.window))
    np.testing.assert_allclose(s[2000:], want, rtol=1e-9, atol=1e-9)


def test_a_given_window_scores_from_the_first_point() -> None:
    x = 500.0 + _shape_stream(900, 30, seed=6)
    det = create_detector("left_discord", window=16, history=200)
    s = np.concatenate([det.score_learn_many(x[i : i + 64, None]) for i in range(0, 900, 64)])
    want = naive_left_profile(x, 16, 200, 4) / (2 * math.sqrt(16))
    np.testing.assert_allclose(s, want, rtol=1e-8, atol=1e-8)
