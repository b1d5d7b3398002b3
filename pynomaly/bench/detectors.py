"""Native detectors side by side with their peers (``pynomaly bench detectors``).

In one process and on one seeded stream with injected anomalies, each native
detector runs in batch mode (``score_learn_many`` on micro-batches) and in
per-event mode (``score_one`` + ``learn_one`` in a Python loop); its peer runs
its own per-event API (River ``score_one``/``learn_one``, PySAD
``fit_score_partial``, the ``rrcf`` streaming recipe) on the first events of
the same stream. Reported per pair: events/s of each, the ratios native/peer,
and ROC-AUC of both on the events the peer saw (after the warm-up), for seed 0
and as the mean over ``auc_seeds`` seeds of each side (one seed's AUC on a few
hundred events moves by about 0.005 from seed to seed). Detectors not
registered and peers not installed are skipped with a note.

Detectors with a ``pynomaly.river`` class also run through the River API
(:mod:`pynomaly.bench.river_api`): per event with dicts
(``score_one``/``learn_one``) and per mini-batch of ``batch`` rows with
DataFrames (``score_many``/``learn_many``), each set against the peer.

>>> X, y = make_stream(1000, 2, seed=0)
>>> X.shape, int(y.sum()), bool(y[:WARMUP].any())
((1000, 2), 14, False)
>>> report = run_benchmark(events=700, per_event_events=50, repeats=1, only=["robust_zscore"])
>>> row = report["results"][0]
>>> row["peer"], row["peer_events"], row["auc"] == row["auc_on_peer_events"]
('river EWMean/EWVar z', 700, True)
>>> row["auc_seeds"], row["peer_auc_seeds"], row["auc_seed_mean"] == row["auc_on_peer_events"]
(1, 5, True)
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pynomaly.bench import detector_peers as peers
from pynomaly.bench import river_api
from pynomaly.bench import subsequence as subsequence_bench

#: Events before the first injected anomaly; also excluded from every ROC-AUC.
WARMUP = 300


def make_stream(n: int, d: int, seed: int, rate: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Correlated Gaussian events with a slow sinusoidal drift; anomalies after WARMUP.

    Features are scaled to unit spread over the first WARMUP events. Half of the
    anomalies move one feature by ``±(3..5)``; the other half move every feature
    by ``±(1.5..3) * sqrt(2 / d)``, ordinary per feature but off the correlation
    structure.
    """
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)
    X = rng.normal(size=(n, d)) @ mix
    X += np.sin(2 * np.pi * np.arange(n) / 2000.0)[:, None] * 0.5
    X /= X[:WARMUP].std(axis=0)
    y = np.zeros(n, dtype=bool)
    if n > WARMUP:
        count = max(1, int(rate * (n - WARMUP)))
        at = rng.choice(np.arange(WARMUP, n), size=min(count, n - WARMUP), replace=False)
        y[at] = True
        for i in at:
            if rng.random() < 0.5:
                X[i, rng.integers(d)] += rng.uniform(3.0, 5.0) * rng.choice([-1.0, 1.0])
            else:
                X[i] += rng.uniform(1.5, 3.0) * rng.choice([-1.0, 1.0], size=d) * np.sqrt(2.0 / d)
    return X, y


@dataclass
class Pair:
    native: str
    params: dict[str, Any]
    peer: str | None = None
    #: Builds the peer for a seed (its random state; deterministic peers ignore it).
    make_peer: Callable[[int], peers.Step] | None = None
    slow: bool = False
    dict_input: bool = False
    #: Applied to the peer's events before the timed loop (e.g. scaling to [0, 1]).
    prepare: Callable[[np.ndarray], np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)


def build_pairs(X: np.ndarray) -> list[Pair]:
    """The native/peer pairs, configured for stream ``X`` (same limits and sizes)."""
    d = X.shape[1]
    lo, hi = X[:256].min(axis=0), X[:256].max(axis=0)
    from pynomaly.engine.detectors.hst import auto_limits

    limits = auto_limits(X[:250])
    hst = {"n_trees": 10, "height": 8, "window_size": 250, "seed": 0}
    hst["limits"] = tuple((float(a), float(b)) for a, b in limits.T)
    bounds = {"feature_mins": lo.tolist(), "feature_maxes": hi.tolist()}
    return [
        Pair("hst", hst, "river.HalfSpaceTrees", lambda seed: peers.river_hst(X, limits, seed), dict_input=True),
        Pair(
            "hst",
            hst,
            "pysad.HalfSpaceTrees",
            peers.pysad(
                "HalfSpaceTrees",
                feature_mins=limits[0],
                feature_maxes=limits[1],
                window_size=250,
                num_trees=10,
                max_depth=8,
            ),
        ),
        Pair(
            "hst",
            hst,
            "capymoa.HalfSpaceTrees",
            lambda seed: peers.capymoa_hst(d, seed),
            prepare=lambda Z: (Z - limits[0]) / (limits[1] - limits[0]),  # MOA's [0, 1] space
        ),
        Pair("rcf", {"n_trees": 40, "tree_size": 256}, "rrcf", peers.rrcf, slow=True),
        Pair(
            "rcf",
            {"n_trees": 40, "tree_size": 256},
            "pysad.RobustRandomCutForest",
            peers.pysad("RobustRandomCutForest", num_trees=40, tree_size=256),
            slow=True,
        ),
        Pair("loda", {"n_projections": 100, "n_bins": 10}, "pysad.LODA", peers.pysad("LODA")),
        Pair("rshash", bounds, "pysad.RSHash", peers.pysad("RSHash", feature_mins=lo, feature_maxes=hi)),
        Pair("xstream", {}, "pysad.xStream", peers.pysad("xStream")),
        Pair("robust_zscore", {"clip_z": 0.0}, "river EWMean/EWVar z", lambda seed: peers.river_ewma_zscore()(d)),
        Pair("rolling_mad", {"window": 128}, "numpy rolling median/MAD", peers.numpy_rolling_mad),
        Pair("seasonal", {"period": 24}),
    ]  # fmt: skip


#: The native detectors :func:`build_pairs` compares, in report order.
NATIVE_NAMES = ("hst", "rcf", "loda", "rshash", "xstream", "robust_zscore", "rolling_mad",
                "seasonal", "left_discord")


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    y, s = y[WARMUP:], s[WARMUP:]
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, np.nan_to_num(s)))


def _best_of(repeats: int, run: Callable[[], Any]) -> tuple[Any, float]:
    """The result of the last run and the least CPU time of ``repeats`` runs.

    CPU time of the whole process (``time.process_time``: every thread, the
    JVM's too), so other jobs on the machine do not count against either side.
    """
    best, result = np.inf, None
    for _ in range(repeats):
        t0 = time.process_time()
        result = run()
        best = min(best, time.process_time() - t0)
    return result, best


def _time_native(
    name: str, params: dict[str, Any], X: np.ndarray, batch: int, per_event: int, repeats: int
) -> tuple[np.ndarray, float, float]:
    from pynomaly.engine import create_detector

    create_detector(name, **params).score_learn_many(X[: min(len(X), 600)])  # compile

    def batches() -> np.ndarray:
        det = create_detector(name, **params)
        return np.concatenate(
            [det.score_learn_many(X[i : i + batch]) for i in range(0, len(X), batch)]
        )

    def singles() -> None:
        det = create_detector(name, **params)
        for x in X[:per_event]:
            det.score_one(x)
            det.learn_one(x)

    scores, batch_s = _best_of(repeats, batches)
    _, single_s = _best_of(repeats, singles)
    return scores, len(X) / batch_s, len(X[:per_event]) / single_s


def _native_seed_scores(
    name: str, params: dict[str, Any], X: np.ndarray, seeds: int
) -> list[np.ndarray]:
    """Scores of the native detector for seeds ``0 .. seeds - 1`` (one run when it has none)."""
    from pynomaly.engine import create_detector
    from pynomaly.engine.registry import detector_class

    if "seed" not in detector_class(name).Params.model_fields:
        return [create_detector(name, **params).score_learn_many(X)]
    return [create_detector(name, **{**params, "seed": s}).score_learn_many(X) for s in range(seeds)]


def _time_peer(pair: Pair, X: np.ndarray, repeats: int, seeds: int) -> tuple[list[np.ndarray], float, int]:
    """Peer scores for seeds ``0 .. seeds - 1``, and events/s: the best run of those
    (and, when one run takes < 2 s, of ``repeats`` runs at least)."""
    if pair.prepare is not None:
        X = pair.prepare(X)
    rows: list[Any] = [dict(enumerate(x.tolist())) for x in X] if pair.dict_input else list(X)
    outs: list[np.ndarray] = []
    best = np.inf
    runs = 0
    while runs < max(seeds, 1) or (best < 2.0 and runs < repeats):
        step = pair.make_peer(runs % max(seeds, 1))  # type: ignore[misc]
        t0 = time.process_time()
        out = np.array([step(x) for x in rows])
        best = min(best, time.process_time() - t0)
        if runs < max(seeds, 1):
            outs.append(out)
        runs += 1
    return outs, len(rows) / best, runs


def _mean_auc(y: np.ndarray, runs: list[np.ndarray]) -> float | None:
    aucs = [a for a in (_auc(y, s) for s in runs) if a is not None]
    return float(np.mean(aucs)) if aucs else None


def _run_pair(
    pair: Pair, X: np.ndarray, y: np.ndarray, cache: dict[str, Any], settings: dict[str, int]
) -> tuple[dict[str, Any], str | None]:
    """Time one native detector (cached per parameters) and its peer; returns (row, note)."""
    key = pair.native + json.dumps(pair.params, sort_keys=True)
    if key not in cache:
        timed = _time_native(
            pair.native, pair.params, X, settings["batch"], settings["per_event"],
            settings["repeats"],
        )  # fmt: skip
        cache[key] = (*timed, _native_seed_scores(pair.native, pair.params, X, settings["auc_seeds"]))
        cache[key + " river"] = river_api.time_river_api(
            pair.native, pair.params, X, settings["batch"], settings["per_event"],
            settings["repeats"],
        )  # fmt: skip
    scores, batch_eps, per_event_eps, seed_scores = cache[key]
    river_timing = cache[key + " river"]
    row: dict[str, Any] = {
        "detector": pair.native,
        "params": pair.params,
        "events": len(X),
        "batch_eps": batch_eps,
        "per_event_eps": per_event_eps,
        "auc": _auc(y, scores),
        "peer": pair.peer,
    }
    if river_timing:
        row["river_api_eps"] = river_timing["river_api_eps"]
        row["river_api_batch_eps"] = river_timing["river_api_batch_eps"]
        row["river_api_auc"] = _auc(y, river_timing["river_api_scores"])
    if pair.make_peer is None:
        return row, None
    n_peer = min(len(X), settings["slow_peer"] if pair.slow else settings["peer"])
    try:
        peer_runs, peer_eps, n_runs = _time_peer(
            pair, X[:n_peer], settings["repeats"], settings["auc_seeds"]
        )
    except ImportError as exc:
        return row, (f"{pair.peer}: {exc.name or exc} is not installed "
                     f"(the bench extra: pip install -e '.[bench]')")
    except Exception as exc:  # a peer that cannot start is reported, not fatal
        return row, f"{pair.peer}: {type(exc).__name__}: {exc}"
    row.update(
        peer_events=n_peer,
        peer_eps=peer_eps,
        peer_runs=n_runs,
        batch_ratio=batch_eps / peer_eps,
        per_event_ratio=per_event_eps / peer_eps,
        auc_on_peer_events=_auc(y[:n_peer], scores[:n_peer]),
        peer_auc=_auc(y[:n_peer], peer_runs[0]),
        auc_seeds=len(seed_scores),
        auc_seed_mean=_mean_auc(y[:n_peer], [s[:n_peer] for s in seed_scores]),
        peer_auc_seeds=len(peer_runs),
        peer_auc_seed_mean=_mean_auc(y[:n_peer], peer_runs),
    )
    if river_timing:
        row["river_api_ratio"] = river_timing["river_api_eps"] / peer_eps
        row["river_api_batch_ratio"] = river_timing["river_api_batch_eps"] / peer_eps
    return row, None


def run_benchmark(
    events: int = 20_000,
    features: int = 4,
    seed: int = 0,
    batch: int = 256,
    per_event_events: int = 3000,
    peer_events: int = 4000,
    slow_peer_events: int = 1000,
    repeats: int = 3,
    only: list[str] | None = None,
    auc_seeds: int = 5,
) -> dict[str, Any]:
    """Run every pair; returns the report (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    from pynomaly.engine import list_detectors

    X, y = make_stream(events, features, seed)
    load_before = os.getloadavg()[0]
    registered = set(list_detectors())
    settings = {
        "batch": batch, "per_event": per_event_events, "peer": peer_events,
        "slow_peer": slow_peer_events, "repeats": repeats, "auc_seeds": auc_seeds,
    }  # fmt: skip
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    cache: dict[str, Any] = {}
    with threadpool_limits(1):  # no idle BLAS threads spinning on the peers' CPU time
        for pair in build_pairs(X):
            if only and pair.native not in only:
                continue
            if pair.native not in registered:
                skipped.append(f"{pair.native}: not registered")
                continue
            row, note = _run_pair(pair, X, y, cache, settings)
            rows.append(row)
            if note:
                skipped.append(note)
    subsequence = None
    if (not only or "left_discord" in only) and "left_discord" in registered:
        # a univariate subsequence detector: its own stream, against stumpy.stumpi
        subsequence = subsequence_bench.compare_stumpi(seed=seed, repeats=repeats)
    return {
        "subsequence": subsequence,
        "stream": {"events": events, "features": features, "seed": seed, "anomalies": int(y.sum())},
        "batch": batch,
        "repeats": repeats,
        "auc_seeds": auc_seeds,
        "timing": "process CPU time (time.process_time), best of repeats",
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "results": rows,
        "skipped": sorted(set(skipped)),
    }


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _seed_cell(row: dict[str, Any], mean: str, count: str) -> str:
    value = row.get(mean)
    return "-" if value is None else f"{value:.3f} ({row[count]})"


def _river_cell(row: dict[str, Any], eps: str, ratio: str) -> str:
    if row.get(eps) is None:
        return "-"
    return f"{row[eps]:,.0f} ({_fmt(row.get(ratio), ',.1f')})"


def format_report(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    head = (
        "| detector | peer | batch ev/s | per-event ev/s | peer ev/s (events) "
        "| batch × | per-event × | AUC | AUC on peer events | peer AUC "
        "| seed-mean AUC on peer events | peer seed-mean AUC "
        "| River API per-event ev/s (×) | River API batch ev/s (×) |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in report["results"]:
        peer_eps = r.get("peer_eps")
        peer_cell = "-" if peer_eps is None else f"{peer_eps:,.0f} ({r['peer_events']})"
        lines.append(
            f"| {r['detector']} | {r['peer'] or '-'} | {r['batch_eps']:,.0f} "
            f"| {r['per_event_eps']:,.0f} | {peer_cell} | {_fmt(r.get('batch_ratio'), ',.0f')} "
            f"| {_fmt(r.get('per_event_ratio'), ',.1f')} | {_fmt(r['auc'], '.3f')} "
            f"| {_fmt(r.get('auc_on_peer_events'), '.3f')} | {_fmt(r.get('peer_auc'), '.3f')} "
            f"| {_seed_cell(r, 'auc_seed_mean', 'auc_seeds')} "
            f"| {_seed_cell(r, 'peer_auc_seed_mean', 'peer_auc_seeds')} "
            f"| {_river_cell(r, 'river_api_eps', 'river_api_ratio')} "
            f"| {_river_cell(r, 'river_api_batch_eps', 'river_api_batch_ratio')} |"
        )
    s = report["stream"]
    lines.append("")
    lines.append(
        f"Stream: {s['events']} events x {s['features']} features, seed {s['seed']}, "
        f"{s['anomalies']} anomalies; batches of {report['batch']}; events/s from "
        f"process CPU time, native best of {report['repeats']}, peers best of their "
        f"{report['auc_seeds']} seeded runs (at least {report['repeats']} when a run takes "
        f"under 2 s). Seed-mean AUC: the mean ROC-AUC over seeds 0-{report['auc_seeds'] - 1} "
        f"(the count in brackets; 1 for detectors without a seed). River API: the "
        f"pynomaly.river class, dicts per event and DataFrames of {report['batch']} rows, "
        f"× the peer."
    )
    m = report["machine"]
    lines.append(
        f"Machine: {m['cpus']} CPUs, 1-min load average {m['load_average_1min'][0]} at the "
        f"start and {m['load_average_1min'][1]} at the end."
    )
    lines.extend(f"Skipped: {note}" for note in report["skipped"])
    if report.get("subsequence"):
        lines.extend(["", subsequence_bench.format_row(report["subsequence"])])
    return "\n".join(lines)
