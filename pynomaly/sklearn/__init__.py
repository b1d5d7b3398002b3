"""scikit-learn / PyOD-style outlier detectors backed by the engine's numba kernels.

``fit``, ``score_samples``, ``decision_function``, ``predict`` (+1/-1),
``contamination``, ``offset_`` and ``partial_fit`` for streaming; every class
passes ``sklearn.utils.estimator_checks.check_estimator``. See docs/sklearn.md.

>>> import numpy as np
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from pynomaly.sklearn import RandomCutForest
>>> X = np.random.default_rng(2).normal(size=(300, 2))
>>> pipe = make_pipeline(StandardScaler(), RandomCutForest(n_trees=20, random_state=0)).fit(X)
>>> pipe.predict([[0.0, 0.0], [9.0, 9.0]]).tolist()
[1, -1]
"""

from pynomaly.sklearn.estimators import (
    LODA,
    HalfSpaceTrees,
    RandomCutForest,
    RobustZScore,
    RSHash,
    XStream,
)

__all__ = ["LODA", "HalfSpaceTrees", "RSHash", "RandomCutForest", "RobustZScore", "XStream"]
