"""``replay --spec`` replaces the spec's source only; --out replaces its sinks explicitly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

SAMPLE = "flows/data/sample.jsonl"


def spec_with_sinks(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = yaml.safe_load(Path("flows/file_replay.yaml").read_text())
    alerts, dead = tmp_path / "spec-alerts.jsonl", tmp_path / "spec-dead.jsonl"
    data["source"]["path"] = "does-not-matter.jsonl"
    data["sinks"] = [{"type": "jsonl", "path": str(alerts)}]
    data["dead_letter"] = {"type": "jsonl", "path": str(dead)}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, alerts, dead


def replay(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    root = Path.cwd()
    return subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "replay",
                           str(root / SAMPLE), *argv, "-q"],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_replay_with_a_spec_writes_to_the_specs_sinks(tmp_path):
    spec, alerts, dead = spec_with_sinks(tmp_path)
    proc = replay("--spec", str(spec), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(alerts.read_text().splitlines()) == 2
    assert len(dead.read_text().splitlines()) == 2
    assert not (tmp_path / "out").exists()
    assert f"2 alerts → jsonl {alerts}, 2 dead letters → jsonl {dead}" in proc.stdout


def test_out_replaces_the_specs_sinks(tmp_path):
    spec, alerts, dead = spec_with_sinks(tmp_path)
    out = tmp_path / "elsewhere.jsonl"
    proc = replay("--spec", str(spec), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 2
    assert not alerts.exists() and not dead.exists()
    assert (tmp_path / "elsewhere-dead-letters.jsonl").exists()


def test_help_says_what_is_replaced():
    proc = subprocess.run([sys.executable, "-m", "pynomaly.cli.main", "replay", "--help"],
                          capture_output=True, text=True, timeout=60)
    text = " ".join(proc.stdout.split())
    assert "its sinks and dead-letter output are kept unless --out/--dead-letters" in text
