"""``pynomaly bench e2e``: end-to-end throughput against the Kafka client's ceiling.

Starts an embedded broker (or uses ``--bootstrap-servers``), writes one
seeded metric stream and measures, in one run: the raw baseline (a plain
confluent-kafka consumer that polls and orjson-parses every record) and the
whole flow (Kafka source → parse → key → detect → decide → alerts to Kafka,
delivery confirmed) for each detector, with the ratio flow/raw. ``--suite``
adds the latency, scaling, memory and file replay measurements (see
``pynomaly/bench/``). With ``--json``, one JSON object: ``raw_records_per_s``
and, under ``detectors``, each detector's ``records_per_s`` and ``ratio``.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "e2e", "--records", "2000", "--json"])
>>> args.records, args.keys, args.json, args.suite
(2000, 10000, True, ['throughput'])
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

SUITES = ("throughput", "latency", "scaling", "memory", "replay")


def _print_text(report: dict[str, Any]) -> None:
    t = report.get("throughput")
    if t:
        print(f"end to end, {t['records']:,} records over {t['keys']:,} keys "
              f"(load average {t['load_average_start']} → {t['load_average_end']})")
        print(f"  raw consumer + orjson   {t['raw_records_per_s']:>10,} rec/s  "
              f"(runs {t['raw_runs_records_per_s']})")
        for name, row in t["detectors"].items():
            print(f"  flow {name:<18} {row['records_per_s']:>10,} rec/s  ratio {row['ratio']:.2f}  "
                  f"alerts {row['alerts_delivered']}")
    for key in SUITES[1:]:
        if key in report:
            print(f"{key}: {json.dumps(report[key])}")


def _cmd(args: argparse.Namespace) -> int:
    from pynomaly.bench.e2e import E2EConfig, run_throughput
    from pynomaly.connectors.broker import EmbeddedBroker

    report: dict[str, Any] = {"benchmark": "e2e", "python": platform.python_version(),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    broker = None
    bootstrap = args.bootstrap_servers
    if bootstrap is None:
        broker = EmbeddedBroker().start()
        bootstrap = broker.bootstrap_servers
    try:
        if "throughput" in args.suite:
            cfg = E2EConfig(records=args.records, keys=args.keys, batch_size=args.batch_size,
                            shards=args.shards, detectors=tuple(args.detectors),
                            per_key_records=args.per_key_records,
                            anomaly_rate=args.anomaly_rate, triage=args.triage)
            t = run_throughput(bootstrap, cfg)
            report["throughput"] = t
            report["raw_records_per_s"] = t["raw_records_per_s"]
            report["detectors"] = t["detectors"]
        if "latency" in args.suite:
            from pynomaly.bench.latency import run_latency, run_transport_floor

            report["latency"] = run_latency(bootstrap, tuple(args.latency_rates),
                                            args.latency_seconds, args.poll_timeout)
            report["latency"]["transport_floor"] = run_transport_floor(
                bootstrap, tuple(args.latency_rates), args.latency_seconds)
        if "scaling" in args.suite:
            from pynomaly.bench.scaling import run_scaling

            report["scaling"] = run_scaling(bootstrap, args.scaling_records, args.keys,
                                            repeats=args.scaling_repeats)
        if "memory" in args.suite:
            from pynomaly.bench.memory import measure

            report["memory"] = {
                "live": [measure("live", "robust_zscore", args.memory_keys),
                         measure("live", "hst", max(1, args.memory_keys // 50)),
                         measure("live", "robust_zscore", max(1, args.memory_keys // 50),
                                 per_key=True)],
                "churn": measure("churn", "robust_zscore", max(1, args.memory_keys // 20),
                                 minutes=args.churn_minutes),
            }
        if "replay" in args.suite:
            from pynomaly.bench.replay import run_replay

            report["replay"] = run_replay(args.replay_records, args.keys)
    finally:
        if broker is not None:
            broker.stop()
    if args.json:
        print(json.dumps(report))
    else:
        _print_text(report)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("e2e", help="end-to-end: raw Kafka consumer vs the whole flow")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--suite", nargs="+", choices=SUITES, default=["throughput"],
                   help="what to measure (default: throughput)")
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--keys", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--shards", type=int, default=16)
    p.add_argument("--anomaly-rate", type=float, default=0.001,
                   help="share of generated records that are labelled anomalies")
    p.add_argument("--triage", action="store_true",
                   help="also run each detector with incidents and an alert budget")
    p.add_argument("--detectors", nargs="+", default=["robust_zscore", "hst"],
                   choices=["robust_zscore", "hst"])
    p.add_argument("--per-key-records", type=int, default=0,
                   help="also run the per-key detect path on this many records")
    p.add_argument("--latency-rates", type=float, nargs="+", default=[1000, 10_000, 50_000])
    p.add_argument("--latency-seconds", type=float, default=5.0)
    p.add_argument("--poll-timeout", type=float, default=0.01,
                   help="Kafka source poll timeout (s) in the latency run")
    p.add_argument("--scaling-records", type=int, default=3_000_000)
    p.add_argument("--scaling-repeats", type=int, default=3,
                   help="runs per configuration, interleaved; medians are reported")
    p.add_argument("--memory-keys", type=int, default=1_000_000)
    p.add_argument("--churn-minutes", type=int, default=40)
    p.add_argument("--replay-records", type=int, default=1_000_000)
    p.add_argument("--bootstrap-servers", default=None,
                   help="use this Kafka instead of starting an embedded broker")
    p.set_defaults(func=_cmd)
