"""Pure computation: detectors, calibration, drift, ensembles. No Bytewax, no I/O.

>>> from pynomaly.engine import create_detector, list_detectors
>>> "robust_zscore" in list_detectors()
True
"""

from pynomaly.engine.base import Detector
from pynomaly.engine.registry import (
    create_detector,
    detector_class,
    list_detectors,
    register,
    restore_detector,
)

__all__ = [
    "Detector",
    "create_detector",
    "detector_class",
    "list_detectors",
    "register",
    "restore_detector",
]
