"""univariate_ensemble: kernel vs naive twin, batching, snapshots, no learning on score."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from naive_univariate import naive_period, naive_rarity, naive_univariate_ensemble

from pynomaly.engine import create_detector
from pynomaly.engine.detectors.univariate_kernels import best_period, rarity

SMALL = dict(
    history=50, warmup=10, short_window=4, long_window=60, likelihood_warmup=10,
    season_min_lag=5, season_max_lag=40, season_every=40, season_first=80,
    season_history=120, refractory=7, alarm_z=3.0,
)  # fmt: skip


def _stream(seed: int, n: int = 700) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 5 + 2 * np.sin(2 * np.pi * t / 17) + rng.normal(0, 0.3, n)
    x[rng.choice(np.arange(100, n), size=6, replace=False)] += rng.choice([-6.0, 6.0], size=6)
    x[400:430] += 1.5  # a level shift
    return x


@pytest.mark.kernel
@pytest.mark.parametrize("record_floor", [1.0, 2.5])
@pytest.mark.parametrize("seed", range(4))
def test_kernel_matches_naive_twin(seed: int, record_floor: float) -> None:
    x = _stream(seed)
    det = create_detector("univariate_ensemble", **SMALL, record_floor=record_floor)
    got = det.score_learn_many(x.reshape(-1, 1))
    want = naive_univariate_ensemble(x, det.params)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert (got >= det.alarm_level).sum() >= 3  # the alarm path is exercised
    assert det.it[1] > 0  # a period was found, so the seasonal path is exercised


def test_record_band_is_exercised_by_the_twin_streams() -> None:
    band = 0
    for seed in range(4):
        det = create_detector("univariate_ensemble", **SMALL, record_floor=1.0)
        s = det.score_learn_many(_stream(seed).reshape(-1, 1))
        band += int(np.sum((s >= det.alarm_level / 2) & (s < det.alarm_level)))
    assert band >= 3


def test_record_level_marks_the_strongest_evidence_yet() -> None:
    rng = np.random.default_rng(0)
    x = 10 + rng.normal(0, 1, 3000)
    x[2000:2006] += 2.5  # a modest burst: below the alarm, above any evidence seen so far
    det = create_detector("univariate_ensemble")
    s = det.score_learn_many(x.reshape(-1, 1))
    level2, alarm = det.alarm_level / 2, det.alarm_level
    band = np.flatnonzero((s >= level2) & (s < alarm))
    assert band.tolist() == [2005]
    assert np.all(s[1000:] < alarm)
    off = create_detector("univariate_ensemble", record=False).score_learn_many(x.reshape(-1, 1))
    assert np.all(off[1000:] < level2)  # without the record level nothing reaches the band
    x2 = x.copy()
    x2[1200:1206] += 4.0  # a stronger incident earlier: the later, weaker burst is no record
    s2 = create_detector("univariate_ensemble").score_learn_many(x2.reshape(-1, 1))
    assert s2[1200:1210].max() >= alarm and np.all(s2[1300:] < level2)


def test_version_1_snapshots_are_upgraded() -> None:
    x = _stream(4).reshape(-1, 1)
    det = create_detector("univariate_ensemble", **SMALL)
    det.score_learn_many(x[:300])
    payload = pickle.loads(det.snapshot())
    payload["state_version"] = 1  # written before the record level existed
    for k in ("record", "record_floor", "record_margin"):
        del payload["params"][k]
    payload["state"]["fl"] = payload["state"]["fl"][:6]
    payload["state"]["it"] = payload["state"]["it"][:4]
    old = type(det).restore(pickle.dumps(payload))
    # the upgrade starts the record afresh: the same as a current detector with no record yet
    det.fl[6], det.it[4] = 0.0, 0
    np.testing.assert_array_equal(old.score_learn_many(x[300:]), det.score_learn_many(x[300:]))


@pytest.mark.kernel
def test_small_kernels_match_naive() -> None:
    rng = np.random.default_rng(5)
    ring = rng.normal(size=40)
    for x in (-3.0, 0.0, 0.4, 2.5):
        assert rarity(ring, 40, x, 0.3) == pytest.approx(naive_rarity(list(ring), x, 0.3))
    y = np.sin(np.arange(200) * 2 * np.pi / 25) + rng.normal(0, 0.05, 200)
    lag, acf = best_period(y, 5, 80)
    assert (lag, acf) == pytest.approx(naive_period(list(y), 5, 80))
    assert lag == 25


def test_batches_and_snapshots_do_not_change_scores() -> None:
    x = _stream(9).reshape(-1, 1)
    whole = create_detector("univariate_ensemble", **SMALL).score_learn_many(x)
    det = create_detector("univariate_ensemble", **SMALL)
    parts = []
    for chunk in np.array_split(x, [1, 33, 34, 250, 500]):
        parts.append(det.score_learn_many(chunk))
        det = type(det).restore(det.snapshot())
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=0)


def test_score_many_learns_nothing() -> None:
    x = _stream(2).reshape(-1, 1)
    det = create_detector("univariate_ensemble", **SMALL)
    det.learn_many(x[:300])
    before = det.snapshot()
    batch = det.score_many(x[300:320])
    assert det.snapshot() == before
    assert [det.score_one(v) for v in x[300:305]] == pytest.approx(batch[:5].tolist())
    assert batch[0] == det.score_learn_many(x[300:301])[0]


def test_scores_are_probabilities_and_alarm_once() -> None:
    rng = np.random.default_rng(0)
    x = 10 + rng.normal(0, 1, 3000)
    x[2000:2100] += 30.0  # a long incident
    det = create_detector("univariate_ensemble")
    s = det.score_learn_many(x.reshape(-1, 1))
    assert s.min() >= 0.0 and s.max() <= 1.0
    alarms = np.flatnonzero(s[1000:] >= det.alarm_level) + 1000
    assert alarms[0] == 2000 and np.all(np.diff(alarms) > det.params.refractory)
    quiet = s[2001 : 2001 + det.params.refractory]
    assert quiet.max() < det.alarm_level and quiet.min() > np.median(s[1000:2000])


def test_rejects_more_than_one_feature() -> None:
    with pytest.raises(ValueError, match="1 feature"):
        create_detector("univariate_ensemble").score_learn_many(np.zeros((5, 2)))


def test_first_change_of_a_constant_metric_alarms() -> None:
    x = np.r_[np.zeros(500), [3.0], np.zeros(100)].reshape(-1, 1)
    det = create_detector("univariate_ensemble")
    s = det.score_learn_many(x)
    assert np.flatnonzero(s >= det.alarm_level).tolist() == [500]
