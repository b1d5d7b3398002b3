"""The NAB scorer against NAB's published scores and a literal port of NAB's sweeper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from naive_nab import best_score, sweep_rows

from pynomaly.bench.nab import corpus
from pynomaly.bench.nab.harness import score_results
from pynomaly.bench.nab.scorer import SeriesLabels, raw_at_threshold, score_corpus, sweep

NAB = Path(__file__).resolve().parents[3].parent / "shared" / "nab"
REFERENCE = NAB / "reference_results"
needs_nab = pytest.mark.skipif(not REFERENCE.is_dir(), reason="NAB reference results not present")

#: NAB's stored threshold (config/thresholds.json) behind the published numenta
#: reward_low_FP_rate score; it predates NAB's exhaustive sweep, which finds a
#: better one (63.21 rather than 63.12).
NUMENTA_STORED_LOW_FP = 0.5751955032348636


@needs_nab
@pytest.mark.parametrize(
    "detector", ["null", "windowedGaussian", "numenta", "randomCutForest", "knncad"]
)
def test_reproduces_published_scores(detector: str) -> None:
    published = json.loads((REFERENCE / "published_scores.json").read_text())[detector]
    report = score_results(REFERENCE / detector, labels=NAB / corpus.WINDOWS_FILE)
    assert report["series"] == 58 and not report["missing"]
    got = {k: v["score"] for k, v in report["profiles"].items()}
    for profile, want in published.items():
        if detector == "numenta" and profile == "reward_low_FP_rate":
            assert got[profile] >= want  # the sweep can only do better than a stored threshold
            fixed = score_results(
                REFERENCE / detector,
                labels=NAB / corpus.WINDOWS_FILE,
                thresholds={profile: NUMENTA_STORED_LOW_FP},
            )
            assert fixed["profiles"][profile]["score"] == pytest.approx(want, abs=5e-3)
        else:
            assert got[profile] == pytest.approx(want, abs=5e-3)


def _random_series(rng: np.random.Generator, n: int, n_windows: int):
    times = np.datetime64("2020-01-01T00:00:00") + np.arange(n).astype("timedelta64[m]")
    edges = np.sort(rng.choice(np.arange(1, n - 1), size=2 * n_windows, replace=False))
    windows = [(times[edges[2 * k]], times[edges[2 * k + 1]]) for k in range(n_windows)]
    scores = np.round(rng.random(n), 2)  # coarse values: many ties, as real detectors have
    return times, windows, scores


@pytest.mark.parametrize("seed", range(6))
def test_sweep_matches_literal_nab_port(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cost = {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11}
    labels, scores, rows = [], [], []
    for k in range(3):
        times, windows, sc = _random_series(
            rng, int(rng.integers(40, 400)), int(rng.integers(0, 4))
        )
        labels.append(SeriesLabels.build(times, windows))
        scores.append(sc)
        rows += sweep_rows(times, sc, windows, f"s{k}", cost)
    _, want = best_score(rows, cost)
    result = score_corpus(labels, scores, {"p": cost})["p"]
    assert result.raw == pytest.approx(want, abs=1e-9)


def test_sweep_starts_with_no_detection() -> None:
    levels, raw = sweep(
        np.array([0.5, 0.2]),
        np.array([-1.0, 0.9]),
        np.array([-1, 0]),
        {"tpWeight": 1.0, "fpWeight": 0.5, "fnWeight": 1.0},
    )
    assert levels[0] == np.inf and raw[0] == -1.0
    assert raw.tolist() == pytest.approx([-1.0, -1.5, 0.4])


def test_per_series_scores_add_up_to_the_corpus_score() -> None:
    rng = np.random.default_rng(11)
    cost = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22}
    series = [_random_series(rng, 300, k % 3) for k in range(5)]
    labels = [SeriesLabels.build(t, w) for t, w, _ in series]
    scores = [s for _, _, s in series]
    result = score_corpus(labels, scores, {"p": cost}, groups=["a", "a", "b", "b", "b"])["p"]
    parts = [
        raw_at_threshold(lab, s, cost, result.threshold)
        for lab, s in zip(labels, scores, strict=True)
    ]
    assert sum(parts) == pytest.approx(result.raw, abs=1e-9)
    assert set(result.groups) == {"a", "b"}
