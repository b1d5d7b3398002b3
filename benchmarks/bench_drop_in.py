"""``pynomaly.river`` and ``pynomaly.sklearn`` side by side with River's, scikit-learn's and PyOD's own classes.

``python benchmarks/bench_drop_in.py [--events 20000] [--train 10000]``

One seeded stream (``pynomaly.bench.detectors.make_stream``: 4 correlated
features, slow drift, 2 % anomalies after the first 300 events), one run per
model, CPU time of this process (BLAS pinned to one thread).

River section: the same pipeline, ``preprocessing.MinMaxScaler() | model``,
run prequentially (``score_one`` then ``learn_one`` per dict) with River's
``HalfSpaceTrees``/``LODA`` and with ours at equal parameters
(``limits="unit"`` for HST, which is River's default, so the trees are the
same). Then ours as a user would run it without the scaler (HST's default
limits from the first window), per event and per mini-batch (``score_many``
then ``learn_many`` on DataFrames of 256 rows). ROC-AUC over the events after
the first 300.

scikit-learn section: ``make_pipeline(StandardScaler(), model)`` fitted on
the first ``--train`` events and scoring the rest (``score_samples``; PyOD's
``decision_function`` negated), with scikit-learn's ``IsolationForest``,
PyOD's ``IForest`` and ``LODA`` next to ours. ROC-AUC on the scored events.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pynomaly.bench.detectors import WARMUP, make_stream


def cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def prequential(model: Any, rows: list[dict[int, float]]) -> np.ndarray:
    out = np.empty(len(rows))
    for i, x in enumerate(rows):
        out[i] = model.score_one(x)
        model.learn_one(x)
    return out


def mini_batches(model: Any, frames: list[pd.DataFrame]) -> np.ndarray:
    out = []
    for frame in frames:
        out.append(model.score_many(frame).to_numpy())
        model.learn_many(frame)
    return np.concatenate(out)


def river_section(X: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    import river.anomaly
    from river import preprocessing

    import pynomaly.river

    rows = [dict(enumerate(x)) for x in X.tolist()]
    frames = [pd.DataFrame(X[i : i + 256]) for i in range(0, len(X), 256)]
    pairs = [
        ("HalfSpaceTrees", lambda: river.anomaly.HalfSpaceTrees(seed=1),
         lambda: pynomaly.river.HalfSpaceTrees(limits="unit", seed=1),
         lambda: pynomaly.river.HalfSpaceTrees(seed=1)),
        ("LODA", lambda: river.anomaly.LODA(seed=1), lambda: pynomaly.river.LODA(seed=1),
         lambda: pynomaly.river.LODA(seed=1)),
    ]  # fmt: skip
    prequential(pynomaly.river.HalfSpaceTrees(limits="unit", seed=1), rows[:600])  # compile
    prequential(pynomaly.river.LODA(seed=1), rows[:600])
    out = []
    for name, theirs, ours, own_default in pairs:
        ref, ref_s = cpu(lambda t=theirs: prequential(preprocessing.MinMaxScaler() | t(), rows))
        own, own_s = cpu(lambda o=ours: prequential(preprocessing.MinMaxScaler() | o(), rows))
        alone, alone_s = cpu(lambda o=own_default: prequential(o(), rows))
        batch, batch_s = cpu(lambda o=own_default: mini_batches(o(), frames))
        n = len(rows)
        for label, scores, secs in [
            (f"river.anomaly.{name}, MinMaxScaler pipeline", ref, ref_s),
            (f"pynomaly.river.{name}, same pipeline", own, own_s),
            (f"pynomaly.river.{name}, no scaler, per event", alone, alone_s),
            (f"pynomaly.river.{name}, no scaler, mini-batches of 256", batch, batch_s),
        ]:
            out.append({"model": label, "eps": n / secs, "ratio": ref_s / secs,
                        "auc": roc_auc_score(y[WARMUP:], scores[WARMUP:])})  # fmt: skip
    return out


def sklearn_section(X: np.ndarray, y: np.ndarray, train: int) -> list[dict[str, Any]]:
    from pyod.models.iforest import IForest
    from pyod.models.loda import LODA as PyodLODA
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import pynomaly.sklearn

    fit_X, test_X, test_y = X[:train], X[train:], y[train:]
    models: list[tuple[str, Callable[[], Any], bool]] = [
        ("sklearn.ensemble.IsolationForest", lambda: IsolationForest(random_state=1), False),
        ("pyod IForest", lambda: IForest(random_state=1), True),
        (
            "pynomaly.sklearn.HalfSpaceTrees",
            lambda: pynomaly.sklearn.HalfSpaceTrees(random_state=1),
            False,
        ),
        ("pyod LODA", lambda: PyodLODA(), True),
        ("pynomaly.sklearn.LODA", lambda: pynomaly.sklearn.LODA(random_state=1), False),
        (
            "pynomaly.sklearn.RandomCutForest",
            lambda: pynomaly.sklearn.RandomCutForest(random_state=1),
            False,
        ),
        ("pynomaly.sklearn.RSHash", lambda: pynomaly.sklearn.RSHash(random_state=1), False),
        ("pynomaly.sklearn.XStream", lambda: pynomaly.sklearn.XStream(random_state=1), False),
    ]
    for _, make, _ in models:  # compile and import outside the clock
        make_pipeline(StandardScaler(), make()).fit(fit_X[:600])
    out = []
    for name, make, pyod in models:

        def run(make: Callable[[], Any] = make, pyod: bool = pyod) -> np.ndarray:
            pipe = make_pipeline(StandardScaler(), make()).fit(fit_X)
            return pipe.decision_function(test_X) if pyod else -pipe.score_samples(test_X)

        scores, secs = cpu(run)
        out.append({"model": name, "eps": len(X) / secs, "auc": roc_auc_score(test_y, scores)})
    base = {r["model"]: r["eps"] for r in out}
    for r in out:
        peer = "pyod LODA" if "LODA" in r["model"] else "sklearn.ensemble.IsolationForest"
        r["ratio"] = r["eps"] / base[peer]
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| model | events/s | × peer | ROC-AUC |", "|---|---|---|---|"]
    lines += [
        f"| {r['model']} | {r['eps']:,.0f} | {r['ratio']:,.1f} | {r['auc']:.3f} |" for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--train", type=int, default=10_000)
    args = parser.parse_args()
    X, y = make_stream(args.events, 4, seed=0)
    with threadpool_limits(1):
        print(
            f"River API, prequential, {args.events} events (× River's class in the same pipeline)\n"
        )
        print(table(river_section(X, y)))
        print(f"\nscikit-learn API, fit {args.train} events, score {args.events - args.train} "
              "(events/s over fit + score; × IsolationForest, or × PyOD LODA for LODA)\n")  # fmt: skip
        print(table(sklearn_section(X, y, args.train)))


if __name__ == "__main__":
    main()
