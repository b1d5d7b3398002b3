"""End-to-end throughput: the Kafka client's ceiling against the whole flow.

On one topic of the embedded broker, in one run:

(a) *raw baseline* — a plain confluent-kafka consumer polls the topic and
    orjson-parses every record, nothing else (run before and after the flows;
    the mean is the baseline);
(b) *flow* — Kafka source → parse/validate → shard by key → detect → decide →
    alerts to a Kafka topic with delivery confirmed, one Bytewax worker in
    this process, once per detector.

Reported: records/s of each and the ratio (b)/(a). Optionally the per-key
detect path on the first records too (``per_key_records``).

>>> cfg = E2EConfig(records=100, keys=5)
>>> cfg.detectors
('robust_zscore', 'hst')
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from pynomaly.bench.e2e_setup import (
    DETECTORS,
    bench_spec,
    load_average,
    produce_stream,
    topic_count,
)
from pynomaly.runtime.gc_tuning import tune_for_streaming


@dataclass(frozen=True)
class E2EConfig:
    records: int = 1_000_000
    keys: int = 10_000
    batch_size: int = 5000
    shards: int = 16
    detectors: tuple[str, ...] = tuple(DETECTORS)
    #: also run the per-key detect path on this many records (0 = skip)
    per_key_records: int = 0
    seed: int = 0
    #: share of generated records that are labelled anomalies
    anomaly_rate: float = 0.001
    #: also run each detector with incidents and an alert budget (ADR 0035)
    triage: bool = False


def raw_consume(bootstrap: str, topic: str, records: int, batch_size: int) -> float:
    """Seconds a plain consumer takes to poll and orjson-parse ``records`` records."""
    import orjson
    from confluent_kafka import Consumer, TopicPartition

    from pynomaly.connectors.kafka_admin import topic_partitions

    parts = topic_partitions(bootstrap, topic)
    t0 = time.perf_counter()
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{time.time_ns()}",
                  "enable.auto.commit": "false", "fetch.wait.max.ms": "10",
                  "queued.min.messages": "200000"})
    c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    n = 0
    loads = orjson.loads
    sink = 0
    try:
        while n < records:
            for m in c.consume(batch_size, 0.05):
                if m.error() is None:
                    sink += len(loads(m.value()))
                    n += 1
    finally:
        c.close()
    return time.perf_counter() - t0


def warm_up(spec: Any) -> None:
    """Compile/load the numba kernels and import the flow's modules (not timed)."""
    from pynomaly.dataflow.detect import DetectLogic, make_detect_logic
    from pynomaly.dataflow.records import EventBatch

    rng = np.random.default_rng(0)
    batch = EventBatch([f"k{i % 7}" for i in range(200)], 1.7e9 + np.arange(200.0),
                       np.abs(rng.normal(size=(200, len(spec.record.value_fields)))),
                       tuple(spec.record.value_fields))
    make_detect_logic(spec).process(None, batch)
    DetectLogic(spec).process(None, batch)


def run_flow(spec: Any, records: int, *, per_key: bool = False) -> tuple[float, int]:
    """Seconds the flow takes to consume the topic to its end; and the records it read."""
    from bytewax.testing import run_main

    from pynomaly.dataflow.flow import build_flow

    seen = [0]

    def count(batch: Any) -> None:
        seen[0] += len(batch.payloads)

    flow = build_flow(spec, on_batch=count, per_key=per_key, recovery=False)
    old = gc.get_threshold()
    t0 = time.perf_counter()
    tune_for_streaming()  # as pynomaly.runtime.runner.run_dataflow does
    try:
        run_main(flow)
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
    return time.perf_counter() - t0, seen[0]


def triage_update(spec: Any) -> dict[str, Any]:
    """Incidents grouped by key prefix and a budget of 100 alerts an hour (the
    triage step's costs on top of a flow)."""
    from pynomaly.incidents.budget import BudgetConfig
    from pynomaly.spec import IncidentsSpec

    return {"incidents": IncidentsSpec(group_by=("service",)),
            "budget": BudgetConfig(alerts_per_hour=100)}


def run_throughput(bootstrap: str, cfg: E2EConfig) -> dict[str, Any]:
    """Measure (a) and (b) on one freshly produced topic; see the module docstring."""
    from pynomaly.connectors.kafka_admin import ensure_topics

    topic = f"metrics-{time.time_ns()}"
    produce_s = produce_stream(bootstrap, topic, cfg.records, cfg.keys, seed=cfg.seed,
                               anomaly_rate=cfg.anomaly_rate)
    out: dict[str, Any] = {"records": cfg.records, "keys": cfg.keys,
                           "batch_size": cfg.batch_size, "shards": cfg.shards,
                           "produce_records_per_s": round(cfg.records / produce_s),
                           "load_average_start": load_average(), "detectors": {}}
    warm_topic = f"metrics-warm-{time.time_ns()}"
    produce_stream(bootstrap, warm_topic, min(cfg.records, 20_000), cfg.keys, seed=cfg.seed + 1)
    for det in cfg.detectors:  # kernels, imports, first Bytewax run: not timed
        warm_up(bench_spec(det, bootstrap, topic, None))
        run_flow(bench_spec(det, bootstrap, warm_topic, None, batch_size=cfg.batch_size,
                            shards=cfg.shards), min(cfg.records, 20_000))
    raw_consume(bootstrap, topic, min(cfg.records, 50_000), cfg.batch_size)  # warm the broker
    raw = [raw_consume(bootstrap, topic, cfg.records, cfg.batch_size)]
    for det in cfg.detectors:
        alerts_topic = f"alerts-{det}-{time.time_ns()}"
        ensure_topics(bootstrap, {alerts_topic: 1})
        spec = bench_spec(det, bootstrap, topic, alerts_topic, batch_size=cfg.batch_size,
                          shards=cfg.shards)
        secs, read = run_flow(spec, cfg.records)
        if read != cfg.records:
            raise RuntimeError(f"flow {det}: read {read} of {cfg.records} records")
        row: dict[str, Any] = {"seconds": round(secs, 3),
                               "records_per_s": round(cfg.records / secs),
                               "alerts_delivered": topic_count(bootstrap, alerts_topic)}
        if cfg.per_key_records:
            n = min(cfg.per_key_records, cfg.records)
            small = f"metrics-small-{time.time_ns()}"
            produce_stream(bootstrap, small, n, cfg.keys, seed=cfg.seed)
            pk_spec = bench_spec(det, bootstrap, small, None, batch_size=cfg.batch_size,
                                 shards=cfg.shards)
            pk_secs, _ = run_flow(pk_spec, n, per_key=True)
            b_secs, _ = run_flow(pk_spec, n)
            row["per_key"] = {"records": n, "records_per_s": round(n / pk_secs),
                              "banked_records_per_s": round(n / b_secs),
                              "banked_speedup": round(pk_secs / b_secs, 1)}
        if cfg.triage:  # best of three each, interleaved (a shared machine is noisy)
            tr_spec = spec.model_copy(update=triage_update(spec))
            plain, with_triage = [secs], []
            for _ in range(3):
                tr_secs, tr_read = run_flow(tr_spec, cfg.records)
                if tr_read != cfg.records:
                    raise RuntimeError(f"flow {det} with triage: read {tr_read} of {cfg.records}")
                with_triage.append(tr_secs)
                plain.append(run_flow(spec, cfg.records)[0])
            row["triage"] = {"records_per_s": round(cfg.records / min(with_triage)),
                             "plain_records_per_s": round(cfg.records / min(plain)),
                             "overhead": round(min(with_triage) / min(plain) - 1.0, 3)}
        out["detectors"][det] = row
    raw.append(raw_consume(bootstrap, topic, cfg.records, cfg.batch_size))
    old = gc.get_threshold()
    tune_for_streaming()
    try:  # the same consumer with the flow's collector settings, for reference
        tuned = raw_consume(bootstrap, topic, cfg.records, cfg.batch_size)
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
    out["raw_gc_tuned_records_per_s"] = round(cfg.records / tuned)
    raw_rate = cfg.records / float(np.mean(raw))
    out["raw_records_per_s"] = round(raw_rate)
    out["raw_runs_records_per_s"] = [round(cfg.records / r) for r in raw]
    for row in out["detectors"].values():
        row["ratio"] = round(row["records_per_s"] / raw_rate, 3)
    out["load_average_end"] = load_average()
    return out
