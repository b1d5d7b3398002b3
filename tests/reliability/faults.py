"""Fault injection on real services: freeze a process group until the kernel
reports every thread stopped, so a test's outage really has begun."""

from __future__ import annotations

import time
from pathlib import Path


def _states(pid: int) -> list[str]:
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            # the state follows the parenthesised command name
            states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            continue
    return states


def wait_stopped(pid: int, timeout: float = 5.0) -> None:
    """Block until every thread of ``pid`` is stopped (state ``T``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = _states(pid)
        if states and all(s in ("T", "t") for s in states):
            return
        time.sleep(0.005)
    raise TimeoutError(f"process {pid} did not stop within {timeout}s: {_states(pid)}")


def freeze(broker) -> None:
    """Pause an :class:`EmbeddedBroker` and wait until it has really stopped."""
    broker.pause()
    wait_stopped(broker.pid)
