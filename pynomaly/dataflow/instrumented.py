"""The parse and detect steps with their metrics and tracing spans: what the
Bytewax operators of :mod:`pynomaly.dataflow` call for every batch.

>>> from pynomaly.dataflow.instrumented import parse_step
>>> from pynomaly.dataflow.parse import RecordParser
>>> from pynomaly.dataflow.records import RawBatch
>>> from pynomaly.spec import RecordSpec
>>> parse = parse_step(RecordParser(RecordSpec(value_fields=["v"])), "demo")
>>> good, dead = parse(RawBatch([b'{"key":"a","ts":1,"v":2}', b'nope'], "src"))
>>> len(good), [str(d.reason) for d in dead]
(1, ['malformed_json'])
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pynomaly.dataflow.detect import ShardOutput
from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import DeadLetter, EventBatch, RawBatch
from pynomaly.observability import metrics, tracing

ParseFn = Callable[[RawBatch], tuple[EventBatch, list[DeadLetter]]]
DetectFn = Callable[[Any, EventBatch], tuple[Any, ShardOutput]]


def parse_step(parser: RecordParser, flow_name: str) -> ParseFn:
    """``parser.parse`` counted (events in, dead letters by reason, latency)
    and traced."""

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


def detect_step(logic: Any, flow_name: str, detector: str) -> DetectFn:
    """``logic.process`` (a per-key or banked detect logic) counted (scored,
    alerts, drift, keys, lag, latency) and traced."""

    def detect(state: Any, batch: EventBatch) -> tuple[Any, ShardOutput]:
        m = metrics.current()
        t0 = time.perf_counter()
        if len(batch):
            # the key count costs a set per batch: only when spans are recorded
            key_count = len(set(batch.keys)) if tracing.is_on() else -1
            with tracing.span("pynomaly.detect", parent=batch.trace_parent, flow=flow_name,
                              batch_size=len(batch), key_count=key_count):
                st, out = logic.process(state, batch)
            m.batch_latency(flow_name, "detect", time.perf_counter() - t0)
        else:  # a watermark tick (no events): neither a span nor a batch latency
            st, out = logic.process(state, batch)
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
