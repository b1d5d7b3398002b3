"""The end-to-end benchmark suite behind ``pynomaly bench e2e``.

:func:`run_suite` starts an embedded broker (or uses ``bootstrap_servers``)
and runs the measurements named in ``suite``: ``throughput`` (the raw Kafka
consumer against the whole flow for each detector, :mod:`pynomaly.bench.e2e`),
``latency`` (:mod:`pynomaly.bench.latency`), ``scaling``
(:mod:`pynomaly.bench.scaling`), ``memory`` (:mod:`pynomaly.bench.memory`)
and ``replay`` (:mod:`pynomaly.bench.replay`).

>>> SuiteOptions().suite, SuiteOptions().detectors
(('throughput',), ('robust_zscore', 'hst'))
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from typing import Any

SUITES = ("throughput", "latency", "scaling", "memory", "replay")


@dataclass(frozen=True)
class SuiteOptions:
    """What to measure and on what (the options of ``pynomaly bench e2e``)."""

    suite: tuple[str, ...] = ("throughput",)
    records: int = 1_000_000
    keys: int = 10_000
    batch_size: int = 5000
    shards: int = 16
    #: share of generated records that are labelled anomalies
    anomaly_rate: float = 0.001
    #: also run each detector with incidents and an alert budget
    triage: bool = False
    detectors: tuple[str, ...] = ("robust_zscore", "hst")
    #: also run the per-key detect path on this many records
    per_key_records: int = 0
    latency_rates: tuple[float, ...] = (1000, 10_000, 50_000)
    latency_seconds: float = 5.0
    #: Kafka source poll timeout (s) in the latency run
    poll_timeout: float = 0.01
    scaling_records: int = 3_000_000
    #: runs per configuration, interleaved; medians are reported
    scaling_repeats: int = 3
    memory_keys: int = 1_000_000
    churn_minutes: int = 40
    replay_records: int = 1_000_000
    #: use this Kafka instead of starting an embedded broker
    bootstrap_servers: str | None = None


def run_suite(options: SuiteOptions) -> dict[str, Any]:
    """Run the measurements of ``options.suite``; returns the report."""
    from pynomaly.bench.e2e import E2EConfig, run_throughput
    from pynomaly.devtools.broker import EmbeddedBroker

    report: dict[str, Any] = {"benchmark": "e2e", "python": platform.python_version(),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    broker = None
    bootstrap = options.bootstrap_servers
    if bootstrap is None:
        broker = EmbeddedBroker().start()
        bootstrap = broker.bootstrap_servers
    try:
        if "throughput" in options.suite:
            cfg = E2EConfig(records=options.records, keys=options.keys,
                            batch_size=options.batch_size, shards=options.shards,
                            detectors=tuple(options.detectors),
                            per_key_records=options.per_key_records,
                            anomaly_rate=options.anomaly_rate, triage=options.triage)
            t = run_throughput(bootstrap, cfg)
            report["throughput"] = t
            report["raw_records_per_s"] = t["raw_records_per_s"]
            report["detectors"] = t["detectors"]
        if "latency" in options.suite:
            from pynomaly.bench.latency import run_latency, run_transport_floor

            report["latency"] = run_latency(bootstrap, tuple(options.latency_rates),
                                            options.latency_seconds, options.poll_timeout)
            report["latency"]["transport_floor"] = run_transport_floor(
                bootstrap, tuple(options.latency_rates), options.latency_seconds)
        if "scaling" in options.suite:
            from pynomaly.bench.scaling import run_scaling

            report["scaling"] = run_scaling(bootstrap, options.scaling_records, options.keys,
                                            repeats=options.scaling_repeats)
        if "memory" in options.suite:
            from pynomaly.bench.memory import measure

            report["memory"] = {
                "live": [measure("live", "robust_zscore", options.memory_keys),
                         measure("live", "hst", max(1, options.memory_keys // 50)),
                         measure("live", "robust_zscore", max(1, options.memory_keys // 50),
                                 per_key=True)],
                "churn": measure("churn", "robust_zscore", max(1, options.memory_keys // 20),
                                 minutes=options.churn_minutes),
            }
        if "replay" in options.suite:
            from pynomaly.bench.replay import run_replay

            report["replay"] = run_replay(options.replay_records, options.keys)
    finally:
        if broker is not None:
            broker.stop()
    return report


def format_text(report: dict[str, Any]) -> str:
    """The report as text: throughput per detector, one JSON line per other measurement."""
    lines = []
    t = report.get("throughput")
    if t:
        lines.append(f"end to end, {t['records']:,} records over {t['keys']:,} keys "
                     f"(load average {t['load_average_start']} → {t['load_average_end']})")
        lines.append(f"  raw consumer + orjson   {t['raw_records_per_s']:>10,} rec/s  "
                     f"(runs {t['raw_runs_records_per_s']})")
        for name, row in t["detectors"].items():
            lines.append(f"  flow {name:<18} {row['records_per_s']:>10,} rec/s  "
                         f"ratio {row['ratio']:.2f}  alerts {row['alerts_delivered']}")
    for key in SUITES[1:]:
        if key in report:
            lines.append(f"{key}: {json.dumps(report[key])}")
    return "\n".join(lines)
