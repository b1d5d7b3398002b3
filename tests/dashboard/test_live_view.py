"""The flow side against a real served dashboard (uvicorn on loopback): the publisher
never blocks, counts drops, reconnects, reports refusals; a stalled viewer never
slows ingest; history survives a restart through Redis."""

from __future__ import annotations

import socket
import time

import orjson
import pytest
from dashboard_support import INGEST_TOKEN, VIEW_TOKEN
from websockets.sync.client import connect

from pynomaly.connectors.live_view import LiveViewPublisher
from pynomaly.dashboard.server import DashboardServer, free_port


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def points(n: int, keys: int, start: int = 0) -> list[dict]:
    return [{"type": "point", "key": f"key-{i % keys}", "ts": float(start + i), "value": float(i % 97),
             "score": float(i % 13), "threshold": 12.0} for i in range(n)]


def test_publisher_delivers_batches(served):
    hub = served.app.state.dashboard.hub
    with LiveViewPublisher(served.ingest_url, INGEST_TOKEN, max_batch=500) as pub:
        for k in range(20):
            pub.publish_batch(points(1000, keys=50, start=k * 1000))
        assert pub.flush(10.0)
        wait_for(lambda: hub.counters["points"] == 20_000)
        stats = pub.stats()
    assert stats["sent"] == 20_000 and stats["dropped"] == 0
    assert stats["batches"] >= 40
    assert len(hub.series) == 50 and hub.counters["seq_gaps"] == 0


def test_publisher_never_blocks_and_counts_drops_while_dashboard_is_away(settings):
    port = free_port()
    pub = LiveViewPublisher(f"ws://127.0.0.1:{port}/ws/ingest", INGEST_TOKEN, max_queue=5_000,
                            max_backoff_s=0.2)
    try:
        started = time.perf_counter()
        for k in range(10):
            pub.publish_batch(points(1_000, keys=10, start=k * 1000))
        assert time.perf_counter() - started < 1.0  # never waits for the network
        assert pub.stats()["dropped"] == 5_000 and pub.stats()["queued"] == 5_000
        wait_for(lambda: pub.stats()["reconnects"] >= 2)
        with DashboardServer(settings, port=port) as server:  # the dashboard comes up late
            hub = server.app.state.dashboard.hub
            wait_for(lambda: hub.counters["points"] == 5_000)
            wait_for(lambda: hub.counters["publisher_dropped"] == 5_000)  # told in the batch
    finally:
        pub.close(timeout=2.0)


def test_publisher_reports_refused_token(served):
    pub = LiveViewPublisher(served.ingest_url, "not-the-ingest-token", max_backoff_s=0.2)
    try:
        pub.publish_batch(points(10, keys=1))
        wait_for(lambda: pub.stats()["last_error"] is not None and "401" in pub.stats()["last_error"])
        assert served.app.state.dashboard.hub.counters["points"] == 0
    finally:
        pub.close(timeout=1.0)


def test_stalled_viewer_does_not_slow_ingest(settings):
    """A viewer whose socket is never read: ingest keeps pace, the viewer's frames are skipped."""
    # large frames (no decimation) fill the socket buffers of the stalled viewer quickly
    settings = settings.with_changes(history_points=4000, max_points_per_frame=4000)
    with DashboardServer(settings) as served:
        _stalled_viewer(served)


def _stalled_viewer(served):
    dash = served.app.state.dashboard
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    stalled.connect(("127.0.0.1", served.port))
    stalled.sendall(
        b"GET /ws/view HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        + f"Authorization: Bearer {VIEW_TOKEN}\r\n\r\n".encode())
    try:
        assert stalled.recv(12) == b"HTTP/1.1 101"
        wait_for(lambda: len(dash.hub.viewers) == 1)
        viewer = next(iter(dash.hub.viewers))
        viewer.selected.update({f"key-{i}": 0 for i in range(8)})  # as if it had selected 8 keys
        sent = 0
        with LiveViewPublisher(served.ingest_url, INGEST_TOKEN) as pub:
            deadline = time.monotonic() + 30
            while viewer.frames_skipped == 0 and time.monotonic() < deadline:
                pub.publish_batch(points(1000, keys=8, start=sent))
                sent += 1000
                time.sleep(0.02)
            assert viewer.frames_skipped > 0, "the stalled viewer's outbox never filled"
            assert pub.flush(20.0)
            wait_for(lambda: dash.hub.counters["points"] == sent, timeout=20)
            assert pub.stats()["dropped"] == 0
        with connect(f"ws://127.0.0.1:{served.port}/ws/view", proxy=None,
                     additional_headers={"Authorization": f"Bearer {VIEW_TOKEN}"}) as healthy:
            assert orjson.loads(healthy.recv(timeout=5))["type"] == "welcome"
            assert orjson.loads(healthy.recv(timeout=5))["type"] == "frame"
    finally:
        stalled.close()


@pytest.mark.redis
def test_backfill_from_redis_after_restart(settings, redis_server):
    settings = settings.with_changes(redis_url=redis_server, redis_prefix=f"t{time.time_ns()}",
                                     redis_flush_s=0.5)
    alert = {"type": "alert", "id": "a1", "key": "key-3", "event_time": 150.0, "score": 30.0,
             "explanation": {"value": 1.0}}
    with DashboardServer(settings) as first, LiveViewPublisher(first.ingest_url, INGEST_TOKEN) as pub:
        pub.publish_batch([*points(400, keys=5), alert])
        assert pub.flush(5.0)
        hub = first.app.state.dashboard.hub
        wait_for(lambda: hub.counters["points"] == 400 and hub.counters["alerts"] == 1)
        time.sleep(1.0)  # a flush to Redis while running (shutdown flushes too)
    with DashboardServer(settings) as second:  # a fresh process-worth of memory
        dash = second.app.state.dashboard
        assert "key-3" in dash.hub.series and dash.hub.series["key-3"].total == 0
        assert [a["id"] for a in dash.hub.alerts] == ["a1"]
        import httpx

        response = httpx.get(f"{second.base_url}/api/history/key-3",
                             headers={"authorization": f"Bearer {VIEW_TOKEN}"})
        body = response.json()
        assert response.status_code == 200 and body["source"] == "redis"
        assert body["points"]["t"] == [float(i) for i in range(3, 400, 5)]


def test_publisher_never_blocks_on_a_hung_dashboard():
    """A peer that accepts TCP connections and never answers (fault injection)."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    port = hung.getsockname()[1]
    pub = LiveViewPublisher(f"ws://127.0.0.1:{port}/ws/ingest", INGEST_TOKEN, max_queue=10_000,
                            open_timeout_s=0.5, max_backoff_s=0.2)
    try:
        started = time.perf_counter()
        for k in range(50):
            pub.publish_batch(points(1_000, keys=10, start=k * 1000))
        assert time.perf_counter() - started < 1.0
        assert pub.stats()["dropped"] == 40_000 and pub.stats()["sent"] == 0
        wait_for(lambda: pub.stats()["last_error"] is not None)
        assert "Timeout" in pub.stats()["last_error"]
    finally:
        pub.close(timeout=2.0)
        hung.close()


@pytest.mark.redis
def test_redis_outage_keeps_points_dirty_and_retries_without_duplicates():
    import asyncio

    from services import RedisServer

    from pynomaly.dashboard.config import DashboardSettings
    from pynomaly.dashboard.history import RedisHistory
    from pynomaly.dashboard.hub import Hub
    from pynomaly.dashboard.protocol import Batch

    server = RedisServer().start()
    port = server._port
    hub = Hub(DashboardSettings(ingest_token=INGEST_TOKEN, view_token=VIEW_TOKEN))
    history = RedisHistory(server.url, "outage", history_points=240, alert_history=10)

    async def scenario() -> tuple[int, list[float]]:
        hub.ingest(Batch(1, None, events=points(10, keys=1)))
        assert await history.flush(hub) == 1
        server.stop()  # Redis goes away
        hub.ingest(Batch(2, None, events=points(5, keys=1, start=10)))
        assert await history.flush(hub) == 0
        assert history.errors == 1 and hub.dirty == {"key-0"}
        again = RedisServer(port=port).start()  # back, empty, on the same port
        try:
            written = await history.flush(hub)
            stored = await history.load("key-0")
        finally:
            await history.close()
            again.stop()
        return written, stored["t"].tolist()

    written, times = asyncio.run(scenario())
    assert written == 1
    assert times == [10.0, 11.0, 12.0, 13.0, 14.0]  # exactly the points the outage held back
