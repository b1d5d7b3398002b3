"""End-to-end latency: produce → alert delivered on the alerts topic.

A flow (``pynomaly run``, its own process, tailing the topic) scores a
stream offered at a fixed rate by a producer that stamps each record's event
time with the wall clock (epoch ms). About 100 times a second one record is
a probe: a spike that always alerts (cooldown 0). A consumer of the alerts
topic takes, for each probe alert, the time it read it minus the probe's
event time. Per offered load: p50/p99/max over the probes of a window of
``seconds`` (after a warm-up that brings every key past its warm-up).

The floor under it, :func:`run_transport_floor`, is one hop through the same
broker with nothing in between: a producer stamps each record with the wall
clock and a consumer of that topic takes read time minus stamp. A flow's
produce → alert path crosses the broker twice (record in, alert out), so its
latency cannot go below about twice this floor.

>>> percentiles(np.array([3.0, 4.0, 5.0, 40.0]))["p50_ms"]
4.5
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pynomaly.bench.e2e_setup import bench_spec, load_average
from pynomaly.connectors.kafka_source import consume_available

#: probes per second, at every offered load
PROBES_PER_S = 100
KEYS = 1000


#: cpu value of a probe (normal records have cpu ≈ 0.5 ± 0.05)
PROBE_CPU = 9.0


class AlertClock(threading.Thread):
    """Reads the alerts topic and records (event time, read time) of probe alerts."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Consumer, TopicPartition

        self._c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"lat-{time.time_ns()}",
                            "enable.auto.commit": "false", "fetch.wait.max.ms": "2",
                            "fetch.min.bytes": "1"})
        self._c.assign([TopicPartition(topic, 0, 0)])
        self.seen: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        import orjson

        while not self._halt.is_set():
            for m in consume_available(self._c, 1000, 0.005):
                if m.error() is not None:
                    continue
                now = time.time()
                a = orjson.loads(m.value())
                # other kinds (missing_data, recovery …) carry no values
                if (a.get("values") or {}).get("cpu") == PROBE_CPU:
                    t = datetime.fromisoformat(a["event_time"].replace("Z", "+00:00"))
                    self.seen.append((t.timestamp(), now))
        self._c.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def _producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    # linger.ms 5, librdkafka's default: fewer, fuller produce requests, which the
    # embedded broker turns around faster than one request per millisecond
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                     "queue.buffering.max.messages": 1_000_000})


def offer(producer: Any, topic: str, rate: float, seconds: float, rng: np.random.Generator,
          *, probes: bool = True) -> int:
    """Produce ``rate`` records/s for ``seconds`` in 1-ms ticks; returns the count."""
    t0 = time.time()
    sent = 0
    probe_every = max(1, int(rate / PROBES_PER_S))
    cpu = 0.5 + 0.05 * rng.standard_normal(1 << 16)
    lat = 20.0 + rng.standard_normal(1 << 16)
    while True:
        now = time.time()
        if now - t0 >= seconds:
            break
        due = int((now - t0) * rate) + 1
        ms = int(now * 1000)
        while sent < due:
            j = sent & 0xFFFF
            if probes and sent % probe_every == probe_every - 1:
                k, c = (sent // probe_every * 7919) % KEYS, PROBE_CPU  # keys take turns
            else:
                k, c = sent % KEYS, cpu[j]
            rec = (b'{"key":"k%d","ts":%d,"cpu":%.4f,"latency_ms":%.3f}'
                   % (k, ms, c, lat[j]))
            try:
                producer.produce(topic, rec)
            except BufferError:
                producer.poll(0.001)
                continue
            sent += 1
        producer.poll(0)
        time.sleep(0.0005)
    producer.flush(10)
    return sent


def percentiles(lat_ms: np.ndarray) -> dict[str, float]:
    if lat_ms.size == 0:
        return {"probes": 0}
    return {"probes": int(lat_ms.size), "p50_ms": round(float(np.percentile(lat_ms, 50)), 1),
            "p99_ms": round(float(np.percentile(lat_ms, 99)), 1),
            "max_ms": round(float(lat_ms.max()), 1)}


def run_latency(bootstrap: str, rates: tuple[float, ...] = (1000, 10_000, 50_000),
                seconds: float = 5.0, poll_timeout_s: float = 0.01,
                batch_size: int = 5000, sink_config: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """Offered loads in turn against one running flow; see the module docstring."""
    from pynomaly.connectors.kafka_admin import ensure_topics

    stamp = time.time_ns()
    topic, alerts = f"lat-in-{stamp}", f"lat-alerts-{stamp}"
    ensure_topics(bootstrap, {topic: 1, alerts: 1})
    spec = bench_spec("robust_zscore", bootstrap, topic, alerts, tail=True, time_format="epoch_ms",
                      cooldown_s=0.0, batch_size=batch_size, shards=16)
    data = spec.model_dump(mode="json")
    data["source"]["poll_timeout_s"] = poll_timeout_s
    data["sinks"][0]["config"] = dict(sink_config or {})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "latency-flow.json")
        with open(path, "w") as fh:
            json.dump(data, fh)
        log = open(os.path.join(tmp, "flow.log"), "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "pynomaly.cli.main", "run", path],
                                stdout=subprocess.DEVNULL, stderr=log)
        clock = AlertClock(bootstrap, alerts)
        clock.start()
        producer = _producer(bootstrap)
        rng = np.random.default_rng(0)
        out: dict[str, Any] = {"poll_timeout_s": poll_timeout_s, "batch_size": batch_size,
                               "sink_config": dict(sink_config or {}),
                               "keys": KEYS, "load_average_start": load_average(), "rates": {}}
        try:
            deadline = time.time() + 120
            while not clock.seen and time.time() < deadline:  # flow up and keys warm
                offer(producer, topic, 20_000, 1.0, rng)
                if proc.poll() is not None:
                    raise RuntimeError(f"latency flow exited with {proc.returncode}")
            if not clock.seen:
                log.flush()
                tail = Path(log.name).read_bytes()[-2000:].decode(errors="replace")
                raise RuntimeError(f"no probe alert within 120 s; flow log: {tail}")
            for rate in rates:
                offer(producer, topic, rate, 1.0, rng, probes=False)  # settle at this rate
                t_start = time.time()
                sent = offer(producer, topic, rate, seconds, rng)
                time.sleep(1.0)
                lat = np.array([(r - e) * 1000 for e, r in clock.seen if e >= t_start])
                row = percentiles(lat)
                row["offered_records_per_s"] = round(sent / seconds)
                out["rates"][str(int(rate))] = row
        finally:
            clock.stop()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    out["load_average_end"] = load_average()
    return out


class _StampReader(threading.Thread):
    """Consumes a topic of wall-clock stamps and records each one's age on arrival."""

    def __init__(self, bootstrap: str, topic: str, fetch_wait_ms: int) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import Consumer, TopicPartition

        self._c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"floor-{time.time_ns()}",
                            "enable.auto.commit": "false", "fetch.min.bytes": "1",
                            "fetch.wait.max.ms": str(fetch_wait_ms)})
        self._c.assign([TopicPartition(topic, 0, 0)])
        self.ages: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for m in consume_available(self._c, 1000, 0.01):
                if m.error() is None:
                    now = time.time()
                    stamp = float(m.value())
                    self.ages.append((stamp, now - stamp))
        self._c.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def run_transport_floor(bootstrap: str, rates: tuple[float, ...] = (1000, 10_000, 50_000),
                        seconds: float = 5.0, fetch_wait_ms: int = 10) -> dict[str, Any]:
    """One hop produce → consume through the broker, per offered load (module docstring).

    The producer and consumer use the flow's settings (``linger.ms`` 5 as in the
    latency producer, ``fetch.wait.max.ms`` as the flow's source, records
    taken as they arrive as the source does)."""
    from pynomaly.connectors.kafka_admin import ensure_topics

    topic = f"floor-{time.time_ns()}"
    ensure_topics(bootstrap, {topic: 1})
    reader = _StampReader(bootstrap, topic, fetch_wait_ms)
    reader.start()
    producer = _producer(bootstrap)
    out: dict[str, Any] = {"fetch_wait_ms": fetch_wait_ms, "load_average_start": load_average(),
                           "rates": {}}
    try:
        for rate in rates:
            _stamps(producer, topic, rate, 1.0)  # settle at this rate
            t_start = time.time()
            sent = _stamps(producer, topic, rate, seconds)
            time.sleep(1.0)
            ages = np.array([a * 1000 for s, a in reader.ages if s >= t_start])
            row = percentiles(ages)
            row["offered_records_per_s"] = round(sent / seconds)
            row["received"] = int(ages.size)
            out["rates"][str(int(rate))] = row
    finally:
        reader.stop()
    out["load_average_end"] = load_average()
    return out


def _stamps(producer: Any, topic: str, rate: float, seconds: float) -> int:
    t0 = time.time()
    sent = 0
    while (now := time.time()) - t0 < seconds:
        due = int((now - t0) * rate) + 1
        while sent < due:
            try:
                producer.produce(topic, b"%.6f" % time.time())
            except BufferError:
                producer.poll(0.001)
                continue
            sent += 1
        producer.poll(0)
        time.sleep(0.0005)
    producer.flush(10)
    return sent
