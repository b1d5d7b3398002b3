"""Leave-one-machine-out cross-validation of a detector's constants on SMD.

For every configuration of a grid, each machine is streamed through a fresh
detector (train rows learned, test rows scored before they are learned) and
scored by point-wise best F1 and AUPRC. Leave-one-machine-out: for each
machine, the configuration with the best mean of (best F1 + AUPRC) / 2 on the
*other* machines is chosen, and that machine's figures under it are the
held-out figures. The in-sample figure is the single configuration best on all
machines together; the held-out mean is what to expect on unseen machines.

    .venv/bin/python benchmarks/smd_cv.py --data /work/shared/smd --out out/smd_cv.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from pynomaly.bench.smd import corpus
from pynomaly.bench.smd.scoring import average_precision, best_f1
from pynomaly.engine.registry import create_detector

#: metric_deviation constants searched (everything else at its default).
GRID: dict[str, list[float]] = {
    "top_k": [1, 2, 3, 5],
    "smoothing": [0.05, 0.1, 0.2],
    "relative_floor": [0.01, 0.03, 0.1],
    "floor": [0.0],
}


def configs(grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values."""
    keys = list(grid)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*grid.values())]


def evaluate(machines: list[corpus.Machine], name: str, params: dict) -> list[tuple[float, float]]:
    """(best F1, AUPRC) per machine of one configuration."""
    out = []
    for m in machines:
        det = create_detector(name, **params)
        det.learn_many(m.train)
        s = det.score_learn_many(m.test)
        out.append((best_f1(s, m.labels), average_precision(s, m.labels)))
    return out


def leave_one_out(table: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Held-out (best F1, AUPRC) per machine and the configuration chosen for each.

    ``table[c, m]`` = (best F1, AUPRC) of configuration c on machine m.
    """
    objective = table.mean(axis=2)  # (configs, machines)
    held, chosen = [], []
    for m in range(table.shape[1]):
        others = np.delete(objective, m, axis=1).mean(axis=1)
        c = int(np.argmax(others))
        chosen.append(c)
        held.append(table[c, m])
    return np.array(held), chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--detector", default="metric_deviation")
    ap.add_argument("--out", default="out/smd_cv.json")
    args = ap.parse_args()
    names = corpus.list_machines(args.data)
    machines = [corpus.load_machine(args.data, n) for n in names]
    grid = configs(GRID)
    rows = []
    t0 = time.perf_counter()
    for i, params in enumerate(grid):
        rows.append(evaluate(machines, args.detector, params))
        if i % 20 == 0:
            print(f"{i + 1}/{len(grid)} configurations, {time.perf_counter() - t0:.0f} s", flush=True)
    table = np.array(rows)  # (configs, machines, 2)
    best = int(np.argmax(table.mean(axis=(1, 2))))
    held, chosen = leave_one_out(table)
    report = {
        "detector": args.detector,
        "machines": names,
        "in_sample": {"params": grid[best], "per_machine": table[best].tolist(),
                      "mean": table[best].mean(axis=0).tolist()},
        "held_out": {"per_machine": held.tolist(), "mean": held.mean(axis=0).tolist(),
                     "params": [grid[c] for c in chosen]},
        "grid": grid,
        "table": table.tolist(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report) + "\n")
    print(f"{'machine':14s}{'in-sample F1/AUPRC':>22s}{'held-out F1/AUPRC':>22s}  chosen")
    for k, n in enumerate(names):
        a, h = table[best, k], held[k]
        print(f"{n:14s}{a[0]:11.3f}{a[1]:11.3f}{h[0]:11.3f}{h[1]:11.3f}  {grid[chosen[k]]}")
    a, h = table[best].mean(axis=0), held.mean(axis=0)
    print(f"{'mean':14s}{a[0]:11.3f}{a[1]:11.3f}{h[0]:11.3f}{h[1]:11.3f}")
    print(f"in-sample best: {grid[best]}")


if __name__ == "__main__":
    main()
