"""The Starlette application of the live dashboard.

Routes
------
``GET /``                   the single-page app shell (no secrets in it)
``GET /sw.js``, ``/manifest.webmanifest``  service worker and web app manifest
``GET /static/...``         scripts, styles, icons, the vendored ECharts build
``GET /healthz``            liveness, public
``GET /readyz``             readiness (Redis answers when configured), public
``GET /metrics``            Prometheus counters (counts only), public
``POST /api/session``       exchange the view token (bearer) for a session cookie
``GET /api/session``        204 with a valid session, else 401
``GET /api/stats``          counters of ingest, fan-out and viewers (viewers only)
``GET /api/keys?q=``        key search (viewers only)
``GET /api/history/{key}``  backfill of one key (viewers only)
``WS /ws/view``             live frames to a viewer (origin check, session or bearer)
``WS /ws/ingest``, ``/ingest``  batches from the flow (bearer ingest token), see
                            :mod:`pynomaly.dashboard.protocol`

Refusals: a bad or missing token gets 401, an ``Origin`` other than the
configured public URL's (or an allowed one) 403, a connection over the limit per
client address, per credential or in all 429 (as WebSocket denial responses on
upgrades).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from pynomaly.dashboard.auth import (
    SESSION_COOKIE,
    bearer_token,
    make_session,
    session_valid,
    token_matches,
)
from pynomaly.dashboard.config import DashboardSettings
from pynomaly.dashboard.history import RedisHistory, merge_backfill
from pynomaly.dashboard.hub import Hub, encode
from pynomaly.dashboard.limits import ConnectionLimiter
from pynomaly.dashboard.metrics import dashboard_registry
from pynomaly.dashboard.origins import origin_allowed
from pynomaly.dashboard.responses import NO_STORE, deny
from pynomaly.dashboard.security import SecurityHeadersMiddleware
from pynomaly.dashboard.series import decimate
from pynomaly.dashboard.sockets import bounded_int, serve_ingest, serve_viewer
from pynomaly.dashboard.verdicts import VerdictPoster

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


class Dashboard:
    """Holds the hub, settings and admission state of one app instance."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        self.hub = Hub(settings)
        self.limiter = ConnectionLimiter(settings.max_connections_per_client,
                                         settings.max_connections_per_token,
                                         settings.max_connections)
        self.history: RedisHistory | None = None
        if settings.redis_url:
            self.history = RedisHistory(settings.redis_url, settings.redis_prefix,
                                        settings.history_points, settings.alert_history)
        self.ingest_connections = 0
        self.verdicts = VerdictPoster(settings.verdicts_url)
        self.metrics_registry = dashboard_registry(self.hub, self._metric_extras)

    def _metric_extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {"ingest_connections": self.ingest_connections}
        if self.history is not None:
            extras["redis_errors"] = self.history.errors
        return extras

    async def readyz(self, request: Request) -> Response:
        """Readiness: the fan-out loop is ticking and Redis (when configured)
        answers; 503 with a JSON body naming what is wrong otherwise."""
        checks: dict[str, Any] = {"hub": {"ok": True}}
        if self.history is not None:
            try:
                await asyncio.wait_for(self.history.client.ping(), timeout=2.0)
                checks["redis"] = {"ok": True}
            except Exception as exc:
                checks["redis"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        ready = all(c["ok"] for c in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics_registry), media_type=CONTENT_TYPE_LATEST,
                        headers=NO_STORE)

    # -------------------------------------------------------------- admission
    def viewer_authorized(self, conn: HTTPConnection) -> bool:
        token = bearer_token(conn.headers)
        if token is not None:
            return token_matches(token, self.settings.view_token)
        return session_valid(conn.cookies.get(SESSION_COOKIE), self.settings.view_token)

    @staticmethod
    def credential(conn: HTTPConnection) -> str:
        """What a connection authenticated with (bearer token, else session cookie);
        connections are also limited per credential."""
        return bearer_token(conn.headers) or conn.cookies.get(SESSION_COOKIE) or ""

    def refusal(self, ws: WebSocket, role: str) -> Response | None:
        """The denial response for an upgrade, or None when it may proceed."""
        origin = ws.headers.get("origin")
        if role == "ingest" and origin is not None and origin not in self.settings.allowed_origins:
            return deny(403, "ingest does not accept browser origins")
        if not origin_allowed(origin, self.settings.origins):
            return deny(403, "origin not allowed")
        if role == "ingest":
            if not token_matches(bearer_token(ws.headers), self.settings.ingest_token):
                return deny(401, "ingest token required")
        elif not self.viewer_authorized(ws):
            return deny(401, "view token or session required")
        return None

    # ------------------------------------------------------------- websockets
    async def ingest_endpoint(self, ws: WebSocket) -> None:
        await serve_ingest(self, ws)

    async def view_endpoint(self, ws: WebSocket) -> None:
        await serve_viewer(self, ws)

    async def key_history(self, key: str) -> dict[str, Any] | None:
        message = self.hub.history(key)
        if self.history is None or message is None:
            return message
        try:
            stored = await self.history.load(key)
        except Exception as exc:  # Redis down: backfill from memory
            log.warning("redis backfill of %r failed: %s", key, exc)
            return message
        s = self.hub.series[key]
        merged = merge_backfill(stored, s.columns(), self.settings.history_points)
        message["points"] = decimate(merged, self.settings.history_points)
        message["source"] = "redis" if stored is not None else "memory"
        return message

    # ------------------------------------------------------------------- http
    async def session(self, request: Request) -> Response:
        if request.method == "GET":
            ok = self.viewer_authorized(request)
            return Response(status_code=204 if ok else 401, headers=NO_STORE)
        if request.method == "DELETE":
            response = Response(status_code=204, headers=NO_STORE)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        if not origin_allowed(request.headers.get("origin"), self.settings.origins):
            return deny(403, "origin not allowed")
        if not token_matches(bearer_token(request.headers), self.settings.view_token):
            return deny(401, "view token required")
        response = Response(status_code=204, headers=NO_STORE)
        response.set_cookie(SESSION_COOKIE, make_session(self.settings.view_token,
                                                         self.settings.session_ttl_s),
                            max_age=self.settings.session_ttl_s, path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    async def stats(self, request: Request) -> Response:
        if not self.viewer_authorized(request):
            return deny(401, "view token or session required")
        hub = self.hub
        body = {"counters": hub.counters, "overview": hub.overview(), "keys": len(hub.series),
                "ingest_connections": self.ingest_connections,
                "connections_refused": self.limiter.refused,
                "viewers": [v.counters() | {"id": v.id, "selected": list(v.selected)}
                            for v in hub.viewers],
                "redis_errors": self.history.errors if self.history else None}
        return Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)

    async def keys(self, request: Request) -> Response:
        if not self.viewer_authorized(request):
            return deny(401, "view token or session required")
        limit = bounded_int(request.query_params.get("limit"), 50, 200)
        items = self.hub.search(request.query_params.get("q", ""), limit)
        return Response(orjson.dumps({"total": len(self.hub.series), "items": items}),
                        media_type="application/json", headers=NO_STORE)

    async def key_history_http(self, request: Request) -> Response:
        if not self.viewer_authorized(request):
            return deny(401, "view token or session required")
        message = await self.key_history(request.path_params["key"])
        if message is None:
            return deny(404, "unknown key")
        return Response(encode(message), media_type="application/json", headers=NO_STORE)

    # -------------------------------------------------------------- lifecycle
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.history is not None:
            try:
                await self.history.restore(self.hub)
            except Exception as exc:
                log.warning("could not restore history from redis: %s", exc)
        tasks = [asyncio.create_task(self._every(self.settings.tick_s, self._tick))]
        if self.history is not None:
            tasks.append(asyncio.create_task(self._every(self.settings.redis_flush_s, self._flush)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.history is not None:
                await self._flush()
                await self.history.close()

    async def _tick(self) -> None:
        self.hub.tick()

    async def _flush(self) -> None:
        assert self.history is not None
        await self.history.flush(self.hub)

    @staticmethod
    async def _every(interval: float, action: Any) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += interval
            try:
                await action()
            except Exception:
                log.exception("dashboard periodic task failed")
            await asyncio.sleep(max(0.0, next_at - loop.time()))


def _static_file(
    name: str, media_type: str | None = None, cache: str = "no-cache"
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return FileResponse(STATIC / name, media_type=media_type, headers={"cache-control": cache})

    return endpoint


def create_app(settings: DashboardSettings | None = None) -> Starlette:
    """Build the dashboard app; ``settings`` default to :meth:`DashboardSettings.from_env`.

    The :class:`Dashboard` instance is reachable as ``app.state.dashboard``.
    """
    dash = Dashboard(settings or DashboardSettings.from_env())
    routes = [
        Route("/", _static_file("index.html", "text/html")),
        Route("/sw.js", _static_file("sw.js", "text/javascript")),
        Route("/manifest.webmanifest", _static_file("manifest.webmanifest",
                                                     "application/manifest+json")),
        Route("/healthz", lambda request: JSONResponse({"ok": True})),
        Route("/readyz", dash.readyz),
        Route("/metrics", dash.metrics),
        Route("/api/session", dash.session, methods=["GET", "POST", "DELETE"]),
        Route("/api/stats", dash.stats),
        Route("/api/keys", dash.keys),
        Route("/api/history/{key:path}", dash.key_history_http),
        WebSocketRoute("/ws/view", dash.view_endpoint),
        WebSocketRoute("/ws/ingest", dash.ingest_endpoint),
        WebSocketRoute("/ingest", dash.ingest_endpoint),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeadersMiddleware)],
                    lifespan=dash.lifespan)
    app.state.dashboard = dash
    return app
