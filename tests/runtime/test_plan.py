"""``pynomaly plan`` and the memory check at start: estimates measured on the
spec's own detect step, checked against the memory a run of that many keys
actually takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pynomaly.dataflow.detect_banked import per_key_reason
from pynomaly.runtime.plan import (
    MEMORY_LIMIT_ENV,
    estimate,
    format_bytes,
    measure,
    memory_room,
    slot_capacity,
)
from pynomaly.spec import FlowSpec

HERE = Path(__file__).resolve().parent
ROBUST = {"detector": {"name": "robust_zscore"}, "calibration": {"kind": "none"},
          "threshold": {"kind": "static", "value": 8.0}, "warmup": 30}
# the README's cpu.yaml
HST_CONFORMAL = {"detector": {"name": "hst", "params": {"n_trees": 25, "height": 10,
                                                        "window_size": 250}},
                 "calibration": {"kind": "conformal", "window": 2000},
                 "threshold": {"kind": "probability", "level": 0.999}, "warmup": 300}


def spec_of(detection: dict, **extra) -> FlowSpec:
    return FlowSpec.model_validate({
        "name": "sized", "source": {"type": "file", "path": "m.jsonl"},
        "record": {"value_fields": ["cpu", "latency_ms"]}, "detection": detection, **extra})


def cli(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pynomaly.cli.main", *argv], text=True,
                          capture_output=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})


def test_hst_25x10_conformal_needs_far_more_than_robust_statistics():
    robust = estimate(spec_of(ROBUST), 10_000, 50_000,
                      measurement=measure(spec_of(ROBUST), sample_keys=32, at_keys=10_000))
    hst_spec = spec_of(HST_CONFORMAL)
    hst = estimate(hst_spec, 10_000, 50_000,
                   measurement=measure(hst_spec, sample_keys=32, at_keys=10_000))
    # a conformal window of 2000 scores alone is 2 x 16 KB per key
    assert hst.state_bytes_per_key > 20 * robust.state_bytes_per_key
    assert hst.state_bytes_per_key > 32_000
    assert hst.measurement.rows_per_key > 2000 > robust.measurement.rows_per_key
    assert hst.measurement.detect_per_s < robust.measurement.detect_per_s
    assert hst.cores > robust.cores > 0
    for est, spec in ((robust, spec_of(ROBUST)), (hst, hst_spec)):
        assert est.reason == per_key_reason(spec)
        assert est.path == ("banked" if est.reason is None else "per key")
        m = est.measurement
        assert 0 < m.batch_bytes < m.baseline_bytes
        assert est.resident_bytes == m.baseline_bytes + m.batch_bytes + est.state_bytes


# robust statistics and HST in banked arrays, LODA as a detector object per
# key, a spec on the per-key path
SIZED = {
    "robust-conformal": {"detector": {"name": "robust_zscore"},
                         "calibration": {"kind": "conformal", "window": 200},
                         "threshold": {"kind": "probability", "level": 0.999}, "warmup": 50},
    "hst-conformal": {"detector": {"name": "hst", "params": {"n_trees": 10, "height": 6,
                                                             "window_size": 100}},
                      "calibration": {"kind": "conformal", "window": 200},
                      "threshold": {"kind": "probability", "level": 0.999}, "warmup": 50},
    "loda-objects": {**ROBUST, "detector": {"name": "loda"}},
    "per-key": {"detector": {"name": "robust_zscore"}, "protect": True,
                "calibration": {"kind": "conformal", "window": 200},
                "threshold": {"kind": "probability", "level": 0.999}, "warmup": 50},
}


@pytest.mark.parametrize("name", list(SIZED))
def test_estimate_at_1000_keys_is_near_the_memory_they_take(name):
    spec = spec_of(SIZED[name])
    est = estimate(spec, 1000, quick=True)
    proc = subprocess.run([sys.executable, str(HERE / "rss_of_keys.py"),
                           spec.model_dump_json(), "1000"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["live"] == 1000
    # the growth also holds what the run's batches left in the heap (small next
    # to 1000 keys; the estimate counts a batch in flight with the process)
    ratio = est.state_bytes / got["rss_growth"]
    assert 0.6 <= ratio <= 1.6, (name, est.state_bytes, got["rss_growth"])


def test_capacity_and_the_snapshot_copy_of_the_banked_state():
    spec = spec_of(ROBUST)
    m = measure(spec, quick=True)
    plain = estimate(spec, 10_000, measurement=m)
    with_copies = estimate(spec, 10_000, recovery=True, measurement=m)
    assert plain.copy_bytes == 0 and plain.peak_bytes == plain.resident_bytes
    # 10 000 keys over 64 shards: about 156 a shard, arrays of 256 slots
    assert plain.capacity_slots == 64 * slot_capacity(156) == 16_384
    assert with_copies.copy_bytes > 10_000 * m.key_copy_bytes
    assert with_copies.peak_bytes == with_copies.resident_bytes + with_copies.copy_bytes
    two = estimate(spec, 10_000, processes=2, measurement=m)
    assert two.resident_bytes == pytest.approx(
        plain.resident_bytes + m.baseline_bytes + m.batch_bytes)


def test_a_copy_holds_spare_array_slots_but_no_spare_objects():
    arrays = measure(spec_of(SIZED["hst-conformal"]), quick=True)  # masses, windows per slot
    objects = measure(spec_of(SIZED["loda-objects"]), quick=True)  # a detector per key
    assert arrays.banked and objects.banked
    assert 0.7 < arrays.spare_copy_bytes / arrays.key_copy_bytes <= 1.0
    assert objects.spare_copy_bytes < 0.1 * objects.key_copy_bytes


def test_plan_prints_the_estimate_and_json(tmp_path):
    path = tmp_path / "cpu.yaml"
    path.write_text(yaml.safe_dump(spec_of(ROBUST).model_dump(mode="json")))
    text = cli("plan", str(path), "--keys", "20000", "--rate", "40000").stdout
    assert "plan sized: 20,000 keys, 40,000 records/s, 1 process" in text
    assert "detect path   banked" in text
    assert "per key)" in text and "resident " in text and "cores =" in text
    assert "scaled linearly to 20,000 keys" in text
    proc = cli("plan", str(path), "--keys", "20000", "--rate", "40000", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["keys"] == 20_000 and got["path"] == "banked" and got["reason"] is None
    assert got["peak_bytes"] >= got["resident_bytes"] > got["state_bytes"] > 0
    assert got["cores"] > 0 and got["measurement"]["detect_per_s"] > 0
    assert got["state_bytes_per_key"] == pytest.approx(got["state_bytes"] / 20_000)

    per_key = tmp_path / "protect.yaml"
    per_key.write_text(yaml.safe_dump(spec_of(SIZED["per-key"]).model_dump(mode="json")))
    text = cli("plan", str(per_key), "--keys", "500").stdout
    assert "detect path   per key (protect)" in text


def replay_spec(tmp_path: Path, **keys) -> Path:
    data = tmp_path / "m.jsonl"
    data.write_text("".join(
        json.dumps({"key": f"h{k}", "ts": 1.7e9 + 60 * i, "cpu": 0.5 + 0.01 * (i % 7),
                    "latency_ms": 20.0}) + "\n" for i in range(200) for k in range(3)))
    spec = {"name": "sized", "source": {"type": "file", "path": str(data)},
            "record": {"time_format": "epoch_s", "value_fields": ["cpu", "latency_ms"],
                       "max_future_s": 3.2e9},
            "detection": ROBUST,
            "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]}
    if keys:
        spec["keys"] = keys
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_flow_over_its_memory_limit_is_refused_and_no_memory_check_starts_it(tmp_path):
    path = replay_spec(tmp_path, max_keys=2_000_000)
    limit = {MEMORY_LIMIT_ENV: str(100 * 2**20)}
    proc = cli("run", str(path), "-q", env=limit)
    assert proc.returncode == 1
    assert "at keys.max_keys 2,000,000" in proc.stderr and "needs about" in proc.stderr
    assert f"more than the 100.0 MiB this machine has ({MEMORY_LIMIT_ENV})" in proc.stderr
    assert "--no-memory-check" in proc.stderr and "lower keys.max_keys" in proc.stderr
    assert not (tmp_path / "alerts.jsonl").exists()
    # the estimate in the message is the one plan gives (each from a fresh process:
    # the process's own resident memory is part of the estimate, and this one's is
    # the whole test session's)
    planned = cli("plan", str(path), "--keys", "2000000", "--json")
    assert planned.returncode == 0, planned.stderr
    peak = json.loads(planned.stdout)["peak_bytes"]
    number, unit = proc.stderr.split("needs about ")[1].split(" at keys")[0].split()
    said = float(number) * 2 ** (10 * ["B", "KiB", "MiB", "GiB", "TiB"].index(unit))
    assert said == pytest.approx(peak, rel=0.35), format_bytes(peak)

    proc = cli("run", str(path), "-q", "--no-memory-check", env=limit)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "alerts.jsonl").exists()

    proc = cli("replay", str(path.parent / "m.jsonl"), "--spec", str(path), "-q", env=limit)
    assert proc.returncode == 1 and "at keys.max_keys 2,000,000" in proc.stderr
    proc = cli("run", str(path), "-p", "2", "-q", env=limit)  # checked before the processes start
    assert proc.returncode == 1 and "for the 2 processes on this machine" in proc.stderr


def test_a_flow_within_its_limit_or_without_a_key_cap_starts(tmp_path):
    limit = {MEMORY_LIMIT_ENV: str(100 * 2**20)}
    proc = cli("run", str(replay_spec(tmp_path)), "-q", env=limit)  # keys.max_keys not set
    assert proc.returncode == 0, proc.stderr
    proc = cli("run", str(replay_spec(tmp_path, max_keys=2_000_000)), "-q",
               env={MEMORY_LIMIT_ENV: str(64 * 2**30)})
    assert proc.returncode == 0, proc.stderr


def test_memory_room_takes_the_override_and_the_machine_otherwise(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "123456789")
    assert memory_room().bytes == 123_456_789
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match=MEMORY_LIMIT_ENV):
        memory_room()
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    with open("/proc/meminfo") as fh:
        total = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    room = memory_room(own_rss=False)
    assert 0 < room.bytes <= total
