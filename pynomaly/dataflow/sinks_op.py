"""``pxo.to_alert_sinks``: alert records to every configured sink.

A sink is given as a flow spec sink (``{"type": "kafka", "topic": "alerts"}``,
``{"type": "jsonl", "path": ...}``, redis, webhook, stdout) or as any Bytewax
sink; Kafka sinks confirm delivery before the batch is done.

>>> import bytewax.operators as op
>>> import pynomaly.dataflow as pxo
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSink, TestingSource, run_main
>>> flow = Dataflow("sinks-doc")
>>> alerts = op.input("in", flow, TestingSource([{"id": "1"}, {"id": "2"}]))
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "alerts.jsonl"
>>> got = []
>>> pxo.to_alert_sinks("out", alerts, [TestingSink(got), {"type": "jsonl", "path": str(path)}])
>>> run_main(flow)
>>> got, path.read_text().split()
([{'id': '1'}, {'id': '2'}], ['{"id":"1"}', '{"id":"2"}'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.outputs import Sink
from pydantic import TypeAdapter

from pynomaly.spec import DashboardSinkSpec, SinkSpec


def alert_sink(sink: Any) -> Sink[Any]:
    """A Bytewax sink for one sink (a Bytewax sink is returned as it is)."""
    if isinstance(sink, Sink):
        return sink
    parsed = TypeAdapter(SinkSpec).validate_python(sink)
    if isinstance(parsed, DashboardSinkSpec):
        raise ValueError("the dashboard sink reads the detect step's outputs, not alerts; "
                         "use pynomaly.connectors.live_view.LiveViewSink on detect(...).outputs")
    from pynomaly.dataflow.flow import make_sink

    return make_sink(parsed)


@operator
def to_alert_sinks(step_id: str, up: Stream[dict[str, Any]], sinks: Sequence[Any]) -> None:
    """Write every alert of ``up`` to each of ``sinks``."""
    for i, sink in enumerate(sinks):
        op.output(f"sink-{i}", up, alert_sink(sink))
