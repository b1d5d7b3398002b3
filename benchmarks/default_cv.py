"""Cross-validation of the shape constants of ``shape_ensemble`` on UCR and NAB.

The two components of ``shape_ensemble`` (the univariate ensemble and the left
discord, both at their defaults) do not depend on the shape weight, so each is
computed once per series and every weight of the grid is a cheap combination
(:func:`pynomaly.engine.detectors.shape_ensemble.combine`, the detector's own
code). The grid: ``shape_weight`` x ``shape_quiet``. UCR component scores come from ``pynomaly bench ucr`` runs (``--out``
folders of ``univariate_ensemble`` and ``left_discord``); NAB components are
computed here.

- UCR, leave one group out: for each recording group, the weight with the best
  ±100 accuracy on the other groups is chosen (ties: the earlier in the grid) and
  that group's series are judged under it.
- NAB, leave one category out: for each category, the configuration with the best
  standard score on the other categories is chosen, with that profile's
  thresholds optimised on them; the held-out category is scored at those
  thresholds. The held-out raw scores of all categories are summed and
  normalised with the whole corpus' null and perfect scores. Each configuration
  alone gets the same treatment with only the thresholds chosen out of fold.
- One default for both (``joint``): the configuration with the best mean of
  UCR ±100 accuracy (in %) and NAB standard score. Its cross-validated figures
  hold out one UCR group (chosen on the other groups and all of NAB) or one
  NAB category (chosen on the other categories and all of UCR) at a time.

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

from pynomaly.bench.nab import corpus
from pynomaly.bench.nab.harness import stream_values
from pynomaly.bench.nab.scorer import (
    SeriesLabels,
    _flatten,
    _null_score,
    raw_at_threshold,
    score_corpus,
)
from pynomaly.bench.ucr import archive, rules
from pynomaly.bench.ucr.harness import stream_scores
from pynomaly.engine.detectors.shape_ensemble import combine
from pynomaly.engine.registry import create_detector

#: (shape_weight, shape_quiet) pairs; weight 0 is the ensemble alone.
GRID = [(0.0, 0.0)] + [(w, q) for q in (0.0, 1.0, 4.0) for w in (0.5, 1.0, 2.0, 4.0, 16.0)]
WARMUP = 200
Z_SCALE, ALARM_Z = 10.0, 5.0  # the ensemble's defaults


def combined(s_e: np.ndarray, d: np.ndarray, window: int, config: tuple[float, float]) -> np.ndarray:
    weight, quiet = config
    return combine(s_e, d, np.zeros(4), WARMUP, weight, Z_SCALE, ALARM_Z, round(quiet * window))


def window_of(x: np.ndarray) -> int:
    """The window ``left_discord`` picks for ``x`` (its period search only: a 2-window history)."""
    det = create_detector("left_discord", history=2)
    stream_scores(det, x[: det.params.period_until])
    return det.window


def label(config: tuple[float, float]) -> str:
    return f"w={config[0]:g},q={config[1]:g}"


# -- UCR -------------------------------------------------------------------------------
def ucr_hits(data: Path, ens_dir: Path, disc_dir: Path) -> tuple[list[str], np.ndarray]:
    """Groups, and a (series, weight) table of ±100 hits (1.0 / 0.0) and loose hits."""
    groups, hits = [], []
    for s in archive.list_series(data):
        s_e, d = np.load(ens_dir / f"{s.stem}.npy"), np.load(disc_dir / f"{s.stem}.npy")
        window = window_of(s.read())
        row = []
        for config in GRID:
            loc = rules.location(combined(s_e, d, window, config), s.train_end)
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
        chosen[name] = label(GRID[k])
        held += hits[~train, k].sum(axis=0)
    best = int(np.argmax(in_sample[:, 0]))
    return {
        "per_config": {label(c): {"pm100": float(a), "loose": float(b)} for c, (a, b) in zip(GRID, in_sample, strict=True)},
        "in_sample_best": {"config": label(GRID[best]), "pm100": float(in_sample[best, 0]), "loose": float(in_sample[best, 1])},
        "leave_group_out": {"pm100": float(held[0] / len(groups)), "loose": float(held[1] / len(groups))},
        "chosen_per_group": chosen,
        "groups": len(set(groups)),
    }  # fmt: skip


# -- NAB -------------------------------------------------------------------------------
def nab_components(root: Path) -> tuple[list, list, list, list, dict]:
    windows = corpus.load_windows(corpus.find_windows_file(root))
    labs, ens, disc, cats, windows_ = [], [], [], [], []
    for rel in corpus.list_series(root):
        if rel not in windows:
            continue
        table = corpus.read_table(root / "data" / rel)
        x = table.column("value")
        labs.append(SeriesLabels.build(table.times(), windows[rel]))
        ens.append(stream_values(create_detector("univariate_ensemble"), x))
        det = create_detector("left_discord")
        disc.append(stream_scores(det, x))
        windows_.append(det.window)
        cats.append(rel.split("/", 1)[0])
    return labs, ens, disc, windows_, cats, corpus.load_profiles(root)


def nab_cv(labs, ens, disc, windows_, cats, profiles, ucr_acc=None) -> dict:
    """Leave-one-category-out; with ``ucr_acc`` (config -> UCR accuracy) the joint choice."""
    scores = {c: [np.clip(combined(e, d, m, c), 0.0, 1.0) for e, d, m in zip(ens, disc, windows_, strict=True)] for c in GRID}
    per_config = {label(c): {p: r.score for p, r in score_corpus(labs, scores[c], profiles).items()} for c in GRID}
    cat_arr = np.asarray(cats)
    _, wgt, grp = _flatten(labs, [np.zeros(lab.window.size) for lab in labs])
    n_windows = sum(lab.n_windows for lab in labs)

    def normalised(raw: dict) -> dict:
        out = {}
        for p, cost in profiles.items():
            null = _null_score(wgt, grp, cost)
            out[p] = 100.0 * (raw[p] - null) / (n_windows * cost["tpWeight"] - null)
        return out

    folds = {}
    for name in sorted(set(cats)):
        train = np.flatnonzero(cat_arr != name)
        fits = {c: score_corpus([labs[i] for i in train], [scores[c][i] for i in train], profiles) for c in GRID}
        folds[name] = (fits, np.flatnonzero(cat_arr == name))

    def held_out(pick) -> tuple[dict, dict]:
        raw, chosen = {p: 0.0 for p in profiles}, {}
        for name, (fits, test) in folds.items():
            c = pick(fits)
            chosen[name] = label(c)
            for p, cost in profiles.items():
                thr = fits[c][p].threshold
                raw[p] += sum(raw_at_threshold(labs[i], scores[c][i], cost, thr) for i in test)
        return normalised(raw), chosen

    cv, chosen = held_out(lambda fits: max(GRID, key=lambda c: fits[c]["standard"].score))
    thresholds_only = {label(c): held_out(lambda fits, c=c: c)[0] for c in GRID}
    best = max(GRID, key=lambda c: per_config[label(c)]["standard"])
    report = {
        "per_config": per_config,
        "per_config_thresholds_out_of_fold": thresholds_only,
        "in_sample_best": {"config": label(best), **per_config[label(best)]},
        "leave_category_out": cv,
        "chosen_per_category": chosen,
    }
    if ucr_acc is not None:  # the joint choice, NAB categories held out
        joint_cv, joint_chosen = held_out(
            lambda fits: max(GRID, key=lambda c: 100 * ucr_acc[c] + fits[c]["standard"].score)
        )
        report["joint_leave_category_out"] = joint_cv
        report["joint_chosen_per_category"] = joint_chosen
    return report  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ucr", type=Path, required=True)
    ap.add_argument("--ucr-ensemble", type=Path, required=True)
    ap.add_argument("--ucr-discord", type=Path, required=True)
    ap.add_argument("--nab", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    groups, hits = ucr_hits(args.ucr, args.ucr_ensemble, args.ucr_discord)
    report = {"grid": [label(c) for c in GRID], "ucr": ucr_cv(groups, hits)}
    ucr_acc = dict(zip(GRID, hits[:, :, 0].mean(axis=0), strict=True))
    report["nab"] = nab_cv(*nab_components(corpus.find_root(args.nab)), ucr_acc=ucr_acc)
    nab_std = {c: report["nab"]["per_config"][label(c)]["standard"] for c in GRID}
    joint = max(GRID, key=lambda c: (100 * ucr_acc[c] + nab_std[c]) / 2)
    g = np.asarray(groups)
    held, picks = np.zeros(2), {}
    for name in sorted(set(groups)):  # the joint choice, UCR groups held out
        acc = {c: hits[g != name, k, 0].mean() for k, c in enumerate(GRID)}
        c = max(GRID, key=lambda c: (100 * acc[c] + nab_std[c]) / 2)
        picks[name] = label(c)
        held += hits[g == name, GRID.index(c)].sum(axis=0)
    report["joint"] = {
        "config": label(joint),
        "ucr_in_sample": {"pm100": float(ucr_acc[joint]), "loose": float(hits[:, GRID.index(joint), 1].mean())},
        "nab_in_sample": report["nab"]["per_config"][label(joint)],
        "ucr_leave_group_out": {"pm100": float(held[0] / len(groups)), "loose": float(held[1] / len(groups))},
        "ucr_chosen_per_group": picks,
        "nab_leave_category_out": report["nab"].pop("joint_leave_category_out"),
        "nab_chosen_per_category": report["nab"].pop("joint_chosen_per_category"),
    }  # fmt: skip
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
