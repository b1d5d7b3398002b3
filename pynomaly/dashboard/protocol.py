"""Message contract between a running flow and the live dashboard (version 1).

The flow side (:class:`pynomaly.connectors.live_view.LiveViewPublisher`) sends
*batches* over an authenticated WebSocket to ``/ws/ingest``. One WebSocket
message is one batch, encoded as JSON (UTF-8, sent as a binary or text frame)::

    {"v": 1, "seq": 17, "sent_at": 1767225600000.0, "dropped": 0, "events": [ ... ]}

``v`` is :data:`PROTOCOL_VERSION`; a dashboard refuses a batch of another major
version. ``seq`` counts the publisher's batches; ``dropped`` (optional) is how
many events the publisher has dropped so far because its queue was full, so the
dashboard can show losses it never saw. Each entry of ``events`` is a small JSON object with a ``type``:

``point``
    ``{"type": "point", "key": str, "ts": ISO-8601 str or epoch ms,
    "value": number or {field: number}, "score": number | null,
    "probability": number | null, "threshold": number | null,
    "threshold_on": "score" | "probability"}``.
    ``probability`` is the calibrated probability of anomaly (``1 - p`` where
    ``p`` is the tail probability; higher = more anomalous, as in
    :mod:`pynomaly.engine.decision.calibration`); ``threshold`` is on the scale named by
    ``threshold_on`` (default ``"score"``).
``alert``
    The alert record: ``{"type": "alert", "id", "flow", "key", "event_time",
    "emit_time", "values", "score", "probability", "threshold", "detector",
    "explanation": {feature: contribution}, "schema_version"}``, and from
    schema version 2 ``kind``, ``expected``, ``bounds``, ``direction``,
    ``severity``, ``labels``, ``suppressed``, ``link`` and ``missing``.
``drift``
    ``{"type": "drift", "key": str | null, "ts", "monitor": str, "detail": any}``
    (``key`` null means the drift concerns the whole flow).
``stats``
    ``{"type": "stats", "events_per_s", "lag_s", "alert_rate", "active_keys",
    "drift_events", "sinks": {name: "ok" | "failing"}}``.
``windows``
    ``{"type": "windows", "windows": [{"name", "start", "end", "keys",
    "labels", "learning"}]}``: the maintenance windows in force at the flow's
    watermark (start and end in epoch seconds); an empty list when none is.
``incident``
    An incident record (docs/alert-fatigue.md): ``{"type": "incident", "id",
    "event": "open" | "update" | "resolve", "group", "n_alerts", "members",
    "keys", "root_cause", "summary", "opened_at", "updated_at", "resolved_at"}``
    (times in epoch seconds).

Unknown extra fields are kept and ignored. An event that breaks the contract is
counted as rejected by the dashboard; the rest of its batch is still used.

Examples
--------
>>> data = encode_batch([{"type": "point", "key": "a", "ts": 1000, "value": 1.5}], seq=1)
>>> batch = decode_batch(data)
>>> batch.seq, len(batch.events), batch.rejected
(1, 1, 0)
>>> normalize(batch.events[0])["ts"]
1000.0
>>> to_epoch_ms("1970-01-01T00:00:01Z")
1000.0
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

PROTOCOL_VERSION = 1
"""Major version of the batch envelope and event shapes above."""

EVENT_TYPES = ("point", "alert", "drift", "stats", "incident", "windows")
MAX_INCIDENT_MEMBERS = 500
"""Member alert ids of an incident kept by the dashboard (the count is kept whole)."""
SINK_STATES = ("ok", "failing")
MAX_BATCH_BYTES = 4 * 1024 * 1024
"""Largest batch message the dashboard accepts (the publisher splits below it)."""
MAX_KEY_LENGTH = 200


class ProtocolError(ValueError):
    """A batch that cannot be used at all (bad JSON, wrong version, wrong shape)."""


@dataclass(slots=True)
class Batch:
    """A decoded batch: its sequence number, the usable events and a rejected count."""

    seq: int
    sent_at: float | None
    dropped: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0


def encode_batch(
    events: list[dict[str, Any]], seq: int, sent_at: float | None = None, dropped: int = 0
) -> bytes:
    """Encode ``events`` as one batch message (JSON bytes).

    ``sent_at`` defaults to the current wall clock in epoch milliseconds.
    """
    if sent_at is None:
        sent_at = time.time() * 1000.0
    return orjson.dumps(
        {"v": PROTOCOL_VERSION, "seq": seq, "sent_at": sent_at, "dropped": dropped,
         "events": events},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        default=_default,
    )


def _default(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)
    if model_dump is not None:
        return model_dump(mode="json")
    if isinstance(obj, float | int):
        return float(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a live-view batch")


def decode_batch(data: bytes | str) -> Batch:
    """Decode and check one batch message.

    Raises
    ------
    ProtocolError
        When the message is not a JSON object of this protocol version.
    """
    if len(data) > MAX_BATCH_BYTES:
        raise ProtocolError(f"batch of {len(data)} bytes exceeds {MAX_BATCH_BYTES}")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"batch is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("batch must be a JSON object")
    version = obj.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported protocol version {version!r} (expected {PROTOCOL_VERSION})")
    events = obj.get("events")
    if not isinstance(events, list):
        raise ProtocolError('batch field "events" must be a list')
    seq = obj.get("seq", 0)
    sent_at = obj.get("sent_at")
    dropped = obj.get("dropped", 0)
    batch = Batch(seq=seq if isinstance(seq, int) else 0,
                  sent_at=float(sent_at) if isinstance(sent_at, int | float) else None,
                  dropped=dropped if isinstance(dropped, int) and dropped >= 0 else 0)
    good = batch.events
    for event in events:
        if isinstance(event, dict) and event.get("type") in EVENT_TYPES:
            good.append(event)
        else:
            batch.rejected += 1
    return batch


def to_epoch_ms(ts: Any) -> float:
    """Event time as epoch milliseconds: accepts epoch ms numbers and ISO-8601 strings.

    A naive ISO timestamp is read as UTC.

    >>> to_epoch_ms(1767225600000)
    1767225600000.0
    >>> to_epoch_ms("2026-01-01T00:00:00+00:00")
    1767225600000.0
    """
    if isinstance(ts, bool):
        raise ValueError("timestamp must be epoch ms or ISO-8601, not a bool")
    if isinstance(ts, int | float):
        value = float(ts)
        if not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        return value
    if isinstance(ts, str):
        text = ts[:-1] + "+00:00" if ts.endswith("Z") else ts
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp() * 1000.0
    raise ValueError(f"timestamp must be epoch ms or ISO-8601, got {type(ts).__name__}")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = float(value)
        return value if math.isfinite(value) else None
    raise ValueError(f"expected a number or null, got {type(value).__name__}")


def _key(value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("key must be a string")
    text = str(value)
    if not text or len(text) > MAX_KEY_LENGTH:
        raise ValueError(f"key must have 1 to {MAX_KEY_LENGTH} characters")
    return text


def normalize(event: dict[str, Any]) -> dict[str, Any]:
    """Check one event against the contract and return it in canonical form.

    Canonical form: timestamps as epoch ms floats, numbers as floats or None,
    ``value`` of a point as ``{field: float}``. Raises ``ValueError`` when the
    event breaks the contract.

    >>> normalize({"type": "point", "key": "k", "ts": 5, "value": {"cpu": 2}, "score": 1})
    {'type': 'point', 'key': 'k', 'ts': 5.0, 'value': {'cpu': 2.0}, 'score': 1.0, 'probability': None, 'threshold': None, 'threshold_on': 'score'}
    """
    kind = event.get("type")
    if kind == "point":
        # the hot path: finite floats pass as they are (x - x == 0 only for finite x)
        key, ts, score = event.get("key"), event.get("ts"), event.get("score")
        prob, thr = event.get("probability"), event.get("threshold")
        return {
            "type": "point",
            "key": key if type(key) is str and 0 < len(key) <= MAX_KEY_LENGTH else _key(key),
            "ts": ts if type(ts) is float and ts - ts == 0 else to_epoch_ms(ts),
            "value": _values(event.get("value")),
            "score": score if type(score) is float and score - score == 0 else _number(score),
            "probability": prob if type(prob) is float and prob - prob == 0 else _number(prob),
            "threshold": thr if type(thr) is float and thr - thr == 0 else _number(thr),
            "threshold_on": "probability" if event.get("threshold_on") == "probability" else "score",
        }
    if kind == "alert":
        return _normalize_alert(event)
    if kind == "drift":
        return {
            "type": "drift",
            "key": _key(event.get("key"), optional=True),
            "ts": to_epoch_ms(event.get("ts")),
            "monitor": str(event.get("monitor") or "drift"),
            "detail": event.get("detail"),
        }
    if kind == "incident":
        return _normalize_incident(event)
    if kind == "windows":
        windows = event.get("windows")
        if not isinstance(windows, list):
            raise ValueError("windows.windows must be a list")
        return {"type": "windows", "windows": [
            {"name": str(w.get("name"))[:200], "start": _number(w.get("start")),
             "end": _number(w.get("end")),
             "keys": [str(k) for k in (w.get("keys") or [])][:20],
             "labels": {str(k): str(v) for k, v in (w.get("labels") or {}).items()},
             "learning": "skip" if w.get("learning") == "skip" else "learn"}
            for w in windows[:50] if isinstance(w, dict)]}
    if kind == "stats":
        sinks = event.get("sinks") or {}
        if not isinstance(sinks, dict):
            raise ValueError("stats.sinks must be an object")
        return {
            "type": "stats",
            "events_per_s": _number(event.get("events_per_s")),
            "lag_s": _number(event.get("lag_s")),
            "alert_rate": _number(event.get("alert_rate")),
            "active_keys": _number(event.get("active_keys")),
            "drift_events": _number(event.get("drift_events")),
            "sinks": {str(k): ("ok" if v == "ok" else "failing") for k, v in sinks.items()},
        }
    raise ValueError(f"unknown event type {kind!r}")


def _normalize_incident(event: dict[str, Any]) -> dict[str, Any]:
    ident = event.get("id")
    if not isinstance(ident, str) or not 0 < len(ident) <= MAX_KEY_LENGTH:
        raise ValueError("incident.id must be a non-empty string")
    if event.get("event") not in ("open", "update", "resolve"):
        raise ValueError("incident.event must be open, update or resolve")
    group = event.get("group") or {}
    members = event.get("members") or []
    keys = event.get("keys") or []
    root = event.get("root_cause") or []
    if not isinstance(group, dict) or not isinstance(members, list) or not isinstance(keys, list) \
            or not isinstance(root, list):
        raise ValueError("incident.group must be an object; members, keys, root_cause lists")
    return {
        "type": "incident", "id": ident, "event": event["event"],
        "group": {str(k): str(v) for k, v in group.items()},
        "n_alerts": int(_number(event.get("n_alerts")) or 0),
        "members": [str(m) for m in members[:MAX_INCIDENT_MEMBERS]],
        "keys": [str(k) for k in keys[:MAX_INCIDENT_MEMBERS]],
        "root_cause": [{"key": str(r.get("key")), "field": str(r.get("field") or ""),
                        "first_at": _number(r.get("first_at")),
                        "magnitude": _number(r.get("magnitude"))}
                       for r in root[:10] if isinstance(r, dict)],
        "summary": str(event.get("summary") or "")[:300],
        "opened_at": _number(event.get("opened_at")),
        "updated_at": _number(event.get("updated_at")),
        "resolved_at": _number(event.get("resolved_at")),
    }


def _values(value: Any) -> dict[str, float | None]:
    if type(value) is float and value - value == 0:
        return {"value": value}
    if isinstance(value, dict):
        return {str(k): v if type(v) is float and v - v == 0 else
                (_number(v) if not isinstance(v, str) else None) for k, v in value.items()}
    return {"value": _number(value)}


def _normalize_alert(event: dict[str, Any]) -> dict[str, Any]:
    explanation = event.get("explanation") or {}
    if not isinstance(explanation, dict):
        raise ValueError("alert.explanation must be an object {feature: contribution}")
    values = event.get("values")
    return {
        "type": "alert",
        "id": str(event.get("id") or ""),
        "flow": str(event.get("flow") or ""),
        "key": _key(event.get("key")),
        "event_time": to_epoch_ms(event.get("event_time")),
        "emit_time": to_epoch_ms(event["emit_time"]) if event.get("emit_time") is not None else None,
        "values": _values(values) if values is not None else {},
        "score": _number(event.get("score")),
        "probability": _number(event.get("probability")),
        "threshold": _number(event.get("threshold")),
        "detector": str(event.get("detector") or ""),
        "explanation": {str(k): _number(v) or 0.0 for k, v in explanation.items()},
        "schema_version": event.get("schema_version"),
        **_alert_v2_fields(event),
    }


_SEVERITIES = frozenset({"info", "warning", "critical"})
_KINDS = frozenset({"anomaly", "missing_data", "recovery"})


def _alert_v2_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The fields schema version 2 adds (see docs/alert-schema.md), checked;
    absent ones (a version-1 alert) get their version-1 meaning.

    >>> f = _alert_v2_fields({"kind": "anomaly", "expected": {"cpu": 40.0},
    ...     "bounds": {"cpu": [35.0, 45.0]}, "severity": "critical", "labels": {"r": "eu"}})
    >>> f["bounds"], f["severity"], f["suppressed"]
    ({'cpu': [35.0, 45.0]}, 'critical', 0)
    """
    kind = event.get("kind") or "anomaly"
    severity = event.get("severity")
    if kind not in _KINDS:
        raise ValueError(f"alert.kind must be one of {sorted(_KINDS)}")
    if severity is not None and severity not in _SEVERITIES:
        raise ValueError(f"alert.severity must be one of {sorted(_SEVERITIES)}")
    objects = {name: event.get(name) or {} for name in
               ("expected", "bounds", "direction", "labels")}
    for name, value in objects.items():
        if not isinstance(value, dict):
            raise ValueError(f"alert.{name} must be an object")
    bounds = {}
    for f, band in objects["bounds"].items():
        if band is not None and not (isinstance(band, list) and len(band) == 2):
            raise ValueError("alert.bounds must map fields to [low, high]")
        bounds[str(f)] = None if band is None else [_number(band[0]), _number(band[1])]
    suppressed = event.get("suppressed") or 0
    if not isinstance(suppressed, int) or isinstance(suppressed, bool) or suppressed < 0:
        raise ValueError("alert.suppressed must be a non-negative integer")
    labels = {str(k): v if isinstance(v, str | bool) else _number(v)
              for k, v in objects["labels"].items()}
    link = event.get("link")
    missing = event.get("missing")
    return {
        "kind": kind,
        "expected": {str(f): _number(v) for f, v in objects["expected"].items()},
        "bounds": bounds,
        "direction": {str(f): "down" if v == "down" else "up"
                      for f, v in objects["direction"].items()},
        "severity": severity,
        "labels": labels,
        "suppressed": suppressed,
        "link": link if isinstance(link, str) and link.startswith(("http://", "https://"))
        else None,
        "missing": missing if isinstance(missing, dict) else None,
    }
