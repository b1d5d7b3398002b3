"""NAB scores of every native detector and of peers, through one harness.

``python benchmarks/nab_peers.py --data ../shared/nab --out out/nab [--only NAME ...]``

Every detector streams each series once (score before learn, one
configuration for the whole corpus) through :func:`pynomaly.bench.nab.harness.run_benchmark`.
Detectors with raw scores get the harness's causal conformal calibration;
``univariate_ensemble`` publishes [0, 1] scores itself. Peers outside the
registry (PySAD models, a rolling z-score) are wrapped in a small adapter with
the same ``score_learn_many`` call. One JSON report per detector is written
to ``<out>/reports/`` and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pynomaly.bench.nab.harness import run_benchmark

#: Native detectors (registry specs), one configuration each for the whole corpus.
NATIVE = {
    "univariate_ensemble": "default",
    "robust_zscore": "robust_zscore",
    "rolling_mad": "rolling_mad",
    "seasonal": "seasonal:period=288",
    "hst": "hst",
    "rcf": "rcf",
    "loda": "loda",
    "rshash": "rshash",
    "xstream": "xstream",
}
#: Peers available through the registry's adapters.
REGISTRY_PEERS = {"river_hst": "river:model=HalfSpaceTrees"}


class PerEventPeer:
    """Adapter: a per-event ``fit_score_partial`` model behind ``score_learn_many``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.array([float(self.model.fit_score_partial(x)) for x in X])


class RollingZScore:
    """A rolling z-score: ``|x - mean| / std`` over the previous ``window`` values."""

    def __init__(self, window: int = 500) -> None:
        self.window = window
        self.past: np.ndarray = np.empty(0)

    def score_learn_many(self, X: np.ndarray) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64).ravel()
        out = np.zeros(x.size)
        for i, v in enumerate(x):
            if self.past.size >= 2:
                sd = self.past.std()
                out[i] = abs(v - self.past.mean()) / sd if sd > 0 else 0.0
            self.past = np.append(self.past, v)[-self.window :]
        return out


def _pysad(name: str, **kwargs: Any) -> Callable[[], PerEventPeer]:
    def make() -> PerEventPeer:
        import pysad.models

        return PerEventPeer(getattr(pysad.models, name)(**kwargs))

    return make


FACTORY_PEERS: dict[str, Callable[[], Any]] = {
    "rolling_zscore": RollingZScore,
    "pysad_sad": _pysad("StandardAbsoluteDeviation"),
    "pysad_mad": _pysad("MedianAbsoluteDeviation"),
    "pysad_loda": _pysad("LODA"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/nab")
    parser.add_argument("--out", default="out/nab")
    parser.add_argument("--only", nargs="*", help="run only these names")
    args = parser.parse_args()
    reports = Path(args.out) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    entries: dict[str, str | Callable[[], Any]] = {**NATIVE, **REGISTRY_PEERS, **FACTORY_PEERS}
    for name, spec in entries.items():
        if args.only and name not in args.only:
            continue
        t0 = time.process_time()
        report = run_benchmark(args.data, spec, args.out, name=name, progress=False)
        report["cpu_seconds"] = time.process_time() - t0
        (reports / f"{name}.json").write_text(json.dumps(report, indent=1))
        p = report["profiles"]
        print(
            f"| {name} | {p['standard']['score']:.1f} | {p['reward_low_FP_rate']['score']:.1f} "
            f"| {p['reward_low_FN_rate']['score']:.1f} | {report['cpu_seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
