"""Verdicts on alerts that adapt a key's decision, auditable and decaying.

A verdict names an alert (or an incident) and says ``false_positive``,
``true_positive`` or ``expected_change``, for its key or for a key pattern
(``fnmatch`` syntax). What it does:

- ``false_positive``: events of that magnitude no longer alert on that key
  (or pattern). The key gets a *floor*, ``margin ×`` the alert's magnitude;
  an alert whose magnitude is at or below the floor is held back. The floor
  halves every ``half_life_s`` of event time, so a verdict never silences a
  key forever: after ``half_life_s × log2(margin)`` it is below the flagged
  magnitude again, and a recurring pattern must be confirmed again.
- ``expected_change``: the key's detector re-baselines (the caller resets the
  key's state; see :attr:`Adaptation.action`) and any floor is cleared.
- ``true_positive``: recorded; a floor on the key is cleared.

Every verdict yields an :class:`Adaptation`, a JSON-ready audit record. The
magnitude is the deviation in bands for alerts with ``expected`` and
``bounds`` (schema v2), else the raw detector score, which for one key and
detector is on one scale.

Example
-------
>>> fb = Feedback(FeedbackConfig(half_life_s=86_400, margin=1.5))
>>> fp = {"id": "a1", "key": "db-1", "event_time": 0.0, "score": 6.0}
>>> fb.remember(fp)
>>> fb.apply(Verdict(alert_id="a1", verdict="false_positive", by="ana"), at=60.0).action
'floor'
>>> fb.allows({"id": "a2", "key": "db-1", "event_time": 3600.0, "score": 7.0})
False
>>> fb.allows({"id": "a3", "key": "db-1", "event_time": 3600.0, "score": 20.0})
True
>>> fb.allows({"id": "a4", "key": "db-1", "event_time": 86_400 * 3, "score": 7.0})  # decayed
True
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pynomaly.incidents.grouping import band_deviation, event_seconds


class FeedbackConfig(BaseModel):
    """How verdicts adapt decisions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    half_life_s: float = Field(14 * 86_400.0, gt=0, description="a floor halves this often")
    margin: float = Field(1.5, gt=1, description="floor = margin x the flagged magnitude")
    remember_alerts: int = Field(100_000, ge=1, description="recent alerts verdicts can name")


class Verdict(BaseModel):
    """One verdict, as posted on the verdict topic or by the dashboard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str | None = None
    incident_id: str | None = None
    verdict: Literal["false_positive", "true_positive", "expected_change"]
    scope: Literal["key", "pattern"] = "key"
    pattern: str | None = Field(None, description="fnmatch key pattern when scope is 'pattern'")
    keys: tuple[str, ...] = Field(
        (), description="the keys of the named alert or incident, when the sender knows them "
        "(an expected_change re-baselines their detectors)")
    by: str = ""
    note: str = ""

    @model_validator(mode="after")
    def _target(self) -> Verdict:
        if (self.alert_id is None) == (self.incident_id is None):
            raise ValueError("a verdict names exactly one of alert_id or incident_id")
        if self.scope == "pattern" and not self.pattern:
            raise ValueError("scope 'pattern' needs a pattern")
        return self


@dataclass(frozen=True)
class Adaptation:
    """The audit record of one verdict's effect."""

    verdict: str
    target: str
    keys: tuple[str, ...]
    action: str            # floor | rebaseline | cleared | none
    floor: float | None
    at: float
    by: str
    note: str

    def record(self) -> dict[str, Any]:
        """The JSON-ready audit record (``id`` is deterministic; ``key`` is the target)."""
        raw = f"{self.verdict}\x1f{self.target}\x1f{self.at!r}\x1f{self.by}".encode()
        return {"type": "adaptation", "id": hashlib.blake2b(raw, digest_size=16).hexdigest(),
                "key": self.target, **asdict(self), "keys": list(self.keys)}


def feedback_magnitude(alert: dict[str, Any]) -> float:
    """The magnitude a floor is compared with (see module doc)."""
    best = band_deviation(alert)
    return best if best > 0.0 else float(alert.get("score") or 0.0)


@dataclass
class Floor:
    value: float
    since: float

    def at(self, t: float, half_life_s: float) -> float:
        return self.value * math.exp2(-max(0.0, t - self.since) / half_life_s)


class Feedback:
    """Verdict state of a flow (picklable): floors per key and per pattern,
    recent alerts by id, incident members, and the adaptation log."""

    def __init__(self, config: FeedbackConfig | None = None) -> None:
        self.config = config or FeedbackConfig()
        self._alerts: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._incidents: dict[str, list[str]] = {}
        self.key_floors: dict[str, Floor] = {}
        self.pattern_floors: dict[str, Floor] = {}
        self.log: list[Adaptation] = []
        self.held_back = 0

    def remember(self, alert: dict[str, Any]) -> None:
        """Keep an alert's key and magnitude so a later verdict can name it."""
        self._alerts[alert["id"]] = (str(alert["key"]), feedback_magnitude(alert))
        self._alerts.move_to_end(alert["id"])
        while len(self._alerts) > self.config.remember_alerts:
            self._alerts.popitem(last=False)

    def remember_incident(self, incident_id: str, member_alert_ids: list[str]) -> None:
        self._incidents[incident_id] = list(member_alert_ids)

    def apply(self, verdict: Verdict, *, at: float) -> Adaptation:
        """Adapt to one verdict at event time ``at``; the audit record."""
        ids = ([verdict.alert_id] if verdict.alert_id is not None
               else self._incidents.get(verdict.incident_id or "", []))
        known = [self._alerts[i] for i in ids if i in self._alerts]
        target = verdict.alert_id or verdict.incident_id or ""
        if not known:
            return self._log(verdict, target, (), "none", None, at)
        keys = tuple(sorted({k for k, _ in known}))
        mag = max(m for _, m in known)
        if verdict.verdict == "false_positive":
            floor = Floor(self.config.margin * mag, at)
            if verdict.scope == "pattern" and verdict.pattern:
                self._raise(self.pattern_floors, verdict.pattern, floor)
            else:
                for k in keys:
                    self._raise(self.key_floors, k, floor)
            return self._log(verdict, target, keys, "floor", floor.value, at)
        for k in keys:
            self.key_floors.pop(k, None)
        if verdict.scope == "pattern" and verdict.pattern:
            self.pattern_floors.pop(verdict.pattern, None)
        action = "rebaseline" if verdict.verdict == "expected_change" else "cleared"
        return self._log(verdict, target, keys, action, None, at)

    def _raise(self, floors: dict[str, Floor], name: str, floor: Floor) -> None:
        old = floors.get(name)
        if old is None or old.at(floor.since, self.config.half_life_s) < floor.value:
            floors[name] = floor

    def _log(self, v: Verdict, target: str, keys: tuple[str, ...], action: str,
             floor: float | None, at: float) -> Adaptation:
        a = Adaptation(v.verdict, target, keys, action, floor, at, v.by, v.note)
        self.log.append(a)
        return a

    def floor_for(self, key: str, t: float) -> float:
        """The key's current floor (0 when none applies)."""
        hl = self.config.half_life_s
        best = self.key_floors[key].at(t, hl) if key in self.key_floors else 0.0
        for pattern, floor in self.pattern_floors.items():
            if fnmatch.fnmatchcase(key, pattern):
                best = max(best, floor.at(t, hl))
        return best

    def allows(self, alert: dict[str, Any]) -> bool:
        """False (and counted) when a verdict's floor holds this alert back."""
        t = event_seconds(alert["event_time"])
        if feedback_magnitude(alert) <= self.floor_for(str(alert["key"]), t):
            self.held_back += 1
            return False
        return True
