from pathlib import Path

import pytest

from pynomaly.spec import SpecError, load_spec, parse_spec

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.mark.parametrize("name", ["file_replay.yaml", "kafka_metrics.yaml", "compose_metrics.yaml"])
def test_shipped_specs_load(name):
    spec = load_spec(FLOWS / name)
    assert spec.record.value_fields == ["cpu", "latency_ms"]


def test_toml_and_yaml_give_the_same_spec(tmp_path):
    y = tmp_path / "f.yaml"
    y.write_text("name: f\nsource: {type: file, path: a.jsonl}\nrecord: {value_fields: [v]}\n")
    t = tmp_path / "f.toml"
    t.write_text('name = "f"\n[source]\ntype = "file"\npath = "a.jsonl"\n[record]\nvalue_fields = ["v"]\n')
    assert load_spec(y) == load_spec(t)


def _base(**over):
    d = {"name": "f", "source": {"type": "file", "path": "a"}, "record": {"value_fields": ["v"]}}
    d.update(over)
    return d


@pytest.mark.parametrize(
    ("override", "path_in_message"),
    [
        ({"detection": {"detector": {"name": "nope"}}}, "detection.detector"),
        ({"detection": {"detector": {"name": "robust_zscore", "params": {"alpha": 5}}}},
         "detection.detector"),
        ({"window": {"kind": "sliding", "size_s": 10, "slide_s": 20}}, "window"),
        ({"sinks": [{"type": "kafka"}]}, "sinks.0.kafka.topic"),
        ({"source": {"type": "kafka", "topics": []}}, "source.kafka.topics"),
        ({"record": {"value_fields": ["a", "a"]}}, "record.value_fields"),
        ({"keys": {"shards": 0}}, "keys.shards"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_spec_names_the_bad_field(override, path_in_message):
    with pytest.raises(SpecError) as exc:
        parse_spec(_base(**override), "flow.yaml")
    assert path_in_message in str(exc.value)
    assert str(exc.value).startswith("flow.yaml: invalid flow spec:")


def test_unreadable_and_non_mapping_files(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(SpecError, match="mapping"):
        load_spec(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n")
    with pytest.raises(SpecError, match="not valid toml"):
        load_spec(broken)
