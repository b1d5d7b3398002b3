"""Key, time and value columns of an Arrow record batch (Parquet, CSV), for
:class:`~pynomaly.dataflow.parse.RecordParser`.

Columns of the types the record-by-record validator accepts are converted
as a whole, giving bit for bit what it would give row by row (timestamps to
the microsecond, as the rows' datetimes hold them); a row is marked not
ok where a value is null, of another type or out of the validator's limits,
and the parser then validates that row alone for its reason.

>>> import pyarrow as pa
>>> rb = pa.record_batch({"key": ["a", None], "ts": [1.7e9, 1.7e9], "v": [1, 2]})
>>> keys, times, cols, ok = arrow_columns(rb, "key", "ts", ("v",), "epoch_s", None)
>>> keys[0], times.tolist(), cols.tolist(), ok.tolist()
('a', [1700000000.0, 1700000000.0], [[1.0], [2.0]], [True, False])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_US_PER = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}


def _numbers(col: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(float64 values, valid mask) of an integer or floating column; None
    for other types."""
    import pyarrow as pa

    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        return None
    valid = np.ones(len(col), dtype=bool) if col.null_count == 0 else ~np.asarray(
        col.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if col.null_count:
        col = col.fill_null(0)
    return np.array(col.to_numpy(zero_copy_only=False), dtype=np.float64), valid  # a copy


def _times(col: Any, time_format: str, parse_strings: Callable[[list[Any]], np.ndarray] | None
           ) -> np.ndarray:
    """Epoch seconds of a time column; NaN where the row needs validating alone."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(col)
    t = col.type
    if pa.types.is_timestamp(t) and time_format == "iso":
        ints = col.fill_null(0).cast(pa.int64()).to_numpy(zero_copy_only=False)
        per = _US_PER[t.unit]
        # as the rows' datetimes hold them: whole microseconds (ArrowRows)
        us = ints // 1000 if per is None else ints * per
        out: np.ndarray = us.astype(np.float64) / 1e6
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        if time_format != "iso" or parse_strings is None:
            return np.full(n, np.nan)
        out = parse_strings(col.to_pylist())
    else:
        nums = _numbers(col)
        if nums is None:
            return np.full(n, np.nan)
        out, valid = nums
        if time_format == "epoch_ms":
            out = out / 1000.0
        out[~valid] = np.nan
        return out
    if col.null_count:
        out[np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
    return out


def arrow_columns(rb: Any, key_field: str, time_field: str, fields: tuple[str, ...],
                  time_format: str, parse_strings: Callable[[list[Any]], np.ndarray] | None
                  ) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray]:
    """``(keys, times, values, ok)`` of record batch ``rb``; ``parse_strings``
    turns a list of ISO strings into epoch seconds (NaN where unparsable)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = rb.num_rows
    names = rb.schema.names
    ok = np.ones(n, dtype=bool)
    if key_field in names:
        kc = rb.column(names.index(key_field))
        if pa.types.is_integer(kc.type):
            kc = kc.cast(pa.string())  # the validator takes integer keys as their decimal text
        if pa.types.is_string(kc.type) or pa.types.is_large_string(kc.type):
            keys = kc.to_pylist()
            lengths = pc.utf8_length(kc).fill_null(0).to_numpy(zero_copy_only=False)
            ok &= (lengths >= 1) & (lengths <= 256)
        else:
            keys, ok[:] = [None] * n, False
    else:
        keys, ok[:] = [None] * n, False
    if time_field in names:
        times = _times(rb.column(names.index(time_field)), time_format, parse_strings)
    else:
        times = np.full(n, np.nan)
    ok &= ~np.isnan(times)
    cols = np.zeros((n, len(fields)), dtype=np.float64)
    for j, name in enumerate(fields):
        nums = _numbers(rb.column(names.index(name))) if name in names else None
        if nums is None:
            ok[:] = False
            continue
        cols[:, j], valid = nums
        ok &= valid
    return keys, times, cols, ok
