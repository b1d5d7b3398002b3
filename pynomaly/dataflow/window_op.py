"""``pxo.window``: per-key event-time windows with allowed lateness, as a
Bytewax operator.

Each key's records are aggregated into tumbling or sliding windows; a window
is emitted (as a record with the window end as its event time) once the key's
newest event time has passed its end plus ``allowed_lateness_s``. Records
older than that watermark minus the lateness go to ``dead`` as late events.

>>> import bytewax.operators as op
>>> import pynomaly.dataflow as pxo
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSink, TestingSource, run_main
>>> rows = [{"k": "a", "ts": t, "cpu": c} for t, c in [(0, 1.0), (30, 3.0), (61, 5.0),
...                                                     (10, 9.0), (125, 0.0)]]
>>> flow = Dataflow("window-doc")
>>> keyed = op.key_on("key", op.input("in", flow, TestingSource(rows)), lambda r: r["k"])
>>> w = pxo.window("win", keyed, fields=["cpu"], kind="tumbling", size_s=60)
>>> got, late = [], []
>>> op.output("out", w.down, TestingSink(got))
>>> op.output("late", op.map("r", w.dead, lambda d: str(d.reason)), TestingSink(late))
>>> run_main(flow)
>>> got, late
([('a', {'ts': 60.0, 'window_start': 0.0, 'cpu': 2.0}), ('a', {'ts': 120.0, 'window_start': 60.0, 'cpu': 5.0})], ['late_event'])

The windowed records feed :func:`~pynomaly.dataflow.detect` as they are;
``detect(..., window={...})`` windows inside the detect step with the same
logic.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import KeyedStream, StatefulBatchLogic

from pynomaly.dataflow.detect_options import KEY_FIELD
from pynomaly.dataflow.record_rows import RowParser
from pynomaly.dataflow.records import DeadLetter, Reason, raw_bytes
from pynomaly.dataflow.windowing import KeyWindows
from pynomaly.spec import RecordSpec, WindowSpec


@dataclass(frozen=True)
class WindowOut:
    """What :func:`window` produces."""

    #: one record per closed window, keyed like the input
    down: KeyedStream[dict[str, Any]]
    #: invalid records and late events
    dead: Stream[DeadLetter]


class _KeyWindowLogic(StatefulBatchLogic[Any, Any, KeyWindows]):
    """One key's open windows."""

    def __init__(self, spec: WindowSpec, rows: RowParser, state: KeyWindows | None) -> None:
        self.spec = spec
        self.rows = rows
        slide = spec.size_s if spec.kind == "tumbling" else (spec.slide_s or spec.size_s / 2)
        self.windows = state if state is not None else KeyWindows(
            spec.size_s, slide, spec.allowed_lateness_s, spec.agg, len(rows.spec.value_fields))

    def on_batch(self, values: list[tuple[str, Any]]) -> tuple[Iterable[Any], bool]:
        good, dead = self.rows.parse(values)
        out: list[Any] = list(dead)
        if not len(good):
            return out, StatefulBatchLogic.RETAIN
        time_field, fields = self.rows.spec.time_field, self.rows.spec.value_fields
        late, closed = self.windows.add(good.times, good.values)
        for j in late:
            rec = {time_field: float(good.times[j]),
                   **dict(zip(fields, good.values[j].tolist(), strict=True))}
            out.append(DeadLetter(Reason.LATE_EVENT,
                                  "event older than the window watermark minus lateness",
                                  raw_bytes(rec), self.rows.origin, key=good.keys[j]))
        size = self.spec.size_s
        for end, agg in closed:
            window: dict[str, Any] = {time_field: end, "window_start": end - size}
            window.update(zip(fields, agg, strict=True))
            out.append(window)
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> KeyWindows:
        return copy.deepcopy(self.windows)


def _pair(kv: tuple[str, Any]) -> tuple[str, tuple[str, Any]]:
    return kv[0], kv


@operator
def window(step_id: str, up: KeyedStream[Any], fields: list[str], time_field: str = "ts", *,
           kind: str = "tumbling", size_s: float = 60.0, slide_s: float | None = None,
           agg: str = "mean", allowed_lateness_s: float = 0.0,
           max_future_s: float = 86_400.0) -> WindowOut:
    """Aggregate each key's ``fields`` over event-time windows.

    ``kind`` is ``"tumbling"`` or ``"sliding"``, ``agg`` one of mean, sum,
    min, max, last, count: the flow spec's ``window`` options, validated the
    same way. ``time_field`` holds epoch seconds or ISO-8601. A window's
    record has the window end under ``time_field``, ``window_start``, and
    the aggregate of each field.
    """
    label = step_id.rpartition(".")[2]
    spec = WindowSpec(kind=kind, size_s=size_s, slide_s=slide_s, agg=agg,
                      allowed_lateness_s=allowed_lateness_s)
    if spec.kind == "none":
        raise ValueError(f"window {label!r}: kind must be 'tumbling' or 'sliding'")
    record = RecordSpec(key_field=KEY_FIELD, time_field=time_field, value_fields=list(fields),
                        max_future_s=max_future_s)
    rows = RowParser(record, origin=label)
    paired = op.map("pair", up, _pair)
    both = op.stateful_batch("windows", paired,
                             lambda state: _KeyWindowLogic(spec, rows, state))
    split = op.branch("split", both, lambda kv: isinstance(kv[1], DeadLetter))
    dead = op.map("dead", split.trues, lambda kv: kv[1])
    return WindowOut(split.falses, dead)
