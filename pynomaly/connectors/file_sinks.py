"""Line-oriented sinks: JSONL files and standard output.

Each batch is written with a single ``write`` to a file opened in append
mode and flushed (``fsync`` optional), so lines from several workers never
interleave mid-line and a crash loses at most the batch being written, which
recovery replays.

>>> import tempfile, os
>>> from pathlib import Path
>>> from pynomaly.connectors.file_sinks import JsonlWriter
>>> path = os.path.join(tempfile.mkdtemp(), "alerts.jsonl")
>>> w = JsonlWriter(path); w.write([{"id": "a"}, {"id": "b"}]); w.close()
>>> Path(path).read_text().splitlines()
['{"id":"a"}', '{"id":"b"}']
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from pynomaly.dataflow.records import DeadLetter


def _to_json(item: Any) -> Any:
    return item.to_json() if isinstance(item, DeadLetter) else item


class JsonlWriter:
    """Append JSON lines to ``path`` (created with its parent folder)."""

    def __init__(self, path: str, fsync: bool = False) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._fsync = fsync

    def write(self, items: list[Any]) -> None:
        if not items:
            return
        data = b"".join(orjson.dumps(_to_json(i), option=orjson.OPT_APPEND_NEWLINE) for i in items)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if self._fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class _WriterPartition(StatelessSinkPartition[Any]):
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write_batch(self, items: list[Any]) -> None:
        self._writer.write(items)

    def close(self) -> None:
        self._writer.close()


class JsonlSink(DynamicSink[Any]):
    """Alerts or dead letters as JSON lines in one file shared by all workers."""

    def __init__(self, path: str, fsync: bool = False) -> None:
        self.path, self.fsync = path, fsync

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _WriterPartition:
        return _WriterPartition(JsonlWriter(self.path, self.fsync))


class _StreamWriter:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, items: list[Any]) -> None:
        out = self._stream.buffer
        out.write(b"".join(orjson.dumps(_to_json(i), option=orjson.OPT_APPEND_NEWLINE) for i in items))
        out.flush()

    def close(self) -> None:
        self._stream.flush()


class StdoutSink(DynamicSink[Any]):
    """JSON lines on standard output."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _WriterPartition:
        return _WriterPartition(_StreamWriter(sys.stdout))


class StderrSink(DynamicSink[Any]):
    """JSON lines on standard error (where dead letters go when no output is set)."""

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _WriterPartition:
        return _WriterPartition(_StreamWriter(sys.stderr))
