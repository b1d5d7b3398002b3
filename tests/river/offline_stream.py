"""An offline stand-in for River's ``datasets.CreditCard`` in River's estimator checks.

River's checks stream ``datasets.CreditCard().take(1000 * scale)``, which is
downloaded on first use; the tests substitute this generated stream so they
run without network. It keeps what the checks rely on: dict events of many
numeric features (8, so dropping three at random still leaves several), a
boolean label, anomalies rare (2 %) and after a clean start. Values lie in
``[0, 1]``, the range River's ``HalfSpaceTrees`` assumes by default.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

N_FEATURES = 8
ANOMALY_RATE = 0.02
CLEAN_START = 300


class OfflineStream:
    """``n`` seeded events ``(x, y)``; iterable any number of times, same events each time."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        mix = rng.normal(size=(N_FEATURES, N_FEATURES)) * 0.3 + np.eye(N_FEATURES)
        X = 0.5 + 0.04 * rng.normal(size=(n, N_FEATURES)) @ mix
        y = np.zeros(n, dtype=bool)
        y[CLEAN_START:] = rng.random(max(n - CLEAN_START, 0)) < ANOMALY_RATE
        X[y] = rng.uniform(0.0, 1.0, size=(int(y.sum()), N_FEATURES))
        self.X = np.clip(X, 0.0, 1.0)
        self.y = y
        self.names = [f"V{j + 1}" for j in range(N_FEATURES)]

    def __iter__(self) -> Iterator[tuple[dict[str, float], bool]]:
        for row, label in zip(self.X.tolist(), self.y.tolist(), strict=True):
            yield dict(zip(self.names, row, strict=True)), label


def offline_datasets(model: object, scale: int = 1) -> Iterator[OfflineStream]:
    """Drop-in for ``river.checks._yield_datasets`` for anomaly detectors."""
    yield OfflineStream(1000 * scale)
