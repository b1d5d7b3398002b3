"""Verdicts: false positives raise a decaying floor, other verdicts clear it, all audited."""

from __future__ import annotations

import pickle

import pytest
from pydantic import ValidationError

from pynomaly.incidents.feedback import Feedback, FeedbackConfig, Verdict

DAY = 86_400.0


def a(i: str, key: str, t: float, score: float) -> dict:
    return {"id": i, "key": key, "event_time": t, "score": score}


def test_false_positive_floor_decays_and_keeps_larger_events() -> None:
    fb = Feedback(FeedbackConfig(half_life_s=DAY, margin=1.5))
    fb.remember(a("x", "k1", 0, 6.0))
    rec = fb.apply(Verdict(alert_id="x", verdict="false_positive", by="ana", note="job"), at=10)
    record = rec.record()
    assert len(record.pop("id")) == 32 and record == {
        "type": "adaptation", "key": "x", "verdict": "false_positive", "target": "x",
        "keys": ["k1"], "action": "floor", "floor": 9.0, "at": 10, "by": "ana", "note": "job"}
    assert not fb.allows(a("y", "k1", 3600, 6.5))          # same magnitude: held back
    assert fb.allows(a("z", "k1", 3600, 12.0))             # larger: still alerts
    assert fb.allows(a("w", "k2", 3600, 6.5))              # other keys untouched
    assert fb.allows(a("v", "k1", 10 + DAY, 6.5))          # one half-life on: floor 4.5
    # after log2(1.5) half-lives the floor is below the flagged magnitude again
    assert fb.floor_for("k1", 10 + DAY * 0.5) > 6.0 > fb.floor_for("k1", 10 + DAY * 0.7)
    assert fb.held_back == 1


def test_pattern_scope_and_clearing_verdicts() -> None:
    fb = Feedback()
    fb.remember(a("x", "batch-01", 0, 5.0))
    fb.apply(Verdict(alert_id="x", verdict="false_positive", scope="pattern",
                     pattern="batch-*"), at=0)
    assert not fb.allows(a("y", "batch-77", 60, 5.0))
    assert fb.allows(a("y", "api-1", 60, 5.0))
    fb.remember(a("t", "batch-01", 100, 5.0))
    rec = fb.apply(Verdict(alert_id="t", verdict="expected_change", scope="pattern",
                           pattern="batch-*"), at=100)
    assert rec.action == "rebaseline" and rec.keys == ("batch-01",)
    assert fb.floor_for("batch-77", 200) == 0.0
    unknown = fb.apply(Verdict(alert_id="nope", verdict="false_positive"), at=300)
    assert unknown.action == "none" and len(fb.log) == 3


def test_incident_verdict_covers_its_members_and_state_pickles() -> None:
    fb = Feedback()
    for i, k in enumerate(["a", "b"]):
        fb.remember(a(f"m{i}", k, 0, 4.0 + i))
    fb.remember_incident("inc", ["m0", "m1"])
    rec = fb.apply(Verdict(incident_id="inc", verdict="false_positive"), at=0)
    assert rec.keys == ("a", "b") and rec.floor == pytest.approx(1.5 * 5.0)
    twin = pickle.loads(pickle.dumps(fb))
    assert twin.floor_for("a", 50) == fb.floor_for("a", 50) > 0


def test_verdict_validation() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Verdict(verdict="false_positive")
    with pytest.raises(ValidationError, match="needs a pattern"):
        Verdict(alert_id="x", verdict="false_positive", scope="pattern")
    with pytest.raises(ValidationError):
        Verdict(alert_id="x", verdict="maybe")
