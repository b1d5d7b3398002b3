"""Deterministic test streams for the reliability suite: metric events with
known anomalies, hostile records of every kind, and a batch-wise producer."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np
import orjson
from confluent_kafka import Producer

#: 2026-01-01T00:00:00Z
T0 = 1_767_225_600.0


def metric_events(n_keys: int, n_per_key: int, *, seed: int = 7, spike_every: int = 400,
                  step_s: float = 1.0, shift_at: int | None = None
                  ) -> list[tuple[bytes, bytes]]:
    """``(key, json)`` records interleaved by time: every key gets ``n_per_key``
    events one ``step_s`` apart, N(50, 1) noise, and a +40 spike on every
    ``spike_every``-th event (offset per key so spikes differ in time). With
    ``shift_at``, every fourth key's level rises by 15 from that event on.
    """
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 1.0, size=(n_per_key, n_keys))
    for k in range(n_keys):
        values[(k * 37) % spike_every + spike_every // 2::spike_every, k] += 40.0
        if shift_at is not None and k % 4 == 0:
            values[shift_at + k:, k] += 15.0
    keys = [f"host-{k:03d}" for k in range(n_keys)]
    out = []
    for i in range(n_per_key):
        ts = T0 + i * step_s
        for k in range(n_keys):
            out.append((keys[k].encode(),
                        orjson.dumps({"key": keys[k], "ts": ts, "cpu": round(float(values[i, k]), 4)})))
    return out


class BatchProducer:
    """One idempotent producer for many batches; :meth:`send` returns once
    every record of the batch is acknowledged, and raises otherwise."""

    def __init__(self, bootstrap: str, **config: object) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                                   "batch.num.messages": 10_000, "enable.idempotence": True,
                                   "queue.buffering.max.messages": 500_000, **config})

    def send(self, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
        failed: list[str] = []

        def on_delivery(err, _msg):
            if err is not None:
                failed.append(str(err))

        n = 0
        for key, value in records:
            while True:
                try:
                    self._producer.produce(topic, value, key, on_delivery=on_delivery)
                    break
                except BufferError:
                    self._producer.poll(0.05)
            n += 1
            if n % 20_000 == 0:
                self._producer.poll(0)
        left = self._producer.flush(60)
        assert left == 0 and not failed, f"{left} unflushed, {len(failed)} failed: {failed[:3]}"
        return n


def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes | None, bytes]],
            **config: object) -> int:
    """Produce ``(key, value)`` records batch-wise with one idempotent producer;
    raise unless every record was acknowledged. Returns the number produced."""
    return BatchProducer(bootstrap, **config).send(topic, records)


def produce_paced(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]],
                  seconds: float, chunks: int = 40) -> None:
    """Produce ``records`` in ``chunks``, one every ``seconds / chunks`` (a
    live stream rather than a backlog). A chunk that stalls (broker away)
    delays the rest: the pace holds after an outage, there is no burst."""
    import time

    producer = BatchProducer(bootstrap)
    size = -(-len(records) // chunks)
    for c in range(chunks):
        producer.send(topic, records[c * size:(c + 1) * size])
        time.sleep(seconds / chunks)


class PacedProducer(threading.Thread):
    """:func:`produce_paced` in a thread; :meth:`join` re-raises its error."""

    def __init__(self, bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]],
                 seconds: float) -> None:
        super().__init__(daemon=True)
        self._args = (bootstrap, topic, records, seconds)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            produce_paced(*self._args)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error
