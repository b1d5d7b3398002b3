"""The synthetic metric generator: determinism, label truth, formats, Kafka output."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import orjson
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from pynomaly.connectors.arrow_text import float_text, iso_utc
from pynomaly.devtools.generator import FieldSpec, GeneratorConfig, MetricGenerator
from pynomaly.devtools.generator_anomalies import ANOMALY_KINDS
from pynomaly.devtools.generator_malformed import MALFORMED_KINDS
from pynomaly.devtools.generator_sinks import label_mask, produce, slice_batch

UNCLIPPED = (
    FieldSpec(name="cpu", base=0.35, daily_amplitude=0.12, weekly_amplitude=0.04, noise=0.02),
    FieldSpec(name="latency_ms", base=20.0, daily_amplitude=5.0, noise=1.0, decimals=2),
)


def collect(config: GeneratorConfig, count: int):
    """All values (records × fields), records and labels of a finite run."""
    batches = list(MetricGenerator(config).batches(count))
    values = np.concatenate([b.values for b in batches])
    records = [r for b in batches for r in b.records()]
    labels = [lb for b in batches for lb in b.labels]
    return values, records, labels


def test_same_seed_same_stream_and_different_seed_differs():
    cfg = GeneratorConfig(keys=7, seed=11, anomaly_rate=0.01, malformed_rate=0.01)
    v1, r1, l1 = collect(cfg, 30_000)
    v2, r2, l2 = collect(cfg, 30_000)
    assert np.array_equal(v1, v2) and r1 == r2 and l1 == l2
    v3, _, _ = collect(cfg.model_copy(update={"seed": 12}), 30_000)
    assert not np.array_equal(v1, v3)


def test_stream_does_not_depend_on_count():
    cfg = GeneratorConfig(keys=3, seed=5, anomaly_rate=0, malformed_rate=0.01)
    short = list(MetricGenerator(cfg).batches(1_000))
    long = list(MetricGenerator(cfg).batches(100_000))  # several blocks
    assert np.array_equal(short[0].values, long[0].values[:1_000])
    assert short[0].lines() == long[0].lines()[: len(short[0].lines())]


def test_records_are_step_major_with_event_time_and_keys():
    cfg = GeneratorConfig(keys=3, seed=1, interval_s=30, start=datetime(2026, 3, 1, tzinfo=UTC))
    _, records, _ = collect(cfg, 7)
    assert [r["key"] for r in records] == ["host-0001", "host-0002", "host-0003"] * 2 + ["host-0001"]
    assert [r["ts"] for r in records[::3]] == [
        "2026-03-01T00:00:00Z", "2026-03-01T00:00:30Z", "2026-03-01T00:01:00Z",
    ]  # fmt: skip
    assert set(records[0]) == {"key", "ts", "cpu", "latency_ms"}


def test_sub_second_interval_writes_milliseconds_everywhere():
    cfg = GeneratorConfig(keys=70_000, interval_s=0.25, anomaly_rate=0.001)  # 1 step a block
    batches = list(MetricGenerator(cfg).batches(70_000 * 5))
    assert len(batches) == 5
    assert [b.ts_iso[0].as_py() for b in batches] == [
        "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.250Z", "2026-01-01T00:00:00.500Z",
        "2026-01-01T00:00:00.750Z", "2026-01-01T00:00:01.000Z",
    ]  # fmt: skip
    labels = [lb for b in batches for lb in b.labels]
    assert labels and all(lb["start"].endswith("0Z") and "." in lb["start"] for lb in labels)


def test_iso_utc_matches_datetime_formatting():
    rng = np.random.default_rng(3)
    ts = rng.integers(0, 4_000_000_000_000, size=500)
    expected = [
        datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        for t in ts.tolist()
    ]
    assert iso_utc(ts).to_pylist() == expected


@pytest.mark.parametrize("decimals", [0, 2, 4, 6])
def test_float_text_round_trips_rounded_values(decimals):
    rng = np.random.default_rng(decimals)
    narrow = np.round(rng.normal(0.3, 0.05, size=5_000), decimals)  # lookup path
    wide = np.round(rng.normal(0, 1e6, size=50), decimals)  # direct cast path
    for values in (narrow, wide, -narrow):
        text = float_text(values, decimals).to_pylist()
        assert [float(t) for t in text] == values.tolist()
        assert text == [orjson.dumps(v).decode().removesuffix(".0") for v in values.tolist()]


def test_each_label_differs_from_the_baseline_as_stated():
    keys, steps = 20, 3_000
    cfg = GeneratorConfig(keys=keys, seed=3, fields=UNCLIPPED, anomaly_rate=0.01)
    observed, _, labels = collect(cfg, keys * steps)
    baseline, _, none = collect(cfg.model_copy(update={"anomaly_rate": 0.0}), keys * steps)
    assert none == []
    assert Counter(lb["kind"] for lb in labels).keys() == set(ANOMALY_KINDS)
    gen = MetricGenerator(cfg)
    seasonal = gen.seasonal(np.arange(steps)).reshape(-1, len(UNCLIPPED))
    field_index = {f.name: j for j, f in enumerate(UNCLIPPED)}
    touched = np.zeros(observed.shape, dtype=bool)
    for lb in labels:
        j = field_index[lb["field"]]
        unit = 10.0 ** -UNCLIPPED[j].decimals
        key = int(lb["key"].removeprefix("host-")) - 1
        s = np.arange(lb["start_step"], lb["end_step"] + 1)
        rows = s * keys + key
        touched[rows, j] = True
        diff = observed[rows, j] - baseline[rows, j]
        m = lb["magnitude"]
        kind = lb["kind"]
        if kind in ("spike", "dip"):
            assert len(rows) == 1 and abs(m) >= 6 * lb["sigma"] - 1e-12
            assert (m > 0) == (kind == "spike")
            np.testing.assert_allclose(diff, m, atol=unit)
        elif kind == "level_shift":
            np.testing.assert_allclose(diff, m, atol=unit)
        elif kind == "drift":
            ramp = m * (s - s[0] + 1) / len(s)
            np.testing.assert_allclose(diff, ramp, atol=unit)
        elif kind == "variance":
            noise = baseline[rows, j] - seasonal[rows, j]
            np.testing.assert_allclose(
                observed[rows, j] - seasonal[rows, j], m * noise, atol=(m + 1) * unit
            )
            assert np.std(diff) > (m - 1) * lb["sigma"] / 3
        elif kind == "stuck":
            assert np.all(observed[rows, j] == m)
            assert len(rows) < 2 or np.ptp(baseline[rows, j]) > 0
        assert lb["start"] == iso_utc(gen.step_ts_ms(s[:1]), False).to_pylist()[0]
        assert lb["end"] == iso_utc(gen.step_ts_ms(s[-1:]), False).to_pylist()[0]
    assert np.array_equal(observed[~touched], baseline[~touched])


def test_default_fields_stay_in_their_bounds():
    values, _, labels = collect(GeneratorConfig(keys=50, seed=2, anomaly_rate=0.02), 100_000)
    assert labels
    assert values[:, 0].min() >= 0.0 and values[:, 0].max() <= 1.0
    assert values[:, 1].min() >= 0.0


def test_labels_end_inside_a_finite_stream():
    keys, count = 4, 4 * 50 + 2  # the last step holds keys 1 and 2 only
    _, _, labels = collect(GeneratorConfig(keys=keys, seed=9, anomaly_rate=0.05), count)
    assert labels
    for lb in labels:
        key = int(lb["key"].removeprefix("host-")) - 1
        assert lb["end_step"] * keys + key < count


def test_label_mask_marks_the_labelled_records():
    keys = 5
    cfg = GeneratorConfig(keys=keys, seed=4, anomaly_rate=0.01)
    _, records, labels = collect(cfg, keys * 400)
    mask = label_mask(labels, [r["key"] for r in records], np.array([r["ts"][:-1] for r in records]))
    expected = np.zeros(len(records), dtype=bool)
    for lb in labels:
        key = int(lb["key"].removeprefix("host-")) - 1
        expected[np.arange(lb["start_step"], lb["end_step"] + 1) * keys + key] = True
    assert expected.any() and np.array_equal(mask, expected)


def test_jsonl_csv_parquet_round_trip(tmp_path):
    cfg = GeneratorConfig(keys=4, seed=8, anomaly_rate=0.01)
    _, records, labels = collect(cfg, 1_001)
    paths = [str(tmp_path / n) for n in ("m.jsonl", "m.csv", "m.parquet")]
    summary = produce(cfg, paths, count=1_001, labels_path=str(tmp_path / "labels.jsonl"))
    assert summary.records == 1_001 and summary.anomalies == len(labels)

    lines = (tmp_path / "m.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == records

    csv = pcsv.read_csv(paths[1], convert_options=pcsv.ConvertOptions(
        column_types={"ts": "string"})).to_pylist()  # fmt: skip
    assert csv == records

    table = pq.read_table(paths[2])
    assert str(table.schema.field("ts").type) == "timestamp[ms, tz=UTC]"
    rows = table.to_pylist()
    for row in rows:
        row["ts"] = row["ts"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows == records

    written = [orjson.loads(x) for x in (tmp_path / "labels.jsonl").read_bytes().splitlines()]
    assert written == labels


def test_malformed_records_are_inserted_and_labelled(tmp_path):
    cfg = GeneratorConfig(keys=5, seed=6, anomaly_rate=0, malformed_rate=0.05)
    out, labels_path = tmp_path / "m.jsonl", tmp_path / "labels.jsonl"
    summary = produce(cfg, [str(out)], count=2_000, labels_path=str(labels_path))
    lines = out.read_bytes().split(b"\n")[:-1]
    labels = [orjson.loads(x) for x in labels_path.read_bytes().splitlines()]
    assert summary.malformed == len(labels) == len(lines) - 2_000 > 0
    assert Counter(lb["reason"] for lb in labels).keys() == set(MALFORMED_KINDS)
    bad = {lb["line"]: lb for lb in labels}
    good = []
    for i, line in enumerate(lines):
        if i not in bad:
            good.append(orjson.loads(line))
            continue
        reason = bad[i]["reason"]
        if reason in ("bad_json", "nan", "empty"):
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(line)
        elif reason == "wrong_type":
            assert isinstance(orjson.loads(line)["cpu"], str)
        elif reason == "missing_field":
            assert "ts" not in orjson.loads(line)
        assert bad[i]["key"].encode() in lines[i - 1]
    _, clean, _ = collect(cfg.model_copy(update={"malformed_rate": 0.0}), 2_000)
    assert good == clean


def test_malformed_needs_a_byte_target(tmp_path):
    cfg = GeneratorConfig(keys=2, malformed_rate=0.1)
    with pytest.raises(ValueError, match="JSONL or Kafka"):
        produce(cfg, [str(tmp_path / "m.csv")], count=10)


def test_rate_paces_the_output(tmp_path):
    start = time.monotonic()
    summary = produce(GeneratorConfig(keys=10), [str(tmp_path / "m.jsonl")], count=500, rate=1_000)
    assert summary.records == 500
    assert time.monotonic() - start >= 0.4  # 500 records at 1000/s: about 0.5 s


def test_duration_alone_stops_in_time_and_rate_with_duration_sets_the_count(tmp_path):
    cfg = GeneratorConfig(keys=10)
    start = time.monotonic()
    summary = produce(cfg, [str(tmp_path / "a.jsonl")], duration=0.3)
    assert 0.3 <= time.monotonic() - start < 10
    assert summary.records == len((tmp_path / "a.jsonl").read_bytes().splitlines()) > 0
    summary = produce(cfg, [str(tmp_path / "b.jsonl")], rate=2_000, duration=0.25)
    assert summary.records == 500
    with pytest.raises(ValueError, match="count"):
        produce(cfg, [str(tmp_path / "c.jsonl")])


def test_rate_alone_runs_until_stopped_and_follows_its_labels(tmp_path):
    cfg = GeneratorConfig(keys=10, anomaly_rate=0.05)
    out, labels = tmp_path / "a.jsonl", tmp_path / "l.jsonl"
    seen: list[tuple[int, int]] = []  # (records readable, labels readable) at each check
    start = time.monotonic()

    def stop() -> bool:
        rows = len(out.read_bytes().splitlines()) if out.exists() else 0
        starts = [orjson.loads(x)["row"] for x in labels.read_bytes().splitlines()] if (
            labels.exists()) else []  # fmt: skip
        seen.append((rows, max(starts, default=-1)))
        return time.monotonic() - start > 0.5

    summary = produce(cfg, [str(out)], rate=2_000, labels_path=str(labels), stop=stop)
    assert 0 < summary.records <= 2_000
    assert len(out.read_bytes().splitlines()) == summary.records
    assert any(rows > 0 for rows, _ in seen[:-1])  # flushed while running
    assert all(last_label < rows for rows, last_label in seen)  # labels never run ahead


def test_slices_carry_the_labels_that_start_in_them():
    cfg = GeneratorConfig(keys=7, seed=2, anomaly_rate=0.02, malformed_rate=0.02)
    batch = next(MetricGenerator(cfg).batches(5_000))
    pieces = [slice_batch(batch, lo, lo + 300) for lo in range(0, len(batch), 300)]
    def order(labels):
        return sorted(labels, key=lambda lb: (lb["row"], lb["kind"]))

    assert order(lb for p in pieces for lb in p.labels) == order(batch.labels)
    for p in pieces:
        assert all(p.first_row <= lb["row"] < p.first_row + len(p) for lb in p.labels)
    assert [x for p in pieces for x in p.lines()] == batch.lines()


def test_config_rejects_unknown_kinds_and_fields():
    with pytest.raises(ValidationError, match="unknown anomaly kinds"):
        GeneratorConfig(anomaly_kinds=("spike", "wobble"))
    with pytest.raises(ValidationError, match="distinct value field names"):
        GeneratorConfig(fields=(FieldSpec(name="ts", base=1, noise=1),))


@pytest.mark.broker
def test_kafka_output_is_keyed_and_complete(bootstrap, kafka_consume_all):
    topic = f"gen-{time.time_ns()}"
    cfg = GeneratorConfig(keys=30, seed=10, anomaly_rate=0.01, malformed_rate=0.01)
    summary = produce(cfg, [f"kafka://{bootstrap}/{topic}"], count=3_000, partitions=3)
    got = kafka_consume_all(bootstrap, topic, expected=3_000 + summary.malformed)
    assert len(got) == 3_000 + summary.malformed
    assert {r.partition for r in got} == {0, 1, 2}
    partitions_of: dict[bytes, set[int]] = {}
    parsed = []
    for r in got:
        partitions_of.setdefault(r.key, set()).add(r.partition)
        try:
            parsed.append(orjson.loads(r.value))
        except orjson.JSONDecodeError:
            continue
    assert all(len(p) == 1 for p in partitions_of.values())
    _, records, _ = collect(cfg, 3_000)
    well_formed = [p for p in parsed if "ts" in p and not isinstance(p["cpu"], str)]
    key_ts = sorted((p["key"], p["ts"]) for p in well_formed)
    assert key_ts == sorted((r["key"], r["ts"]) for r in records)


def _cli(argv: list[str]) -> int:
    """Run ``pynomaly produce ...`` through its own parser (the full CLI imports every flow)."""
    import argparse

    from pynomaly.cli import produce as produce_cli

    parser = argparse.ArgumentParser(prog="pynomaly")
    produce_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.mark.broker
def test_kafka_output_fails_loudly_when_the_broker_is_gone(own_broker):
    from pynomaly.devtools.generator_sinks import KafkaWriter

    writer = KafkaWriter(own_broker.bootstrap_servers, "gone", timeout=1.0)
    batch = next(MetricGenerator(GeneratorConfig(keys=3)).batches(30))
    own_broker.pause()
    writer.write(batch)
    with pytest.raises(RuntimeError, match=r"undelivered|failed"):
        writer.close()
    own_broker.resume()


def test_cli_produce_writes_records_and_labels(tmp_path, capsys):
    out, labels = tmp_path / "m.jsonl", tmp_path / "l.jsonl"
    rc = _cli([
        "produce", "--keys", "10", "--count", "5000", "--to", str(out), "--labels", str(labels),
        "--seed", "7", "--anomaly-rate", "0.01", "--anomaly-kinds", "spike,dip",
    ])  # fmt: skip
    assert rc == 0
    assert len(out.read_bytes().splitlines()) == 5000
    kinds = {orjson.loads(x)["kind"] for x in labels.read_bytes().splitlines()}
    assert kinds and kinds <= {"spike", "dip"}
    assert "wrote 5000 records" in capsys.readouterr().err
    assert _cli(["produce", "--count", "3", "--to", str(out), "--fields", "latency_ms"]) == 0
    assert set(orjson.loads(out.read_bytes().splitlines()[0])) == {"key", "ts", "latency_ms"}
    with pytest.raises(ValueError, match="--fields"):
        _cli(["produce", "--count", "3", "--to", str(out), "--fields", "mem"])
    with pytest.raises(ValueError, match="--count"):
        _cli(["produce", "--to", str(out)])
    assert math.isfinite(orjson.loads(out.read_bytes().splitlines()[0])["latency_ms"])


def test_cli_rate_alone_ends_cleanly_on_sigterm(tmp_path):
    out = tmp_path / "live.jsonl"
    script = (
        "import argparse, sys\n"
        "from pynomaly.cli import produce\n"
        "p = argparse.ArgumentParser(prog='pynomaly')\n"
        "produce.register(p.add_subparsers())\n"
        "a = p.parse_args(sys.argv[1:])\n"
        "sys.exit(a.func(a))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "produce", "--rate", "2000", "--keys", "4",
         "--to", str(out), "--no-progress"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    written = len(out.read_bytes().splitlines())
    assert written > 0 and f"wrote {written} records" in err



def test_cli_default_field_names_match_the_generator():
    from pynomaly.cli.produce import DEFAULT_FIELD_NAMES
    from pynomaly.devtools.generator import DEFAULT_FIELDS

    assert tuple(f.name for f in DEFAULT_FIELDS) == DEFAULT_FIELD_NAMES
