"""Thresholds: turn raw scores and calibrated probabilities into alert flags.

Three kinds, chosen by ``kind`` in the params:

- ``static``: flag when the raw score ``>= value`` (detector-specific units).
- ``quantile``: flag when the raw score ``>`` the running ``level``-quantile of
  the last ``window`` raw scores (learned after the decision, so an event is
  never compared with itself); no flag until ``min_count`` scores were seen.
- ``probability``: flag when the calibrated probability of anomaly
  ``1 - p >= level`` (equivalently ``p <= alpha`` with ``alpha = 1 - level``).
  This is the one that means the same for every detector.

``decide(scores, probability, learn)`` returns the flags and the threshold in
force for each event; :attr:`Threshold.scale` says whether that threshold is on
the raw-score or the probability scale. The warm-up period (no alerts for the
first events) and protection (no learning from flagged events) are applied by
:class:`~pynomaly.engine.pipeline.ScoringPipeline`, which owns the counters.

Examples
--------
>>> import numpy as np
>>> th = make_threshold({"kind": "probability", "level": 0.99})
>>> th.decide(scores=[3.0, 9.0], probability=[0.9, 0.995])[0].tolist()
[False, True]
>>> q = make_threshold({"kind": "quantile", "level": 0.5, "window": 10, "min_count": 3})
>>> flags, thr = q.decide(np.array([1.0, 2.0, 3.0, 2.5, 0.0]))
>>> flags.tolist(), thr.tolist()
([False, False, False, True, False], [inf, inf, inf, 2.0, 2.0])
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field

from pynomaly.engine.decision.calibration import ComponentParams, StatefulComponent, as_scores
from pynomaly.engine.decision.calibration_conformal import SlidingWindow, _window_quantile_kernel


class Threshold(StatefulComponent):
    """Base of the threshold kinds; see the module docstring."""

    #: ``"score"`` (raw detector units) or ``"probability"`` (calibrated 1 - p).
    scale: ClassVar[str] = "score"

    def decide(
        self, scores: Any, probability: Any = None, learn: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(flags, threshold)`` for each event, in order, learning when ``learn``."""
        s = as_scores(scores, self.kind)
        if probability is None:
            if self.scale == "probability":
                raise ValueError(f"{self.kind} threshold needs calibrated probabilities")
            prob = np.full(s.shape[0], np.nan)
        else:
            prob = np.asarray(probability, dtype=np.float64).reshape(-1)
            if prob.shape != s.shape:
                raise ValueError(f"{s.shape[0]} scores but {prob.shape[0]} probabilities")
        return self._decide(s, prob, learn)

    def _decide(
        self, scores: np.ndarray, prob: np.ndarray, learn: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def learn_flagged(self, scores: Any) -> None:
        """Learn scores of flagged events (the quantile window caps them at its maximum)."""

    def reset(self) -> None:
        pass

    def _get_state(self) -> dict[str, Any]:
        return {}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        pass


class StaticThresholdParams(ComponentParams):
    kind: Literal["static"] = "static"
    value: float = Field(description="flag when the raw score is >= value")


class StaticThreshold(Threshold):
    kind = "static"
    Params = StaticThresholdParams
    params: StaticThresholdParams

    def _decide(
        self, scores: np.ndarray, prob: np.ndarray, learn: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        value = self.params.value
        return scores >= value, np.full(scores.shape[0], value)


class QuantileThresholdParams(ComponentParams):
    kind: Literal["quantile"] = "quantile"
    level: float = Field(0.99, gt=0.0, lt=1.0, description="quantile of past raw scores")
    window: int = Field(1000, ge=1, description="past raw scores kept")
    min_count: int = Field(100, ge=1, description="no flags before this many scores")


class QuantileThreshold(Threshold):
    kind = "quantile"
    Params = QuantileThresholdParams
    params: QuantileThresholdParams

    def reset(self) -> None:
        self._window = SlidingWindow(self.params.window)
        self._count = 0

    def _decide(
        self, scores: np.ndarray, prob: np.ndarray, learn: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        w = self._window
        thr = np.empty(scores.shape[0])
        n, head = _window_quantile_kernel(scores, w.ring, w.sorted, w.n, w.head, p.level, learn, thr)
        seen_before = self._count + (np.arange(scores.shape[0]) if learn else 0)
        thr[seen_before < p.min_count] = np.inf
        if learn:
            w.n, w.head = int(n), int(head)
            self._count += scores.shape[0]
        return scores > thr, thr

    def learn_flagged(self, scores: Any) -> None:
        s = as_scores(scores, self.kind)
        self._window.push_clipped(s)
        self._count += s.shape[0]

    def _get_state(self) -> dict[str, Any]:
        return {"window": self._window.get_state(), "count": self._count}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._window.set_state(state["window"])
        self._count = int(state["count"])


class ProbabilityThresholdParams(ComponentParams):
    kind: Literal["probability"] = "probability"
    level: float = Field(
        0.995, gt=0.0, lt=1.0, description="flag when the probability of anomaly 1 - p >= level"
    )


class ProbabilityThreshold(Threshold):
    kind = "probability"
    scale = "probability"
    Params = ProbabilityThresholdParams
    params: ProbabilityThresholdParams

    def _decide(
        self, scores: np.ndarray, prob: np.ndarray, learn: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        level = self.params.level
        # 1 - p >= level computed as p <= 1 - level would differ by rounding; keep one form.
        return prob >= level, np.full(scores.shape[0], level)


THRESHOLDS: dict[str, type[Threshold]] = {
    c.kind: c for c in (StaticThreshold, QuantileThreshold, ProbabilityThreshold)
}


def make_threshold(params: ComponentParams | dict[str, Any]) -> Threshold:
    """Build a threshold from its params (a model or a dict with ``kind``)."""
    data = params.model_dump() if isinstance(params, BaseModel) else dict(params)
    kind = data.get("kind", "probability")
    if kind not in THRESHOLDS:
        raise ValueError(f"unknown threshold kind {kind!r}; known: {', '.join(sorted(THRESHOLDS))}")
    return THRESHOLDS[kind](**data)
