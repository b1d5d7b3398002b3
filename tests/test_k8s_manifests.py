"""deploy/k8s/: valid against the Kubernetes schemas (kubernetes-validate's
offline copies, strict: unknown fields fail), and consistent with each other
and with what ``pynomaly run`` accepts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from pynomaly.cli.main import build_parser
from pynomaly.spec import parse_spec

K8S = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
VERSIONS = ["1.30.0", "1.37.0"]  # pod-index label: 1.28+


def _docs() -> list[dict]:
    return [d for f in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]


def _one(kind: str) -> dict:
    (doc,) = [d for d in _docs() if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schema(version):
    docs = _docs()
    assert {d["kind"] for d in docs} == {"ConfigMap", "Service", "StatefulSet"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_a_broken_manifest_is_refused():
    sts = _one("StatefulSet")
    sts["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, VERSIONS[-1], strict=True)


def _engine_args(sts: dict, index: int) -> tuple[dict, object]:
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    args = [a.replace("$(POD_INDEX)", str(index)) for a in container["args"]]
    return container, build_parser().parse_args(args)


def test_cluster_addresses_are_the_statefulset_pods_through_the_headless_service():
    sts, svc = _one("StatefulSet"), _one("Service")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"]
    assert sts["spec"]["serviceName"] == svc["metadata"]["name"]
    assert svc["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    replicas = sts["spec"]["replicas"]
    container, args = _engine_args(sts, 1)
    assert args.process_id == 1 and args.workers == 1
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    name, service = sts["metadata"]["name"], svc["metadata"]["name"]
    assert args.addresses.split(";") == [
        f"{name}-{i}.{service}:{ports['cluster']}" for i in range(replicas)]
    (index_env,) = [e for e in container["env"] if e["name"] == "POD_INDEX"]
    assert index_env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']")


def test_probes_recovery_volume_and_flow_spec_fit_the_engine():
    sts, cm = _one("StatefulSet"), _one("ConfigMap")
    container, args = _engine_args(sts, 0)
    metrics = {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"]
    assert args.metrics_port == metrics and args.metrics_host == "0.0.0.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > args.shutdown_timeout
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    assert "recovery" in claims and args.recovery_dir.startswith(mounts["recovery"] + "/")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["flow"]["configMap"]["name"] == cm["metadata"]["name"]
    spec_file = Path(args.target)
    assert str(spec_file.parent) == mounts["flow"]
    spec = parse_spec(yaml.safe_load(cm["data"][spec_file.name]), "configmap")
    assert spec.source.type == "kafka"


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    return int(float(quantity[:-2]) * units[quantity[-2:]]) if quantity[-2:] in units \
        else int(quantity)


_CHECK = """
import json, sys
from pynomaly.runtime.plan import MemoryRefused, check_memory
from pynomaly.spec import parse_spec
spec, keys, sizing = json.loads(sys.argv[1])
try:
    check_memory(parse_spec(spec, "configmap"), keys, **sizing)
except MemoryRefused as exc:
    print("refused", exc)
else:
    print("fits")
"""


def _pod_check(spec: dict, keys: int, sizing: dict, limit: int) -> str:
    """``check_memory`` as a pod's ``pynomaly run`` calls it at start, in a fresh
    process: the estimate counts the process's own resident memory, and this
    test session's is far larger than a flow process's."""
    from pynomaly.runtime.plan import MEMORY_LIMIT_ENV

    proc = subprocess.run([sys.executable, "-c", _CHECK, json.dumps([spec, keys, sizing])],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, MEMORY_LIMIT_ENV: str(limit)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_flow_at_its_key_cap_fits_the_pods_memory_limit():
    """What each pod's ``pynomaly run`` checks at start: the flow at its
    keys.max_keys, spread over the pods, with a recovery snapshot's copy,
    within the container's memory limit (and four times the keys would not)."""
    from pynomaly.runtime.plan import key_limit, processes_here

    sts, cm = _one("StatefulSet"), _one("ConfigMap")
    container, args = _engine_args(sts, 0)
    raw = yaml.safe_load(cm["data"][Path(args.target).name])
    limit = _bytes(container["resources"]["limits"]["memory"])
    addresses = args.addresses.split(";")
    sizing = {"processes": len(addresses), "colocated": processes_here(addresses, 0),
              "recovery": bool(args.recovery_dir)}
    keys = key_limit(parse_spec(raw, "configmap"))
    assert keys is not None
    assert _pod_check(raw, keys, sizing, limit).startswith("fits")
    assert _pod_check(raw, 4 * keys, sizing, limit).startswith("refused")
