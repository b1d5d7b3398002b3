"""A flow that names no detector gets the default for its number of value fields."""

from __future__ import annotations

import numpy as np

from pynomaly.engine.pipeline import ScoringPipeline
from pynomaly.spec import FlowSpec

BASE = {"name": "f", "source": {"type": "file", "path": "m.jsonl"}}


def _spec(fields: list[str], detection: dict | None = None) -> FlowSpec:
    data = {**BASE, "record": {"value_fields": fields}}
    if detection is not None:
        data["detection"] = detection
    return FlowSpec.model_validate(data)


def test_several_value_fields_get_metric_deviation() -> None:
    assert _spec(["cpu", "mem", "disk"]).detection.detector.name == "metric_deviation"
    spec = _spec(["cpu", "mem"], {"warmup": 10, "threshold": {"kind": "probability", "level": 0.99}})
    assert spec.detection.detector.name == "metric_deviation"
    assert spec.detection.warmup == 10 and spec.detection.threshold.level == 0.99


def test_one_value_field_keeps_the_pipeline_default() -> None:
    assert _spec(["cpu"]).detection.detector.name == ScoringPipeline().config.detector.name


def test_a_named_detector_is_kept() -> None:
    spec = _spec(["cpu", "mem"], {"detector": {"name": "hst", "params": {"seed": 3}}})
    assert spec.detection.detector.name == "hst"
    assert _spec(["cpu", "mem"], {"detector": "robust_zscore"}).detection.detector.name == "robust_zscore"


def test_the_default_pipeline_alerts_on_a_multi_metric_incident_and_names_its_metrics() -> None:
    spec = _spec(["cpu", "mem", "disk", "net"])
    pipe = ScoringPipeline(spec.detection)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    X[2500:2540, [1, 3]] += 6.0
    res = pipe.process_many(X)
    flagged = np.flatnonzero(res.is_anomaly)
    inside = flagged[(flagged >= 2500) & (flagged < 2540)]
    assert inside.size >= 20
    assert flagged.size - inside.size <= 0.01 * 2960  # false alarms at about 1 - level
    for row in inside:
        assert sorted(np.argsort(-res.explanations[row])[:2].tolist()) == [1, 3]
