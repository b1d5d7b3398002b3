"""A CSV file with bad lines: only those lines are dead-lettered (file name,
1-based line number, original text); every other row is scored."""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynomaly.connectors.csv_source import RETRY_BLOCK_LINES, CsvLayout, csv_chunks
from pynomaly.connectors.file_source import read_batches
from pynomaly.dataflow.parse import RecordParser
from pynomaly.spec import RecordSpec

HEADER = b"key,ts,cpu,latency_ms"
SPEC = RecordSpec(key_field="key", time_field="ts", time_format="epoch_s",
                  value_fields=["cpu", "latency_ms"])
LAYOUT = CsvLayout("key", "ts", "epoch_s", ("cpu", "latency_ms"))


def _good(i: int) -> bytes:
    return b"k%d,%d,%d.25,%d" % (i % 3, 1_767_225_600 + 60 * i, i % 7, 10 + i % 5)


#: (line text, dead-letter reason) of each kind of bad line
BAD = {
    "short": (b"garbage", "malformed_csv"),
    "long": (b"k1,1767225600,1,2,3", "malformed_csv"),
    "word": (b"k1,1767225600,abc,2", "wrong_type"),
    "empty_cell": (b"k1,1767225600,,2", "wrong_type"),
    "bad_time": (b"k1,yesterday,1,2", "bad_timestamp"),
    "latin1": (b"k\xe9,1767225600,1,2", "not_utf8"),
}


def _parse_file(path: Path, batch_size: int):
    parser = RecordParser(SPEC, now=lambda: 1.8e9)
    good, dead = [], []
    for batch in read_batches(str(path), batch_size=batch_size, layout=LAYOUT):
        g, d = parser.parse(batch)
        good += [(k, t, tuple(v)) for k, t, v in zip(g.keys, g.times.tolist(), g.values.tolist(),
                                                     strict=True)]
        dead += d
    return good, dead


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 700), bad=st.lists(st.tuples(st.integers(0, 700), st.sampled_from(sorted(BAD))),
                                          max_size=6),
       batch_size=st.sampled_from([1, 7, 300, 10_000]), blank=st.booleans())
def test_only_the_bad_lines_are_dead_lettered(tmp_path_factory, n, bad, batch_size, blank):
    lines = [_good(i) for i in range(n)]
    inserted = sorted({min(at, n): kind for at, kind in bad}.items(), reverse=True)
    for at, kind in inserted:
        lines.insert(at, BAD[kind][0])
    if blank:
        lines.insert(n // 2, b"")
    path = tmp_path_factory.mktemp("csv") / "m.csv"
    path.write_bytes(b"\n".join([HEADER, *lines]) + b"\n")

    good, dead = _parse_file(path, batch_size)

    assert len(good) == n  # every good row is scored
    want_good = _parse_file_rows(n)
    assert good == want_good
    expected_dead = [(f"m.csv@{lineno}", text, BAD_REASON[text])
                     for lineno, text in enumerate(lines, start=2) if text in BAD_REASON]
    assert [(d.origin, d.raw, str(d.reason)) for d in dead] == expected_dead


BAD_REASON = {text: reason for text, reason in BAD.values()}


def _parse_file_rows(n: int):
    return [(f"k{i % 3}", float(1_767_225_600 + 60 * i), (float(i % 7) + 0.25, float(10 + i % 5)))
            for i in range(n)]


def test_a_clean_file_stays_columnar(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"\n".join([HEADER, *(_good(i) for i in range(5000))]) + b"\n")
    chunks = list(csv_chunks(str(path), 2000, 0, LAYOUT))
    assert [type(c.payloads).__name__ for c in chunks] == ["ArrowRows"] * 3
    assert chunks[1].lines[0] == 2002 and chunks[2].text[-1] == _good(4999)


def test_a_bad_line_costs_only_its_block(tmp_path):
    path = tmp_path / "m.csv"
    lines = [_good(i) for i in range(4 * RETRY_BLOCK_LINES)]
    lines[RETRY_BLOCK_LINES + 3] = b"garbage"
    path.write_bytes(b"\n".join([HEADER, *lines]) + b"\n")
    kinds = [type(c.payloads).__name__ for c in csv_chunks(str(path), 10_000, 0, LAYOUT)]
    assert kinds == ["ArrowRows", "list", "ArrowRows", "ArrowRows"]


def test_resume_skips_records_not_lines(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"\n".join([HEADER, _good(0), b"", b"garbage", _good(1), _good(2)]) + b"\n")
    (batch,) = list(read_batches(str(path), batch_size=10, skip=2, layout=LAYOUT))
    assert batch.raw == [_good(1), _good(2)] and batch.position(0) == "m.csv@5"


@pytest.mark.parametrize("batch_size", [1, 10_000])
def test_replay_cli_scores_all_but_the_bad_lines(tmp_path, batch_size):
    rows = []
    for line in Path("flows/data/sample.jsonl").read_bytes().splitlines():
        try:
            r = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(r.get("cpu"), float | int):
            rows.append(r)
    rows = rows[:1200]
    text = ["key,ts,cpu,latency_ms"]
    for i, r in enumerate(rows):
        cpu = "high" if i == 700 else r["cpu"]
        text.append(f"{r['key']},{r['ts']},{cpu},{r['latency_ms']}")
    text.insert(501, "garbage")  # after 500 rows: line 502
    src = tmp_path / "metrics.csv"
    src.write_text("\n".join(text) + "\n")
    out, dead = tmp_path / "alerts.jsonl", tmp_path / "dead.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly.cli.main", "replay", str(src), "--spec",
         "flows/file_replay.yaml", "--out", str(out), "--dead-letters", str(dead),
         "--batch-size", str(batch_size), "-q"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    letters = [orjson.loads(x) for x in dead.read_bytes().splitlines()]
    assert [(d["reason"], d["origin"], d["raw"]) for d in letters] == [
        ("malformed_csv", "metrics.csv@502", "garbage"),
        ("wrong_type", "metrics.csv@703", text[702]),
    ]
    assert "1201 records" in proc.stdout and "2 dead letters" in proc.stdout
