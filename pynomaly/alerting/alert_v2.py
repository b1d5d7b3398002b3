"""The alert record, schema version 2: what v1 says plus what an on-call
engineer needs to act (``kind``, ``expected``, ``bounds``, ``direction``,
``severity``, ``labels``, ``suppressed``, ``link``, ``missing``).

An anomaly alert keeps the v1 id (BLAKE2b-128 of flow, key, event time in ms
and detector); a ``missing_data`` alert and a ``recovery`` record use the
kind in place of the detector, so replays give the same ids. The JSON Schema
is ``pynomaly/schemas/alert.v2.json``; ``docs/alert-schema.md`` has the
migration from v1.

>>> a = anomaly_alert("cpu", "host-1", 1767225600.0, {"cpu": 95.0}, 31.0, 0.9999, 0.995,
...     "probability", "robust_zscore", {"cpu": 1.0}, expected={"cpu": 40.0},
...     bounds={"cpu": [35.0, 45.0]}, severity="critical", labels={"region": "eu"},
...     suppressed=0, emit_time=1767225601.0)
>>> a["schema_version"], a["kind"], a["direction"], a["id"] == alert_id(
...     "cpu", "host-1", 1767225600.0, "robust_zscore")
(2, 'anomaly', {'cpu': 'up'}, True)
>>> m = missing_data_alert("cpu", "host-2", 1767225650.0, "robust_zscore", last_seen=1767225600.0,
...     cadence_s=10.0, labels={}, emit_time=1767225651.0)
>>> m["kind"], m["missing"]["cadence_s"], m["values"]
('missing_data', 10.0, {})
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from pynomaly.alerting.config import SeveritySpec
from pynomaly.alerting.ids import alert_id, iso_ms

SCHEMA_VERSION = 2
SEVERITIES = ("info", "warning", "critical")


def direction_of(values: dict[str, float], expected: dict[str, float | None]) -> dict[str, str]:
    """``up`` or ``down`` per field: which side of ``expected`` the value is
    on (``up`` when equal or unknown)."""
    out = {}
    for f, v in values.items():
        e = expected.get(f)
        out[f] = "down" if e is not None and v < e else "up"
    return out


def severity_of(spec: SeveritySpec, sigmas: float | None, probability: float | None) -> str:
    """``critical`` if the deviation (in spreads) or the calibrated
    probability reaches its critical level, else ``warning`` if either
    reaches its warning level, else ``info``.

    >>> severity_of(SeveritySpec(), 20.0, None), severity_of(SeveritySpec(), 6.0, 0.99995)
    ('critical', 'warning')
    """
    s = -1.0 if sigmas is None or sigmas != sigmas else sigmas
    p = -1.0 if probability is None else probability
    if s >= spec.critical_sigma or p >= spec.critical_probability:
        return "critical"
    if s >= spec.warning_sigma or p >= spec.warning_probability:
        return "warning"
    return "info"


def dashboard_link(base: str | None, key: str) -> str | None:
    """The key's view on the dashboard at ``base``, or None without one.

    >>> dashboard_link("http://dash:8765/", "web 1")
    'http://dash:8765/#key=web%201'
    """
    return None if not base else f"{base.rstrip('/')}/#key={quote(key, safe='')}"


def _base(kind: str, flow: str, key: str, event_time: float, ident: str,
          emit_time: float | None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": alert_id(flow, key, event_time, ident),
        "kind": kind,
        "flow": flow,
        "key": key,
        "event_time": iso_ms(event_time),
        "emit_time": iso_ms(time.time() if emit_time is None else emit_time),
    }


def anomaly_alert(flow: str, key: str, event_time: float, values: dict[str, float],
                  score: float, probability: float | None, threshold: float,
                  threshold_kind: str, detector: str, explanation: dict[str, float], *,
                  expected: dict[str, float | None], bounds: dict[str, list[float] | None],
                  severity: str, labels: dict[str, Any], suppressed: int,
                  link: str | None = None, emit_time: float | None = None) -> dict[str, Any]:
    """One anomaly alert (a JSON-ready dict)."""
    rec = _base("anomaly", flow, key, event_time, detector, emit_time)
    rec.update({
        "values": values,
        "score": float(score),
        "probability": None if probability is None else float(probability),
        "threshold": float(threshold),
        "threshold_kind": threshold_kind,
        "detector": detector,
        "explanation": explanation,
        "expected": expected,
        "bounds": bounds,
        "direction": direction_of(values, expected),
        "severity": severity,
        "labels": labels,
        "suppressed": int(suppressed),
        "link": link,
        "missing": None,
    })
    return rec


def _silence(kind: str, flow: str, key: str, event_time: float, detector: str, *,
             last_seen: float, cadence_s: float, labels: dict[str, Any], severity: str,
             link: str | None, emit_time: float | None) -> dict[str, Any]:
    rec = _base(kind, flow, key, event_time, kind, emit_time)
    rec.update({
        "values": {}, "score": None, "probability": None, "threshold": None,
        "threshold_kind": None, "detector": detector, "explanation": {}, "expected": {},
        "bounds": {}, "direction": {}, "severity": severity, "labels": labels, "suppressed": 0,
        "link": link,
        "missing": {"last_seen": iso_ms(last_seen), "silent_s": round(event_time - last_seen, 3),
                    "cadence_s": round(float(cadence_s), 3)},
    })
    return rec


def missing_data_alert(flow: str, key: str, event_time: float, detector: str, *,
                       last_seen: float, cadence_s: float, labels: dict[str, Any],
                       severity: str = "warning", link: str | None = None,
                       emit_time: float | None = None) -> dict[str, Any]:
    """The key has been silent since ``last_seen``; ``event_time`` is when
    the silence crossed its limit."""
    return _silence("missing_data", flow, key, event_time, detector, last_seen=last_seen,
                    cadence_s=cadence_s, labels=labels, severity=severity, link=link,
                    emit_time=emit_time)


def recovery_record(flow: str, key: str, event_time: float, detector: str, *,
                    last_seen: float, cadence_s: float, labels: dict[str, Any],
                    link: str | None = None, emit_time: float | None = None) -> dict[str, Any]:
    """The key's first record (at ``event_time``) after a ``missing_data`` alert."""
    return _silence("recovery", flow, key, event_time, detector, last_seen=last_seen,
                    cadence_s=cadence_s, labels=labels, severity="info", link=link,
                    emit_time=emit_time)


def drift_record(flow: str, key: str, event_time: float, detector: str, *, monitor: str,
                 stream: str, detail: dict[str, Any], labels: dict[str, Any],
                 link: str | None = None, emit_time: float | None = None) -> dict[str, Any]:
    """A drift monitor found the key's ``stream`` (input or score) changed at ``event_time``.

    >>> r = drift_record("f", "k", 60.0, "robust_zscore", monitor="adwin", stream="score",
    ...                  detail={"action": "reset"}, labels={}, emit_time=61.0)
    >>> r["kind"], r["drift"]["monitor"], r["severity"]
    ('drift', 'adwin', 'warning')
    """
    rec = _base("drift", flow, key, event_time, f"drift:{monitor}:{stream}", emit_time)
    rec.update({
        "values": {}, "score": None, "probability": None, "threshold": None,
        "threshold_kind": None, "detector": detector, "explanation": {}, "expected": {},
        "bounds": {}, "direction": {}, "severity": "warning", "labels": labels, "suppressed": 0,
        "link": link, "missing": None,
        "drift": {"monitor": monitor, "stream": stream, "detail": dict(detail)},
    })
    return rec


@lru_cache(maxsize=1)
def alert_schema_v2() -> dict[str, Any]:
    """The JSON Schema of the v2 alert record."""
    text = resources.files("pynomaly").joinpath("schemas/alert.v2.json").read_text()
    return json.loads(text)
