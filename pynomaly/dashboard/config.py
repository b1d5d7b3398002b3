"""Dashboard settings, read once from arguments or the environment.

Every setting has an environment variable ``PYNOMALY_DASHBOARD_<NAME>`` and a
default. Tokens left empty are generated at random (``secrets.token_urlsafe``)
and reported by :attr:`DashboardSettings.generated_tokens` so the command can
print them once.

Examples
--------
>>> s = DashboardSettings.from_env({"PYNOMALY_DASHBOARD_VIEW_TOKEN": "v" * 24,
...                                 "PYNOMALY_DASHBOARD_INGEST_TOKEN": "i" * 24,
...                                 "PYNOMALY_DASHBOARD_HISTORY_POINTS": "100"})
>>> s.history_points, s.view_token == "v" * 24, s.generated_tokens
(100, True, ())
>>> DashboardSettings.from_env({}).generated_tokens
('ingest', 'view')
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pynomaly.dashboard.origins import allowed_origins

PREFIX = "PYNOMALY_DASHBOARD_"
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class DashboardSettings:
    """Settings of one dashboard server.

    Attributes
    ----------
    ingest_token, view_token
        Bearer tokens of the flow side and of viewers (at least 16 characters).
    public_url
        The URL viewers open the dashboard at (``https://dash.example``); its
        origin is the one browsers may connect from. Empty: the address the
        server listens on (set by :mod:`pynomaly.dashboard.server`).
    allowed_origins
        Further origins allowed to open viewer WebSockets and sessions
        (``http://host:port`` as the browser sends it).
    max_connections_per_client
        Open WebSockets allowed per client address (viewers and ingest counted apart).
    max_connections_per_token
        Open WebSockets allowed per credential (bearer token or session cookie;
        viewers and ingest counted apart).
    max_connections
        Open WebSockets allowed in all.
    header_timeout_s
        A request's headers must be complete this long after the connection
        opened or the previous response ended, else the connection is closed.
    keep_alive_timeout_s
        An idle keep-alive HTTP connection is closed after this long.
    max_header_bytes
        Largest incomplete request (request line and headers) buffered.
    history_points
        Points kept per key for charts and backfill.
    tick_s
        Interval of the fan-out to viewers (seconds).
    max_selected_keys
        Keys one viewer may stream at full rate.
    max_points_per_frame
        Points per key per frame above which a frame is decimated.
    viewer_queue_frames
        Frames queued per viewer before further frames for it are skipped.
    alert_history
        Alerts kept for the feed and for backfill.
    redis_url
        When set, history and alerts are also written to Redis and backfill is
        served from there (survives a dashboard restart, shared by replicas).
    redis_prefix
        Prefix of every Redis key the dashboard writes.
    redis_flush_s
        Interval of history writes to Redis (backfill completes them from memory).
    session_ttl_s
        Lifetime of a viewer's session cookie.
    """

    ingest_token: str = ""
    view_token: str = ""
    public_url: str = ""
    allowed_origins: tuple[str, ...] = ()
    max_connections_per_client: int = 8
    max_connections_per_token: int = 64
    max_connections: int = 256
    header_timeout_s: float = 10.0
    keep_alive_timeout_s: float = 5.0
    max_header_bytes: int = 16 * 1024
    history_points: int = 240
    tick_s: float = 0.25
    max_selected_keys: int = 8
    max_points_per_frame: int = 200
    viewer_queue_frames: int = 16
    alert_history: int = 500
    redis_url: str | None = None
    redis_prefix: str = "pynomaly:dash"
    redis_flush_s: float = 5.0
    session_ttl_s: int = 12 * 3600
    #: where the dashboard's verdict buttons write (``kafka://HOST:PORT/TOPIC``; empty: off)
    verdicts_url: str = ""
    generated_tokens: tuple[str, ...] = field(default=(), compare=False)
    #: the browser origins allowed (derived from ``public_url`` and ``allowed_origins``)
    origins: frozenset[str] = field(default=frozenset(), init=False, compare=False)

    def __post_init__(self) -> None:
        generated = list(self.generated_tokens)
        for name in ("ingest_token", "view_token"):
            token = getattr(self, name)
            if not token:
                object.__setattr__(self, name, secrets.token_urlsafe(24))
                generated.append(name.removesuffix("_token"))
            elif len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(f"{name} must have at least {MIN_TOKEN_LENGTH} characters")
        object.__setattr__(self, "generated_tokens", tuple(dict.fromkeys(generated)))
        if self.ingest_token == self.view_token:
            raise ValueError("ingest_token and view_token must differ")
        if self.history_points < 2 or self.max_selected_keys < 1 or self.tick_s <= 0:
            raise ValueError("history_points >= 2, max_selected_keys >= 1 and tick_s > 0 required")
        if min(self.max_connections_per_client, self.max_connections_per_token,
               self.max_connections) < 1:
            raise ValueError("connection limits must be at least 1")
        if self.header_timeout_s <= 0 or self.keep_alive_timeout_s <= 0:
            raise ValueError("header_timeout_s and keep_alive_timeout_s must be positive")
        if self.max_header_bytes < 1024:
            raise ValueError("max_header_bytes must be at least 1024")
        try:
            origins = allowed_origins(self.public_url, self.allowed_origins)
        except ValueError as exc:
            raise ValueError(f"public_url / allowed_origins: {exc}") from None
        object.__setattr__(self, "origins", origins)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> DashboardSettings:
        """Build settings from ``environ`` (default ``os.environ``); ``overrides`` win
        when not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("generated_tokens", "origins"):
                continue
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            default = f.default
            if isinstance(default, bool):
                values[f.name] = raw.lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                values[f.name] = int(raw)
            elif isinstance(default, float):
                values[f.name] = float(raw)
            elif isinstance(default, tuple):
                values[f.name] = tuple(o.strip() for o in raw.split(",") if o.strip())
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_changes(self, **changes: Any) -> DashboardSettings:
        """A copy with ``changes`` applied (tokens are kept)."""
        return replace(self, **changes)
