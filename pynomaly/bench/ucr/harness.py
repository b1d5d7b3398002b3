"""Stream UCR archive series through a detector, save the scores, judge the locations.

Every series is streamed through a fresh detector built from one
configuration, from its first point: micro-batches of
:data:`~pynomaly.bench.nab.harness.BATCH` rows, each row scored before it is
learned, nothing looked ahead. The training part is learned like any other
data; only its scores are not judged. The raw scores are kept (no clipping,
no calibration): the answer is an argmax, and scores that saturate would tie.

Example
-------
>>> import tempfile, pathlib
>>> import numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> x = np.sin(np.arange(3000) * 2 * np.pi / 50); x[2200] += 5.0
>>> np.savetxt(folder / "001_UCR_Anomaly_Toy_1000_2195_2205.txt", x)
>>> report = run_benchmark(folder, "robust_zscore", folder / "out", progress=False)
>>> report["accuracy"]["pm100"], report["results"][0]["location"]
(1.0, 2201)
>>> np.load(folder / "out" / "001_UCR_Anomaly_Toy_1000_2195_2205.npy").shape
(3000,)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from pynomaly.bench.detector_choice import parse_detector_choice
from pynomaly.bench.nab.harness import BATCH
from pynomaly.bench.ucr import archive, rules
from pynomaly.engine.registry import create_detector


def stream_scores(det: Any, values: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """Raw scores of one series through a fresh detector, in micro-batches, score before learn."""
    X = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    parts = [
        np.asarray(det.score_learn_many(X[i : i + batch]), dtype=np.float64)
        for i in range(0, len(X), batch)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def judge(series: archive.UcrSeries, scores: np.ndarray) -> dict[str, Any]:
    """Location and correctness of one series' scores under both rules."""
    loc = rules.location(scores, series.train_end)
    return {
        "series": series.stem,
        "group": series.group,
        "points": int(scores.size),
        "train_end": series.train_end,
        "begin": series.begin,
        "end": series.end,
        "location": loc,
        "pm100": rules.correct_pm100(loc, series.begin, series.end),
        "loose": rules.correct_loose(loc, series.begin, series.end),
        "top_ties": rules.top_ties(scores, series.train_end),
    }


def summarise(results: list[Mapping[str, Any]]) -> dict[str, float]:
    """Accuracy under both rules over a list of :func:`judge` results."""
    n = max(len(results), 1)
    return {
        "pm100": sum(bool(r["pm100"]) for r in results) / n,
        "loose": sum(bool(r["loose"]) for r in results) / n,
    }


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="pt", unit_scale=True)


def run_benchmark(
    data: str | Path,
    detector: str | Callable[[], Any],
    out: str | Path | None,
    *,
    name: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run a detector over every archive file of ``data``; save ``OUT/<stem>.npy``; judge.

    ``detector`` is a spec (see :func:`~pynomaly.bench.detector_choice.parse_detector_choice`) or a
    factory returning a fresh detector (anything with ``score_learn_many``);
    ``name`` then names it. ``out=None`` saves nothing.
    """
    if callable(detector):
        if not name:
            raise ValueError("a detector factory needs a name")
        det_name, params, factory = name, {}, detector
    else:
        det_name, params = parse_detector_choice(detector)
        factory = partial(create_detector, det_name, **params)
    series = archive.list_series(data)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    values = {s.stem: s.read() for s in series}
    bar = _progress(sum(v.size for v in values.values()), name or det_name, progress)
    results, t_detect = [], 0.0
    for s in series:
        x = values.pop(s.stem)
        if x.size <= s.train_end:
            raise ValueError(f"{s.path.name}: {x.size} points, none after the training part")
        t0 = time.perf_counter()
        scores = stream_scores(factory(), x)
        seconds = time.perf_counter() - t0
        t_detect += seconds
        if out is not None:
            np.save(Path(out) / f"{s.stem}.npy", scores)
        results.append(judge(s, scores) | {"seconds": seconds})
        if bar is not None:
            bar.update(x.size)
            bar.set_postfix(acc=f"{summarise(results)['pm100']:.3f}")
    if bar is not None:
        bar.close()
    points = sum(r["points"] for r in results)
    return {
        "name": name or det_name,
        "detector": det_name,
        "params": params,
        "series": len(results),
        "points": points,
        "accuracy": summarise(results),
        "seconds": t_detect,
        "points_per_s": points / t_detect if t_detect > 0 else float("inf"),
        "results": results,
    }


def format_report(report: Mapping[str, Any]) -> str:
    """Human-readable per-series locations and the totals."""
    lines = [f"{'series':64s} {'location':>9s} {'anomaly':>15s}  ±100  loose  ties"]
    for r in report["results"]:
        lines.append(
            f"{r['series']:64.64s} {r['location']:9d} {r['begin']:>7d}-{r['end']:<7d}"
            f"  {'yes' if r['pm100'] else 'no':>4s}  {'yes' if r['loose'] else 'no':>5s}"
            f"  {r['top_ties']:4d}"
        )
    acc = report["accuracy"]
    n = report["series"]
    lines.append(
        f"{report['name']}: {n} series, {report['points']} points, "
        f"accuracy ±100 {acc['pm100']:.1%} ({round(acc['pm100'] * n)}/{n}), "
        f"loose max(L,100) {acc['loose']:.1%} ({round(acc['loose'] * n)}/{n}), "
        f"{report['points_per_s']:,.0f} points/s ({report['seconds']:.1f} s)"
    )
    return "\n".join(lines)
