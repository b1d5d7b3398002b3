"""Parse and validate a raw batch into an :class:`EventBatch` and dead letters.

Nothing raises on bad data: each bad record becomes a
:class:`~pynomaly.dataflow.records.DeadLetter` with a reason code.

Example
-------
>>> from pynomaly.dataflow.parse import RecordParser
>>> from pynomaly.dataflow.records import RawBatch
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
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from pynomaly.alerting.labels import LabelPicker
from pynomaly.alerting.watermark import Watermarks
from pynomaly.dataflow import json_scan
from pynomaly.dataflow.arrow_rows import ArrowRows
from pynomaly.dataflow.parse_arrow import arrow_columns
from pynomaly.dataflow.records import BadRow, DeadLetter, EventBatch, RawBatch, Reason, SourceRows
from pynomaly.spec import RecordSpec

#: Values beyond this magnitude are dead-lettered as out of range: they are
#: almost always sentinel or corrupt values, and squaring them overflows.
MAX_ABS_VALUE = 1e100
#: Event times before 1970 or after 2200 are not timestamps.
MIN_EPOCH, MAX_EPOCH = 0.0, 7_258_118_400.0
#: ``NaN``/``Infinity``/``-Infinity`` used as JSON values (not valid JSON)
_NON_FINITE_TOKEN = re.compile(rb"[:\[,]\s*-?(?:NaN|Infinity)\s*[,}\]]")


class _Bad(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


class RecordParser:
    """Validate records against a :class:`RecordSpec`.

    ``scan=False`` turns the byte scanner off (every batch is decoded with
    orjson); both paths give the same events and dead letters.
    """

    def __init__(self, spec: RecordSpec, now: Callable[[], float] = time.time,
                 scan: bool = True) -> None:
        self.spec = spec
        self.fields = tuple(spec.value_fields)
        self._now = now
        self._ts_cache: dict[str, float] = {}
        self._getters = [itemgetter(f) for f in (spec.key_field, spec.time_field, *self.fields)]
        self._scan_skip = 0
        roles = (spec.key_field, spec.time_field, *self.fields)
        self._scan_names = (json_scan.field_table(roles)
                            if scan and len(set(roles)) == len(roles) <= 62
                            and all(r.isascii() for r in roles)
                            else None)
        self._labels = LabelPicker(spec.labels, spec)
        self._watermarks = Watermarks()
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
        elif isinstance(payload, BadRow):
            raise _Bad(payload.reason, payload.detail)
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
                raw = payload.encode(errors="replace") if isinstance(payload, str) else bytes(payload)
                if "infinity" in msg or _NON_FINITE_TOKEN.search(raw):
                    # 1e999, or the NaN/Infinity literals Python's json module writes
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
        """Split a raw batch into valid events and dead letters, in order
        (:meth:`parse_rows`); the events carry the labels of keys whose labels
        are due (:mod:`pynomaly.alerting.labels`), their origin and its
        watermark (:mod:`pynomaly.alerting.watermark`)."""
        good, dead = self.parse_rows(batch)
        good.labels = self._labels(batch.payloads, good.keys)
        good.watermark = self._watermarks.observe(batch.origin, good.times)
        good.watermark_from = batch.origin
        return good, dead

    def parse_rows(self, batch: RawBatch) -> tuple[EventBatch, list[DeadLetter]]:
        """Split a raw batch into valid events and dead letters, in order.

        Columnar fast paths: Arrow record batches (Parquet, CSV) are read
        column by column (:mod:`.parse_arrow`); flat JSON records are scanned
        straight from their bytes into columns (:mod:`.json_scan`); otherwise
        every record is
        decoded with orjson and its fields checked column by column. Either
        way only the rows that fail a check (or that the scanner leaves) go
        through the record-by-record validation, which names the reason.
        """
        payloads = batch.payloads
        n = len(payloads)
        if n == 0:
            return self._assemble(batch, [], [], [], [], [])
        spec = self.spec
        now = self._now()
        max_t = now + spec.max_future_s
        min_t = now - spec.max_age_s if spec.max_age_s > 0 else -math.inf
        limit = spec.max_record_bytes
        key_hash = None
        if isinstance(payloads, ArrowRows):  # Parquet/CSV: the columns as they are
            keys, times, cols, ok = arrow_columns(
                payloads.record_batch, spec.key_field, spec.time_field, self.fields,
                spec.time_format, self._fast_times)
            objs: list[Any] = payloads  # a row that fails a check becomes a dict
        elif (scanned := self._scan(payloads, limit)) is not None:
            keys, times, cols, ok, key_hash = scanned
            objs = payloads  # rows the scanner left are decoded one by one
        else:
            objs, keys, times, cols, ok = self._columns(payloads, limit)
        ok &= (times >= max(MIN_EPOCH, min_t)) & (times <= min(MAX_EPOCH, max_t))
        with np.errstate(invalid="ignore"):
            ok &= np.all(np.abs(cols) <= MAX_ABS_VALUE, axis=1)
        if ok.all():
            return EventBatch(keys, times, cols, self.fields, batch.read_at,
                              key_hash=key_hash, source=SourceRows(batch)), []
        return self._with_failures(batch, payloads, objs, keys, times, cols, ok, now, max_t,
                                   min_t)

    def _scan(self, payloads: list[Any], limit: int
              ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Key, time and value columns straight from the bytes of a batch of
        flat JSON records (:mod:`.json_scan`), or None when the batch is not
        bytes or the scanner accepts too few of its rows to be worth it (then
        the next batches skip it for a while). Rows it does not accept are
        marked not ok; the caller validates them one by one. Last: the CRC-32
        of each key (for the shard split)."""
        if self._scan_skip > 0:
            self._scan_skip -= 1
            return None
        if self._scan_names is None or not _all_of(payloads, _BYTES):
            return None
        n = len(payloads)
        lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
        ends = np.cumsum(lengths + 1) - 1
        starts = ends - lengths
        buf = np.frombuffer(b"\n".join(payloads), dtype=np.uint8)
        names, offs = self._scan_names
        iso = self.spec.time_format == "iso"
        res = json_scan.scan(buf, starts, ends, names, offs, limit, iso)
        ok = res.ok
        accepted = int(np.count_nonzero(ok))
        if accepted < n // 2:
            self._scan_skip = 100  # mostly records the scanner leaves (nested, escapes…)
            return None
        spans = res.spans
        if accepted < n:
            spans[~ok] = 0  # placeholders: empty strings, checked again one by one
        rows = np.arange(n)
        keys, _ = json_scan.gather_strings(buf, spans, 0, rows, dedupe=False)
        if iso:
            stamps, stamp_index = json_scan.gather_strings(buf, spans, 2, rows, dedupe=True)
            times = self._fast_times(stamps)[stamp_index]
        else:
            times = res.values[:, 0].copy()
            if self.spec.time_format == "epoch_ms":
                times /= 1000.0
        times[~ok] = math.nan
        return keys, times, np.ascontiguousarray(res.values[:, 1:]), ok, res.crc

    def _columns(self, payloads: list[Any], limit: int
                 ) -> tuple[list[Any], list[Any], np.ndarray, np.ndarray, np.ndarray]:
        """The orjson-decoded records and their key, time and value columns;
        not ok where a check fails."""
        spec = self.spec
        n = len(payloads)
        objs = self._decode(payloads, limit)
        kf, tf = spec.key_field, spec.time_field
        value_cols: list[list[Any]] | None = None
        try:  # each field of every record in one C-level pass (all dicts, no field missing)
            keys, ts_raw, *value_cols = [list(map(g, objs)) for g in self._getters]
            ok = np.ones(n, dtype=bool)
        except (KeyError, TypeError):  # column by column below
            value_cols = None
            if _all_of(objs, _DICT):
                ok = np.ones(n, dtype=bool)
                keys = [o.get(kf) for o in objs]
                ts_raw = [o.get(tf) for o in objs]
            else:
                ok = np.fromiter(map(_is_dict, objs), dtype=bool, count=n)
                keys = [o.get(kf) if type(o) is dict else None for o in objs]
                ts_raw = [o.get(tf) if type(o) is dict else None for o in objs]
        if not (_all_of(keys, _STR) and min(map(len, keys)) > 0 and max(map(len, keys)) <= 256):
            ok &= np.fromiter(map(_is_key, keys), dtype=bool, count=n)
        times = self._fast_times(ts_raw)
        ok &= ~np.isnan(times)
        cols = np.empty((n, len(self.fields)), dtype=np.float64)
        for j, name in enumerate(self.fields):
            col = (value_cols[j] if value_cols is not None
                   else [o.get(name) if type(o) is dict else None for o in objs])
            if _all_of(col, _NUMBER):
                cols[:, j] = col
                continue
            good_type = np.fromiter(map(_is_number, col), dtype=bool, count=n)
            ok &= good_type
            cols[:, j] = [v if g else 0.0 for v, g in zip(col, good_type.tolist(), strict=True)]
        return objs, keys, times, cols, ok

    def _with_failures(self, batch: RawBatch, payloads: list[Any], objs: list[Any],
                       keys: list[Any], times: np.ndarray, cols: np.ndarray, ok: np.ndarray,
                       now: float, max_t: float, min_t: float
                       ) -> tuple[EventBatch, list[DeadLetter]]:
        """The batch's rows that passed every check, plus those that failed
        one but turn out fine when validated one by one (integer keys,
        numeric timestamps, records the scanner left); the rest as dead
        letters with their reason."""
        good_idx = np.flatnonzero(ok).tolist()
        g_keys = [keys[i] for i in good_idx]
        g_times = times[good_idx].tolist()
        g_rows = cols[good_idx].tolist()
        dead: list[DeadLetter] = []
        late_good: list[tuple[int, str, float, list[float]]] = []
        for i in np.flatnonzero(~ok).tolist():
            payload = objs[i] if isinstance(objs[i], dict) else payloads[i]
            row: list[float] = []
            try:
                key, ts = self._parse_one(payload, row)
                if ts > max_t:
                    raise _Bad(Reason.FUTURE_TIMESTAMP, f"event time {ts:.0f} is {ts - now:.0f}s ahead of now")
                if ts < min_t:
                    raise _Bad(Reason.STALE_TIMESTAMP, f"event time {ts:.0f} is {now - ts:.0f}s old")
            except _Bad as bad:
                dead.append(DeadLetter(bad.reason, bad.detail, batch.raw_of(i),
                                       batch.position(i)))
                continue
            except Exception as exc:  # never die on data
                dead.append(DeadLetter(Reason.MALFORMED_JSON, f"{type(exc).__name__}: {exc}"[:200],
                                       batch.raw_of(i), batch.position(i)))
                continue
            late_good.append((i, key, ts, row))
        rows = good_idx
        if late_good:
            order = good_idx + [t[0] for t in late_good]
            rows = sorted(order)
            g_keys += [t[1] for t in late_good]
            g_times += [t[2] for t in late_good]
            g_rows += [t[3] for t in late_good]
            perm = np.argsort(np.asarray(order), kind="stable").tolist()
            g_keys = [g_keys[i] for i in perm]
            g_times = [g_times[i] for i in perm]
            g_rows = [g_rows[i] for i in perm]
        return self._assemble(batch, g_keys, g_times, g_rows, dead, rows)

    @staticmethod
    def _decode(payloads: list[Any], limit: int) -> list[Any]:
        """orjson-decode every payload: dicts pass through; ``None`` where a
        payload is not bytes of 1..``limit`` bytes of valid JSON."""
        loads = orjson.loads
        if (_all_of(payloads, _BYTES) and min(map(len, payloads)) > 0
                and max(map(len, payloads)) <= limit):
            try:
                return list(map(loads, payloads))  # the usual case: no Python loop
            except orjson.JSONDecodeError:
                pass
        objs: list[Any] = []
        append = objs.append
        for p in payloads:
            if type(p) is bytes and 0 < len(p) <= limit:
                try:
                    append(loads(p))
                except orjson.JSONDecodeError:
                    append(None)
            elif type(p) is dict:
                append(p)
            else:
                append(None)
        return objs

    def _assemble(self, batch: RawBatch, keys: list[str], times: list[float],
                  rows: list[list[float]], dead: list[DeadLetter], source_rows: list[int]
                  ) -> tuple[EventBatch, list[DeadLetter]]:
        """The event batch of the good rows; ``source_rows`` are their
        indices in ``batch``."""
        values = np.asarray(rows, dtype=np.float64).reshape(len(keys), len(self.fields))
        good = EventBatch(keys, np.asarray(times, dtype=np.float64), values, self.fields,
                          batch.read_at,
                          source=SourceRows(batch, np.asarray(source_rows, dtype=np.int64)))
        return good, dead

    def _fast_times(self, raw: list[Any]) -> np.ndarray:
        """Event times of a column of raw timestamps; NaN where a row needs the
        slow path (wrong type, unparsable)."""
        fmt = self.spec.time_format
        if fmt == "iso":
            cache = self._ts_cache
            get = cache.get
            try:  # non-strings miss the cache (None) like strings not seen yet
                out = list(map(get, raw))
            except TypeError:  # unhashable values (lists, dicts)
                out = [get(v) if type(v) is str else None for v in raw]
            if None not in out:
                return np.array(out, dtype=np.float64)
            try:  # parse each distinct string not cached yet, once
                todo = set(raw) - cache.keys()
            except TypeError:
                todo = {v for v in raw if type(v) is str} - cache.keys()
            for v in todo:
                if type(v) is str:
                    try:
                        self._parse_iso(v)
                    except _Bad:
                        continue
            try:
                out = list(map(get, raw))
            except TypeError:
                out = [get(v) if type(v) is str else None for v in raw]
            if None not in out:
                return np.array(out, dtype=np.float64)
            return np.array([math.nan if v is None else v for v in out], dtype=np.float64)
        arr = np.array([v if type(v) in (int, float) else math.nan for v in raw], dtype=np.float64)
        return arr / 1000.0 if fmt == "epoch_ms" else arr


_DICT = frozenset({dict})
_BYTES = frozenset({bytes})
_STR = frozenset({str})
_NUMBER = frozenset({int, float})


def _all_of(values: list[Any], types: frozenset[type]) -> bool:
    """Whether every value's exact type is one of ``types`` (bool is not int)."""
    return set(map(type, values)) <= types


def _is_dict(o: Any) -> bool:
    return type(o) is dict


def _is_key(k: Any) -> bool:
    return type(k) is str and 0 < len(k) <= 256


def _is_number(v: Any) -> bool:
    return type(v) is float or type(v) is int
