"""Recovery state written on one detect path is refused, with a message that
says what to do, when the spec now runs on the other (the per-key path holds a
pipeline per key, the banked path rows of shared arrays: neither reads the
other's snapshot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROWS = 1500


def _write(path: Path, start: int, n: int) -> None:
    with path.open("a") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"key": f"k{i % 10}", "ts": 1.7e9 + 60.0 * (i // 10),
                                "v": 1.0 + 0.01 * (i % 7)}) + "\n")


def _spec(tmp: Path, path_kind: str) -> Path:
    spec = {"name": "paths", "source": {"type": "file", "path": str(tmp / "in.jsonl")},
            "record": {"value_fields": ["v"]},
            "detection": {"detector": "robust_zscore", "warmup": 20},
            "sinks": [{"type": "jsonl", "path": str(tmp / "alerts.jsonl")}]}
    if path_kind == "per-key":  # protect runs on the per-key path
        spec["detection"]["protect"] = True
    path = tmp / f"{path_kind}.json"
    path.write_text(json.dumps(spec))
    return path


def _replay(tmp: Path, spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "replay", str(tmp / "in.jsonl"),
         "--spec", str(spec), "--recovery-dir", str(tmp / "state"), "-q"],
        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("before", "after", "written_by"), [
    ("per-key", "banked", "per-key"),
    ("banked", "per-key", "banked"),
])
def test_a_snapshot_from_the_other_path_is_refused_by_name(tmp_path: Path, before: str,
                                                           after: str, written_by: str) -> None:
    _write(tmp_path / "in.jsonl", 0, ROWS)
    first = _replay(tmp_path, _spec(tmp_path, before))
    assert first.returncode == 0, first.stderr
    _write(tmp_path / "in.jsonl", ROWS, ROWS)  # more data: the resumed run scores it
    second = _replay(tmp_path, _spec(tmp_path, after))
    assert second.returncode != 0
    assert f"written by the {written_by} detect path" in second.stderr
    assert "start from an empty recovery directory" in second.stderr
