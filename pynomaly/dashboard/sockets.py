"""The two WebSocket endpoints: ``/ws/ingest`` (batches from flows) and ``/ws/view``
(frames to viewers, requests from them).

Each connection is admitted by :meth:`Dashboard.refusal` (401/403 as HTTP denial
responses) and the connection limiter (429: per client address, per credential,
in all) before it is accepted.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from pynomaly.dashboard.hub import encode
from pynomaly.dashboard.protocol import PROTOCOL_VERSION, ProtocolError, decode_batch
from pynomaly.dashboard.responses import client_address, deny
from pynomaly.dashboard.viewer import Viewer, ViewerOverflow

if TYPE_CHECKING:
    from pynomaly.dashboard.app import Dashboard

_publisher_ids = itertools.count(1)


async def _admit(dash: Dashboard, ws: WebSocket, role: str) -> tuple[str, str] | None:
    """(client address, credential) when the upgrade may proceed; else refuse it
    and return None."""
    denial = dash.refusal(ws, role)
    if denial is not None:
        await ws.send_denial_response(denial)
        return None
    client, credential = client_address(ws), dash.credential(ws)
    reason = dash.limiter.acquire(role, client, credential)
    if reason is not None:
        await ws.send_denial_response(deny(429, reason))
        return None
    return client, credential


async def serve_ingest(dash: Dashboard, ws: WebSocket) -> None:
    """Receive batches until the publisher goes; count sequence gaps and its drops."""
    admitted = await _admit(dash, ws, "ingest")
    if admitted is None:
        return
    client = admitted[0]
    hub = dash.hub
    source = f"{client}#{next(_publisher_ids)}"
    last_seq: int | None = None
    last_dropped = 0
    accepted = False
    try:
        await ws.accept()
        accepted = True
        dash.ingest_connections += 1
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes") or message.get("text") or b""
            try:
                batch = decode_batch(data)
            except ProtocolError as exc:
                hub.counters["protocol_errors"] += 1
                if "version" in str(exc):
                    await ws.close(code=1008, reason=f"protocol version {PROTOCOL_VERSION} only")
                    break
                continue
            if last_seq is not None and batch.seq > last_seq + 1:
                hub.counters["seq_gaps"] += batch.seq - last_seq - 1
            last_seq = batch.seq
            if batch.dropped > last_dropped:
                hub.counters["publisher_dropped"] += batch.dropped - last_dropped
                last_dropped = batch.dropped
            hub.ingest(batch, source)
    except WebSocketDisconnect:
        pass
    finally:
        if accepted:
            dash.ingest_connections -= 1
        dash.limiter.release("ingest", *admitted)


async def serve_viewer(dash: Dashboard, ws: WebSocket) -> None:
    """Welcome a viewer, answer its requests; frames reach it through its outbox."""
    admitted = await _admit(dash, ws, "view")
    if admitted is None:
        return
    viewer = Viewer(dash.settings.viewer_queue_frames, admitted[0])
    sender: asyncio.Task[None] | None = None
    try:
        await ws.accept()
        viewer.push_control(encode(dash.hub.attach(viewer)))
        sender = asyncio.create_task(_send_loop(ws, viewer))
        while True:
            text = await ws.receive_text()
            try:
                request = orjson.loads(text)
            except orjson.JSONDecodeError:
                await ws.close(code=1003, reason="requests must be JSON")
                break
            if isinstance(request, dict):
                await handle_request(dash, viewer, request)
    except (WebSocketDisconnect, ViewerOverflow, RuntimeError):
        pass
    finally:
        if sender is not None:
            sender.cancel()
        dash.hub.detach(viewer)
        dash.limiter.release("view", *admitted)


def bounded_int(value: Any, default: int, maximum: int) -> int:
    """``value`` as an int in ``1..maximum``; ``default`` when it is not a number.

    >>> bounded_int("20", 50, 200), bounded_int("x", 50, 200), bounded_int(10**9, 50, 200)
    (20, 50, 200)
    """
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(number, maximum))


async def handle_request(dash: Dashboard, viewer: Viewer, request: dict[str, Any]) -> None:
    """One viewer request: ``select``, ``search``, ``verdict``, ``pause`` or ``resume``."""
    op = request.get("op")
    hub = dash.hub
    if op == "select":
        wanted = request.get("keys")
        keys = [str(k) for k in wanted if isinstance(k, str | int)] if isinstance(wanted, list) else []
        keys = list(dict.fromkeys(keys))[: dash.settings.max_selected_keys]
        for key in list(viewer.selected):
            if key not in keys:
                del viewer.selected[key]
        for key in keys:
            if key not in viewer.selected:
                await backfill(dash, viewer, key)
    elif op == "search":
        limit = bounded_int(request.get("limit"), 50, 200)
        query = str(request.get("q") or "")[:200]
        viewer.push_control(encode({"type": "keys", "q": query, "total": len(hub.series),
                                    "items": hub.search(query, limit)}))
    elif op == "verdict":
        viewer.push_control(encode(await dash.verdicts.post(request)))
    elif op == "pause":
        viewer.paused = True
    elif op == "resume" and viewer.paused:
        viewer.paused = False
        viewer.push_control(encode(hub.attach(viewer)))
        for key in list(viewer.selected):
            await backfill(dash, viewer, key)


async def backfill(dash: Dashboard, viewer: Viewer, key: str) -> None:
    """Send ``key``'s recent history to ``viewer`` and stream it from there on."""
    message = await dash.key_history(key)
    s = dash.hub.series.get(key)
    viewer.selected[key] = s.total if s is not None else 0
    viewer.push_control(encode(message or {"type": "history", "key": key, "missing": True}))


async def _send_loop(ws: WebSocket, viewer: Viewer) -> None:
    try:
        while True:
            message = await viewer.next_message()
            viewer.bytes_sent += len(message)
            await ws.send_text(message.decode())
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
