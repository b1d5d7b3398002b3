"""Liveness, readiness and metrics of the dashboard process."""

from dataclasses import replace

from starlette.testclient import TestClient

from pynomaly.dashboard.app import create_app


def test_healthz_readyz_metrics_without_redis(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json() == {"ready": True, "checks": {"hub": {"ok": True}}}
        assert client.get("/metrics").status_code == 200


def test_readyz_names_an_unreachable_redis(settings, free_port):
    bad = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(bad)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["ready"] is False and body["checks"]["redis"]["ok"] is False
        assert "error" in body["checks"]["redis"]


def test_readyz_with_a_real_redis(settings, redis_server):
    with TestClient(create_app(replace(settings, redis_url=redis_server))) as client:
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["redis"] == {"ok": True}
