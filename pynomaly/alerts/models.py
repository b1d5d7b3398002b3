"""Typed alert records: pydantic models of the published JSON Schemas.

:class:`AlertV1` mirrors ``pynomaly/schemas/alert.v1.json`` and
:class:`AlertV2` ``alert.v2.json`` field for field (the tests check that both
accept and reject what a JSON Schema validator does). :func:`parse_alert`
reads either from a message value, picking the model by ``schema_version``.
Times are timezone-aware :class:`~datetime.datetime` objects; every model is
frozen.

>>> raw = (b'{"schema_version": 1, "id": "c520f4fabb5ba32448c4e92e847dab52", "flow": "cpu",'
...        b' "key": "host-1", "event_time": "2026-01-01T00:00:00.000Z",'
...        b' "emit_time": "2026-01-01T00:00:01.000Z", "values": {"cpu": 0.99}, "score": 7.5,'
...        b' "probability": null, "threshold": 6.0, "threshold_kind": "static",'
...        b' "detector": "robust_zscore", "explanation": {"cpu": 1.0}}')
>>> alert = parse_alert(raw)
>>> type(alert).__name__, alert.key, alert.event_time.isoformat(), alert.score
('AlertV1', 'host-1', '2026-01-01T00:00:00+00:00', 7.5)
>>> parse_alert(b'{"schema_version": 9}')
Traceback (most recent call last):
...
pynomaly.alerts.models.AlertFormatError: unsupported schema_version 9 (this reader knows 1, 2)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

__all__ = [
    "SCHEMA_VERSIONS",
    "Alert",
    "AlertFormatError",
    "AlertV1",
    "AlertV2",
    "Silence",
    "parse_alert",
]

AlertId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
ThresholdKind = Literal["static", "probability", "quantile"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AlertV1(_Record):
    """One anomaly alert, schema version 1 (``alert.v1.json``)."""

    schema_version: Literal[1]
    #: deterministic: the same event replayed gives the same id (dedupe by it)
    id: AlertId
    flow: str
    key: str
    event_time: datetime
    emit_time: datetime
    values: dict[str, float]
    score: float
    #: calibrated probability; None without a calibrator
    probability: Probability | None
    threshold: float
    threshold_kind: ThresholdKind
    detector: str
    explanation: dict[str, float]


class Silence(_Record):
    """The ``missing`` part of a v2 ``missing_data`` or ``recovery`` record."""

    last_seen: datetime
    silent_s: float
    cadence_s: float


class DriftFinding(_Record):
    """The ``drift`` part of a v2 ``drift`` record."""

    monitor: str
    stream: str
    detail: dict[str, Any]


class AlertV2(_Record):
    """One alert, schema version 2 (``alert.v2.json``): an anomaly, a key gone
    silent (``missing_data``), its return (``recovery``) or a distribution
    change (``drift``)."""

    schema_version: Literal[2]
    id: AlertId
    kind: Literal["anomaly", "missing_data", "recovery", "drift"]
    flow: str
    key: str
    event_time: datetime
    emit_time: datetime
    values: dict[str, float]
    score: float | None
    probability: Probability | None
    threshold: float | None
    threshold_kind: ThresholdKind | None
    detector: str
    explanation: dict[str, float]
    expected: dict[str, float | None]
    bounds: dict[str, tuple[float, float] | None]
    direction: dict[str, Literal["up", "down"]]
    severity: Literal["info", "warning", "critical"]
    labels: dict[str, str | bool | int | float]
    suppressed: Annotated[int, Field(ge=0)]
    link: str | None
    missing: Silence | None
    drift: DriftFinding | None = None


#: An alert of any schema version this reader knows.
Alert = Annotated[AlertV1 | AlertV2, Field(discriminator="schema_version")]
SCHEMA_VERSIONS = (1, 2)
_ADAPTER: TypeAdapter[AlertV1 | AlertV2] = TypeAdapter(Alert)


class AlertFormatError(ValueError):
    """A message that is not an alert; ``reason`` is one word for it."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"][1:] or err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_alert(value: bytes | str | None) -> AlertV1 | AlertV2:
    """The alert in a message value; :class:`AlertFormatError` when it is not one.

    The reason is ``empty``, ``invalid_json``, ``not_an_object``,
    ``unsupported_version`` or ``invalid_alert`` (the first failing fields
    are in the message).
    """
    if not value:
        raise AlertFormatError("empty", "empty message")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise AlertFormatError("invalid_json", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise AlertFormatError("not_an_object", f"a JSON {type(doc).__name__}, not an object")
    version = doc.get("schema_version")
    if version not in SCHEMA_VERSIONS or isinstance(version, bool):
        known = ", ".join(map(str, SCHEMA_VERSIONS))
        raise AlertFormatError("unsupported_version",
                               f"unsupported schema_version {version!r} (this reader knows {known})")
    try:
        return _ADAPTER.validate_json(value if isinstance(value, bytes) else value.encode())
    except ValidationError as exc:
        raise AlertFormatError("invalid_alert",
                               f"not a v{version} alert: {_first_errors(exc)}") from None
