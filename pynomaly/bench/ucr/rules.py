"""The answer of a detector on a UCR series, and the two rules that judge it.

The answer is the 1-based location of the highest score after the training
part (the first of equal highest scores; NaN scores never win). It is correct
under the ``±100`` rule of the KDD Cup 2021 when ``b - 100 <= loc <= e + 100``
and under the loose rule when ``b - max(L, 100) <= loc <= e + max(L, 100)``,
``L = e - b + 1``.

Example
-------
>>> import numpy as np
>>> s = np.zeros(1000); s[600] = 2.0; s[50] = 9.0   # the training part is not judged
>>> loc = location(s, train_end=100)
>>> loc, correct_pm100(loc, 650, 660), correct_loose(loc, 800, 1000)
(601, True, True)
>>> correct_pm100(loc, 800, 1000)
False
"""

from __future__ import annotations

import numpy as np

#: Tolerance of the KDD Cup rule, in points.
SLACK = 100


def location(scores: np.ndarray, train_end: int) -> int:
    """1-based location of the highest score after the first ``train_end`` points."""
    judged = np.asarray(scores, dtype=np.float64)[train_end:]
    if judged.size == 0:
        raise ValueError(f"no scores after the training part ({train_end} points)")
    judged = np.where(np.isnan(judged), -np.inf, judged)
    return train_end + int(np.argmax(judged)) + 1


def top_ties(scores: np.ndarray, train_end: int) -> int:
    """How many points after the training part share the highest score."""
    judged = np.asarray(scores, dtype=np.float64)[train_end:]
    judged = judged[~np.isnan(judged)]
    return int(np.count_nonzero(judged == judged.max())) if judged.size else 0


def correct_pm100(loc: int, begin: int, end: int) -> bool:
    """The ``±100`` rule: ``begin - 100 <= loc <= end + 100``."""
    return begin - SLACK <= loc <= end + SLACK


def correct_loose(loc: int, begin: int, end: int) -> bool:
    """The loose rule: ``begin - max(L, 100) <= loc <= end + max(L, 100)``, ``L = end - begin + 1``."""
    slack = max(end - begin + 1, SLACK)
    return begin - slack <= loc <= end + slack
