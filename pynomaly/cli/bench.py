"""``pynomaly bench``: benchmarks. Each ``pynomaly.cli.bench_<name>`` module with
``register(subparsers)`` adds ``pynomaly bench <name>``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import pynomaly.cli as cli_pkg


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="benchmarks: detectors, nab, e2e")
    inner = parser.add_subparsers(dest="bench", metavar="BENCH")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("bench_"):
            module = importlib.import_module(f"{cli_pkg.__name__}.{info.name}")
            module.register(inner)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
