"""shape_ensemble: the combination against its naive twin; weight 0 is the ensemble."""

from __future__ import annotations

import numpy as np
import pytest
from naive_left_discord import naive_shape_combine

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.shape_ensemble import combine


def _stream(n: int = 7000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) * 2 * np.pi / 60) + rng.normal(0, 0.05, n)
    x[5000:5030] = np.sin(np.arange(30) * 2 * np.pi / 30)
    return x


@pytest.mark.kernel
@pytest.mark.parametrize(("weight", "quiet"), [(2.0, 0), (2.0, 40), (0.5, 7)])
def test_combination_equals_the_naive_twin_across_batches(weight: float, quiet: int) -> None:
    rng = np.random.default_rng(0)
    s_e = rng.uniform(0, 0.5, 3000)
    d = np.where(np.arange(3000) < 700, 0.0, rng.gamma(2.0, 0.05, 3000))
    d[[1500, 1520, 2500]] = 2.0  # shape alarms, the second inside the first one's quiet period
    stats = np.zeros(4)
    got = np.concatenate(
        [
            combine(s_e[i : i + 257], d[i : i + 257], stats, 50, weight, 10.0, 5.0, quiet)
            for i in range(0, 3000, 257)
        ]
    )
    want = naive_shape_combine(s_e, d, 50, weight, 10.0, 5.0, quiet)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_weight_zero_is_the_ensemble_and_the_shape_finds_the_distorted_cycle() -> None:
    x = _stream().reshape(-1, 1)
    ens = create_detector("univariate_ensemble").score_learn_many(x)
    np.testing.assert_array_equal(
        create_detector("shape_ensemble", shape_weight=0.0).score_learn_many(x), ens
    )
    det = create_detector("shape_ensemble")
    s = np.concatenate([det.score_learn_many(x[i : i + 500]) for i in range(0, len(x), 500)])
    assert det.discord.window == 60
    assert 5000 <= int(np.argmax(s[2000:])) + 2000 < 5000 + 30 + 60
    assert s.min() >= 0.0 and s.max() <= 1.0 + 1e-6
