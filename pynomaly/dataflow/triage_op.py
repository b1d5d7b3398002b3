"""``pxo.triage``: verdict feedback, an alert budget and incidents between the
alert step and the alert sinks (:mod:`pynomaly.incidents.triage`).

One state serves the whole flow (alerts are few; the budget and incidents
look across keys), so every input is keyed to one key. The state is in the
recovery snapshots. At the end of the input (a finite replay, or a stop)
the budget's open slices are decided, so no alert stays held; open incidents
stay open (a restarted flow continues them) and resolve by event time.

>>> import bytewax.operators as op
>>> import pynomaly.dataflow as pxo
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSink, TestingSource, run_main
>>> from pynomaly.incidents.grouping import GroupingConfig
>>> from pynomaly.incidents.triage import TriageConfig
>>> a = [{"id": f"a{i}", "key": f"web-{i}", "event_time": 60.0 * i, "score": 9.0,
...       "threshold": 3.0, "labels": {"service": "web"}} for i in range(3)]
>>> flow = Dataflow("triage-doc")
>>> out = pxo.triage("triage", op.input("alerts", flow, TestingSource(a)),
...                  config=TriageConfig(incidents=GroupingConfig()), flow="doc")
>>> alerts, incidents = [], []
>>> op.output("a", out.alerts, TestingSink(alerts))
>>> op.output("i", out.incidents, TestingSink(incidents))
>>> run_main(flow)
>>> len(alerts), [(r["event"], len(r["keys"])) for r in incidents]
(3, [('open', 1), ('update', 2), ('update', 3)])
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from bytewax.operators import StatefulLogic

from pynomaly.incidents.triage import TriageConfig, TriageState
from pynomaly.observability import metrics


@dataclass(frozen=True)
class TriageOut:
    """What :func:`triage` produces."""

    #: alerts that passed feedback and the budget (the rest are counted)
    alerts: Stream[dict[str, Any]]
    #: incident records (open / update / resolve)
    incidents: Stream[dict[str, Any]]
    #: audit records of the verdicts' adaptations
    adaptations: Stream[dict[str, Any]]


class _TriageLogic(StatefulLogic[Any, tuple[str, dict[str, Any]], TriageState]):
    def __init__(self, state: TriageState) -> None:
        self.state = state

    def on_item(self, value: Any) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        return self._counted(self.state.process, value), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
        return self._counted(lambda _v: self.state.flush(), None), StatefulLogic.RETAIN

    def _counted(self, step: Any, value: Any) -> list[tuple[str, dict[str, Any]]]:
        """Run ``step`` and count what it held back and the incident events (metrics)."""
        before = dict(self.state.held_back)
        out: list[tuple[str, dict[str, Any]]] = step(value)
        m = metrics.current()
        for reason, n in self.state.held_back.items():
            if n > before.get(reason, 0):
                m.held_back(self.state.flow, reason, n - before.get(reason, 0))
        for tag, rec in out:
            if tag == "incident":
                m.incidents(self.state.flow, rec["event"], 1)
        return out

    def snapshot(self) -> TriageState:
        return copy.deepcopy(self.state)


def _tagged(kind: str) -> Any:
    return lambda value: (kind, value)


def _only(kind: str) -> Any:
    return lambda kv: kv[1][1] if kv[1][0] == kind else None


@operator
def triage(step_id: str, up: Stream[dict[str, Any]], *, config: TriageConfig, flow: str,
           verdicts: Stream[Any] | None = None,
           scores: Stream[tuple[Any, Any]] | None = None) -> TriageOut:
    """Feedback, budget and incidents over the alerts of ``up``.

    ``verdicts`` carries verdict dicts (see
    :class:`~pynomaly.incidents.feedback.Verdict`); ``scores`` carries
    ``(event times, scores)`` arrays of every scored record, which a budget
    needs as its tests and p-value pool.
    """
    inputs = [op.map("tag-alerts", up, _tagged("alert"))]
    if verdicts is not None:
        inputs.append(op.map("tag-verdicts", verdicts, _tagged("verdict")))
    if scores is not None:
        inputs.append(op.map("tag-scores", scores, _tagged("scores")))
    merged = op.merge("inputs", *inputs) if len(inputs) > 1 else inputs[0]
    keyed = op.key_on("one-state", merged, lambda _item: "triage")

    def build(resume: TriageState | None) -> _TriageLogic:
        return _TriageLogic(resume if resume is not None else TriageState(config, flow=flow))

    out = op.stateful("state", keyed, build)
    return TriageOut(op.filter_map("alerts", out, _only("alert")),
                     op.filter_map("incidents", out, _only("incident")),
                     op.filter_map("adaptations", out, _only("adaptation")))
