"""Property tests on the edges where hostile data enters: the parser, the
detect step and the dead-letter encoding. Whatever the input, nothing raises,
nothing is lost, and results do not depend on how records were batched (a
restart replays them in different batches)."""

from __future__ import annotations

import math

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynomaly.connectors.kafka_sink import dead_letter_message
from pynomaly.dataflow.detect import DetectLogic, split_by_shard
from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import DeadLetter, EventBatch, RawBatch, Reason
from pynomaly.spec import FlowSpec, RecordSpec

NOW = 1_800_000_000.0
RECORD = RecordSpec(value_fields=["cpu", "mem"], time_format="iso", max_age_s=86_400 * 3650)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)
records = st.dictionaries(st.sampled_from(["key", "ts", "cpu", "mem", "extra"]),
                          json_values | st.sampled_from(["2026-01-01T00:00:00Z", "h1"]),
                          max_size=5)


def _encode(d):
    try:
        return orjson.dumps(d)
    except TypeError:  # integers beyond 64 bits: send them as Python writes them
        return repr(d).encode()


payloads = (st.binary(max_size=200) | records.map(_encode)
            | records.map(lambda d: _encode(d).replace(b"null", b"NaN", 1)))


def _parse(batch, spec=RECORD):
    return RecordParser(spec, now=lambda: NOW).parse(batch)


@settings(max_examples=120, deadline=None)
@given(st.lists(payloads, max_size=40), st.integers(1, 7))
def test_parsing_does_not_depend_on_batching(items, cut):
    whole, whole_dead = _parse(RawBatch(items, "t/0", 10))
    keys, values, dead = [], [], []
    for start in range(0, len(items), cut):
        good, bad = _parse(RawBatch(items[start:start + cut], "t/0", 10 + start))
        keys += good.keys
        values += good.values.tolist()
        dead += bad
    assert keys == whole.keys and values == whole.values.tolist()
    assert [(d.reason, d.origin, d.raw) for d in dead] == [
        (d.reason, d.origin, d.raw) for d in whole_dead]
    assert len(whole) + len(whole_dead) == len(items)
    assert all(math.isfinite(v) and abs(v) <= 1e100 for v in whole.values.ravel())


@settings(max_examples=100, deadline=None)
@given(st.lists(records, max_size=30))
def test_row_payloads_never_raise_and_are_all_accounted_for(rows):
    """Rows from CSV/Parquet files arrive as dicts, not bytes."""
    good, dead = _parse(RawBatch(rows, "file.csv", 0))
    assert len(good) + len(dead) == len(rows)
    assert all(isinstance(d.reason, Reason) and isinstance(d.raw, bytes) for d in dead)


@settings(max_examples=100, deadline=None)
@given(st.builds(DeadLetter, st.sampled_from(list(Reason)), st.text(max_size=300),
                 st.binary(max_size=3000), st.text(max_size=50), st.none() | st.text(max_size=20)),
       st.integers(1, 2000))
def test_dead_letter_messages_are_bounded_and_keep_their_reason(d, limit):
    key, value, headers = dead_letter_message(d, max_raw_bytes=limit)
    h = dict(headers)
    assert value == d.raw[:limit] and h["reason"] == str(d.reason).encode()
    assert ("raw_size" in h) == (len(d.raw) > limit)
    assert key == (d.key.encode() if d.key else None)


def _spec(window: str, max_keys: int) -> FlowSpec:
    return FlowSpec.model_validate({
        "name": "fuzz", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": ["v"]},
        "window": {"kind": window, "size_s": 5, "allowed_lateness_s": 3},
        "detection": {"detector": "robust_zscore", "warmup": 5,
                      "calibration": {"kind": "conformal", "window": 20},
                      "threshold": {"kind": "probability", "level": 0.9},
                      "drift": [{"monitor": "fast_page_hinkley", "stream": "input",
                                 "params": {"threshold": 5.0}}],
                      "drift_policy": "reset"},
        "alerts": {"cooldown_s": 2, "rules": {"min_sigma": 0}},
        "keys": {"shards": 4, "max_keys": max_keys},
    })


events = st.lists(
    st.tuples(st.integers(0, 9), st.floats(0, 200, allow_nan=False),
              st.floats(-1e6, 1e6, allow_nan=False)),
    min_size=1, max_size=120)


def _run(logic, evs, cut):
    """Feed events in batches of ``cut`` through shards, as the flow does."""
    states: dict[str, object] = {}
    alerts, dead, scored, drift = [], [], 0, 0
    for start in range(0, len(evs), cut):
        chunk = evs[start:start + cut]
        batch = EventBatch([f"k{k}" for k, _, _ in chunk], np.array([t for _, t, _ in chunk]),
                           np.array([[v] for _, _, v in chunk]), ("v",))
        for shard, sub in split_by_shard(batch, 4):
            states[shard], out = logic.process(states.get(shard), sub)
            alerts += out.alerts
            dead += out.dead
            scored += out.scored
            drift += len(out.drift)
    return alerts, dead, scored, drift


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, st.integers(1, 40), st.sampled_from(["none", "tumbling"]), st.integers(1, 12))
def test_detect_step_never_raises_and_ignores_batching(evs, cut, window, max_keys):
    logic = DetectLogic(_spec(window, max_keys))
    alerts, dead, scored, _ = _run(logic, evs, len(evs))
    again, dead_again, scored_again, _ = _run(DetectLogic(_spec(window, max_keys)), evs, cut)

    def strip(a):
        return (a["id"], a["score"], a["probability"])

    assert sorted(map(strip, again)) == sorted(map(strip, alerts))
    assert sorted((d.reason, d.key, d.raw) for d in dead_again) == sorted(
        (d.reason, d.key, d.raw) for d in dead)
    assert scored_again == scored
    assert {d.reason for d in dead} <= {Reason.LATE_EVENT, Reason.KEY_OVERFLOW}
    if window == "none":  # every event is scored or dead-lettered, never both
        assert scored + len(dead) == len(evs)


def test_batching_independence_on_a_stream_with_alerts_drift_and_late_events():
    """The property above on a stream known to alert, drift, overflow and be late."""
    rng = np.random.default_rng(5)
    evs = []
    for i in range(600):
        k = int(rng.integers(0, 8))
        v = float(rng.normal(0, 1)) + (30.0 if i % 97 == 50 else 0.0) + (8.0 if i > 400 else 0.0)
        t = i * 0.5 - (20.0 if i % 53 == 7 else 0.0) - (1.0 if i % 29 == 3 else 0.0)
        evs.append((k, t, v))
    for window in ("none", "tumbling"):
        alerts, dead, scored, drift = _run(DetectLogic(_spec(window, 6)), evs, len(evs))
        reasons = {d.reason for d in dead}
        assert len(alerts) >= 5 and drift >= 1
        assert reasons == {Reason.LATE_EVENT, Reason.KEY_OVERFLOW}
        for cut in (1, 7, 64):
            again, dead_again, scored_again, _ = _run(DetectLogic(_spec(window, 6)), evs, cut)
            assert [a["id"] for a in sorted(again, key=lambda a: a["id"])] == [
                a["id"] for a in sorted(alerts, key=lambda a: a["id"])]
            assert len(dead_again) == len(dead) and scored_again == scored
