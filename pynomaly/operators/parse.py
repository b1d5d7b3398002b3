"""Parse and validate a raw batch into an :class:`EventBatch` and dead letters.

Nothing raises on bad data: each bad record becomes a
:class:`~pynomaly.records.DeadLetter` with a reason code.

Example
-------
>>> from pynomaly.operators.parse import RecordParser
>>> from pynomaly.records import RawBatch
>>> from pynomaly.spec import RecordSpec
>>> parser = RecordParser(RecordSpec(value_fields=["cpu"]), now=lambda: 1.8e9)
>>> good, dead = parser.parse(RawBatch([
...     b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":0.5}',
...     b'{"key":"a","ts":"2026-01-01T00:01:00Z","cpu":"high"}',
...     b'not json'], origin="metrics/0"))
>>> len(good), good.values.tolist(), [str(d.reason) for d in dead]
(1, [[0.5]], ['wrong_type', 'malformed_json'])
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from pynomaly.records import DeadLetter, EventBatch, RawBatch, Reason, raw_bytes
from pynomaly.spec import RecordSpec

#: Values beyond this magnitude are dead-lettered as out of range: they are
#: almost always sentinel or corrupt values, and squaring them overflows.
MAX_ABS_VALUE = 1e100
#: Event times before 1970 or after 2200 are not timestamps.
MIN_EPOCH, MAX_EPOCH = 0.0, 7_258_118_400.0


class _Bad(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


class RecordParser:
    """Validate records against a :class:`RecordSpec`."""

    def __init__(self, spec: RecordSpec, now: Callable[[], float] = time.time) -> None:
        self.spec = spec
        self.fields = tuple(spec.value_fields)
        self._now = now
        self._ts_cache: dict[str, float] = {}
        fmt = spec.time_format
        self._parse_time = (
            self._parse_iso if fmt == "iso" else (self._parse_ms if fmt == "epoch_ms" else self._parse_s)
        )

    # -- timestamps -------------------------------------------------------
    def _parse_iso(self, v: Any) -> float:
        if not isinstance(v, str):
            if isinstance(v, int | float) and not isinstance(v, bool):
                return self._parse_s(v)
            if isinstance(v, datetime):  # typed columns of CSV/Parquet files
                return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
            raise _Bad(Reason.BAD_TIMESTAMP, f"timestamp must be an ISO-8601 string, got {type(v).__name__}")
        cached = self._ts_cache.get(v)
        if cached is not None:
            return cached
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            raise _Bad(Reason.BAD_TIMESTAMP, f"not an ISO-8601 timestamp: {v[:40]!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        t = dt.timestamp()
        if len(self._ts_cache) > 100_000:
            self._ts_cache.clear()
        self._ts_cache[v] = t
        return t

    @staticmethod
    def _parse_s(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _Bad(Reason.BAD_TIMESTAMP, f"timestamp must be a number, got {type(v).__name__}")
        t = float(v)
        if not math.isfinite(t):
            raise _Bad(Reason.BAD_TIMESTAMP, "timestamp is not finite")
        return t

    def _parse_ms(self, v: Any) -> float:
        return self._parse_s(v) / 1000.0

    # -- one record -------------------------------------------------------
    def _parse_one(self, payload: Any, row: list[float]) -> tuple[str, float]:
        spec = self.spec
        if isinstance(payload, dict):
            obj = payload
        else:
            if payload is None or len(payload) == 0:
                raise _Bad(Reason.EMPTY, "empty message")
            if len(payload) > spec.max_record_bytes:
                raise _Bad(Reason.TOO_LARGE, f"{len(payload)} bytes > limit {spec.max_record_bytes}")
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                msg = str(exc)
                reason = Reason.NOT_UTF8 if "UTF-8" in msg else Reason.MALFORMED_JSON
                if "infinity" in msg:
                    reason = Reason.NON_FINITE
                raise _Bad(reason, msg[:200]) from None
            if not isinstance(obj, dict):
                raise _Bad(Reason.NOT_OBJECT, f"expected a JSON object, got {type(obj).__name__}")
        try:
            key = obj[spec.key_field]
            ts_raw = obj[spec.time_field]
        except KeyError as exc:
            raise _Bad(Reason.MISSING_FIELD, f"missing field {exc.args[0]!r}") from None
        if isinstance(key, str):
            if not key or len(key) > 256:
                raise _Bad(Reason.WRONG_TYPE, "key must be a non-empty string of at most 256 chars")
        elif isinstance(key, int) and not isinstance(key, bool):
            key = str(key)
        else:
            raise _Bad(Reason.WRONG_TYPE, f"key {spec.key_field!r} must be a string, got {type(key).__name__}")
        ts = self._parse_time(ts_raw)
        if not MIN_EPOCH <= ts <= MAX_EPOCH:
            raise _Bad(Reason.BAD_TIMESTAMP, f"timestamp {ts!r} outside 1970..2200")
        for name in self.fields:
            try:
                v = obj[name]
            except KeyError:
                raise _Bad(Reason.MISSING_FIELD, f"missing field {name!r}") from None
            if isinstance(v, bool) or not isinstance(v, int | float):
                if isinstance(v, str) and v.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
                    raise _Bad(Reason.NON_FINITE, f"field {name!r} is {v!r}")
                raise _Bad(Reason.WRONG_TYPE, f"field {name!r} must be a number, got {type(v).__name__}")
            f = float(v)
            if not math.isfinite(f):
                raise _Bad(Reason.NON_FINITE, f"field {name!r} is not finite")
            if abs(f) > MAX_ABS_VALUE:
                raise _Bad(Reason.OUT_OF_RANGE, f"field {name!r}={f!r} beyond ±{MAX_ABS_VALUE:g}")
            row.append(f)
        return key, ts

    # -- batch ------------------------------------------------------------
    def parse(self, batch: RawBatch) -> tuple[EventBatch, list[DeadLetter]]:
        """Split a raw batch into valid events and dead letters, in order."""
        keys: list[str] = []
        times: list[float] = []
        rows: list[float] = []
        dead: list[DeadLetter] = []
        nf = len(self.fields)
        spec = self.spec
        now = self._now()
        max_t = now + spec.max_future_s
        min_t = now - spec.max_age_s if spec.max_age_s > 0 else -math.inf
        parse_one = self._parse_one
        for i, payload in enumerate(batch.payloads):
            row: list[float] = []
            try:
                key, ts = parse_one(payload, row)
                if ts > max_t:
                    raise _Bad(Reason.FUTURE_TIMESTAMP, f"event time {ts:.0f} is {ts - now:.0f}s ahead of now")
                if ts < min_t:
                    raise _Bad(Reason.STALE_TIMESTAMP, f"event time {ts:.0f} is {now - ts:.0f}s old")
            except _Bad as bad:
                dead.append(DeadLetter(bad.reason, bad.detail, raw_bytes(payload), batch.position(i)))
                continue
            except Exception as exc:  # never die on data
                dead.append(
                    DeadLetter(Reason.MALFORMED_JSON, f"{type(exc).__name__}: {exc}"[:200],
                               raw_bytes(payload), batch.position(i))
                )
                continue
            keys.append(key)
            times.append(ts)
            rows.extend(row)
        values = np.asarray(rows, dtype=np.float64).reshape(len(keys), nf)
        good = EventBatch(keys, np.asarray(times, dtype=np.float64), values, self.fields, batch.read_at)
        return good, dead
