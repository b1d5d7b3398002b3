"""River-native anomaly detectors backed by the engine's numba kernels.

Each class is a ``river.base.AnomalyDetector``: ``learn_one(x)`` and
``score_one(x)`` on dicts, composable in River pipelines and with
``river.anomaly.QuantileFilter`` / ``ThresholdFilter``, plus ``learn_many`` /
``score_many`` on pandas DataFrames and 2-D numpy arrays. See docs/river.md.

>>> from river import compose, preprocessing
>>> from pynomaly.river import HalfSpaceTrees
>>> model = compose.Pipeline(preprocessing.StandardScaler(), HalfSpaceTrees(seed=0))
>>> model.learn_one({"cpu": 0.5})
>>> model.score_one({"cpu": 0.5})
0.0
"""

from pynomaly.river.hst import HalfSpaceTrees
from pynomaly.river.loda import LODA
from pynomaly.river.rcf import RandomCutForest
from pynomaly.river.robust_zscore import RobustZScore
from pynomaly.river.rshash import RSHash
from pynomaly.river.xstream import XStream

__all__ = ["LODA", "HalfSpaceTrees", "RSHash", "RandomCutForest", "RobustZScore", "XStream"]
