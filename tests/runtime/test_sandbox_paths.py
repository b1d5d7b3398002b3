"""``--sandbox-paths DIR`` on ``run`` and ``replay``: a spec's file source and
sinks must stay inside DIR (``..`` refused, links followed), refused at load
time with the field named; a Python ``module:flow`` is refused unimported."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from pynomaly.cli.main import main
from pynomaly.runtime.sandbox import PathSandbox, SandboxError
from pynomaly.spec import parse_spec

SAMPLE = Path(__file__).resolve().parents[2] / "flows" / "data" / "sample.jsonl"


def _spec(source: str, sink: str, dead: str | None = None) -> dict:
    return {
        "name": "sandboxed",
        "source": {"type": "file", "path": source},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 315360000},
        "detection": {"detector": {"name": "robust_zscore", "params": {"warmup": 30}},
                      "warmup": 30, "threshold": {"kind": "static", "value": 8.0}},
        "sinks": [{"type": "jsonl", "path": sink}],
        "dead_letter": {"type": "jsonl", "path": dead or sink + ".dead"},
    }


@pytest.fixture
def box(tmp_path: Path) -> Path:
    root = tmp_path / "box"
    root.mkdir()
    shutil.copy(SAMPLE, root / "in.jsonl")
    return root


# -- the check itself ---------------------------------------------------------------
def test_paths_inside_pass_and_come_back_resolved(box, monkeypatch):
    sandbox = PathSandbox(box)
    assert sandbox.confine(str(box / "out" / "a.jsonl")) == box.resolve() / "out" / "a.jsonl"
    monkeypatch.chdir(box)  # relative paths are taken from the working directory
    assert sandbox.confine("out/a.jsonl") == box.resolve() / "out" / "a.jsonl"


def test_outside_dotdot_and_link_escapes_are_refused(box, tmp_path, monkeypatch):
    sandbox = PathSandbox(box)
    with pytest.raises(SandboxError, match=r"sinks\.0\.path: '/etc/passwd' is outside"):
        sandbox.confine("/etc/passwd", "sinks.0.path")
    with pytest.raises(SandboxError, match=r"contains '\.\.'"):
        sandbox.confine(f"{box}/sub/../in.jsonl")  # even one that would land inside
    (box / "escape").symlink_to(tmp_path)  # a link inside pointing outside
    with pytest.raises(SandboxError, match=r"resolves to .* is outside the sandbox"):
        sandbox.confine(str(box / "escape" / "alerts.jsonl"))
    (box / "inner").symlink_to(box / "out", target_is_directory=True)
    assert sandbox.confine(str(box / "inner" / "a.jsonl")) == box.resolve() / "out" / "a.jsonl"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SandboxError, match="outside the sandbox"):
        sandbox.confine("alerts.jsonl")  # relative to a working directory outside


def test_sandbox_must_be_a_directory(tmp_path):
    with pytest.raises(SandboxError, match="is not a directory"):
        PathSandbox(tmp_path / "missing")


def test_every_file_path_of_a_spec_is_checked(box):
    sandbox = PathSandbox(box)
    inside = str(box / "alerts.jsonl")
    sandbox.check_spec(parse_spec(_spec(str(box / "in.jsonl"), inside)))
    for spec, field in (
        (_spec("/etc/hostname", inside), "source.path"),
        (_spec(str(box / "in.jsonl"), "/tmp/alerts.jsonl"), "sinks.0.path"),
        (_spec(str(box / "in.jsonl"), inside, "/tmp/dead.jsonl"), "dead_letter.path"),
    ):
        with pytest.raises(SandboxError, match=rf"^{field}: "):
            sandbox.check_spec(parse_spec(spec))


# -- the commands ------------------------------------------------------------------------
def test_run_refuses_a_sink_outside_before_writing(box, tmp_path, capsys):
    outside = tmp_path / "elsewhere" / "alerts.jsonl"
    spec = box / "flow.json"
    spec.write_text(json.dumps(_spec(str(box / "in.jsonl"), str(outside))))
    assert main(["run", str(spec), "--sandbox-paths", str(box)]) == 1
    err = capsys.readouterr().err
    assert "sinks.0.path" in err and "outside the sandbox" in err and "--sandbox-paths" in err
    assert not outside.parent.exists()


def test_run_refuses_a_python_flow_without_importing_it(box, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "imported"
    (tmp_path / "hostile_flow_mod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nflow = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["run", "hostile_flow_mod:flow", "--sandbox-paths", str(box)]) == 1
    assert "a Python flow (module:attr) is code" in capsys.readouterr().err
    assert not marker.exists() and "hostile_flow_mod" not in sys.modules


def test_run_refuses_in_the_parent_of_a_local_cluster(box, tmp_path, capsys):
    spec = box / "flow.json"
    spec.write_text(json.dumps(_spec(str(box / "in.jsonl"), str(tmp_path / "a.jsonl"))))
    assert main(["run", str(spec), "-p", "2", "--sandbox-paths", str(box)]) == 1
    assert "sinks.0.path" in capsys.readouterr().err


def test_replay_refuses_a_spec_sink_escaping_through_a_link(box, tmp_path, capsys):
    (box / "logs").symlink_to(tmp_path, target_is_directory=True)
    spec = box / "flow.json"
    spec.write_text(json.dumps(_spec(str(box / "in.jsonl"), str(box / "logs" / "alerts.jsonl"))))
    code = main(["replay", str(box / "in.jsonl"), "--spec", str(spec), "-q",
                 "--sandbox-paths", str(box)])
    assert code == 1
    assert "sinks.0.path" in capsys.readouterr().err
    assert not (tmp_path / "alerts.jsonl").exists()


def test_replay_inside_the_sandbox_runs(box, capsys):
    spec = box / "flow.json"
    alerts = box / "out" / "alerts.jsonl"
    spec.write_text(json.dumps(_spec(str(box / "in.jsonl"), str(alerts))))
    code = main(["replay", str(box / "in.jsonl"), "--spec", str(spec), "-q",
                 "--sandbox-paths", str(box)])
    assert code == 0, capsys.readouterr().err
    assert alerts.exists() and alerts.read_text().count("\n") >= 1
