"""After a crash, a restart repeats the alerts emitted since the snapshot it
resumes from; each repeat is an exact copy of the uninterrupted run's alert
(docs/reliability.md), although the restart reads the file in other batches.

Crashes are injected in the file source (it raises after some batches); the
restarts read the same file with another batch size from the recovery store.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict

import numpy as np
import orjson
import pytest

from pynomaly.connectors.file_sinks import JsonlSink
from pynomaly.connectors.file_source import FileBatchSource
from pynomaly.dataflow.flow import build_flow
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import FlowSpec

KEYS = ("web-1", "web-2", "db-1")


class _CrashingSource(FileBatchSource):
    """Fault injection: the file source, paced, raising after ``after`` batches."""

    def __init__(self, path: str, batch_size: int, after: int) -> None:
        super().__init__(path, batch_size=batch_size, time_format="epoch_s")
        self.after = after

    def build_part(self, step_id, for_part, resume_state):
        part = super().build_part(step_id, for_part, resume_state)
        inner, count = part.next_batch, [0]

        def next_batch():
            count[0] += 1
            if count[0] > self.after:
                raise RuntimeError("injected crash")
            time.sleep(0.03)  # epochs close (and snapshots commit) between batches
            return inner()

        part.next_batch = next_batch
        return part


def _stream(path, n=1800, seed=4):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        cpu, lat = 0.4 + 0.05 * rng.normal(), 20.0 + rng.normal()
        if i > 300 and rng.random() < 0.04:
            cpu += rng.uniform(0.5, 3.0)
        if i > 300 and rng.random() < 0.04:
            lat += rng.uniform(10.0, 90.0)
        lines.append(orjson.dumps({"key": KEYS[i % 3], "ts": 1_767_225_600 + 20 * i,
                                   "cpu": round(float(cpu), 4),
                                   "latency_ms": round(float(lat), 3)}))
    path.write_bytes(b"\n".join(lines) + b"\n")


def _spec(path, detector: str) -> FlowSpec:
    detection = {"detector": "robust_zscore", "warmup": 40,
                 "calibration": {"kind": "conformal", "window": 300},
                 "threshold": {"kind": "static", "value": 6.0}}
    if detector == "hst":
        detection = {"detector": {"name": "hst", "params": {
            "n_trees": 10, "height": 6, "window_size": 64, "seed": 1,
            "limits": [[-3.0, 4.0], [0.0, 150.0]]}},
            "warmup": 64, "calibration": {"kind": "none"},
            "threshold": {"kind": "static", "value": 0.6}}
    return FlowSpec.model_validate({
        "name": f"repeats-{detector}", "source": {"type": "file", "path": str(path)},
        "record": {"key_field": "key", "time_field": "ts", "time_format": "epoch_s",
                   "value_fields": ["cpu", "latency_ms"], "max_future_s": 315360000},
        "detection": detection, "alerts": {"cooldown_s": 0, "explain_top": 2},
        "keys": {"shards": 4}})


def _run(spec, source, out, opts):
    flow = build_flow(spec, source=source, alert_sinks=[JsonlSink(str(out))],
                      dead_letter_sink=JsonlSink(str(out) + ".dead"))
    run_dataflow(flow, opts)


def _alerts(path):
    if not path.exists():
        return []
    alerts = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    for a in alerts:
        del a["emit_time"]
    return alerts


@pytest.mark.parametrize("detector", ["robust_zscore", "hst"])
def test_repeats_after_a_crash_are_exact_copies(tmp_path, detector):
    src = tmp_path / "m.jsonl"
    _stream(src)
    spec = _spec(src, detector)
    _run(spec, FileBatchSource(str(src), batch_size=45, time_format="epoch_s"),
         tmp_path / "reference.jsonl", RunOptions())
    reference = {a["id"]: a for a in _alerts(tmp_path / "reference.jsonl")}
    assert len(reference) >= 20

    # run 1 crashes; its recovery store is copied; run 2 resumes from it and
    # crashes later; run 3 resumes from the copy, as a restart does whose sink
    # had delivered past the last snapshot: it repeats every alert of run 2
    recovery, copy = tmp_path / "recovery", tmp_path / "recovery-copy"
    opts = RunOptions(recovery_dir=str(recovery), snapshot_interval_s=0.1)
    with pytest.raises(RuntimeError, match="next_batch"):
        _run(spec, _CrashingSource(str(src), 45, after=12), tmp_path / "run1.jsonl", opts)
    shutil.copytree(recovery, copy)
    with pytest.raises(RuntimeError, match="next_batch"):
        _run(spec, _CrashingSource(str(src), 45, after=15), tmp_path / "run2.jsonl", opts)
    _run(spec, FileBatchSource(str(src), batch_size=700, time_format="epoch_s"),
         tmp_path / "run3.jsonl", RunOptions(recovery_dir=str(copy), snapshot_interval_s=0.1))

    runs = [_alerts(tmp_path / f"run{i}.jsonl") for i in (1, 2, 3)]
    assert all(runs)
    copies = defaultdict(list)
    for a in runs[0] + runs[1] + runs[2]:
        copies[a["id"]].append(a)
    assert set(copies) == set(reference)
    assert {a["id"] for a in runs[1]} <= {a["id"] for a in runs[2]}  # the repeats
    for alert_id, same in copies.items():
        assert all(a == reference[alert_id] for a in same), alert_id
