import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynomaly.dataflow.parse import RecordParser
from pynomaly.dataflow.records import RawBatch, Reason
from pynomaly.spec import RecordSpec

NOW = 1_800_000_000.0
SPEC = RecordSpec(value_fields=["cpu", "mem"], max_age_s=86_400 * 365 * 10)


def parse(payloads, spec=SPEC):
    return RecordParser(spec, now=lambda: NOW).parse(RawBatch(list(payloads), "t/0", 100))


def rec(**kw):
    base = {"key": "h1", "ts": "2026-01-01T00:00:00Z", "cpu": 0.5, "mem": 1}
    base.update(kw)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", Reason.EMPTY),
        (None, Reason.EMPTY),
        (b"{nope", Reason.MALFORMED_JSON),
        (b"\xff\xfe\xfa", Reason.NOT_UTF8),
        (b"[1, 2]", Reason.NOT_OBJECT),
        (rec(cpu=...), Reason.MISSING_FIELD),
        (rec(key=...), Reason.MISSING_FIELD),
        (rec(cpu="high"), Reason.WRONG_TYPE),
        (rec(cpu=True), Reason.WRONG_TYPE),
        (rec(key=["a"]), Reason.WRONG_TYPE),
        (rec(cpu="NaN"), Reason.NON_FINITE),
        (b'{"key":"h","ts":"2026-01-01T00:00:00Z","cpu":1e400,"mem":1}', Reason.NON_FINITE),
        (rec(cpu=1e308), Reason.OUT_OF_RANGE),
        (rec(ts="yesterday"), Reason.BAD_TIMESTAMP),
        (rec(ts="2999-01-01T00:00:00Z"), Reason.BAD_TIMESTAMP),
        (rec(ts="2040-01-01T00:00:00Z"), Reason.FUTURE_TIMESTAMP),
        (rec(ts="1980-01-01T00:00:00Z"), Reason.STALE_TIMESTAMP),
        (b"x" * 2_000_000, Reason.TOO_LARGE),
    ],
)
def test_each_bad_record_gets_its_reason(payload, reason):
    good, dead = parse([rec(), payload, rec(key="h2")])
    assert good.keys == ["h1", "h2"]
    assert [d.reason for d in dead] == [reason]
    assert dead[0].origin == "t/0@101"
    assert dead[0].raw == (payload or b"")


def test_good_records_are_columnar_and_typed():
    good, dead = parse([rec(cpu=1, mem=2.5), rec(key=7, ts=1767225600, cpu=-3, mem=0)])
    assert dead == []
    assert good.keys == ["h1", "7"]
    assert good.values.tolist() == [[1.0, 2.5], [-3.0, 0.0]]
    assert good.times.tolist() == [1767225600.0, 1767225600.0]


def test_epoch_ms_format():
    spec = RecordSpec(value_fields=["v"], time_format="epoch_ms")
    good, _ = parse([orjson.dumps({"key": "a", "ts": 1767225600123, "v": 1})], spec)
    assert good.times.tolist() == [1767225600.123]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300) | st.builds(
    lambda d: orjson.dumps(d).replace(b"null", b"NaN", 1),
    st.dictionaries(st.sampled_from(["key", "ts", "cpu", "mem", "x"]),
                    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats()
                    | st.text(max_size=30), max_size=5)), max_size=30))
def test_parser_never_raises_and_loses_nothing(payloads):
    good, dead = parse(payloads)
    assert len(good) + len(dead) == len(payloads)
    assert all(math.isfinite(v) for v in good.values.ravel())
    assert all(isinstance(d.reason, Reason) and d.detail for d in dead)
