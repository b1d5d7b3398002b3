"""LODA as a River anomaly detector, on the engine's numba kernels.

Parameters are named as in ``river.anomaly.LODA``: ``n_random_cuts`` random
sparse projections, each with a ``n_bins``-bin histogram. The engine's LODA
follows PySAD's streaming variant (ADR 0020): histograms grow their range as
values arrive instead of being rebuilt.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pynomaly.river.base import NativeAnomalyDetector


class LODA(NativeAnomalyDetector):
    """Lightweight on-line detector of anomalies (Pevný 2016).

    Parameters
    ----------
    n_bins
        Histogram bins per projection.
    n_random_cuts
        Number of random projections.
    seed
        Seed of the projections; ``None`` draws one.

    Examples
    --------
    >>> import random
    >>> from pynomaly.river import LODA
    >>> rng = random.Random(0)
    >>> model = LODA(seed=1)
    >>> for _ in range(500):
    ...     model.learn_one({"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)})
    >>> round(model.score_one({"a": 0.0, "b": 0.0}), 3), round(model.score_one({"a": 6.0, "b": -6.0}), 3)
    (0.268, 5.679)

    References
    ----------
    Pevný, T. (2016). Loda: Lightweight on-line detector of anomalies.
    Machine Learning 102, 275-304. doi:10.1007/s10994-015-5521-0
    """

    engine_name = "loda"

    def __init__(self, n_bins: int = 10, n_random_cuts: int = 100, seed: int | None = None) -> None:
        self.n_bins = n_bins
        self.n_random_cuts = n_random_cuts
        self.seed = seed
        super().__init__()

    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        return {"n_bins": self.n_bins, "n_projections": self.n_random_cuts, "seed": seed}
