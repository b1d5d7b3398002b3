"""What every sink does when it cannot confirm a delivery: fail loudly.

A sink that gives up raises :class:`DeliveryError` after :func:`delivery_failed`
has logged the error and reported it to the metrics hooks. The exception stops
the dataflow; with recovery enabled, the restarted flow replays the batch from
the last snapshot (at-least-once), and the deterministic alert ids let
consumers drop the repeats.

Examples
--------
>>> from pynomaly.connectors.delivery import DeliveryError, delivery_failed
>>> err = delivery_failed("redis", "pynomaly:alerts", 2, "connection refused")
>>> isinstance(err, DeliveryError), str(err)
(True, "redis sink 'pynomaly:alerts': 2 message(s) not delivered: connection refused")
"""

from __future__ import annotations

import logging

from pynomaly.runtime import metrics_hooks

log = logging.getLogger("pynomaly.delivery")


class DeliveryError(RuntimeError):
    """Messages of a batch could not be confirmed by their destination."""

    def __init__(self, message: str, *, sink: str = "", target: str = "", undelivered: int = 0
                 ) -> None:
        super().__init__(message)
        self.sink = sink
        self.target = target
        self.undelivered = undelivered


def delivery_failed(sink: str, target: str, n: int, error: str) -> DeliveryError:
    """Log and count ``n`` undelivered messages; return the error to raise."""
    message = f"{sink} sink {target!r}: {n} message(s) not delivered: {error}"
    log.error(message)
    metrics_hooks.current().failed(sink, target, n, error)
    return DeliveryError(message, sink=sink, target=target, undelivered=n)


def backoff_delay(attempt: int, base_s: float, max_s: float) -> float:
    """Exponential backoff before retry number ``attempt`` (1-based), capped.

    >>> [backoff_delay(a, 0.5, 3.0) for a in (1, 2, 3, 4)]
    [0.5, 1.0, 2.0, 3.0]
    """
    return min(max_s, base_s * 2 ** (attempt - 1))
