"""Imputation across gaps: the records a detector learns in place of the
ones a key did not send.

For a row that arrives after a gap (longer than 1.5 cadences) the policy
inserts ``round(gap / cadence) - 1`` records (at most ``max_imputed``) just
before it: ``previous`` repeats the key's value before the gap, ``linear``
draws a straight line from it to the row's value. The detector learns them
in order like any record; they are never scored for alerts and never reach
the baseline or the rules. Work is per gap row, nothing per record.

Example
-------
>>> import numpy as np
>>> X = np.array([[1.0], [4.0]])
>>> slots = np.array([0, 0])
>>> gap = np.array([0.0, 30.0])            # the second row comes 30 s after the first
>>> cadence = np.array([10.0, 10.0])
>>> aug = impute(X, slots, np.ones(2, bool), gap, cadence, np.zeros((1, 1)), "linear", 64)
>>> aug.X[:, 0].tolist(), aug.real.tolist(), aug.source.tolist()
([1.0, 2.0, 3.0, 4.0], [True, False, False, True], [0, 1, 1, 1])
>>> impute(X, slots, np.ones(2, bool), gap, cadence, np.zeros((1, 1)), "previous", 64
...        ).X[:, 0].tolist()
[1.0, 1.0, 1.0, 4.0]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numba import njit

from pynomaly.engine.pipeline import PipelineResult


@njit(cache=True, nogil=True)
def _previous_rows(slots, keep, n_slots, prev):
    """Per row, the previous kept row of its slot in the batch (-1: none)."""
    latest = np.full(n_slots, -1, dtype=np.int64)
    for i in range(slots.shape[0]):
        s = slots[i]
        if s < 0:
            prev[i] = -1
            continue
        prev[i] = latest[s]
        if keep[i]:
            latest[s] = i


@dataclass
class Augmented:
    """A batch with imputed rows inserted: ``X``, ``slots`` and ``keep`` of
    every row, ``real`` marking the batch's own rows (in order) and
    ``source`` the batch row each row is or precedes (to carry any other
    per-row array over: ``a[source]``)."""

    X: np.ndarray
    slots: np.ndarray
    keep: np.ndarray
    real: np.ndarray
    source: np.ndarray

    @property
    def imputed(self) -> bool:
        """Whether any row was inserted."""
        return not self.real.all()


def impute(X: np.ndarray, slots: np.ndarray, keep: np.ndarray, gap: np.ndarray,
           cadence: np.ndarray, last_value: np.ndarray, policy: str, max_rows: int
           ) -> Augmented:
    """``X`` with imputed rows before every kept row with a gap (see the
    module docstring). ``last_value[slot]`` is each slot's value before the
    batch; ``cadence`` the slot's cadence before each row."""
    n = X.shape[0]
    todo = np.flatnonzero(keep & (gap > 0) & (cadence > 0)) if policy != "none" else []
    counts = np.zeros(n, dtype=np.int64)
    if len(todo):
        steps = np.rint(gap[todo] / cadence[todo]).astype(np.int64) - 1
        counts[todo] = np.clip(steps, 0, max_rows)
    if not counts.any():
        return Augmented(X, slots, keep, np.ones(n, dtype=bool), np.arange(n))
    prev = np.empty(n, dtype=np.int64)
    _previous_rows(np.ascontiguousarray(slots, dtype=np.int64), keep,
                   max(int(slots.max()) + 1, last_value.shape[0]), prev)
    total = n + int(counts.sum())
    pos = np.arange(n) + np.cumsum(counts)  # each real row's place in the new batch
    out_X = np.empty((total, X.shape[1]))
    out_slots = np.empty(total, dtype=slots.dtype)
    out_keep = np.ones(total, dtype=bool)
    real = np.zeros(total, dtype=bool)
    out_X[pos] = X
    out_slots[pos] = slots
    out_keep[pos] = keep
    real[pos] = True
    source = np.repeat(np.arange(n), counts + 1)
    for i in np.flatnonzero(counts).tolist():
        m = int(counts[i])
        before = X[prev[i]] if prev[i] >= 0 else last_value[slots[i]]
        k = np.arange(1, m + 1)[:, None]
        rows = (np.repeat(before[None, :], m, axis=0) if policy == "previous"
                else before + (X[i] - before) * k / (m + 1))
        out_X[pos[i] - m:pos[i]] = rows
        out_slots[pos[i] - m:pos[i]] = slots[i]
    return Augmented(out_X, out_slots, out_keep, real, source)


def last_values(last_value: np.ndarray, X: np.ndarray, slots: np.ndarray,
                keep: np.ndarray) -> None:
    """Store each slot's last kept row of the batch in ``last_value``.

    >>> lv = np.zeros((2, 1))
    >>> last_values(lv, np.array([[1.0], [2.0], [3.0]]), np.array([0, 1, 0]), np.ones(3, bool))
    >>> lv[:, 0].tolist()
    [3.0, 2.0]
    """
    rows = np.flatnonzero(keep & (slots >= 0))
    if len(rows) == 0:
        return
    rev = rows[::-1]
    uniq, first = np.unique(slots[rev], return_index=True)
    last_value[uniq] = X[rev[first]]


def real_rows(res: PipelineResult | None, aug: Augmented, start: int = 0) -> PipelineResult:
    """The pipeline result of the batch's own rows, from ``res`` computed
    over the augmented rows it learns (``aug.X[aug.keep]``; None when there
    are none). A row not learned (a skipped row) gets score 0, no flag, NaN
    probability and threshold. Explanations are re-indexed; a drift event on
    an imputed row is reported on the batch row after it."""
    n_real = int(aug.real.sum())
    learned = np.flatnonzero(aug.keep)  # augmented position of each result row
    real_index = np.cumsum(aug.real) - 1  # augmented position -> batch row (or the one before)
    scores = np.zeros(n_real)
    probability = np.full(n_real, np.nan)
    is_anomaly = np.zeros(n_real, dtype=bool)
    threshold = np.full(n_real, np.nan)
    if res is None or len(learned) == 0:
        return PipelineResult(scores, probability, is_anomaly, threshold, "score", start)
    from_real = aug.real[learned]
    rows = real_index[learned[from_real]]
    scores[rows] = res.scores[from_real]
    probability[rows] = res.probability[from_real]
    is_anomaly[rows] = res.is_anomaly[from_real]
    threshold[rows] = res.threshold[from_real]
    explanations = {int(real_index[learned[j]]): e for j, e in res.explanations.items()
                    if aug.real[learned[j]]}
    drift = []
    real_pos = np.flatnonzero(aug.real)
    for ev in res.drift_events:
        j = ev.index - res.start
        pos = learned[j] if 0 <= j < len(learned) else real_pos[-1]
        row = min(int(np.searchsorted(real_pos, pos)), n_real - 1)
        drift.append(dataclasses.replace(ev, index=res.start + row))
    return PipelineResult(scores, probability, is_anomaly, threshold, res.threshold_scale,
                          res.start, drift, explanations)
