"""Per-key cadence in event time, and keys gone silent.

Each key's usual interval between records is learned as an exponentially
weighted mean of its inter-arrival times (an interval is clipped at three
times the current estimate, so a gap does not teach the key to be slow). A
key whose cadence is known and whose newest record is older than
``multiple`` × cadence before the flow's watermark is *missing*: it is
reported once, at event time ``last + multiple × cadence`` (so the same
stream always gives the same alert), and its next record is reported once
as its recovery.

Example
-------
>>> import numpy as np
>>> from pynomaly.alerting.config import MissingDataSpec
>>> c = Cadence(MissingDataSpec(multiple=5))
>>> c.ensure(2)
>>> t = np.arange(20) * 10.0
>>> slots = np.r_[np.zeros(20), np.ones(20)].astype(np.int64)
>>> rec, missed, gaps, _ = c.observe(slots, np.ones(40, bool), np.r_[t, t])
>>> c.cadence.round(1)[:2].tolist()
[10.0, 10.0]
>>> c.silent(watermark=230.0).tolist()   # nobody silent for 50 s yet
[]
>>> c.observe(np.array([1]), np.ones(1, bool), np.array([260.0]))[0].tolist()
[False]
>>> c.observe(np.array([1]), np.ones(1, bool), np.array([330.0]), np.array([320.0]))[:2]
(array([ True]), array([ True]))
>>> c.silent(watermark=260.0).tolist(), c.alert_time(np.array([0])).tolist()
([0], [240.0])
>>> c.observe(np.array([0]), np.ones(1, bool), np.array([300.0]))[0].tolist()  # it is back
[True]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from pynomaly.alerting.config import MissingDataSpec

#: weight of a new interval in the cadence estimate (after the first ones)
CADENCE_ALPHA = 0.05


@njit(cache=True, nogil=True)
def _observe_kernel(slots, keep, times, wm_before, last, cadence, n_int, missing, alpha, multiple,
                    min_intervals, min_silence, recovered, missed, gap, before, next_due):
    for i in range(slots.shape[0]):
        recovered[i] = False
        missed[i] = False
        gap[i] = 0.0
        if not keep[i]:
            before[i] = 0.0
            continue
        s = slots[i]
        t = times[i]
        prev = last[s]
        c = cadence[s]
        before[i] = c
        k = n_int[s]
        if missing[s]:
            missing[s] = False
            recovered[i] = True
        elif k >= min_intervals and prev != -np.inf:
            limit = max(multiple * c, min_silence)
            if wm_before[i] - prev >= limit:  # went missing and came back within a batch
                missed[i] = True
                recovered[i] = True
        if prev == -np.inf:
            last[s] = t
            continue
        dt = t - prev
        if dt <= 0.0:
            continue
        last[s] = t
        if k > 0 and dt > 1.5 * c:
            gap[i] = dt
        if k > 0 and dt > 3.0 * c:
            dt = 3.0 * c
        w = alpha if k * alpha >= 1.0 else 1.0 / (k + 1.0)
        cadence[s] = dt if k == 0 else c + w * (dt - c)
        n_int[s] = k + 1
        if k + 1 >= min_intervals:  # when this key can next be due
            due = t + max(multiple * cadence[s], min_silence)
            if due < next_due[0]:
                next_due[0] = due


@njit(cache=True, nogil=True)
def _silent_kernel(wm, last, cadence, n_int, missing, multiple, min_silence, min_intervals, out,
                   next_due):
    k = 0
    soonest = np.inf
    for s in range(wm.shape[0]):
        if missing[s] or n_int[s] < min_intervals:
            continue
        limit = max(multiple * cadence[s], min_silence)
        if wm[s] - last[s] >= limit:  # False for NaN and -inf watermarks
            missing[s] = True
            out[k] = s
            k += 1
        elif last[s] + limit < soonest:
            soonest = last[s] + limit
    next_due[0] = soonest
    return k


class Cadence:
    """Per-slot last event time, cadence and missing flag; see the module docstring."""

    def __init__(self, spec: MissingDataSpec) -> None:
        self.spec = spec
        self.last = np.zeros(0)
        self.cadence = np.zeros(0)
        self.n_int = np.zeros(0, dtype=np.int64)
        self.missing = np.zeros(0, dtype=np.bool_)
        #: no slot can be missing before this event time (a lower bound)
        self.next_due = np.full(1, -np.inf)

    def ensure(self, n: int) -> None:
        cap = self.last.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap, 16)
        self.last = np.r_[self.last, np.full(new - cap, -np.inf)]
        self.cadence = np.pad(self.cadence, (0, new - cap))
        self.n_int = np.pad(self.n_int, (0, new - cap))
        self.missing = np.pad(self.missing, (0, new - cap))

    def reset(self, slots: np.ndarray) -> None:
        self.last[slots] = -np.inf
        self.cadence[slots] = 0.0
        self.n_int[slots] = 0
        self.missing[slots] = False

    def observe(self, slots: np.ndarray, keep: np.ndarray, times: np.ndarray,
                wm_before: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Learn the kept rows' intervals. ``wm_before`` is the watermark just
        before each row (default: none known). Returns per row: whether it is
        the first record of a key that was missing; whether the key went
        missing unreported before it (the watermark passed its limit within
        the batch: report both); the gap before it in seconds when longer
        than 1.5 cadences (else 0); the key's cadence before the row. Rows of a batch judged this way give the
        same reports however the stream is cut into batches."""
        n = slots.shape[0]
        recovered = np.empty(n, dtype=np.bool_)
        missed = np.empty(n, dtype=np.bool_)
        gap = np.empty(n)
        before = np.empty(n)
        if wm_before is None:
            wm_before = np.full(n, -np.inf)
        sp = self.spec
        _observe_kernel(np.ascontiguousarray(slots, dtype=np.int64), keep,
                        np.ascontiguousarray(times, dtype=np.float64),
                        np.ascontiguousarray(wm_before, dtype=np.float64), self.last,
                        self.cadence, self.n_int, self.missing, CADENCE_ALPHA, sp.multiple,
                        sp.min_intervals, sp.min_silence_s, recovered, missed, gap, before,
                        self.next_due)
        return recovered, missed, gap, before

    def silence_limit(self, slots: np.ndarray) -> np.ndarray:
        """Seconds of silence after which each slot is missing."""
        return np.maximum(self.spec.multiple * self.cadence[slots], self.spec.min_silence_s)

    def silent(self, watermark: float | np.ndarray) -> np.ndarray:
        """Slots newly missing at ``watermark`` (one for all slots, or one
        per slot from the first); each is reported once, then marked missing
        until its next record."""
        wm = np.asarray(watermark, dtype=np.float64)
        n = self.last.shape[0] if wm.ndim == 0 else min(wm.shape[0], self.last.shape[0])
        wm = np.ascontiguousarray(np.broadcast_to(wm, (n,)) if wm.ndim == 0 else wm[:n])
        out = np.empty(n, dtype=np.int64)
        sp = self.spec
        k = _silent_kernel(wm, self.last, self.cadence, self.n_int, self.missing, sp.multiple,
                           sp.min_silence_s, sp.min_intervals, out, self.next_due)
        return out[:k]

    def alert_time(self, slots: np.ndarray) -> np.ndarray:
        """Event time of the missing-data alert of each (missing) slot."""
        return self.last[slots] + self.silence_limit(slots)

    def state(self, n: int) -> dict[str, Any]:
        return {"last": self.last[:n].copy(), "cadence": self.cadence[:n].copy(),
                "n_int": self.n_int[:n].copy(), "missing": self.missing[:n].copy()}

    def load(self, st: dict[str, Any]) -> None:
        for name in ("last", "cadence", "n_int", "missing"):
            setattr(self, name, np.array(st[name]))
        self.next_due = np.full(1, -np.inf)  # check every slot at the next watermark

    def copy(self) -> Cadence:
        new = Cadence(self.spec)
        new.load(self.state(self.last.shape[0]))
        return new
