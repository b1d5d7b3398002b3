"""How ``pynomaly`` help pages look: every default shown, examples kept as written.

:class:`DefaultsHelpFormatter` appends ``(default: X)`` to an option's help
unless the help already names its default, the default is empty (None,
False, an empty list) or the option's help is suppressed.
:class:`RawDescriptionDefaultsHelpFormatter` also keeps the description and
epilog (the examples) as written. :func:`apply` gives every parser of a
command tree the right one.

>>> import argparse
>>> p = argparse.ArgumentParser(prog="x", formatter_class=DefaultsHelpFormatter)
>>> _ = p.add_argument("--rate", type=float, default=1000, help="records per second")
>>> _ = p.add_argument("--keys", type=int, default=50, help="entities (default 50)")
>>> _ = p.add_argument("--name", default=None, help="a name")
>>> text = " ".join(p.format_help().split())
>>> "records per second (default: 1000)" in text, "(default 50) (default" in text
(True, False)
>>> "a name (default" in text
False
"""

from __future__ import annotations

import argparse

__all__ = ["DefaultsHelpFormatter", "RawDescriptionDefaultsHelpFormatter", "apply"]


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help text with each option's non-empty default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not text or "default" in text.lower() or not _shows_default(action):
            return action.help
        return text + " (default: %(default)s)"


class RawDescriptionDefaultsHelpFormatter(argparse.RawDescriptionHelpFormatter,
                                          DefaultsHelpFormatter):
    """Defaults shown, description and epilog printed as written."""


def _shows_default(action: argparse.Action) -> bool:
    d = action.default
    return bool(action.option_strings) and not (
        d is None or d is False or d == [] or d is argparse.SUPPRESS)


def apply(parser: argparse.ArgumentParser) -> None:
    """Use the defaults-showing formatter on ``parser`` (keeping a raw description);
    an option without help text gets one that shows its default."""
    raw = issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter)
    parser.formatter_class = RawDescriptionDefaultsHelpFormatter if raw else DefaultsHelpFormatter
    for action in parser._actions:
        if action.help is None and _shows_default(action):
            action.help = "(default: %(default)s)"
