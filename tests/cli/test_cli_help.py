"""Help pages: descriptions, examples, every default shown."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest

from pynomaly.bench.detectors import NATIVE_NAMES, build_pairs
from pynomaly.cli.main import _subcommand_parsers, build_parser


def all_parsers() -> list[argparse.ArgumentParser]:
    return _subcommand_parsers(build_parser())


def has_default(action: argparse.Action) -> bool:
    d = action.default
    return bool(action.option_strings) and action.help != argparse.SUPPRESS and not (
        d is None or d is False or d == [] or d is argparse.SUPPRESS)


def test_every_default_is_shown():
    missing = []
    for parser in all_parsers():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if has_default(action):
                text = formatter._format_action(action)
                if "default" not in text.lower():
                    missing.append(f"{parser.prog} {action.option_strings[0]}")
    assert missing == []


def help_of(*argv: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", *argv, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("command", ["run", "plan", "dashboard", "demo", "broker", "alerts tail"])
def test_commands_have_a_description_and_examples(command):
    text = help_of(*command.split())
    _usage, _, rest = text.partition("\n\n")
    assert rest and not rest.startswith(("positional arguments", "options")), text
    assert "\nexamples:\n  pynomaly " + command.split()[0] in text


def test_broker_help_is_not_a_docstring():
    text = help_of("broker")
    assert ">>>" not in text and "``" not in text and "Examples\n--------" not in text


def test_bench_detectors_names_its_extra_and_detectors():
    text = " ".join(help_of("bench", "detectors").split())
    assert "pip install -e '.[bench]'" in text
    assert f"from: {', '.join(NATIVE_NAMES)} (default: all)" in text
    X = np.random.default_rng(0).normal(size=(400, 3))
    # --only accepts every detector the peer pairs compare
    assert {p.native for p in build_pairs(X)} <= set(NATIVE_NAMES)


def test_an_unknown_detector_name_is_refused_with_the_choices():
    proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "bench", "detectors",
                           "--only", "hts"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "invalid choice: 'hts'" in proc.stderr and "'hst'" in proc.stderr
