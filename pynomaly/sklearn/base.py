"""The scikit-learn outlier-detector contract over an engine detector.

:class:`NativeOutlierDetector` follows scikit-learn's outlier detectors
(``IsolationForest``): ``fit(X)``, ``score_samples(X)`` (higher is more
normal: the negated engine score), ``decision_function(X) = score_samples(X)
- offset_`` (negative for outliers) and ``predict(X)`` giving ``+1`` (inlier)
or ``-1`` (outlier). ``offset_`` is the ``contamination`` quantile of
``score_samples`` over the data just learned, so a fraction ``contamination``
of the training data is predicted ``-1``.

- ``fit(X)`` starts afresh and learns the rows of ``X`` in order. Detectors
  with a warm-up or first window size it to the data
  (``min(window_size, n_samples)``, as ``IsolationForest`` caps ``max_samples``),
  so a fitted model scores from the start.
- ``partial_fit(X)`` learns ``X`` on top of what was learned (the first call
  builds the detector with the parameters as given: streaming use) and sets
  ``offset_`` from ``X``.
- ``score_samples`` learns nothing; each row's score depends only on the state
  and that row.
- Parameters are stored unchanged and validated in ``fit`` (scikit-learn's
  rule); ``random_state`` seeds the engine detector.

PyOD's detectors sign the other way: PyOD's ``decision_function(X)`` is
``-score_samples(X)`` here, and its ``predict`` gives 1 for outliers.

Example
-------
>>> import numpy as np
>>> from pynomaly.sklearn import HalfSpaceTrees
>>> X = np.random.default_rng(0).normal(size=(500, 2))
>>> model = HalfSpaceTrees(contamination=0.05, random_state=0).fit(X)
>>> model.predict([[0.0, 0.0], [6.0, -6.0]]).tolist()
[1, -1]
>>> float(np.mean(model.predict(X) == -1))  # 0.05 but for ties at the quantile
0.048
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from pynomaly.engine.base import Detector
from pynomaly.engine.registry import detector_class


class NativeOutlierDetector(OutlierMixin, BaseEstimator):
    """Base of the scikit-learn estimators; see the module docstring."""

    #: Registry name of the engine detector.
    engine_name: ClassVar[str] = ""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "contamination": [Interval(Real, 0.0, 0.5, closed="right")],
        "random_state": ["random_state"],
    }

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        """Engine parameters; ``batch`` when ``fit`` sizes warm-ups to ``X``."""
        raise NotImplementedError

    def _new_detector(self, X: np.ndarray, batch: bool) -> Detector:
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        return detector_class(self.engine_name)(**self._engine_params(X, seed, batch))

    def _learn(self, X: np.ndarray) -> None:
        self.detector_.learn_many(X)
        self.offset_ = float(np.percentile(self.score_samples(X), 100.0 * self.contamination))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> NativeOutlierDetector:
        """Learn the rows of ``X`` in order, from scratch; ``y`` is ignored."""
        X = validate_data(self, X, dtype=np.float64)
        self.detector_ = self._new_detector(X, batch=True)
        self._learn(X)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> NativeOutlierDetector:
        """Learn the rows of ``X`` on top of the current state; ``y`` is ignored."""
        first = not hasattr(self, "detector_")
        if first:
            self._validate_params()
        X = validate_data(self, X, dtype=np.float64, reset=first)
        if first:
            self.detector_ = self._new_detector(X, batch=False)
        self._learn(X)
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality of each row (higher is more normal); learns nothing."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return -self.detector_.score_many(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """``+1`` for inliers, ``-1`` for outliers."""
        return np.where(self.decision_function(X) >= 0.0, 1, -1)
