"""Where generated metrics go: Kafka, JSONL, CSV, Parquet; labels to JSONL; pacing.

A target is ``kafka://host:port[,host:port]/topic``, ``-`` (JSONL on stdout) or a
path whose suffix names the format (``.jsonl``/``.ndjson``, ``.csv``,
``.parquet``). Malformed records exist only as bytes, so they need a JSONL or
Kafka target.

Examples
--------
>>> import os, tempfile
>>> from pathlib import Path
>>> from pynomaly.devtools.generator import GeneratorConfig
>>> out = os.path.join(tempfile.mkdtemp(), "m.jsonl")
>>> summary = produce(GeneratorConfig(keys=3, seed=1), [out], count=10)
>>> summary.records, summary.malformed, len(Path(out).read_text().splitlines())
(10, 0, 10)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import orjson

from pynomaly.devtools.generator import GeneratorConfig, MetricBatch, MetricGenerator


class BatchWriter(Protocol):
    def write(self, batch: MetricBatch) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    """JSONL to a file (or an open binary stream such as stdout)."""

    def __init__(self, path: str | BinaryIO) -> None:
        self._own = isinstance(path, str)
        self._fh: BinaryIO = open(path, "wb") if isinstance(path, str) else path  # noqa: SIM115

    def write(self, batch: MetricBatch) -> None:
        self._fh.write(batch.jsonl())

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if self._own:
            self._fh.close()
        else:
            self._fh.flush()


class CsvWriter:
    """CSV with a header: ``key,ts,<fields>``; ``ts`` as ISO-8601 text."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: Any = None

    def write(self, batch: MetricBatch) -> None:
        import pyarrow.csv as pcsv

        table = batch.to_arrow(iso_time=True)
        if self._writer is None:
            self._writer = pcsv.CSVWriter(self.path, table.schema)
        self._writer.write_table(table)

    def flush(self) -> None:
        """Nothing to do here: pyarrow owns the buffer."""

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class ParquetWriter:
    """Parquet with ``ts`` as ``timestamp[ms, UTC]``; one row group per batch."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: Any = None

    def write(self, batch: MetricBatch) -> None:
        import pyarrow.parquet as pq

        table = batch.to_arrow(iso_time=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)

    def flush(self) -> None:
        """Nothing to do: a Parquet file is readable only once closed."""

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class KafkaWriter:
    """Produce JSON records keyed by entity; fails loudly on any undelivered record."""

    def __init__(
        self, bootstrap_servers: str, topic: str, partitions: int = 1, timeout: float = 30.0
    ) -> None:
        from confluent_kafka import Producer

        from pynomaly.connectors.kafka_admin import ensure_topics
        from pynomaly.connectors.kafka_logging import with_client_logger
        from pynomaly.connectors.kafka_probe import default_hint, probe

        probe(bootstrap_servers, needed_by=[f"the producer (topic {topic!r})"],
              hint=default_hint(bootstrap_servers,
                                elsewhere="give a running Kafka with --to kafka://HOST:PORT/TOPIC"))
        ensure_topics(bootstrap_servers, {topic: partitions})
        self.topic = topic
        self.timeout = timeout
        self.failed = 0
        self.errors: list[str] = []
        self._producer: Any = Producer(with_client_logger(
            {
                "bootstrap.servers": bootstrap_servers,
                "linger.ms": 20,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
                "message.timeout.ms": int(timeout * 1000),
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
            }
        ))

    def _on_delivery(self, err: Any, msg: Any) -> None:
        # only failures are reported ("delivery.report.only.error"); a record that is
        # neither reported nor left in the queue after flush() was delivered
        if err is not None:
            self.failed += 1
            if len(self.errors) < 10:
                self.errors.append(str(err))

    def write(self, batch: MetricBatch) -> None:
        produce = self._producer.produce
        topic = self.topic
        for key, value in zip(batch.line_keys(), batch.lines(), strict=True):
            while True:
                try:
                    produce(topic, value, key)
                    break
                except BufferError:
                    self._producer.poll(0.05)
        self._producer.poll(0)
        if self.errors:
            raise RuntimeError(f"Kafka delivery to {topic!r} failed: {self.errors[0]}")

    def flush(self) -> None:
        """Serve delivery reports; records leave in the background (``linger.ms``)."""
        self._producer.poll(0)

    def close(self) -> None:
        if self._producer is None:
            return
        left = self._producer.flush(self.timeout)
        self._producer = None  # destroy the client now, not when garbage collected
        if self.errors or left:
            first = self.errors[0] if self.errors else "timed out"
            raise RuntimeError(
                f"Kafka delivery to {self.topic!r}: {left} records undelivered, "
                f"{self.failed} failed ({first})"
            )


def parse_kafka_url(url: str) -> tuple[str, str]:
    """``kafka://h:p[,h:p]/topic`` → (bootstrap servers, topic).

    >>> parse_kafka_url("kafka://127.0.0.1:9092/metrics")
    ('127.0.0.1:9092', 'metrics')
    """
    rest = url.removeprefix("kafka://")
    bootstrap, _, topic = rest.partition("/")
    if not bootstrap or not topic or "/" in topic:
        raise ValueError(f"expected kafka://host:port/topic, got {url!r}")
    return bootstrap, topic


def open_writer(target: str, *, malformed: bool = False, partitions: int = 1) -> BatchWriter:
    """The writer for one target; refuses malformed records for typed formats."""
    if target.startswith("kafka://"):
        bootstrap, topic = parse_kafka_url(target)
        return KafkaWriter(bootstrap, topic, partitions=partitions)
    if target == "-":
        return JsonlWriter(sys.stdout.buffer)
    suffix = Path(target).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return JsonlWriter(target)
    if suffix in (".csv", ".parquet", ".pq") and malformed:
        raise ValueError(f"{target}: malformed records need a JSONL or Kafka target")
    if suffix == ".csv":
        return CsvWriter(target)
    if suffix in (".parquet", ".pq"):
        return ParquetWriter(target)
    raise ValueError(f"cannot tell the format of {target!r}: use .jsonl, .csv, .parquet or kafka://")


def slice_batch(batch: MetricBatch, lo: int, hi: int) -> MetricBatch:
    """Rows ``lo:hi`` of ``batch``, with the labels that start in them."""
    keep = (batch.malformed_after >= lo) & (batch.malformed_after < hi)
    first, last = batch.first_row + lo, batch.first_row + hi
    return MetricBatch(
        key_names=batch.key_names, field_names=batch.field_names,
        key_index=batch.key_index[lo:hi], ts_ms=batch.ts_ms[lo:hi],
        ts_iso=batch.ts_iso[lo:hi], values=batch.values[lo:hi], decimals=batch.decimals,
        first_row=first, labels=[lb for lb in batch.labels if first <= lb["row"] < last],
        malformed_after=batch.malformed_after[keep] - lo, malformed_kind=batch.malformed_kind[keep],
    )  # fmt: skip


@dataclass(slots=True)
class ProduceSummary:
    records: int
    malformed: int
    anomalies: int
    seconds: float

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


def produce(
    config: GeneratorConfig,
    targets: Sequence[str],
    *,
    count: int | None = None,
    rate: float | None = None,
    duration: float | None = None,
    labels_path: str | None = None,
    partitions: int = 1,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> ProduceSummary:
    """Generate and write records to every target.

    ``count`` well-formed records, or ``rate × duration`` of them, or (``duration``
    alone) as many as fit in ``duration`` seconds (the last slice of 8192 records
    may end a little later), or (``rate`` alone) until ``stop()`` returns true.
    With ``rate``, records are paced in slices of about a tenth of a second, and
    files are flushed after each slice so that readers can follow them; each
    label is written with the slice holding the record where it starts.
    """
    if count is None and rate is not None and duration is not None:
        count = int(rate * duration)
    stop_after = duration if count is None else None  # otherwise the count decides
    if count is None and duration is None and rate is None:
        raise ValueError("give a count, a duration, or a rate (then it runs until stopped)")
    writers = [
        open_writer(t, malformed=config.malformed_rate > 0, partitions=partitions) for t in targets
    ]
    label_fh = open(labels_path, "wb") if labels_path else None  # noqa: SIM115
    from tqdm import tqdm

    bar = tqdm(total=count, unit="rec", unit_scale=True, disable=not progress, file=sys.stderr)
    records = malformed = anomalies = 0
    start = time.monotonic()
    # slice size: a tenth of a second when paced; small enough to stop on time otherwise
    step = max(1, int(rate / 10)) if rate else (8192 if stop_after or stop else None)
    try:
        for batch in MetricGenerator(config).batches(count):
            pieces = (
                [batch] if step is None
                else [slice_batch(batch, lo, lo + step) for lo in range(0, len(batch), step)]
            )  # fmt: skip
            for piece in pieces:
                if rate:
                    _sleep_until(start + records / rate, stop)
                if stop is not None and stop():
                    break
                for writer in writers:
                    writer.write(piece)
                    if rate:
                        writer.flush()
                if label_fh is not None and piece.labels:
                    label_fh.write(b"".join(orjson.dumps(lb) + b"\n" for lb in piece.labels))
                    if rate:
                        label_fh.flush()
                records += len(piece)
                malformed += int(piece.malformed_after.size)
                anomalies += sum(1 for lb in piece.labels if lb["kind"] != "malformed")
                bar.update(len(piece))
                if stop_after is not None and time.monotonic() - start >= stop_after:
                    break
            else:
                continue
            break
    finally:
        bar.close()
        if label_fh is not None:
            label_fh.close()
        errors = []
        for writer in writers:
            try:
                writer.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
    return ProduceSummary(records, malformed, anomalies, time.monotonic() - start)


def _sleep_until(deadline: float, stop: Callable[[], bool] | None) -> None:
    """Sleep until ``deadline`` (monotonic), waking every 0.1 s to check ``stop``."""
    while (wait := deadline - time.monotonic()) > 0:
        if stop is not None and stop():
            return
        time.sleep(min(wait, 0.1))


def label_mask(labels: Sequence[dict[str, Any]], keys: Sequence[str], ts: np.ndarray) -> np.ndarray:
    """Per-record ground truth: whether ``(keys[i], ts[i])`` lies inside an anomaly label.

    ``ts`` holds ISO-8601 text (without the ``Z``) or ``datetime64`` values.

    Examples
    --------
    >>> labels = [{"key": "a", "kind": "level_shift",
    ...            "start": "2026-01-01T00:01:00Z", "end": "2026-01-01T00:02:00Z"}]
    >>> ts = np.array(["2026-01-01T00:00", "2026-01-01T00:01", "2026-01-01T00:02"] * 2)
    >>> label_mask(labels, ["a"] * 3 + ["b"] * 3, ts).astype(int).tolist()
    [0, 1, 1, 0, 0, 0]
    """
    ts64 = np.asarray(ts).astype("datetime64[ms]")
    names, key_of = np.unique(np.asarray(keys), return_inverse=True)
    rows_of = {name: np.flatnonzero(key_of == i) for i, name in enumerate(names.tolist())}
    mask = np.zeros(len(ts64), dtype=bool)
    for lb in labels:
        rows = rows_of.get(lb["key"])
        if lb.get("kind") == "malformed" or rows is None:
            continue
        lo = np.datetime64(lb["start"].rstrip("Z"), "ms")
        hi = np.datetime64(lb["end"].rstrip("Z"), "ms")
        mask[rows[(ts64[rows] >= lo) & (ts64[rows] <= hi)]] = True
    return mask
