"""Alert ids and timestamps, shared by every alert record version.

The id depends only on (flow, key, event time in ms, detector or kind), so
replaying the same events after a crash yields the same ids and consumers can
drop duplicates.

>>> alert_id("cpu", "host-1", 1767225600.0, "robust_zscore")
'c520f4fabb5ba32448c4e92e847dab52'
>>> iso_ms(1767225600.25)
'2026-01-01T00:00:00.250Z'
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime


def alert_id(flow: str, key: str, event_time: float, detector: str) -> str:
    """Deterministic 128-bit hex id of an alert."""
    ms = round(event_time * 1000)
    raw = f"{flow}\x1f{key}\x1f{ms}\x1f{detector}".encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def iso_ms(t: float) -> str:
    """Epoch seconds → ISO-8601 UTC with milliseconds and a ``Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
