"""The typed alert models accept and reject what the published JSON Schemas do."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import jsonschema
import orjson
import pytest

from pynomaly.alerting.alert_v2 import anomaly_alert, missing_data_alert, recovery_record
from pynomaly.alerts import AlertFormatError, AlertV1, AlertV2, parse_alert
from pynomaly.dataflow.alert_record import make_alert


def schema(version: int) -> dict[str, Any]:
    text = resources.files("pynomaly").joinpath(f"schemas/alert.v{version}.json").read_text()
    return json.loads(text)


def v1() -> dict[str, Any]:
    return make_alert("cpu", "host-1", 1767225600.0, {"cpu": 0.99, "mem": 3.0}, 7.5, 0.9995, 6.0,
                      "static", "robust_zscore", {"cpu": 1.0}, emit_time=1767225601.0)


def v2() -> dict[str, Any]:
    return anomaly_alert("cpu", "host-1", 1767225600.0, {"cpu": 95.0}, 31.0, 0.9999, 0.995,
                         "probability", "robust_zscore", {"cpu": 1.0}, expected={"cpu": 40.0},
                         bounds={"cpu": [35.0, 45.0]}, severity="critical",
                         labels={"region": "eu", "rack": 7, "canary": True}, suppressed=2,
                         emit_time=1767225601.0)


def v2_silences() -> list[dict[str, Any]]:
    return [missing_data_alert("cpu", "host-2", 1767225650.0, "robust_zscore",
                               last_seen=1767225600.0, cadence_s=10.0, labels={},
                               emit_time=1767225651.0),
            recovery_record("cpu", "host-2", 1767225700.0, "robust_zscore",
                            last_seen=1767225600.0, cadence_s=10.0, labels={"region": "eu"},
                            emit_time=1767225701.0)]


def schema_accepts(doc: Any) -> bool:
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    validator = jsonschema.Draft202012Validator(
        schema(version if version in (1, 2) else 1),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(doc)


def model_accepts(doc: Any) -> bool:
    try:
        parse_alert(orjson.dumps(doc))
    except AlertFormatError:
        return False
    return True


@pytest.mark.parametrize("model,version", [(AlertV1, 1), (AlertV2, 2)])
def test_fields_and_required_fields_match_the_schema(model, version):
    s = schema(version)
    assert set(model.model_fields) == set(s["properties"])
    assert {n for n, f in model.model_fields.items() if f.is_required()} == set(s["required"])


def test_what_the_flow_publishes_is_read():
    for doc in [v1(), v2(), *v2_silences()]:
        assert schema_accepts(doc) and model_accepts(doc), doc
    a = parse_alert(orjson.dumps(v2()))
    assert isinstance(a, AlertV2) and a.bounds == {"cpu": (35.0, 45.0)}
    assert a.labels == {"region": "eu", "rack": 7, "canary": True}
    assert isinstance(parse_alert(orjson.dumps(v1())), AlertV1)


def _mutations() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []

    def mutate(name: str, base: dict[str, Any], path: list[Any], value: Any = ...) -> None:
        doc = copy.deepcopy(base)
        target = doc
        for p in path[:-1]:
            target = target[p]
        if value is ...:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        out.append((name, doc))

    for version, base in ((1, v1()), (2, v2())):
        for field in schema(version)["required"]:
            mutate(f"v{version} without {field}", base, [field])
        mutate(f"v{version} extra field", base, ["extra"], 1)
        mutate(f"v{version} bad id", base, ["id"], "XYZ")
        mutate(f"v{version} short id", base, ["id"], "abc")
        mutate(f"v{version} score as text", base, ["score"], "7.5")
        mutate(f"v{version} probability above 1", base, ["probability"], 1.5)
        mutate(f"v{version} negative probability", base, ["probability"], -0.1)
        mutate(f"v{version} unknown threshold kind", base, ["threshold_kind"], "fuzzy")
        mutate(f"v{version} value as text", base, ["values", "cpu"], "high")
        mutate(f"v{version} value as bool", base, ["values", "cpu"], True)
        mutate(f"v{version} key as number", base, ["key"], 7)
        mutate(f"v{version} event time not a date", base, ["event_time"], "yesterday")
        mutate(f"v{version} event time as number", base, ["event_time"], 1767225600)
        mutate(f"v{version} explanation as list", base, ["explanation"], [1.0])
    mutate("v2 unknown kind", v2(), ["kind"], "other")
    mutate("v2 unknown severity", v2(), ["severity"], "fatal")
    mutate("v2 band of three", v2(), ["bounds", "cpu"], [1.0, 2.0, 3.0])
    mutate("v2 band of text", v2(), ["bounds", "cpu"], ["a", "b"])
    mutate("v2 sideways direction", v2(), ["direction", "cpu"], "left")
    mutate("v2 negative suppressed", v2(), ["suppressed"], -1)
    mutate("v2 fractional suppressed", v2(), ["suppressed"], 1.5)
    mutate("v2 label as list", v2(), ["labels", "region"], ["eu"])
    mutate("v2 label as null", v2(), ["labels", "region"], None)
    mutate("v2 missing with extra", v2_silences()[0], ["missing", "extra"], 1)
    mutate("v2 missing without cadence", v2_silences()[0], ["missing", "cadence_s"])
    mutate("v1 with v2 fields", {**v1(), "kind": "anomaly"}, ["severity"], "info")
    return out


@pytest.mark.parametrize("name,doc", _mutations(), ids=[n for n, _ in _mutations()])
def test_models_reject_what_the_schema_rejects(name, doc):
    # "format": "date-time" is only an annotation unless a validator opts in
    # (and has rfc3339-validator); the models always check it
    if "not a date" not in name:
        assert not schema_accepts(doc), name
    assert not model_accepts(doc), name


@pytest.mark.parametrize("value,reason", [
    (b"", "empty"), (None, "empty"), (b"{oops", "invalid_json"), (b"[1, 2]", "not_an_object"),
    (b'{"schema_version": 3}', "unsupported_version"),
    (b'{"schema_version": true}', "unsupported_version"),
    (b'{"schema_version": 1, "id": "x"}', "invalid_alert"),
])
def test_bad_messages_have_a_reason(value, reason):
    with pytest.raises(AlertFormatError) as info:
        parse_alert(value)
    assert info.value.reason == reason
