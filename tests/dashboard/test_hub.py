"""The hub, its ring buffers and decimation, checked against slow obvious twins; the
protocol's checks."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.hub import MAX_ALERTS_PER_FRAME, Hub
from pynomaly.dashboard.protocol import (
    PROTOCOL_VERSION,
    Batch,
    ProtocolError,
    decode_batch,
    encode_batch,
    normalize,
)
from pynomaly.dashboard.series import KeySeries, decimate
from pynomaly.dashboard.viewer import Viewer

TOKENS = {"ingest_token": "i" * 16, "view_token": "v" * 16}


def naive_columns(history: list[tuple], capacity: int, since: int) -> tuple[list, int]:
    """What ``KeySeries.columns(since)`` must return: of the rows appended after the
    first ``since``, those still among the last ``capacity``; and how many are gone."""
    still_kept = history[-capacity:]
    wanted = history[since:]
    return [row for row in wanted if row in still_kept], sum(row not in still_kept for row in wanted)


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 40), n=st.integers(0, 120), since_frac=st.floats(0, 1))
def test_ring_buffer_matches_naive_twin(capacity, n, since_frac):
    s = KeySeries("k", capacity=capacity)
    history = []
    for i in range(n):
        row = (float(i), float(i) * 0.5, None if i % 3 else 0.25, 4.0, float(-i))
        history.append(row)
        s.append(row[0], {"value": row[4]}, row[1], row[2], row[3])
    since = int(since_frac * n)
    cols = s.columns(since_total=since)
    expected, missed = naive_columns(history, capacity, since)
    assert cols["missed"] == missed
    assert cols["t"].tolist() == [r[0] for r in expected]
    assert cols["s"].tolist() == [r[1] for r in expected]
    assert [None if math.isnan(x) else x for x in cols["p"].tolist()] == [r[2] for r in expected]
    assert cols["v"].get("value", np.empty(0)).tolist() == [r[4] for r in expected]
    assert len(s) == min(n, capacity) and s.total == n


def naive_decimate_keeps(values: np.ndarray, scores: np.ndarray, max_points: int) -> set[int]:
    """Indices decimation must keep: per bucket, the first row, the min and max value
    and the max score."""
    n_buckets = max(1, max_points // 4)
    keep: set[int] = set()
    for bucket in np.array_split(np.arange(len(values)), n_buckets):
        keep.add(int(bucket[0]))
        keep.add(int(bucket[np.argmin(values[bucket])]))
        keep.add(int(bucket[np.argmax(values[bucket])]))
        keep.add(int(bucket[np.argmax(scores[bucket])]))
    return keep


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3000), max_points=st.integers(4, 400), seed=st.integers(0, 2**16))
def test_decimation_matches_naive_twin(n, max_points, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n).astype(np.float32)
    scores = rng.exponential(size=n).astype(np.float32)
    cols = {"t": np.arange(n, dtype=np.float64), "s": scores, "p": scores, "h": scores,
            "v": {"value": values}, "missed": 0}
    out = decimate(cols, max_points)
    if n <= max_points:
        assert out["t"].tolist() == cols["t"].tolist()
        return
    assert len(out["t"]) <= max_points
    assert set(out["t"].astype(int).tolist()) == naive_decimate_keeps(values, scores, max_points)
    assert out["decimated_from"] == n


def hub(**changes) -> Hub:
    return Hub(DashboardSettings(**TOKENS, **changes))


def point(key: str, i: int) -> dict:
    return {"type": "point", "key": key, "ts": float(i), "value": float(i), "score": 1.0}


def test_full_outbox_skips_without_losing_points():
    h = hub(history_points=100, max_points_per_frame=1000)
    v = Viewer(max_frames=1)
    h.attach(v)
    v.selected["a"] = 0
    h.ingest(Batch(1, None, events=[point("a", i) for i in range(10)]))
    h.tick(now=1.0)
    h.ingest(Batch(2, None, events=[point("a", i) for i in range(10, 30)]))
    h.tick(now=2.0)  # outbox full: skipped, cursor kept
    assert v.frames_skipped == 1
    v._frames.clear()
    h.tick(now=3.0)
    frame = orjson.loads(v._frames[-1])
    assert frame["points"]["a"]["t"] == [float(i) for i in range(10, 30)]
    assert v.points_missed == 0


def test_points_overwritten_before_a_tick_are_counted():
    h = hub(history_points=16)
    v = Viewer()
    h.attach(v)
    v.selected["a"] = 0
    h.ingest(Batch(1, None, events=[point("a", i) for i in range(50)]))
    h.tick(now=1.0)
    assert v.points_missed == 34


def test_alerts_per_frame_are_capped_and_counted():
    h = hub()
    v = Viewer()
    h.attach(v)
    alerts = [{"type": "alert", "id": str(i), "key": "k", "event_time": i, "score": 1.0}
              for i in range(MAX_ALERTS_PER_FRAME + 20)]
    h.ingest(Batch(1, None, events=alerts))
    h.tick(now=1.0)
    assert v.alerts_skipped == 20
    assert h.series["k"].alert_count == MAX_ALERTS_PER_FRAME + 20


def test_key_cap_refuses_new_keys():
    h = Hub(DashboardSettings(**TOKENS), max_keys=3)
    h.ingest(Batch(1, None, events=[point(f"k{i}", i) for i in range(5)]))
    assert len(h.series) == 3 and h.counters["keys_refused"] == 2


def test_ranking_prefers_high_probability_then_score():
    h = hub()
    h.ingest(Batch(1, None, events=[
        {**point("calm", 1), "probability": 0.2, "score": 9.0},
        {**point("rare", 1), "probability": 0.999, "score": 1.0},
        {**point("no-prob", 1), "score": 50.0}]))
    assert [k["key"] for k in h.search("")] == ["rare", "calm", "no-prob"]


@pytest.mark.parametrize("event", [
    {"type": "point", "key": "", "ts": 1},
    {"type": "point", "key": "k", "ts": True},
    {"type": "point", "key": "k", "ts": "yesterday"},
    {"type": "point", "key": "k", "ts": 1, "score": "high"},
    {"type": "point", "key": "x" * 201, "ts": 1},
    {"type": "alert", "key": "k", "event_time": 1, "explanation": [1, 2]},
    {"type": "stats", "sinks": ["kafka"]},
    {"type": "wat"},
])
def test_normalize_rejects_contract_breaks(event):
    with pytest.raises(ValueError):
        normalize(event)


def test_decode_rejects_bad_envelopes():
    with pytest.raises(ProtocolError, match="version"):
        decode_batch(b'{"v": 2, "events": []}')
    with pytest.raises(ProtocolError, match="JSON"):
        decode_batch(b"{")
    with pytest.raises(ProtocolError, match="list"):
        decode_batch(b'{"v": %d, "events": {}}' % PROTOCOL_VERSION)
    batch = decode_batch(encode_batch([{"type": "point"}, 3, {"no": "type"}], seq=9, dropped=4))
    assert (batch.seq, batch.dropped, len(batch.events), batch.rejected) == (9, 4, 1, 2)


def test_non_finite_numbers_become_missing():
    e = normalize({"type": "point", "key": "k", "ts": 0, "value": {"a": float("nan"), "b": "x"},
                   "score": float("inf")})
    assert e["value"] == {"a": None, "b": None} and e["score"] is None


def naive_point(event: dict) -> dict:
    """The point contract spelled out slowly: finite numbers as floats, the rest None."""

    def number(x):
        if x is None or isinstance(x, bool):
            return None
        return float(x) if math.isfinite(float(x)) else None

    value = event["value"]
    values = ({str(k): None if isinstance(v, str) else number(v) for k, v in value.items()}
              if isinstance(value, dict) else {"value": number(value)})
    return {"type": "point", "key": event["key"], "ts": float(event["ts"]), "value": values,
            "score": number(event.get("score")), "probability": number(event.get("probability")),
            "threshold": number(event.get("threshold")), "threshold_on": "score"}


numbers = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None)
@given(ts=st.one_of(st.integers(0, 2**41), st.floats(0, 2e12)), score=numbers, prob=numbers,
       thr=numbers, value=st.one_of(numbers, st.dictionaries(st.sampled_from(["cpu", "mem"]),
                                                               st.one_of(numbers, st.text(max_size=3)))))
def test_point_fast_path_matches_naive_twin(ts, score, prob, thr, value):
    event = {"type": "point", "key": "k", "ts": ts, "value": value, "score": score,
             "probability": prob, "threshold": thr}
    assert normalize(event) == naive_point(event)


def test_incident_records_keep_the_latest_per_id_and_reach_viewers() -> None:
    from pynomaly.dashboard.config import DashboardSettings
    from pynomaly.dashboard.hub import Hub
    from pynomaly.dashboard.protocol import Batch
    from pynomaly.dashboard.viewer import Viewer

    hub = Hub(DashboardSettings(ingest_token="i" * 32, view_token="v" * 32))
    viewer = Viewer(16, "client")
    assert hub.attach(viewer)["incidents"] == []
    rec = {"type": "incident", "id": "inc", "event": "open", "group": {"service": "web"},
           "n_alerts": 1, "members": ["a1"], "keys": ["k"], "root_cause": [], "summary": "s"}
    hub.ingest(Batch(seq=1, sent_at=None, events=[rec, {**rec, "event": "update", "n_alerts": 2},
                                                   {**rec, "id": ""}]))
    assert hub.counters["incidents"] == 2 and hub.counters["rejected"] == 1
    assert [i["n_alerts"] for i in hub.incidents.values()] == [2]
    frame = hub.frame_for(viewer, 0.0, include_top=False)
    assert [(i["id"], i["event"]) for i in frame["incidents"]] == [("inc", "update")]
    assert "incidents" not in hub.frame_for(viewer, 0.0, include_top=False)


def test_maintenance_windows_reach_the_overview() -> None:
    from pynomaly.dashboard.config import DashboardSettings
    from pynomaly.dashboard.hub import Hub
    from pynomaly.dashboard.protocol import Batch

    hub = Hub(DashboardSettings(ingest_token="i" * 32, view_token="v" * 32))
    w = {"name": "backup", "start": 100.0, "end": 200.0, "keys": ["db-*"], "labels": {},
         "learning": "skip"}
    hub.ingest(Batch(seq=1, sent_at=None, events=[{"type": "windows", "windows": [w]}]), "p1")
    hub.ingest(Batch(seq=1, sent_at=None, events=[{"type": "windows", "windows": [w]}]), "p2")
    hub.tick(0.0)
    assert hub.overview()["maintenance"] == [w]
    hub.ingest(Batch(seq=2, sent_at=None, events=[{"type": "windows", "windows": []}]), "p1")
    hub.ingest(Batch(seq=2, sent_at=None, events=[{"type": "windows", "windows": []}]), "p2")
    hub.tick(1.0)
    assert hub.overview()["maintenance"] == []
