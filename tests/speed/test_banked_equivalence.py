"""The banked detect path gives exactly the alerts, dead letters and counters of
the per-key path, over a stream with many keys, injected anomalies, late
events, key-cap overflow, TTL eviction and a recovery (pickle) mid-stream."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pynomaly.dataflow.detect import DetectLogic, make_detect_logic, split_by_shard
from pynomaly.dataflow.detect_banked import BankedDetectLogic, banked_eligible
from pynomaly.dataflow.records import EventBatch
from pynomaly.spec import FlowSpec

FIELDS = ("cpu", "mem", "lat")


def _spec(detector: dict, calibrated: bool = False, **over) -> FlowSpec:
    thr = detector.pop("_thr")
    decision = ({"calibration": {"kind": "conformal", "window": 200},
                 "threshold": {"kind": "probability", "level": 0.99}} if calibrated else
                {"calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": thr}})
    data = {
        "name": "eq", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": list(FIELDS)},
        "detection": {"detector": detector, "warmup": 15, **decision},
        "alerts": {"cooldown_s": 120.0, "explain_top": 2},
        "keys": {"max_keys": 120, "ttl_s": 300.0, "shards": 4},
        "window": {"allowed_lateness_s": 30.0},
    }
    for k, v in over.items():
        data[k] = {**data.get(k, {}), **v}
    return FlowSpec.model_validate(data)


def _stream(seed: int, n_batches: int = 40, batch: int = 400):
    """Batches of events over ~200 keys (more than the cap), some keys going
    idle (evicted by TTL) then coming back, spikes and late events."""
    rng = np.random.default_rng(seed)
    t = 1.7e9
    for b in range(n_batches):
        pool = 200 if b < 20 else 80  # after batch 20 most keys idle → evicted
        keys = [f"k{int(k):03d}" for k in rng.integers(0, pool, batch)]
        if b == 35:
            keys[:50] = [f"new{i:02d}" for i in range(50)]  # churn: new keys into freed slots
        times = t + np.sort(rng.uniform(0, 60, batch))
        late = rng.random(batch) < 0.03
        times[late] -= rng.uniform(40, 400, late.sum())  # behind the key's newest by > lateness
        base = np.array([0.5, 2.0, 30.0]) * (1 + (np.array([int(k[-2:]) for k in keys]) % 7)[:, None])
        values = base * (1 + 0.05 * rng.standard_normal((batch, 3)))
        spikes = rng.random(batch) < 0.01
        values[spikes, rng.integers(0, 3, spikes.sum())] *= rng.uniform(3, 12, spikes.sum())
        values[rng.random(batch) < 0.01] = 0.0
        yield EventBatch(keys, times, values, FIELDS)
        t += 60.0


def _run(logic, spec: FlowSpec, batches, recover_at: int | None = None):
    states: dict[str, object] = {}
    alerts, dead, counters = [], [], []
    for b, batch in enumerate(batches):
        if recover_at is not None and b == recover_at:
            states = {k: pickle.loads(pickle.dumps(s)) for k, s in states.items()}
        for shard, sub in split_by_shard(batch, spec.keys.shards):
            st, out = logic.process(states.get(shard), sub)
            states[shard] = st
            for a in out.alerts:
                alerts.append({k: v for k, v in a.items() if k != "emit_time"})
            dead.extend((str(d.reason), d.key, d.raw, d.detail) for d in out.dead)
            counters.append((shard, out.scored))
    final = {k: (len(s.keys), s.evicted, s.overflow, s.late, s.batches, s.watermark)
             for k, s in sorted(states.items())}
    return alerts, dead, counters, final


ZSCORE = {"name": "robust_zscore", "params": {"alpha": 0.05, "warmup": 10}, "_thr": 4.0}
HST = {"name": "hst", "params": {"n_trees": 6, "height": 5, "window_size": 20,
                                 "limits": [[0.0, 5.0], [0.0, 20.0], [0.0, 300.0]], "seed": 4},
       "_thr": 0.75}


LODA = {"name": "loda", "params": {"seed": 1}, "_thr": 0.5}
RCF = {"name": "rcf", "params": {"n_trees": 10, "tree_size": 64}, "_thr": 1.0}
HST_AUTO = {"name": "hst", "params": {"n_trees": 6, "height": 5, "window_size": 20, "seed": 4},
            "_thr": 0.75}
MDEV = {"name": "metric_deviation", "params": {}, "_thr": 3.0}


@pytest.mark.parametrize("calibrated", [False, True], ids=["static", "conformal"])
@pytest.mark.parametrize("detector", [ZSCORE, HST, HST_AUTO, MDEV, LODA, RCF],
                         ids=["robust_zscore", "hst", "hst_auto_limits", "metric_deviation",
                              "loda_objects", "rcf_objects"])
@pytest.mark.parametrize("recover_at", [None, 23])
def test_banked_matches_per_key_path(detector: dict, recover_at: int | None,
                                     calibrated: bool) -> None:
    spec = _spec(dict(detector), calibrated)
    assert banked_eligible(spec)
    generic = _run(DetectLogic(spec), spec, _stream(7))
    banked = _run(BankedDetectLogic(spec), spec, _stream(7), recover_at)
    alerts, dead, counters, final = generic
    # the stream exercises every case (a probability level of 0.99 alerts less often)
    assert len(alerts) > (5 if calibrated else 20) and len(dead) > 100
    reasons = {d[0] for d in dead}
    assert reasons == {"late_event", "key_overflow"}
    assert sum(f[1] for f in final.values()) > 0  # TTL evicted keys
    assert banked[0] == alerts
    assert banked[1] == dead
    assert banked[2] == counters
    assert banked[3] == final


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_banked_ignores_rows_of_nonfinite_values_like_per_key_path(bad: float) -> None:
    spec = _spec(dict(ZSCORE))
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    X[200, 1] = bad
    X[100, 2] = bad  # early: the alert's expected values and bounds are learned past it
    X[250] = [40.0, 0.0, 0.0]
    batch = EventBatch(["a", "b", "c"] * 100, 1.7e9 + np.arange(300.0), X, FIELDS)
    outs = []
    for logic in (DetectLogic(spec), BankedDetectLogic(spec)):
        _, out = logic.process(None, batch)
        outs.append([{k: v for k, v in a.items() if k != "emit_time"} for a in out.alerts])
    assert outs[0] == outs[1] and outs[0]


def test_dispatch_keeps_per_key_path_for_other_specs() -> None:
    assert isinstance(make_detect_logic(_spec(dict(ZSCORE))), BankedDetectLogic)
    # the defaults (robust statistics, conformal calibration, probability threshold) are banked
    default = FlowSpec.model_validate({
        "name": "c", "source": {"type": "file", "path": "x"}, "record": {"value_fields": ["v"]}})
    assert isinstance(make_detect_logic(default), BankedDetectLogic)
    spot = FlowSpec.model_validate({
        "name": "c", "source": {"type": "file", "path": "x"}, "record": {"value_fields": ["v"]},
        "detection": {"calibration": {"kind": "spot"}}})
    assert isinstance(make_detect_logic(spot), BankedDetectLogic)  # every calibration is
    river = FlowSpec.model_validate({
        "name": "c", "source": {"type": "file", "path": "x"}, "record": {"value_fields": ["v"]},
        "detection": {"drift": [{"monitor": "page_hinkley"}]}})
    assert isinstance(make_detect_logic(river), DetectLogic)
    auto_hst = dict(HST, params={**HST["params"], "limits": "auto"})
    assert isinstance(make_detect_logic(_spec(auto_hst)), BankedDetectLogic)
    windowed = _spec(dict(ZSCORE), window={"kind": "tumbling", "size_s": 60.0})
    assert isinstance(make_detect_logic(windowed), BankedDetectLogic)
    protected = _spec(dict(ZSCORE), detection={"protect": True})
    assert isinstance(make_detect_logic(protected), DetectLogic)
    assert isinstance(make_detect_logic(_spec(dict(ZSCORE)), keep_points=True), BankedDetectLogic)


@pytest.mark.parametrize("other", [dict(HST), dict(RCF), dict(ZSCORE, params={"alpha": 0.1})],
                         ids=["another_detector", "objects", "other_parameters"])
def test_banked_state_of_another_spec_is_refused_not_indexed(other: dict) -> None:
    """Resuming arrays shaped for another detector would index them out of bounds."""
    batch = next(_stream(1, n_batches=1, batch=50))
    state, _ = BankedDetectLogic(_spec(dict(ZSCORE))).process(None, batch)
    state = pickle.loads(pickle.dumps(state))
    with pytest.raises(TypeError, match="written for another detector or decision"):
        BankedDetectLogic(_spec(other)).process(state, batch)
    again, _ = BankedDetectLogic(_spec(dict(ZSCORE))).process(state, batch)  # its own spec reads it
    assert again is state


def test_per_key_recovery_state_is_refused_with_a_clear_message() -> None:
    spec = _spec(dict(ZSCORE))
    batch = next(_stream(1, n_batches=1, batch=50))
    generic_state, _ = DetectLogic(spec).process(None, batch)
    with pytest.raises(TypeError, match="per-key detect path"):
        BankedDetectLogic(spec).process(generic_state, batch)


def test_banked_recovery_state_is_refused_by_the_per_key_path() -> None:
    spec = _spec(dict(ZSCORE))
    batch = next(_stream(1, n_batches=1, batch=50))
    banked_state, _ = BankedDetectLogic(spec).process(None, batch)
    with pytest.raises(TypeError, match="banked detect path"):
        DetectLogic(spec).process(banked_state, batch)


def test_without_recovery_the_detect_step_skips_the_epoch_copy() -> None:
    from pynomaly.dataflow.detect_op import _ShardDetect

    spec = _spec(dict(ZSCORE))
    logic = BankedDetectLogic(spec)
    state, _ = logic.process(None, next(_stream(1, n_batches=1, batch=50)))
    kept = _ShardDetect(logic.process, None, state)  # type: ignore[arg-type]
    assert kept.snapshot() is not state and kept.snapshot().keys == state.keys
    assert _ShardDetect(logic.process, None, state, snapshots=False).snapshot() is None  # type: ignore[arg-type]


def test_deepcopy_is_independent_and_continues_identically() -> None:
    import copy

    spec = _spec(dict(HST))
    logic = BankedDetectLogic(spec)
    batches = list(_stream(5, n_batches=6, batch=300))
    st, _ = logic.process(None, batches[0])
    twin = copy.deepcopy(st)  # what Bytewax does at every epoch
    outs = []
    for state in (st, twin):
        alerts = []
        for b in batches[1:]:
            state, out = logic.process(state, b)
            alerts += [{k: v for k, v in a.items() if k != "emit_time"} for a in out.alerts]
        outs.append((alerts, len(state.keys), state.late, state.overflow))
    assert outs[0] == outs[1]
    assert twin is not st and twin.bank.mass is not st.bank.mass


def test_the_run_line_names_the_path_the_dispatcher_takes() -> None:
    from pynomaly.dataflow.detect_banked import per_key_reason

    specs = [_spec(dict(ZSCORE)), _spec(dict(HST), True), _spec(dict(MDEV), True),
             _spec(dict(ZSCORE), window={"kind": "tumbling", "size_s": 60.0}),
             _spec({"name": "rcf", "_thr": 1.0}),
             _spec(dict(ZSCORE), detection={"calibration": {"kind": "spot"},
                                            "threshold": {"kind": "probability"}}),
             _spec(dict(HST), detection={"drift": [{"monitor": "fast_page_hinkley"}],
                                         "drift_policy": "reset"}),
             _spec(dict(MDEV), detection={"drift": [{"monitor": "kswin", "stream": "input"}]}),
             _spec(dict(ZSCORE), detection={"protect": True})]
    for spec in specs:
        banked = isinstance(make_detect_logic(spec), BankedDetectLogic)
        assert (per_key_reason(spec) is None) == banked, (spec.detection, per_key_reason(spec))
    assert per_key_reason(specs[3]) is None  # windows per slot
    assert per_key_reason(specs[8]) == "protect"
    assert per_key_reason(specs[4]) is None  # one RCF object per slot
    assert per_key_reason(specs[7]) == "drift monitor kswin runs River per value"
    assert [per_key_reason(s) is None for s in specs[5:7]] == [True, True]


@pytest.mark.parametrize("calibrated", [False, True], ids=["static", "conformal"])
@pytest.mark.parametrize("detector", [ZSCORE, HST_AUTO], ids=["robust_zscore", "hst_auto"])
def test_score_records_match_the_per_key_path(detector: dict, calibrated: bool) -> None:
    """A flow whose dashboard keeps every score runs banked with the same points."""
    from pynomaly.dataflow.score_records import score_records

    spec = _spec(dict(detector), calibrated)
    records = []
    for logic in (DetectLogic(spec, keep_points=True), make_detect_logic(spec, keep_points=True)):
        states: dict[str, object] = {}
        got = []
        for batch in _stream(3):
            for shard, sub in split_by_shard(batch, spec.keys.shards):
                states[shard], out = logic.process(states.get(shard), sub)
                got += score_records(spec.name, FIELDS, out.points)
        records.append(got)
    assert isinstance(logic, BankedDetectLogic)
    assert len(records[0]) > 1000 and any(r["anomaly"] for r in records[0])
    assert records[1] == records[0]


@pytest.mark.parametrize("window", [
    {"kind": "tumbling", "size_s": 120.0, "agg": "mean"},
    {"kind": "sliding", "size_s": 180.0, "slide_s": 60.0, "agg": "max"},
], ids=["tumbling_mean", "sliding_max"])
@pytest.mark.parametrize(("detector", "calibrated"), [(ZSCORE, False), (HST_AUTO, True),
                                                      (LODA, True)],
                         ids=["robust_zscore", "hst_auto_conformal", "loda_objects_conformal"])
@pytest.mark.parametrize("recover_at", [None, 23])
def test_windowed_flows_run_banked_with_the_per_key_paths_outputs(
        window: dict, detector: dict, calibrated: bool, recover_at: int | None) -> None:
    spec = _spec(dict(detector), calibrated, window=window)
    assert banked_eligible(spec)
    per_key = _run(DetectLogic(spec), spec, _stream(11))
    banked = _run(BankedDetectLogic(spec), spec, _stream(11), recover_at)
    alerts, dead, _, _ = per_key
    assert alerts and len(dead) > 50
    assert {d[0] for d in dead} == {"late_event", "key_overflow"}
    for got, expected in zip(banked, per_key, strict=True):
        assert got == expected
