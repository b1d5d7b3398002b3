"""``pynomaly.dataflow`` as Bytewax operators, next to stock operators,
through real dataflows (``run_main``, ``TestingSource``/``TestingSink``)."""

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import bytewax.operators as op
import numpy as np
import orjson
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from jsonschema import Draft202012Validator

import pynomaly.dataflow as pxo
from pynomaly.dataflow.alert_record import alert_schema
from pynomaly.dataflow.flow import build_flow
from pynomaly.dataflow.records import DeadLetter, EventBatch
from pynomaly.spec import FlowSpec, SpecError

HOSTS = ("web-1", "web-2", "db-1")
#: (host, index) of the injected spikes
SPIKES = {("web-2", 250), ("db-1", 320)}


def _records(n: int = 400, iso: bool = False) -> list[dict]:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        for h in HOSTS:
            t = 1_767_225_600.0 + 60.0 * i
            cpu = 0.4 + 0.05 * rng.normal()
            if (h, i) in SPIKES:
                cpu = 3.0
            ts = datetime.fromtimestamp(t, UTC).isoformat() if iso else t
            rows.append({"host": h, "ts": ts, "cpu": round(cpu, 4), "site": "eu"})
    return rows


def _run_detect(rows: list, batch_size: int = 50, **options) -> tuple[list, list, list]:
    flow = Dataflow("ops")
    s = op.input("in", flow, TestingSource(rows, batch_size=batch_size))
    s = op.filter("eu-only", s, lambda r: r.get("site") == "eu")
    s = op.map("percent", s, lambda r: {**r, "cpu_pct": r["cpu"] * 100
                                        if isinstance(r["cpu"], float) else r["cpu"]})
    keyed = op.key_on("by-host", s, lambda r: r["host"])
    options = {"detector": "robust_zscore", "warmup": 50, **options}
    out = pxo.detect("detect", keyed, fields=["cpu_pct"], time_field="ts", **options)
    alerts, scores, dead = [], [], []
    op.output("alerts", out.alerts, TestingSink(alerts))
    op.output("scores", out.scores, TestingSink(scores))
    op.output("dead", out.dead, TestingSink(dead))
    run_main(flow)
    return alerts, scores, dead


def test_detect_next_to_stock_operators_alerts_valid_against_the_schema():
    rows = _records()
    rows.insert(10, {"host": "web-1", "ts": 1_767_225_000.0, "cpu": "high", "site": "eu"})
    rows.insert(20, {"host": "web-1", "ts": 1_767_225_000.0, "cpu": 0.5, "site": "us"})
    alerts, scores, dead = _run_detect(rows, threshold={"kind": "static", "value": 8.0})
    spikes = {(a["key"], a["event_time"]) for a in alerts}
    assert spikes == {("web-2", "2026-01-01T04:10:00.000Z"), ("db-1", "2026-01-01T05:20:00.000Z")}
    validator = Draft202012Validator(alert_schema())
    for a in alerts:
        validator.validate(a)
        assert a["flow"] == "detect" and a["detector"] == "robust_zscore"
    assert len(scores) == 3 * 400  # one per valid record
    assert sum(s["anomaly"] for s in scores) >= 2
    assert [(str(d.reason), d.key) for d in dead] == [("wrong_type", "web-1")]
    assert orjson.loads(dead[0].raw)["cpu"] == "high"


def test_iso_and_epoch_event_times_give_the_same_alerts():
    static = {"threshold": {"kind": "static", "value": 8.0}}
    epoch = _run_detect(_records(), **static)[0]
    iso = _run_detect(_records(iso=True), **static)[0]
    assert [a["id"] for a in epoch] == [a["id"] for a in iso]
    assert len(epoch) == 2


def test_alerts_do_not_depend_on_how_the_stream_is_batched():
    static = {"threshold": {"kind": "static", "value": 8.0}}
    one = _run_detect(_records(), batch_size=1, **static)[0]
    many = _run_detect(_records(), batch_size=500, **static)[0]
    assert sorted(a["id"] for a in one) == sorted(a["id"] for a in many)


def test_spec_options_are_keyword_arguments_validated_like_a_spec():
    with pytest.raises(SpecError, match=r"detection\.warmup"):
        _run_detect(_records(5), warmup=-3)
    with pytest.raises(SpecError, match="threshold"):
        _run_detect(_records(5), threshold={"kind": "static"})
    with pytest.raises(TypeError, match="unknown option 'cooldown'"):
        _run_detect(_records(5), cooldown=5)


def test_calibration_cooldown_and_explanations_are_honoured():
    alerts, _, _ = _run_detect(_records(), calibration={"kind": "conformal", "window": 300},
                               threshold={"kind": "probability", "level": 0.99},
                               cooldown_s=1e9, explain_top=1)
    # with a cooldown longer than the stream, each host alerts at most once
    assert len({a["key"] for a in alerts}) == len(alerts) >= 1
    assert all(0 <= a["probability"] <= 1 and list(a["explanation"]) == ["cpu_pct"]
               for a in alerts)


def test_window_option_equals_window_operator_then_detect():
    rows = _records()
    win = {"kind": "tumbling", "size_s": 300}
    opts = {"threshold": {"kind": "static", "value": 6.0}, "warmup": 20}

    inside = _run_detect(rows, window=win, **opts)

    flow = Dataflow("ops-window")
    s = op.input("in", flow, TestingSource(rows, batch_size=50))
    s = op.map("percent", s, lambda r: {**r, "cpu_pct": r["cpu"] * 100})
    keyed = op.key_on("by-host", s, lambda r: r["host"])
    windows = pxo.window("window", keyed, fields=["cpu_pct"], kind="tumbling", size_s=300)
    out = pxo.detect("detect", windows.down, fields=["cpu_pct"], time_field="ts",
                     detector="robust_zscore", **opts)
    alerts, scores = [], []
    op.output("alerts", out.alerts, TestingSink(alerts))
    op.output("scores", out.scores, TestingSink(scores))
    run_main(flow)

    assert len(scores) == len(inside[1]) == 3 * (400 * 60 // 300 - 1)
    assert [(a["key"], a["event_time"], a["values"]) for a in alerts] == [
        (a["key"], a["event_time"], a["values"]) for a in inside[0]]
    assert {a["key"] for a in alerts} == {"web-2", "db-1"}


def test_window_sends_late_events_to_dead_letters():
    rows = [{"k": "a", "ts": t, "v": 1.0} for t in (0, 50, 130, 20, 131)]
    flow = Dataflow("late")
    keyed = op.key_on("k", op.input("in", flow, TestingSource(rows)), lambda r: r["k"])
    w = pxo.window("w", keyed, fields=["v"], kind="sliding", size_s=60, slide_s=30,
                   allowed_lateness_s=60, agg="count")
    got, dead = [], []
    op.output("out", w.down, TestingSink(got))
    op.output("dead", w.dead, TestingSink(dead))
    run_main(flow)
    assert [(str(d.reason), d.key) for d in dead] == [("late_event", "a")]
    assert [(r["window_start"], r["ts"], r["v"]) for _, r in got] == [(-30.0, 30.0, 1.0),
                                                                     (0.0, 60.0, 2.0)]


def test_parse_takes_bytes_dicts_and_kafka_messages():
    items = [b'{"key":"a","ts":1,"cpu":0.5}', {"key": "b", "ts": 2, "cpu": 0.25},
             SimpleNamespace(key=b"c", value=b'{"key":"c","ts":3,"cpu":1}'),
             b'{"key":"d","ts":4}', b"not json"]
    flow = Dataflow("parse")
    parsed = pxo.parse("parse", op.input("in", flow, TestingSource(items)), fields=["cpu"])
    good, dead = [], []
    op.output("good", parsed.batches, TestingSink(good))
    op.output("dead", parsed.dead, TestingSink(dead))
    run_main(flow)
    assert all(isinstance(b, EventBatch) for b in good)
    assert [k for b in good for k in b.keys] == ["a", "b", "c"]
    assert all(isinstance(d, DeadLetter) for d in dead)
    assert sorted(str(d.reason) for d in dead) == ["malformed_json", "missing_field"]


def test_parse_shard_detect_is_the_spec_path(tmp_path):
    """pxo.parse → pxo.shard → pxo.detect(spec=...) in a hand-built flow and
    build_flow give the same alerts."""
    spec = FlowSpec.model_validate({
        "name": "same", "source": {"type": "file", "path": "flows/data/sample.jsonl"},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
        "detection": {"detector": "robust_zscore", "warmup": 30,
                      "threshold": {"kind": "static", "value": 8.0}},
        "alerts": {"cooldown_s": 600}, "keys": {"shards": 4}})
    lines = Path("flows/data/sample.jsonl").read_bytes().splitlines()

    flow = Dataflow("same")
    parsed = pxo.parse("parse", op.input("in", flow, TestingSource(lines, batch_size=100)),
                       record=spec.record)
    detected = pxo.detect("detect", pxo.shard("shard", parsed.batches, 4), spec=spec,
                          score_records=False)
    by_hand, dead = [], []
    pxo.to_alert_sinks("out", detected.alerts, [TestingSink(by_hand)])
    op.output("dead", op.merge("all-dead", parsed.dead, detected.dead), TestingSink(dead))
    run_main(flow)

    built, built_dead = [], []
    run_main(build_flow(spec, alert_sinks=[TestingSink(built)],
                        dead_letter_sink=TestingSink(built_dead)))
    assert sorted(a["id"] for a in by_hand) == sorted(a["id"] for a in built)
    assert {(a["key"], a["event_time"]) for a in built} >= {
        ("db-1", "2026-01-01T06:40:00.000Z"), ("web-2", "2026-01-01T08:20:00.000Z")}
    assert sorted(str(d.reason) for d in dead) == sorted(str(d.reason) for d in built_dead) == [
        "malformed_json", "wrong_type"]


def test_to_alert_sinks_takes_spec_sinks_and_bytewax_sinks(tmp_path):
    flow = Dataflow("sinks")
    alerts = op.input("in", flow, TestingSource([{"id": "x"}]))
    got = []
    pxo.to_alert_sinks("out", alerts, [TestingSink(got),
                                       {"type": "jsonl", "path": str(tmp_path / "a.jsonl")}])
    run_main(flow)
    assert got == [{"id": "x"}]
    assert orjson.loads((tmp_path / "a.jsonl").read_bytes()) == {"id": "x"}
    with pytest.raises(ValueError, match="dashboard"):
        pxo.to_alert_sinks("dash", alerts, [{"type": "dashboard"}])


def test_alert_rules_are_options_too():
    static = {"threshold": {"kind": "static", "value": 8.0}}
    assert len(_run_detect(_records(), **static)[0]) == 2
    # both spikes go up: a rule that only lets drops alert holds them back
    assert _run_detect(_records(), rules={"direction": "down"}, **static)[0] == []
    assert len(_run_detect(_records(), rules={"direction": "up"}, **static)[0]) == 2


def test_flow_name_defaults_to_the_step_id():
    flow = Dataflow("names")
    keyed = op.key_on("k", op.input("in", flow, TestingSource(_records(300))),
                      lambda r: r["host"])
    out = pxo.detect("cpu spikes", keyed, fields=["cpu"], detector="robust_zscore",
                     warmup=50, threshold={"kind": "static", "value": 8.0})
    named = pxo.detect("named", keyed, fields=["cpu"], name="cpu.hosts", warmup=50,
                       detector="robust_zscore", threshold={"kind": "static", "value": 8.0})
    alerts, named_alerts = [], []
    op.output("a", out.alerts, TestingSink(alerts))
    op.output("b", named.alerts, TestingSink(named_alerts))
    run_main(flow)
    assert {a["flow"] for a in alerts} == {"cpu-spikes"}
    assert {a["flow"] for a in named_alerts} == {"cpu.hosts"}
