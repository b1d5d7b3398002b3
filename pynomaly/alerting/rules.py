"""Suppression rules: which of the detector's flagged rows may alert.

Per field, a row *deviates* when its distance from ``expected`` is at least
``min_sigma`` spreads, ``min_deviation`` and ``min_relative_deviation *
|expected|``, in the rule's direction. A flagged row passes when some field
has deviated for at least ``consecutive`` rows of the key in a row (counted
over every row, flagged or not: a trigger window). A key's spread must be
known (past the baseline's warm-up) for any row to pass.

Example
-------
>>> import numpy as np
>>> from pynomaly.alerting.config import RulesSpec
>>> rules = Rules(RulesSpec(direction="up", consecutive=2), ("cpu",))
>>> rules.ensure(1)
>>> x = np.array([[10.0], [30.0], [30.0], [-30.0]])
>>> exp, sig = np.full((4, 1), 10.0), np.ones((4, 1))
>>> flagged = np.ones(4, dtype=bool)
>>> rules.apply(np.zeros(4, dtype=np.int64), flagged, x, exp, sig).tolist()
[False, False, True, False]
>>> Rules.bounds_of(rules, exp[:1], sig[:1]).tolist()  # [low, high] per row and field
[[[5.0, 15.0]]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from pynomaly.alerting.config import RulesSpec

_DIRECTIONS = {"both": 0, "up": 1, "down": -1}


@njit(cache=True, nogil=True)
def _apply_kernel(slots, flagged, X, expected, sigma, min_sigma, min_dev, min_rel, direction,
                  need, run, seen, warmup, passed):
    n, d = X.shape
    for i in range(n):
        s = slots[i]
        ok = False
        for j in range(d):
            e = expected[i, j]
            sd = sigma[i, j]
            dev = X[i, j] - e
            hit = sd == sd and e == e  # NaN: not kept or still warming up
            if hit:
                a = abs(dev)
                hit = (a >= min_sigma[j] * sd and a >= min_dev[j] and a >= min_rel[j] * abs(e)
                       and a > 0.0)
                if direction[j] > 0:
                    hit = hit and dev > 0
                elif direction[j] < 0:
                    hit = hit and dev < 0
            if s >= 0 and e == e:
                run[s, j] = run[s, j] + 1 if hit else 0
                if hit and run[s, j] >= need[j]:
                    ok = True
        passed[i] = ok and flagged[i] and seen[i] >= warmup


@njit(cache=True, nogil=True)
def _held_kernel(slots, flagged, alerted, held, out):
    for i in range(slots.shape[0]):
        s = slots[i]
        if s < 0:
            out[i] = 0
            continue
        if alerted[i]:
            out[i] = held[s]
            held[s] = 0
        else:
            out[i] = 0
            if flagged[i]:
                held[s] += 1


class Rules:
    """The rules of a flow's value fields, with per-slot trigger-window
    counters and held-back counts; see the module docstring."""

    def __init__(self, spec: RulesSpec, fields: tuple[str, ...]) -> None:
        per = [spec.for_field(f) for f in fields]
        self.fields = fields
        self.min_sigma = np.array([r.min_sigma for r in per], dtype=np.float64)
        self.min_dev = np.array([r.min_deviation for r in per], dtype=np.float64)
        self.min_rel = np.array([r.min_relative_deviation for r in per], dtype=np.float64)
        self.direction = np.array([_DIRECTIONS[r.direction] for r in per], dtype=np.int64)
        self.need = np.array([r.consecutive for r in per], dtype=np.int64)
        #: every field's rule asks for nothing (no minimum, either direction,
        #: one record): flags pass as the detector raised them, baseline or not
        self.off = bool((self.min_sigma == 0).all() and (self.min_dev == 0).all()
                        and (self.min_rel == 0).all() and (self.direction == 0).all()
                        and (self.need <= 1).all())
        self.run = np.zeros((0, len(fields)), dtype=np.int64)
        self.held = np.zeros(0, dtype=np.int64)

    def ensure(self, n: int) -> None:
        cap = self.held.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap, 16)
        self.run = np.pad(self.run, ((0, new - cap), (0, 0)))
        self.held = np.pad(self.held, (0, new - cap))

    def reset(self, slots: np.ndarray) -> None:
        self.run[slots] = 0
        self.held[slots] = 0

    def apply(self, slots: np.ndarray, flagged: np.ndarray, X: np.ndarray,
              expected: np.ndarray, sigma: np.ndarray, seen: np.ndarray | None = None,
              warmup: int = 0) -> np.ndarray:
        """Which flagged rows pass; advances the trigger-window counters of
        every kept row (``expected`` NaN marks a row that is not kept). With
        ``seen`` (records each row's key learned before it), flags within the
        first ``warmup`` records do not pass."""
        n = X.shape[0]
        if seen is None:
            seen = np.zeros(n, dtype=np.int64)
        if self.off:
            return np.asarray(flagged, dtype=np.bool_) & (seen >= warmup)
        passed = np.empty(n, dtype=np.bool_)
        _apply_kernel(np.ascontiguousarray(slots, dtype=np.int64),
                      np.ascontiguousarray(flagged, dtype=np.bool_),
                      np.ascontiguousarray(X, dtype=np.float64), expected, sigma,
                      self.min_sigma, self.min_dev, self.min_rel, self.direction, self.need,
                      self.run, seen, int(warmup), passed)
        return passed

    def count_held(self, slots: np.ndarray, flagged: np.ndarray, alerted: np.ndarray
                   ) -> np.ndarray:
        """For each alerted row, how many flagged rows of its key were held
        back (by rules or cooldown) since the key's previous alert; counts
        the held rows of this batch."""
        out = np.empty(slots.shape[0], dtype=np.int64)
        _held_kernel(np.ascontiguousarray(slots, dtype=np.int64),
                     np.ascontiguousarray(flagged, dtype=np.bool_),
                     np.ascontiguousarray(alerted, dtype=np.bool_), self.held, out)
        return out

    def half_width(self, expected: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Distance from ``expected`` at which a value starts to deviate."""
        return np.maximum(np.maximum(self.min_sigma * sigma, self.min_dev),
                          self.min_rel * np.abs(expected))

    def bounds_of(self, expected: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """``[low, high]`` per row and field: the normal band at the rules."""
        hw = self.half_width(expected, sigma)
        return np.stack([expected - hw, expected + hw], axis=-1)

    def state(self, n: int) -> dict[str, Any]:
        return {"run": self.run[:n].copy(), "held": self.held[:n].copy()}

    def load(self, st: dict[str, Any]) -> None:
        self.run = np.array(st["run"])
        self.held = np.array(st["held"])

    def copy(self) -> Rules:
        new = Rules.__new__(Rules)
        new.__dict__.update(self.__dict__)
        new.load(self.state(self.held.shape[0]))
        return new
