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
