"""The rows of an Arrow record batch as a sequence of dicts, built only when
asked for: the parser reads the columns themselves, and only a row that
fails a check is turned into a dict (to be validated and dead-lettered with
its reason). Nanosecond timestamps become microsecond ``datetime`` s (the
sub-microsecond part dropped), with or without pandas installed.

>>> import pyarrow as pa
>>> rows = ArrowRows(pa.record_batch({"key": ["a", "b"], "v": [1.5, None]}))
>>> len(rows), rows[1], [r["key"] for r in rows]
(2, {'key': 'b', 'v': None}, ['a', 'b'])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload


class ArrowRows(Sequence[dict[str, Any]]):
    """A read-only sequence of the rows of ``record_batch`` as dicts."""

    __slots__ = ("record_batch",)

    def __init__(self, record_batch: Any) -> None:
        self.record_batch = record_batch

    def __len__(self) -> int:
        n: int = self.record_batch.num_rows
        return n

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            return _dicts(self.record_batch.slice(start, max(0, stop - start)))[::step]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("row index out of range")
        return _dicts(self.record_batch.slice(i, 1))[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(_dicts(self.record_batch))

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return (ArrowRows, (self.record_batch,))


def _dicts(rb: Any) -> list[dict[str, Any]]:
    """``rb.to_pylist()`` with nanosecond timestamps cast to microseconds
    first (``to_pylist`` gives pandas Timestamps for them when pandas is
    installed and refuses sub-microsecond values when it is not)."""
    import pyarrow as pa

    cols = list(rb.columns)
    changed = False
    for j, col in enumerate(cols):
        if pa.types.is_timestamp(col.type) and col.type.unit == "ns":
            cols[j] = col.cast(pa.timestamp("us", tz=col.type.tz), safe=False)
            changed = True
    if changed:
        rb = pa.RecordBatch.from_arrays(cols, names=rb.schema.names)
    rows: list[dict[str, Any]] = rb.to_pylist()
    return rows
