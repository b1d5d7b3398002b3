"""Arrow record batches (Parquet, CSV) parsed column by column give the same
events and dead letters as the same rows parsed as dicts one by one."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynomaly.connectors.file_source import read_batches
from pynomaly.dataflow.arrow_rows import ArrowRows
from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import RawBatch
from pynomaly.spec import RecordSpec

NOW = 1_800_000_000.0
SPECS = {f: RecordSpec(value_fields=["cpu", "mem"], time_format=f, max_future_s=3.2e9)
         for f in ("iso", "epoch_s", "epoch_ms")}


def parse_both(rb, spec):
    columnar = RecordParser(spec, now=lambda: NOW).parse(RawBatch(ArrowRows(rb), "f", 1))
    rows = RecordParser(spec, now=lambda: NOW).parse(RawBatch(list(ArrowRows(rb)), "f", 1))
    return columnar, rows


def assert_same(rb, spec):
    (good_a, dead_a), (good_b, dead_b) = parse_both(rb, spec)
    assert good_a.keys == good_b.keys
    assert good_a.times.tobytes() == good_b.times.tobytes()
    assert good_a.values.tobytes() == good_b.values.tobytes()
    assert [(str(d.reason), d.origin, d.raw) for d in dead_a] == [
        (str(d.reason), d.origin, d.raw) for d in dead_b]
    return good_a, dead_a


def test_typed_columns_parse_whole():
    n = 50
    rb = pa.record_batch({
        "key": [f"h{i % 5}" for i in range(n)],
        "ts": pa.array([1_767_225_600_000_000 + i * 1_000_001 for i in range(n)],
                       type=pa.timestamp("us", tz="UTC")),
        "cpu": np.linspace(-1, 1, n), "mem": pa.array(range(n), type=pa.int32())})
    good, dead = assert_same(rb, SPECS["iso"])
    assert len(good) == n and not dead


_N = 8
_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1e200), st.none())


def _column(draw, kind):
    if kind == "float":
        return pa.array(draw(st.lists(_floats, min_size=_N, max_size=_N)), type=pa.float64())
    if kind == "int":
        return pa.array(draw(st.lists(st.one_of(st.integers(-2**62, 2**62), st.none()),
                                      min_size=_N, max_size=_N)), type=pa.int64())
    if kind == "bool":
        return pa.array(draw(st.lists(st.booleans(), min_size=_N, max_size=_N)))
    if kind == "str":
        return pa.array(draw(st.lists(st.one_of(st.text(max_size=4), st.none(),
                                                 st.sampled_from(["2026-01-01T00:00:00Z", "1.5"])),
                                      min_size=_N, max_size=_N)))
    unit = kind.split(":")[1]
    tz = "UTC" if draw(st.booleans()) else None
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    vals = draw(st.lists(st.one_of(st.integers(0, 7_000_000_000), st.none()),
                         min_size=_N, max_size=_N))
    extra = draw(st.integers(0, scale - 1))
    return pa.array([None if v is None else v * scale + extra for v in vals],
                    type=pa.timestamp(unit, tz=tz))


_KINDS = ["float", "int", "bool", "str", "ts:s", "ts:ms", "ts:us", "ts:ns", "missing"]


@st.composite
def batches(draw):
    cols = {}
    for name, kinds in (("key", ["str", "int", "bool", "missing"]), ("ts", _KINDS),
                        ("cpu", _KINDS), ("mem", ["float", "int"])):
        kind = draw(st.sampled_from(kinds))
        if kind != "missing":
            cols[name] = _column(draw, kind)
    cols["pad"] = pa.array(range(_N))
    return pa.record_batch(cols)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(), st.sampled_from(sorted(SPECS)))
def test_columnar_and_row_parses_agree(rb, fmt):
    assert_same(rb, SPECS[fmt])


def test_parquet_file_rows_come_as_arrow_batches(tmp_path):
    path = tmp_path / "m.parquet"
    table = pa.table({"key": ["a", "b", None], "ts": [dt.datetime(2026, 1, 1)] * 3,
                      "cpu": [1.0, float("nan"), 2.0], "mem": [1, 2, 3]})
    pq.write_table(table, path)
    (batch,) = list(read_batches(str(path), batch_size=10))
    assert isinstance(batch.payloads, ArrowRows) and len(batch.payloads) == 3
    good, dead = RecordParser(SPECS["iso"], now=lambda: NOW).parse(batch)
    assert good.keys == ["a"] and [str(d.reason) for d in dead] == ["non_finite", "wrong_type"]
    assert [d.origin for d in dead] == ["m.parquet@2", "m.parquet@3"]


@pytest.mark.parametrize("i", [0, 2, -1])
def test_rows_are_dicts_on_demand(i):
    rb = pa.record_batch({"key": ["a", "b", "c"], "v": [1, 2, 3]})
    rows = ArrowRows(rb)
    assert rows[i] == rb.to_pylist()[i] and rows[1:] == rb.to_pylist()[1:]


def test_nanosecond_timestamps_become_microsecond_datetimes():
    rb = pa.record_batch({"ts": pa.array([1_000_008_500], type=pa.timestamp("ns"))})
    assert ArrowRows(rb)[0] == {"ts": dt.datetime(1970, 1, 1, 0, 0, 1, 8)}
