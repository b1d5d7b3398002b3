"""Which browser origins may open the dashboard's viewer socket and session.

The allow-list is configured, never taken from the request: the origin of the
dashboard's public URL (``public_url``, by default the address it serves on),
its loopback aliases when that address is loopback, and any extra
``allowed_origins``. Comparing with the request's own ``Host`` header instead
would let a DNS-rebinding page (``http://evil.example:8765`` resolved to the
dashboard) pass as same-origin.

Examples
--------
>>> allowed = allowed_origins("http://127.0.0.1:8765", ("https://ops.example",))
>>> sorted(allowed)
['http://127.0.0.1:8765', 'http://[::1]:8765', 'http://localhost:8765', 'https://ops.example']
>>> origin_allowed("http://localhost:8765", allowed), origin_allowed(None, allowed)
(True, True)
>>> origin_allowed("http://evil.example:8765", allowed)
False
>>> origin_of("HTTPS://Dash.Example:443/live/")
'https://dash.example'
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def origin_of(url: str) -> str:
    """The origin (``scheme://host[:port]``, lower case, default port left out) of ``url``.

    ``ValueError`` when ``url`` is not an absolute http(s) URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def allowed_origins(public_url: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The origins of ``public_url`` (with its loopback aliases) and of ``extra``."""
    found = {origin_of(o) for o in extra}
    if public_url:
        own = origin_of(public_url)
        found.add(own)
        parts = urlsplit(own)
        host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
        if host in _LOOPBACK:
            suffix = f":{parts.port}" if parts.port else ""
            found.update(f"{parts.scheme}://{alias}{suffix}" for alias in _LOOPBACK)
    return frozenset(found)


def origin_allowed(origin: str | None, allowed: frozenset[str]) -> bool:
    """Whether a request with this ``Origin`` header may proceed.

    A request without one comes from a non-browser client (which a hostile
    page cannot drive) and passes; a browser's origin must be in ``allowed``.
    The opaque origin ``null`` never is.
    """
    if origin is None:
        return True
    try:
        return origin_of(origin) in allowed
    except ValueError:
        return False
