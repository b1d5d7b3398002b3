"""``pynomaly run`` says what it runs, how it goes, and how it ended."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from confluent_kafka import Producer
from services import unique_name

from pynomaly.connectors.kafka_admin import topic_partitions

SAMPLE = Path("flows/data/sample.jsonl")


def produce_sample(bootstrap: str, topic: str) -> int:
    lines = SAMPLE.read_bytes().splitlines()
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for line in lines:
        p.produce(topic, line)
    assert p.flush(15) == 0
    return len(lines)


def test_start_status_and_summary_lines_of_a_tailing_kafka_run(bootstrap, topic_factory,
                                                                tmp_path):
    src = topic_factory(1, "metrics")
    alerts = unique_name("alerts")  # not created: the run creates it
    produced = produce_sample(bootstrap, src)
    spec = tmp_path / "flow.json"
    spec.write_bytes(orjson.dumps({
        "name": "status-flow",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [src]},
        "record": {"value_fields": ["cpu", "latency_ms"], "max_future_s": 3.2e8},
        "detection": {"detector": "robust_zscore", "threshold": {"kind": "static", "value": 8.0}},
        "sinks": [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": alerts}],
        "dead_letter": {"type": "jsonl", "path": str(tmp_path / "dead.jsonl")},
    }))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pynomaly.cli.main", "run", str(spec), "--status-interval", "0.5",
         "--metrics-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            statuses = [ln for ln in lines if ln.startswith("status:")]
            # a tailing run keeps reporting: wait for two lines, the last with every record
            if len(statuses) >= 2 and f"{produced:,} records," in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += out.splitlines()
    text = "\n".join(lines)
    assert proc.returncode == 0, err[-2000:]
    first = lines[0]
    assert first.startswith("run status-flow | source kafka "), text
    assert f"[{src}]" in first and f"sinks kafka {bootstrap}/{alerts}" in first
    assert "dead letters jsonl" in first and "1 worker" in first
    assert "metrics http://127.0.0.1:" in first and first.endswith("/metrics")
    statuses = [ln for ln in lines if ln.startswith("status:")]
    assert len(statuses) >= 2, text
    assert "records/s" in statuses[-1] and "event-time lag" in statuses[-1]
    last = lines[-1]
    # sample.jsonl: 1,802 lines, two of them bad; two alerts at the static threshold
    assert last.startswith("stopped (SIGTERM) after "), text
    assert f"{produced:,} records" in last and "2 alerts, 2 dead letters" in last, text
    assert topic_partitions(bootstrap, alerts) == 1


def test_each_process_of_a_local_cluster_says_which_it_is(tmp_path, free_port):
    import yaml

    data = yaml.safe_load(Path("flows/file_replay.yaml").read_text())
    data["sinks"] = [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]
    data["dead_letter"] = {"type": "jsonl", "path": str(tmp_path / "dead.jsonl")}
    spec = tmp_path / "flow.yaml"
    spec.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "run", str(spec), "-p", "2", "--base-port",
         str(free_port())], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    starts = sorted(ln for ln in lines if " run file-replay | " in ln)
    assert [s.split(":")[0] for s in starts] == ["process 0", "process 1"], proc.stdout
    assert all(s.endswith("1 worker (one process of 2)") for s in starts), proc.stdout
    summaries = [ln for ln in lines if ": finished after " in ln]
    assert len(summaries) == 2, proc.stdout
    records = sum(int(re.search(r" s: ([\d,]+) records? \(", s).group(1).replace(",", ""))
                  for s in summaries)
    assert records == 1802, proc.stdout
