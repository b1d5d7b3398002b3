"""Banked conformal calibration: each slot's sliding window of past scores in
rows of shared arrays, so a flow with the default calibration runs on the
banked detect path (ADR 0090) instead of one pipeline object per key.

The statements are those of
:mod:`pynomaly.engine.decision.calibration_conformal` on row ``slot`` of the arrays:
for each kept row, in arrival order, the p-value of its score against the
slot's window, then the score joins the window (dropping the oldest when
full). So p-values are bit-identical to a per-key
:class:`~pynomaly.engine.decision.calibration_conformal.ConformalCalibrator`.

Memory: two float64 rows of ``window`` per slot (16 kB per key at the default
window of 1000).

Example
-------
>>> import numpy as np
>>> from pynomaly.engine.banked import ZScoreBank
>>> from pynomaly.engine.decision.calibration_conformal import ConformalCalibrator
>>> from pynomaly.engine.detectors.robust_zscore import RobustZScore
>>> bank = ConformalZScoreBank(RobustZScore.Params(), n_features=1, window=50)
>>> bank.ensure(2)
>>> s = np.random.default_rng(0).random(20)
>>> slots = np.tile([0, 1], 10)
>>> p = bank.p_values(s, slots, np.ones(20, dtype=bool))
>>> bool(np.array_equal(p[0::2], ConformalCalibrator(window=50).p_values(s[0::2])))
True

SPOT and DSPOT (:mod:`pynomaly.engine.decision.calibration_spot`) are banked the same
way: each slot is one row of the SPOT arrays, updated by the very kernel a
per-key :class:`~pynomaly.engine.decision.calibration_spot.SpotCalibrator` runs on
its single row. Memory: ``8 * (13 + n_init + max_peaks + depth)`` bytes per
slot (16 kB at the defaults).

>>> from pynomaly.engine.decision.calibration_spot import SpotCalibrator, SpotParams
>>> spot = SpotParams(n_init=50, level=0.9, q=1e-3)
>>> bank = SpotZScoreBank(RobustZScore.Params(), n_features=1, spot=spot)
>>> bank.ensure(2)
>>> s = np.random.default_rng(1).exponential(size=400)
>>> p = bank.p_values(s, np.tile([0, 1], 200), np.ones(400, dtype=bool))
>>> bool(np.array_equal(p[1::2], SpotCalibrator(n_init=50, level=0.9, q=1e-3).p_values(s[1::2])))
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from numba import njit

from pynomaly.engine.banked import (
    AutoHSTBank,
    DetectorBank,
    HSTBank,
    MetricDeviationBank,
    ZScoreBank,
)
from pynomaly.engine.decision.calibration_conformal import _lower_bound, _window_push_at
from pynomaly.engine.decision.calibration_spot import SpotParams, new_spot_state, spot_bank_kernel
from pynomaly.engine.object_bank import ObjectBank

#: names of the calibration arrays a calibrated bank adds to its detector's
CALIBRATION_ARRAYS = ("cal_ring", "cal_sorted", "cal_n", "cal_head")


@njit(cache=True, nogil=True)
def _conformal_bank_kernel(scores: np.ndarray, slots: np.ndarray, keep: np.ndarray,
                           ring: np.ndarray, sorted_w: np.ndarray, n: np.ndarray,
                           head: np.ndarray, out: np.ndarray) -> None:
    """p-value of each kept row's score before learning it, per slot (1.0 for
    the other rows, which are not learned)."""
    for i in range(scores.shape[0]):
        if not keep[i]:
            out[i] = 1.0
            continue
        s = slots[i]
        x = scores[i]
        ns = n[s]
        k = _lower_bound(sorted_w[s], ns, x)
        out[i] = (1.0 + (ns - k)) / (1.0 + ns)
        n[s], head[s] = _window_push_at(ring[s], sorted_w[s], ns, head[s], x, k)


class ConformalBankMixin:
    """Adds a conformal window per slot to a :class:`DetectorBank`."""

    window: int
    cal_ring: np.ndarray
    cal_sorted: np.ndarray
    cal_n: np.ndarray
    cal_head: np.ndarray

    def __init__(self, params: Any, n_features: int, window: int) -> None:
        self.window = window
        super().__init__(params, n_features)  # type: ignore[call-arg]

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        fresh: dict[str, np.ndarray] = super()._fresh(n)  # type: ignore[misc]
        fresh.update(cal_ring=np.zeros((n, self.window)), cal_sorted=np.zeros((n, self.window)),
                     cal_n=np.zeros(n, dtype=np.int64), cal_head=np.zeros(n, dtype=np.int64))
        return fresh

    def p_values(self, scores: np.ndarray, slots: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Conformal p-values of the kept rows' scores, each learned after it
        is judged (see the module doc)."""
        out = np.empty(scores.shape[0])
        _conformal_bank_kernel(np.ascontiguousarray(scores, dtype=np.float64),
                               np.ascontiguousarray(slots, dtype=np.int64),
                               np.ascontiguousarray(keep, dtype=np.bool_), self.cal_ring,
                               self.cal_sorted, self.cal_n, self.cal_head, out)
        return out


    def reset_calibration(self, slots: np.ndarray) -> None:
        """Give ``slots`` an empty window (the detector state is kept)."""
        cast(DetectorBank, self).reset(slots, CALIBRATION_ARRAYS)


#: names of the arrays a SPOT-calibrated bank adds to its detector's
SPOT_ARRAYS = ("spot_st", "spot_init", "spot_peaks", "spot_dwin")


class SpotBankMixin:
    """Adds a SPOT (or, with ``depth``, DSPOT) calibrator per slot to a
    :class:`DetectorBank`: row ``slot`` of ``spot_st``, ``spot_init``,
    ``spot_peaks`` and ``spot_dwin`` (see
    :func:`~pynomaly.engine.decision.calibration_spot.new_spot_state`)."""

    spot: SpotParams
    spot_st: np.ndarray
    spot_init: np.ndarray
    spot_peaks: np.ndarray
    spot_dwin: np.ndarray

    def __init__(self, params: Any, n_features: int, spot: SpotParams) -> None:
        self.spot = spot
        super().__init__(params, n_features)  # type: ignore[call-arg]

    @property
    def depth(self) -> int:
        """DSPOT's moving-mean depth (0: SPOT)."""
        return int(getattr(self.spot, "depth", 0))

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        fresh: dict[str, np.ndarray] = super()._fresh(n)  # type: ignore[misc]
        sp = self.spot
        fresh.update({f"spot_{k}": v for k, v in
                      new_spot_state(n, sp.n_init, sp.max_peaks, self.depth).items()})
        return fresh

    def p_values(self, scores: np.ndarray, slots: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """SPOT p-values of the kept rows' scores on their slots' calibrators,
        each learned after it is judged (1.0 for the other rows)."""
        out = np.empty(scores.shape[0])
        zq = np.empty(scores.shape[0])
        sp = self.spot
        spot_bank_kernel(np.ascontiguousarray(scores, dtype=np.float64),
                         np.ascontiguousarray(slots, dtype=np.int64),
                         np.ascontiguousarray(keep, dtype=np.bool_), self.spot_st,
                         self.spot_init, self.spot_peaks, self.spot_dwin, sp.n_init, sp.level,
                         sp.q, sp.fit == "moments", sp.refit_growth, True, out, zq)
        return out

    def reset_calibration(self, slots: np.ndarray) -> None:
        """Give ``slots`` a fresh calibrator (the detector state is kept)."""
        cast(DetectorBank, self).reset(slots, SPOT_ARRAYS)


def reset_detector(bank: DetectorBank, slots: np.ndarray) -> None:
    """Give ``slots`` a fresh detector, keeping their calibration (a drift
    policy ``reset``)."""
    if isinstance(bank, ObjectBank):
        bank.reset_detectors(slots)
        return
    calibration = set(CALIBRATION_ARRAYS) | set(SPOT_ARRAYS)
    bank.reset(slots, tuple(n for n in bank.arrays if n not in calibration))


class ConformalZScoreBank(ConformalBankMixin, ZScoreBank):
    """Robust statistics with conformal calibration, banked."""

    arrays: tuple[str, ...] = ZScoreBank.arrays + CALIBRATION_ARRAYS


class ConformalHSTBank(ConformalBankMixin, HSTBank):
    """Half-Space Trees (fixed limits) with conformal calibration, banked."""

    arrays: tuple[str, ...] = HSTBank.arrays + CALIBRATION_ARRAYS


class ConformalAutoHSTBank(ConformalBankMixin, AutoHSTBank):
    """Half-Space Trees (auto limits) with conformal calibration, banked."""

    arrays: tuple[str, ...] = AutoHSTBank.arrays + CALIBRATION_ARRAYS


class ConformalObjectBank(ConformalBankMixin, ObjectBank):
    """Any detector (one object per slot) with conformal calibration, banked."""

    arrays: tuple[str, ...] = CALIBRATION_ARRAYS


class ConformalMetricDeviationBank(ConformalBankMixin, MetricDeviationBank):
    """The multivariate default with conformal calibration, banked."""

    arrays: tuple[str, ...] = MetricDeviationBank.arrays + CALIBRATION_ARRAYS


#: detector bank class → its calibrated form
CONFORMAL_BANKS: dict[type[DetectorBank], Callable[..., DetectorBank]] = {
    ZScoreBank: ConformalZScoreBank,
    HSTBank: ConformalHSTBank,
    AutoHSTBank: ConformalAutoHSTBank,
    MetricDeviationBank: ConformalMetricDeviationBank,
    ObjectBank: ConformalObjectBank,
}


class SpotZScoreBank(SpotBankMixin, ZScoreBank):
    """Robust statistics with SPOT/DSPOT calibration, banked."""

    arrays: tuple[str, ...] = ZScoreBank.arrays + SPOT_ARRAYS


class SpotHSTBank(SpotBankMixin, HSTBank):
    """Half-Space Trees (fixed limits) with SPOT/DSPOT calibration, banked."""

    arrays: tuple[str, ...] = HSTBank.arrays + SPOT_ARRAYS


class SpotAutoHSTBank(SpotBankMixin, AutoHSTBank):
    """Half-Space Trees (auto limits) with SPOT/DSPOT calibration, banked."""

    arrays: tuple[str, ...] = AutoHSTBank.arrays + SPOT_ARRAYS


class SpotMetricDeviationBank(SpotBankMixin, MetricDeviationBank):
    """The multivariate default with SPOT/DSPOT calibration, banked."""

    arrays: tuple[str, ...] = MetricDeviationBank.arrays + SPOT_ARRAYS


class SpotObjectBank(SpotBankMixin, ObjectBank):
    """Any detector (one object per slot) with SPOT/DSPOT calibration, banked."""

    arrays: tuple[str, ...] = SPOT_ARRAYS


#: detector bank class → its SPOT-calibrated form (SPOT and DSPOT)
SPOT_BANKS: dict[type[DetectorBank], Callable[..., DetectorBank]] = {
    ZScoreBank: SpotZScoreBank,
    HSTBank: SpotHSTBank,
    AutoHSTBank: SpotAutoHSTBank,
    MetricDeviationBank: SpotMetricDeviationBank,
    ObjectBank: SpotObjectBank,
}


def calibrated_bank(bank: DetectorBank) -> ConformalBankMixin | SpotBankMixin | None:
    """``bank`` as the calibrated bank it is (None: calibration ``none``)."""
    return bank if isinstance(bank, ConformalBankMixin | SpotBankMixin) else None
