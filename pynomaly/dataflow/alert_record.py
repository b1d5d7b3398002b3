"""The alert record's version-1 fields and its deterministic id. Flows emit
version 2 (:mod:`pynomaly.alerting.alert_v2`), which adds fields to these.

The id depends only on (flow, key, event time in ms, detector), so replaying
the same events after a crash yields the same ids and consumers can drop
duplicates. The JSON Schema is ``pynomaly/schemas/alert.v1.json``.

>>> from pynomaly.dataflow.alert_record import alert_id, make_alert
>>> alert_id("cpu", "host-1", 1767225600.0, "robust_zscore")
'c520f4fabb5ba32448c4e92e847dab52'
>>> a = make_alert("cpu", "host-1", 1767225600.0, {"cpu": 0.99}, 7.5, None, 6.0,
...                "static", "robust_zscore", {"cpu": 1.0}, emit_time=1767225601.0)
>>> a["event_time"], a["schema_version"]
('2026-01-01T00:00:00.000Z', 1)
"""

from __future__ import annotations

import json
import time
from functools import lru_cache
from importlib import resources
from typing import Any

from pynomaly.alerting.ids import alert_id, iso_ms

SCHEMA_VERSION = 1


__all__ = ["SCHEMA_VERSION", "alert_id", "alert_schema", "iso_ms", "make_alert"]


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


@lru_cache(maxsize=2)
def alert_schema(version: int = 2) -> dict[str, Any]:
    """The JSON Schema of the alert record: version 2 (what flows emit, see
    :mod:`pynomaly.alerting.alert_v2`) unless ``version=1`` is asked for."""
    if version not in (1, 2):
        raise ValueError(f"no alert schema version {version!r} (there are 1 and 2)")
    text = resources.files("pynomaly").joinpath(f"schemas/alert.v{version}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
