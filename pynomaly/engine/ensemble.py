"""Ensembles on the calibrated scale: several detectors, one score.

Each member detector scores the event; its own calibrator turns the raw score
into a tail probability ``p_i`` (so members with different score units become
comparable); the ``p_i`` are combined into one p-value ``p``:

- ``mean``: ``mean(p_i)`` (twice it is a valid p-value; Vovk & Wang 2020);
- ``weighted``: ``sum(w_i p_i) / sum(w_i)`` with the members' ``weight``;
- ``max``: the most alarmed member, ``min(1, k * min(p_i))`` (Bonferroni);
- ``fisher``: Fisher's method, ``P(chi2_{2k} >= -2 sum(log p_i))``
  (Fisher 1925, §21.1; assumes independent members, so it is anti-conservative
  for correlated ones — the pipeline recalibrates the result anyway).

The ensemble is a registered :class:`~pynomaly.engine.base.Detector`
(``"ensemble"``): its score is the surprise ``-log10(p)`` (higher = more
anomalous; 3 means one in a thousand), so it can stand wherever a detector
does, including a :class:`~pynomaly.engine.pipeline.ScoringPipeline`, which
calibrates that score once more. ``explain_one`` averages the members'
normalised attributions with the weights.

Examples
--------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> ens = create_detector("ensemble", combine="fisher", members=[
...     {"detector": "robust_zscore", "params": {"alpha": 0.05}},
...     {"detector": "robust_zscore", "params": {"alpha": 0.01}, "weight": 2.0},
... ])
>>> rng = np.random.default_rng(0)
>>> s = ens.score_learn_many(np.r_[rng.normal(size=(300, 2)), [[8.0, 0.0]]])
>>> bool(s[-1] > 3.0), bool(np.median(s[50:-1]) < 1.0)
(True, True)
>>> ens.explain_one([8.0, 0.0]).round(2).tolist()
[0.99, 0.01]

References
----------
Fisher, R. A. (1925). Statistical Methods for Research Workers. Oliver & Boyd.
Vovk, V., Wang, R. (2020). Combining p-values via averaging. Biometrika 107(4),
791-808. doi:10.1093/biomet/asaa027
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.special import chdtrc, gammaln, logsumexp

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.decision.calibration import Calibrator, make_calibrator
from pynomaly.engine.registry import create_detector, detector_class, register, restore_detector

#: p-values are floored here before taking logs.
P_FLOOR = 1e-300


class EnsembleMember(BaseModel):
    """One member: a registered detector, its parameters and its weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str = Field(description="registered detector name")
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(1.0, gt=0.0, description="used by combine='weighted'")

    @model_validator(mode="after")
    def _known_detector(self) -> EnsembleMember:
        try:
            cls = detector_class(self.detector)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        cls.Params(**self.params)  # the member's own validation errors
        return self


class EnsembleParams(DetectorParams):
    members: list[EnsembleMember] = Field(
        default_factory=lambda: [
            EnsembleMember(detector="robust_zscore", params={"alpha": 0.02}),
            EnsembleMember(detector="robust_zscore", params={"alpha": 0.002}),
        ],
        min_length=1,
        description="member detectors (default: a fast and a slow EWMA z-score)",
    )
    combine: Literal["mean", "weighted", "max", "fisher"] = "mean"
    calibration: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "spot", "n_init": 1000, "level": 0.95, "q": 1e-4},
        description="calibrator params for each member (kind + its params); the default "
        "SPOT tail fit keeps resolution below 1/window, where conformal p-values saturate",
    )

    @field_validator("calibration")
    @classmethod
    def _valid_calibration(cls, value: dict[str, Any]) -> dict[str, Any]:
        make_calibrator(value)
        return value


def combine_p_values(P: np.ndarray, how: str, weights: np.ndarray) -> np.ndarray:
    """Combine member p-values ``P`` (events x members) into one p per event.

    >>> combine_p_values(np.array([[0.5, 0.02]]), "max", np.ones(2)).tolist()
    [0.04]
    """
    k = P.shape[1]
    if how == "mean":
        return np.asarray(P.mean(axis=1))
    if how == "weighted":
        return np.asarray(P @ (weights / weights.sum()))
    if how == "max":
        return np.asarray(np.minimum(1.0, k * P.min(axis=1)))
    if how == "fisher":
        stat = -2.0 * np.log(np.maximum(P, P_FLOOR)).sum(axis=1)
        return np.asarray(chdtrc(2 * k, stat))
    raise ValueError(f"unknown combination {how!r}")


def fisher_log_p(P: np.ndarray) -> np.ndarray:
    """Natural log of Fisher's combined p-value, exact where it underflows.

    With ``k`` members, ``x = -2 sum(log p_i)`` is chi-square with ``2k``
    degrees of freedom, whose survival function has the closed form
    ``exp(-x/2) * sum_{i<k} (x/2)^i / i!``; its log is taken term-wise.

    >>> float(np.exp(fisher_log_p(np.array([[0.5, 0.02]])))[0])  # doctest: +ELLIPSIS
    0.05605...
    >>> float(fisher_log_p(np.full((1, 3), 1e-300))[0]) < -2000
    True
    """
    k = P.shape[1]
    half = -np.log(np.maximum(P, P_FLOOR)).sum(axis=1)  # x / 2
    i = np.arange(k)
    terms = i * np.log(np.maximum(half, P_FLOOR))[:, None] - gammaln(i + 1)
    return np.asarray(-half + logsumexp(terms, axis=1))


@register
class Ensemble(Detector):
    """Calibrated-scale ensemble of detectors; see the module docstring."""

    name = "ensemble"
    Params = EnsembleParams
    params: EnsembleParams

    def _reset(self, n_features: int) -> None:
        p: EnsembleParams = self.params
        self._members: list[Detector] = [create_detector(m.detector, **m.params) for m in p.members]
        self._calibrators: list[Calibrator] = [make_calibrator(p.calibration) for _ in p.members]
        self._weights = np.array([m.weight for m in p.members])

    def member_p_values(self, X: np.ndarray, learn: bool) -> np.ndarray:
        """Calibrated p-value of each member (columns) for each row of X."""
        P = np.empty((X.shape[0], len(self._members)))
        for j, (det, cal) in enumerate(zip(self._members, self._calibrators, strict=True)):
            raw = det.score_learn_many(X) if learn else det.score_many(X)
            P[:, j] = cal.p_values(raw, learn=learn)
        return P

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        P = self.member_p_values(X, learn)
        how = self.params.combine
        if how == "fisher":  # in log space: the combined p underflows for strong evidence
            return np.asarray(-fisher_log_p(P) / np.log(10.0))
        return np.asarray(-np.log10(np.maximum(combine_p_values(P, how, self._weights), P_FLOOR)))

    def _explain(self, x: np.ndarray) -> np.ndarray | None:
        total = np.zeros(x.shape[0])
        used = 0.0
        for det, w in zip(self._members, self._weights, strict=True):
            contrib = det.explain_one(x)
            if contrib is None:
                continue
            c = np.abs(np.nan_to_num(np.asarray(contrib, dtype=np.float64)))
            s = c.sum()
            total += w * (c / s if s > 0 else np.full(c.shape[0], 1.0 / c.shape[0]))
            used += w
        return total / used if used > 0 else None

    def _get_state(self) -> dict[str, Any]:
        return {
            "members": [m.snapshot() for m in self._members],
            "calibrators": [c.snapshot() for c in self._calibrators],
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._members = [restore_detector(b) for b in state["members"]]
        self._calibrators = [
            type(c).restore(b) for c, b in zip(self._calibrators, state["calibrators"], strict=True)
        ]
