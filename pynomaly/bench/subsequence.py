"""``pynomaly bench detectors``: the left-discord kernel against ``stumpy.stumpi``.

Both compute the left matrix profile of a stream, window by window: STUMPY's
incremental matrix profile (``stumpi`` with ``egress=False``, one ``update``
per point, each a new distance profile against the whole past) and the
``left_discord`` detector with the same window and a history as long as the
stream (so the two answers are the same numbers). The stream is a noisy sine
of period ``window`` with a few distorted cycles. Reported: points/s of each
(process CPU time, best of ``repeats``), the ratio, and the largest difference
between the two left profiles.

>>> x = periodic_stream(400, 20, seed=0)
>>> x.shape, bool(abs(x[:100]).max() < 1.5)
((400,), True)
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np


def periodic_stream(events: int, period: int, seed: int) -> np.ndarray:
    """A noisy sine of ``period`` with one cycle in ten distorted after the first quarter."""
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(events) * 2 * np.pi / period) + rng.normal(0, 0.1, events)
    for s in range(events // 4, events - period, 10 * period):
        x[s : s + period] *= rng.uniform(-1.0, 0.5)
    return x


def _native(x: np.ndarray, window: int, repeats: int) -> tuple[np.ndarray, float]:
    from pynomaly.engine import create_detector

    params = {"window": window, "history": len(x)}
    create_detector("left_discord", **params).score_learn_many(x[:200, None])  # compile
    best, scores = math.inf, np.empty(0)
    for _ in range(repeats):
        det = create_detector("left_discord", **params)
        t0 = time.process_time()
        scores = np.concatenate(
            [det.score_learn_many(x[i : i + 256, None]) for i in range(0, len(x), 256)]
        )
        best = min(best, time.process_time() - t0)
    return scores * 2.0 * math.sqrt(window), best  # back to distances


def _stumpi(x: np.ndarray, window: int, start: int, repeats: int) -> tuple[np.ndarray, float]:
    import stumpy

    warm = stumpy.stumpi(x[: 2 * window], window, egress=False)  # compile
    warm.update(x[2 * window])
    best, left = math.inf, np.empty(0)
    for _ in range(repeats):
        t0 = time.process_time()
        stream = stumpy.stumpi(x[:start], window, egress=False)
        for v in x[start:]:
            stream.update(v)
        best = min(best, time.process_time() - t0)
        left = np.asarray(stream.left_P_)
    return left, best


def compare_stumpi(
    events: int = 5000, window: int = 50, start: int = 1000, seed: int = 0, repeats: int = 3
) -> dict[str, Any]:
    """One row: both sides on the same stream, from point ``start`` (STUMPY's initial batch)."""
    x = periodic_stream(events, window, seed)
    ours, native_s = _native(x, window, repeats)
    row: dict[str, Any] = {
        "detector": "left_discord",
        "peer": "stumpy.stumpi (left_P_)",
        "events": events,
        "window": window,
        "native_eps": events / native_s,
    }
    try:
        left, peer_s = _stumpi(x, window, start, repeats)
    except ImportError:
        row["note"] = "stumpy is not installed (the bench extra: pip install -e '.[bench]')"
        return row
    theirs = left[start - window + 1 :]  # windows ending at start .. events - 1
    finite = np.isfinite(theirs)
    row.update(
        peer_events=events - start,
        peer_eps=(events - start) / peer_s,
        ratio=(events / native_s) / ((events - start) / peer_s),
        max_abs_diff=float(np.max(np.abs(ours[start:][finite] - theirs[finite]))),
    )
    return row


def format_row(row: dict[str, Any]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| subsequence detector | peer | window | events/s | peer events/s (events) | × "
        "| max |left profile difference| |",
        "|---|---|---|---|---|---|---|",
    ]
    if "peer_eps" not in row:
        lines.append(
            f"| {row['detector']} | {row['peer']} | {row['window']} "
            f"| {row['native_eps']:,.0f} | - | - | - |"
        )
        lines.append(f"Skipped: {row['note']}")
        return "\n".join(lines)
    lines.append(
        f"| {row['detector']} | {row['peer']} | {row['window']} | {row['native_eps']:,.0f} "
        f"| {row['peer_eps']:,.0f} ({row['peer_events']}) | {row['ratio']:,.1f} "
        f"| {row['max_abs_diff']:.1e} |"
    )
    lines.append(
        f"Stream: {row['events']} points of a noisy sine (period = window) with distorted "
        "cycles; both sides compute the full left matrix profile (history = the stream), "
        "process CPU time, best of the repeats."
    )
    return "\n".join(lines)
