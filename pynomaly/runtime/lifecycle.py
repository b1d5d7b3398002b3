"""Graceful shutdown: SIGTERM or SIGINT → stop reading, finish in-flight
batches, flush sinks, snapshot, exit 0 — within a bounded time.

Sources poll :func:`stopping` before each read and end their partitions
(``StopIteration``) once shutdown is requested; Bytewax then drains the
dataflow: batches already read go through every step, sinks write and close
(Kafka sinks confirm delivery), and the final epoch is snapshotted when
recovery is on. A watchdog exits the process with code 3 if draining takes
longer than the timeout; a second signal exits at once with code 130.

>>> from pynomaly.runtime import lifecycle
>>> lifecycle.stopping()
False
>>> lifecycle.request_shutdown("test")
>>> lifecycle.stopping(), lifecycle.shutdown_reason()
(True, 'test')
>>> lifecycle.reset()
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

log = logging.getLogger("pynomaly.lifecycle")

_event = threading.Event()
_reason: str | None = None
_requested_at: float | None = None


def stopping() -> bool:
    """True once shutdown has been requested."""
    return _event.is_set()


def shutdown_reason() -> str | None:
    return _reason


def request_shutdown(reason: str) -> None:
    global _reason, _requested_at
    if not _event.is_set():
        _reason, _requested_at = reason, time.monotonic()
        _event.set()


def reset() -> None:
    """Forget a shutdown request (tests; a new run in the same process)."""
    global _reason, _requested_at
    _event.clear()
    _reason = _requested_at = None


def _watchdog(timeout_s: float) -> None:
    _event.wait()
    if not _event.wait(0) or _requested_at is None:
        return
    remaining = timeout_s - (time.monotonic() - _requested_at)
    time.sleep(max(0.0, remaining))
    log.error("shutdown did not finish within %.1fs; exiting", timeout_s)
    os._exit(3)


def install_signal_handlers(timeout_s: float = 30.0) -> None:
    """Turn SIGTERM/SIGINT into a graceful shutdown (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: Any) -> None:
        if stopping():
            log.warning("second signal: exiting now")
            os._exit(130)
        name = signal.Signals(signum).name
        log.info("%s received: draining (at most %.0fs)", name, timeout_s)
        request_shutdown(name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    threading.Thread(target=_watchdog, args=(timeout_s,), name="shutdown-watchdog",
                     daemon=True).start()
