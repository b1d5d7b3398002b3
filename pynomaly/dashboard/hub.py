"""The hub: live state fed by ingest batches, and the fan-out of frames to viewers.

Ingest only updates in-memory state (per-key ring buffers, the alert and drift
feeds, counters); it never touches a viewer, so a slow browser cannot slow the
flow. Every ``tick_s`` the hub builds one frame per viewer from that state:
the new points of the viewer's selected keys (decimated above
``max_points_per_frame``), new alerts and drift events, the overview and, once
a second, the keys ranked most anomalous.

Examples
--------
>>> from pynomaly.dashboard.config import DashboardSettings
>>> from pynomaly.dashboard.protocol import Batch
>>> hub = Hub(DashboardSettings(ingest_token="i" * 16, view_token="v" * 16))
>>> hub.ingest(Batch(seq=1, sent_at=None, events=[
...     {"type": "point", "key": "a", "ts": 1000, "value": 1.0, "score": 0.2},
...     {"type": "alert", "id": "x", "key": "a", "event_time": 1000, "score": 9.0,
...      "explanation": {"cpu": 0.8}},
...     {"type": "point", "key": "a", "ts": "bad"}]))
2
>>> hub.counters["points"], hub.counters["alerts"], hub.counters["rejected"]
(1, 1, 1)
>>> [k["key"] for k in hub.search("a")]
['a']
"""

from __future__ import annotations

import heapq
import math
import time
from collections import OrderedDict, deque
from typing import Any

import numpy as np
import orjson

from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.flow_stats import FlowStatsBoard
from pynomaly.dashboard.protocol import Batch, normalize
from pynomaly.dashboard.series import KeySeries, decimate
from pynomaly.dashboard.viewer import Viewer

MAX_ALERTS_PER_FRAME = 50
#: incidents kept (the latest record of each)
MAX_INCIDENTS = 200
TOP_KEYS = 12
ACTIVE_WINDOW_S = 60.0
_ENCODE = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def encode(message: dict[str, Any]) -> bytes:
    """JSON-encode a message to a viewer (numpy arrays as lists, NaN as null)."""
    return orjson.dumps(message, option=_ENCODE, default=_to_list)


def _to_list(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _rank(series: KeySeries) -> tuple[float, float]:
    p = series.last_probability
    return (p if p is not None else -math.inf, series.last_score or 0.0)


class Hub:
    """Live dashboard state and viewer fan-out (single event loop, no locks)."""

    def __init__(self, settings: DashboardSettings, max_keys: int = 100_000) -> None:
        self.settings = settings
        self.max_keys = max_keys
        self.series: dict[str, KeySeries] = {}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=settings.alert_history)
        self.alert_seq = 0
        self.drifts: deque[dict[str, Any]] = deque(maxlen=200)
        self.drift_seq = 0
        #: maintenance windows in force, as each publisher last reported them
        self.windows_by_source: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        #: the latest record of each recent incident, newest last
        self.incidents: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.incident_seq = 0
        self.stats_board = FlowStatsBoard()
        self.viewers: set[Viewer] = set()
        self.dirty: set[str] = set()
        self.counters: dict[str, int] = dict.fromkeys(
            ("batches", "events", "points", "alerts", "drift", "stats", "incidents", "rejected",
             "protocol_errors", "seq_gaps", "publisher_dropped", "keys_refused", "frames",
             "frames_skipped"), 0)
        self.overview_history: deque[dict[str, Any]] = deque(maxlen=300)
        self._touched: set[str] = set()
        self._touched_windows: deque[set[str]] = deque(maxlen=int(ACTIVE_WINDOW_S // 10))
        self._window_started = time.monotonic()
        self._rate_base = (time.monotonic(), 0, 0)
        self._rates = {"points_per_s": 0.0, "alerts_per_s": 0.0}
        self._active = 0
        self._top: list[dict[str, Any]] = []
        self._top_at = 0.0
        self._overview: dict[str, Any] = {}

    # ------------------------------------------------------------------ ingest
    @property
    def flow_stats(self) -> dict[str, Any] | None:
        """The flow's stats combined over its publishers (None before the first)."""
        return self.stats_board.combined(time.time())

    def ingest(self, batch: Batch, source: str = "") -> int:
        """Apply a decoded batch from publisher ``source``; returns how many of its
        events were used."""
        self.counters["batches"] += 1
        self.counters["rejected"] += batch.rejected
        used = 0
        series = self.series
        touched = self._touched
        dirty = self.dirty
        for raw in batch.events:
            try:
                event = normalize(raw)
            except (ValueError, TypeError, KeyError, OverflowError):
                self.counters["rejected"] += 1
                continue
            kind = event["type"]
            if kind == "point":
                key = event["key"]
                s = series.get(key)
                if s is None and (s := self._new_series(key)) is None:
                    continue
                s.append(event["ts"], event["value"], event["score"], event["probability"],
                         event["threshold"], event["threshold_on"])
                touched.add(key)
                dirty.add(key)
                self.counters["points"] += 1
            elif kind == "alert":
                self.alert_seq += 1
                event["seq"] = self.alert_seq
                self.alerts.append(event)
                s = self._series_for(event["key"])
                if s is not None:
                    s.add_alert(event)
                self.counters["alerts"] += 1
            elif kind == "windows":
                self.windows_by_source[source] = (time.time(), event["windows"])
            elif kind == "incident":
                self.incident_seq += 1
                event["seq"] = self.incident_seq
                self.incidents.pop(event["id"], None)
                self.incidents[event["id"]] = event  # the latest record, newest last
                while len(self.incidents) > MAX_INCIDENTS:
                    self.incidents.popitem(last=False)
                self.counters["incidents"] += 1
            elif kind == "drift":
                self.drift_seq += 1
                event["seq"] = self.drift_seq
                self.drifts.append(event)
                if event["key"] is not None:
                    s = self._series_for(event["key"])
                    if s is not None:
                        s.add_drift(event)
                self.counters["drift"] += 1
            else:
                self.stats_board.update(source, event, time.time())
                self.counters["stats"] += 1
            used += 1
        self.counters["events"] += used
        return used

    def _series_for(self, key: str) -> KeySeries | None:
        s = self.series.get(key)
        return s if s is not None else self._new_series(key)

    def _new_series(self, key: str) -> KeySeries | None:
        if len(self.series) >= self.max_keys:
            self.counters["keys_refused"] += 1
            return None
        s = KeySeries(key, capacity=self.settings.history_points)
        self.series[key] = s
        return s

    # ---------------------------------------------------------------- queries
    def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Keys containing ``query`` (case-insensitive), most anomalous first."""
        q = query.strip().lower()
        hits = [s for k, s in self.series.items() if q in k.lower()] if q else list(self.series.values())
        return [s.summary() for s in heapq.nlargest(limit, hits, key=_rank)]

    def history(self, key: str) -> dict[str, Any] | None:
        """Everything kept for ``key``: its points, alert and drift markers."""
        s = self.series.get(key)
        if s is None:
            return None
        return {"type": "history", "key": key, "fields": s.fields, "total": s.total,
                "threshold_on": s.threshold_on,
                "points": decimate(s.columns(), self.settings.history_points),
                "alerts": list(s.alerts), "drift": list(s.drifts), "summary": s.summary()}

    def active_keys(self) -> int:
        """Keys with a point in the last minute (wall clock)."""
        return len(set().union(self._touched, *self._touched_windows))

    def overview(self) -> dict[str, Any]:
        """The overview panel: the flow's own stats plus what the dashboard measures."""
        return self._overview

    def _refresh_overview(self, now: float) -> None:
        mono = time.monotonic()
        t0, points0, alerts0 = self._rate_base
        if mono - t0 >= 1.0:
            dt = mono - t0
            self._rates = {
                "points_per_s": (self.counters["points"] - points0) / dt,
                "alerts_per_s": (self.counters["alerts"] - alerts0) / dt,
            }
            self._rate_base = (mono, self.counters["points"], self.counters["alerts"])
            self._active = self.active_keys()  # a union of sets: once a second is enough
        if mono - self._window_started >= 10.0:
            self._touched_windows.append(self._touched)
            self._touched = set()
            self._window_started = mono
        flow = self.stats_board.combined(now / 1000.0) or {"stale": True}
        self._overview = {
            "t": now,
            "events_per_s": flow.get("events_per_s"),
            "lag_s": flow.get("lag_s"),
            "alert_rate": flow.get("alert_rate"),
            "active_keys": flow.get("active_keys"),
            "drift_events": flow.get("drift_events"),
            "sinks": flow.get("sinks", {}),
            "flow_stats_stale": flow["stale"],
            "flow_publishers": flow.get("sources", 0),
            "ingest_points_per_s": round(self._rates["points_per_s"], 1),
            "ingest_alerts_per_s": round(self._rates["alerts_per_s"], 2),
            "keys": len(self.series),
            "keys_active": self._active,
            "alerts_total": self.counters["alerts"],
            "drift_total": self.counters["drift"],
            "rejected": self.counters["rejected"],
            "seq_gaps": self.counters["seq_gaps"],
            "publisher_dropped": self.counters["publisher_dropped"],
            "viewers": len(self.viewers),
            "maintenance": self.windows_in_force(),
        }

    def windows_in_force(self, max_age_s: float = 60.0) -> list[dict[str, Any]]:
        """The maintenance windows the flow's publishers reported in force
        (reports older than ``max_age_s`` are dropped), one per name."""
        now = time.time()
        seen: dict[str, dict[str, Any]] = {}
        for at, windows in self.windows_by_source.values():
            if now - at <= max_age_s:
                for w in windows:
                    seen.setdefault(w["name"], w)
        return [seen[n] for n in sorted(seen)]

    # ---------------------------------------------------------------- fan-out
    def tick(self, now: float | None = None) -> None:
        """Build and offer one frame to every viewer that is not paused."""
        now = time.time() * 1000.0 if now is None else now
        self._refresh_overview(now)
        include_top = now - self._top_at >= 1000.0
        if include_top:
            self._top = [s.summary() for s in heapq.nlargest(TOP_KEYS, self.series.values(), key=_rank)]
            self._top_at = now
            self.overview_history.append(self._overview)
        for viewer in list(self.viewers):
            if viewer.paused:
                continue
            if viewer.outbox_full():
                viewer.frames_skipped += 1
                self.counters["frames_skipped"] += 1
                continue
            viewer.offer_frame(encode(self.frame_for(viewer, now, include_top)))
            self.counters["frames"] += 1

    def frame_for(self, viewer: Viewer, now: float, include_top: bool) -> dict[str, Any]:
        """The frame for ``viewer``; advances its cursors."""
        points: dict[str, Any] = {}
        for key, sent in viewer.selected.items():
            s = self.series.get(key)
            if s is None or s.total == sent:
                continue
            cols = s.columns(since_total=sent)
            viewer.points_missed += cols["missed"]
            points[key] = decimate(cols, self.settings.max_points_per_frame)
            points[key]["threshold_on"] = s.threshold_on
            viewer.selected[key] = s.total
        frame: dict[str, Any] = {"type": "frame", "now": now, "points": points,
                                 "overview": self._overview}
        if self.alert_seq > viewer.alert_cursor:
            new = self.alert_seq - viewer.alert_cursor
            take = min(new, MAX_ALERTS_PER_FRAME, len(self.alerts))
            frame["alerts"] = list(self.alerts)[-take:] if take else []
            viewer.alerts_skipped += new - take
            viewer.alert_cursor = self.alert_seq
        if self.incident_seq > viewer.incident_cursor:
            frame["incidents"] = [i for i in self.incidents.values()
                                  if i["seq"] > viewer.incident_cursor]
            viewer.incident_cursor = self.incident_seq
        if self.drift_seq > viewer.drift_cursor:
            new = self.drift_seq - viewer.drift_cursor
            frame["drift"] = list(self.drifts)[-min(new, len(self.drifts)):]
            viewer.drift_cursor = self.drift_seq
        if include_top:
            frame["top"] = self._top
            frame["viewer"] = viewer.counters()
        return frame

    def attach(self, viewer: Viewer) -> dict[str, Any]:
        """Register a viewer; returns its welcome message (recent alerts, drift, overview)."""
        viewer.alert_cursor = self.alert_seq
        viewer.drift_cursor = self.drift_seq
        viewer.incident_cursor = self.incident_seq
        self.viewers.add(viewer)
        if not self._overview:
            self._refresh_overview(time.time() * 1000.0)
        return {"type": "welcome", "viewer": viewer.id, "alerts": list(self.alerts)[-100:],
                "drift": list(self.drifts)[-50:], "overview": self._overview,
                "incidents": list(self.incidents.values())[-50:],
                "verdicts": bool(self.settings.verdicts_url),
                "overview_history": list(self.overview_history)[-120:],
                "top": self._top, "keys": len(self.series),
                "limits": {"max_selected_keys": self.settings.max_selected_keys,
                           "history_points": self.settings.history_points}}

    def detach(self, viewer: Viewer) -> None:
        """Forget a viewer."""
        self.viewers.discard(viewer)
