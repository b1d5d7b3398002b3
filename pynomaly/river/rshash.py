"""RS-Hash as a River anomaly detector, on the engine's numba kernels.

River has no RS-Hash; the parameters are the engine's, except that the
normalisation range is given as River gives ``HalfSpaceTrees`` its limits:
``limits={feature: (lo, hi)}`` (features not in it get ``(0, 1)``), or
``None`` to take the range of the first ``warmup`` events.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from pynomaly.river.base import NativeAnomalyDetector
from pynomaly.river.hst import UNIT, _check_limits


class RSHash(NativeAnomalyDetector):
    """Subspace outlier detection in linear time with randomized hashing (Sathe & Aggarwal 2016).

    Parameters
    ----------
    n_components
        Ensemble components (random grids over random subspaces).
    decay
        Counts decay by ``2 ** -decay`` per event.
    n_hash_fns
        Count-min tables.
    hash_range
        Slots per table.
    limits
        ``{feature: (lo, hi)}`` normalisation ranges, or ``None`` (the range of
        the first ``warmup`` events, scored 0).
    warmup
        Events buffered to find the range when ``limits`` is ``None``.
    seed
        Seed of grids, subspaces, shifts and hashes; ``None`` draws one.

    Examples
    --------
    >>> import random
    >>> from pynomaly.river import RSHash
    >>> rng = random.Random(0)
    >>> model = RSHash(warmup=100, seed=1)
    >>> for _ in range(500):
    ...     model.learn_one({"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)})
    >>> model.score_one({"a": 0.0, "b": 0.0}) < model.score_one({"a": 3.0, "b": -3.0})
    True

    References
    ----------
    Sathe, S. & Aggarwal, C. C. (2016). Subspace outlier detection in linear
    time with randomized hashing. ICDM 2016, 459-468. doi:10.1109/ICDM.2016.0057
    """

    engine_name = "rshash"

    def __init__(
        self,
        n_components: int = 100,
        decay: float = 0.015,
        n_hash_fns: int = 1,
        hash_range: int = 10_000,
        limits: Mapping[Hashable, tuple[float, float]] | None = None,
        warmup: int = 256,
        seed: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.decay = decay
        self.n_hash_fns = n_hash_fns
        self.hash_range = hash_range
        self.limits = limits
        self.warmup = warmup
        self.seed = seed
        super().__init__()

    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "n_components": self.n_components, "decay": self.decay,
            "n_hash_fns": self.n_hash_fns, "hash_range": self.hash_range,
            "warmup": self.warmup, "seed": seed,
        }  # fmt: skip
        if self.limits is not None:
            _check_limits(self.limits)
            if names is not None:
                bounds = [tuple(float(v) for v in self.limits.get(n, UNIT)) for n in names]
                params["feature_mins"] = [lo for lo, _ in bounds]
                params["feature_maxes"] = [hi for _, hi in bounds]
        return params
