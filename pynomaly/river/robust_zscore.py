"""The robust z-score as a River anomaly detector, on the engine's numba kernel.

Per feature, an exponentially weighted mean and variance (smoothing
``alpha``); the score is the largest absolute z-score over the features.
Learning winsorises each value at ``clip_z`` so outliers do not inflate the
variance. The first ``warmup`` events are scored 0. Deterministic: no seed.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pynomaly.river.base import NativeAnomalyDetector


class RobustZScore(NativeAnomalyDetector):
    """EWMA z-score per feature, winsorised learning.

    Parameters
    ----------
    alpha
        EWMA smoothing factor in ``(0, 1]``.
    warmup
        Events scored 0 before scores count.
    clip_z
        Learning winsorises values at this z-score (0: off).

    Examples
    --------
    >>> from pynomaly.river import RobustZScore
    >>> model = RobustZScore(alpha=0.1, warmup=5)
    >>> for v in [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9]:
    ...     model.learn_one({"latency": v})
    >>> round(model.score_one({"latency": 10.0}), 3), round(model.score_one({"latency": 14.0}), 3)
    (0.0, 13.663)
    """

    engine_name = "robust_zscore"

    def __init__(self, alpha: float = 0.02, warmup: int = 30, clip_z: float = 6.0) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.clip_z = clip_z
        super().__init__()

    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        return {"alpha": self.alpha, "warmup": self.warmup, "clip_z": self.clip_z}
