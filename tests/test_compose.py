"""docker-compose.yml describes the production shape; Docker does not run
here, so its structure is checked instead."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_is_complete():
    services = _compose()["services"]
    assert {"kafka", "redis", "engine-0", "engine-1", "dashboard"} <= set(services)
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), name
        assert svc.get("ports"), f"{name} exposes no port"
        hc = svc.get("healthcheck")
        assert hc and hc.get("test"), f"{name} has no healthcheck"
        if name not in ("kafka", "redis"):
            assert svc.get("depends_on"), f"{name} has no depends_on"
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert cond["condition"] == "service_healthy"


def test_kafka_is_official_image_in_kraft_mode():
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "ZOOKEEPER" not in str(env)


def test_engine_processes_form_one_cluster():
    services = _compose()["services"]
    cmds = [services[f"engine-{i}"]["command"] for i in (0, 1)]
    addrs = {c[c.index("-a") + 1] for c in cmds}
    assert len(addrs) == 1
    assert [c[c.index("-i") + 1] for c in cmds] == ["0", "1"]
    for c in cmds:
        assert (ROOT / c[1]).is_file()
        assert "--recovery-dir" in c


def test_dockerfile_builds_the_package():
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install" in text and "ENTRYPOINT [\"pynomaly\"]" in text


def test_prometheus_scrapes_engines_and_dashboard():
    services = _compose()["services"]
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in prom["scrape_configs"] for sc in job["static_configs"]
               for t in sc["targets"]}
    for name in ("engine-0", "engine-1"):
        cmd = services[name]["command"]
        port = cmd[cmd.index("--metrics-port") + 1]
        assert f"{name}:{port}" in targets
        assert cmd[cmd.index("--metrics-host") + 1] == "0.0.0.0"
    assert any(t.startswith("dashboard:") for t in targets)
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "deploy/prometheus/prometheus.yml" in mounts


def test_grafana_dashboard_is_provisioned_and_queries_real_metrics():
    import json

    services = _compose()["services"]
    mounts = " ".join(services["grafana"]["volumes"])
    assert "deploy/grafana/provisioning" in mounts and "deploy/grafana/dashboards" in mounts
    board = json.loads((ROOT / "deploy/grafana/dashboards/pynomaly.json").read_text())
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    from prometheus_client import CollectorRegistry

    from pynomaly.observability.metrics import EngineMetrics

    reg = CollectorRegistry()
    EngineMetrics(reg)
    names = {m.name for m in reg.collect()}
    used = {n for n in names if n in exprs}
    assert used == names, f"metrics without a panel: {names - used}"
