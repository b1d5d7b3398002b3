"""scikit-learn's own ``check_estimator`` on every class in ``pynomaly.sklearn.__all__``.

Every check must pass; the only skip allowed is one scikit-learn itself
skips (``check_array_api_input`` without ``SCIPY_ARRAY_API=1`` set).
"""

from __future__ import annotations

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import check_estimator

import pynomaly.sklearn

CLASSES: list[type[BaseEstimator]] = [
    getattr(pynomaly.sklearn, n) for n in pynomaly.sklearn.__all__
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_check_estimator(cls: type[BaseEstimator]) -> None:
    failures = check_estimator(cls(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in failures if r["status"] == "failed"]
    assert not failed, failed
    assert {r["status"] for r in failures} <= {"passed", "skipped"}
    assert sum(r["status"] == "passed" for r in failures) > 40
