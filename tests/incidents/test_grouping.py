"""Incidents: grouping by labels and time, root cause, resolve, restart-stable ids."""

from __future__ import annotations

import pickle

from pynomaly.incidents.grouping import GroupingConfig, IncidentGrouper, alert_magnitude


def alert(i: int, key: str, t: float, service: str, score: float = 8.0) -> dict:
    return {"id": f"a{i}", "key": key, "event_time": t, "score": score, "threshold": 4.0,
            "labels": {"service": service, "region": "eu"}, "explanation": {"latency_ms": 1.0}}


STREAM = [alert(0, "api-1", 100, "api", 6), alert(1, "db-7", 110, "db", 30),
          alert(2, "api-2", 130, "api", 12), alert(3, "api-1", 200, "api", 9),
          alert(4, "api-3", 2000, "api")]


def run(grouper: IncidentGrouper, alerts: list[dict]) -> list[dict]:
    return [e.record() for a in alerts for e in grouper.add(a)]


def test_alerts_of_one_group_within_the_gap_share_an_incident() -> None:
    g = IncidentGrouper(GroupingConfig(group_by=("service",), gap_s=300), flow="f")
    events = run(g, STREAM)
    assert [(e["event"], e["group"]["service"]) for e in events] == [
        ("open", "api"), ("open", "db"), ("update", "api"), ("update", "api"),
        ("resolve", "api"), ("open", "api")]  # api-3 comes 1800 s after the last api alert
    first_api = events[4]
    assert first_api["members"] == ["a0", "a2", "a3"] and first_api["n_alerts"] == 3
    # api-1 moved first; api-2 later but further
    assert [r["key"] for r in first_api["root_cause"]] == ["api-1", "api-2"]
    assert first_api["root_cause"][0]["magnitude"] == 9 / 4
    assert first_api["summary"] == "3 alerts on 2 keys (service=api); first api-1.latency_ms"


def test_watermark_resolves_and_ids_survive_a_restart() -> None:
    whole = IncidentGrouper(GroupingConfig(gap_s=300, resolve_after_s=600), flow="f")
    expected = run(whole, STREAM) + [e.record() for e in whole.advance(5000)]
    first = IncidentGrouper(GroupingConfig(gap_s=300, resolve_after_s=600), flow="f")
    got = run(first, STREAM[:2])
    second = pickle.loads(pickle.dumps(first))  # the recovery snapshot
    got += run(second, STREAM[2:]) + [e.record() for e in second.advance(5000)]
    assert got == expected
    assert {e["event"] for e in got} == {"open", "update", "resolve"}
    assert not second.open_incidents()


def test_magnitude_prefers_bands_then_probability_then_score() -> None:
    v2 = {"values": {"cpu": 0.9}, "expected": {"cpu": 0.5}, "bounds": {"cpu": [0.4, 0.6]},
          "probability": 0.999, "score": 3.0, "threshold": 1.0}
    assert abs(alert_magnitude(v2) - 4.0) < 1e-9
    assert abs(alert_magnitude({**v2, "expected": None}) - 3.0) < 1e-9
    assert alert_magnitude({"score": 6.0, "threshold": 2.0, "probability": None}) == 3.0


def test_unlabelled_alerts_group_by_co_movement() -> None:
    g = IncidentGrouper(GroupingConfig(group_by=("service",), gap_s=120), flow="f")

    def moved(i: int, key: str, t: float, field: str, way: str) -> dict:
        return {"id": f"m{i}", "key": key, "event_time": t, "score": 5.0, "threshold": 1.0,
                "explanation": {field: 1.0}, "direction": {field: way}, "labels": {}}

    events = [e.record() for a in (moved(0, "h1", 0, "latency_ms", "up"),
                                    moved(1, "h2", 30, "latency_ms", "up"),
                                    moved(2, "h3", 40, "latency_ms", "down"),
                                    moved(3, "h4", 50, "cpu", "up")) for e in g.add(a)]
    opened = [e["group"] for e in events if e["event"] == "open"]
    assert opened == [{"field": "latency_ms", "direction": "up"},
                      {"field": "latency_ms", "direction": "down"},
                      {"field": "cpu", "direction": "up"}]
    up = [e for e in events if e["group"] == {"field": "latency_ms", "direction": "up"}][-1]
    assert up["keys"] == ["h1", "h2"]
    off = IncidentGrouper(GroupingConfig(group_by=("service",), co_movement=False), flow="f")
    assert len({off.group_of(moved(i, "h", 0, f, "up")) for i, f in enumerate("ab")}) == 1
