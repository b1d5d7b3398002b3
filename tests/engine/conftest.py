"""Shared, seeded reference streams for the engine tests.

Two labelled streams with injected point anomalies, used by the detector
contract suite (``test_contract.py``) for its minimum ROC-AUC check and by the
per-detector tests. They are exposed both as plain functions and as
session-scoped fixtures (request the fixture; importing ``conftest`` by name is
ambiguous across test directories).

Layout of both streams: ``REFERENCE_WARMUP`` clean events first, then events
with anomalies injected at rate ``REFERENCE_ANOMALY_RATE`` (never two within
``REFERENCE_MIN_GAP`` events of each other). ROC-AUC is measured on the events
after the warm-up only.
"""

from __future__ import annotations

import numpy as np
import pytest

REFERENCE_LENGTH = 3000
REFERENCE_WARMUP = 1000
REFERENCE_ANOMALY_RATE = 0.02
REFERENCE_MIN_GAP = 10
#: Every registered detector, with its default parameters, must reach this
#: ROC-AUC on its reference stream (after the warm-up).
MIN_REFERENCE_ROC_AUC = 0.8


def _anomaly_positions(rng: np.random.Generator, length: int) -> np.ndarray:
    """Sorted positions after the warm-up, at least ``REFERENCE_MIN_GAP`` apart."""
    candidates = np.arange(REFERENCE_WARMUP, length, REFERENCE_MIN_GAP)
    n = int(REFERENCE_ANOMALY_RATE * (length - REFERENCE_WARMUP))
    chosen = rng.choice(candidates, size=n, replace=False)
    offsets = rng.integers(0, REFERENCE_MIN_GAP // 2, size=n)
    return np.sort(chosen + offsets)


def multivariate_reference_stream(
    length: int = REFERENCE_LENGTH, n_features: int = 4, seed: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """Correlated Gaussian events around 0.5 (sd 0.08) with point anomalies.

    Each anomaly shifts one or two random features by 6 to 9 standard
    deviations, in a random direction. Most values lie in [0, 1] so detectors
    that assume unit-range features also apply.

    Returns
    -------
    X : (length, n_features) float64 events.
    y : (length,) int labels, 1 for an injected anomaly.
    """
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    mix += np.eye(n_features)
    z = rng.normal(size=(length, n_features)) @ mix.T
    z /= z.std(axis=0)
    X = 0.5 + 0.08 * z
    y = np.zeros(length, dtype=np.int64)
    for i in _anomaly_positions(rng, length):
        k = 1 + int(rng.random() < 0.5 and n_features > 1)
        cols = rng.choice(n_features, size=k, replace=False)
        X[i, cols] += 0.08 * rng.uniform(6.0, 9.0, size=k) * rng.choice([-1.0, 1.0], size=k)
        y[i] = 1
    return X, y


def univariate_reference_stream(
    length: int = REFERENCE_LENGTH, seed: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine (period 50, amplitude 1, noise sd 0.1) with spikes.

    Each anomaly adds a spike of 1.0 to 1.5 in a random direction (10 to 15
    noise standard deviations, comparable to the signal's amplitude).

    Returns
    -------
    X : (length, 1) float64 events.
    y : (length,) int labels, 1 for an injected anomaly.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = np.sin(2.0 * np.pi * t / 50.0) + 0.1 * rng.normal(size=length)
    y = np.zeros(length, dtype=np.int64)
    for i in _anomaly_positions(rng, length):
        x[i] += rng.uniform(1.0, 1.5) * rng.choice([-1.0, 1.0])
        y[i] = 1
    return x.reshape(-1, 1), y


def shape_reference_stream(
    length: int = REFERENCE_LENGTH, seed: int = 13
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine (period 50, noise sd 0.1) with shape anomalies, for subsequence detectors.

    After the warm-up, one stretch of 25 events in every 350 (at a random offset)
    runs at twice the frequency: every value is ordinary, only the shape is wrong.
    The events of those stretches are labelled 1.

    Returns
    -------
    X : (length, 1) float64 events.
    y : (length,) int labels.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    x = np.sin(2.0 * np.pi * t / 50.0) + 0.1 * rng.normal(size=length)
    y = np.zeros(length, dtype=np.int64)
    blocks = np.arange(0, length - REFERENCE_WARMUP - 100, 350)
    for s in REFERENCE_WARMUP + 50 + blocks + rng.integers(0, 100, size=blocks.size):
        e = min(s + 25, length)
        x[s:e] = np.sin(2.0 * np.pi * t[s:e] / 25.0) + 0.1 * rng.normal(size=e - s)
        y[s:e] = 1
    return x.reshape(-1, 1), y


@pytest.fixture(scope="session")
def reference_warmup() -> int:
    """Events at the start of each reference stream that hold no anomaly."""
    return REFERENCE_WARMUP


@pytest.fixture(scope="session")
def min_reference_roc_auc() -> float:
    """The ROC-AUC every detector must reach on its reference stream."""
    return MIN_REFERENCE_ROC_AUC


@pytest.fixture(scope="session")
def reference_stream() -> tuple[np.ndarray, np.ndarray]:
    """The default multivariate reference stream (4 features)."""
    return multivariate_reference_stream()


@pytest.fixture(scope="session")
def univariate_stream() -> tuple[np.ndarray, np.ndarray]:
    """The default univariate reference stream."""
    return univariate_reference_stream()


@pytest.fixture(scope="session")
def shape_stream() -> tuple[np.ndarray, np.ndarray]:
    """The reference stream of subsequence detectors (shape anomalies)."""
    return shape_reference_stream()
