"""One alert as one line for a person reading a terminal.

>>> from pynomaly.alerts.models import parse_alert
>>> a = parse_alert(b'{"schema_version": 1, "id": "c520f4fabb5ba32448c4e92e847dab52",'
...     b' "flow": "cpu", "key": "host-1", "event_time": "2026-01-01T00:00:00.000Z",'
...     b' "emit_time": "2026-01-01T00:00:01.000Z", "values": {"cpu": 0.99, "mem": 3},'
...     b' "score": 7.5, "probability": 0.99951, "threshold": 6.0, "threshold_kind": "static",'
...     b' "detector": "robust_zscore", "explanation": {"cpu": 0.8, "mem": 0.2}}')
>>> format_alert(a)
'ALERT host-1     2026-01-01T00:00:00.000Z  cpu=0.99 mem=3  score=7.5 p=0.99951  [cpu 80%, mem 20%]'
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynomaly.alerts.models import AlertV1, AlertV2

__all__ = ["format_alert", "iso_ms"]


def iso_ms(t: datetime) -> str:
    """``2026-01-01T00:00:00.000Z``: the alert's own time format.

    >>> iso_ms(datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC))
    '2026-01-01T00:00:00.123Z'
    """
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def format_alert(alert: AlertV1 | AlertV2) -> str:
    """``ALERT <key> <event time>  <values>  score=… p=…  [explanation]``; a v2
    alert also shows its severity, and silences read ``MISSING``/``RECOVERED``."""
    head = "ALERT"
    if isinstance(alert, AlertV2):
        if alert.kind == "missing_data":
            head = "MISSING"
        elif alert.kind == "recovery":
            head = "RECOVERED"
    parts = [f"{head} {alert.key:<10} {iso_ms(alert.event_time)}"]
    if isinstance(alert, AlertV2):
        parts[0] += f" {alert.severity}"
    if alert.values:
        parts.append(" ".join(f"{k}={v:g}" for k, v in alert.values.items()))
    scored = []
    if alert.score is not None:
        scored.append(f"score={alert.score:.1f}")
    if alert.probability is not None:
        scored.append(f"p={alert.probability:.5f}")
    if scored:
        parts.append(" ".join(scored))
    if isinstance(alert, AlertV2) and alert.missing is not None:
        parts.append(f"silent {alert.missing.silent_s:g} s (cadence {alert.missing.cadence_s:g} s)")
    if alert.explanation:
        parts.append("[" + ", ".join(f"{k} {v:.0%}" for k, v in alert.explanation.items()) + "]")
    return "  ".join(parts)
