"""Typed alerts for services that consume a flow's alerts topic.

>>> from pynomaly.alerts import AlertConsumer, AlertV1, AlertV2, parse_alert
>>> sorted(AlertV2.model_fields)[:4]
['bounds', 'detector', 'direction', 'drift']

See :mod:`pynomaly.alerts.consumer` for the consumer and
:mod:`pynomaly.alerts.models` for the records.
"""

from pynomaly.alerts.consumer import AlertConsumer, AlertError, Received
from pynomaly.alerts.format import format_alert
from pynomaly.alerts.models import (
    SCHEMA_VERSIONS,
    Alert,
    AlertFormatError,
    AlertV1,
    AlertV2,
    Silence,
    parse_alert,
)

__all__ = [
    "SCHEMA_VERSIONS",
    "Alert",
    "AlertConsumer",
    "AlertError",
    "AlertFormatError",
    "AlertV1",
    "AlertV2",
    "Received",
    "Silence",
    "format_alert",
    "parse_alert",
]
