"""HTTP and WebSocket behaviour of the dashboard app, through Starlette's TestClient:
authentication (401), origin checks (403), connection limits (429), security headers,
the viewer protocol and the ingest protocol."""

from __future__ import annotations

import time
import warnings

import orjson
import pytest
from dashboard_support import INGEST_TOKEN, VIEW_TOKEN
from starlette.websockets import WebSocketDisconnect

from pynomaly.dashboard.app import create_app
from pynomaly.dashboard.auth import SESSION_COOKIE
from pynomaly.dashboard.protocol import encode_batch

with warnings.catch_warnings():  # starlette prefers httpx2 for its test client
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient, WebSocketDenialResponse

VIEW = {"authorization": f"Bearer {VIEW_TOKEN}"}
INGEST = {"authorization": f"Bearer {INGEST_TOKEN}"}
SAME_ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(settings):
    # the test client's requests go to http://testserver: that is the public URL here
    with TestClient(create_app(settings.with_changes(public_url="http://testserver"))) as c:
        yield c


def points(key: str, n: int, start: float = 0.0, spike_at: int | None = None) -> list[dict]:
    return [{"type": "point", "key": key, "ts": start + i, "value": 50.0 if i == spike_at else 1.0,
             "score": 0.1 * i, "probability": 0.5, "threshold": 3.0} for i in range(n)]


def ingest(client: TestClient, events: list[dict], seq: int = 1, dropped: int = 0) -> None:
    with client.websocket_connect("/ws/ingest", headers=INGEST) as ws:
        ws.send_bytes(encode_batch(events, seq=seq, dropped=dropped))


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def receive_until(ws, kind: str, limit: int = 100) -> dict:
    for _ in range(limit):
        message = orjson.loads(ws.receive_text())
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


# -- pages and headers ------------------------------------------------------------
def test_page_has_security_headers_and_no_secrets(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    for path in ("/", "/static/app.js", "/sw.js", "/manifest.webmanifest"):
        body = client.get(path).text
        assert VIEW_TOKEN not in body and INGEST_TOKEN not in body
    assert "cdn" not in client.get("/").text.lower()


def test_static_assets_are_local(client):
    assert client.get("/static/vendor/echarts/echarts.min.js").status_code == 200
    assert client.get("/static/vendor/echarts/LICENSE").status_code == 200
    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert {i["sizes"] for i in manifest.json()["icons"]} >= {"192x192", "512x512"}
    assert client.get("/sw.js").headers["content-type"].startswith("text/javascript")


# -- viewer authentication ---------------------------------------------------------
def test_session_exchange(client):
    assert client.post("/api/session").status_code == 401
    assert client.post("/api/session", headers={"authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
    assert client.post("/api/session", headers=INGEST).status_code == 401  # the ingest token is not a view token
    assert client.post("/api/session", headers=VIEW | {"origin": "http://evil.example"}).status_code == 403
    assert client.get("/api/session").status_code == 401
    response = client.post("/api/session", headers=VIEW | SAME_ORIGIN)
    assert response.status_code == 204
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert VIEW_TOKEN.lower() not in cookie
    assert client.get("/api/session").status_code == 204
    assert client.get("/api/stats").status_code == 200


def test_forged_session_cookie_is_refused(client):
    client.cookies.set(SESSION_COOKIE, f"{int(time.time()) + 999}.{'0' * 64}")
    assert client.get("/api/stats").status_code == 401
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws/view", headers=SAME_ORIGIN).__enter__()
    assert denied.value.status_code == 401


@pytest.mark.parametrize("path", ["/api/stats", "/api/keys", "/api/history/a"])
def test_api_requires_viewer(client, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers=INGEST).status_code == 401


def test_viewer_websocket_401_without_token(client):
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws/view").__enter__()
    assert denied.value.status_code == 401
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws/view", headers=INGEST).__enter__()
    assert denied.value.status_code == 401


def test_viewer_websocket_403_on_forged_origin(client):
    for origin in ("http://evil.example", "http://testserver.evil.example", "null"):
        with pytest.raises(WebSocketDenialResponse) as denied:
            client.websocket_connect("/ws/view", headers=VIEW | {"origin": origin}).__enter__()
        assert denied.value.status_code == 403
    with client.websocket_connect("/ws/view", headers=VIEW | SAME_ORIGIN) as ws:
        assert receive_until(ws, "welcome")["limits"]["max_selected_keys"] == 8


def test_viewer_with_cookie_session(client):
    client.post("/api/session", headers=VIEW | SAME_ORIGIN)
    with client.websocket_connect("/ws/view", headers=SAME_ORIGIN) as ws:
        assert receive_until(ws, "welcome")["type"] == "welcome"


def test_connection_limit_per_client(client, settings):
    limit = settings.max_connections_per_client
    opened = [client.websocket_connect("/ws/view", headers=VIEW) for _ in range(limit)]
    for ws in opened:
        ws.__enter__()
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws/view", headers=VIEW).__enter__()
    assert denied.value.status_code == 429
    opened[0].__exit__(None, None, None)
    wait_for(lambda: client.app.state.dashboard.limiter.open_count("view") < limit)
    with client.websocket_connect("/ws/view", headers=VIEW) as ws:
        receive_until(ws, "welcome")
    for ws in opened[1:]:
        ws.__exit__(None, None, None)


# -- ingest ---------------------------------------------------------------------------
def test_ingest_401_and_403(client):
    for headers in ({}, VIEW, {"authorization": "Bearer " + "x" * 30}, {"authorization": INGEST_TOKEN}):
        with pytest.raises(WebSocketDenialResponse) as denied:
            client.websocket_connect("/ws/ingest", headers=headers).__enter__()
        assert denied.value.status_code == 401
    with pytest.raises(WebSocketDenialResponse) as denied:  # a browser page must never feed the hub
        client.websocket_connect("/ws/ingest", headers=INGEST | SAME_ORIGIN).__enter__()
    assert denied.value.status_code == 403


def test_ingest_counts_rejects_gaps_and_publisher_drops(client):
    hub = client.app.state.dashboard.hub
    with client.websocket_connect("/ws/ingest", headers=INGEST) as ws:
        ws.send_bytes(encode_batch([*points("a", 3), {"type": "point", "key": "", "ts": 1},
                                    {"type": "nope"}, "junk"], seq=1))
        ws.send_bytes(b"not json")
        ws.send_bytes(encode_batch(points("a", 2, start=3), seq=4, dropped=7))
        ws.send_text(encode_batch([{"type": "stats", "events_per_s": 10, "lag_s": 0.5,
                                    "sinks": {"kafka": "ok", "redis": "down"}}], seq=5).decode())
    wait_for(lambda: hub.counters["stats"] == 1)
    assert hub.counters["points"] == 5
    assert hub.counters["rejected"] == 3
    assert hub.counters["protocol_errors"] == 1
    assert hub.counters["seq_gaps"] == 2
    assert hub.counters["publisher_dropped"] == 7
    assert hub.flow_stats["sinks"] == {"kafka": "ok", "redis": "failing"}


def test_ingest_refuses_other_protocol_version(client):
    with client.websocket_connect("/ws/ingest", headers=INGEST) as ws:
        ws.send_bytes(orjson.dumps({"v": 99, "seq": 1, "events": []}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1008


# -- the viewer protocol ----------------------------------------------------------------
def test_select_backfills_then_streams_decimated(settings):
    settings = settings.with_changes(history_points=4000, max_points_per_frame=100)
    with TestClient(create_app(settings)) as client:
        _backfill_then_stream(client, settings)


def _backfill_then_stream(client, settings):
    ingest(client, points("k1", 50) + points("k2", 5))
    hub = client.app.state.dashboard.hub
    wait_for(lambda: hub.counters["points"] == 55)
    with client.websocket_connect("/ws/view", headers=VIEW) as ws:
        receive_until(ws, "welcome")
        ws.send_text(orjson.dumps({"op": "select", "keys": ["k1", "missing-key"]}).decode())
        history = receive_until(ws, "history")
        assert history["key"] == "k1" and len(history["points"]["t"]) == 50
        assert receive_until(ws, "history") == {"type": "history", "key": "missing-key", "missing": True}
        burst = points("k1", 2000, start=1000, spike_at=1234)
        ingest(client, burst)
        got: list[float] = []
        for _ in range(200):
            frame = receive_until(ws, "frame")
            pts = frame["points"].get("k1")
            if pts:
                assert len(pts["t"]) <= settings.max_points_per_frame
                got += pts["t"]
                if pts["t"][-1] == 2999:
                    break
        assert 2234.0 in got  # the spike survives decimation
        assert len(got) < 2000
        assert "k2" not in frame["points"]  # only selected keys stream
        viewer = next(iter(client.app.state.dashboard.hub.viewers))
        assert viewer.points_missed == 0


def test_search_pause_and_resume(client):
    ingest(client, points("host-a", 3) + points("host-b", 3) + points("db-1", 3))
    with client.websocket_connect("/ws/view", headers=VIEW) as ws:
        receive_until(ws, "welcome")
        ws.send_text('{"op": "search", "q": "HOST"}')
        keys = receive_until(ws, "keys")
        assert sorted(k["key"] for k in keys["items"]) == ["host-a", "host-b"]
        assert keys["total"] == 3
        ws.send_text('{"op": "select", "keys": ["db-1"]}')
        receive_until(ws, "history")
        ws.send_text('{"op": "pause"}')
        viewer = next(iter(client.app.state.dashboard.hub.viewers))
        wait_for(lambda: viewer.paused)
        sent = viewer.frames_sent
        time.sleep(0.35)
        assert viewer.frames_sent <= sent + 1  # at most the frame already queued
        ws.send_text('{"op": "resume"}')
        assert receive_until(ws, "welcome")["type"] == "welcome"
        assert receive_until(ws, "history")["key"] == "db-1"


def test_alert_reaches_viewer_with_explanation(client):
    with client.websocket_connect("/ws/view", headers=VIEW) as ws:
        receive_until(ws, "welcome")
        ingest(client, [{"type": "alert", "id": "a1", "flow": "f", "key": "k",
                         "event_time": "2026-01-01T00:00:00.000Z", "emit_time": "2026-01-01T00:00:01.000Z",
                         "values": {"cpu": 0.99}, "score": 9.5, "probability": 0.9999, "threshold": 8.0,
                         "detector": "robust_zscore", "explanation": {"cpu": 0.8, "mem": 0.2},
                         "schema_version": 1}])
        for _ in range(100):
            frame = receive_until(ws, "frame")
            if frame.get("alerts"):
                break
        (alert,) = frame["alerts"]
        assert alert["explanation"] == {"cpu": 0.8, "mem": 0.2}
        assert alert["event_time"] == 1767225600000.0


def test_malformed_viewer_requests_do_not_break_the_connection(client):
    ingest(client, points("a", 2))
    with client.websocket_connect("/ws/view", headers=VIEW) as ws:
        receive_until(ws, "welcome")
        for bad in ('{"op": "search", "q": "a", "limit": "lots"}', '{"op": "select", "keys": "a"}',
                    '{"op": "select", "keys": [null, {"k": 1}]}', '[1, 2]', '{"op": "nope"}'):
            ws.send_text(bad)
        ws.send_text('{"op": "search", "q": "a"}')
        assert [k["key"] for k in receive_until(ws, "keys")["items"]] == ["a"]
        ws.send_text("not json")
        with pytest.raises(WebSocketDisconnect) as closed:
            for _ in range(50):
                ws.receive_text()
    assert closed.value.code == 1003
    assert client.get("/api/keys?limit=abc", headers=VIEW).status_code == 200


def test_prometheus_metrics(client):
    ingest(client, [*points("a", 3), {"type": "point", "key": "", "ts": 1}], seq=1, dropped=2)
    hub = client.app.state.dashboard.hub
    wait_for(lambda: hub.counters["points"] == 3)
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'pynomaly_dashboard_events_total{type="points"} 3.0' in text
    assert 'pynomaly_dashboard_lost_events_total{reason="rejected"} 1.0' in text
    assert 'pynomaly_dashboard_lost_events_total{reason="publisher_dropped"} 2.0' in text
    assert "pynomaly_dashboard_keys 1.0" in text
    assert VIEW_TOKEN not in text and INGEST_TOKEN not in text and '"a"' not in text


def test_drift_reaches_feed_and_key_history(client):
    ingest(client, points("k", 3))
    with client.websocket_connect("/ws/view", headers=VIEW) as ws:
        receive_until(ws, "welcome")
        ws.send_text('{"op": "select", "keys": ["k"]}')
        receive_until(ws, "history")
        ingest(client, [{"type": "drift", "key": "k", "ts": "2026-01-01T00:00:00Z", "monitor": "adwin",
                         "detail": {"stream": "score"}},
                        {"type": "drift", "key": None, "ts": 5, "monitor": "page_hinkley"}])
        for _ in range(100):
            frame = receive_until(ws, "frame")
            if frame.get("drift"):
                break
        assert [d["monitor"] for d in frame["drift"]] == ["adwin", "page_hinkley"]
        assert frame["drift"][0]["ts"] == 1767225600000.0
        ws.send_text('{"op": "select", "keys": []}')
        ws.send_text('{"op": "select", "keys": ["k"]}')
        history = receive_until(ws, "history")
    assert history["drift"] == [{"t": 1767225600000.0, "monitor": "adwin"}]


def test_stats_of_several_workers_are_combined(client):
    hub = client.app.state.dashboard.hub
    stats = [{"type": "stats", "events_per_s": 100.0, "lag_s": 1.0, "alert_rate": 0.0,
              "active_keys": 5, "drift_events": 0, "sinks": {"kafka": "ok"}},
             {"type": "stats", "events_per_s": 300.0, "lag_s": 4.0, "alert_rate": 0.02,
              "active_keys": 7, "drift_events": 1, "sinks": {"kafka": "failing"}}]
    with client.websocket_connect("/ws/ingest", headers=INGEST) as w0, \
            client.websocket_connect("/ws/ingest", headers=INGEST) as w1:
        w0.send_bytes(encode_batch([stats[0]], seq=1))
        w1.send_bytes(encode_batch([stats[1]], seq=1))
        wait_for(lambda: hub.counters["stats"] == 2)
    combined = hub.flow_stats
    assert combined["events_per_s"] == 400.0 and combined["active_keys"] == 12.0
    assert combined["lag_s"] == 4.0 and combined["alert_rate"] == pytest.approx(0.015)
    assert combined["sinks"] == {"kafka": "failing"} and combined["sources"] == 2
