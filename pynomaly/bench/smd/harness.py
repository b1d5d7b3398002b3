"""Stream SMD machines through a detector and the engine's decision pipeline.

For each machine a fresh :class:`~pynomaly.engine.pipeline.ScoringPipeline`
(default calibration, threshold and warm-up; only the detector is chosen)
first streams the unlabelled ``train`` rows, so the detector learns them and
the calibrator sees their scores, then streams the ``test`` rows in
micro-batches: each row is scored before it is learned, nothing looked ahead.
The raw detector scores give the threshold-free figures (best F1, AUPRC); the
pipeline's own alert decisions give the F1 a live user gets; the
explanations of alerts, and of every labelled row, give the interpretation
hit rates.

Example
-------
>>> import tempfile, pathlib
>>> import numpy as np
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> rng = np.random.default_rng(0)
>>> test = rng.normal(size=(600, 3)); test[400:420, 1] += 8.0
>>> labels = np.zeros(600, dtype=int); labels[400:420] = 1
>>> for part, arr in [("train", rng.normal(size=(600, 3))), ("test", test), ("test_label", labels)]:
...     (root / part).mkdir()
...     np.savetxt(root / part / "m-1.txt", arr, delimiter=",")
>>> (root / "interpretation_label").mkdir()
>>> _ = (root / "interpretation_label" / "m-1.txt").write_text("400-420:2\\n")
>>> report = run_benchmark(root, "default", root / "out", progress=False)
>>> report["mean"]["best_f1"] > 0.7, (root / "out" / "m-1.npy").exists()
(True, True)
>>> report["machines"]["m-1"]["interpretation_rows"]["top3_any"]
1.0
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pynomaly.bench.smd import corpus
from pynomaly.bench.smd.scoring import (
    average_precision,
    best_f1,
    f1_at,
    hit_rates,
    incident_of_rows,
)
from pynomaly.engine.default_detectors import MULTIVARIATE_DEFAULT
from pynomaly.engine.pipeline import ScoringPipeline
from pynomaly.engine.registry import detector_class

#: Rows handed to the pipeline per call (a micro-batch, as a live flow would).
BATCH = 1024
#: The detector ``--detector default`` resolves to: the engine's default for
#: records with more than one value field.
DEFAULT_DETECTOR = MULTIVARIATE_DEFAULT
#: Figures averaged over machines in the report.
FIGURES = ("best_f1", "auprc", "alert_f1", "rows_per_s")

DetectorFactory = Callable[[], Any]


def resolve(spec: str) -> tuple[str, dict[str, Any], DetectorFactory | None]:
    """Detector name, parameters and, for peers, a factory of fresh detectors.

    ``default``, registry specs (``name``, ``name:k=v,...``, JSON/YAML, see
    :func:`pynomaly.bench.detector_choice.parse_detector_choice`) and ``peer:NAME`` (see
    :mod:`pynomaly.bench.smd.peers`).
    """
    if spec.startswith("peer:"):
        from pynomaly.bench.smd.peers import peer_factory

        name = spec.removeprefix("peer:")
        return f"peer:{name}", {}, peer_factory(name)
    from pynomaly.bench.detector_choice import parse_detector_choice

    if spec.strip() == "default":
        return DEFAULT_DETECTOR, {}, None
    name, params = parse_detector_choice(spec)
    try:
        detector_class(name).Params(**params)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    return name, params, None


def _batches(n: int) -> Iterable[slice]:
    return (slice(i, min(i + BATCH, n)) for i in range(0, n, BATCH))


def _test_batches(n: int, single: np.ndarray) -> Iterable[slice]:
    """Micro-batches of up to BATCH rows in which every row of ``single`` is a batch of its own.

    A row streamed alone can be explained on the state it is scored with.
    """
    alone = np.zeros(n + 1, dtype=bool)
    alone[single] = True
    i = 0
    while i < n:
        if alone[i]:
            yield slice(i, i + 1)
            i += 1
            continue
        stop = min(i + BATCH, n)
        nxt = i + int(np.argmax(alone[i:stop])) if alone[i:stop].any() else stop
        yield slice(i, nxt)
        i = nxt


def _fresh_pipeline(
    name: str,
    params: dict[str, Any],
    factory: DetectorFactory | None,
    pipeline: dict[str, Any] | None = None,
) -> ScoringPipeline:
    """A pipeline (the engine's defaults, or ``pipeline`` settings) around a fresh detector."""
    config = {k: v for k, v in (pipeline or {}).items() if k != "detector"}
    if factory is None:
        config["detector"] = {"name": name, "params": params}
    pipe = ScoringPipeline(config)
    if factory is not None:
        pipe.detector = factory()
    return pipe


def _learn_train(pipe: ScoringPipeline, train: np.ndarray) -> None:
    for sl in _batches(train.shape[0]):
        pipe.process_many(train[sl])
    train_done = getattr(pipe.detector, "train_done", None)
    if train_done is not None:  # a batch-fitted baseline fits on the train rows here
        train_done()


def stream_machine(
    machine: corpus.Machine,
    name: str,
    params: dict[str, Any],
    factory: DetectorFactory | None,
    pipeline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Stream one machine: scores, alert flags, explanations and timings.

    The timed pass streams micro-batches of :data:`BATCH` rows through the
    pipeline. A detector that explains (``explain_one`` gives per-metric
    contributions) is streamed a second time, alone, and every row inside a
    labelled incident is explained on the state it is scored with (before it
    is learned); an alert's explanation is its row's.
    """
    n = machine.test.shape[0]
    pipe = _fresh_pipeline(name, params, factory, pipeline)
    t0 = time.perf_counter()
    _learn_train(pipe, machine.train)
    scores = np.empty(n)
    flags = np.zeros(n, dtype=bool)
    for sl in _batches(n):
        res = pipe.process_many(machine.test[sl])
        scores[sl], flags[sl] = res.scores, res.is_anomaly
    seconds = time.perf_counter() - t0
    row_expl = _explain_incident_rows(machine, name, params, factory)
    return {
        "scores": scores,
        "flags": flags,
        "alert_explanations": {r: e for r, e in row_expl.items() if flags[r]},
        "row_explanations": row_expl,
        "seconds": seconds,
        "rows": machine.train.shape[0] + n,
    }


def _explain_incident_rows(
    machine: corpus.Machine, name: str, params: dict[str, Any], factory: DetectorFactory | None
) -> dict[int, np.ndarray]:
    """Per-metric contributions of every test row inside a labelled incident.

    Empty when there are no incidents or the detector does not explain.
    """
    n = machine.test.shape[0]
    labelled = np.flatnonzero(incident_of_rows(n, machine.incidents) >= 0)
    det = factory() if factory is not None else _fresh_pipeline(name, params, None).detector
    explain = getattr(det, "explain_one", None)
    if not labelled.size or explain is None:
        return {}
    det.learn_many(machine.train)
    if getattr(det, "train_done", None) is not None:
        det.train_done()
    is_labelled = np.zeros(n, dtype=bool)
    is_labelled[labelled] = True
    out: dict[int, np.ndarray] = {}
    for sl in _test_batches(n, labelled):
        if sl.stop - sl.start == 1 and is_labelled[sl.start]:
            contrib = explain(machine.test[sl.start])
            if contrib is None:
                return {}
            out[sl.start] = np.asarray(contrib, dtype=np.float64)
        det.learn_many(machine.test[sl])
    return out


def score_machine(machine: corpus.Machine, run: dict[str, Any]) -> dict[str, Any]:
    """The per-machine figures of one streamed run."""
    y = machine.labels
    n = y.shape[0]
    return {
        "test_rows": int(n),
        "anomalous_rows": int(np.count_nonzero(y)),
        "best_f1": best_f1(run["scores"], y),
        "auprc": average_precision(run["scores"], y),
        "alert_f1": f1_at(run["flags"], y),
        "alerts": int(np.count_nonzero(run["flags"])),
        "streamed_rows": int(run["rows"]),
        "rows_per_s": run["rows"] / run["seconds"] if run["seconds"] > 0 else float("inf"),
        "seconds": run["seconds"],
        "interpretation_alerts": hit_rates(run["alert_explanations"], machine.incidents, n),
        "interpretation_rows": hit_rates(run["row_explanations"], machine.incidents, n),
    }


def _progress(names: list[str], enabled: bool):
    if not enabled:
        return names
    from tqdm import tqdm

    return tqdm(names, desc="smd", unit="machine")


def run_benchmark(
    data: str | Path,
    detector: str,
    out: str | Path,
    *,
    machines: list[str] | None = None,
    pipeline: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``detector`` over every machine of ``data``; write ``OUT/<machine>.npy`` and a report.

    ``pipeline`` overrides the default pipeline settings (calibration,
    threshold, warm-up, protect; see :class:`~pynomaly.engine.pipeline.PipelineConfig`).
    Calibration, threshold and warm-up change only the alerts; ``protect``
    also changes what the detector learns, hence its scores.
    """
    name, params, factory = resolve(detector)
    names = machines or corpus.list_machines(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_machine: dict[str, dict[str, Any]] = {}
    bar = _progress(names, progress)
    for m in bar:
        machine = corpus.load_machine(data, m)
        run = stream_machine(machine, name, params, factory, pipeline)
        np.save(out / f"{m}.npy", run["scores"])
        per_machine[m] = score_machine(machine, run)
        if progress:
            bar.set_postfix_str(f"{m} best-F1 {per_machine[m]['best_f1']:.3f}")  # type: ignore[union-attr]
    report = {
        "detector": name,
        "params": params,
        "pipeline": pipeline or {},
        "machines": per_machine,
        "mean": summarise(per_machine),
        "seconds": sum(r["seconds"] for r in per_machine.values()),
        "rows": sum(r["test_rows"] for r in per_machine.values()),
        "streamed_rows": sum(r["streamed_rows"] for r in per_machine.values()),
    }
    report["rows_per_s"] = report["streamed_rows"] / report["seconds"] if report["seconds"] else 0.0
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float) + "\n")
    return report


def summarise(per_machine: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean over machines of each figure and of the interpretation hit rates."""
    mean = {f: float(np.nanmean([r[f] for r in per_machine.values()])) for f in FIGURES}
    for source in ("interpretation_alerts", "interpretation_rows"):
        for key in ("top3_any", "hit_rate_100", "hit_rate_150"):
            vals = [r[source][key] for r in per_machine.values()]
            vals = [v for v in vals if v == v]
            mean[f"{source}.{key}"] = float(np.mean(vals)) if vals else float("nan")
    return mean


def format_report(report: dict[str, Any]) -> str:
    """A table: one line per machine and the mean."""
    head = f"{'machine':14s}{'best-F1':>9s}{'AUPRC':>8s}{'alert-F1':>10s}{'alerts':>8s}{'rows/s':>10s}{'hit@3':>7s}{'HR@100':>8s}"
    lines = [f"SMD: {report['detector']} {report['params'] or ''}".rstrip(), head]

    def row(label: str, r: dict[str, Any], alerts: str, hit3: float, hr: float) -> str:
        return (
            f"{label:14s}{r['best_f1']:9.3f}{r['auprc']:8.3f}{r['alert_f1']:10.3f}{alerts:>8s}"
            f"{r['rows_per_s']:10.0f}{hit3:7.2f}{hr:8.2f}"
        )

    for m, r in report["machines"].items():
        lines.append(row(m, r, str(r["alerts"]), r["interpretation_alerts"]["top3_any"],
                         r["interpretation_rows"]["hit_rate_100"]))
    mean = report["mean"]
    lines.append(row("mean", mean, "", mean["interpretation_alerts.top3_any"],
                     mean["interpretation_rows.hit_rate_100"]))
    lines.append(
        f"{report['rows']} test rows; {report['streamed_rows']} rows streamed (train + test) in "
        f"{report['seconds']:.1f} s: {report['rows_per_s']:.0f} rows/s; "
        "hit@3: alerts in an incident whose top-3 metrics include a labelled one; "
        "HR@100: HitRate@100% over labelled rows"
    )
    return "\n".join(lines)
