"""The shape every batch of events has: ``(n_samples, n_features)``.

A 1-D array is ambiguous (N events of one feature, or one event of N
features?), so batch methods refuse it with a message that says how to
reshape, instead of guessing.

Example
-------
>>> import numpy as np
>>> as_batch(np.zeros((3, 2)), "hst").shape
(3, 2)
>>> as_batch(np.arange(5.0), "hst")
Traceback (most recent call last):
...
ValueError: hst: X must be 2-D, shape (n_samples, n_features); got a 1-D array of 5 values. Use X.reshape(-1, 1) for 5 events of one feature, or X.reshape(1, -1) for one event of 5 features
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_batch(X: Any, who: str) -> np.ndarray:
    """``X`` as a float64 array of shape ``(n_samples, n_features)``; ``ValueError`` otherwise.

    ``who`` names the caller in the message (a detector's registry name).
    """
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        n = arr.shape[0]
        raise ValueError(
            f"{who}: X must be 2-D, shape (n_samples, n_features); got a 1-D array of {n} "
            f"values. Use X.reshape(-1, 1) for {n} events of one feature, or "
            f"X.reshape(1, -1) for one event of {n} features"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{who}: X must be 2-D, shape (n_samples, n_features); got shape {arr.shape}"
        )
    return arr
