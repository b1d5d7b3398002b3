"""Imputation across gaps on both detect paths: the detector learns one
record per missed cadence step (the value before the gap, or a line to the
value after it); the baseline, the rules and the alerts see only real records."""

from __future__ import annotations

import numpy as np
import pytest

from pynomaly.dataflow.detect import DetectLogic
from pynomaly.dataflow.detect_banked import BankedDetectLogic
from pynomaly.dataflow.records import EventBatch
from pynomaly.spec import FlowSpec


def _logic(banked: bool, policy: str):
    detection = ({"calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": 6.0}}
                 if banked else {})
    spec = FlowSpec.model_validate({
        "name": "gaps", "source": {"type": "file", "path": "x"},
        "record": {"value_fields": ["v"]}, "detection": {**detection, "warmup": 20},
        "alerts": {"missing_data": {"imputation": policy, "max_imputed": 5}}})
    return BankedDetectLogic(spec) if banked else DetectLogic(spec)


def _learned(logic, state) -> tuple[int, float]:  # (the values are checked in imputation.py)
    """Records the detector of key ``k`` learned, and its mean."""
    if isinstance(logic, BankedDetectLogic):
        s = state.keys["k"]
        return int(state.bank.count[s]), float(state.bank.mean[s, 0])
    det = state.keys["k"].pipeline.detector
    return int(det._count), float(det._mean[0])


def _run(banked: bool, policy: str):
    t = np.r_[np.arange(100) * 10.0, 1030.0, 1040.0]  # 3 steps missing before 1030
    v = np.r_[np.full(100, 10.0), 50.0, 50.0].reshape(-1, 1)
    logic = _logic(banked, policy)
    state, _ = logic.process(None, EventBatch(["k"] * 100, t[:100], v[:100], ("v",)))
    state, out = logic.process(state, EventBatch(["k"] * 2, t[100:], v[100:], ("v",)))
    return _learned(logic, state), out


@pytest.mark.parametrize("banked", [False, True])
def test_the_detector_learns_one_record_per_missed_step(banked):
    (n_none, _), out = _run(banked, "none")
    (n_prev, _), _ = _run(banked, "previous")
    (n_line, _), _ = _run(banked, "linear")
    assert (n_none, n_prev, n_line) == (102, 105, 105)
    assert not [a for a in out.alerts if a["kind"] != "anomaly"]  # 40 s: not missing


def test_gaps_longer_than_max_imputed_are_capped():
    t = np.r_[np.arange(50) * 10.0, 2000.0]
    v = np.full((51, 1), 10.0)
    logic = _logic(False, "previous")
    state, _ = logic.process(None, EventBatch(["k"] * 51, t, v, ("v",)))
    assert _learned(logic, state)[0] == 51 + 5
