"""Maintenance windows: spans of event time, one-off or recurring (RFC 5545
RRULE in a named time zone, DST handled), for keys chosen by pattern or
label, during which alerts are held back and counted and learning follows
the window's choice (``learn`` or ``skip``).

A recurring window's occurrences are wall-clock times in its ``timezone``
(``FREQ=DAILY;BYHOUR=2`` is 02:00 local every day, winter and summer); each
lasts ``duration_s``. Windows come from the flow spec and, at run time, from
a control topic (:mod:`pynomaly.alerting.control`).

Example
-------
>>> import numpy as np
>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> w = MaintenanceWindowSpec(name="nightly", start="2026-03-27T02:00:00",
...     timezone="Europe/Berlin", duration_s=3600, rrule="FREQ=DAILY", keys=["db-*"])
>>> cal = Calendar([w])
>>> def at(s):  # a Berlin wall-clock time as epoch seconds
...     return datetime.fromisoformat(s).replace(tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
>>> times = np.array([at("2026-03-28T02:30:00"), at("2026-03-29T03:30:00"),
...                   at("2026-03-30T02:30:00"), at("2026-03-30T02:30:00")])
>>> hold, skip = cal.apply(["db-1", "db-1", "db-1", "web-1"], times, lambda k: {})
>>> hold.tolist()   # 29 March: clocks jump 02:00 -> 03:00, the window is 03:00-04:00
[True, True, True, False]
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: occurrences of one recurring window looked at per batch, at most
MAX_OCCURRENCES = 10_000


class MaintenanceWindowSpec(BaseModel):
    """One maintenance window (a flow spec entry under ``maintenance:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    #: first occurrence, local wall-clock time in ``timezone`` (ISO-8601,
    #: without offset) or an instant with an offset
    start: datetime
    timezone: str = "UTC"
    duration_s: float = Field(gt=0)
    #: RFC 5545 recurrence rule (``FREQ=WEEKLY;BYDAY=SU``); none: one-off
    rrule: str | None = None
    #: key patterns (shell-style: ``db-*``); none: every key
    keys: list[str] = Field(default_factory=list)
    #: labels a key must carry, all of them (``{region: eu-west-1}``)
    labels: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: ``learn``: detectors learn the window's records; ``skip``: they do not
    learning: Literal["learn", "skip"] = "learn"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r} (an IANA name such as "
                             "'Europe/Berlin')") from None
        return tz

    @model_validator(mode="after")
    def _rule(self) -> MaintenanceWindowSpec:
        if self.rrule is not None:
            try:
                self._rule_set()
            except (ValueError, TypeError) as exc:
                raise ValueError(f"rrule {self.rrule!r}: {exc}") from None
        return self

    def _dtstart(self) -> datetime:
        tz = ZoneInfo(self.timezone)
        s = self.start
        return s.replace(tzinfo=tz) if s.tzinfo is None else s.astimezone(tz)

    def _rule_set(self) -> Any:
        from dateutil.rrule import rrulestr

        return rrulestr(self.rrule, dtstart=self._dtstart().replace(tzinfo=None))

    def intervals(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """``[start, end)`` spans (epoch seconds) of the occurrences that
        overlap ``[t0, t1]``."""
        tz = ZoneInfo(self.timezone)
        if self.rrule is None:
            s = self._dtstart().timestamp()
            return [(s, s + self.duration_s)] if s <= t1 and s + self.duration_s > t0 else []
        rule = self._rule_set()
        # occurrences are naive wall-clock times of ``tz``: the one in force at
        # t0 started at most duration_s before it
        lo = datetime.fromtimestamp(t0 - self.duration_s, tz).replace(tzinfo=None) - timedelta(
            hours=3)  # the widest DST shift, so no occurrence is missed
        hi = datetime.fromtimestamp(t1, tz).replace(tzinfo=None) + timedelta(hours=3)
        out = []
        for occ in rule.xafter(lo, count=MAX_OCCURRENCES, inc=True):
            if occ > hi:
                break
            s = _wall_to_epoch(occ, tz)
            if s <= t1 and s + self.duration_s > t0:
                out.append((s, s + self.duration_s))
        return out

    def selects(self, key: str, labels: dict[str, Any]) -> bool:
        """Whether the window applies to ``key`` with ``labels``."""
        if self.keys and not any(fnmatch.fnmatchcase(key, p) for p in self.keys):
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())


def _wall_to_epoch(wall: datetime, tz: ZoneInfo) -> float:
    """A local wall-clock time as epoch seconds (PEP 495, ``fold=0``): a time
    that does not exist (the hour skipped when clocks go forward) is read
    with the offset before the shift, so it lands the shift later (02:30 on
    the spring-forward night is 03:30 new time); an ambiguous one (clocks go
    back) is its first occurrence."""
    return wall.replace(tzinfo=tz, fold=0).timestamp()


class Calendar:
    """The maintenance windows in force, by name; :meth:`apply` marks a
    batch's rows."""

    def __init__(self, windows: list[MaintenanceWindowSpec] | None = None) -> None:
        self.windows: dict[str, MaintenanceWindowSpec] = {w.name: w for w in windows or []}
        self.version = 0

    # changes replace the dict whole (copy on write): readers in other threads
    # iterate the one they took
    def upsert(self, window: MaintenanceWindowSpec) -> None:
        """Add ``window`` or replace the one of the same name."""
        self.windows = {**self.windows, window.name: window}
        self.version += 1

    def delete(self, name: str) -> bool:
        """Remove the window ``name``; whether there was one."""
        found = name in self.windows
        self.windows = {n: w for n, w in self.windows.items() if n != name}
        self.version += 1
        return found

    def active(self, t: float) -> list[str]:
        """Names of the windows in force at event time ``t`` (for any key)."""
        return sorted(n for n, w in self.windows.items() if w.intervals(t, t))

    def in_force(self, t: float) -> list[dict[str, Any]]:
        """The windows in force at event time ``t``, as the dashboard shows them:
        name, start and end (epoch seconds), the keys and labels they select,
        and whether detectors learn during them."""
        out = []
        for name, w in sorted(self.windows.items()):
            spans = w.intervals(t, t)
            if spans:
                out.append({"name": name, "start": spans[0][0], "end": spans[0][1],
                            "keys": list(w.keys), "labels": dict(w.labels),
                            "learning": w.learning})
        return out

    def apply(self, keys: list[str], times: np.ndarray,
              labels_of: Callable[[str], dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Per row: whether a window holds its alerts back, and whether one
        skips its learning. Per batch the cost is one interval expansion per
        window, and per key only while a window overlaps the batch."""
        n = len(keys)
        hold = np.zeros(n, dtype=bool)
        skip = np.zeros(n, dtype=bool)
        windows = self.windows
        if not windows or n == 0:
            return hold, skip
        t0, t1 = float(times.min()), float(times.max())
        for w in windows.values():
            spans = w.intervals(t0, t1)
            if not spans:
                continue
            inside = np.zeros(n, dtype=bool)
            for s, e in spans:
                inside |= (times >= s) & (times < e)
            if not inside.any():
                continue
            rows = np.flatnonzero(inside)
            chosen = {k: w.selects(k, labels_of(k)) for k in {keys[i] for i in rows.tolist()}}
            picked = rows[[chosen[keys[i]] for i in rows.tolist()]]
            hold[picked] = True
            if w.learning == "skip":
                skip[picked] = True
        return hold, skip
