"""False alerts per key-day of the default flow on the generator's labelled
streams, with the alert rules at their defaults and turned off.

The generator (``pynomaly.devtools.generator``) emits keys with a daily and
weekly cycle, noise and labelled anomalies (spikes, dips, level shifts,
variance changes, drifts, stuck values). The stream is written to a JSONL
file and replayed through a flow that names no detector. An alert is *true*
when it falls on a labelled anomaly of its key (from its start to its end
plus the cooldown), else *false*; an anomaly is *found* when it has a true
alert.

Run::

    .venv/bin/python benchmarks/false_alerts.py --keys 50 --days 7 [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from pynomaly.dataflow.flow import build_flow
from pynomaly.devtools.generator import GeneratorConfig, MetricGenerator
from pynomaly.runtime.runner import RunOptions, run_dataflow
from pynomaly.spec import parse_spec


def _ts(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def write_stream(path: Path, keys: int, days: float, anomaly_rate: float, seed: int
                 ) -> tuple[list[dict[str, Any]], float]:
    """Write the stream; return its anomaly labels and its interval."""
    cfg = GeneratorConfig(keys=keys, seed=seed, anomaly_rate=anomaly_rate)
    steps = int(days * 86_400 / cfg.interval_s)
    labels: list[dict[str, Any]] = []
    with path.open("wb") as f:
        for batch in MetricGenerator(cfg).batches(count=steps * keys):
            f.write(batch.jsonl())
            labels += batch.labels
    return labels, cfg.interval_s


def score(alerts: list[dict[str, Any]], labels: list[dict[str, Any]], cooldown_s: float
          ) -> dict[str, int]:
    by_key: dict[str, list[tuple[float, float]]] = {}
    for lab in labels:
        by_key.setdefault(lab["key"], []).append((_ts(lab["start"]), _ts(lab["end"]) + cooldown_s))
    false = true = 0
    found: set[tuple[str, float]] = set()
    for a in alerts:
        if a.get("kind", "anomaly") != "anomaly":
            continue
        t = _ts(a["event_time"])
        hit = [w for w in by_key.get(a["key"], []) if w[0] <= t <= w[1]]
        if hit:
            true += 1
            found.add((a["key"], hit[0][0]))
        else:
            false += 1
    return {"false_alerts": false, "true_alerts": true, "anomalies": len(labels),
            "anomalies_found": len(found)}


def run_case(data: Path, out: Path, rules: dict[str, Any] | None) -> tuple[list[dict], float]:
    spec: dict[str, Any] = {
        "name": "false-alerts", "source": {"type": "file", "path": str(data)},
        "record": {"value_fields": ["cpu", "latency_ms"]},
        "sinks": [{"type": "jsonl", "path": str(out)}],
        "dead_letter": {"type": "jsonl", "path": str(out.with_suffix(".dead.jsonl"))},
    }
    if rules is not None:
        spec["alerts"] = {"rules": rules}
    t0 = time.perf_counter()
    run_dataflow(build_flow(parse_spec(spec)), RunOptions())
    took = time.perf_counter() - t0
    alerts = [orjson.loads(x) for x in out.read_bytes().splitlines()] if out.exists() else []
    return alerts, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=50)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results: dict[str, Any] = {"keys": args.keys, "days": args.days, "seed": args.seed}
    with tempfile.TemporaryDirectory() as tmp:
        for stream, rate in (("clean", 0.0), ("labelled", 0.001)):
            data = Path(tmp) / f"{stream}.jsonl"
            labels, _ = write_stream(data, args.keys, args.days, rate, args.seed)
            for case, rules in (("rules on (default)", None), ("rules off", {"min_sigma": 0})):
                out = Path(tmp) / f"{stream}-{case.split()[1]}.jsonl"
                alerts, took = run_case(data, out, rules)
                r = score(alerts, labels, 300.0)
                r["false_per_key_day"] = round(r["false_alerts"] / (args.keys * args.days), 4)
                r["seconds"] = round(took, 1)
                results[f"{stream} / {case}"] = r
    if args.json:
        print(json.dumps(results))
        return
    print(f"{args.keys} keys x {args.days} days, 1 record/min per key, seed {args.seed}")
    print(f"{'stream / rules':34} {'false/key-day':>14} {'false':>6} {'anomalies found':>16}")
    for name, r in results.items():
        if isinstance(r, dict):
            print(f"{name:34} {r['false_per_key_day']:>14} {r['false_alerts']:>6} "
                  f"{r['anomalies_found']:>7}/{r['anomalies']:<8}")


if __name__ == "__main__":
    main()
