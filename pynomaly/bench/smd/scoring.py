"""Point-wise scores of an SMD run: best F1, AUPRC, alert F1, interpretation hit rates.

No point adjustment: a labelled incident counts row by row, so a detector
that fires once inside a long incident is not credited with all of it (point
adjustment makes even random scores look good; Kim et al., AAAI 2022).

Example
-------
>>> import numpy as np
>>> y = np.array([0, 0, 1, 1, 0, 0], dtype=bool)
>>> s = np.array([0.1, 0.2, 0.9, 0.3, 0.4, 0.0])
>>> round(best_f1(s, y), 3)   # threshold 0.9: P=1, R=0.5; threshold 0.3: P=2/3, R=1
0.8
>>> round(average_precision(s, y), 3)  # (1 + 2/3) / 2
0.833
>>> round(f1_at(s > 0.35, y), 3)
0.5
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from pynomaly.bench.smd.corpus import Incident


def _ranked(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true positives and flagged counts at each distinct threshold (high to low)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise ValueError(f"{s.shape[0]} scores for {y.shape[0]} labels")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    flagged = np.arange(1, s.shape[0] + 1)
    last = np.r_[s[1:] != s[:-1], True]  # ties share one threshold
    return tp[last], flagged[last]


def best_f1(scores: np.ndarray, labels: np.ndarray) -> float:
    """The highest point-wise F1 over every threshold of ``scores``."""
    positives = int(np.count_nonzero(labels))
    if positives == 0:
        return float("nan")
    tp, flagged = _ranked(scores, labels)
    return float(np.max(2.0 * tp / (flagged + positives)))


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUPRC as average precision: sum over thresholds of (recall step) x precision."""
    positives = int(np.count_nonzero(labels))
    if positives == 0:
        return float("nan")
    tp, flagged = _ranked(scores, labels)
    recall_step = np.diff(np.r_[0, tp]) / positives
    return float(np.sum(recall_step * tp / flagged))


def f1_at(flags: np.ndarray, labels: np.ndarray) -> float:
    """Point-wise F1 of yes/no decisions."""
    flags = np.asarray(flags, dtype=bool)
    labels = np.asarray(labels, dtype=bool)
    tp = int(np.count_nonzero(flags & labels))
    denom = int(np.count_nonzero(flags)) + int(np.count_nonzero(labels))
    return 2.0 * tp / denom if denom else float("nan")


def incident_of_rows(n_rows: int, incidents: Sequence[Incident]) -> np.ndarray:
    """Index of the incident each test row lies in, -1 outside every incident."""
    owner = np.full(n_rows, -1, dtype=np.int64)
    for i, inc in enumerate(incidents):
        owner[max(inc.start, 0) : min(inc.end, n_rows)] = i
    return owner


def hit_rates(
    explanations: Mapping[int, np.ndarray], incidents: Sequence[Incident], n_rows: int, top: int = 3
) -> dict[str, float | int]:
    """How well per-metric explanations name an incident's metrics.

    ``explanations`` maps test rows to per-metric contributions. Only rows
    inside an incident with labelled metrics count.

    - ``top3_any``: share of rows whose ``top`` metrics include at least one
      labelled metric;
    - ``hit_rate_100``/``hit_rate_150``: the published HitRate@P% (Su et al.,
      KDD 2019): for an incident with metrics G, the share of G among the
      ``floor(P% x |G|)`` top metrics, averaged over rows.
    """
    owner = incident_of_rows(n_rows, incidents)
    any_hits, hr100, hr150 = [], [], []
    for row, contrib in explanations.items():
        k = owner[row] if 0 <= row < n_rows else -1
        if k < 0 or not incidents[k].metrics:
            continue
        truth = set(incidents[k].metrics)
        ranked = np.argsort(-np.asarray(contrib), kind="mergesort").tolist()
        any_hits.append(bool(truth & set(ranked[:top])))
        for share, out in ((1.0, hr100), (1.5, hr150)):
            m = int(np.floor(share * len(truth)))
            out.append(len(truth & set(ranked[:m])) / len(truth))
    def mean(v: list) -> float:
        return float(np.mean(v)) if v else float("nan")
    return {
        "rows": len(any_hits),
        f"top{top}_any": mean(any_hits),
        "hit_rate_100": mean(hr100),
        "hit_rate_150": mean(hr150),
    }
