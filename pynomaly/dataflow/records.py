"""Records that travel between steps: raw batches, parsed event batches and
dead letters with their reason codes.

Every step works on micro-batches (docs/adr/0001-micro-batches-and-shards.md): a
source hands over a :class:`RawBatch`, parsing turns it into one columnar
:class:`EventBatch` plus a list of :class:`DeadLetter`.

>>> from pynomaly.dataflow.records import DeadLetter, Reason
>>> dl = DeadLetter(Reason.MALFORMED_JSON, "unexpected character", b"{oops", "metrics/0@12")
>>> dl.to_json()["reason"]
'malformed_json'
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, overload

import numpy as np


class Reason(StrEnum):
    """Why a record went to the dead-letter output."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    MALFORMED_JSON = "malformed_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIMESTAMP = "bad_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    LATE_EVENT = "late_event"
    KEY_OVERFLOW = "key_overflow"
    MALFORMED_CSV = "malformed_csv"


@dataclass(slots=True, frozen=True)
class BadRow:
    """A record a source could not even split into fields (a CSV line with the
    wrong number of columns, or not UTF-8); the parser dead-letters it with
    this reason and detail."""

    reason: Reason
    detail: str


@dataclass(slots=True)
class RawBatch:
    """Records as they came from a source.

    ``payloads`` holds bytes (JSON) or already-decoded rows (CSV/Parquet);
    ``origin`` names where they came from and ``first_index`` the position
    (offset or line) of the first one, so a dead letter can point back to it.
    ``offsets`` (optional) gives each record's position when they are not
    consecutive (Kafka offsets of one partition usually are). ``raw``
    (optional) holds each record's original bytes when ``payloads`` are
    decoded forms of them (CSV lines).

    >>> b = RawBatch([{"v": 1}, {"v": 2}], "m.csv", 2, [2, 4], raw=[b"1", b"2"])
    >>> b.position(1), b.raw_of(1)
    ('m.csv@4', b'2')
    """

    payloads: list[Any]
    origin: str
    first_index: int = 0
    offsets: list[int] | None = None
    #: wall-clock time (epoch s) the source read the batch; used for lag metrics
    read_at: float = 0.0
    raw: list[bytes] | None = None

    def position(self, i: int) -> str:
        """Where record ``i`` came from: ``topic/partition@offset`` or ``file@line``."""
        idx = self.offsets[i] if self.offsets is not None else self.first_index + i
        return f"{self.origin}@{idx}"

    def raw_of(self, i: int) -> bytes:
        """The original bytes of record ``i`` (re-encoded as JSON for decoded
        rows that have none, such as Parquet rows)."""
        return self.raw[i] if self.raw is not None else raw_bytes(self.payloads[i])

    def take(self, rows: np.ndarray) -> RawBatch:
        """Only records ``rows``, with their positions and original bytes."""
        idx = np.asarray(rows, dtype=np.int64)
        payloads: Any = self.payloads
        if hasattr(payloads, "record_batch"):  # Arrow rows: taken column by column
            payloads = type(payloads)(payloads.record_batch.take(idx))
        else:
            payloads = [payloads[i] for i in idx.tolist()]
        if self.offsets is not None:
            positions = np.asarray(self.offsets, dtype=np.int64)[idx].tolist()
        else:
            positions = (self.first_index + idx).tolist()
        raw = None if self.raw is None else [self.raw[i] for i in idx.tolist()]
        return RawBatch(payloads, self.origin, positions[0] if positions else 0, positions,
                        self.read_at, raw)


class SourceRows:
    """Where each event of an :class:`EventBatch` was read: its source batch
    and row there (row ``i`` when ``rows`` is None), so that a record
    rejected after parsing (a late event) is dead-lettered with its position
    and original bytes. Pickles only its own rows: a sub-batch sent to
    another process does not carry the whole source batch.

    >>> src = SourceRows(RawBatch([b"a", b"b", b"c"], "metrics/0", 40), np.array([2, 0]))
    >>> src.position(0), src.raw(0), src.take(np.array([1])).position(0)
    ('metrics/0@42', b'c', 'metrics/0@40')
    """

    __slots__ = ("batch", "rows")

    def __init__(self, batch: RawBatch, rows: np.ndarray | None = None) -> None:
        self.batch = batch
        self.rows = rows

    def _row(self, i: int) -> int:
        return i if self.rows is None else int(self.rows[i])

    def position(self, i: int) -> str:
        """``topic/partition@offset`` or ``file@line`` of event ``i``."""
        return self.batch.position(self._row(i))

    def raw(self, i: int) -> bytes:
        """The original bytes of event ``i``."""
        return self.batch.raw_of(self._row(i))

    def take(self, idx: np.ndarray) -> SourceRows:
        """The sources of events ``idx`` (a sub-batch)."""
        return SourceRows(self.batch, idx if self.rows is None else self.rows[idx])

    def __reduce__(self) -> tuple[Any, ...]:
        batch = self.batch
        rows = self.rows if self.rows is not None else np.arange(len(batch.payloads))
        texts = batch.raw if batch.raw is not None else batch.payloads
        picked = [texts[i] for i in rows.tolist()] if isinstance(texts, list | PackedBytes) else []
        if len(picked) != len(rows) or not set(map(type, picked)) <= {bytes}:
            return (SourceRows, (batch.take(rows), None))  # Arrow rows travel as Arrow
        # bytes records: one blob and two arrays pickle far faster than a list
        ends = np.cumsum(np.fromiter(map(len, picked), dtype=np.int64, count=len(picked)))
        if batch.offsets is not None:
            positions = np.asarray(batch.offsets, dtype=np.int64)[rows]
        else:
            positions = batch.first_index + np.asarray(rows, dtype=np.int64)
        return (_unpack, (batch.origin, positions.tobytes(), b"".join(picked), ends.tobytes(),
                          batch.read_at))


def _unpack(origin: str, positions: bytes, blob: bytes, ends: bytes, read_at: float
            ) -> SourceRows:
    """A :class:`SourceRows` of bytes records from its pickled form."""
    packed = PackedBytes(blob, np.frombuffer(ends, dtype=np.int64))
    offsets = np.frombuffer(positions, dtype=np.int64)
    first = int(offsets[0]) if len(offsets) else 0
    # PackedBytes reads like the list of bytes records it packs
    raw = RawBatch(packed, origin, first, offsets.tolist(), read_at, packed)  # type: ignore[arg-type]
    return SourceRows(raw)


class PackedBytes(Sequence[bytes]):
    """Byte strings stored end to end in one blob (``ends``: the end of each);
    a pickled :class:`SourceRows` holds its records so.

    >>> p = PackedBytes(b"abcde", np.array([2, 5]))
    >>> len(p), p[1], list(p)
    (2, b'cde', [b'ab', b'cde'])
    """

    __slots__ = ("blob", "ends")

    def __init__(self, blob: bytes, ends: np.ndarray) -> None:
        self.blob = blob
        self.ends = ends

    def __len__(self) -> int:
        return len(self.ends)

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...

    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        start = int(self.ends[i - 1]) if i > 0 else 0
        return self.blob[start:int(self.ends[i])]


@dataclass(slots=True)
class EventBatch:
    """Parsed, valid events in columnar form: one row per event."""

    keys: list[str]
    times: np.ndarray  # float64 epoch seconds, event time
    values: np.ndarray  # float64, shape (n, n_fields)
    fields: tuple[str, ...]
    read_at: float = 0.0
    #: span context of the batch's parse span (tracing), carried to later steps
    trace_parent: Any = None
    #: CRC-32 of each key's UTF-8 bytes when the parser has it (the shard
    #: split then needs no per-key hashing); None otherwise
    key_hash: np.ndarray | None = None
    #: labels (record fields carried to alerts) of keys whose labels are due,
    #: key -> {field: value}; None when none are (see pynomaly.alerting.labels)
    labels: dict[str, dict[str, Any]] | None = None
    #: the flow's watermark when the batch was parsed (event-time seconds;
    #: NaN when unknown); an empty batch carrying it is a tick
    watermark: float = float("nan")
    #: which parser (one per process) the watermark comes from: shards take
    #: the smallest of their sources' watermarks
    watermark_from: str = ""
    #: where each event was read (for dead letters after parsing); None when
    #: the events were not read from a source batch
    source: SourceRows | None = None

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(slots=True)
class DeadLetter:
    """A record that could not be processed, with the reason and its original bytes."""

    reason: Reason
    detail: str
    raw: bytes
    origin: str
    key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form; the original bytes are kept as base64 and, when
        they are valid UTF-8, also as text."""
        out: dict[str, Any] = {
            "reason": str(self.reason),
            "detail": self.detail,
            "origin": self.origin,
            "key": self.key,
            "raw_b64": base64.b64encode(self.raw).decode("ascii"),
        }
        try:
            out["raw"] = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if self.extra:
            out["extra"] = self.extra
        return out


def raw_bytes(payload: Any) -> bytes:
    """Bytes of a payload for a dead letter (dict rows are re-encoded as JSON)."""
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    import orjson

    try:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return repr(payload).encode()
