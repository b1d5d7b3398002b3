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
        ({"sinks": [{"type": "kafka"}]}, "sinks.0.topic"),
        ({"source": {"type": "kafka", "topics": []}}, "source.topics"),
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
    with pytest.raises(SpecError, match=r"broken\.toml:1:8: not valid TOML"):
        load_spec(broken)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"detection": {"detector": {"name": "hst", "params": {"n_tree": 3}}}},
         "detection.detector.params.n_tree: Extra inputs are not permitted"
         " (did you mean 'n_trees'?)"),
        ({"detection": {"detector": {"name": "hst", "params": {"height": 300}}}},
         "detection.detector.params.height: Input should be less than or equal to"),
        ({"source": {"type": "kafka", "topics": ["m"], "bootstrap_server": "h:9092"}},
         "source.bootstrap_server: Extra inputs are not permitted"
         " (did you mean 'bootstrap_servers'?)"),
        ({"sinks": [{"type": "stdout"}, {"type": "jsonl", "pth": "a.jsonl"}]},
         "sinks.1.pth: Extra inputs are not permitted (did you mean 'path'?)"),
        ({"detection": {"calibration": {"kind": "conformal", "windw": 10}}},
         "detection.calibration.windw: Extra inputs are not permitted (did you mean 'window'?)"),
        ({"recrd": {}}, "recrd: Extra inputs are not permitted (did you mean 'record'?)"),
        ({"detection": {"detector": {"name": "hts"}}},
         "detection.detector.name: Value error, unknown detector 'hts' (did you mean 'hst'?)"),
        ({"source": {"type": "fil", "path": "a"}},
         "source: Input tag 'fil' found using 'type' does not match any of the expected tags: "
         "'kafka', 'file' (did you mean 'file'?)"),
        ({"window": {"kind": "tumbing"}},
         "window.kind: Input should be 'none', 'tumbling' or 'sliding' (did you mean 'tumbling'?)"),
    ],
)
def test_errors_follow_the_users_keys_and_suggest(override, expected):
    with pytest.raises(SpecError) as exc:
        parse_spec(_base(**override), "flow.yaml")
    assert expected in str(exc.value)
    assert ".kafka." not in str(exc.value) and ".jsonl." not in str(exc.value)


def test_unknown_key_far_from_any_field_gets_no_suggestion():
    with pytest.raises(SpecError) as exc:
        parse_spec(_base(zzzzzz=1), "flow.yaml")
    assert "zzzzzz: Extra inputs are not permitted" in str(exc.value)
    assert "did you mean" not in str(exc.value)


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: f\nsource: {type: file, path: a}\nrecord:\n  value_fields: [v\n")
    with pytest.raises(SpecError) as exc:
        load_spec(bad)
    message = str(exc.value)
    assert message.startswith(f"{bad}:5:1: not valid YAML:")
    assert "that starts at 4:17" in message
    assert "\n" not in message


def test_cli_prints_the_line_and_column_without_debug(tmp_path, capsys):
    from pynomaly.cli.main import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: f\nsource: {type: file, path: a}\n  record: 1\n")
    assert main(["run", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"{bad}:3:3: not valid YAML: expected <block end>" in err[0]


def test_validation_errors_of_a_yaml_file_name_line_and_column(tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("name: f\n"
                   "source: {type: kafka, topics: [m], bootstrap_server: 'h:9092'}\n"
                   "record: {value_fields: [v]}\n"
                   "detection:\n"
                   "  detector: {name: hst, params: {n_tree: 3}}\n")
    with pytest.raises(SpecError) as exc:
        load_spec(bad)
    message = str(exc.value)
    assert "source.bootstrap_server (line 2, column 36): Extra inputs" in message
    assert "detection.detector.params.n_tree (line 5, column 34): Extra inputs" in message
