"""Drift monitors' findings reach the alert sinks as records of kind ``drift``."""

from __future__ import annotations

import json

import jsonschema
import numpy as np

from pynomaly.alerting.alert_v2 import alert_schema_v2
from pynomaly.alerts.models import parse_alert
from pynomaly.dataflow.detect import make_detect_logic
from pynomaly.dataflow.records import EventBatch
from pynomaly.spec import FlowSpec


def test_a_level_shift_gives_one_drift_record_that_validates() -> None:
    spec = FlowSpec.model_validate({
        "name": "drifting", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": ["v"]},
        "detection": {"detector": "robust_zscore",
                      "drift": [{"monitor": "fast_page_hinkley", "stream": "input"}]},
        "alerts": {"dashboard_url": "http://dash:8765"}})
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, 600), rng.normal(8, 1, 400)].reshape(-1, 1)
    _, out = make_detect_logic(spec).process(
        None, EventBatch(["k"] * 1000, 1.7e9 + 60.0 * np.arange(1000), x, ("v",)))
    drift = [a for a in out.alerts if a["kind"] == "drift"]
    assert len(drift) == len(out.drift) >= 1
    first = drift[0]
    assert first["drift"]["monitor"] == "fast_page_hinkley" and first["drift"]["stream"] == "input"
    assert first["link"] == "http://dash:8765/#key=k" and first["severity"] == "warning"
    jsonschema.validate(first, alert_schema_v2())
    assert parse_alert(json.dumps(first)).kind == "drift"


def test_detect_outputs_carry_the_windows_in_force() -> None:
    from pynomaly.connectors.live_view import detect_output_events

    spec = FlowSpec.model_validate({
        "name": "maint", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": ["v"]},
        "alerts": {"maintenance": [{"name": "nightly", "start": "2023-11-14T22:00:00",
                                    "duration_s": 3600, "rrule": "FREQ=DAILY",
                                    "keys": ["db-*"], "learning": "skip"}]}})
    logic = make_detect_logic(spec)
    t0 = 1699999200.0  # 2023-11-14T22:00:00Z, inside the window
    _, out = logic.process(None, EventBatch(["db-1"] * 3, t0 + np.arange(3.0),
                                            np.ones((3, 1)), ("v",)))
    assert [w["name"] for w in out.windows] == ["nightly"]
    assert out.windows[0]["learning"] == "skip" and out.windows[0]["keys"] == ["db-*"]
    events = detect_output_events(out)
    assert events[-1]["type"] == "windows"
    _, later = logic.process(None, EventBatch(["db-1"], np.array([t0 + 7200.0]), np.ones((1, 1)),
                                              ("v",)))
    assert later.windows == []
