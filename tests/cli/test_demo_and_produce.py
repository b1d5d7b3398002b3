"""Event times start at now, and the demo leaves nothing behind."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from pynomaly.cli.main import main


def first_ts(path: Path) -> datetime:
    rec = orjson.loads(path.read_bytes().splitlines()[0])
    return datetime.fromisoformat(rec["ts"].replace("Z", "+00:00"))


def test_produce_starts_at_now_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = datetime.now(UTC) - timedelta(seconds=2)
    assert main(["produce", "--count", "5", "--to", "m.jsonl", "--quiet"]) == 0
    assert before <= first_ts(tmp_path / "m.jsonl") <= datetime.now(UTC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]  # no labels file


def test_a_fixed_start_gives_the_same_file(tmp_path):
    args = ["produce", "--count", "50", "--start", "2026-01-01T00:00:00Z", "--seed", "3",
            "--quiet"]
    assert main([*args, "--to", str(tmp_path / "a.jsonl")]) == 0
    assert main([*args, "--to", str(tmp_path / "b.jsonl")]) == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first_ts(tmp_path / "a.jsonl") == datetime(2026, 1, 1, tzinfo=UTC)


def test_labels_go_where_asked_and_their_folder_is_made(tmp_path):
    labels = tmp_path / "out" / "run-1" / "labels.jsonl"
    assert main(["produce", "--count", "2000", "--anomaly-rate", "0.05", "--to",
                 str(tmp_path / "m.jsonl"), "--labels", str(labels), "--quiet"]) == 0
    assert labels.read_bytes().count(b"\n") > 0


def test_demo_event_times_follow_the_clock_and_its_folder_is_removed(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    t0 = datetime.now(UTC)
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "demo", "--no-dashboard", "--duration", "25",
         "--keys", "10", "--rate", "200", "--anomaly-rate", "0.01"],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    times = [datetime.fromisoformat(t.replace("Z", "+00:00"))
             for t in re.findall(r"^ALERT \S+\s+(\S+)", proc.stdout, re.M)]
    assert times, proc.stdout
    assert all(t0 - timedelta(seconds=5) <= t <= datetime.now(UTC) for t in times), times
    assert "removed on exit" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # no pynomaly-demo-* folder, no labels file


def test_demo_stopped_by_sigterm_removes_its_folder(tmp_path):
    import signal
    import time

    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pynomaly.cli.main", "demo", "--no-dashboard", "--keys", "5",
         "--rate", "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=tmp_path)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # up and producing
        line = proc.stdout.readline()
        if not line or line.startswith("producing"):
            break
    assert any(tmp_path.iterdir())  # its folder exists while it runs
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert list(tmp_path.iterdir()) == []
