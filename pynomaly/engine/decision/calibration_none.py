"""No calibration: raw scores are used as they are and no probability is
attached (p-values are NaN). For static thresholds on a detector's own scale,
when per-key calibration memory is not worth it (many keys).

>>> import numpy as np
>>> from pynomaly.engine.decision.calibration import make_calibrator
>>> cal = make_calibrator({"kind": "none"})
>>> bool(np.isnan(cal.p_values(np.array([1.0, 5.0]))).all()), cal.n_seen
(True, 2)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from pynomaly.engine.decision.calibration import Calibrator, ComponentParams


class NoCalibrationParams(ComponentParams):
    kind: Literal["none"] = "none"


class NoCalibrator(Calibrator):
    """Counts scores, keeps nothing else; every p-value is NaN."""

    kind = "none"
    Params = NoCalibrationParams
    params: NoCalibrationParams

    def reset(self) -> None:
        self._n = 0

    @property
    def n_seen(self) -> int:
        return self._n

    def _p_values(self, scores: np.ndarray, learn: bool) -> np.ndarray:
        if learn:
            self._n += scores.shape[0]
        return np.full(scores.shape[0], np.nan)

    def _get_state(self) -> dict[str, Any]:
        return {"n": self._n}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._n = int(state["n"])
