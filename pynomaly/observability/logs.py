"""Structured logs: JSON lines for machines, readable lines on a terminal.

The level comes from the argument, else ``$PYNOMALY_LOG_LEVEL``, else INFO.
``$PYNOMALY_LOG_FORMAT`` (``json`` or ``text``) overrides the automatic choice
(JSON unless standard error is a terminal). Extra context — ``flow``, ``step``,
``worker``, ``key`` — is passed with ``extra=`` and appears as fields.

>>> import io, logging, json
>>> buf = io.StringIO()
>>> configure_logging("INFO", stream=buf, fmt="json")
>>> logging.getLogger("pynomaly.test").warning("sink slow", extra={"flow": "f", "step": "alerts-0"})
>>> rec = json.loads(buf.getvalue())
>>> rec["msg"], rec["level"], rec["flow"], rec["step"]
('sink slow', 'warning', 'f', 'alerts-0')
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

CONTEXT_FIELDS = ("flow", "step", "worker", "key", "sink", "target", "partition", "reason")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, msg, context fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for f in CONTEXT_FIELDS:
            v = record.__dict__.get(f)
            if v is not None:
                out[f] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """``12:00:01 WARNING pynomaly.x: message  flow=f step=s``"""

    def format(self, record: logging.LogRecord) -> str:
        ctx = " ".join(f"{f}={record.__dict__[f]}" for f in CONTEXT_FIELDS
                       if record.__dict__.get(f) is not None)
        t = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{t} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if ctx:
            line += f"  {ctx}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str | None = None, stream: IO[str] | None = None,
                      fmt: str | None = None) -> None:
    """Configure the ``pynomaly`` logger tree (idempotent)."""
    stream = stream or sys.stderr
    level = (level or os.environ.get("PYNOMALY_LOG_LEVEL") or "INFO").upper()
    fmt = fmt or os.environ.get("PYNOMALY_LOG_FORMAT") or (
        "text" if getattr(stream, "isatty", lambda: False)() else "json")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("pynomaly")
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
