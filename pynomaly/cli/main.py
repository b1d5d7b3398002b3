"""Entry point of the ``pynomaly`` command.

Subcommands are discovered from the modules of :mod:`pynomaly.cli`: a module
with ``register(subparsers)`` adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code).

Errors print as one line (``pynomaly: error: ...``, and ``pynomaly: hint: ...``
when the error says what to do) unless ``--debug`` is given, which also keeps
Rust backtraces of Bytewax.

>>> from pynomaly.cli.main import build_parser
>>> "bench" in build_parser().format_help()
True
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

import pynomaly
import pynomaly.cli as cli_pkg
from pynomaly.cli import _help as help_format
from pynomaly.observability.logs import configure_logging


class CLIError(Exception):
    """An error whose message is meant for the user as is (one line)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pynomaly",
        description="Real-time streaming anomaly detection on Bytewax.",
    )
    parser.add_argument("--version", action="version", version=f"pynomaly {pynomaly.__version__}")
    add_global_options(parser, defaults=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda i: i.name):
        if info.name in ("main",) or info.name.startswith(("_", "bench_")):
            continue
        module = importlib.import_module(f"{cli_pkg.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    for sub in _subcommand_parsers(parser):
        add_global_options(sub, defaults=False)
        help_format.apply(sub)
    return parser


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``--debug`` and ``--log-level``, accepted before and after any subcommand.

    Only the top-level parser sets defaults; on a subcommand's parser the
    defaults are suppressed, so ``pynomaly --debug run x`` is not undone by
    the subcommand's own (absent) flag.

    >>> args = build_parser().parse_args(["run", "x.yaml", "--debug"])
    >>> args.debug, build_parser().parse_args(["--debug", "run", "x.yaml"]).debug
    (True, True)
    """
    suppress = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument("--debug", action="store_true", **({"default": False} | suppress),
                        help="show tracebacks and debug logs")
    parser.add_argument("--log-level", **({"default": None} | suppress),
                        help="log level (default from PYNOMALY_LOG_LEVEL or INFO)")


def _subcommand_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser`` (subcommands and their subcommands)."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found.append(sub)
                found.extend(_subcommand_parsers(sub))
    return found


def one_line(exc: BaseException) -> str:
    """The root cause of ``exc`` as one line (Bytewax wraps step errors in
    several layers; the innermost one says what went wrong).

    >>> try:
    ...     try:
    ...         raise ValueError("bad value")
    ...     except ValueError as e:
    ...         raise RuntimeError("step failed") from e
    ... except RuntimeError as outer:
    ...     one_line(outer)
    'bad value (in: step failed)'
    """
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__)

    def text(e: BaseException) -> str:
        t = str(e).strip()
        return t.splitlines()[0] if t else type(e).__name__

    root = text(chain[-1])
    if len(chain) > 1 and not isinstance(chain[-1], CLIError):
        root = f"{root} (in: {text(chain[0])})"
    return root


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.log_level or ("DEBUG" if args.debug else None))
    if not args.debug:
        # a step that fails inside Bytewax is reported as a Rust panic; its
        # native backtrace (some 70 lines) says nothing the error line does not
        os.environ["RUST_BACKTRACE"] = "0"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"pynomaly: error: {one_line(exc)}", file=sys.stderr)
        hint = getattr(exc, "hint", None)
        if isinstance(hint, str) and hint:
            print(f"pynomaly: hint: {hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
