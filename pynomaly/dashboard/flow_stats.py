"""Flow stats from several publishers, combined into one overview.

Each Bytewax worker runs its own publisher and reports its own ``stats`` events.
The overview adds rates and counts over the publishers heard from recently, takes
the largest event-time lag, weights alert rates by event rates, and calls a sink
failing when any worker reports it failing.

Examples
--------
>>> board = FlowStatsBoard(stale_after_s=10.0)
>>> board.update("w0", {"events_per_s": 100.0, "lag_s": 0.5, "alert_rate": 0.01,
...                     "active_keys": 10.0, "drift_events": 1.0, "sinks": {"kafka": "ok"}}, now=0.0)
>>> board.update("w1", {"events_per_s": 300.0, "lag_s": 2.0, "alert_rate": 0.03,
...                     "active_keys": 30.0, "drift_events": 0.0, "sinks": {"kafka": "failing"}}, now=1.0)
>>> c = board.combined(now=2.0)
>>> c["events_per_s"], c["lag_s"], round(c["alert_rate"], 4), c["active_keys"], c["sinks"], c["sources"]
(400.0, 2.0, 0.025, 40.0, {'kafka': 'failing'}, 2)
>>> board.combined(now=10.5)["sources"]  # w0 went quiet
1
"""

from __future__ import annotations

from typing import Any


class FlowStatsBoard:
    """The latest stats event of each publisher, and their combination."""

    def __init__(self, stale_after_s: float = 10.0) -> None:
        self.stale_after_s = stale_after_s
        self._latest: dict[str, tuple[float, dict[str, Any]]] = {}

    def update(self, source: str, stats: dict[str, Any], now: float) -> None:
        """Record ``source``'s latest stats event (already normalized)."""
        self._latest[source] = (now, stats)

    def forget(self, source: str) -> None:
        """Drop a publisher that disconnected."""
        self._latest.pop(source, None)

    def combined(self, now: float) -> dict[str, Any] | None:
        """The overview of all fresh publishers; the newest one when all are stale;
        None before any stats arrived."""
        if not self._latest:
            return None
        fresh = [s for t, s in self._latest.values() if now - t <= self.stale_after_s]
        stale = not fresh
        if stale:
            fresh = [max(self._latest.values(), key=lambda item: item[0])[1]]

        def total(name: str) -> float | None:
            values = [s[name] for s in fresh if s.get(name) is not None]
            return float(sum(values)) if values else None

        lags = [s["lag_s"] for s in fresh if s.get("lag_s") is not None]
        rates = [(s["alert_rate"], s.get("events_per_s") or 0.0) for s in fresh
                 if s.get("alert_rate") is not None]
        weight = sum(w for _, w in rates)
        alert_rate = (sum(r * w for r, w in rates) / weight if weight > 0 else
                      sum(r for r, _ in rates) / len(rates) if rates else None)
        sinks: dict[str, str] = {}
        for s in fresh:
            for name, state in (s.get("sinks") or {}).items():
                sinks[name] = "failing" if state == "failing" or sinks.get(name) == "failing" else "ok"
        return {"events_per_s": total("events_per_s"), "lag_s": max(lags) if lags else None,
                "alert_rate": alert_rate, "active_keys": total("active_keys"),
                "drift_events": total("drift_events"), "sinks": sinks,
                "sources": len(fresh) if not stale else 0, "stale": stale}
