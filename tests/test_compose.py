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
