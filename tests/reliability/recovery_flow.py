"""The flow of the recovery and outage tests, its input and its reference alerts.

The flow keeps every kind of engine state: detector, conformal calibrator,
probability threshold, a drift monitor whose detections reset the detector,
tumbling windows and the alert cooldown. A restart that lost or mixed up any
of it would change which events alert, hence the alert ids.
"""

from __future__ import annotations

from collections import defaultdict

from flowproc import alerts_of, without_emit_time
from services import create_topic
from streams import metric_events, produce

from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec

N_KEYS, N_PER_KEY = 40, 1500
EVENTS = metric_events(N_KEYS, N_PER_KEY, shift_at=N_PER_KEY // 2)


def flow_spec(bootstrap: str, source: str, alerts: str, tail: bool = False,
              delivery_timeout_s: float = 30.0, alerts_bootstrap: str | None = None) -> dict:
    """The flow; ``alerts_bootstrap`` puts the alerts topic on another broker."""
    return {
        "name": "recovery",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [source],
                   "tail": tail, "batch_size": 500},
        "record": {"value_fields": ["cpu"], "time_format": "epoch_s", "max_future_s": 3.2e8},
        "window": {"kind": "tumbling", "size_s": 3},
        "detection": {"detector": "robust_zscore", "warmup": 40,
                      "calibration": {"kind": "conformal", "window": 300},
                      "threshold": {"kind": "probability", "level": 0.99},
                      "drift": [{"monitor": "fast_page_hinkley", "stream": "input",
                                 "params": {"threshold": 60.0}}],
                      "drift_policy": "reset"},
        "alerts": {"cooldown_s": 20},
        "sinks": [{"type": "kafka", "bootstrap_servers": alerts_bootstrap or bootstrap,
                   "topic": alerts,
                   "delivery_timeout_s": delivery_timeout_s}],
    }


def reference_run(bootstrap: str) -> dict[str, dict]:
    """Alerts by id of an uninterrupted run over the events (known anomalies
    and level shifts) read as a backlog."""
    source = create_topic(bootstrap, 4, "metrics")
    produce(bootstrap, source, EVENTS)
    alerts = create_topic(bootstrap, 1, "alerts")
    run_dataflow(build_flow(parse_spec(flow_spec(bootstrap, source, alerts))), RunOptions())
    reference = alerts_of(bootstrap, alerts)
    ids = [a["id"] for a in reference]
    assert len(ids) == len(set(ids)) > 100
    return {a["id"]: without_emit_time(a) for a in reference}


def assert_same_alerts(got: list[dict], reference: dict[str, dict]) -> None:
    """``got`` holds exactly the reference ids; repeats are exact copies."""
    by_id = defaultdict(list)
    for a in got:
        by_id[a["id"]].append(without_emit_time(a))
    missing, extra = set(reference) - set(by_id), set(by_id) - set(reference)
    assert not missing and not extra, f"missing {len(missing)}, extra {len(extra)}"
    for alert_id, copies in by_id.items():
        assert all(c == reference[alert_id] for c in copies), alert_id
