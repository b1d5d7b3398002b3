"""Stream a NAB corpus through a detector, write NAB results, score them.

Every series is streamed through a fresh detector built from one
configuration: one pass, each value scored before it is learned, nothing
looked ahead. Detectors that publish scores on a probability scale
(``unit_scores = True``) are written as is; raw scores of other detectors are
turned into probabilities causally by a sliding-window conformal calibrator
(``1 - p``, p computed from past scores only).

Example
-------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "data" / "cat").mkdir(parents=True)
>>> (root / "labels").mkdir()
>>> rows = "".join(f"2020-01-01 00:{i // 60:02d}:{i % 60:02d},{(i == 150) * 9.0}\\n" for i in range(200))
>>> _ = (root / "data" / "cat" / "s.csv").write_text("timestamp,value\\n" + rows)
>>> _ = (root / "labels" / "combined_windows.json").write_text(
...     '{"cat/s.csv": [["2020-01-01 00:02:20", "2020-01-01 00:02:39"]]}')
>>> report = run_benchmark(root, "robust_zscore", root / "out", progress=False)
>>> sorted(report["profiles"])
['reward_low_FN_rate', 'reward_low_FP_rate', 'standard']
>>> (root / "out" / "robust_zscore" / "cat" / "robust_zscore_s.csv").exists()
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pynomaly.bench.detector_choice import parse_detector_choice
from pynomaly.bench.nab import corpus
from pynomaly.bench.nab.scorer import ProfileScore, SeriesLabels, score_corpus
from pynomaly.engine.registry import create_detector

#: Rows handed to the detector per call (a micro-batch, as a live flow would).
BATCH = 1024
#: Past scores the conformal calibrator of raw-score detectors keeps.
CALIBRATION_WINDOW = 2000


def unit_scores(detector: Any, raw: np.ndarray) -> np.ndarray:
    """Map a detector's raw scores onto [0, 1], causally."""
    if getattr(type(detector), "unit_scores", False):
        return np.clip(raw, 0.0, 1.0)
    from pynomaly.engine.decision.calibration import make_calibrator

    cal = make_calibrator({"kind": "conformal", "window": CALIBRATION_WINDOW})
    return 1.0 - cal.p_values(raw)


def stream_series(name: str, params: Mapping[str, Any], values: np.ndarray) -> np.ndarray:
    """Anomaly scores in [0, 1] of one series through a fresh registry detector."""
    return stream_values(create_detector(name, **params), values)


def stream_values(det: Any, values: np.ndarray) -> np.ndarray:
    """Anomaly scores in [0, 1] of one series, streamed through ``det`` in micro-batches.

    ``det`` is a fresh detector: anything with ``score_learn_many`` (score each
    row, then learn it) such as a :class:`~pynomaly.engine.base.Detector`.
    """
    X = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    raw = np.concatenate(
        [det.score_learn_many(X[i : i + BATCH]) for i in range(0, len(X), BATCH)] or [np.empty(0)]
    )
    return unit_scores(det, raw)


def write_results(path: Path, table: corpus.Table, scores: np.ndarray) -> None:
    """One NAB results file: ``timestamp,value,anomaly_score`` (same rows, same order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = table.column("value")
    lines = ["timestamp,value,anomaly_score"]
    lines.extend(
        f"{t},{v!r},{s!r}"
        for t, v, s in zip(table.timestamps, values.tolist(), scores.tolist(), strict=True)
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="series")


def run_benchmark(
    data: str | Path,
    detector: str | Callable[[], Any],
    out: str | Path,
    *,
    labels: str | Path | None = None,
    name: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run a detector over a corpus; write NAB results and score them.

    ``detector`` is a spec (see :func:`parse_detector_choice`) or, for detectors outside
    the registry (peers), a factory returning a fresh detector; ``name`` then
    names the results.
    """
    root = corpus.find_root(data)
    if callable(detector):
        if not name:
            raise ValueError("a detector factory needs a name")
        det_name, params, factory = name, {}, detector
    else:
        det_name, params = parse_detector_choice(detector)
        factory = partial(create_detector, det_name, **params)
    label = name or det_name
    windows = corpus.load_windows(labels or corpus.find_windows_file(root))
    series = [rel for rel in corpus.list_series(root) if rel in windows]
    if not series:
        raise FileNotFoundError(f"{root}: no labelled series under data/")
    labs, scores, groups = [], [], []
    t_detect = 0.0
    for rel in _progress(series, len(series), label, progress):
        table = corpus.read_table(root / "data" / rel)
        t0 = time.perf_counter()
        sc = stream_values(factory(), table.column("value"))
        t_detect += time.perf_counter() - t0
        category, file_name = rel.split("/", 1)
        write_results(Path(out) / label / category / f"{label}_{file_name}", table, sc)
        labs.append(SeriesLabels.build(table.times(), windows[rel]))
        scores.append(sc)
        groups.append(category)
    t0 = time.perf_counter()
    result = score_corpus(labs, scores, corpus.load_profiles(root), groups)
    t_score = time.perf_counter() - t0
    report = make_report(label, result, len(series), sum(len(s) for s in scores))
    report.update(detector=det_name, params=params, seconds={"detect": t_detect, "score": t_score})
    return report


def score_results(
    results: str | Path,
    *,
    labels: str | Path | None = None,
    profiles: Mapping[str, Mapping[str, float]] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Score the NAB-format results of one detector folder (no data files needed)."""
    results = Path(results)
    windows = corpus.load_windows(labels or corpus.find_windows_file(results))
    found = corpus.detector_results(results, sorted(windows))
    if not found:
        raise FileNotFoundError(f"{results}: no NAB result files for the labelled series")
    labs, scores, groups = [], [], []
    for rel, path in found.items():
        table = corpus.read_table(path)
        labs.append(SeriesLabels.build(table.times(), windows[rel]))
        scores.append(table.column("anomaly_score"))
        groups.append(rel.split("/", 1)[0])
    t0 = time.perf_counter()
    result = score_corpus(labs, scores, profiles, groups, thresholds)
    report = make_report(results.name, result, len(found), sum(len(s) for s in scores))
    report["seconds"] = {"score": time.perf_counter() - t0}
    report["missing"] = sorted(set(windows) - set(found))
    return report


def score_folders(
    results: str | Path,
    *,
    data: str | Path | None = None,
    labels: str | Path | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Score existing results: of the detector folder ``results``, or of every
    detector folder under it (NAB's own ``results/``). Labels and cost profiles
    come from the corpus ``data`` when given, else labels from ``results``."""
    profiles = corpus.load_profiles(corpus.find_root(data)) if data else None
    if labels is None and data:
        labels = corpus.find_windows_file(data)
    if labels is None:
        labels = corpus.find_windows_file(results)
    return [score_results(f, labels=labels, profiles=profiles, thresholds=thresholds)
            for f in detector_folders(Path(results), Path(labels))]


def detector_folders(results: Path, labels: Path) -> list[Path]:
    """``results`` itself when it holds result files, else its detector sub-folders that do."""
    series = sorted(corpus.load_windows(labels))
    if corpus.detector_results(results, series):
        return [results]
    subs = [d for d in sorted(results.iterdir()) if d.is_dir()] if results.is_dir() else []
    found = [d for d in subs if corpus.detector_results(d, series)]
    if not found:
        raise FileNotFoundError(f"{results}: no NAB result files for the labelled series")
    return found


def make_report(
    label: str, result: Mapping[str, ProfileScore], n_series: int, n_rows: int
) -> dict[str, Any]:
    """A JSON-ready summary: per-profile scores and thresholds, per-category scores."""
    profiles = {
        name: {
            "score": r.score,
            "threshold": r.threshold,
            "raw": r.raw,
            "detected_windows": r.detected_windows,
            "windows": r.n_windows,
            "false_positives": r.false_positives,
        }
        for name, r in result.items()
    }
    categories: dict[str, dict[str, float]] = {}
    for name, r in result.items():
        for cat, value in r.groups.items():
            # a category without windows has no normalised score (null = perfect)
            categories.setdefault(cat, {})[name] = value if value == value else None
    return {
        "name": label,
        "series": n_series,
        "rows": n_rows,
        "profiles": profiles,
        "categories": categories,
    }


def format_report(report: Mapping[str, Any]) -> str:
    """Human-readable table of a report."""
    names = list(report["profiles"])
    head = f"{'':28s}" + "".join(f"{n:>20s}" for n in names)
    lines = [
        f"NAB scores of {report['name']} ({report['series']} series, {report['rows']} rows)",
        head,
    ]
    lines.append(
        f"{'corpus':28s}" + "".join(f"{report['profiles'][n]['score']:20.2f}" for n in names)
    )
    for cat, vals in sorted(report["categories"].items()):
        cells = (
            f"{vals[n]:20.2f}" if vals[n] is not None else f"{'(no windows)':>20s}" for n in names
        )
        lines.append(f"  {cat:26s}" + "".join(cells))
    thr = ", ".join(f"{n}={report['profiles'][n]['threshold']:.6g}" for n in names)
    lines.append(f"thresholds: {thr}")
    if report.get("missing"):
        lines.append(f"missing series: {len(report['missing'])}")
    return "\n".join(lines)
