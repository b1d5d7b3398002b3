"""Build a Bytewax dataflow from a :class:`~pynomaly.spec.FlowSpec`.

::

    source ─► parse ─┬─► shard ─► detect (stateful, per shard) ─► alerts ─► sinks
                     └─► dead letters ◄─ (late events, key overflow) ◄─┘

>>> from pynomaly.dataflow.flow import build_flow
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "demo", "source": {"type": "file",
...     "path": "flows/data/sample.jsonl"}, "record": {"value_fields": ["cpu"]}})
>>> build_flow(spec).flow_id
'demo'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink

import pynomaly.dataflow as pxo
from pynomaly.dataflow.detect import ShardOutput, rebaseline_items
from pynomaly.dataflow.records import RawBatch
from pynomaly.spec import (
    DashboardSinkSpec,
    FileSourceSpec,
    FlowSpec,
    JsonlSinkSpec,
    KafkaSinkSpec,
    KafkaSourceSpec,
    StdoutSinkSpec,
)


def make_source(spec: FlowSpec) -> Source[RawBatch]:
    src = spec.source
    if isinstance(src, KafkaSourceSpec):
        from pynomaly.connectors.kafka_source import KafkaBatchSource

        return KafkaBatchSource(src.bootstrap_servers, src.topics, tail=src.tail,
                                from_beginning=src.from_beginning, batch_size=src.batch_size,
                                config=src.config, poll_timeout_s=src.poll_timeout_s,
                                linger_s=src.linger_s)
    if isinstance(src, FileSourceSpec):
        from pynomaly.connectors.file_source import FileBatchSource

        rec = spec.record
        return FileBatchSource(src.path, src.format, src.batch_size, src.speed,
                               rec.time_field, rec.time_format, rec.key_field,
                               tuple(rec.value_fields))
    raise ValueError(f"unsupported source {src!r}")


def make_sink(sink: Any, *, dead_letters: bool = False) -> DynamicSink[Any]:
    """A Bytewax sink for one sink spec (alerts, or dead letters)."""
    if isinstance(sink, KafkaSinkSpec):
        from pynomaly.connectors.kafka_sink import KafkaAlertSink, KafkaDeadLetterSink

        cls = KafkaDeadLetterSink if dead_letters else KafkaAlertSink
        return cls(sink.bootstrap_servers, sink.topic, delivery_timeout_s=sink.delivery_timeout_s,
                   config=sink.config)
    if isinstance(sink, JsonlSinkSpec):
        from pynomaly.connectors.file_sinks import JsonlSink

        return JsonlSink(sink.path)
    if isinstance(sink, StdoutSinkSpec):
        from pynomaly.connectors.file_sinks import StdoutSink

        return StdoutSink()
    from pynomaly.connectors import extra_sinks

    built = extra_sinks.build(sink)
    if built is not None:
        return built
    raise ValueError(f"sink type {sink.type!r} is not available")


def build_flow(spec: FlowSpec, *, source: Source[RawBatch] | None = None,
               alert_sinks: list[DynamicSink[Any]] | None = None,
               dead_letter_sink: DynamicSink[Any] | None = None,
               on_batch: Callable[[RawBatch], None] | None = None,
               per_key: bool = False, recovery: bool = True) -> Dataflow:
    """The dataflow for ``spec``. ``source``/``alert_sinks``/``dead_letter_sink``
    replace the spec's (tests and benchmarks use this); ``on_batch`` is called
    with every raw batch read (progress bars). The detect step is banked when
    the spec allows it (see :func:`~pynomaly.dataflow.detect.make_detect_logic`);
    ``per_key`` forces the per-key path (benchmarks compare the two);
    ``recovery=False`` says the flow runs without Bytewax recovery, so the
    detect state is not copied at every epoch for a snapshot nobody keeps."""
    wants_points = any(isinstance(s, DashboardSinkSpec) and s.points for s in spec.sinks)

    flow = Dataflow(spec.name)
    raw = op.input("source", flow, source if source is not None else make_source(spec))
    if on_batch is not None:
        op.inspect("progress", raw, lambda _step, batch: on_batch(batch))
    parsed = pxo.parse("parse", raw, record=spec.record, name=spec.name)
    keyed = pxo.shard("shard", parsed.batches, spec.keys.shards, spec.keys.route)
    verdicts = None
    if spec.feedback is not None and spec.feedback.verdicts is not None:
        verdicts = _verdict_stream(flow, spec.feedback.verdicts)
        if spec.keys.route == "hash":  # expected_change verdicts re-baseline their keys
            shards = spec.keys.shards
            keyed = op.merge("detect-input", keyed, op.flat_map(
                "rebaseline", verdicts, lambda v: rebaseline_items(v, shards)))
    detected = pxo.detect("detect", keyed, spec=spec, score_records=wants_points,
                          per_key=per_key, snapshots=recovery)
    outputs, alerts = detected.outputs, detected.alerts
    dead = op.merge("dead-letters", parsed.dead, detected.dead)
    alerts, incidents = _add_triage(flow, spec, alerts, outputs, verdicts)

    sinks = alert_sinks if alert_sinks is not None else [
        s for s in spec.sinks if not isinstance(s, DashboardSinkSpec)]
    pxo.to_alert_sinks("alerts", alerts, sinks)
    for s in spec.sinks:
        if isinstance(s, DashboardSinkSpec):
            _add_dashboard(flow, s, outputs, spec)
            if incidents is not None:
                _add_dashboard_incidents(flow, s, incidents, spec)
    dl = dead_letter_sink
    if dl is None and spec.dead_letter is not None:
        dl = make_sink(spec.dead_letter, dead_letters=True)
    if dl is not None:
        op.output("dead-letter", dead, dl)
    else:
        # dead letters are never dropped silently: without a configured output
        # they go to standard error as JSON lines
        from pynomaly.connectors.file_sinks import StderrSink

        op.output("dead-letter", dead, StderrSink())
    return flow


def triage_config(spec: FlowSpec) -> Any:
    """The spec's feedback, budget and incidents as one
    :class:`~pynomaly.incidents.triage.TriageConfig` (sinks and sources aside)."""
    from pynomaly.incidents.feedback import FeedbackConfig
    from pynomaly.incidents.grouping import GroupingConfig
    from pynomaly.incidents.triage import TriageConfig

    return TriageConfig(
        incidents=None if spec.incidents is None else GroupingConfig.model_validate(
            spec.incidents.model_dump(exclude={"sinks"})),
        feedback=None if spec.feedback is None else FeedbackConfig.model_validate(
            spec.feedback.model_dump(exclude={"verdicts", "adaptation_sinks"})),
        budget=spec.budget)


def _add_triage(flow: Dataflow, spec: FlowSpec, alerts: Any, outputs: Any,
                verdicts: Any) -> tuple[Any, Any]:
    """Feedback, budget and incidents after the alert step (ADR 0035); the
    alerts that go on to the sinks, and the incident records (None without
    incidents). A spec without them keeps its alerts as they are."""
    config = triage_config(spec)
    if not config.enabled():
        return alerts, None
    scores = None
    if spec.budget is not None:
        scores = op.filter_map("budget-scores", outputs, _budget_scores)
    out = pxo.triage("triage", alerts, config=config, flow=spec.name, verdicts=verdicts,
                     scores=scores)
    if spec.incidents is not None and spec.incidents.sinks:
        pxo.to_alert_sinks("incidents", out.incidents, spec.incidents.sinks)
    if spec.feedback is not None and spec.feedback.adaptation_sinks:
        pxo.to_alert_sinks("adaptations", out.adaptations, spec.feedback.adaptation_sinks)
    return out.alerts, (out.incidents if spec.incidents is not None else None)


def _budget_scores(o: ShardOutput) -> Any:
    import numpy as np

    if not o.budget_scores:
        return None
    return (np.concatenate([t for t, _ in o.budget_scores]),
            np.concatenate([s for _, s in o.budget_scores]))


def _verdict_stream(flow: Dataflow, src: Any) -> Any:
    """Verdict dicts from a Kafka topic (live, from its end) or a JSON-lines
    file; a line that is not a JSON object is skipped (the triage step counts
    verdicts that fail validation)."""
    import orjson

    def decode(raw: Any) -> Any:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    if src.type == "file":
        from bytewax.connectors.files import FileSource

        lines = op.input("verdicts", flow, FileSource(src.path))
        return op.filter_map("verdicts-decode", lines, decode)
    from pynomaly.connectors.kafka_source import KafkaBatchSource

    batches = op.input("verdicts", flow, KafkaBatchSource(
        src.bootstrap_servers, [src.topic], tail=True, from_beginning=False))
    return op.filter_map("verdicts-decode", op.flat_map(
        "verdicts-payloads", batches, lambda b: list(b.payloads)), decode)


def _add_dashboard_incidents(flow: Dataflow, sink: DashboardSinkSpec, incidents: Any,
                             spec: FlowSpec) -> None:
    from pynomaly.connectors.live_view import LiveViewSink

    events = op.map("dashboard-incident-events", incidents, lambda r: {**r, "type": "incident"})
    op.output("dashboard-incidents", events, LiveViewSink(
        sink.url, sink.token, flow=spec.name, points=False, stats_interval_s=1e9))


def _add_dashboard(flow: Dataflow, sink: DashboardSinkSpec, outputs: Any, spec: FlowSpec) -> None:
    from pynomaly.connectors.live_view import LiveViewSink

    scale = "probability" if spec.detection.threshold.kind == "probability" else "score"
    op.output("dashboard", outputs, LiveViewSink(
        sink.url, sink.token, flow=spec.name, points=sink.points,
        fields=spec.record.value_fields, threshold_on=scale))


__all__ = ["ShardOutput", "build_flow", "make_sink", "make_source"]
