"""``pynomaly bench smd``: layout reading, streaming protocol, figures, command line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from pynomaly.bench.smd import corpus
from pynomaly.bench.smd.harness import stream_machine
from pynomaly.bench.smd.scoring import average_precision, best_f1, f1_at, hit_rates
from pynomaly.cli.main import main


def _write(path: Path, arr: np.ndarray, gz: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "%d" if arr.dtype.kind in "bi" else "%.6f"
    lines = [",".join(fmt % v for v in np.atleast_1d(row)) for row in arr]
    text = ("\n".join(lines) + "\n").encode()
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(text))
    else:
        path.write_bytes(text)


@pytest.fixture
def smd_folder(tmp_path: Path) -> Path:
    """Two machines of 5 metrics; one gzipped, one plain; an incident on metrics 2 and 4."""
    root = tmp_path / "smd"
    rng = np.random.default_rng(0)
    for k, (name, gz) in enumerate([("machine-9-1", True), ("machine-9-2", False)]):
        train = rng.normal(0.5, 0.05, size=(800, 5))
        test = rng.normal(0.5, 0.05, size=(700, 5))
        labels = np.zeros(700, dtype=int)
        start = 300 + 100 * k
        test[start : start + 40, [1, 3]] += 0.4
        labels[start : start + 40] = 1
        _write(root / "train" / f"{name}.txt", train, gz)
        _write(root / "test" / f"{name}.txt", test, gz)
        _write(root / "test_label" / f"{name}.txt", labels, gz)
        (root / "interpretation_label").mkdir(exist_ok=True)
        (root / "interpretation_label" / f"{name}.txt").write_text(f"{start}-{start + 40}:2,4\n")
    # a machine without labels is not listed
    _write(root / "test" / "machine-9-3.txt", np.zeros((3, 5)), False)
    return root


def test_layout_is_read_gzipped_or_plain(smd_folder: Path) -> None:
    assert corpus.list_machines(smd_folder) == ["machine-9-1", "machine-9-2"]
    m = corpus.load_machine(smd_folder, "machine-9-1")
    assert m.train.shape == (800, 5) and m.test.shape == (700, 5)
    assert m.labels.sum() == 40 and m.labels[300] and not m.labels[299] and not m.labels[340]
    assert m.incidents == [corpus.Incident(300, 340, (1, 3))]


def test_missing_layout_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="SMD layout"):
        corpus.list_machines(tmp_path)


def test_command_writes_one_score_per_test_row_and_the_figures(smd_folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    rc = main(["bench", "smd", "--data", str(smd_folder), "--out", str(out), "--json", "--no-progress"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["detector"] == "metric_deviation"
    assert sorted(report["machines"]) == ["machine-9-1", "machine-9-2"]
    for name, r in report["machines"].items():
        m = corpus.load_machine(smd_folder, name)
        scores = np.load(out / f"{name}.npy")
        assert scores.shape == (700,)
        assert r["best_f1"] == pytest.approx(best_f1(scores, m.labels))
        assert r["auprc"] == pytest.approx(average_precision_score(m.labels, scores))
        assert r["best_f1"] > 0.8  # a clear two-metric incident
        assert r["alerts"] > 0 and 0.0 < r["alert_f1"] <= 1.0
        assert r["interpretation_rows"]["top3_any"] == 1.0
        assert r["interpretation_rows"]["hit_rate_100"] > 0.9
        assert r["rows_per_s"] > 0
    mean = report["mean"]
    assert mean["best_f1"] == pytest.approx(np.mean([r["best_f1"] for r in report["machines"].values()]))


def test_table_output(smd_folder: Path, tmp_path: Path, capsys) -> None:
    rc = main(["bench", "smd", "--data", str(smd_folder), "--out", str(tmp_path / "o"),
               "--machines", "machine-9-2", "--detector", "robust_zscore", "--no-progress"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "machine-9-2" in text and "machine-9-1" not in text and "mean" in text


def test_pipeline_settings_change_the_alerts_not_the_scores(smd_folder: Path, tmp_path: Path, capsys) -> None:
    base = ["bench", "smd", "--data", str(smd_folder), "--machines", "machine-9-1", "--json", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main([*base, "--out", str(tmp_path / "b"), "--pipeline", "{threshold: {kind: probability, level: 0.9}}"]) == 0
    b = json.loads(capsys.readouterr().out)
    assert b["pipeline"] == {"threshold": {"kind": "probability", "level": 0.9}}
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "machine-9-1.npy"), np.load(tmp_path / "b" / "machine-9-1.npy"))
    assert b["machines"]["machine-9-1"]["alerts"] > a["machines"]["machine-9-1"]["alerts"]


def test_test_rows_are_scored_before_they_are_learned(smd_folder: Path) -> None:
    """Changing a later test row never changes an earlier score (no look-ahead)."""
    m = corpus.load_machine(smd_folder, "machine-9-1")
    a = stream_machine(m, "metric_deviation", {}, None)["scores"]
    m.test[500:] += 3.0
    b = stream_machine(m, "metric_deviation", {}, None)["scores"]
    np.testing.assert_array_equal(a[:500], b[:500])
    assert not np.array_equal(a[500:], b[500:])


def test_train_rows_are_learned_first(smd_folder: Path) -> None:
    m = corpus.load_machine(smd_folder, "machine-9-1")
    a = stream_machine(m, "metric_deviation", {}, None)["scores"]
    m.train = m.train * 2.0
    b = stream_machine(m, "metric_deviation", {}, None)["scores"]
    assert not np.allclose(a, b)


def _brute_best_f1(s: np.ndarray, y: np.ndarray) -> float:
    return max(f1_at(s >= t, y) for t in np.unique(s))


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_brute_force_and_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(300) < 0.1
    s = np.round(rng.random(300) + y * rng.random(300), 1)  # many ties
    assert best_f1(s, y) == pytest.approx(_brute_best_f1(s, y))
    assert average_precision(s, y) == pytest.approx(average_precision_score(y, s))


def test_hit_rates() -> None:
    incidents = [corpus.Incident(10, 20, (0, 1)), corpus.Incident(30, 31, (4,))]
    expl = {
        12: np.array([0.9, 0.0, 0.5, 0.4, 0.0]),  # top3 = 0, 2, 3: any hit; 1 of 2 in top 2
        15: np.array([0.1, 0.9, 0.0, 0.0, 0.8]),  # top2 = 1, 4: 1 of 2
        30: np.array([0.0, 0.1, 0.2, 0.3, 0.0]),  # top3 = 3, 2, 1: miss
        50: np.array([1.0, 0.0, 0.0, 0.0, 0.0]),  # outside every incident: ignored
    }
    hr = hit_rates(expl, incidents, 60)
    assert hr["rows"] == 3
    assert hr["top3_any"] == pytest.approx(2 / 3)
    assert hr["hit_rate_100"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert hr["hit_rate_150"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)  # top 3 for |G| = 2


@pytest.mark.parametrize(("spec", "message"), [("nope", "unknown detector 'nope'"), ("peer:nope", "unknown peer 'nope'")])
def test_unknown_detectors_are_named(spec: str, message: str) -> None:
    from pynomaly.bench.smd.harness import resolve

    with pytest.raises(ValueError, match=message):
        resolve(spec)


@pytest.mark.parametrize("peer", ["peer:pca", "peer:river_hst"])
def test_peers_run_through_the_same_harness(smd_folder: Path, tmp_path: Path, capsys, peer: str) -> None:
    rc = main(["bench", "smd", "--data", str(smd_folder), "--out", str(tmp_path / "p"), "--detector", peer,
               "--machines", "machine-9-1", "--json", "--no-progress"])
    assert rc == 0
    r = json.loads(capsys.readouterr().out)["machines"]["machine-9-1"]
    assert np.load(tmp_path / "p" / "machine-9-1.npy").shape == (700,)
    assert r["best_f1"] > 0.5  # the incident is plain to either
    assert r["interpretation_rows"]["rows"] == 0  # peers do not explain
