"""Maintenance windows in a running flow: a recurring window in a named time
zone holds the spike's alert back (counted), ``skip`` windows are not learned,
and windows sent to the control topic apply without a restart."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest
from confluent_kafka import Producer
from oncall_stream import OncallStream

from pynomaly.alerting.control import ControlFeed, ControlTopicSpec
from pynomaly.alerting.maintenance import Calendar
from pynomaly.dataflow.detect import DetectLogic
from pynomaly.dataflow.detect_banked import BankedDetectLogic
from pynomaly.dataflow.flow import build_flow
from pynomaly.dataflow.records import EventBatch
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec


def _alerts(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def _flow_alerts(tmp_path: Path, stream: OncallStream, alerts: dict) -> list[dict]:
    tmp_path.mkdir(parents=True)
    data = stream.write_jsonl(tmp_path / "metrics.jsonl")
    spec = parse_spec({
        "name": "maint", "source": {"type": "file", "path": str(data)},
        "record": {"key_field": "host", "value_fields": ["cpu"]}, "alerts": alerts,
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]})
    run_dataflow(build_flow(spec), RunOptions())
    return _alerts(tmp_path / "alerts.jsonl")


def _spike_window(s: OncallStream, **extra) -> dict:
    """A daily 20-minute window around the spike, written in New York wall-clock time."""
    local = datetime.fromtimestamp(s.spike_start - 600, UTC).astimezone(
        ZoneInfo("America/New_York"))
    start = local.replace(tzinfo=None) - timedelta(days=3)
    return {"name": "patching", "start": start.isoformat(), "timezone": "America/New_York",
            "duration_s": 1200, "rrule": "FREQ=DAILY", **extra}


def test_a_recurring_window_holds_the_spike_back_for_its_keys_only(tmp_path):
    s = OncallStream()
    plain = _flow_alerts(tmp_path / "plain", s, {})
    assert [a["key"] for a in plain if a["kind"] == "anomaly"] == [s.spike_host]
    held = _flow_alerts(tmp_path / "held", s, {"maintenance": [
        _spike_window(s, labels={"region": "us-east-1"})]})
    assert not [a for a in held if a["kind"] == "anomaly"]
    assert [a["kind"] for a in held] == ["missing_data"]  # windows hold anomalies only
    other = _flow_alerts(tmp_path / "other", s, {"maintenance": [
        _spike_window(s, keys=["host-1*"])]})
    assert [a["key"] for a in other if a["kind"] == "anomaly"] == [s.spike_host]


@pytest.mark.parametrize("banked", [False, True])
def test_skip_windows_are_not_learned_and_held_alerts_are_counted(banked):
    detection = ({"calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": 6.0}}
                 if banked else {})
    window = {"name": "w", "start": "1970-01-01T00:16:40", "duration_s": 100,
              "learning": "skip"}
    spec = parse_spec({"name": "m", "source": {"type": "file", "path": "x"},
                       "record": {"value_fields": ["v"]},
                       "detection": {**detection, "warmup": 20},
                       "alerts": {"maintenance": [window]}})
    logic = BankedDetectLogic(spec) if banked else DetectLogic(spec)
    t = np.arange(200) * 10.0  # rows 100..109 fall in the window (1000 s to 1100 s)
    v = 10 + np.random.default_rng(1).normal(0, 1, 200)
    v[105] = 60.0
    state, out = logic.process(None, EventBatch(["k"] * 200, t, v.reshape(-1, 1), ("v",)))
    assert not [a for a in out.alerts if a["kind"] == "anomaly"]
    count = (int(state.bank.count[state.keys["k"]]) if banked
             else int(state.keys["k"].pipeline.detector._count))
    assert count == 190
    assert state.decision.baseline.count[0] == 190
    assert state.decision.held_in_windows == 0  # skipped rows are not scored at all


def test_control_topic_windows_apply_at_run_time(bootstrap, topic_factory):
    topic = topic_factory(prefix="maint")
    calendar = Calendar()
    feed = ControlFeed(ControlTopicSpec(bootstrap_servers=bootstrap, topic=topic,
                                        catch_up_timeout_s=20), calendar).start()
    try:
        assert feed.caught_up.is_set() and calendar.windows == {}
        p = Producer({"bootstrap.servers": bootstrap})
        p.produce(topic, orjson.dumps({"op": "upsert", "window": {
            "name": "db", "start": "2026-12-06T02:00:00", "timezone": "Europe/Berlin",
            "duration_s": 3600, "keys": ["db-*"]}}))
        p.produce(topic, b'{"op": "upsert", "window": {"name": "broken"}}')
        p.produce(topic, b"not json")
        p.flush(10)
        deadline = time.time() + 20
        while (feed.applied, feed.rejected) != (1, 2) and time.time() < deadline:
            time.sleep(0.05)
        assert (feed.applied, feed.rejected) == (1, 2)
        at = datetime(2026, 12, 6, 1, 30, tzinfo=UTC).timestamp()  # 02:30 in Berlin
        hold, skip = calendar.apply(["db-1", "web-1"], np.array([at, at]), lambda k: {})
        assert hold.tolist() == [True, False] and not skip.any()
        p.produce(topic, orjson.dumps({"op": "delete", "name": "db"}))
        p.flush(10)
        deadline = time.time() + 20
        while calendar.windows and time.time() < deadline:
            time.sleep(0.05)
        assert calendar.windows == {}
    finally:
        feed.stop()
    # a restarted feed reads the topic from its beginning: the fold is the same
    again = Calendar()
    feed = ControlFeed(ControlTopicSpec(bootstrap_servers=bootstrap, topic=topic), again).start()
    feed.stop()
    assert again.windows == {} and feed.applied == 2 and feed.rejected == 2


def test_a_flow_reads_its_windows_from_the_control_topic(tmp_path, bootstrap, topic_factory):
    s = OncallStream()
    topic = topic_factory(prefix="maint")
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, orjson.dumps({"op": "upsert", "window": _spike_window(s)}))
    p.flush(10)
    control = {"bootstrap_servers": bootstrap, "topic": topic, "catch_up_timeout_s": 20}
    held = _flow_alerts(tmp_path / "flow", s, {"maintenance_control": control})
    assert [a["kind"] for a in held] == ["missing_data"]
