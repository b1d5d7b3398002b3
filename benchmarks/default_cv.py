"""Cross-validation of the shape weight of ``shape_ensemble`` on UCR and NAB.

The two components of ``shape_ensemble`` (the univariate ensemble and the left
discord, both at their defaults) do not depend on the shape weight, so each is
computed once per series and every weight of the grid is a cheap combination
(:func:`pynomaly.engine.detectors.shape_ensemble.combine`, the detector's own
code). UCR component scores come from ``pynomaly bench ucr`` runs (``--out``
folders of ``univariate_ensemble`` and ``left_discord``); NAB components are
computed here.

- UCR, leave one group out: for each recording group, the weight with the best
  ±100 accuracy on the other groups is chosen (ties: the smaller weight) and
  that group's series are judged under it.
- NAB, leave one category out: for each category, the weight with the best
  standard score on the other categories is chosen, with that profile's
  thresholds optimised on them; the held-out category is scored at those
  thresholds. The held-out raw scores of all categories are summed and
  normalised with the whole corpus' null and perfect scores.

    .venv/bin/pynomaly bench ucr --data /work/shared/ucr --detector univariate_ensemble --out out/ucr/ens
    .venv/bin/pynomaly bench ucr --data /work/shared/ucr --detector left_discord --out out/ucr/ld
    .venv/bin/python benchmarks/default_cv.py --ucr /work/shared/ucr --ucr-ensemble out/ucr/ens \\
        --ucr-discord out/ucr/ld --nab /work/shared/nab --out out/default_cv.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pynomaly.engine.detectors.shape_ensemble import combine
from pynomaly.engine.registry import create_detector
from pynomaly.nab import corpus
from pynomaly.nab.harness import stream_values
from pynomaly.nab.scorer import (
    SeriesLabels,
    _flatten,
    _null_score,
    raw_at_threshold,
    score_corpus,
)
from pynomaly.ucr import archive, rules
from pynomaly.ucr.harness import stream_scores

WEIGHTS = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
WARMUP = 200
Z_SCALE = 10.0


def combined(s_e: np.ndarray, d: np.ndarray, weight: float) -> np.ndarray:
    return combine(s_e, d, np.zeros(3), WARMUP, weight, Z_SCALE)


# -- UCR -------------------------------------------------------------------------------
def ucr_hits(data: Path, ens_dir: Path, disc_dir: Path) -> tuple[list[str], np.ndarray]:
    """Groups, and a (series, weight) table of ±100 hits (1.0 / 0.0) and loose hits."""
    groups, hits = [], []
    for s in archive.list_series(data):
        s_e, d = np.load(ens_dir / f"{s.stem}.npy"), np.load(disc_dir / f"{s.stem}.npy")
        row = []
        for w in WEIGHTS:
            loc = rules.location(combined(s_e, d, w), s.train_end)
            row.append((rules.correct_pm100(loc, s.begin, s.end), rules.correct_loose(loc, s.begin, s.end)))
        groups.append(s.group)
        hits.append(row)
    return groups, np.asarray(hits, dtype=float)


def ucr_cv(groups: list[str], hits: np.ndarray) -> dict:
    g = np.asarray(groups)
    in_sample = hits.mean(axis=0)  # (weight, rule)
    chosen, held = {}, np.zeros(2)
    for name in sorted(set(groups)):
        train = g != name
        k = int(np.argmax(hits[train, :, 0].mean(axis=0)))  # first best: the smaller weight
        chosen[name] = WEIGHTS[k]
        held += hits[~train, k].sum(axis=0)
    best = int(np.argmax(in_sample[:, 0]))
    return {
        "per_weight": {str(w): {"pm100": float(a), "loose": float(b)} for w, (a, b) in zip(WEIGHTS, in_sample, strict=True)},
        "in_sample_best": {"weight": WEIGHTS[best], "pm100": float(in_sample[best, 0]), "loose": float(in_sample[best, 1])},
        "leave_group_out": {"pm100": float(held[0] / len(groups)), "loose": float(held[1] / len(groups))},
        "chosen_per_group": chosen,
        "groups": len(set(groups)),
    }  # fmt: skip


# -- NAB -------------------------------------------------------------------------------
def nab_components(root: Path) -> tuple[list, list, list, list, dict]:
    windows = corpus.load_windows(corpus.find_windows_file(root))
    labs, ens, disc, cats = [], [], [], []
    for rel in corpus.list_series(root):
        if rel not in windows:
            continue
        table = corpus.read_table(root / "data" / rel)
        x = table.column("value")
        labs.append(SeriesLabels.build(table.times(), windows[rel]))
        ens.append(stream_values(create_detector("univariate_ensemble"), x))
        disc.append(stream_scores(create_detector("left_discord"), x))
        cats.append(rel.split("/", 1)[0])
    return labs, ens, disc, cats, corpus.load_profiles(root)


def nab_cv(labs, ens, disc, cats, profiles) -> dict:
    scores = {w: [np.clip(combined(e, d, w), 0.0, 1.0) for e, d in zip(ens, disc, strict=True)] for w in WEIGHTS}
    per_weight = {str(w): {p: r.score for p, r in score_corpus(labs, scores[w], profiles).items()} for w in WEIGHTS}
    cat_arr = np.asarray(cats)
    held_raw = {p: 0.0 for p in profiles}
    chosen = {}
    for name in sorted(set(cats)):
        train = np.flatnonzero(cat_arr != name)
        test = np.flatnonzero(cat_arr == name)
        fits = {w: score_corpus([labs[i] for i in train], [scores[w][i] for i in train], profiles) for w in WEIGHTS}
        best_w = max(WEIGHTS, key=lambda w: (fits[w]["standard"].score, -w))
        chosen[name] = best_w
        for p, cost in profiles.items():
            thr = fits[best_w][p].threshold
            held_raw[p] += sum(raw_at_threshold(labs[i], scores[best_w][i], cost, thr) for i in test)
    _, wgt, grp = _flatten(labs, [np.zeros(lab.window.size) for lab in labs])
    n_windows = sum(lab.n_windows for lab in labs)
    cv = {}
    for p, cost in profiles.items():
        null = _null_score(wgt, grp, cost)
        perfect = n_windows * cost["tpWeight"]
        cv[p] = 100.0 * (held_raw[p] - null) / (perfect - null)
    best = max(WEIGHTS, key=lambda w: (per_weight[str(w)]["standard"], -w))
    return {
        "per_weight": per_weight,
        "in_sample_best": {"weight": best, **per_weight[str(best)]},
        "leave_category_out": cv,
        "chosen_per_category": chosen,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ucr", type=Path, required=True)
    ap.add_argument("--ucr-ensemble", type=Path, required=True)
    ap.add_argument("--ucr-discord", type=Path, required=True)
    ap.add_argument("--nab", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    groups, hits = ucr_hits(args.ucr, args.ucr_ensemble, args.ucr_discord)
    report = {"weights": WEIGHTS, "ucr": ucr_cv(groups, hits)}
    report["nab"] = nab_cv(*nab_components(corpus.find_root(args.nab)))
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
