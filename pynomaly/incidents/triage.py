"""The triage step's logic: after the alert step, before the alert sinks.

One state per flow holds the verdict feedback, the alert budget and the
incident grouper (:class:`TriageState`, picklable, so it is in the recovery
snapshots). It takes three kinds of input, in any interleaving:

- ``("alert", alert)``: an alert from the detect step. Feedback may hold it
  back (its key has a floor), then the budget may hold it until its slice
  closes; what passes goes to the alert sinks and to the incident grouper;
- ``("scores", (times, scores))``: every scored record's event time and
  score, the budget's tests and p-value pool (only when a budget is set);
- ``("verdict", verdict)``: a verdict; its adaptation record is emitted.

Each call returns tagged outputs: ``("alert", alert)``, ``("incident",
record)`` and ``("adaptation", record)``. Alerts held back are counted in
:attr:`TriageState.held_back`, by reason.

Example
-------
>>> from pynomaly.incidents.grouping import GroupingConfig
>>> st = TriageState(TriageConfig(incidents=GroupingConfig(group_by=("service",))), flow="f")
>>> a = {"id": "a1", "key": "web-1", "event_time": "2026-01-01T00:00:00.000Z", "score": 9.0,
...      "threshold": 3.0, "labels": {"service": "web"}, "explanation": {"cpu": 1.0}}
>>> [tag for tag, _ in st.process(("alert", a))]
['alert', 'incident']
>>> v = {"alert_id": "a1", "verdict": "false_positive", "by": "ana"}
>>> [(tag, rec["action"]) for tag, rec in st.process(("verdict", v))]
[('adaptation', 'floor')]
>>> st.process(("alert", {**a, "id": "a2", "event_time": "2026-01-01T00:05:00.000Z"}))
[]
>>> st.held_back
{'feedback': 1, 'budget': 0}
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from pynomaly.incidents.budget import AlertBudget, BudgetConfig
from pynomaly.incidents.feedback import Feedback, FeedbackConfig, Verdict
from pynomaly.incidents.grouping import GroupingConfig, IncidentGrouper, event_seconds


class TriageConfig(BaseModel):
    """What runs between the alert step and the alert sinks (each part optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incidents: GroupingConfig | None = None
    feedback: FeedbackConfig | None = None
    budget: BudgetConfig | None = None

    def enabled(self) -> bool:
        return any(x is not None for x in (self.incidents, self.feedback, self.budget))


class TriageState:
    """Feedback, budget and incidents of one flow (see module doc)."""

    def __init__(self, config: TriageConfig, *, flow: str) -> None:
        self.config = config
        self.flow = flow
        # verdicts may come whether or not feedback is configured: its defaults apply
        self.feedback = Feedback(config.feedback or FeedbackConfig())
        self.budget = AlertBudget(config.budget) if config.budget is not None else None
        self.grouper = (IncidentGrouper(config.incidents, flow=flow)
                        if config.incidents is not None else None)
        self.watermark = -np.inf
        self.held_back = {"feedback": 0, "budget": 0}
        self.bad_verdicts = 0

    def process(self, item: tuple[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        kind, payload = item
        if kind == "alert":
            return self._alert(payload)
        if kind == "scores":
            times, scores = payload
            if self.budget is not None and len(scores):
                self.budget.observe_many(np.asarray(times), np.asarray(scores))
                return self._advance(float(np.max(times)))
            return []
        if kind == "verdict":
            return self._verdict(payload)
        raise ValueError(f"triage: unknown input kind {kind!r}")

    def _alert(self, alert: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        if alert.get("kind", "anomaly") != "anomaly":
            return [("alert", alert)]  # missing data, recovery: not budgeted or grouped
        t = event_seconds(alert["event_time"])
        if not self.feedback.allows(alert):
            self.held_back["feedback"] += 1
            return self._advance(t)
        if self.budget is not None:
            self.budget.offer(alert, t=t, score=float(alert.get("score") or 0.0))
            return self._advance(t)
        return self._passed([alert]) + self._advance(t)

    def _advance(self, t: float) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        if t > self.watermark:
            self.watermark = t
        if self.budget is not None:
            before = self.budget.held_back
            out += self._passed(self.budget.close(self.watermark))
            self.held_back["budget"] += self.budget.held_back - before
        if self.grouper is not None:
            for ev in self.grouper.advance(self.watermark):
                out.append(("incident", ev.record()))
        return out

    def _passed(self, alerts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for alert in alerts:
            out.append(("alert", alert))
            self.feedback.remember(alert)
            if self.grouper is not None:
                events = self.grouper.add(alert)
                for ev in events:
                    out.append(("incident", ev.record()))
                    if ev.event != "resolve":
                        self.feedback.remember_incident(ev.incident.id, ev.incident.members)
        return out

    def _verdict(self, raw: Any) -> list[tuple[str, dict[str, Any]]]:
        try:
            verdict = raw if isinstance(raw, Verdict) else Verdict.model_validate(raw)
        except ValidationError:
            self.bad_verdicts += 1
            return []
        at = self.watermark if np.isfinite(self.watermark) else 0.0
        return [("adaptation", self.feedback.apply(verdict, at=at).record())]

    def flush(self) -> list[tuple[str, dict[str, Any]]]:
        """At the end of the input: decide the budget's open slices (open
        incidents stay open; they resolve by event time)."""
        if self.budget is None:
            return []
        before = self.budget.held_back
        out = self._passed(self.budget.close(np.inf))
        self.held_back["budget"] += self.budget.held_back - before
        return out
