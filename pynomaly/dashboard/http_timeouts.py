"""uvicorn's HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` and
caps the bytes of an incomplete request (``h11_max_incomplete_event_size``),
but it has no header read timeout: a client that sends half a request line
and then nothing keeps its connection, and its slot, for ever. This protocol
starts a timer when a connection opens and again when a response ends; when
it fires before the next request's headers are complete, the connection is
closed (with ``408 Request Timeout`` when part of a request had arrived).
Once the headers are in, the timer stops: a WebSocket upgrade and the request
body are not timed by it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                   b"connection: close\r\ncontent-length: 28\r\n\r\n"
                   b"request headers not complete")


class HeaderTimeoutH11Protocol(H11Protocol):
    """:class:`H11Protocol` with a header read deadline of ``header_timeout_s`` seconds.

    Use :func:`header_timeout_protocol` to bind the deadline.
    """

    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request arrived
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm_header_timer()  # the headers are complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()


def header_timeout_protocol(header_timeout_s: float) -> type[HeaderTimeoutH11Protocol]:
    """A protocol class for uvicorn's ``http=`` with this header deadline.

    >>> header_timeout_protocol(2.5).header_timeout_s
    2.5
    """
    if header_timeout_s <= 0:
        raise ValueError("header_timeout_s must be positive")
    return type("HeaderTimeoutH11Protocol", (HeaderTimeoutH11Protocol,),
                {"header_timeout_s": float(header_timeout_s)})
