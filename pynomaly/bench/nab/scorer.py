"""NAB scoring, vectorised: windows, scaled sigmoid, probation, thresholds.

Implements the method of NAB v1.1 (``nab/sweeper.py``, ``nab/optimizer.py``,
``nab/runner.py``):

- Each row inside a label window scores ``tpWeight * S(p) / S(-1)`` when
  detected, with ``S(p) = 2 * sigmoid(-5 p) - 1`` and
  ``p = -(right - i + 1) / width`` its relative position; a window counts once,
  with the best (earliest) detection, and ``-fnWeight`` when missed.
- A detected row outside every window costs ``fpWeight * S(p)``, with
  ``p = |i - right_prev| / (width_prev - 1)`` past the previous window
  (``S = -1`` when ``p > 3`` or no window precedes it).
- Rows of the probationary period (the first ``min(floor(0.15 n), 750)``) are
  ignored.
- A row is detected when its anomaly score is ``>= threshold``; one threshold
  per profile maximises the raw score over the whole corpus (NAB sweeps every
  distinct score value).
- The final score is ``100 (raw - null) / (perfect - null)``: the null detector
  (a constant output) scores 0, the perfect one (``tpWeight`` per window) 100.

Example
-------
>>> import numpy as np
>>> t = np.arange(2000).astype("datetime64[s]")
>>> labels = SeriesLabels.build(t, [(t[1500], t[1599])])
>>> perfect = np.zeros(2000); perfect[1500] = 1.0
>>> result = score_corpus([labels], [perfect])
>>> round(result["standard"].score, 4)
100.0
>>> round(score_corpus([labels], [np.zeros(2000)])["standard"].score, 4)
0.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from pynomaly.bench.nab.corpus import DEFAULT_PROFILES

PROBATION_PERCENT = 0.15
#: ``scaledSigmoid(-1)``: the weight of the earliest possible detection.
MAX_TP = 2.0 / (1.0 + math.exp(-5.0)) - 1.0


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's ``scaledSigmoid``: ``2 sigmoid(-5 p) - 1``, and -1 beyond ``p > 3``."""
    position = np.asarray(position, dtype=np.float64)
    out = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, out)


def probation_length(n_rows: int, percent: float = PROBATION_PERCENT) -> float:
    """NAB's probationary period: ``min(floor(percent * n), percent * 5000)``."""
    return min(math.floor(percent * n_rows), percent * 5000)


@dataclass(frozen=True)
class SeriesLabels:
    """Per-row scoring geometry of one series (independent of cost profile).

    ``window`` is the window index of each row (-1 outside windows);
    ``weight`` the unweighted sweep score (S(p)/S(-1) inside windows, S(p)
    outside); ``scored`` masks out the probationary rows.
    """

    window: np.ndarray
    weight: np.ndarray
    scored: np.ndarray
    n_windows: int

    @classmethod
    def build(
        cls,
        timestamps: np.ndarray,
        windows: Sequence[tuple[np.datetime64, np.datetime64]],
        probation_percent: float = PROBATION_PERCENT,
    ) -> SeriesLabels:
        times = np.asarray(timestamps).astype("datetime64[s]")
        n = len(times)
        idx = np.arange(n)
        window = np.full(n, -1, dtype=np.int64)
        weight = np.full(n, -1.0)
        lefts, rights = [], []
        for k, (start, end) in enumerate(windows):
            left = _index_of(times, start)
            right = _index_of(times, end)
            lefts.append(left)
            rights.append(right)
            width = right - left + 1.0
            inside = slice(left, right + 1)
            window[inside] = k
            weight[inside] = scaled_sigmoid(-(right - idx[inside] + 1) / width) / MAX_TP
        if rights:
            r = np.asarray(rights)
            widths = r - np.asarray(lefts) + 1.0
            prev = np.searchsorted(r, idx, side="left") - 1  # last window ending before i
            outside = (window < 0) & (prev >= 0)
            pw = prev[outside]
            with np.errstate(divide="ignore", invalid="ignore"):
                pos = np.abs(r[pw] - idx[outside]) / (widths[pw] - 1.0)
            weight[outside] = scaled_sigmoid(np.nan_to_num(pos, nan=4.0, posinf=4.0))
        scored = idx >= probation_length(n, probation_percent)
        return cls(window, weight, scored, len(windows))


def _index_of(times: np.ndarray, t: np.datetime64) -> int:
    hits = np.flatnonzero(times == t)
    if hits.size == 0:
        raise ValueError(f"window edge {t} is not a timestamp of the series")
    return int(hits[0])


@dataclass(frozen=True)
class ProfileScore:
    """Result of one cost profile over a corpus."""

    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    score: float
    detected_windows: int
    n_windows: int
    false_positives: int
    groups: dict[str, float] = field(default_factory=dict)


def _flatten(labels: Sequence[SeriesLabels], scores: Sequence[np.ndarray]):
    if len(labels) != len(scores):
        raise ValueError("labels and scores must have the same number of series")
    s_parts, w_parts, g_parts = [], [], []
    offset = 0
    for lab, sc in zip(labels, scores, strict=True):
        sc = np.asarray(sc, dtype=np.float64)
        if sc.shape != lab.window.shape:
            raise ValueError(f"series has {lab.window.size} rows but {sc.size} scores")
        m = lab.scored
        win = lab.window[m]
        s_parts.append(sc[m])
        w_parts.append(lab.weight[m])
        g_parts.append(np.where(win >= 0, win + offset, -1))
        offset += lab.n_windows
    return np.concatenate(s_parts), np.concatenate(w_parts), np.concatenate(g_parts)


def sweep(
    scores: np.ndarray, weight: np.ndarray, group: np.ndarray, cost: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Raw NAB score at every distinct threshold, highest threshold first.

    Returns ``(thresholds, raw)``; the first entry (threshold ``inf``) is the
    score with no detection.
    """
    tp_w, fp_w, fn_w = cost["tpWeight"], cost["fpWeight"], cost["fnWeight"]
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    g = group[order]
    contrib = np.where(g < 0, weight[order] * fp_w, 0.0)
    in_win = np.flatnonzero(g >= 0)
    base = -fn_w * np.unique(g[in_win]).size
    if in_win.size:
        gw = g[in_win]
        by_group = np.argsort(gw, kind="stable")  # rank order kept inside a group
        gg = gw[by_group]
        vals = weight[order][in_win][by_group] * tp_w
        step = float(vals.max() - vals.min()) + 1.0
        running = np.maximum.accumulate(vals + gg * step) - gg * step
        prev = np.empty_like(running)
        prev[1:] = running[:-1]
        first = np.r_[True, gg[1:] != gg[:-1]]
        prev[first] = -fn_w
        contrib[in_win[by_group]] = running - prev
    total = base + np.cumsum(contrib)
    last = np.r_[s[1:] != s[:-1], True]
    return np.r_[np.inf, s[last]], np.r_[base, total[last]]


def score_corpus(
    labels: Sequence[SeriesLabels],
    scores: Sequence[np.ndarray],
    profiles: Mapping[str, Mapping[str, float]] | None = None,
    groups: Sequence[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, ProfileScore]:
    """Optimise one threshold per profile over the corpus and normalise the score.

    ``groups`` (one name per series, e.g. the category) adds per-group
    normalised scores at the corpus threshold. ``thresholds`` (profile name →
    threshold) fixes a profile's threshold instead of optimising it, as NAB's
    score step does with ``config/thresholds.json``.
    """
    profiles = DEFAULT_PROFILES if profiles is None else profiles
    s, w, g = _flatten(labels, scores)
    n_windows = sum(lab.n_windows for lab in labels)
    out: dict[str, ProfileScore] = {}
    for name, cost in profiles.items():
        levels, raw = sweep(s, w, g, cost)
        best = int(np.argmax(raw))
        threshold, best_raw = float(levels[best]), float(raw[best])
        if thresholds is not None and name in thresholds:
            threshold = float(thresholds[name])
            hit = np.flatnonzero(levels >= threshold)
            best_raw = float(raw[hit[-1]])
        null = _null_score(w, g, cost)
        perfect = n_windows * cost["tpWeight"]
        detected = s >= threshold
        group_scores = {}
        if groups is not None:
            group_scores = _group_scores(labels, scores, groups, cost, threshold)
        out[name] = ProfileScore(
            profile=name,
            threshold=threshold,
            raw=best_raw,
            null=null,
            perfect=perfect,
            score=_normalise(best_raw, null, perfect),
            detected_windows=int(np.unique(g[detected & (g >= 0)]).size),
            n_windows=n_windows,
            false_positives=int(np.count_nonzero(detected & (g < 0))),
            groups=group_scores,
        )
    return out


def _normalise(raw: float, null: float, perfect: float) -> float:
    """``100 (raw - null) / (perfect - null)``; NaN when undefined (no windows)."""
    return 100.0 * (raw - null) / (perfect - null) if perfect != null else float("nan")


def _null_score(weight: np.ndarray, group: np.ndarray, cost: Mapping[str, float]) -> float:
    """The optimised score of a constant detector: nothing, or everything, detected."""
    _, raw = sweep(np.zeros(weight.size), weight, group, cost)
    return float(raw.max())


def raw_at_threshold(
    lab: SeriesLabels, scores: np.ndarray, cost: Mapping[str, float], threshold: float
) -> float:
    """Raw NAB score of one series at a fixed threshold."""
    m = lab.scored
    det = np.asarray(scores)[m] >= threshold
    win, w = lab.window[m], lab.weight[m]
    total = float(np.sum(w[det & (win < 0)]) * cost["fpWeight"])
    for k in np.unique(win[win >= 0]):
        hit = det & (win == k)
        total += float(w[hit].max()) * cost["tpWeight"] if hit.any() else -cost["fnWeight"]
    return total


def _group_scores(
    labels: Sequence[SeriesLabels],
    scores: Sequence[np.ndarray],
    groups: Sequence[str],
    cost: Mapping[str, float],
    threshold: float,
) -> dict[str, float]:
    """Normalised score of each group of series at the corpus threshold."""
    out = {}
    for name in sorted(set(groups)):
        members = [i for i, gname in enumerate(groups) if gname == name]
        raw = sum(raw_at_threshold(labels[i], scores[i], cost, threshold) for i in members)
        sub_l = [labels[i] for i in members]
        _, w, g = _flatten(sub_l, [np.zeros(lab.window.size) for lab in sub_l])
        null = _null_score(w, g, cost)
        perfect = sum(lab.n_windows for lab in sub_l) * cost["tpWeight"]
        out[name] = _normalise(raw, null, perfect)
    return out
