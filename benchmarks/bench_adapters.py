"""Throughput of the River, PyOD and torch adapters next to their raw libraries.

``python benchmarks/bench_adapters.py [--n 20000] [--single 3000]``

One seeded 4-feature Gaussian stream. For each adapter it times ``batch``
(``score_learn_many`` on chunks of ``--chunk`` events) and ``event``
(``score_learn_many`` on one event per call), and for River and PyOD the raw
library doing the same work (River's ``score_one``/``learn_one`` on dicts; a
PyOD model refitted on a ``deque`` window every ``refit_every`` events and
scoring one row per ``decision_function`` call).

It prints events per CPU-second of this process (fit threads included; on a
shared machine wall-clock rates swing with the load of others), the slowest
batch call in wall-clock time (where in-line refits stall the scoring path),
and the ratios to the raw peer of the same run. Background refits are put in
use one refit period later (waited for if unfinished), so their rows do the
same fitting work as the synchronous ones; the pool only moves it off the
scoring thread. The last section paces events (``--pace`` events/s in chunks
of 64) and shows the call latency an IForest adapter adds in each mode: with
idle time between calls, background refits keep refits off the scoring path
(the first fit, at ``min_fit`` events, runs in line in both modes).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import deque
from collections.abc import Callable

import numpy as np


def events_per_s(fn: Callable[[np.ndarray], object], X: np.ndarray) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn(X)
    return X.shape[0] / (time.process_time() - t0), out


def adapter_batch(make: Callable, chunk: int) -> Callable[[np.ndarray], object]:
    def run(X: np.ndarray) -> object:
        det, slowest = make(), 0.0  # slowest call: in-line refit stalls show here
        for i in range(0, X.shape[0], chunk):
            t0 = time.perf_counter()
            det.score_learn_many(X[i : i + chunk])
            slowest = max(slowest, time.perf_counter() - t0)
        return det, slowest

    return run


def adapter_event(make: Callable) -> Callable[[np.ndarray], object]:
    def run(X: np.ndarray) -> object:
        det = make()
        for i in range(X.shape[0]):
            det.score_learn_many(X[i : i + 1])
        return det

    return run


def paced_latencies(make: Callable, X: np.ndarray, chunk: int, rate: float) -> np.ndarray:
    """Wall-clock seconds of each call when ``chunk`` events arrive every ``chunk / rate`` s."""
    det, out = make(), []
    t_next = time.perf_counter()
    for i in range(0, X.shape[0], chunk):
        t_next += chunk / rate
        t0 = time.perf_counter()
        det.score_learn_many(X[i : i + chunk])
        out.append(time.perf_counter() - t0)
        time.sleep(max(0.0, t_next - time.perf_counter()))  # idle: other keys, I/O
    return np.asarray(out)


def raw_river(make: Callable) -> Callable[[np.ndarray], None]:
    def run(X: np.ndarray) -> None:
        model = make()
        for row in X.tolist():
            x = {"x0": row[0], "x1": row[1], "x2": row[2], "x3": row[3]}
            model.score_one(x)
            model.learn_one(x)

    return run


def raw_pyod(make: Callable, window: int, refit_every: int, min_fit: int) -> Callable:
    def run(X: np.ndarray) -> None:
        buf: deque = deque(maxlen=window)
        model, since = None, 0
        for x in X:
            if model is not None:
                model.decision_function(x[None])
            buf.append(x)
            since += 1
            if (model is None and len(buf) >= min_fit) or (
                model is not None and since >= refit_every
            ):
                model, since = make().fit(np.array(buf)), 0

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="events for batch runs")
    ap.add_argument("--single", type=int, default=3000, help="events for per-event runs")
    ap.add_argument("--chunk", type=int, default=256, help="events per batch call")
    ap.add_argument("--pace", type=float, default=300.0, help="arrival rate, events/s")
    ap.add_argument("--pace-seconds", type=float, default=8.0, help="length of paced runs")
    args = ap.parse_args()

    import torch
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from river import anomaly, compose, preprocessing

    from pynomaly.engine.registry import create_detector

    torch.set_num_threads(1)
    X = np.random.default_rng(42).normal(size=(args.n, 4))
    Xs = X[: args.single]
    pyod_cfg = {"window": 1024, "refit_every": 256, "min_fit": 128}
    hst = {"n_trees": 25, "height": 10, "window_size": 250}

    def river_hst():
        return create_detector("river", model="HalfSpaceTrees", model_params=hst)

    def raw_hst():
        return compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(**hst, seed=0))

    cases: list[tuple[str, Callable, Callable | None]] = [
        ("river HalfSpaceTrees", river_hst, raw_river(raw_hst)),
    ]
    for name, cls, mp in [
        ("ECOD", ECOD, {}),
        ("HBOS", HBOS, {}),
        ("IForest", IForest, {"n_estimators": 100}),
    ]:
        kw = {"random_state": 0} if name == "IForest" else {}

        def sync(name=name, mp=mp):
            return create_detector(
                "pyod", model=name, model_params=mp, synchronous=True, **pyod_cfg
            )

        def asyn(name=name, mp=mp):
            return create_detector("pyod", model=name, model_params=mp, **pyod_cfg)

        raw = raw_pyod(lambda cls=cls, mp=mp, kw=kw: cls(**mp, **kw), **pyod_cfg)
        cases.append((f"pyod {name} (synchronous)", sync, raw))
        cases.append((f"pyod {name} (background refits)", asyn, raw))
    cases.append(("torch_autoencoder (16,4)", lambda: create_detector("torch_autoencoder"), None))

    # warm-up: numba/JIT compilation and lazy imports out of the timings
    for _, make, _ in cases:
        adapter_batch(make, args.chunk)(X[:600])
    print(f"4 features; batch = {args.chunk} events per call; events per CPU-second")
    print(f"{'detector':36s} {'batch':>10s} {'max call':>9s} {'per-event':>10s} {'raw peer':>10s}")
    for label, make, raw_event in cases:
        gc.collect()  # earlier runs' garbage (River trees are many objects) out of the way
        b, (det_b, slowest) = events_per_s(adapter_batch(make, args.chunk), X)
        fits_b = getattr(det_b, "n_fits", 0)
        del det_b
        gc.collect()
        e, det_e = events_per_s(adapter_event(make), Xs)
        fits_e = getattr(det_e, "n_fits", 0)
        del det_e
        gc.collect()
        peer = events_per_s(raw_event, Xs)[0] if raw_event is not None else float("nan")
        note = f"  batch {b / peer:.2f}x, event {e / peer:.2f}x" if raw_event else ""
        if "background" in label:  # fits put in use (the last one started is still pending)
            note += f"  [models used: batch {fits_b}, event {fits_e}]"
        stall = f"{slowest * 1e3:7.1f}ms"
        print(f"{label:36s} {b:10.0f} {stall:>9s} {e:10.0f} {peer:10.0f}{note}", flush=True)

    rate, chunk = args.pace, 64
    paced = X[: int(rate * args.pace_seconds)]
    print(f"\nIForest (100 trees), {rate:.0f} events/s arriving in chunks of {chunk}: call latency")
    for mode in (True, False):
        lat = paced_latencies(
            lambda mode=mode: create_detector(
                "pyod", model="IForest", synchronous=mode, **pyod_cfg
            ),
            paced,
            chunk,
            rate,
        )
        name = "synchronous" if mode else "background refits"
        p50, p99 = np.percentile(lat, [50, 99]) * 1e3
        print(f"  {name:18s} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  max {lat.max() * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
