"""A real flow process against the real broker: health probes, metrics, and a
graceful SIGTERM that loses nothing scored before the signal."""

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import orjson

from pynomaly.observability.readiness import checks_for
from pynomaly.spec import parse_spec


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def _wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_drains_and_health_endpoints(bootstrap, topic_factory, kafka_consume_all,
                                             tmp_path, free_port):
    src, alerts = topic_factory(2, "metrics"), topic_factory(1, "alerts")
    subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "produce", "--to",
                    f"kafka://{bootstrap}/{src}", "--keys", "200", "--count", "150000",
                    "--anomaly-rate", "0.01", "--quiet", "--no-progress"], check=True, timeout=120)
    jsonl = tmp_path / "alerts.jsonl"
    spec = {
        "name": "graceful",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [src],
                   "batch_size": 200},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
        "detection": {"detector": {"name": "robust_zscore"},
                      "threshold": {"kind": "static", "value": 6.0}, "warmup": 20},
        "alerts": {"cooldown_s": 0},
        "sinks": [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": alerts},
                  {"type": "jsonl", "path": str(jsonl)}],
    }
    spec_path = tmp_path / "flow.json"
    spec_path.write_text(json.dumps(spec))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec_path),
                             "--metrics-port", str(port), "--shutdown-timeout", "20"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        status, body = _wait(lambda: (r := _get(base + "/healthz"))[0] == 200 and r, 60, "/healthz")
        assert json.loads(body)["status"] == "alive"
        status, body = _wait(lambda: (r := _get(base + "/readyz"))[0] == 200 and r, 30, "/readyz")
        assert set(json.loads(body)["checks"]) == {"source", "sink:0:kafka", "sink:1:jsonl"}
        _wait(lambda: jsonl.exists() and len(jsonl.read_bytes().splitlines()) >= 20, 60,
              "first alerts")
        status, text = _get(base + "/metrics")
        assert status == 200 and b"pynomaly_events_in_total" in text
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        code = proc.wait(timeout=40)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert code == 0, err[-3000:]
    assert took < 20
    scored = {orjson.loads(x)["id"] for x in jsonl.read_bytes().splitlines()}
    in_topic = {orjson.loads(r.value)["id"] for r in kafka_consume_all(bootstrap, alerts,
                                                                       expected=len(scored))}
    assert scored and scored <= in_topic
    # it stopped because of the signal, not because the topic ran out
    assert "SIGTERM received" in err


def test_readiness_reports_what_is_wrong(tmp_path):
    spec = parse_spec({
        "name": "r", "source": {"type": "file", "path": str(tmp_path / "missing.jsonl")},
        "record": {"value_fields": ["v"]},
        "sinks": [{"type": "kafka", "bootstrap_servers": "127.0.0.1:1", "topic": "a"}],
    })
    checks = checks_for(spec, str(tmp_path / "no" / "such" / "dir"))
    results = {name: c() for name, c in checks.items()}
    assert "not found" in results["source"]
    assert "unreachable" in results["sink:0:kafka"] or "missing" in results["sink:0:kafka"]
    assert "does not exist" in results["recovery"]
