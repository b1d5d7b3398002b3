"""Entry point of the ``pynomaly`` command.

Subcommands are discovered from the modules of :mod:`pynomaly.cli`: a module
with ``register(subparsers)`` adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code).

Errors print as one line (``pynomaly: error: ...``) unless ``--debug`` is given.

>>> from pynomaly.cli.main import build_parser
>>> "bench" in build_parser().format_help()
True
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import pynomaly
import pynomaly.cli as cli_pkg


class CLIError(Exception):
    """An error whose message is meant for the user as is (one line)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pynomaly",
        description="Real-time streaming anomaly detection on Bytewax.",
    )
    parser.add_argument("--version", action="version", version=f"pynomaly {pynomaly.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument(
        "--log-level", default=None, help="log level (default from PYNOMALY_LOG_LEVEL or INFO)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if info.name in ("main",) or info.name.startswith(("_", "bench_")):
            continue
        module = importlib.import_module(f"{cli_pkg.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from pynomaly.logs import configure_logging
    except ImportError:  # logging module not present yet
        logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    else:
        configure_logging(args.log_level or ("DEBUG" if args.debug else None))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"pynomaly: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
