"""Run flows as ``pynomaly run`` subprocesses, watch their output topics, kill them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition
from services import kafka_consume_all, unique_name


def write_spec(spec: dict, path: Path) -> Path:
    path.write_bytes(orjson.dumps(spec))
    return path


def run_cmd(spec_path: Path, workers: int = 1, recovery_dir: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "pynomaly.cli.main", "run", str(spec_path), "-w", str(workers)]
    if recovery_dir is not None:
        cmd += ["--recovery-dir", str(recovery_dir), "--snapshot-interval", "1"]
    return cmd


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    """Start a flow in its own process group, output to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class TopicWatch:
    """Follow a topic from its start with a real consumer and count its records.

    Counting by reading rather than by high watermarks: after the broker was
    frozen (SIGSTOP/SIGCONT), tansu was seen answering offset queries with a
    stale high watermark while serving every record.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.values: list[bytes] = []
        self._c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_name("watch"),
                            "enable.auto.commit": False, "log_level": 0})
        md = self._c.list_topics(topic, timeout=10)
        self._c.assign([TopicPartition(topic, p, 0) for p in sorted(md.topics[topic].partitions)])

    def count(self) -> int:
        """Records read so far, after reading what is available now."""
        for msg in self._c.consume(10_000, 0.05):
            if msg.error() is None:
                self.values.append(msg.value())
        return len(self.values)

    def alert_ids(self) -> set[str]:
        """Ids of the alerts read so far (after reading what is available)."""
        self.count()
        return {orjson.loads(v)["id"] for v in self.values}

    def close(self) -> None:
        self._c.close()


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def alerts_of(bootstrap: str, topic: str, expected: int | None = None) -> list[dict]:
    return [orjson.loads(r.value) for r in kafka_consume_all(bootstrap, topic, expected=expected,
                                                             timeout=30)]


def without_emit_time(alert: dict) -> dict:
    return {k: v for k, v in alert.items() if k != "emit_time"}


def committed_epoch(recovery_dir: Path) -> int | None:
    """The epoch a restart would resume from (the oldest commit over the
    recovery partitions), or ``None`` before every partition has one."""
    import sqlite3

    parts = sorted(Path(recovery_dir).glob("part-*.sqlite3"))
    epochs = []
    for part in parts:
        try:
            con = sqlite3.connect(f"file:{part}?mode=ro", uri=True, timeout=1)
            try:
                rows = con.execute("SELECT commit_epoch FROM commits").fetchall()
            finally:
                con.close()
        except sqlite3.Error:
            return None
        if not rows:
            return None
        epochs.append(min(r[0] for r in rows))
    return min(epochs) if epochs else None
