"""``pynomaly bench e2e``: end-to-end throughput against the Kafka client's ceiling.

Starts an embedded broker (or uses ``--bootstrap-servers``), writes one
seeded metric stream and measures, in one run: the raw baseline (a plain
confluent-kafka consumer that polls and orjson-parses every record) and the
whole flow (Kafka source → parse → key → detect → decide → alerts to Kafka,
delivery confirmed) for each detector, with the ratio flow/raw. ``--suite``
adds the latency, scaling, memory and file replay measurements
(:mod:`pynomaly.bench.e2e_suite`). With ``--json``, one JSON object:
``raw_records_per_s`` and, under ``detectors``, each detector's
``records_per_s`` and ``ratio``.

>>> from pynomaly.cli.main import build_parser
>>> args = build_parser().parse_args(["bench", "e2e", "--records", "2000", "--json"])
>>> args.records, args.keys, args.json, args.suite
(2000, 10000, True, ['throughput'])
"""

from __future__ import annotations

import argparse
import json

from pynomaly.bench.e2e_suite import SUITES, SuiteOptions

_DEFAULTS = SuiteOptions()


def _cmd(args: argparse.Namespace) -> int:
    from pynomaly.bench.e2e_suite import format_text, run_suite

    report = run_suite(SuiteOptions(
        suite=tuple(args.suite), records=args.records, keys=args.keys,
        batch_size=args.batch_size, shards=args.shards, anomaly_rate=args.anomaly_rate,
        triage=args.triage, detectors=tuple(args.detectors),
        per_key_records=args.per_key_records, latency_rates=tuple(args.latency_rates),
        latency_seconds=args.latency_seconds, poll_timeout=args.poll_timeout,
        scaling_records=args.scaling_records, scaling_repeats=args.scaling_repeats,
        memory_keys=args.memory_keys, churn_minutes=args.churn_minutes,
        replay_records=args.replay_records, bootstrap_servers=args.bootstrap_servers))
    if args.json:
        print(json.dumps(report))
    else:
        text = format_text(report)
        if text:
            print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("e2e", help="end-to-end: raw Kafka consumer vs the whole flow")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--suite", nargs="+", choices=SUITES, default=list(_DEFAULTS.suite),
                   help="what to measure (default: throughput)")
    p.add_argument("--records", type=int, default=_DEFAULTS.records)
    p.add_argument("--keys", type=int, default=_DEFAULTS.keys)
    p.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    p.add_argument("--shards", type=int, default=_DEFAULTS.shards)
    p.add_argument("--anomaly-rate", type=float, default=_DEFAULTS.anomaly_rate,
                   help="share of generated records that are labelled anomalies")
    p.add_argument("--triage", action="store_true",
                   help="also run each detector with incidents and an alert budget")
    p.add_argument("--detectors", nargs="+", default=list(_DEFAULTS.detectors),
                   choices=["robust_zscore", "hst"])
    p.add_argument("--per-key-records", type=int, default=_DEFAULTS.per_key_records,
                   help="also run the per-key detect path on this many records")
    p.add_argument("--latency-rates", type=float, nargs="+",
                   default=list(_DEFAULTS.latency_rates))
    p.add_argument("--latency-seconds", type=float, default=_DEFAULTS.latency_seconds)
    p.add_argument("--poll-timeout", type=float, default=_DEFAULTS.poll_timeout,
                   help="Kafka source poll timeout (s) in the latency run")
    p.add_argument("--scaling-records", type=int, default=_DEFAULTS.scaling_records)
    p.add_argument("--scaling-repeats", type=int, default=_DEFAULTS.scaling_repeats,
                   help="runs per configuration, interleaved; medians are reported")
    p.add_argument("--memory-keys", type=int, default=_DEFAULTS.memory_keys)
    p.add_argument("--churn-minutes", type=int, default=_DEFAULTS.churn_minutes)
    p.add_argument("--replay-records", type=int, default=_DEFAULTS.replay_records)
    p.add_argument("--bootstrap-servers", default=None,
                   help="use this Kafka instead of starting an embedded broker")
    p.set_defaults(func=_cmd)
