"""CSV files as batches of records that keep their line numbers and text.

Each batch of lines is parsed by Arrow's CSV reader into typed columns (the
fast path). A batch Arrow refuses — a line with the wrong number of columns,
a value column with a cell that is not a number — is parsed again in smaller
blocks, and a block that still fails is read line by line with Python's
``csv`` module: only the bad lines become dead letters (a wrong column count
as :class:`~pynomaly.dataflow.records.BadRow`, a bad cell by the parser's usual
checks), each with the file name, its 1-based line number and its text.

Each physical line is one record (values with line breaks inside quotes are
not supported, as in Arrow's default); empty lines are skipped. The column
types the record spec implies are fixed (key: text; value fields and epoch
times: numbers), so every block reads the same way whatever its neighbours.

>>> import tempfile, os
>>> from pathlib import Path
>>> path = os.path.join(tempfile.mkdtemp(), "m.csv")
>>> _ = Path(path).write_text("key,ts,v\\na,1,1.5\\nb,2\\nc,3,x\\n")
>>> layout = CsvLayout("key", "ts", "epoch_s", ("v",))
>>> [(c.lines, type(c.payloads).__name__) for c in csv_chunks(path, 10, 0, layout)]
[([2, 3, 4], 'list')]
>>> chunk = next(csv_chunks(path, 10, 0, layout))
>>> chunk.payloads[0], chunk.payloads[1].reason.value, chunk.text[1]
({'key': 'a', 'ts': 1.0, 'v': 1.5}, 'malformed_csv', b'b,2')
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pynomaly.dataflow.arrow_rows import ArrowRows
from pynomaly.dataflow.records import BadRow, Reason

#: lines per block when a batch Arrow refused is parsed again in parts
RETRY_BLOCK_LINES = 256


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """What the record spec says about the columns (all optional)."""

    key_field: str | None = None
    time_field: str | None = None
    time_format: str = "iso"
    value_fields: tuple[str, ...] = ()

    def numeric(self) -> set[str]:
        """Columns that must hold numbers."""
        cols = set(self.value_fields)
        if self.time_field is not None and self.time_format != "iso":
            cols.add(self.time_field)
        return cols


@dataclass(slots=True)
class CsvChunk:
    """Consecutive records of a CSV file: Arrow rows or per-line rows (dicts
    and :class:`BadRow` s), their 1-based line numbers and original text."""

    payloads: ArrowRows | list[Any]
    lines: list[int]
    text: list[bytes]


def _numbered_lines(path: str) -> Iterator[tuple[list[bytes], list[int]]]:
    """Non-empty lines of the file, a block at a time, with their line numbers."""
    from pynomaly.connectors.file_source import _jsonl_lines

    number = 1
    with open(path, "rb") as fh:
        for lines in _jsonl_lines(fh):
            numbers = list(range(number, number + len(lines)))
            number += len(lines)
            if b"" in lines:
                kept = [(ln, n) for ln, n in zip(lines, numbers, strict=True) if ln]
                lines = [ln for ln, _ in kept]
                numbers = [n for _, n in kept]
            yield lines, numbers


class _Reader:
    """Parses blocks of data lines under one header."""

    def __init__(self, header: bytes, layout: CsvLayout) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        self.header = header
        try:
            self.names = next(csv.reader([header.decode("utf-8")]))
        except (UnicodeDecodeError, StopIteration):
            self.names = []
        types: dict[str, Any] = {}
        if layout.key_field in self.names:
            types[layout.key_field] = pa.string()
        for name in layout.numeric() & set(self.names):
            types[name] = pa.float64()
        self.numeric = layout.numeric()
        self.key_field = layout.key_field
        self.nulls = set(pacsv.ConvertOptions().null_values)
        self.convert = pacsv.ConvertOptions(column_types=types)
        self.parse_options = pacsv.ParseOptions(newlines_in_values=False)

    def columnar(self, lines: list[bytes]) -> ArrowRows | None:
        """Arrow rows of ``lines``, or None when Arrow refuses one of them."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        data = self.header + b"\n" + b"\n".join(lines)
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(use_threads=False, block_size=len(data) + 1),
                parse_options=self.parse_options, convert_options=self.convert)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != len(lines):
            return None
        batches = table.combine_chunks().to_batches()
        if len(batches) != 1:
            return None
        return ArrowRows(batches[0])

    def row(self, line: bytes) -> dict[str, Any] | BadRow:
        """One line read on its own: a dict of its cells, or why it has none."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return BadRow(Reason.NOT_UTF8, f"line is not UTF-8: {exc}"[:200])
        try:
            cells = next(csv.reader([text]))
        except csv.Error as exc:
            return BadRow(Reason.MALFORMED_CSV, f"unreadable CSV line: {exc}"[:200])
        if len(cells) != len(self.names):
            return BadRow(Reason.MALFORMED_CSV,
                          f"expected {len(self.names)} columns, got {len(cells)}")
        return {name: self._cell(name, v) for name, v in zip(self.names, cells, strict=True)}

    def _cell(self, name: str, v: str) -> Any:
        if name == self.key_field:
            return v
        if v in self.nulls:
            return None
        if name in self.numeric:
            try:
                return float(v)
            except ValueError:
                return v  # the parser names it: wrong type
        return v

    def chunks(self, lines: list[bytes], numbers: list[int]) -> Iterator[CsvChunk]:
        """``lines`` as one Arrow chunk when Arrow takes them all; otherwise
        as smaller Arrow chunks and per-line chunks around the bad lines."""
        rows = self.columnar(lines)
        if rows is not None:
            yield CsvChunk(rows, numbers, lines)
            return
        step = RETRY_BLOCK_LINES if len(lines) > RETRY_BLOCK_LINES else len(lines)
        for i in range(0, len(lines), step):
            part, part_numbers = lines[i:i + step], numbers[i:i + step]
            rows = self.columnar(part) if step < len(lines) else None
            if rows is None:
                yield CsvChunk([self.row(ln) for ln in part], part_numbers, part)
            else:
                yield CsvChunk(rows, part_numbers, part)


def csv_chunks(path: str, batch_size: int, skip: int, layout: CsvLayout) -> Iterator[CsvChunk]:
    """The records of a CSV file after the first ``skip``, at most
    ``batch_size`` a chunk (fewer around bad lines)."""
    reader: _Reader | None = None
    pending: list[bytes] = []
    pending_numbers: list[int] = []
    for lines, numbers in _numbered_lines(path):
        if reader is None and lines:
            reader = _Reader(lines[0], layout)
            lines, numbers = lines[1:], numbers[1:]
        if skip:
            dropped = min(skip, len(lines))
            lines, numbers = lines[dropped:], numbers[dropped:]
            skip -= dropped
        pending.extend(lines)
        pending_numbers.extend(numbers)
        while len(pending) >= batch_size:
            yield from reader.chunks(pending[:batch_size], pending_numbers[:batch_size])  # type: ignore[union-attr]
            del pending[:batch_size], pending_numbers[:batch_size]
    if pending and reader is not None:
        yield from reader.chunks(pending, pending_numbers)
