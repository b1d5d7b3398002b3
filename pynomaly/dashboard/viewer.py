"""One connected viewer: what it watches, where it is in the feeds, and its outbox.

The hub never waits for a viewer. Frames go into a small bounded outbox; when
it is full the hub skips the viewer for that tick (its cursors stay put, so the
next frame catches up from the per-key ring buffers) and counts the skip.
Replies to the viewer's own requests go into a separate, short control outbox.

Examples
--------
>>> import asyncio
>>> v = Viewer(max_frames=1)
>>> v.offer_frame(b"f1"), v.offer_frame(b"f2"), v.frames_skipped
(True, False, 1)
>>> v.push_control(b"c1")
>>> asyncio.run(v.next_message()), asyncio.run(v.next_message())
(b'c1', b'f1')
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

MAX_CONTROL = 64
_ids = itertools.count(1)


class ViewerOverflow(RuntimeError):
    """A viewer sent requests faster than it read the answers."""


class Viewer:
    """State of one viewer connection.

    Attributes
    ----------
    selected
        Keys streamed at full rate, each with the count of its points already sent.
    alert_cursor, drift_cursor, incident_cursor
        Sequence numbers of the last alert, drift event and incident record sent.
    paused
        A paused viewer gets no frames; on resume it is backfilled again.
    frames_sent, frames_skipped, points_missed, alerts_skipped
        Delivery counters shown to the viewer and in ``/api/stats``.
    """

    def __init__(self, max_frames: int = 16, client: str = "") -> None:
        self.id = next(_ids)
        self.client = client
        self.max_frames = max_frames
        self.selected: dict[str, int] = {}
        self.alert_cursor = 0
        self.drift_cursor = 0
        self.incident_cursor = 0
        self.paused = False
        self.frames_sent = 0
        self.frames_skipped = 0
        self.points_missed = 0
        self.alerts_skipped = 0
        self.bytes_sent = 0
        self._frames: deque[bytes] = deque()
        self._control: deque[bytes] = deque()
        self._wake = asyncio.Event()

    def offer_frame(self, message: bytes) -> bool:
        """Queue a frame unless the outbox is full (then count a skip)."""
        if len(self._frames) >= self.max_frames:
            self.frames_skipped += 1
            return False
        self._frames.append(message)
        self._wake.set()
        return True

    def outbox_full(self) -> bool:
        """Whether a frame offered now would be skipped."""
        return len(self._frames) >= self.max_frames

    def push_control(self, message: bytes) -> None:
        """Queue a reply to the viewer's own request."""
        if len(self._control) >= MAX_CONTROL:
            raise ViewerOverflow("viewer does not read its replies")
        self._control.append(message)
        self._wake.set()

    async def next_message(self) -> bytes:
        """The next message to send: replies first, then frames, oldest first."""
        while True:
            if self._control:
                return self._control.popleft()
            if self._frames:
                self.frames_sent += 1
                return self._frames.popleft()
            self._wake.clear()
            await self._wake.wait()

    def counters(self) -> dict[str, int]:
        """Delivery counters of this viewer."""
        return {
            "frames_sent": self.frames_sent,
            "frames_skipped": self.frames_skipped,
            "points_missed": self.points_missed,
            "alerts_skipped": self.alerts_skipped,
            "bytes_sent": self.bytes_sent,
        }
