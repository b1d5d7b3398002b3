"""The byte scanner agrees with orjson: the parser gives the same events and
dead letters with it as without it, on generated and adversarial records."""

import json
import math

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynomaly.dataflow import json_scan
from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import RawBatch
from pynomaly.spec import RecordSpec

NOW = 1_800_000_000.0
SPECS = {
    "iso": RecordSpec(value_fields=["cpu", "mem"], max_age_s=86_400 * 365 * 60),
    "epoch_s": RecordSpec(value_fields=["cpu", "mem"], time_format="epoch_s"),
    "epoch_ms": RecordSpec(value_fields=["cpu"], time_format="epoch_ms"),
}


def both(payloads, spec):
    """(scanned, decoded) parse results of the same batch."""
    out = []
    for scan in (True, False):
        parser = RecordParser(spec, now=lambda: NOW, scan=scan)
        out.append(parser.parse(RawBatch(list(payloads), "t/0", 7)))
    return out


FLAT = {"iso": orjson.dumps({"key": "b", "ts": "2026-01-01T00:00:00Z", "cpu": 0.5, "mem": 1}),
        "epoch_s": orjson.dumps({"key": "b", "ts": 1767225600, "cpu": 0.5, "mem": 1}),
        "epoch_ms": orjson.dumps({"key": "b", "ts": 1767225600000, "cpu": 0.5})}


def assert_same(payloads, spec):
    """Both parses agree; the batch is padded with flat records so that the
    scanner takes it (it skips batches that are mostly records it leaves)."""
    flat = FLAT[spec.time_format]
    payloads = [p for pair in zip([flat] * len(payloads), payloads, strict=True) for p in pair]
    payloads.append(flat)
    assert scanned_rows(payloads, spec).sum() * 2 >= len(payloads)
    (good_a, dead_a), (good_b, dead_b) = both(payloads, spec)
    assert good_a.keys == good_b.keys
    assert good_a.times.tobytes() == good_b.times.tobytes()  # bit for bit, -0.0 included
    assert good_a.values.tobytes() == good_b.values.tobytes()
    assert [(str(d.reason), d.origin, d.raw) for d in dead_a] == [
        (str(d.reason), d.origin, d.raw) for d in dead_b]
    return good_a, dead_a


def scanned_rows(payloads, spec):
    """Which records the scanner itself accepts."""
    names, offs = json_scan.field_table((spec.key_field, spec.time_field, *spec.value_fields))
    ends = np.cumsum([len(p) + 1 for p in payloads]) - 1
    starts = ends - np.array([len(p) for p in payloads])
    buf = np.frombuffer(b"\n".join(payloads), np.uint8)
    return json_scan.scan(buf, starts, ends, names, offs, spec.max_record_bytes,
                          spec.time_format == "iso").ok


def test_flat_records_are_scanned_and_agree():
    recs = [orjson.dumps({"key": f"host-{i % 7}", "ts": f"2026-01-01T00:0{i % 10}:00Z",
                          "cpu": i * 0.37 - 3, "mem": i, "region": "eu", "ok": True,
                          "note": None})
            for i in range(200)]
    assert scanned_rows(recs, SPECS["iso"]).all()
    good, dead = assert_same(recs, SPECS["iso"])
    assert len(good) == 401 and not dead


@pytest.mark.parametrize("text", [
    "0", "-0", "-0.0", "0.1", "1e22", "1e23", "9.999999999999999", "123456789012345e-22",
    "5e-324", "1.7976931348623157e308", "2.2250738585072014e-308", "1E+2", "1.5e-7",
    "100000000000000000000", "0.30000000000000004", "-123.456e-3", "1e400", "01", "1.",
    ".5", "+1", "1e", "--1", "0x10", "NaN", "Infinity", "-Infinity",
])
def test_numbers_convert_as_orjson_does(text):
    payload = f'{{"key":"k","ts":"2026-01-01T00:00:00Z","cpu":{text},"mem":1}}'.encode()
    assert_same([payload] * 2, SPECS["iso"])


@pytest.mark.parametrize("payload", [
    b'{"key":"a\\u00e9","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2}',  # escape
    '{"key":"é","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2}'.encode(),  # non-ASCII
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2,"cpu":3}',  # repeated field
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2,"tags":{"x":[1,2]}}',
    b'{"key":7,"ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2}',  # integer key
    b'{"key":"a","ts":1767225600,"cpu":1,"mem":2}',  # numeric time in an ISO flow
    b'{"key":"","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2}',
    b'{"key":"a","ts":"yesterday","cpu":1,"mem":2}',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":"1","mem":2}',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":true,"mem":2}',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":null,"mem":2}',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","mem":2}',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2}}',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":1e101,"mem":2}',
    b'{"key":"a","ts":"2100-01-01T00:00:00Z","cpu":1,"mem":2}',  # future
    b'  {"key" : "a" , "ts":"2026-01-01T00:00:00Z",\t"cpu":1 ,"mem":2}  ',
    b'{"key":"a","ts":"2026-01-01T00:00:00Z","cpu":1,"mem":2,"x":tru}',
    b'[1,2]', b'', b'{}', b'null', b'\xff\xfe',
])
def test_records_the_scanner_leaves_are_validated_one_by_one(payload):
    assert_same([payload, payload], SPECS["iso"])


_scalar = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**70, 2**70),
    st.booleans(), st.none(), st.text(max_size=6),
    st.sampled_from(["nan", "inf", "1.5"]))
_value = st.one_of(_scalar, st.lists(_scalar, max_size=2),
                   st.dictionaries(st.text(max_size=3), _scalar, max_size=2))
_time = st.one_of(
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5+02:00", "2026-13-01",
                     "", "2026-01-01 00:00:00"]),
    st.floats(-1e12, 1e13), st.integers(-10, 10**13), st.none())
_key = st.one_of(st.text(min_size=0, max_size=8), st.integers(-5, 5), st.none(),
                 st.sampled_from(["h1", "h2", "x" * 300]))
_record = st.fixed_dictionaries(
    {}, optional={"key": _key, "ts": _time, "cpu": _value, "mem": _value, "extra": _value})


def _encode(rec, style):
    if style == 0:
        try:
            return orjson.dumps(rec)
        except TypeError:  # integers beyond 64 bits
            return json.dumps(rec).encode()
    if style == 1:
        return json.dumps(rec, ensure_ascii=True).encode()  # spaces, \\u escapes, NaN literals
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_record, st.integers(0, 2), st.integers(0, 3)), min_size=1,
                max_size=12),
       st.sampled_from(sorted(SPECS)))
def test_scanned_and_decoded_parses_agree(rows, spec_name):
    payloads = []
    for rec, style, cut in rows:
        raw = _encode(rec, style)
        payloads.append(raw[:-cut] if cut == 3 and len(raw) > 2 else raw)
    assert_same(payloads, SPECS[spec_name])


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_repr_round_trips(x):
    payload = orjson.dumps({"key": "k", "ts": "2026-01-01T00:00:00Z", "cpu": x, "mem": 1})
    good, _ = assert_same([payload], SPECS["iso"])
    if abs(x) <= 1e100:
        got = good.values[1, 0]
        assert got == x and math.copysign(1, got) == math.copysign(1, x)


def test_key_hashes_from_the_scan_split_shards_as_the_keys_do():
    import zlib

    from pynomaly.dataflow.detect import split_by_shard

    recs = [orjson.dumps({"key": f"k{i % 37}", "ts": "2026-01-01T00:00:00Z", "cpu": i,
                          "mem": 1}) for i in range(300)]
    good, dead = RecordParser(SPECS["iso"], now=lambda: NOW).parse(RawBatch(recs, "t/0", 1))
    assert good.key_hash is not None and not dead
    assert good.key_hash.tolist() == [zlib.crc32(k.encode()) for k in good.keys]
    plain = RecordParser(SPECS["iso"], now=lambda: NOW, scan=False).parse(
        RawBatch(recs, "t/0", 1))[0]
    assert plain.key_hash is None
    a, b = split_by_shard(good, 16), split_by_shard(plain, 16, {})
    assert [(s, sub.keys, sub.values.tolist()) for s, sub in a] == [
        (s, sub.keys, sub.values.tolist()) for s, sub in b]
