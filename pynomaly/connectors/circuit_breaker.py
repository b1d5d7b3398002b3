"""A circuit breaker: stop calling a failing endpoint, probe it now and then.

States (as in Nygard, *Release It!*, ch. 5 "Circuit Breaker"):

``closed``
    Calls go through. ``failure_threshold`` failures in a row open the circuit.
``open``
    Calls are refused (:class:`CircuitOpenError`) without touching the
    endpoint, until ``reset_timeout_s`` has passed since the circuit opened.
``half_open``
    One probe call is let through; success closes the circuit, failure opens
    it again for another ``reset_timeout_s``.

The breaker holds no thread; callers ask :meth:`CircuitBreaker.allow` before
a call and report the outcome with :meth:`record_success` /
:meth:`record_failure`. :meth:`retry_in` says how long to wait before the
next probe. State changes are logged and reported to the metrics hooks.

Examples
--------
>>> clock = [0.0]
>>> cb = CircuitBreaker("webhook", "http://x", failure_threshold=2, reset_timeout_s=10,
...                     clock=lambda: clock[0])
>>> cb.record_failure(); cb.state
'closed'
>>> cb.record_failure(); cb.state
'open'
>>> cb.allow()
Traceback (most recent call last):
...
pynomaly.connectors.circuit_breaker.CircuitOpenError: circuit for webhook 'http://x' is open; next probe in 10.0s
>>> clock[0] = 10.0
>>> cb.allow(); cb.state
'half_open'
>>> cb.record_failure(); cb.state, cb.opened  # the probe failed: open again
('open', 2)
>>> clock[0] = 20.0
>>> cb.allow(); cb.record_success(); cb.state
'closed'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pynomaly.runtime import metrics_hooks

log = logging.getLogger("pynomaly.circuit_breaker")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpenError(RuntimeError):
    """A call was refused because the circuit is open."""


class CircuitBreaker:
    """Consecutive-failure circuit breaker for one endpoint (see module docs)."""

    def __init__(self, sink: str, target: str, *, failure_threshold: int = 5,
                 reset_timeout_s: float = 5.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout_s <= 0:
            raise ValueError(f"reset_timeout_s must be > 0, got {reset_timeout_s}")
        self.sink = sink
        self.target = target
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        #: times the circuit opened (a plain counter for tests and metrics)
        self.opened = 0

    @property
    def state(self) -> str:
        return self._state

    def _open(self) -> None:
        """Open (or re-open after a failed probe) for another ``reset_timeout_s``."""
        self._state = OPEN
        self.opened += 1
        self._opened_at = self._clock()
        log.warning("circuit for %s %r opened after %d failure(s) in a row; next probe in %.1fs",
                    self.sink, self.target, self._failures, self.reset_timeout_s)
        metrics_hooks.current().circuit(self.sink, self.target, OPEN)

    def _move(self, state: str) -> None:
        if state != self._state:
            self._state = state
            log.info("circuit for %s %r is %s", self.sink, self.target, state)
            metrics_hooks.current().circuit(self.sink, self.target, state)

    def retry_in(self) -> float:
        """Seconds until a call would be allowed (0 when it would be now)."""
        with self._lock:
            if self._state != OPEN:
                return 0.0
            return max(0.0, self._opened_at + self.reset_timeout_s - self._clock())

    def allow(self) -> None:
        """Return if a call may go ahead; raise :class:`CircuitOpenError` if not.

        When the open period is over, the call is let through as the probe
        and the circuit is ``half_open`` until its outcome is recorded.
        """
        with self._lock:
            if self._state == OPEN:
                wait = self._opened_at + self.reset_timeout_s - self._clock()
                if wait > 0:
                    raise CircuitOpenError(
                        f"circuit for {self.sink} {self.target!r} is open; "
                        f"next probe in {wait:.1f}s")
                self._move(HALF_OPEN)

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._move(CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or (
                    self._state == CLOSED and self._failures >= self.failure_threshold):
                self._open()
