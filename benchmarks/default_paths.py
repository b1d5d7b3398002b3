"""File replay of generated records (10k keys, 2 fields) through flows that
differ only in their detection settings, each in its own ``pynomaly replay``
process: the detect path each takes, records/s, the ratio to the reference
flow (robust statistics, no calibration) and the process's peak RSS.

    .venv/bin/pynomaly produce --to /tmp/p300k.jsonl --count 300000 --keys 10000 \
        --start 2026-01-01T00:00:00Z --quiet
    .venv/bin/python benchmarks/default_paths.py /tmp/p300k.jsonl [--rounds 2]

With ``--rounds N`` the configurations run interleaved N times and the best
time of each counts (the machine is shared; ratios are from one run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from pynomaly.dataflow.detect_banked import per_key_reason
from pynomaly.spec import FlowSpec

README_DETECTION = {  # the README's cpu.yaml
    "detector": {"name": "hst", "params": {"n_trees": 25, "height": 10, "window_size": 250}},
    "calibration": {"kind": "conformal", "window": 2000},
    "threshold": {"kind": "probability", "level": 0.999}, "warmup": 300}

CONFIGS: dict[str, dict] = {
    "reference: robust_zscore, calibration none, static threshold": {"detection": {
        "detector": "robust_zscore", "calibration": {"kind": "none"},
        "threshold": {"kind": "static", "value": 6.0}}},
    "default flow (no detection settings; 2 fields: metric_deviation)": {},
    "robust_zscore, default calibration and threshold": {"detection": {
        "detector": "robust_zscore"}},
    "hst 10x8, conformal, probability threshold": {"detection": {
        "detector": {"name": "hst", "params": {"n_trees": 10, "height": 8}},
        "calibration": {"kind": "conformal"}, "threshold": {"kind": "probability"}}},
    "README cpu.yaml (hst 25x10, conformal 2000, probability 0.999)": {
        "detection": README_DETECTION, "alerts": {"cooldown_s": 600, "explain_top": 2}},
}


def spec_for(path: str, extra: dict) -> dict:
    return {"name": "p", "source": {"type": "file", "path": path, "batch_size": 5000},
            "record": {"key_field": "key", "time_field": "ts",
                       "value_fields": ["cpu", "latency_ms"], "time_format": "iso"},
            "sinks": [{"type": "jsonl", "path": os.devnull}], **extra}


def replay(data: str, spec_path: Path) -> tuple[float, float]:
    """Seconds of the replay as ``pynomaly replay`` reports them (from building
    the flow to its end; interpreter start and imports excluded) and the peak
    RSS (MB) of its process."""
    cmd = [sys.executable, "-m", "pynomaly.cli.main", "replay", data, "--spec", str(spec_path),
           "-q", "--dead-letters", os.devnull]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"replay failed: {' '.join(cmd)}")
    found = re.search(r"replayed \d+ records in ([0-9.]+)s", text)
    if found is None:
        raise RuntimeError(f"no replay summary in: {text!r}")
    return float(found.group(1)), usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default="/tmp/p300k.jsonl")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with open(args.data, "rb") as f:
        records = sum(1 for _ in f)
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for i, (name, extra) in enumerate(CONFIGS.items()):
            paths[name] = Path(tmp) / f"spec{i}.json"
            paths[name].write_text(json.dumps(spec_for(args.data, extra)))
        for _ in range(args.rounds):
            for name in CONFIGS:
                dt, rss = replay(args.data, paths[name])
                prev = best.get(name)
                best[name] = (min(dt, prev[0]) if prev else dt, max(rss, prev[1]) if prev else rss)
    ref = records / best[next(iter(CONFIGS))][0]
    rows = []
    for name, extra in CONFIGS.items():
        reason = per_key_reason(FlowSpec.model_validate(spec_for(args.data, extra)))
        dt, rss = best[name]
        rows.append({"config": name, "path": "banked" if reason is None else f"per key ({reason})",
                     "records_per_s": records / dt, "ratio": records / dt / ref,
                     "peak_rss_mb": rss})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{records} records; best of {args.rounds}; one `pynomaly replay` process each "
          "(its own timing: flow build to end)")
    print("| configuration | detect path | records/s | × reference | peak RSS |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['config']} | {r['path']} | {r['records_per_s']:,.0f} | {r['ratio']:.2f} |"
              f" {r['peak_rss_mb']:,.0f} MB |")


if __name__ == "__main__":
    main()
