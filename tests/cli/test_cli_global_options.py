"""``--debug`` and ``--log-level`` work before and after the subcommand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pynomaly.cli.main import build_parser, main

BAD_SPEC = ("name: x\nsource: {type: file, path: a}\nrecord: {value_fields: [v]}\n"
            "detection: {detector: {name: robust_zscore, params: {alpha: 7}}}\n")


@pytest.mark.parametrize("argv", [
    ["--debug", "run", "x.yaml"],
    ["run", "x.yaml", "--debug"],
    ["run", "--debug", "x.yaml"],
    ["broker", "start", "--debug"],
    ["bench", "detectors", "--debug"],
])
def test_debug_is_accepted_anywhere(argv):
    assert build_parser().parse_args(argv).debug is True


def test_log_level_after_the_subcommand():
    args = build_parser().parse_args(["replay", "f.jsonl", "--log-level", "WARNING"])
    assert args.log_level == "WARNING" and args.debug is False


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SPEC)
    with pytest.raises(Exception, match="alpha"):
        main(["run", str(bad), "--debug"])
    proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "run", str(bad), "--debug"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "unrecognized arguments" not in proc.stderr


def test_a_failing_step_is_a_few_lines_without_debug_and_a_backtrace_with_it(tmp_path):
    import os

    spec = tmp_path / "bad-sink.yaml"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    spec.write_text(
        "name: bad-sink\nsource: {type: file, path: flows/data/sample.jsonl}\n"
        "record: {value_fields: [cpu], max_future_s: 315360000}\n"
        f"sinks: [{{type: jsonl, path: '{blocker}/alerts.jsonl'}}]\n")
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    cmd = [sys.executable, "-m", "pynomaly.cli.main", "run", str(spec)]
    quiet = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    text = quiet.stdout + quiet.stderr
    assert quiet.returncode == 1, text
    assert len(text.splitlines()) <= 10 and "stack backtrace" not in text, text
    assert text.rstrip().splitlines()[-1].startswith("pynomaly: error: ")
    loud = subprocess.run([*cmd, "--debug"], capture_output=True, text=True, timeout=120, env=env)
    assert loud.returncode != 0
    assert "stack backtrace" in loud.stderr and "Traceback (most recent call last)" in loud.stderr
