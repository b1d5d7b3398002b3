"""Per-key bounded history: a ring buffer of points plus alert and drift markers.

Columns are numpy arrays (event time as float64 epoch ms, everything else
float32), so 10,000 keys with a few hundred points each stay within tens of MB.
Missing numbers are NaN in the buffer and ``null`` once encoded as JSON.

Examples
--------
>>> s = KeySeries("sensor-1", capacity=3)
>>> for i in range(5):
...     s.append(float(i), {"value": i * 10.0}, score=float(i), probability=None, threshold=2.5)
>>> s.total, len(s)
(5, 3)
>>> s.columns()["t"].tolist(), s.columns()["v"]["value"].tolist()
([2.0, 3.0, 4.0], [20.0, 30.0, 40.0])
>>> s.columns(since_total=4)["t"].tolist()
[4.0]
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

MAX_FIELDS = 4
"""Fields of a multivariate value kept as chart series (the rest only in ``last_value``)."""


class KeySeries:
    """The recent points of one key.

    Parameters
    ----------
    key
        The entity key.
    capacity
        Points kept; older points are overwritten.
    markers
        Alert and drift markers kept.
    """

    __slots__ = (
        "_data",
        "_fields",
        "_initial",
        "_ts",
        "alert_count",
        "alerts",
        "capacity",
        "drifts",
        "key",
        "last_probability",
        "last_score",
        "last_threshold",
        "last_ts",
        "last_value",
        "threshold_on",
        "total",
    )

    def __init__(self, key: str, capacity: int = 240, markers: int = 50) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.key = key
        self.capacity = capacity
        self.total = 0
        self._initial = min(capacity, 16)
        self._ts = np.empty(0, dtype=np.float64)
        self._data = np.empty((0, 3), dtype=np.float32)
        self._fields: list[str] = []
        self.alerts: deque[dict[str, Any]] = deque(maxlen=markers)
        self.drifts: deque[dict[str, Any]] = deque(maxlen=markers)
        self.alert_count = 0
        self.last_ts = float("nan")
        self.last_score: float | None = None
        self.last_probability: float | None = None
        self.last_threshold: float | None = None
        self.last_value: dict[str, float | None] = {}
        self.threshold_on = "score"

    def __len__(self) -> int:
        return min(self.total, self.capacity)

    @property
    def fields(self) -> list[str]:
        """Names of the value fields charted for this key."""
        return list(self._fields)

    def append(
        self,
        ts: float,
        value: dict[str, float | None],
        score: float | None,
        probability: float | None,
        threshold: float | None,
        threshold_on: str = "score",
    ) -> None:
        """Add one point (already normalized by :func:`pynomaly.dashboard.protocol.normalize`)."""
        if not self._fields:
            self._fields = list(value)[:MAX_FIELDS] or ["value"]
        width = 3 + len(self._fields)
        slot = self.total % self.capacity
        if slot >= len(self._ts):
            self._grow(width)
        self._ts[slot] = ts
        row = self._data[slot]
        row[0] = np.nan if score is None else score
        row[1] = np.nan if probability is None else probability
        row[2] = np.nan if threshold is None else threshold
        for j, name in enumerate(self._fields, start=3):
            v = value.get(name)
            row[j] = np.nan if v is None else v
        self.total += 1
        self.last_ts = ts
        self.last_score = score
        self.last_probability = probability
        self.last_threshold = threshold
        self.last_value = value
        self.threshold_on = threshold_on

    def _grow(self, width: int) -> None:
        size = min(self.capacity, max(self._initial, 2 * len(self._ts)))
        ts = np.full(size, np.nan, dtype=np.float64)
        data = np.full((size, width), np.nan, dtype=np.float32)
        if len(self._ts):
            ts[: len(self._ts)] = self._ts
            data[: len(self._data)] = self._data
        self._ts, self._data = ts, data

    def add_alert(self, alert: dict[str, Any]) -> None:
        """Keep an alert marker (event time, score, id) for the chart."""
        self.alert_count += 1
        self.alerts.append(
            {"t": alert["event_time"], "score": alert.get("score"), "id": alert.get("id")}
        )

    def add_drift(self, drift: dict[str, Any]) -> None:
        """Keep a drift marker for the chart."""
        self.drifts.append({"t": drift["ts"], "monitor": drift.get("monitor")})

    def columns(self, since_total: int = 0) -> dict[str, Any]:
        """Points appended after the first ``since_total`` ones, oldest first.

        Returns ``{"t", "s", "p", "h", "v": {field: array}, "missed"}`` where
        ``s``/``p``/``h`` are score, probability and threshold and ``missed`` is
        how many of the requested points were already overwritten.
        """
        n_new = self.total - since_total
        kept = len(self)
        n = max(0, min(n_new, kept))
        missed = max(0, n_new - kept)
        idx = np.arange(self.total - n, self.total, dtype=np.int64) % self.capacity
        width = 3 + len(self._fields)
        rows = self._data[idx] if len(self._data) else np.empty((0, width), dtype=np.float32)
        data = np.ascontiguousarray(rows.T)  # one contiguous row per column
        return {
            "t": self._ts[idx] if len(self._ts) else np.empty(0),
            "s": data[0],
            "p": data[1],
            "h": data[2],
            "v": {name: data[3 + j] for j, name in enumerate(self._fields)},
            "missed": missed,
        }

    def summary(self) -> dict[str, Any]:
        """Latest state of the key, for tables and search results."""
        return {
            "key": self.key,
            "ts": self.last_ts,
            "score": self.last_score,
            "probability": self.last_probability,
            "threshold": self.last_threshold,
            "threshold_on": self.threshold_on,
            "alerts": self.alert_count,
            "points": self.total,
        }


def decimate(columns: dict[str, Any], max_points: int) -> dict[str, Any]:
    """Thin ``columns`` to at most about ``max_points`` rows, keeping the extremes.

    The rows are cut into buckets; from each bucket the rows holding the lowest
    and highest primary value and the highest score are kept (in time order),
    so spikes survive decimation.

    >>> t = np.arange(1000.0)
    >>> v = np.zeros(1000, dtype=np.float32); v[437] = 9.0
    >>> cols = {"t": t, "s": v, "p": v, "h": v, "v": {"value": v}, "missed": 0}
    >>> out = decimate(cols, 60)
    >>> len(out["t"]) <= 60, 437.0 in out["t"].tolist(), out["decimated_from"]
    (True, True, 1000)
    """
    n = len(columns["t"])
    if n <= max_points or max_points < 3:
        return columns
    n_buckets = max(1, max_points // 4)
    primary = next(iter(columns["v"].values()), columns["s"])
    score = columns["s"]
    keep: list[int] = []
    for bucket in np.array_split(np.arange(n), n_buckets):
        pv = primary[bucket]
        sv = score[bucket]
        picks = {int(bucket[0])}
        if not np.all(np.isnan(pv)):
            picks.add(int(bucket[np.nanargmin(pv)]))
            picks.add(int(bucket[np.nanargmax(pv)]))
        if not np.all(np.isnan(sv)):
            picks.add(int(bucket[np.nanargmax(sv)]))
        keep.extend(sorted(picks))
    idx = np.asarray(sorted(set(keep)), dtype=np.int64)
    return {
        "t": columns["t"][idx],
        "s": columns["s"][idx],
        "p": columns["p"][idx],
        "h": columns["h"][idx],
        "v": {k: a[idx] for k, a in columns["v"].items()},
        "missed": columns["missed"],
        "decimated_from": n,
    }
