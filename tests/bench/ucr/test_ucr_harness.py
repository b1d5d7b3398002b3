"""The UCR harness and CLI: file names, both value layouts, the rules, saved scores."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from pynomaly.bench.ucr import archive, rules
from pynomaly.bench.ucr.harness import stream_scores
from pynomaly.cli.main import main
from pynomaly.engine.registry import create_detector

UCR = Path(__file__).resolve().parents[3].parent / "shared" / "ucr"


def test_parse_name_reads_the_labels_and_the_group() -> None:
    s = archive.parse_name("/x/233_UCR_Anomaly_mit14157longtermecg_18913_24500_24501.txt")
    assert (s.number, s.name, s.train_end, s.begin, s.end) == (
        233, "mit14157longtermecg", 18913, 24500, 24501,
    )  # fmt: skip
    assert s.stem == "233_UCR_Anomaly_mit14157longtermecg_18913_24500_24501"
    assert archive.parse_name("1_UCR_Anomaly_DISTORTED2sddb40_1_2_2.txt.gz").group == "sddb"
    assert archive.parse_name("1_UCR_Anomaly_NOISEInternalBleeding6_1_2_2.txt").group == (
        "InternalBleeding"
    )
    with pytest.raises(ValueError, match="not a UCR archive name"):
        archive.parse_name("001_UCR_Anomaly_X_1_2.txt")
    with pytest.raises(ValueError, match="k < b <= e"):
        archive.parse_name("001_UCR_Anomaly_X_10_5_6.txt")


def test_both_value_layouts_and_gzip_read_the_same(tmp_path: Path) -> None:
    x = np.random.default_rng(3).normal(size=257) * 1e3
    (tmp_path / "a.txt").write_text("\n".join(repr(float(v)) for v in x) + "\n")
    with gzip.open(tmp_path / "b.txt.gz", "wt") as fh:
        fh.write("  ".join(f"{v:.17g}" for v in x))  # one line, spaces, as in a few files
    np.testing.assert_array_equal(archive.read_values(tmp_path / "a.txt"), x)
    np.testing.assert_array_equal(archive.read_values(tmp_path / "b.txt.gz"), x)


def test_location_skips_training_part_nan_and_takes_first_tie() -> None:
    s = np.array([9.0, 9.0, 1.0, np.nan, 3.0, 3.0, 2.0])
    assert rules.location(s, train_end=2) == 5  # 1-based, first of the tied 3.0
    assert rules.top_ties(s, train_end=2) == 2
    with pytest.raises(ValueError, match="no scores after"):
        rules.location(s, train_end=7)


@pytest.mark.parametrize(
    ("loc", "begin", "end", "pm100", "loose"),
    [
        (400, 500, 500, True, True),
        (399, 500, 500, False, False),
        (600, 500, 500, True, True),
        (601, 500, 500, False, False),
        (250, 500, 799, False, True),  # L = 300: loose slack 300
        (1099, 500, 799, False, True),
        (1100, 500, 799, False, False),
    ],
)
def test_rules_at_their_edges(loc: int, begin: int, end: int, pm100: bool, loose: bool) -> None:
    assert rules.correct_pm100(loc, begin, end) is pm100
    assert rules.correct_loose(loc, begin, end) is loose


def _toy_archive(folder: Path) -> dict[str, tuple[int, int]]:
    """Three toy series: a spike inside the anomaly, one outside it, one in one-line layout."""
    rng = np.random.default_rng(7)
    made = {}
    for number, (spike, b, e, one_line) in enumerate(
        [(2300, 2290, 2310, False), (2700, 2000, 2050, False), (1800, 1790, 1795, True)], 1
    ):
        x = np.sin(np.arange(3000) * 2 * np.pi / 40) + rng.normal(0, 0.05, 3000)
        x[spike] += 6.0
        stem = f"{number:03d}_UCR_Anomaly_Toy{number}_1000_{b}_{e}"
        sep = " " if one_line else "\n"
        with gzip.open(folder / f"{stem}.txt.gz", "wt") as fh:
            fh.write(sep.join(f"{v:.17g}" for v in x))
        made[stem] = (spike + 1, int(b - 100 <= spike + 1 <= e + 100))
    (folder / "README.md").write_text("not a series")
    return made


def test_cli_streams_saves_scores_and_judges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _toy_archive(tmp_path)
    out = tmp_path / "out"
    spec = "robust_zscore:alpha=0.01"
    rc = main(["bench", "ucr", "--data", str(tmp_path), "--detector", spec, "--out", str(out), "--json", "--no-progress"])  # fmt: skip
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["series"] == 3 and report["points"] == 9000 and report["points_per_s"] > 0
    for r in report["results"]:
        spike, ok = made[r["series"]]
        assert r["location"] == spike and r["pm100"] is bool(ok)
        saved = np.load(out / f"{r['series']}.npy")
        x = archive.read_values(tmp_path / f"{r['series']}.txt.gz")
        # the saved scores are the detector's own, streamed from the first point
        direct = create_detector("robust_zscore", alpha=0.01).score_learn_many(x.reshape(-1, 1))
        np.testing.assert_allclose(saved, direct, rtol=1e-12)
        assert saved.dtype == np.float64 and saved.shape == x.shape
    assert report["accuracy"] == {"pm100": pytest.approx(2 / 3), "loose": pytest.approx(2 / 3)}
    rc = main(["bench", "ucr", "--data", str(tmp_path), "--detector", spec, "--out", str(out), "--no-progress"])  # fmt: skip
    text = capsys.readouterr().out
    assert "accuracy ±100 66.7% (2/3)" in text and "points/s" in text
    assert "002_UCR_Anomaly_Toy2_1000_2000_2050" in text


def test_micro_batches_do_not_change_scores() -> None:
    x = np.random.default_rng(1).normal(size=5000)
    one = stream_scores(create_detector("univariate_ensemble"), x, batch=5000)
    many = stream_scores(create_detector("univariate_ensemble"), x, batch=333)
    np.testing.assert_array_equal(one, many)


@pytest.mark.skipif(not UCR.is_dir(), reason="UCR archive half not present")
def test_shared_archive_files_all_parse_and_read() -> None:
    series = archive.list_series(UCR)
    assert len(series) == 125
    short = min(series, key=lambda s: s.path.stat().st_size)
    x = short.read()
    assert x.size > short.end and np.isfinite(x).all()


@pytest.mark.skipif(not UCR.is_dir(), reason="UCR archive half not present")
def test_the_difference_one_liner_scores_its_published_figure_on_the_shared_half() -> None:
    """``|x[t] - x[t-1]|`` finds 34 % of the shared half (±100): reader and rules agree."""
    series = archive.list_series(UCR)
    hits = 0
    for s in series:
        x = s.read()
        loc = rules.location(np.r_[0.0, np.abs(np.diff(x))], s.train_end)
        hits += rules.correct_pm100(loc, s.begin, s.end)
    assert hits == 43  # 34.4 %
