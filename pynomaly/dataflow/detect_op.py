"""``pxo.detect``: anomaly detection as a Bytewax operator.

Drop it into any dataflow after a keyed stream of dict records; it scores
every record with the key's detector, calibrates, thresholds, and emits
alert records (the alert JSON Schema), one score record per scored event and
dead letters:

>>> import bytewax.operators as op
>>> import pynomaly.dataflow as pxo
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSink, TestingSource, run_main
>>> rows = [{"host": "h1", "ts": 60.0 * i, "cpu": 0.5 + 0.01 * (i % 5)} for i in range(300)]
>>> rows += [{"host": "h1", "ts": 18000.0, "cpu": 9.0}, {"host": "h1", "ts": 18060.0}]
>>> flow = Dataflow("detect-doc")
>>> keyed = op.key_on("by-host", op.input("in", flow, TestingSource(rows)), lambda r: r["host"])
>>> out = pxo.detect("detect", keyed, fields=["cpu"], time_field="ts",
...                  detector="robust_zscore", warmup=50)
>>> alerts, scores, dead = [], [], []
>>> op.output("alerts", out.alerts, TestingSink(alerts))
>>> op.output("scores", out.scores, TestingSink(scores))
>>> op.output("dead", out.dead, TestingSink(dead))
>>> run_main(flow)
>>> [(a["key"], a["event_time"], a["values"]) for a in alerts]
[('h1', '1970-01-01T05:00:00.000Z', {'cpu': 9.0})]
>>> len(scores), [(str(d.reason), d.detail) for d in dead]
(301, [('missing_field', "missing field 'cpu'")])

The same operator is the detect step of every flow built from a spec
(:func:`pynomaly.dataflow.flow.build_flow`): there its input is the columnar event
batches of :func:`~pynomaly.dataflow.parse` keyed by shard
(:func:`~pynomaly.dataflow.shard`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import KeyedStream, StatefulBatchLogic

from pynomaly.dataflow.detect import (
    DetectLogic,
    Rebaseline,
    ShardOutput,
    make_detect_logic,
    rebaseline_shard,
    shard_of,
)
from pynomaly.dataflow.detect_options import detect_spec
from pynomaly.dataflow.instrumented import DetectFn, detect_step
from pynomaly.dataflow.record_rows import RowParser
from pynomaly.dataflow.records import DeadLetter, EventBatch
from pynomaly.dataflow.score_records import score_records as make_score_records
from pynomaly.observability import metrics
from pynomaly.spec import FlowSpec


@dataclass(frozen=True)
class DetectOut:
    """What :func:`detect` produces."""

    #: alert records (dicts valid against the alert JSON Schema, ``alert_schema()``)
    alerts: Stream[dict[str, Any]]
    #: one score record per scored event (per closed window when windowed);
    #: empty with ``score_records=False``
    scores: Stream[dict[str, Any]]
    #: records that failed validation, late events, events over the key cap
    dead: Stream[DeadLetter]
    #: the detect step's raw per-batch outputs (live views, metrics)
    outputs: Stream[ShardOutput]


class _ShardDetect(StatefulBatchLogic[Any, ShardOutput, Any]):
    """One shard's detect state; dict records of a batch are validated into
    one event batch, event batches (the spec path) are scored as they are."""

    def __init__(self, step: DetectFn, rows: RowParser, state: Any,
                 snapshots: bool = True) -> None:
        self.step = step
        self.rows = rows
        self.state = state
        self.snapshots = snapshots

    def on_batch(self, values: list[Any]) -> tuple[Iterable[ShardOutput], bool]:
        outs: list[ShardOutput] = []
        pending: list[tuple[str, Any]] = []
        for v in values:
            if isinstance(v, Rebaseline):  # an expected_change verdict
                self.state = rebaseline_shard(self.state, v)
                continue
            if isinstance(v, EventBatch):
                if pending:
                    outs.append(self._records(pending))
                    pending = []
                self.state, out = self.step(self.state, v)
                outs.append(out)
            else:
                pending.append(v)
        if pending:
            outs.append(self._records(pending))
        return outs, StatefulBatchLogic.RETAIN

    def _records(self, pairs: list[tuple[str, Any]]) -> ShardOutput:
        good, dead = self.rows.parse(pairs)
        out = ShardOutput()
        if len(good):
            self.state, out = self.step(self.state, good)
        if dead:
            m = metrics.current()
            for d in dead:
                m.parse_failed(str(d.reason))
            out.dead[:0] = dead
        return out

    def snapshot(self) -> Any:
        """A copy of the state for recovery. Bytewax asks at the end of every
        epoch, recovery on or off; without recovery nothing keeps the copy, so
        ``snapshots=False`` returns None instead of copying every key's state
        (a copy the size of the state, once per epoch)."""
        return copy.deepcopy(self.state) if self.snapshots else None


def _to_shard(shards: int) -> Callable[[tuple[str, Any]], tuple[str, Any]]:
    """Re-key ``(entity, record)`` pairs by shard; shard-keyed batches pass."""

    def route(kv: tuple[str, Any]) -> tuple[str, Any]:
        key, value = kv
        if isinstance(value, EventBatch | Rebaseline):  # already keyed by shard
            return kv
        return str(shard_of(key, shards)), (key, value)

    return route


@operator
def detect(step_id: str, up: KeyedStream[Any], fields: list[str] | None = None,
           time_field: str = "ts", *, spec: FlowSpec | None = None, name: str | None = None,
           score_records: bool = True, per_key: bool = False, snapshots: bool = True,
           **options: Any) -> DetectOut:
    """Score a keyed stream of dict records and decide which are anomalies.

    ``up`` is a Bytewax keyed stream of dicts; the stream key is the entity
    (host, sensor, user …). ``fields`` are the numeric value fields,
    ``time_field`` the event time (epoch seconds or ISO-8601). Every option of
    a flow spec is a keyword argument under the spec's name, validated as in a
    spec file: ``detector`` (a name, or ``{"name", "params"}``), ``warmup``,
    ``calibration``, ``threshold``, ``protect``, ``drift``, ``drift_policy``,
    ``explain``, ``window``, ``cooldown_s``, ``explain_top``, ``max_keys``,
    ``ttl_s``, ``shards``, ``max_future_s`` … (see docs/flow-spec.md).
    ``name`` is the flow name in alerts (default: the step id, with
    characters other than letters, digits and ``_.-`` as ``-``).

    ``score_records=False`` leaves ``scores`` empty and lets eligible specs
    use the faster banked path. ``spec`` gives a whole
    :class:`~pynomaly.spec.FlowSpec` instead of ``fields``/options (the
    spec path: values are then event batches keyed by shard); ``per_key``
    forces the per-key detect path (benchmarks). ``snapshots=False`` tells the
    step the dataflow runs without recovery, so its state is not copied at
    every epoch (``pynomaly run`` and ``replay`` pass it without
    ``--recovery-dir``); leave it on when running with Bytewax recovery.
    """
    # a flow name allows letters, digits and _.- only: other characters of a
    # step id become "-"
    label = name or re.sub(r"[^A-Za-z0-9_.-]", "-", step_id.rpartition(".")[2])[:100]
    if spec is None:
        if not fields:
            raise TypeError(f"detect {label!r}: fields= names at least one value field")
        spec = detect_spec(label, list(fields), time_field, options)
    elif fields is not None or options:
        raise TypeError(f"detect {label!r}: give either spec= or fields= and options, not both")
    logic = (DetectLogic(spec, keep_points=score_records) if per_key
             else make_detect_logic(spec, keep_points=score_records))
    step = detect_step(logic, spec.name, spec.detection.detector.name)
    rows = RowParser(spec.record, origin=spec.name)

    routed = op.map("shard", up, _to_shard(spec.keys.shards))
    detected = op.stateful_batch("detect", routed,
                                 lambda state: _ShardDetect(step, rows, state, snapshots))
    outputs = op.map("outputs", detected, lambda kv: kv[1])
    alerts = op.flat_map("alerts", outputs, lambda o: o.alerts)
    dead = op.flat_map("dead", outputs, lambda o: o.dead)
    flow_name, value_fields = spec.name, tuple(spec.record.value_fields)
    scores = op.flat_map("scores", outputs,
                         lambda o: score_records_of(flow_name, value_fields, o))
    return DetectOut(alerts, scores, dead, outputs)


def score_records_of(flow: str, fields: tuple[str, ...], out: ShardOutput) -> list[dict[str, Any]]:
    """The score records of one detect output."""
    return make_score_records(flow, fields, out.points) if out.points else []
