"""Build a Bytewax dataflow from a :class:`~pynomaly.spec.FlowSpec`.

::

    source ─► parse ─┬─► shard ─► detect (stateful, per shard) ─► alerts ─► sinks
                     └─► dead letters ◄─ (late events, key overflow) ◄─┘

>>> from pynomaly.flow import build_flow
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "demo", "source": {"type": "file",
...     "path": "flows/data/sample.jsonl"}, "record": {"value_fields": ["cpu"]}})
>>> build_flow(spec).flow_id
'demo'
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink

from pynomaly.observability import metrics, tracing
from pynomaly.operators.detect import (
    DetectLogic,
    ShardOutput,
    ShardSplitter,
    ShardState,
    make_detect_logic,
)
from pynomaly.operators.parse import RecordParser
from pynomaly.records import DeadLetter, EventBatch, RawBatch
from pynomaly.spec import (
    DashboardSinkSpec,
    FileSourceSpec,
    FlowSpec,
    JsonlSinkSpec,
    KafkaSinkSpec,
    KafkaSourceSpec,
    StdoutSinkSpec,
)


def make_source(spec: FlowSpec) -> Source:
    src = spec.source
    if isinstance(src, KafkaSourceSpec):
        from pynomaly.connectors.kafka_source import KafkaBatchSource

        return KafkaBatchSource(src.bootstrap_servers, src.topics, tail=src.tail,
                                from_beginning=src.from_beginning, batch_size=src.batch_size,
                                config=src.config, poll_timeout_s=src.poll_timeout_s,
                                linger_s=src.linger_s)
    if isinstance(src, FileSourceSpec):
        from pynomaly.connectors.file_source import FileBatchSource

        return FileBatchSource(src.path, src.format, src.batch_size, src.speed,
                               spec.record.time_field, spec.record.time_format)
    raise ValueError(f"unsupported source {src!r}")


def make_sink(sink: Any, *, dead_letters: bool = False) -> DynamicSink:
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
    try:
        from pynomaly.connectors import extra_sinks
    except ImportError:
        extra_sinks = None
    if extra_sinks is not None:
        built = extra_sinks.build(sink)
        if built is not None:
            return built
    raise ValueError(f"sink type {sink.type!r} is not available")


def _parse_step(parser: RecordParser, flow_name: str):
    def parse(batch: RawBatch) -> tuple[EventBatch, list[DeadLetter]]:
        m = metrics.current()
        t0 = time.perf_counter()
        with tracing.span("pynomaly.parse", flow=flow_name, source=batch.origin,
                          batch_size=len(batch.payloads)) as sp:
            good, dead = parser.parse(batch)
            if sp is not None:
                sp.set_attribute("dead_letters", len(dead))
                good.trace_parent = sp.get_span_context()
        m.events_in(batch.origin, len(batch.payloads))
        if dead:
            counts = Counter(str(d.reason) for d in dead)
            for reason, n in counts.items():
                m.parse_failed(reason, n)
        m.batch_latency(flow_name, "parse", time.perf_counter() - t0)
        return good, dead

    return parse


def _detect_step(logic: DetectLogic, flow_name: str, detector: str):
    def detect(state: ShardState | None, batch: EventBatch) -> tuple[ShardState, ShardOutput]:
        m = metrics.current()
        t0 = time.perf_counter()
        # the key count costs a set per batch: only when spans are recorded
        key_count = len(set(batch.keys)) if tracing.is_on() else -1
        with tracing.span("pynomaly.detect", parent=batch.trace_parent, flow=flow_name,
                          batch_size=len(batch), key_count=key_count):
            st, out = logic.process(state, batch)
        dt = time.perf_counter() - t0
        m.batch_latency(flow_name, "detect", dt)
        m.scored(flow_name, detector, out.scored)
        if out.alerts:
            m.alerts(flow_name, detector, len(out.alerts))
            with tracing.span("pynomaly.decide", parent=batch.trace_parent, flow=flow_name,
                              alerts=len(out.alerts)):
                pass
        for d in out.drift:
            m.drift(flow_name, d["monitor"])
        for d in out.dead:
            m.parse_failed(str(d.reason), stage="detect")
        if len(batch):
            m.event_lag(flow_name, time.time() - float(batch.times.max()))
        m.keys(flow_name, str(logic.shard_label(batch)), len(st.keys), st.evicted, st.overflow)
        return st, out

    return detect


def build_flow(spec: FlowSpec, *, source: Source | None = None,
               alert_sinks: list[DynamicSink] | None = None,
               dead_letter_sink: DynamicSink | None = None,
               on_batch: Callable[[RawBatch], None] | None = None,
               per_key: bool = False) -> Dataflow:
    """The dataflow for ``spec``. ``source``/``alert_sinks``/``dead_letter_sink``
    replace the spec's (tests and benchmarks use this); ``on_batch`` is called
    with every raw batch read (progress bars). The detect step is banked when
    the spec allows it (see :func:`~pynomaly.operators.detect.make_detect_logic`);
    ``per_key`` forces the per-key path (benchmarks compare the two)."""
    parser = RecordParser(spec.record)
    wants_points = any(isinstance(s, DashboardSinkSpec) and s.points for s in spec.sinks)
    logic = (DetectLogic(spec, keep_points=wants_points) if per_key
             else make_detect_logic(spec, keep_points=wants_points))
    shards = spec.keys.shards

    flow = Dataflow(spec.name)
    raw = op.input("source", flow, source if source is not None else make_source(spec))
    if on_batch is not None:
        op.inspect("progress", raw, lambda _step, batch: on_batch(batch))
    parsed = op.map("parse", raw, _parse_step(parser, spec.name))
    parse_dead = op.flat_map("parse-dead", parsed, lambda r: r[1])
    splitter = ShardSplitter(shards, route=spec.keys.route)
    keyed = op.flat_map("shard", parsed, lambda r: splitter(r[0]))
    detected = op.stateful_map("detect", keyed,
                               _detect_step(logic, spec.name, spec.detection.detector.name))
    outputs = op.map("outputs", detected, lambda kv: kv[1])
    alerts = op.flat_map("alerts", outputs, lambda o: o.alerts)
    detect_dead = op.flat_map("detect-dead", outputs, lambda o: o.dead)
    dead = op.merge("dead-letters", parse_dead, detect_dead)

    sinks = alert_sinks if alert_sinks is not None else [
        make_sink(s) for s in spec.sinks if not isinstance(s, DashboardSinkSpec)]
    for i, sink in enumerate(sinks):
        op.output(f"alerts-{i}", alerts, sink)
    for s in spec.sinks:
        if isinstance(s, DashboardSinkSpec):
            _add_dashboard(flow, s, outputs, spec)
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


def _add_dashboard(flow: Dataflow, sink: DashboardSinkSpec, outputs: Any, spec: FlowSpec) -> None:
    from pynomaly.connectors.live_view import LiveViewSink

    scale = "probability" if spec.detection.threshold.kind == "probability" else "score"
    op.output("dashboard", outputs, LiveViewSink(
        sink.url, sink.token, flow=spec.name, points=sink.points,
        fields=spec.record.value_fields, threshold_on=scale))


__all__ = ["ShardOutput", "build_flow", "make_sink", "make_source"]
