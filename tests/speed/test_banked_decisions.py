"""Every decision the per-key pipeline accepts runs banked with its results:
each (detector with a bank) x (calibration, threshold) x (drift monitors or
not) over one multi-key stream, through the per-key ``DetectLogic`` and
``BankedDetectLogic`` (alerts, drift records, dead letters, counters, with a
recovery mid-stream on the banked side); and the banked pipeline against one
``ScoringPipeline`` per key, row by row, under every drift policy."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pynomaly.dataflow.detect import DetectLogic, make_detect_logic, split_by_shard
from pynomaly.dataflow.detect_banked import (
    BankedDetectLogic,
    BankedShardState,
    per_key_reason,
)
from pynomaly.dataflow.records import EventBatch
from pynomaly.engine.banked import explanation_shares, make_bank, prepare_values
from pynomaly.engine.banked_pipeline import BankedPipeline
from pynomaly.engine.pipeline import PipelineConfig, ScoringPipeline
from pynomaly.spec import FlowSpec

FIELDS = ("cpu", "lat")
LIMITS = [[0.0, 40.0], [0.0, 400.0]]
DETECTORS = {
    "robust_zscore": ({"name": "robust_zscore", "params": {"alpha": 0.05, "warmup": 10}}, 4.0),
    "hst": ({"name": "hst", "params": {"n_trees": 5, "height": 5, "window_size": 25,
                                       "limits": LIMITS, "seed": 3}}, 0.6),
    "hst_auto": ({"name": "hst", "params": {"n_trees": 5, "height": 5, "window_size": 25,
                                            "seed": 3}}, 0.87),
    "metric_deviation": ({"name": "metric_deviation", "params": {}}, 6.0),
}
CALIBRATIONS = {
    "none": {"kind": "none"},
    "conformal": {"kind": "conformal", "window": 100},
    "spot": {"kind": "spot", "n_init": 60, "level": 0.9, "q": 5e-3, "max_peaks": 40},
    "dspot": {"kind": "dspot", "n_init": 60, "level": 0.9, "q": 5e-3, "max_peaks": 40,
              "depth": 8, "fit": "moments"},
}
THRESHOLDS = {"static": None, "quantile": {"kind": "quantile", "level": 0.98, "window": 100,
                                           "min_count": 30},
              "probability": {"kind": "probability", "level": 0.99}}
#: every pair the pipeline accepts (a probability threshold needs a calibration)
DECISIONS = [(c, t) for c in CALIBRATIONS for t in THRESHOLDS
             if not (c == "none" and t == "probability")]
POLICIES = ["none", "reset", "rewarm", "recalibrate"]


def _monitors(score_scale: float) -> list[dict]:
    """A monitor on the first input and one on the scores (their threshold on
    the detector's scale)."""
    return [{"monitor": "fast_page_hinkley", "stream": "input", "features": [0],
             "params": {"threshold": 25.0, "min_instances": 20}},
            {"monitor": "fast_page_hinkley", "stream": "score",
             "params": {"threshold": 10.0 * score_scale, "min_instances": 20}}]


def _detection(det: str, cal: str, thr: str, policy: str | None) -> dict:
    detector, value = DETECTORS[det]
    threshold = THRESHOLDS[thr] or {"kind": "static", "value": value}
    out = {"detector": detector, "calibration": CALIBRATIONS[cal], "threshold": threshold,
           "warmup": 20}
    if policy is not None:
        out.update(drift=_monitors(value), drift_policy=policy)
    return out


def _spec(detection: dict) -> FlowSpec:
    return FlowSpec.model_validate({
        "name": "dec", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": list(FIELDS)}, "detection": detection,
        "alerts": {"cooldown_s": 90.0, "explain_top": 2},
        "keys": {"max_keys": 8, "shards": 2, "ttl_s": 3600.0},
        "window": {"allowed_lateness_s": 30.0}})


def _stream(seed: int = 5, n_batches: int = 16, batch: int = 160):
    """~10 keys with their own levels (more than the cap), late events, a
    level shift of half the keys from batch 7 (drift) and two large spikes
    late in the stream (anomalies)."""
    rng = np.random.default_rng(seed)
    t = 1.7e9
    for b in range(n_batches):
        keys = [f"k{int(k)}" for k in rng.integers(0, 10, batch)]
        ids = np.array([int(k[1:]) for k in keys])
        times = t + np.sort(rng.uniform(0, 60, batch))
        late = rng.random(batch) < 0.03
        times[late] -= rng.uniform(40, 200, late.sum())
        level = np.c_[5.0 + ids, 50.0 + 10.0 * ids]
        values = level * (1 + 0.08 * rng.standard_normal((batch, 2)))
        if b >= 7:
            values[ids % 2 == 0, 0] += 12.0 + ids[ids % 2 == 0]
        if b == n_batches - 2:  # spikes on keys within the cap
            for key, col, factor in (("k5", 0, 6.0), ("k8", 1, 9.0), ("k0", 0, 4.0)):
                values[keys.index(key, 20), col] *= factor
        yield EventBatch(keys, times, values, FIELDS)
        t += 60.0


def _run(logic, spec: FlowSpec, recover_at: int | None = None):
    states: dict[str, object] = {}
    alerts, drift, dead, counters = [], [], [], []
    for b, batch in enumerate(_stream()):
        if b == recover_at:
            states = {k: pickle.loads(pickle.dumps(s)) for k, s in states.items()}
        for shard, sub in split_by_shard(batch, spec.keys.shards):
            st, out = logic.process(states.get(shard), sub)
            states[shard] = st
            alerts += [{k: v for k, v in a.items() if k != "emit_time"} for a in out.alerts]
            drift += out.drift
            dead += [(str(d.reason), d.key, d.raw, d.detail) for d in out.dead]
            counters.append((shard, out.scored))
    final = {k: (len(s.keys), s.overflow, s.late, s.batches, s.watermark)
             for k, s in sorted(states.items())}
    return alerts, drift, dead, counters, final


CASES = [(det, cal, thr, drift) for det in DETECTORS for cal, thr in DECISIONS
         for drift in (False, True)]


@pytest.mark.parametrize(("det", "cal", "thr", "drift"), CASES,
                         ids=[f"{d}-{c}-{t}-{'drift' if f else 'nodrift'}"
                              for d, c, t, f in CASES])
def test_banked_flow_matches_per_key_flow(det: str, cal: str, thr: str, drift: bool) -> None:
    # each detector meets every policy over its decisions
    policy = (POLICIES[(list(DETECTORS).index(det) + DECISIONS.index((cal, thr))) % 4]
              if drift else None)
    spec = _spec(_detection(det, cal, thr, policy))
    assert per_key_reason(spec) is None
    assert isinstance(make_detect_logic(spec), BankedDetectLogic)
    per_key = _run(DetectLogic(spec), spec)
    alerts, drifts, dead, counters, final = per_key
    kinds = [a["kind"] for a in alerts]
    assert "anomaly" in kinds
    assert {d[0] for d in dead} == {"late_event", "key_overflow"}
    if drift:
        assert drifts and kinds.count("drift") == len(drifts)
        assert all(d["detail"].get("action") == (None if policy == "none" else policy)
                   for d in drifts)
    else:
        assert not drifts
    banked = _run(BankedDetectLogic(spec), spec, recover_at=8)  # a recovery mid-stream
    assert banked[0] == alerts
    assert banked[1] == drifts
    assert banked[2] == dead
    assert banked[3] == counters
    assert banked[4] == final


def test_a_banked_recovery_continues_as_an_uninterrupted_run() -> None:
    spec = _spec(_detection("robust_zscore", "dspot", "quantile", "rewarm"))
    whole = _run(BankedDetectLogic(spec), spec)
    assert whole[1] and any(a["kind"] == "anomaly" for a in whole[0])
    for at in (3, 8, 12):
        assert _run(BankedDetectLogic(spec), spec, recover_at=at) == whole


# -- the pipeline alone, row by row --------------------------------------------
def _rows(seed: int, n: int, n_slots: int):
    rng = np.random.default_rng(seed)
    slots = rng.integers(0, n_slots, n)
    X = np.c_[5.0 + slots, 50.0 + 10.0 * slots] * (1 + 0.08 * rng.standard_normal((n, 2)))
    X[n // 2:, 0] += np.where(slots[n // 2:] % 2 == 0, 15.0, 0.0)  # half the slots drift
    X[rng.random(n) < 0.01] *= 5.0
    raw = X.copy()
    raw[7, 0] = np.inf  # skipped by the monitors, clipped for the detector
    learn = rng.random(n) > 0.05  # some rows are not learned (a maintenance skip)
    return slots, X, raw, learn


@pytest.mark.parametrize("policy", [None, *POLICIES])
@pytest.mark.parametrize(("cal", "thr"), DECISIONS)
def test_banked_pipeline_is_one_scoring_pipeline_per_slot(cal: str, thr: str,
                                                          policy: str | None) -> None:
    cfg = PipelineConfig.model_validate(_detection("robust_zscore", cal, thr, policy))
    n_slots, n = 4, 2400
    slots, _, raw, learn = _rows(3, n, n_slots)
    pipe = BankedPipeline(cfg, 2)
    bank, ps = make_bank(cfg, 2), pipe.new_slots()
    bank.ensure(n_slots)
    ps.ensure(n_slots)
    twins = [ScoringPipeline(cfg) for _ in range(n_slots)]
    got_events, want_events = [], []
    flagged = 0
    for lo in range(0, n, 300):  # batches of mixed slots
        b = slice(lo, lo + 300)
        res = pipe.run(bank, ps, prepare_values(raw[b]), raw[b], slots[b], learn[b], -np.inf)
        got_events += [(int(slots[b][r]), ev) for r, ev in res.drift]
        for s in range(n_slots):
            rows = np.flatnonzero((slots[b] == s) & learn[b])
            one = twins[s].process_many(raw[b][rows])
            np.testing.assert_array_equal(res.scores[rows], one.scores)
            np.testing.assert_array_equal(res.probability[rows], one.probability)
            np.testing.assert_array_equal(res.threshold[rows], one.threshold)
            np.testing.assert_array_equal(res.flags[rows], one.is_anomaly)
            for j, share in one.explanations.items():
                np.testing.assert_array_equal(explanation_shares(res.contrib[rows[j]]), share)
            flagged += len(one.explanations)
            want_events += [(s, ev) for ev in one.drift_events]
        skipped = ~learn[b]
        assert not res.flags[skipped].any() and np.isnan(res.threshold[skipped]).all()
    assert flagged > 0
    order = {s: [ev for t, ev in got_events if t == s] for s in range(n_slots)}
    assert order == {s: [ev for t, ev in want_events if t == s] for s in range(n_slots)}
    if policy is not None:
        assert len(want_events) >= 2  # the slots that shift drift
        assert {ev.stream for _, ev in want_events} == {"input", "score"}


def _gappy_stream():
    """Three keys every 10 s with gaps of 3-7 steps (imputed records), two of
    them shifting level half-way (drift), one spike late."""
    rng = np.random.default_rng(2)
    keys = ["a", "b", "c"]
    t = dict.fromkeys(keys, 1.7e9)
    for b in range(12):
        ks, ts, vs = [], [], []
        for i in range(60):
            k = keys[i % 3]
            t[k] += 10.0 if rng.random() > 0.05 else 10.0 * int(rng.integers(3, 8))
            v = [5.0 + 0.3 * rng.normal(), 50.0 + rng.normal()]
            if b >= 6 and k != "c":
                v[0] += 6.0
            if b == 10 and i == 31:
                v[1] *= 8.0
            ks.append(k)
            ts.append(t[k])
            vs.append(v)
        yield EventBatch(ks, np.array(ts), np.array(vs), FIELDS)


@pytest.mark.parametrize("policy", [None, *POLICIES])
@pytest.mark.parametrize(("cal", "thr"), [("spot", "probability"), ("conformal", "quantile")])
def test_imputed_records_warm_up_and_drift_as_on_the_per_key_path(cal: str, thr: str,
                                                                   policy: str | None) -> None:
    """Imputed records are learned, counted in the warm-up and watched by the
    monitors (a drift on one is reported on the row after it), as per key."""
    detection = {**_detection("robust_zscore", cal, thr, policy), "warmup": 25}
    spec = FlowSpec.model_validate({
        "name": "gaps", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": list(FIELDS)}, "detection": detection,
        "alerts": {"cooldown_s": 30.0, "explain_top": 2,
                   "missing_data": {"imputation": "linear", "max_imputed": 5}},
        "keys": {"shards": 1}})
    runs = []
    for logic in (DetectLogic(spec), BankedDetectLogic(spec)):
        st, alerts, drift = None, [], []
        for batch in _gappy_stream():
            st, out = logic.process(st, batch)
            alerts += [{k: v for k, v in a.items() if k != "emit_time"} for a in out.alerts]
            drift += out.drift
        runs.append((alerts, drift))
    kinds = [a["kind"] for a in runs[0][0]]
    assert "anomaly" in kinds and "recovery" in kinds
    assert bool(runs[0][1]) == (policy is not None)
    assert runs[1] == runs[0]


def test_a_shard_state_without_pipeline_arrays_restores_from_its_counts() -> None:
    """A banked state written before the pipeline's per-slot arrays existed
    (stream counts in ``seen``) restores and continues as if uninterrupted."""
    spec = _spec(_detection("robust_zscore", "conformal", "probability", None))
    batches = list(_stream())
    whole = _run(BankedDetectLogic(spec), spec)
    logic = BankedDetectLogic(spec)
    states: dict[str, object] = {}
    alerts = []
    for b, batch in enumerate(batches):
        if b == 6:  # restored from the old layout: no ``pipe``, the counts in ``seen``
            for k, st in states.items():
                old = st.__getstate__()
                old["seen"] = old.pop("pipe")["n_seen"]
                states[k] = BankedShardState.__new__(BankedShardState)
                states[k].__setstate__(pickle.loads(pickle.dumps(old)))
        for shard, sub in split_by_shard(batch, spec.keys.shards):
            states[shard], out = logic.process(states.get(shard), sub)
            alerts += [{k: v for k, v in a.items() if k != "emit_time"} for a in out.alerts]
    assert alerts == whole[0] and any(a["kind"] == "anomaly" for a in alerts)
