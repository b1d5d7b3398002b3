"""River's own estimator checks (``river.checks.yield_checks``) on every exported class.

River's suite streams ``datasets.CreditCard``, a download; here
``river.checks._yield_datasets`` is replaced by :func:`offline_datasets`, a
generated offline stream (see ``offline_stream.py``). River's own
``HalfSpaceTrees`` runs the same checks on the same substitute, so the
substitute is shown to be a fair stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import river.anomaly
import river.checks
from offline_stream import offline_datasets
from river import base

import pynomaly.river

CLASSES: list[type[base.AnomalyDetector]] = [
    getattr(pynomaly.river, n) for n in pynomaly.river.__all__
]


@contextmanager
def offline() -> Iterator[None]:
    """River's checks with the offline stream in place of the downloaded dataset."""
    saved = river.checks._yield_datasets
    river.checks._yield_datasets = offline_datasets
    try:
        yield
    finally:
        river.checks._yield_datasets = saved


def checks_of(cls: type[base.AnomalyDetector]) -> list[tuple[str, Callable, base.AnomalyDetector]]:
    model = cls()
    with offline():
        checks = list(river.checks.yield_checks(model))
    skips = model._unit_test_skips()
    return [(c.__name__, c, model) for c in checks if c.__name__ not in skips]


CASES = [
    pytest.param(
        check, model, id=f"{type(model).__module__.split('.')[0]}.{type(model).__name__}-{name}-{i}"
    )
    for cls in [*CLASSES, river.anomaly.HalfSpaceTrees]
    for i, (name, check, model) in enumerate(checks_of(cls))
]


def test_every_exported_class_is_checked() -> None:
    assert {type(m) for _, m in (c.values for c in CASES)} == {
        *CLASSES,
        river.anomaly.HalfSpaceTrees,
    }
    assert all(issubclass(cls, base.AnomalyDetector) for cls in CLASSES)


def test_each_class_gets_the_full_anomaly_detector_suite() -> None:
    names = {cls: [name for name, _, _ in checks_of(cls)] for cls in CLASSES}
    river_hst = [name for name, _, _ in checks_of(river.anomaly.HalfSpaceTrees)]
    for cls, got in names.items():
        assert "check_roc_auc" in got and "check_bounded_memory_growth" in got
        if cls is not pynomaly.river.RobustZScore:  # the only one without a seed
            assert got == river_hst, cls


@pytest.mark.parametrize(("check", "model"), CASES)
def test_river_check(check: Callable, model: base.AnomalyDetector) -> None:
    with offline():
        check(model.clone())
