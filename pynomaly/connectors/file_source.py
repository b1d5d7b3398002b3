"""File sources: JSONL, CSV and Parquet files as micro-batches.

Each file is one source partition; its resume state is the number of records
already emitted, so recovery resumes exactly after the last snapshot. JSONL
lines are handed over as bytes (parsed like Kafka messages); CSV and Parquet
record batches as :class:`~pynomaly.dataflow.arrow_rows.ArrowRows` (typed columns,
read column by column by the parser). CSV batches keep each record's line
number and text; lines Arrow cannot read are read one by one
(:mod:`.csv_source`), so one bad line costs only itself.

With ``speed > 0`` the file is replayed at ``speed`` × event-time speed:
batch boundaries wait until the wall clock has caught up with the batch's
first event time.

>>> import tempfile, os
>>> from pathlib import Path
>>> from pynomaly.connectors.file_source import read_batches
>>> path = os.path.join(tempfile.mkdtemp(), "m.jsonl")
>>> _ = Path(path).write_text('{"key":"a","ts":1,"v":1}\\n{"key":"a","ts":2,"v":2}\\n')
>>> [len(b.payloads) for b in read_batches(path, batch_size=1)]
[1, 1]
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from pynomaly.connectors.csv_source import CsvLayout, csv_chunks
from pynomaly.dataflow.arrow_rows import ArrowRows
from pynomaly.dataflow.records import RawBatch
from pynomaly.runtime import lifecycle


def detect_format(path: str, fmt: str = "auto") -> str:
    """``jsonl``, ``csv`` or ``parquet`` from the explicit format or the suffix."""
    if fmt != "auto":
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"cannot tell the format of {path!r} from its suffix; set format")


def _jsonl_lines(fh: Any, block_bytes: int = 1 << 22) -> Iterator[list[bytes]]:
    """The lines of a binary file as lists, a block at a time: one C-level
    split per block instead of a Python step per line. Line ends (``\\n`` or
    ``\\r\\n``) are dropped; a last line without one is kept."""
    rest = b""
    while block := fh.read(block_bytes):
        data = rest + block if rest else block
        lines = data.split(b"\n")
        rest = lines.pop()
        if b"\r" in data:
            lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
        yield lines
    if rest:
        yield [rest[:-1] if rest.endswith(b"\r") else rest]


def _jsonl_chunks(path: str, batch_size: int, skip: int) -> Iterator[list[bytes]]:
    with open(path, "rb") as fh:
        pending: list[bytes] = []
        for lines in _jsonl_lines(fh):
            if skip:
                dropped = min(skip, len(lines))
                lines = lines[dropped:]
                skip -= dropped
            pending.extend(lines)
            while len(pending) >= batch_size:
                yield pending[:batch_size]
                del pending[:batch_size]
        if pending:
            yield pending


def _parquet_chunks(path: str, batch_size: int, skip: int) -> Iterator[ArrowRows]:
    import pyarrow.parquet as pq

    batches = pq.ParquetFile(path).iter_batches(batch_size=batch_size)
    to_skip = skip
    for rb in batches:
        if to_skip >= rb.num_rows:
            to_skip -= rb.num_rows
            continue
        rb = rb.slice(to_skip)
        to_skip = 0
        for i in range(0, rb.num_rows, batch_size):
            yield ArrowRows(rb.slice(i, batch_size))


def read_batches(path: str, fmt: str = "auto", batch_size: int = 10_000, skip: int = 0,
                 layout: CsvLayout | None = None) -> Iterator[RawBatch]:
    """Every record of ``path`` as :class:`RawBatch` es, after the first ``skip``.

    Positions are 1-based line numbers (JSONL, CSV) or row numbers (Parquet);
    ``layout`` names the CSV columns the record spec reads."""
    kind = detect_format(path, fmt)
    name = Path(path).name
    if kind == "csv":
        for c in csv_chunks(path, batch_size, skip, layout or CsvLayout()):
            contiguous = c.lines[-1] - c.lines[0] == len(c.lines) - 1
            yield RawBatch(c.payloads, name, c.lines[0], None if contiguous else c.lines,
                           time.time(), raw=c.text)
        return
    chunks = _jsonl_chunks(path, batch_size, skip) if kind == "jsonl" else _parquet_chunks(
        path, batch_size, skip)
    index = skip
    for chunk in chunks:
        yield RawBatch(chunk, name, index + 1, None, time.time())
        index += len(chunk)


def _event_time(payload: Any, time_field: str) -> float | None:
    try:
        obj = orjson.loads(payload) if isinstance(payload, bytes) else payload
        v = obj[time_field]
    except Exception:
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        from datetime import UTC, datetime

        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            return None
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    if hasattr(v, "timestamp"):
        return float(v.timestamp())
    return None


class _FilePartition(StatefulSourcePartition[RawBatch, int]):
    def __init__(self, path: str, fmt: str, batch_size: int, resume: int, speed: float,
                 time_field: str, time_scale: float, layout: CsvLayout) -> None:
        self._emitted = resume
        self._batches = read_batches(path, fmt, batch_size, resume, layout)
        self._speed = speed
        self._time_field = time_field
        self._time_scale = time_scale
        self._t0: tuple[float, float] | None = None  # (event time, wall time)

    def _pace(self, batch: RawBatch) -> None:
        et = _event_time(batch.payloads[0], self._time_field)
        if et is None:
            return
        et *= self._time_scale
        if self._t0 is None:
            self._t0 = (et, time.monotonic())
            return
        due = self._t0[1] + (et - self._t0[0]) / self._speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 5.0))

    def next_batch(self) -> list[RawBatch]:
        if lifecycle.stopping():
            raise StopIteration
        batch = next(self._batches)  # StopIteration ends the partition
        if self._speed > 0:
            self._pace(batch)
        self._emitted += len(batch.payloads)
        return [batch]

    def snapshot(self) -> int:
        return self._emitted


class FileBatchSource(FixedPartitionedSource[RawBatch, int]):
    """One or more files as micro-batches (one partition per file).

    ``key_field`` and ``value_fields`` (from the record spec) fix the types of
    those CSV columns: text and numbers."""

    def __init__(self, paths: list[str] | str, fmt: str = "auto", batch_size: int = 10_000,
                 speed: float = 0.0, time_field: str = "ts", time_format: str = "iso",
                 key_field: str | None = None, value_fields: tuple[str, ...] = ()) -> None:
        self.paths = [paths] if isinstance(paths, str) else list(paths)
        for p in self.paths:
            if not Path(p).is_file():
                raise FileNotFoundError(f"input file not found: {p}")
            detect_format(p, fmt)
        self.fmt = fmt
        self.batch_size = batch_size if speed == 0 else min(batch_size, 200)
        self.speed = speed
        self.time_field = time_field
        self.time_scale = 0.001 if time_format == "epoch_ms" else 1.0
        self.layout = CsvLayout(key_field, time_field, time_format, tuple(value_fields))

    def list_parts(self) -> list[str]:
        return [f"file-{i}" for i in range(len(self.paths))]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _FilePartition:
        path = self.paths[int(for_part.split("-", 1)[1])]
        return _FilePartition(path, self.fmt, self.batch_size, resume_state or 0, self.speed,
                              self.time_field, self.time_scale, self.layout)
