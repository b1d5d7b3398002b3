"""Small response helpers shared by the HTTP and WebSocket endpoints.

>>> deny(401, "view token required").status_code
401
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

NO_STORE = {"cache-control": "no-store"}


def deny(status: int, detail: str) -> Response:
    """A JSON error response that no cache keeps."""
    return JSONResponse({"error": detail}, status_code=status, headers=NO_STORE)


def client_address(conn: HTTPConnection) -> str:
    """The peer address connection limits are counted by."""
    return conn.client.host if conn.client else "unknown"
