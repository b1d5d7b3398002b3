import pickle

import numpy as np
import pytest

from pynomaly.dataflow.detect import DetectLogic, split_by_shard
from pynomaly.dataflow.records import EventBatch, Reason
from pynomaly.dataflow.windowing import KeyWindows
from pynomaly.spec import FlowSpec


def make_spec(**over):
    d = {"name": "t", "source": {"type": "file", "path": "x"},
         "record": {"value_fields": ["v"]},
         "detection": {"warmup": 20, "threshold": {"kind": "static", "value": 6.0}}}
    d.update(over)
    return FlowSpec.model_validate(d)


def stream(n=300, spike_at=(200,), key="k", seed=0):
    v = np.random.default_rng(seed).normal(size=n)
    for i in spike_at:
        v[i] = 30.0
    return EventBatch([key] * n, np.arange(n, dtype=float) * 60.0, v.reshape(-1, 1), ("v",))


def test_alerts_on_spike_and_respects_cooldown():
    spec = make_spec(alerts={"cooldown_s": 3600})
    _, out = DetectLogic(spec).process(None, stream(spike_at=(200, 210, 300 - 1)))
    times = [a["event_time"] for a in out.alerts]
    # 210 is within the 1 h cooldown of 200; 299 is not
    assert len(out.alerts) == 2, times
    assert out.alerts[0]["values"] == {"v": 30.0}


def test_batching_does_not_change_results():
    spec = make_spec()
    whole = stream(spike_at=(150, 250))
    _, out_whole = DetectLogic(spec).process(None, whole)
    st = None
    logic = DetectLogic(spec)
    alerts = []
    for lo in range(0, len(whole), 37):
        sl = slice(lo, lo + 37)
        part = EventBatch(whole.keys[sl], whole.times[sl], whole.values[sl], ("v",))
        st, out = logic.process(st, part)
        st = pickle.loads(pickle.dumps(st))  # what recovery does between epochs
        alerts += out.alerts
    strip = lambda a: {k: v for k, v in a.items() if k != "emit_time"}  # noqa: E731
    assert [strip(a) for a in alerts] == [strip(a) for a in out_whole.alerts]


def test_warmup_suppresses_early_alerts():
    spec = make_spec(detection={"warmup": 100, "threshold": {"kind": "static", "value": 6.0}})
    _, out = DetectLogic(spec).process(None, stream(spike_at=(50,)))
    assert out.alerts == []


def test_late_events_are_dead_lettered():
    b = stream(n=100, spike_at=())
    b.times[60] = b.times[10]
    _, out = DetectLogic(make_spec()).process(None, b)
    assert [d.reason for d in out.dead] == [Reason.LATE_EVENT]
    assert out.scored == 99


def test_key_cap_overflow_is_counted_and_dead_lettered():
    spec = make_spec(keys={"max_keys": 4, "shards": 1})
    keys = [f"k{i}" for i in range(10)]
    b = EventBatch(keys, np.zeros(10), np.zeros((10, 1)), ("v",))
    st, out = DetectLogic(spec).process(None, b)
    assert len(st.keys) == 4 and st.overflow == 6
    assert {d.reason for d in out.dead} == {Reason.KEY_OVERFLOW}


def test_idle_keys_are_evicted():
    spec = make_spec(keys={"ttl_s": 100, "shards": 1})
    logic = DetectLogic(spec)
    st = None
    for i in range(32):
        keys = ["old"] if i == 0 else ["new"]
        st, _ = logic.process(st, EventBatch(keys, np.array([i * 60.0]), np.zeros((1, 1)), ("v",)))
    assert "old" not in st.keys and st.evicted == 1


def test_split_by_shard_keeps_every_row_once():
    keys = [f"k{i % 17}" for i in range(500)]
    b = EventBatch(keys, np.arange(500.0), np.arange(500.0).reshape(-1, 1), ("v",))
    parts = split_by_shard(b, 8)
    rows = sorted(float(x) for _, p in parts for x in p.values[:, 0])
    assert rows == list(np.arange(500.0))
    for shard, p in parts:
        assert len({shard}) == 1 and all(np.diff(p.times) > 0)


@pytest.mark.parametrize("kind", ["tumbling", "sliding"])
def test_windows_match_a_naive_aggregation(kind):
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 1000, 400))
    v = rng.normal(size=(400, 1))
    size, slide = 60.0, (60.0 if kind == "tumbling" else 20.0)
    w = KeyWindows(size, slide, 0.0, "mean", 1)
    _, closed = w.add(t, v)
    starts = np.arange(-size + slide, 1000, slide)
    expected = []
    for s in starts:
        m = (t >= s) & (t < s + size)
        if m.any() and s + size <= t.max():
            expected.append((s + size, [float(v[m, 0].mean())]))
    got = [(e, [round(x, 9) for x in a]) for e, a in closed]
    assert got == [(e, [round(x, 9) for x in a]) for e, a in expected]


def test_window_lateness_accepts_within_and_rejects_beyond():
    w = KeyWindows(60.0, 60.0, 30.0, "sum", 1)
    late, closed = w.add(np.array([10.0, 70.0, 50.0, 95.0, 20.0]), np.ones((5, 1)))
    # 50 arrives at watermark 70 (within 30 s lateness): counted in [0,60)
    # 20 arrives at watermark 95: 20 < 95-30 → late
    assert late == [4]
    assert closed == [(60.0, [2.0])]


def test_probability_threshold_with_conformal_calibration():
    spec = make_spec(detection={"warmup": 50, "calibration": {"kind": "conformal", "window": 2000},
                                "threshold": {"kind": "probability", "level": 0.999}})
    _, out = DetectLogic(spec).process(None, stream(n=1200, spike_at=(1100,)))
    assert [a["event_time"] for a in out.alerts] == ["1970-01-01T18:20:00.000Z"]
    a = out.alerts[0]
    assert a["threshold_kind"] == "probability" and a["probability"] >= 0.999
    assert a["threshold"] == 0.999


def test_state_survives_pickling_with_pipelines():
    spec = make_spec(window={"kind": "tumbling", "size_s": 120})
    logic = DetectLogic(spec)
    b = stream(n=400, spike_at=(300,))
    half = EventBatch(b.keys[:200], b.times[:200], b.values[:200], ("v",))
    rest = EventBatch(b.keys[200:], b.times[200:], b.values[200:], ("v",))
    st, _ = logic.process(None, half)
    st2 = pickle.loads(pickle.dumps(st))
    _, out_a = logic.process(st, rest)
    _, out_b = DetectLogic(spec).process(st2, rest)
    assert [x["id"] for x in out_a.alerts] == [x["id"] for x in out_b.alerts]
    assert out_a.scored == out_b.scored == 100


@pytest.mark.parametrize("per_key", [True, False])
def test_cooldown_is_measured_from_the_latest_alert_on_both_sides(per_key):
    from pynomaly.dataflow.detect import make_detect_logic
    from pynomaly.dataflow.detect_banked import BankedDetectLogic

    def run(cooldown):
        spec = make_spec(alerts={"cooldown_s": cooldown}, window={"allowed_lateness_s": 3600},
                         detection={"warmup": 20, "calibration": {"kind": "none"},
                                    "threshold": {"kind": "static", "value": 6.0}})
        logic = DetectLogic(spec) if per_key else make_detect_logic(spec)
        assert isinstance(logic, BankedDetectLogic) != per_key
        b = stream(n=300, spike_at=(200, 201))
        # the second spike arrives out of order: 10 minutes before the first
        b.times[201] = b.times[200] - 600
        _, out = logic.process(None, b)
        return [a["event_time"] for a in out.alerts]

    assert len(run(0)) == 2  # no cooldown: the late spike alerts too
    assert len(run(3600)) == 1  # within an hour of the first alert: same incident
