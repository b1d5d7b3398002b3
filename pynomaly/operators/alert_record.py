"""The alert record (schema version 1) and its deterministic id.

The id depends only on (flow, key, event time in ms, detector), so replaying
the same events after a crash yields the same ids and consumers can drop
duplicates. The JSON Schema is ``pynomaly/schemas/alert.v1.json``.

>>> from pynomaly.operators.alert_record import alert_id, make_alert
>>> alert_id("cpu", "host-1", 1767225600.0, "robust_zscore")
'c520f4fabb5ba32448c4e92e847dab52'
>>> a = make_alert("cpu", "host-1", 1767225600.0, {"cpu": 0.99}, 7.5, None, 6.0,
...                "static", "robust_zscore", {"cpu": 1.0}, emit_time=1767225601.0)
>>> a["event_time"], a["schema_version"]
('2026-01-01T00:00:00.000Z', 1)
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

SCHEMA_VERSION = 1


def alert_id(flow: str, key: str, event_time: float, detector: str) -> str:
    """Deterministic 128-bit hex id of an alert."""
    ms = round(event_time * 1000)
    raw = f"{flow}\x1f{key}\x1f{ms}\x1f{detector}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def iso_ms(t: float) -> str:
    """Epoch seconds → ISO-8601 UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_alert(
    flow: str,
    key: str,
    event_time: float,
    values: dict[str, float],
    score: float,
    probability: float | None,
    threshold: float,
    threshold_kind: str,
    detector: str,
    explanation: dict[str, float],
    emit_time: float | None = None,
) -> dict[str, Any]:
    """Build one alert record (a JSON-ready dict)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": alert_id(flow, key, event_time, detector),
        "flow": flow,
        "key": key,
        "event_time": iso_ms(event_time),
        "emit_time": iso_ms(time.time() if emit_time is None else emit_time),
        "values": values,
        "score": float(score),
        "probability": None if probability is None else float(probability),
        "threshold": float(threshold),
        "threshold_kind": threshold_kind,
        "detector": detector,
        "explanation": explanation,
    }


@lru_cache(maxsize=1)
def alert_schema() -> dict[str, Any]:
    """The JSON Schema of the alert record."""
    text = resources.files("pynomaly").joinpath("schemas/alert.v1.json").read_text()
    return json.loads(text)
