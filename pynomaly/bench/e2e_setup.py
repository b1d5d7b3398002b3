"""Shared set-up of the end-to-end benchmarks: the benchmark flow specs, the
seeded metric stream in Kafka or a file, and reading a topic to its end.

>>> spec = bench_spec("robust_zscore", "127.0.0.1:9092", "metrics", "alerts")
>>> spec.detection.calibration.kind, spec.detection.threshold.kind, spec.keys.shards
('none', 'static', 16)
>>> from pynomaly.dataflow.detect_banked import banked_eligible
>>> all(banked_eligible(bench_spec(d, "h:1", "m", "a")) for d in DETECTORS)
True
"""

from __future__ import annotations

import os
import time
from typing import Any

from pynomaly.spec import FlowSpec

#: The detection part of the benchmark flow for each detector measured. The
#: generator's fields are ``cpu`` (0..1) and ``latency_ms`` (about 10..40), so
#: Half-Space Trees get fixed limits around them (trees shared by all keys).
DETECTORS: dict[str, dict[str, Any]] = {
    "robust_zscore": {
        "detector": {"name": "robust_zscore", "params": {"warmup": 20}},
        "threshold": {"kind": "static", "value": 8.0},
    },
    "hst": {
        "detector": {"name": "hst", "params": {
            "n_trees": 10, "height": 6, "window_size": 25, "seed": 0,
            "limits": [[0.0, 1.0], [0.0, 100.0]]}},
        "threshold": {"kind": "static", "value": 0.9},
    },
}

FIELDS = ["cpu", "latency_ms"]


def bench_spec(detector: str, bootstrap: str, topic: str, alerts_topic: str | None, *,
               batch_size: int = 5000, shards: int = 16, tail: bool = False,
               time_format: str = "iso", cooldown_s: float = 300.0,
               ttl_s: float = 0.0, max_keys: int = 2_000_000) -> FlowSpec:
    """The benchmark flow: Kafka ``topic`` → parse → shard → detect → alerts to
    Kafka ``alerts_topic`` (or a JSONL sink in ``os.devnull`` when ``None``)."""
    sinks: list[dict[str, Any]] = (
        [{"type": "kafka", "bootstrap_servers": bootstrap, "topic": alerts_topic}]
        if alerts_topic else [{"type": "jsonl", "path": os.devnull}])
    return FlowSpec.model_validate({
        "name": f"bench-{detector}",
        "source": {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [topic],
                   "tail": tail, "from_beginning": True, "batch_size": batch_size},
        "record": {"value_fields": FIELDS, "time_format": time_format, "max_future_s": 3.2e9},
        "detection": {**DETECTORS[detector], "calibration": {"kind": "none"}, "warmup": 20},
        "alerts": {"cooldown_s": cooldown_s},
        "keys": {"shards": shards, "ttl_s": ttl_s, "max_keys": max_keys},
        "sinks": sinks,
        "dead_letter": {"type": "jsonl", "path": os.devnull},
    })


def produce_stream(bootstrap: str, topic: str, records: int, keys: int, *, partitions: int = 1,
                   anomaly_rate: float = 0.001,
                   seed: int = 0) -> float:
    """Write ``records`` generated records over ``keys`` keys to ``topic``;
    returns the seconds it took."""
    from pynomaly.devtools.generator import GeneratorConfig
    from pynomaly.devtools.generator_sinks import produce

    cfg = GeneratorConfig(keys=keys, seed=seed, anomaly_rate=anomaly_rate)
    summary = produce(cfg, [f"kafka://{bootstrap}/{topic}"], count=records,
                      partitions=partitions)
    return summary.seconds


def topic_count(bootstrap: str, topic: str, timeout_s: float = 30.0) -> int:
    """Number of records in ``topic`` (read to the end of every partition)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from pynomaly.connectors.kafka_admin import topic_partitions

    n_parts = topic_partitions(bootstrap, topic)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"count-{time.time_ns()}",
                  "enable.auto.commit": "false", "enable.partition.eof": "true",
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(n_parts)])
    count, eof = 0, set()
    deadline = time.monotonic() + timeout_s
    try:
        while len(eof) < n_parts and time.monotonic() < deadline:
            for m in c.consume(10_000, 0.2):
                err = m.error()
                if err is None:
                    count += 1
                elif err.code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
    finally:
        c.close()
    return count


def load_average() -> float:
    """The 1-minute load average (0 where unknown)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return 0.0
