"""Alerts of many keys grouped into incidents, online, in event time.

An alert joins the open incident of its *group* (the values of the
configured topology labels, e.g. ``service``) when it comes within ``gap_s``
of that incident's latest alert; otherwise it opens a new incident. An
incident resolves once the watermark is ``resolve_after_s`` past its latest
alert. Each change is an :class:`IncidentEvent` (``open``, ``update`` for
each alert that joins, ``resolve``); the latest record of an incident always
lists all its members. Alerts may come out of event-time order (shards run
independently): the gap is measured from the incident's latest alert.

Alerts that carry none of the topology labels group by *co-movement*
instead: alerts whose main field moved the same way (``direction`` of
schema-v2 alerts) within ``gap_s`` share an incident, so a fleet-wide
latency rise on unlabelled hosts is one incident, not one per host.

The incident id is the BLAKE2b-128 of the flow, the group and the first
member alert's id. Alert ids are deterministic (ADR 0002), so a replay after
a restart gives the same incident ids.

The root-cause ranking orders the member (key, field) pairs by who moved
first, then by how far: ``first_at`` ascending, ``magnitude`` descending. The
magnitude of an alert is its deviation in bands when the alert carries
``expected`` and ``bounds`` (schema v2), else ``-log10(1 - probability)``,
else ``score / threshold``.

Example
-------
>>> g = IncidentGrouper(GroupingConfig(group_by=("service",), gap_s=120), flow="f")
>>> a1 = {"id": "a1", "key": "web-1", "event_time": 100.0, "score": 9.0, "threshold": 3.0,
...       "labels": {"service": "web"}, "explanation": {"cpu": 1.0}}
>>> a2 = {**a1, "id": "a2", "key": "web-2", "event_time": 160.0, "score": 12.0}
>>> [e.event for e in g.add(a1) + g.add(a2)]
['open', 'update']
>>> [r["key"] for r in g.open_incidents()[0].root_cause()]
['web-1', 'web-2']
>>> [e.event for e in g.advance(2000.0)]
['resolve']
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GroupingConfig(BaseModel):
    """How alerts become incidents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_by: tuple[str, ...] = Field(
        ("service",), description="alert labels whose values must all match to share an incident")
    gap_s: float = Field(300.0, gt=0, description="largest event-time gap inside an incident")
    co_movement: bool = Field(
        True, description="alerts that carry none of the group_by labels group by co-movement: "
        "the same field moving the same way within gap_s")
    resolve_after_s: float = Field(
        900.0, gt=0, description="an incident resolves this long after its latest alert")
    max_members: int = Field(10_000, ge=1, description="member ids kept per incident")


def event_seconds(value: Any) -> float:
    """An alert's ``event_time`` (epoch seconds or ISO-8601) as epoch seconds."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def band_deviation(alert: dict[str, Any]) -> float:
    """The largest distance of a value from its ``expected``, in half-widths of
    its ``bounds`` (schema-v2 alerts); 0 when the alert has none.

    >>> band_deviation({"values": {"a": 9.0, "b": 1.0}, "expected": {"a": 5.0, "b": None},
    ...                 "bounds": {"a": [4.0, 6.0], "b": None}})
    4.0
    """
    expected, bounds = alert.get("expected") or {}, alert.get("bounds") or {}
    best = 0.0
    for f, v in (alert.get("values") or {}).items():
        e, band = expected.get(f), bounds.get(f)
        if v is not None and e is not None and band is not None:
            best = max(best, abs(v - e) / max((band[1] - band[0]) / 2.0, 1e-12))
    return best


def alert_magnitude(alert: dict[str, Any]) -> float:
    """How far an alert is from normal, comparable across keys (see module doc)."""
    best = band_deviation(alert)
    if best > 0.0:
        return best
    p = alert.get("probability")
    if p is not None:
        return -math.log10(max(1.0 - float(p), 1e-300))
    thr = float(alert.get("threshold") or 0.0)
    score = float(alert.get("score") or 0.0)
    return score / thr if thr > 0 else score


def top_field(alert: dict[str, Any]) -> str:
    """The field that explains most of an alert ("" when it has no explanation)."""
    expl = alert.get("explanation") or {}
    return max(expl, key=lambda f: expl[f]) if expl else ""


@dataclass
class Mover:
    """One (key, field) of an incident: when it first alerted and how far it went."""

    key: str
    field: str
    first_at: float
    magnitude: float


@dataclass
class Incident:
    """An open or resolved incident."""

    id: str
    group: dict[str, Any]
    opened_at: float
    updated_at: float
    members: list[str] = field(default_factory=list)
    n_alerts: int = 0
    movers: dict[tuple[str, str], Mover] = field(default_factory=dict)
    resolved_at: float | None = None

    def root_cause(self, top: int = 5) -> list[dict[str, Any]]:
        """The (key, field) pairs that moved first, then most."""
        ranked = sorted(self.movers.values(), key=lambda m: (m.first_at, -m.magnitude, m.key))
        return [{"key": m.key, "field": m.field, "first_at": m.first_at,
                 "magnitude": round(m.magnitude, 4), "rank": i + 1}
                for i, m in enumerate(ranked[:top])]

    def summary(self) -> str:
        """A one-line description for a pager or a chat message."""
        keys = {m.key for m in self.movers.values()}
        where = ", ".join(f"{k}={v}" for k, v in self.group.items()) or "ungrouped"
        first = self.root_cause(1)
        lead = f"; first {first[0]['key']}.{first[0]['field']}" if first else ""
        return f"{self.n_alerts} alerts on {len(keys)} keys ({where}){lead}"


@dataclass(frozen=True)
class IncidentEvent:
    """An incident change, as a JSON-ready record (:meth:`record`)."""

    event: str
    incident: Incident
    flow: str

    def record(self) -> dict[str, Any]:
        inc = self.incident
        # ``key`` (the incident id) keeps an incident's records in one partition, in order
        return {"type": "incident", "event": self.event, "id": inc.id, "key": inc.id,
                "flow": self.flow,
                "group": dict(inc.group), "opened_at": inc.opened_at,
                "updated_at": inc.updated_at, "resolved_at": inc.resolved_at,
                "n_alerts": inc.n_alerts, "members": list(inc.members),
                "keys": sorted({m.key for m in inc.movers.values()}),
                "root_cause": inc.root_cause(), "summary": inc.summary()}


#: the first element of a co-movement group
_MOVED = "~moved"


class IncidentGrouper:
    """The online grouping state of one flow (picklable; see module doc)."""

    def __init__(self, config: GroupingConfig | None = None, *, flow: str = "") -> None:
        self.config = config or GroupingConfig()
        self.flow = flow
        self._open: dict[tuple[Any, ...], Incident] = {}

    def group_of(self, alert: dict[str, Any]) -> tuple[Any, ...]:
        """The alert's group: its ``group_by`` label values or, for an alert
        with none of them, the field that moved and its direction."""
        labels = alert.get("labels") or {}
        values = tuple(labels.get(name) for name in self.config.group_by)
        if self.config.co_movement and all(v is None for v in values):
            field_ = top_field(alert)
            return (_MOVED, field_, (alert.get("direction") or {}).get(field_, ""))
        return values

    def _group_dict(self, group: tuple[Any, ...]) -> dict[str, Any]:
        if group and group[0] == _MOVED:
            return {"field": group[1], "direction": group[2]}
        return dict(zip(self.config.group_by, group, strict=True))

    def add(self, alert: dict[str, Any]) -> list[IncidentEvent]:
        """Take one alert (in event-time order per group); the events it causes."""
        t = event_seconds(alert["event_time"])
        group = self.group_of(alert)
        events = []
        inc = self._open.get(group)
        if inc is not None and t - inc.updated_at > self.config.gap_s:
            events.append(self._resolve(group, inc.updated_at + self.config.gap_s))
            inc = None
        if inc is None:
            raw = f"{self.flow}\x1f{group!r}\x1f{alert['id']}".encode()
            inc = Incident(id=hashlib.blake2b(raw, digest_size=16).hexdigest(),
                           group=self._group_dict(group),
                           opened_at=t, updated_at=t)
            self._open[group] = inc
            self._join(inc, alert, t)
            return [*events, IncidentEvent("open", inc, self.flow)]
        self._join(inc, alert, t)
        events.append(IncidentEvent("update", inc, self.flow))
        return events

    def _join(self, inc: Incident, alert: dict[str, Any], t: float) -> None:
        inc.updated_at = max(inc.updated_at, t)
        inc.n_alerts += 1
        if len(inc.members) < self.config.max_members:
            inc.members.append(alert["id"])
        mk = (str(alert["key"]), top_field(alert))
        mag = alert_magnitude(alert)
        mover = inc.movers.get(mk)
        if mover is None:
            inc.movers[mk] = Mover(mk[0], mk[1], t, mag)
        else:
            mover.first_at = min(mover.first_at, t)
            mover.magnitude = max(mover.magnitude, mag)

    def advance(self, watermark: float) -> list[IncidentEvent]:
        """Resolve the incidents whose latest alert is ``resolve_after_s`` old."""
        due = [g for g, inc in self._open.items()
               if watermark - inc.updated_at >= self.config.resolve_after_s]
        return [self._resolve(g, watermark) for g in due]

    def _resolve(self, group: tuple[Any, ...], at: float) -> IncidentEvent:
        inc = self._open.pop(group)
        inc.resolved_at = at
        return IncidentEvent("resolve", inc, self.flow)

    def open_incidents(self) -> list[Incident]:
        return list(self._open.values())

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config.model_dump(), "flow": self.flow, "open": self._open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config = GroupingConfig.model_validate(state["config"])
        self.flow = state["flow"]
        self._open = state["open"]
