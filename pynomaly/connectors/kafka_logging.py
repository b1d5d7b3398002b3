"""librdkafka's log lines, through the ``pynomaly`` logger and rate-limited.

Left alone, every Kafka client writes its own log lines straight to standard
error (``%3|1796429695.074|FAIL|rdkafka#producer-1| ... Connection
refused``), one every few milliseconds while a broker is away. Clients made
by Pynomaly instead pass :func:`client_logger` as their ``logger`` setting
(:func:`with_client_logger`): the lines become ordinary log records of the
``pynomaly.kafka.client`` logger (JSON or text like every other record), and
a :class:`RepeatFilter` lets one line of each kind through per interval and
says how many like it it held back.

>>> import logging
>>> f = RepeatFilter(interval_s=60.0)
>>> def rec(msg):
...     return logging.LogRecord("k", logging.ERROR, __file__, 1, msg, None, None)
>>> [f.filter(rec(f"Connect to 127.0.0.1:{p} failed after {t}ms")) for p, t in [(1, 0), (1, 5)]]
[True, False]
>>> f.filter(rec("another problem"))
True
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

__all__ = ["CLIENT_LOGGER", "RepeatFilter", "client_logger", "with_client_logger"]

#: Name of the logger that receives every librdkafka line.
CLIENT_LOGGER = "pynomaly.kafka.client"
#: Seconds between two lines of the same kind.
DEFAULT_INTERVAL_S = 30.0
_NUMBERS = re.compile(r"\d+")


class RepeatFilter(logging.Filter):
    """Pass the first record of each kind, then at most one per ``interval_s``.

    Records are of one kind when their messages match after every run of
    digits is ignored (ports, timestamps, durations and counters differ from
    one retry to the next). A record let through after others were held back
    ends with ``(N similar lines suppressed)``.
    """

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S, max_kinds: int = 1000) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.max_kinds = max_kinds
        self._seen: dict[tuple[int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.levelno, _NUMBERS.sub("#", record.getMessage()))
        now = time.monotonic()
        with self._lock:
            last, held = self._seen.get(kind, (-float("inf"), 0))
            if now - last < self.interval_s:
                self._seen[kind] = (last, held + 1)
                return False
            if len(self._seen) >= self.max_kinds:
                self._seen.clear()
            self._seen[kind] = (now, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} similar lines suppressed)"
            record.args = None
        return True


_lock = threading.Lock()


def client_logger() -> logging.Logger:
    """The ``pynomaly.kafka.client`` logger, with its :class:`RepeatFilter`."""
    logger = logging.getLogger(CLIENT_LOGGER)
    with _lock:
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter())
    return logger


def with_client_logger(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` for a confluent-kafka client, its log lines sent to :func:`client_logger`.

    >>> cfg = with_client_logger({"bootstrap.servers": "127.0.0.1:9092"})
    >>> cfg["logger"].name
    'pynomaly.kafka.client'
    """
    return {"logger": client_logger(), **config}
