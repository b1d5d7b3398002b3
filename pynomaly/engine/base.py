"""The detector contract every detector in the engine follows.

A detector keeps its own state and exposes score/learn for one event and for a
batch. Scores are computed before learning (no look-ahead); higher means more
anomalous. State round-trips through a versioned snapshot (what Bytewax
recovery stores).

Subclasses define:

- ``name``: the registry name (``str``).
- ``Params``: a pydantic model of the constructor parameters.
- ``_reset(n_features)``: build derived state once the feature count is known.
- ``_score_learn(X, learn)``: the batch kernel call. Returns scores for each
  row of ``X`` computed *before* that row is learned; when ``learn`` is true the
  rows are learned one after another in order.
- ``_score(X)``: scores without learning (defaults to a copy-free call of
  ``_score_learn(X, learn=False)``).
- ``_get_state()``/``_set_state(state)``: plain picklable state.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("robust_zscore", alpha=0.1)
>>> X = np.r_[np.zeros((50, 1)) + np.random.default_rng(0).normal(size=(50, 1)), [[25.0]]]
>>> s = det.score_learn_many(X)
>>> bool(s[-1] > 5 * np.median(s[5:-1]))
True
>>> restored = type(det).restore(det.snapshot())
>>> restored.score_one([0.0]) == det.score_one([0.0])
True
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from pynomaly.engine.bounds import within
from pynomaly.engine.shapes import as_batch

#: Inputs beyond this magnitude are clipped so squares and sums stay finite.
INPUT_LIMIT = 1e150
#: Scores are clipped into [0, SCORE_LIMIT] after NaN removal.
SCORE_LIMIT = 1e300
SNAPSHOT_FORMAT = 1


class DetectorParams(BaseModel):
    """Base of every detector's parameter model (frozen, no unknown fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Detector(ABC):
    """Base class of every detector; see the module docstring for the contract."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[DetectorParams]] = DetectorParams
    params: DetectorParams
    #: Bump when the layout of ``_get_state`` changes; ``_set_state`` receives the
    #: version it was written with so it can upgrade older snapshots.
    state_version: ClassVar[int] = 1
    #: Models one series: a batch must have exactly one feature.
    univariate_only: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)
        self.n_features: int | None = None

    # -- introspection ---------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """The validated constructor parameters as a plain dict."""
        return self.params.model_dump()

    def clone(self) -> Detector:
        """A fresh, untrained detector with the same parameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- input handling --------------------------------------------------
    def _prepare(self, X: Any) -> np.ndarray:
        """Validate a batch: 2-D ``(n_samples, n_features)`` float64, finite, fixed
        feature count. A 1-D array is refused (see :func:`~pynomaly.engine.shapes.as_batch`)."""
        arr = as_batch(X, self.name or type(self).__name__)
        if arr.shape[1] == 0:
            raise ValueError(f"{self.name}: events must have at least one feature")
        if self.n_features is None:
            if self.univariate_only and arr.shape[1] != 1:
                raise ValueError(
                    f"{self.name}: a univariate detector takes 1 feature, got {arr.shape[1]}")
            self.n_features = int(arr.shape[1])
            self._reset(self.n_features)
        elif arr.shape[1] != self.n_features:
            raise ValueError(
                f"{self.name}: expected {self.n_features} features, got {arr.shape[1]}"
            )
        arr = np.ascontiguousarray(arr)
        if not within(arr, INPUT_LIMIT):  # one pass, no temporary; NaN fails
            arr = np.nan_to_num(arr, nan=0.0, posinf=INPUT_LIMIT, neginf=-INPUT_LIMIT)
            np.clip(arr, -INPUT_LIMIT, INPUT_LIMIT, out=arr)
        return arr

    @staticmethod
    def _finish(scores: np.ndarray) -> np.ndarray:
        out = np.asarray(scores, dtype=np.float64)
        # fast path: every score finite and within the limit (NaN fails the test)
        if within(out, SCORE_LIMIT):
            return out
        out = np.nan_to_num(out, nan=0.0, posinf=SCORE_LIMIT, neginf=-SCORE_LIMIT)
        return np.clip(out, 0.0 if out.min() >= 0 else -SCORE_LIMIT, SCORE_LIMIT)

    # -- public API ------------------------------------------------------
    def score_one(self, x: Any) -> float:
        """Score one event (1-D sequence of features) without learning it."""
        return float(self.score_many(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])

    def learn_one(self, x: Any) -> None:
        """Learn one event."""
        self.learn_many(np.asarray(x, dtype=np.float64).reshape(1, -1))

    def score_many(self, X: Any) -> np.ndarray:
        """Score each row of ``X`` (shape ``(n_samples, n_features)``) against the
        current state; learn nothing."""
        arr = self._prepare(X)
        return self._finish(self._score(arr))

    def learn_many(self, X: Any) -> None:
        """Learn each row of ``X`` (shape ``(n_samples, n_features)``) in order."""
        arr = self._prepare(X)
        self._score_learn(arr, True)

    def score_learn_many(self, X: Any) -> np.ndarray:
        """Score each row of ``X`` (shape ``(n_samples, n_features)``) before learning
        it, in order; returns a 1-D array of ``n_samples`` scores."""
        arr = self._prepare(X)
        return self._finish(self._score_learn(arr, True))

    def explain_one(self, x: Any) -> np.ndarray | None:
        """Per-feature contributions to the score of ``x`` (same length as x).

        Detectors that cannot attribute return ``None``.
        """
        arr = self._prepare(np.asarray(x, dtype=np.float64).reshape(1, -1))
        return self._explain(arr[0])

    # -- snapshot --------------------------------------------------------
    def snapshot(self) -> bytes:
        """Versioned, picklable state; restore with :meth:`restore`."""
        payload = {
            "format": SNAPSHOT_FORMAT,
            "detector": self.name,
            "state_version": self.state_version,
            "params": self.get_params(),
            "n_features": self.n_features,
            "state": self._get_state() if self.n_features is not None else None,
        }
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes) -> Detector:
        """Rebuild a detector from :meth:`snapshot` bytes."""
        payload = pickle.loads(blob)
        if payload.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported snapshot format {payload.get('format')!r}")
        if cls.name and payload["detector"] != cls.name:
            raise ValueError(f"snapshot is of {payload['detector']!r}, not {cls.name!r}")
        det = cls(**payload["params"])
        if payload["n_features"] is not None:
            det.n_features = payload["n_features"]
            det._reset(det.n_features)
            det._set_state(payload["state"], payload["state_version"])
        return det

    def __getstate__(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        other = type(self).restore(state["snapshot"])
        self.__dict__.update(other.__dict__)

    # -- to implement ----------------------------------------------------
    @abstractmethod
    def _reset(self, n_features: int) -> None:
        """Build derived state for ``n_features`` features."""

    @abstractmethod
    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        """Score rows of X before learning each (when ``learn``)."""

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._score_learn(X, False)

    def _explain(self, x: np.ndarray) -> np.ndarray | None:
        return None

    @abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """Plain picklable state (numpy arrays, numbers)."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any], version: int) -> None:
        """Load state written by ``_get_state`` at ``version``."""
