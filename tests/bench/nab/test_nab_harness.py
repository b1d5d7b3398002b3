"""The NAB harness and CLI: results layout, rows, score-only agreement, specs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pynomaly.bench.detector_choice import parse_detector_choice
from pynomaly.bench.nab import corpus
from pynomaly.cli.main import main

NAB = Path(__file__).resolve().parents[3].parent / "shared" / "nab"
needs_nab = pytest.mark.skipif(not (NAB / "data").is_dir(), reason="NAB corpus not present")
#: A few short series of different categories: a quick sanity run, not the benchmark.
SAMPLE = [
    "realAdExchange/exchange-2_cpc_results.csv",
    "realTraffic/speed_7578.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (NAB / "data").is_dir():
        pytest.skip("NAB corpus not present")
    root = tmp_path_factory.mktemp("nab")
    for rel in SAMPLE:
        (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(NAB / "data" / rel, root / "data" / rel)
    (root / "labels").mkdir()
    shutil.copy(NAB / corpus.WINDOWS_FILE, root / corpus.WINDOWS_FILE)
    return root


@needs_nab
def test_run_writes_nab_results_and_score_only_agrees(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    rc = main(["bench", "nab", "--data", str(small_corpus), "--detector", "default", "--out", str(out), "--json"])  # fmt: skip
    assert rc == 0
    run = json.loads(capsys.readouterr().out)
    assert run["series"] == len(SAMPLE) and set(run["categories"]) == {
        r.split("/")[0] for r in SAMPLE
    }
    for rel in SAMPLE:
        category, name = rel.split("/")
        data = corpus.read_table(small_corpus / "data" / rel)
        res = corpus.read_table(out / "shape_ensemble" / category / f"shape_ensemble_{name}")
        assert res.timestamps == data.timestamps
        np.testing.assert_array_equal(res.column("value"), data.column("value"))
        s = res.column("anomaly_score")
        assert s.min() >= 0.0 and s.max() <= 1.0
    rc = main(["bench", "nab", "--score-only", str(out / "shape_ensemble"), "--labels", str(small_corpus / corpus.WINDOWS_FILE), "--json"])  # fmt: skip
    assert rc == 0
    rescored = json.loads(capsys.readouterr().out)
    for profile, got in run["profiles"].items():
        assert rescored["profiles"][profile]["score"] == pytest.approx(got["score"], abs=1e-9)


@needs_nab
def test_raw_score_detector_is_calibrated_into_unit_range(
    small_corpus: Path, tmp_path: Path
) -> None:
    from pynomaly.bench.nab.harness import run_benchmark

    report = run_benchmark(small_corpus, "robust_zscore:alpha=0.05", tmp_path, progress=False)
    files = list((tmp_path / "robust_zscore").rglob("*.csv"))
    assert len(files) == len(SAMPLE)
    s = corpus.read_table(files[0]).column("anomaly_score")
    assert s.min() >= 0.0 and s.max() <= 1.0 and np.unique(s).size > 10
    assert report["params"] == {"alpha": 0.05}


def test_cli_needs_data_or_score_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "nab"]) == 1
    assert "--data is required" in capsys.readouterr().err


def test_spec_forms(tmp_path: Path) -> None:
    assert parse_detector_choice("hst") == ("hst", {})
    assert parse_detector_choice("default:shape_weight=0.5") == ("shape_ensemble", {"shape_weight": 0.5})
    path = tmp_path / "d.yaml"
    path.write_text("name: robust_zscore\nparams:\n  alpha: 0.2\n")
    assert parse_detector_choice(str(path)) == ("robust_zscore", {"alpha": 0.2})
    with pytest.raises(ValueError, match="key=value"):
        parse_detector_choice("hst:oops")


@needs_nab
def test_score_only_scores_every_detector_folder_of_a_results_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for det in ("null", "numenta"):
        src = NAB / "reference_results" / det / "realAdExchange"
        shutil.copytree(src, tmp_path / "results" / det / "realAdExchange")
    labels = str(NAB / corpus.WINDOWS_FILE)
    rc = main(["bench", "nab", "--score-only", str(tmp_path / "results"), "--labels", labels, "--json"])  # fmt: skip
    assert rc == 0
    out = json.loads(capsys.readouterr().out)["detectors"]
    assert set(out) == {"null", "numenta"} and out["null"]["series"] == 6
    assert out["null"]["profiles"]["standard"]["score"] == pytest.approx(0.0)
    assert out["numenta"]["profiles"]["standard"]["score"] > 50
