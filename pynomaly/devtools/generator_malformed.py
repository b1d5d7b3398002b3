"""Malformed variants of a well-formed JSON record, for testing parse/validate paths.

Examples
--------
>>> good = b'{"key":"host-0001","ts":"2026-01-01T00:00:00Z","cpu":0.42,"latency_ms":12.3}'
>>> for kind in MALFORMED_KINDS:
...     print(kind, malformed_line(good, kind))
bad_json b'{"key":"host-0001","ts":"2026-01-01T00'
wrong_type b'{"key":"host-0001","ts":"2026-01-01T00:00:00Z","cpu":"0.42","latency_ms":12.3}'
missing_field b'{"key":"host-0001","cpu":0.42,"latency_ms":12.3}'
nan b'{"key":"host-0001","ts":"2026-01-01T00:00:00Z","cpu":NaN,"latency_ms":12.3}'
empty b''
"""

from __future__ import annotations

import re

MALFORMED_KINDS: tuple[str, ...] = ("bad_json", "wrong_type", "missing_field", "nan", "empty")

_FIRST_VALUE = re.compile(rb'("ts":"[^"]*",)("[^"]+":)([^,}]+)')
_TS = re.compile(rb'"ts":"[^"]*",')


def malformed_line(line: bytes, kind: str) -> bytes:
    """Damage a generator JSON line (``{"key":..,"ts":..,"<field>":<number>,...}``).

    ``bad_json`` cuts the line in half, ``wrong_type`` quotes the first value,
    ``missing_field`` drops ``ts``, ``nan`` writes the first value as the bare
    token ``NaN`` (not JSON), ``empty`` is an empty line.
    """
    if kind == "bad_json":
        return line[: len(line) // 2]
    if kind == "wrong_type":
        return _FIRST_VALUE.sub(rb'\1\2"\3"', line, count=1)
    if kind == "missing_field":
        return _TS.sub(b"", line, count=1)
    if kind == "nan":
        return _FIRST_VALUE.sub(rb"\1\2NaN", line, count=1)
    if kind == "empty":
        return b""
    raise ValueError(f"unknown malformed kind {kind!r}; known: {', '.join(MALFORMED_KINDS)}")
