"""A Kafka that is not there: a few clear lines, fast, no Bytewax panic."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pynomaly.connectors.kafka_logging import CLIENT_LOGGER, RepeatFilter, client_logger
from pynomaly.connectors.kafka_probe import KafkaUnreachable, probe

MAX_LINES = 20


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pynomaly(*argv: str, timeout: float = 120) -> tuple[int, list[str], float]:
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", *argv],
                          capture_output=True, text=True, timeout=timeout)
    lines = (proc.stdout + proc.stderr).splitlines()
    return proc.returncode, lines, time.monotonic() - t0


def write_spec(path: Path, source: str, sink: str, out: Path) -> Path:
    path.write_text(
        "name: down\n"
        f"source: {{type: kafka, bootstrap_servers: '{source}', topics: [metrics]}}\n"
        "record: {key_field: key, time_field: ts, value_fields: [cpu]}\n"
        "sinks:\n"
        f"  - {{type: kafka, bootstrap_servers: '{sink}', topic: alerts}}\n"
        f"  - {{type: jsonl, path: '{out}'}}\n")
    return path


def assert_short_and_clear(rc: int, lines: list[str], address: str) -> None:
    text = "\n".join(lines)
    assert rc == 1, text
    assert len(lines) <= MAX_LINES, text
    assert "panicked" not in text and "FAIL|rdkafka" not in text, text
    assert f"kafka {address} is unreachable (connection refused)" in text, text
    assert "pynomaly: hint: start it (`pynomaly broker start --port" in text, text


def test_run_with_the_source_broker_down(tmp_path):
    address = f"127.0.0.1:{closed_port()}"
    spec = write_spec(tmp_path / "down.yaml", address, address, tmp_path / "a.jsonl")
    rc, lines, seconds = pynomaly("run", str(spec))
    assert_short_and_clear(rc, lines, address)
    assert "needed by the source (topics: metrics), the alert sink (topic 'alerts')" in lines[-2]
    assert seconds < 60


def test_run_with_the_alert_sink_down(tmp_path, bootstrap):
    address = f"127.0.0.1:{closed_port()}"
    spec = write_spec(tmp_path / "sink-down.yaml", bootstrap, address, tmp_path / "a.jsonl")
    rc, lines, seconds = pynomaly("run", str(spec))
    assert_short_and_clear(rc, lines, address)
    assert "needed by the alert sink (topic 'alerts')" in "\n".join(lines)
    assert seconds < 60


def test_produce_to_a_down_broker(tmp_path):
    address = f"127.0.0.1:{closed_port()}"
    rc, lines, _ = pynomaly("produce", "--to", f"kafka://{address}/metrics", "--count", "10",
                            "--no-progress")
    text = "\n".join(lines)
    assert rc == 1 and len(lines) <= 3, text
    assert f"kafka {address} is unreachable (connection refused), needed by the producer" in text
    assert "--to kafka://HOST:PORT/TOPIC" in text
    assert "TimeoutError" not in text


def test_probe_answers_for_a_live_broker_and_names_an_unknown_host(bootstrap):
    probe(bootstrap, timeout_s=5.0)
    with pytest.raises(KafkaUnreachable, match="unknown host") as info:
        probe("no-such-host.invalid:9092", timeout_s=2.0)
    assert "check that it runs" in info.value.hint


def test_repeated_client_lines_are_held_back_and_counted():
    f = RepeatFilter(interval_s=0.2)

    def rec(msg: str) -> logging.LogRecord:
        return logging.LogRecord(CLIENT_LOGGER, logging.ERROR, __file__, 1, msg, None, None)

    passed = [f.filter(rec(f"Connect to 127.0.0.1:1 failed after {i}ms")) for i in range(50)]
    assert passed.count(True) == 1
    time.sleep(0.25)
    again = rec("Connect to 127.0.0.1:1 failed after 99ms")
    assert f.filter(again)
    assert again.getMessage().endswith("(49 similar lines suppressed)")


def test_librdkafka_lines_go_through_the_pynomaly_logger():
    """A consumer hammering a closed port for 2 s: its lines are log records, rate-limited."""
    code = (
        "import time, sys\n"
        "from confluent_kafka import Consumer\n"
        "from pynomaly.observability.logs import configure_logging\n"
        "from pynomaly.connectors.kafka_logging import with_client_logger\n"
        "configure_logging('INFO', fmt='json')\n"
        f"c = Consumer(with_client_logger({{'bootstrap.servers': '127.0.0.1:{closed_port()}', "
        "'group.id': 'g', 'reconnect.backoff.ms': 10, 'reconnect.backoff.max.ms': 20}))\n"
        "c.subscribe(['x'])\n"
        "t = time.monotonic()\n"
        "while time.monotonic() - t < 2: c.poll(0.1)\n"
        "c.close()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert 1 <= len(lines) <= 5, proc.stderr
    assert all('"logger":"pynomaly.kafka.client"' in line for line in lines), proc.stderr
    assert not any(line.startswith("%") for line in lines)
    assert client_logger() is logging.getLogger(CLIENT_LOGGER)


def test_a_broker_gone_mid_run_costs_a_few_log_lines(own_broker, tmp_path):
    """The source's client lines go through the logger, one per kind per 30 s."""
    import json
    import signal

    from confluent_kafka import Producer
    from services import create_topic

    bootstrap = own_broker.bootstrap_servers
    src = create_topic(bootstrap, 1, "m")
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 0})
    for line in Path("flows/data/sample.jsonl").read_bytes().splitlines():
        producer.produce(src, line)
    assert producer.flush(10) == 0
    del producer
    spec = tmp_path / "mid.json"
    spec.write_text(json.dumps({
        "name": "mid", "source": {"type": "kafka", "bootstrap_servers": bootstrap,
                                  "topics": [src]},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "a.jsonl")}],
        "dead_letter": {"type": "jsonl", "path": str(tmp_path / "d.jsonl")}}))
    proc = subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", "run", str(spec),
                             "--status-interval", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "d.jsonl").exists():
            time.sleep(0.2)  # the two bad lines of the sample reached the dead letters
        own_broker.stop()
        time.sleep(10)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = out.splitlines()
    assert proc.returncode == 0, out
    assert not [ln for ln in lines if ln.startswith("%")], out
    client = [ln for ln in lines if '"logger":"pynomaly.kafka.client"' in ln]
    assert 1 <= len(client) <= 10, out
    assert len(lines) <= MAX_LINES, out


PY_FLOWS = '''
import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSource
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow

from pynomaly.dataflow.flow import build_flow
from pynomaly.spec import parse_spec

ours = build_flow(parse_spec({{
    "name": "py", "source": {{"type": "kafka", "bootstrap_servers": "{address}", "topics": ["m"]}},
    "record": {{"value_fields": ["cpu"]}}}}))

stock = Dataflow("stock")
op.output("out", op.input("in", stock, KafkaSource(["{address}"], ["m"])), StdOutSink())
'''


def test_python_flows_with_kafka_down(tmp_path):
    address = f"127.0.0.1:{closed_port()}"
    (tmp_path / "kafka_down_flows.py").write_text(PY_FLOWS.format(address=address))
    for attr, needed_by in [("ours", "the source (topics: m)"),
                            ("stock", "the source KafkaSource (m)")]:
        proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "run",
                               f"kafka_down_flows:{attr}"],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        lines = (proc.stdout + proc.stderr).splitlines()
        assert_short_and_clear(proc.returncode, lines, address)
        assert f"needed by {needed_by}" in lines[0]


def test_a_frozen_broker_is_reported_after_the_timeout(own_broker):
    own_broker.pause()
    try:
        t0 = time.monotonic()
        with pytest.raises(KafkaUnreachable, match="no Kafka metadata within 2 s") as info:
            probe(own_broker.bootstrap_servers, timeout_s=2.0, needed_by=["the source"])
        assert time.monotonic() - t0 < 10
    finally:
        own_broker.resume()
    assert "does not answer as Kafka (a paused broker" in info.value.hint
    probe(own_broker.bootstrap_servers, timeout_s=5.0)  # answers again
