import shutil
import subprocess

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from pynomaly.dataflow.flow import build_flow
from pynomaly.observability import metrics, tracing
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec


def _spec(tmp_path):
    return parse_spec({
        "name": "obs",
        "source": {"type": "file", "path": "flows/data/sample.jsonl", "batch_size": 300},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
        "detection": {"detector": "robust_zscore", "threshold": {"kind": "static", "value": 8.0},
                      "warmup": 30},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
        "dead_letter": {"type": "jsonl", "path": str(tmp_path / "dead.jsonl")},
    })


@pytest.fixture
def registry():
    reg = CollectorRegistry()
    metrics.enable(reg)
    yield reg
    metrics.disable()


def _value(reg, name, **labels):
    v = reg.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_flow_metrics_count_what_happened(tmp_path, registry):
    run_dataflow(build_flow(_spec(tmp_path)), RunOptions())
    assert _value(registry, "pynomaly_events_in_total", source="sample.jsonl") == 1802
    assert _value(registry, "pynomaly_parse_failures_total", reason="malformed_json", stage="parse") == 1
    assert _value(registry, "pynomaly_parse_failures_total", reason="wrong_type", stage="parse") == 1
    assert _value(registry, "pynomaly_events_scored_total", flow="obs", detector="robust_zscore") == 1800
    assert _value(registry, "pynomaly_alerts_total", flow="obs", detector="robust_zscore") == 2
    assert _value(registry, "pynomaly_batch_latency_seconds_count", flow="obs", stage="parse") == 7
    assert _value(registry, "pynomaly_batch_latency_seconds_count", flow="obs", stage="detect") > 0
    live = sum(s.value for m in registry.collect() if m.name == "pynomaly_live_keys"
               for s in m.samples)
    assert live == 3
    assert _value(registry, "pynomaly_event_time_lag_seconds", flow="obs") > 0


def test_exposition_passes_promtool(tmp_path, registry):
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make test` installs Debian's prometheus package"
    run_dataflow(build_flow(_spec(tmp_path)), RunOptions())
    metrics.current().delivered("kafka", "alerts", 2)
    metrics.current().circuit("webhook", "http://x", "open")
    text = generate_latest(registry)
    proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()


def test_spans_per_micro_batch(tmp_path):
    exporter = InMemorySpanExporter()
    assert tracing.configure(exporter=exporter)
    try:
        run_dataflow(build_flow(_spec(tmp_path)), RunOptions())
    finally:
        spans = list(exporter.get_finished_spans())
        tracing.shutdown()
    by_name = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    assert len(by_name["pynomaly.parse"]) == 7
    assert sum(s.attributes["batch_size"] for s in by_name["pynomaly.parse"]) == 1802
    detect = by_name["pynomaly.detect"]
    assert all(s.attributes["key_count"] >= 1 for s in detect)
    parse_ids = {s.context.span_id for s in by_name["pynomaly.parse"]}
    assert all(s.parent is not None and s.parent.span_id in parse_ids for s in detect)
    assert len(by_name["pynomaly.decide"]) == 2


def test_tracing_is_off_without_configuration(monkeypatch):
    for var in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    assert tracing.configure() is False and not tracing.is_on()
    assert tracing.enabled_by_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing.enabled_by_env({"OTEL_TRACES_EXPORTER": "none"})
