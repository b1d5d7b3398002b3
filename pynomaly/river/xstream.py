"""xStream as a River anomaly detector, on the engine's numba kernels.

River has no xStream; the parameters are the engine's (ADR 0021), which
follow PySAD's: ``n_components`` StreamHash projections, ``n_chains``
half-space chains of ``depth`` splits, counts over windows of
``window_size`` events (the first window is scored 0).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pynomaly.river.base import NativeAnomalyDetector


class XStream(NativeAnomalyDetector):
    """xStream: outlier detection in feature-evolving data streams (Manzoor et al. 2018).

    Parameters
    ----------
    n_components
        StreamHash projections.
    n_chains
        Half-space chains.
    depth
        Splits per chain.
    window_size
        Events per count window.
    density
        Share of non-zero entries in the StreamHash projection.
    seed
        Seed of split features and shifts; ``None`` draws one.

    Examples
    --------
    >>> import random
    >>> from pynomaly.river import XStream
    >>> rng = random.Random(0)
    >>> model = XStream(n_chains=50, window_size=100, seed=1)
    >>> for _ in range(400):
    ...     model.learn_one({"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)})
    >>> model.score_one({"a": 0.0, "b": 0.0}) < model.score_one({"a": 6.0, "b": -6.0})
    True

    References
    ----------
    Manzoor, E., Lamba, H. & Akoglu, L. (2018). xStream: outlier detection in
    feature-evolving data streams. KDD 2018, 1963-1972. doi:10.1145/3219819.3220107
    """

    engine_name = "xstream"

    def __init__(
        self,
        n_components: int = 100,
        n_chains: int = 100,
        depth: int = 15,
        window_size: int = 256,
        density: float = 1 / 3,
        seed: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.n_chains = n_chains
        self.depth = depth
        self.window_size = window_size
        self.density = density
        self.seed = seed
        super().__init__()

    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        return {"n_components": self.n_components, "n_chains": self.n_chains,
                "depth": self.depth, "window_size": self.window_size,
                "density": self.density, "seed": seed}  # fmt: skip
