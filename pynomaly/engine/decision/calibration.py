"""Calibration: raw detector scores onto one common scale, the tail probability.

Raw scores are not comparable across detectors (a z-score of 4 and an isolation
depth of 4 mean different things). A calibrator learns the distribution of one
detector's past scores and maps a new score ``s`` to its tail probability
(p-value) ``p = P(S >= s)`` under that distribution: small ``p`` = anomalous.
Thresholds, ensembles and alerts work on that scale (``probability = 1 - p``).

This module holds what every stateful part of the decision layer shares:

- :class:`ComponentParams` / :class:`StatefulComponent`: validated parameters
  stored unchanged, derived state built in ``reset()``, and a versioned-bytes
  snapshot in the same layout as :class:`~pynomaly.engine.base.Detector`
  snapshots (``format``, name, ``state_version``, ``params``, ``state``).
  Thresholds and drift monitors subclass it too.
- :class:`Calibrator`: the calibrator contract (``p_values(scores, learn)``:
  each score's p-value is computed *before* that score is learned, in order).
- :func:`make_calibrator`: build one from its params (``kind`` picks the class).

Implementations: :mod:`pynomaly.engine.decision.calibration_conformal` (sliding-window
empirical/conformal p-values) and :mod:`pynomaly.engine.decision.calibration_spot`
(SPOT/DSPOT extreme-value tail fit).

Examples
--------
>>> import numpy as np
>>> cal = make_calibrator({"kind": "conformal", "window": 100})
>>> p = cal.p_values(np.arange(10.0))  # increasing scores: each is the largest so far
>>> float(p[-1])  # (1 + 0) / (1 + 9)
0.1
>>> restored = StatefulComponent.restore_any(cal.snapshot())
>>> float(restored.p_values([4.5], learn=False)[0])  # (1 + 5) / (1 + 10)
0.5454545454545454
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
from pydantic import BaseModel

from pynomaly.engine.base import SCORE_LIMIT, SNAPSHOT_FORMAT, DetectorParams


class ComponentParams(DetectorParams):
    """Base of every component's parameter model (frozen, no unknown fields,
    like a detector's)."""


class StatefulComponent(ABC):
    """Params stored unchanged, state built by ``reset()``, versioned snapshots."""

    #: Registry-style name, stored in snapshots (e.g. ``"conformal"``).
    kind: ClassVar[str] = ""
    Params: ClassVar[type[ComponentParams]] = ComponentParams
    params: ComponentParams
    #: Bump when the layout of ``_get_state`` changes.
    state_version: ClassVar[int] = 1
    _classes: ClassVar[dict[str, type[StatefulComponent]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            StatefulComponent._classes[cls.kind] = cls

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)
        self.reset()

    def get_params(self) -> dict[str, Any]:
        """The validated constructor parameters as a plain dict."""
        return self.params.model_dump()

    def clone(self) -> StatefulComponent:
        """A fresh component with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "kind")
        return f"{type(self).__name__}({args})"

    @abstractmethod
    def reset(self) -> None:
        """Forget everything learned (derived state from the params)."""

    @abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """Plain picklable state; arrays are copies."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any], version: int) -> None:
        """Load state written by ``_get_state`` at ``version``."""

    def snapshot(self) -> bytes:
        """Versioned, picklable state; restore with :meth:`restore`."""
        payload = {
            "format": SNAPSHOT_FORMAT,
            "component": self.kind,
            "state_version": self.state_version,
            "params": self.get_params(),
            "state": self._get_state(),
        }
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes) -> Self:
        """Rebuild a component of this class from :meth:`snapshot` bytes."""
        payload = pickle.loads(blob)
        if payload.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported snapshot format {payload.get('format')!r}")
        if cls.kind and payload["component"] != cls.kind:
            raise ValueError(f"snapshot is of {payload['component']!r}, not {cls.kind!r}")
        comp = cls(**payload["params"])
        comp._set_state(payload["state"], payload["state_version"])
        return comp

    @staticmethod
    def restore_any(blob: bytes) -> StatefulComponent:
        """Rebuild any component from its snapshot (class chosen by its kind)."""
        kind = pickle.loads(blob)["component"]
        try:
            cls = StatefulComponent._classes[kind]
        except KeyError:
            raise ValueError(f"unknown component kind {kind!r} in snapshot") from None
        return cls.restore(blob)

    def save_state(self) -> tuple[dict[str, Any], int]:
        """In-memory copy of the state, for :meth:`load_state` (cheaper than bytes)."""
        return self._get_state(), self.state_version

    def load_state(self, saved: tuple[dict[str, Any], int]) -> None:
        """Return to a state taken by :meth:`save_state`."""
        self._set_state(saved[0], saved[1])

    def __getstate__(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = type(self).restore(state["snapshot"])
        self.__dict__.update(other.__dict__)


def as_scores(scores: Any, owner: str) -> np.ndarray:
    """Scores as a contiguous 1-D float64 array; NaN is rejected, ±inf clipped."""
    arr = np.asarray(scores, dtype=np.float64).reshape(-1)
    if np.isnan(arr).any():
        raise ValueError(f"{owner}: scores must not be NaN")
    return np.ascontiguousarray(np.clip(arr, -SCORE_LIMIT, SCORE_LIMIT))


class Calibrator(StatefulComponent):
    """Maps raw scores to tail probabilities learned from past scores."""

    @abstractmethod
    def _p_values(self, scores: np.ndarray, learn: bool) -> np.ndarray:
        """Kernel call on validated scores; learns them in order when ``learn``."""

    def p_values(self, scores: Any, learn: bool = True) -> np.ndarray:
        """Tail probability of each score, computed before learning it.

        With ``learn=False`` every score is compared with the current state and
        nothing is learned.
        """
        return self._p_values(as_scores(scores, self.kind), learn)

    def learn_many(self, scores: Any) -> None:
        """Learn scores in order (their p-values are discarded)."""
        self._p_values(as_scores(scores, self.kind), True)

    def learn_flagged(self, scores: Any) -> None:
        """Learn scores of events that were flagged as anomalous.

        The conformal window keeps them capped at its current maximum, so a
        past anomaly neither masks a later one (it does not outrank it) nor
        vanishes from the window (leaving it out would let the threshold ratchet
        down). SPOT learns them as usual (its alarms above ``z_q`` are skipped).
        """
        self._learn_flagged(as_scores(scores, self.kind))

    def _learn_flagged(self, scores: np.ndarray) -> None:
        self._p_values(scores, True)

    @property
    @abstractmethod
    def n_seen(self) -> int:
        """How many scores the calibrator has learned since its last reset."""


def make_calibrator(params: ComponentParams | dict[str, Any]) -> Calibrator:
    """Build a calibrator from its params (a model or a dict with ``kind``)."""
    from pynomaly.engine.decision.calibration_conformal import ConformalCalibrator
    from pynomaly.engine.decision.calibration_none import NoCalibrator
    from pynomaly.engine.decision.calibration_spot import DSpotCalibrator, SpotCalibrator

    classes: dict[str, type[Calibrator]] = {
        c.kind: c for c in (ConformalCalibrator, SpotCalibrator, DSpotCalibrator, NoCalibrator)
    }
    data = params.model_dump() if isinstance(params, BaseModel) else dict(params)
    kind = data.get("kind", "conformal")
    if kind not in classes:
        raise ValueError(f"unknown calibration kind {kind!r}; known: {', '.join(sorted(classes))}")
    return classes[kind](**data)
