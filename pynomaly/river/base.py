"""The River anomaly-detector contract over an engine detector.

:class:`NativeAnomalyDetector` is a ``river.base.AnomalyDetector`` whose state
is one engine detector (:mod:`pynomaly.engine`, numba kernels) plus its
:class:`~pynomaly.river.features.FeatureColumns`. Subclasses only name the
engine detector and map their River-style parameters onto its parameters.

- Constructor arguments are stored unchanged under their own names (River's
  ``clone``, ``repr`` and ``_get_params`` rely on it) and validated at once.
- The columns and the engine detector are built on the first ``learn_one`` /
  ``learn_many``, from that event's features (see
  :mod:`pynomaly.river.features` for missing and new features).
- ``seed=None`` draws a seed when the detector is built, as River's
  ``random.Random(None)`` does; pass an int to repeat runs.
- ``score_one`` before anything was learned is 0.
- The per-event path writes the dict into a preallocated row and calls the
  detector's kernel on it directly (the row is already float64, contiguous and
  clipped, so the engine's batch validation is skipped).
- ``learn_many`` / ``score_many`` take a pandas DataFrame or a 2-D numpy array
  and give the same state and scores as a ``learn_one`` / ``score_one`` loop.

Example
-------
>>> from pynomaly.river import RobustZScore
>>> model = RobustZScore(warmup=5)
>>> for v in [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0]:
...     model.learn_one({"v": v})
>>> model.score_one({"v": 1.0}) < 1.0 < model.score_one({"v": 9.0})
True
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar

import numpy as np
from river import base

from pynomaly.engine.base import SCORE_LIMIT, Detector
from pynomaly.engine.registry import detector_class
from pynomaly.river.features import FeatureColumns


class NativeAnomalyDetector(base.AnomalyDetector):
    """Base of the River-native detectors; see the module docstring."""

    #: Registry name of the engine detector.
    engine_name: ClassVar[str] = ""

    def __init__(self) -> None:
        self._columns: FeatureColumns | None = None
        self._detector: Detector | None = None
        self._out = np.zeros(1)  # the per-event kernels' output slot
        detector_class(self.engine_name).Params(**self._engine_params(None, 0))

    # -- to implement ----------------------------------------------------
    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        """Engine parameters for features ``names`` (``None``: only validating)."""
        raise NotImplementedError

    def _learn_row(self, row: np.ndarray) -> None:
        """Learn one ``(1, d)`` row; subclasses may call their kernel directly."""
        self._detector._score_learn(row, True)  # type: ignore[union-attr]

    def _score_row(self, row: np.ndarray) -> float:
        """Score one ``(1, d)`` row without learning it."""
        return float(self._detector._score(row)[0])  # type: ignore[union-attr]

    # -- building --------------------------------------------------------
    def _seed(self) -> int:
        seed = getattr(self, "seed", None)
        return random.randrange(2**31) if seed is None else int(seed)

    def _build(self, columns: FeatureColumns) -> None:
        params = self._engine_params(columns.names, self._seed())
        detector = detector_class(self.engine_name)(**params)
        detector.score_many(np.zeros((0, columns.width)))  # fixes the feature count
        self._columns, self._detector = columns, detector

    # -- per event -------------------------------------------------------
    def learn_one(self, x: Mapping[Hashable, Any]) -> None:
        columns = self._columns
        if columns is None:
            if not x:
                return
            columns = FeatureColumns.from_names(x)
            self._build(columns)
        self._learn_row(columns.learn_row(x))

    def score_one(self, x: Mapping[Hashable, Any]) -> float:
        if self._columns is None:
            return 0.0
        s = self._score_row(self._columns.score_row(x))
        if -SCORE_LIMIT <= s <= SCORE_LIMIT:
            return s
        return 0.0 if s != s else (SCORE_LIMIT if s > 0 else -SCORE_LIMIT)

    # -- mini-batches ----------------------------------------------------
    def _columns_for(self, X: Any) -> FeatureColumns:
        if self._columns is None:
            if not hasattr(X, "columns") and np.ndim(X) != 2:
                raise ValueError(f"expected a DataFrame or a 2-D array, got shape {np.shape(X)}")
            names = list(X.columns) if hasattr(X, "columns") else range(np.shape(X)[1])
            self._build(FeatureColumns.from_names(names))
        return self._columns  # type: ignore[return-value]

    def learn_many(self, X: Any) -> None:
        """Learn each row of a DataFrame or 2-D array in order (as ``learn_one`` would)."""
        if len(X) == 0:
            return
        M = self._columns_for(X).matrix(X, learn=True)
        self._detector._score_learn(M, True)  # type: ignore[union-attr]  # M is validated

    def score_many(self, X: Any) -> Any:
        """Scores of each row without learning: a Series for a DataFrame, else an array."""
        if self._columns is None:
            scores = np.zeros(len(X))
        else:
            M = self._columns.matrix(X, learn=False)
            scores = Detector._finish(self._detector._score(M))  # type: ignore[union-attr]
        if hasattr(X, "columns"):
            import pandas as pd

            return pd.Series(scores, index=X.index, copy=False)
        return scores
