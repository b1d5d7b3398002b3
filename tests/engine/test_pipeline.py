"""ScoringPipeline end to end: detection, batch = row-by-row, policies, snapshots, config."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydantic import ValidationError

from pynomaly.engine import create_detector
from pynomaly.engine.pipeline import PipelineConfig, ScoringPipeline


def stream_with_anomalies(seed=0, n=6000, d=3, n_anomalies=10, start=2500, size=8.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    rows = np.sort(rng.choice(np.arange(start, n), n_anomalies, replace=False))
    feats = rng.integers(0, d, n_anomalies)
    X[rows, feats] += size * rng.choice([-1.0, 1.0], n_anomalies)
    return X, rows, feats


@pytest.mark.parametrize(
    ("calibration", "level"),
    [
        ({"kind": "conformal", "window": 2000}, 0.9995),
        ({"kind": "spot", "n_init": 1000, "level": 0.98, "q": 1e-4}, 0.9999),
    ],
)
def test_flags_injected_anomalies_with_few_false_alarms(calibration, level):
    false_alarms = 0
    for seed in range(4):
        X, rows, feats = stream_with_anomalies(seed=seed)
        pipe = ScoringPipeline({
            "detector": {"name": "robust_zscore", "params": {"alpha": 0.005}},
            "calibration": calibration,
            "threshold": {"kind": "probability", "level": level},
            "warmup": 200,
            "protect": True,
        })
        flags = np.zeros(len(X), dtype=bool)
        for lo in range(0, len(X), 500):  # micro-batches
            res = pipe.process_many(X[lo : lo + 500])
            assert res.start == lo and len(res) == min(500, len(X) - lo)
            assert np.all((res.probability >= 0) & (res.probability <= 1))
            flags[lo : lo + 500] = res.is_anomaly
            assert set(res.explanations) == set(np.flatnonzero(res.is_anomaly).tolist())
            for contrib in res.explanations.values():
                assert contrib.sum() == pytest.approx(1.0)
            for r, f in zip(rows, feats, strict=True):
                if lo <= r < lo + 500:
                    assert int(np.argmax(res.explanations[r - lo])) == f
        assert flags[rows].all(), (seed, rows[~flags[rows]])
        false_alarms += flags.sum() - len(rows)
    # 4 x 6000 events; nominal rate about 1/2001 (conformal) or 1e-4 (SPOT)
    assert false_alarms <= 20


def _config(**overrides):
    base = {
        "detector": {"name": "robust_zscore", "params": {"alpha": 0.05, "warmup": 10}},
        "calibration": {"kind": "conformal", "window": 200},
        "threshold": {"kind": "probability", "level": 0.98},
        "warmup": 40,
    }
    return {**base, **overrides}


SHIFT_MONITORS = [
    {"monitor": "fast_page_hinkley", "stream": "input", "features": [1], "params": {"threshold": 15.0}},
    {"monitor": "fast_page_hinkley", "stream": "score", "params": {"threshold": 25.0}},
]


def shifting_stream(seed=1, n=900):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    X[n // 3 :, 1] += 6.0
    X[2 * n // 3 :, 0] -= 5.0
    X[rng.choice(n, 12, replace=False), 0] += 9.0
    return X


@pytest.mark.parametrize(
    "overrides",
    [
        {"protect": True},
        {"protect": True, "threshold": {"kind": "quantile", "level": 0.97, "window": 100, "min_count": 20}},
        {"drift": SHIFT_MONITORS, "drift_policy": "reset"},
        {"drift": SHIFT_MONITORS, "drift_policy": "rewarm", "protect": True},
        {"drift": SHIFT_MONITORS, "drift_policy": "recalibrate"},
        {"drift": [{"monitor": "adwin", "stream": "input"}], "drift_policy": "reset", "protect": True},
    ],
)
def test_batch_equals_row_by_row(overrides):
    """The naive twin of the speculative batch path: one event per call."""
    X = shifting_stream()
    batch = ScoringPipeline(_config(**overrides))
    single = ScoringPipeline(_config(**overrides))
    res = batch.process_many(X)
    one = [single.process_many(X[i : i + 1]) for i in range(len(X))]
    np.testing.assert_array_equal(res.scores, np.concatenate([r.scores for r in one]))
    np.testing.assert_array_equal(res.probability, np.concatenate([r.probability for r in one]))
    np.testing.assert_array_equal(res.is_anomaly, np.concatenate([r.is_anomaly for r in one]))
    np.testing.assert_array_equal(res.threshold, np.concatenate([r.threshold for r in one]))
    assert res.drift_events == [ev for r in one for ev in r.drift_events]
    assert res.is_anomaly.sum() >= 5
    if "drift" in overrides:
        assert res.drift_events and all(ev.detail["action"] == overrides["drift_policy"]
                                        for ev in res.drift_events)


def test_protect_keeps_flagged_events_out_of_the_detector():
    X = np.random.default_rng(2).normal(size=(400, 1))
    X[300:310] = 50.0  # a burst
    cfg = _config(
        detector={"name": "robust_zscore", "params": {"alpha": 0.05, "warmup": 10, "clip_z": 0.0}},
        threshold={"kind": "static", "value": 6.0},
    )
    guarded = ScoringPipeline({**cfg, "protect": True}).process_many(X)
    learned = ScoringPipeline(cfg).process_many(X)
    assert guarded.is_anomaly[300:310].all()
    assert learned.is_anomaly[300:310].sum() < 10  # the unprotected detector adapts to the burst
    reference = create_detector("robust_zscore", alpha=0.05, warmup=10, clip_z=0.0)
    reference.learn_many(np.delete(X[:310], np.flatnonzero(guarded.is_anomaly[:310]), axis=0))
    assert reference.score_one(X[310]) == guarded.scores[310]


def test_protect_stops_past_anomalies_masking_later_ones():
    X = np.random.default_rng(5).normal(size=(1200, 1))
    X[[700, 800, 900]] = [[12.0], [11.0], [10.0]]  # decreasing: each one below the last
    cfg = _config(calibration={"kind": "conformal", "window": 500},
                  threshold={"kind": "probability", "level": 0.995})
    guarded = ScoringPipeline({**cfg, "protect": True}).process_many(X)
    plain = ScoringPipeline(cfg).process_many(X)
    assert guarded.is_anomaly[[700, 800, 900]].all()
    assert not plain.is_anomaly[900]  # two larger scores in the window: p = 3/501


def test_reset_policy_restarts_the_detector_after_the_event():
    X = shifting_stream()
    cfg = _config(drift=SHIFT_MONITORS[:1], drift_policy="reset")
    res = ScoringPipeline(cfg).process_many(X)
    e = res.drift_events[0].index
    later = [ev.index for ev in res.drift_events[1:]]
    end = later[0] + 1 if later else len(X)
    fresh = create_detector("robust_zscore", alpha=0.05, warmup=10)
    np.testing.assert_array_equal(res.scores[e + 1 : end], fresh.score_learn_many(X[e + 1 : end]))


def test_a_reset_does_not_trigger_the_next_one():
    # After a reset the fresh detector's warm-up scores (zeros) must not look
    # like score drift; otherwise every reset causes another.
    # (Watching right after each reset gave 66 events here instead of 5.)
    X = np.random.default_rng(6).normal(size=(6000, 3))
    X[2000:, 0] += 5.0
    cfg = _config(
        drift=[{"monitor": "fast_page_hinkley", "stream": "input", "features": [0]},
               {"monitor": "fast_page_hinkley", "stream": "score", "params": {"threshold": 25.0}}],
        drift_policy="reset",
    )
    pipe = ScoringPipeline(cfg)
    res = pipe.process_many(X)
    assert any(2000 <= ev.index < 2010 for ev in res.drift_events)
    assert len(res.drift_events) <= 8
    assert pipe.score_watch_from == res.drift_events[-1].index + 1 + cfg["warmup"]


def test_rewarm_policy_silences_alerts_for_a_new_warmup():
    X = shifting_stream()
    cfg = _config(drift=SHIFT_MONITORS[:1], drift_policy="rewarm", warmup=60)
    pipe = ScoringPipeline(cfg)
    res = pipe.process_many(X)
    for ev in res.drift_events:
        assert not res.is_anomaly[ev.index + 1 : ev.index + 61].any()
    assert pipe.warm_start == res.drift_events[-1].index + 1
    assert pipe.calibrator.n_seen == len(X) - pipe.warm_start


def test_recalibrate_policy_resets_only_the_calibrator():
    X = shifting_stream()
    pipe = ScoringPipeline(_config(drift=SHIFT_MONITORS[:1], drift_policy="recalibrate"))
    res = pipe.process_many(X)
    last = res.drift_events[-1].index
    assert pipe.calibrator.n_seen == min(200, len(X) - last - 1)
    np.testing.assert_array_equal(
        res.scores, create_detector("robust_zscore", alpha=0.05, warmup=10).score_learn_many(X)
    )


def test_snapshot_round_trip_mid_stream():
    X = shifting_stream(seed=3)
    cfg = _config(
        calibration={"kind": "dspot", "n_init": 100, "level": 0.9, "q": 1e-3, "depth": 10},
        drift=[*SHIFT_MONITORS, {"monitor": "kswin", "stream": "score", "params": {"seed": 2}},
               {"monitor": "adwin", "stream": "input"}],
        drift_policy="reset", protect=True,
    )
    whole = ScoringPipeline(cfg).process_many(X)
    pipe = ScoringPipeline(cfg)
    first = pipe.process_many(X[:450])
    again = ScoringPipeline.restore(pipe.snapshot())
    second = again.process_many(X[450:])
    np.testing.assert_array_equal(np.r_[first.scores, second.scores], whole.scores)
    np.testing.assert_array_equal(np.r_[first.is_anomaly, second.is_anomaly], whole.is_anomaly)
    assert first.drift_events + second.drift_events == whole.drift_events
    assert again.snapshot() != pipe.snapshot()
    with pytest.raises(ValueError, match="not a pipeline snapshot"):
        ScoringPipeline.restore(create_detector("robust_zscore").snapshot())


@pytest.mark.parametrize("combine", ["max", "fisher", "mean"])
def test_ensemble_detector_in_a_pipeline(combine):
    X, rows, _ = stream_with_anomalies(seed=1, n=4000, start=2500, n_anomalies=5)
    pipe = ScoringPipeline({
        "detector": {"name": "ensemble", "params": {
            "combine": combine,
            "members": [{"detector": "robust_zscore", "params": {"alpha": a}} for a in (0.005, 0.05)],
        }},
        "calibration": {"kind": "conformal", "window": 2000},
        "threshold": {"kind": "probability", "level": 0.9995},
        "warmup": 200,
        "protect": True,
    })
    res = pipe.process_many(X)
    assert res.is_anomaly[rows].all() and res.is_anomaly.sum() <= len(rows) + 3


def test_config_validation_messages():
    assert PipelineConfig.model_validate({"detector": "robust_zscore"}).detector.name == "robust_zscore"
    cfg = PipelineConfig.model_validate(_config(drift=SHIFT_MONITORS, drift_policy="rewarm"))
    assert PipelineConfig.model_validate(cfg.model_dump(mode="json")) == cfg
    with pytest.raises(ValidationError, match=r"unknown detector 'nope'; known: .*robust_zscore"):
        PipelineConfig.model_validate({"detector": "nope"})
    with pytest.raises(ValidationError, match="alpha"):
        PipelineConfig.model_validate({"detector": {"name": "robust_zscore", "params": {"alpha": 3}}})
    with pytest.raises(ValidationError, match="'conformal', 'spot', 'dspot'"):
        PipelineConfig.model_validate({"calibration": {"kind": "isotonic"}})
    with pytest.raises(ValidationError, match=r"threshold\.probability\.level"):
        PipelineConfig.model_validate({"threshold": {"kind": "probability", "level": 2}})
    with pytest.raises(ValidationError, match="needs at least one drift monitor"):
        PipelineConfig.model_validate({"drift_policy": "reset"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        PipelineConfig.model_validate({"treshold": {}})
    with pytest.raises(ValidationError, match="warmup"):
        PipelineConfig.model_validate({"warmup": -1})


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 40), st.just(2))))
def test_bad_values_never_break_the_pipeline(X):
    pipe = ScoringPipeline(_config(drift=SHIFT_MONITORS, drift_policy="rewarm", protect=True, warmup=0))
    pipe.process_many(np.random.default_rng(0).normal(size=(60, 2)))
    res = pipe.process_many(X)
    assert len(res) == X.shape[0]
    assert np.all(np.isfinite(res.scores)) and np.all((res.probability >= 0) & (res.probability <= 1))


def test_bad_shapes_are_rejected():
    pipe = ScoringPipeline()
    pipe.process_many(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="expected 2 features, got 3"):
        pipe.process_many(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="must be 2-D"):
        pipe.process_many(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="feature 5 >= 2 features"):
        ScoringPipeline({"drift": [{"monitor": "adwin", "stream": "input", "features": [5]}]}).process_many(
            np.zeros((2, 2))
        )
