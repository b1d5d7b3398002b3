"""Random Cut Forest as a River anomaly detector, on the engine's numba kernels.

River has no Random Cut Forest; the parameters are the engine's (ADR 0011):
``n_trees`` trees over a sliding sample of the last ``tree_size`` points,
optionally shingled. The score is the collusive displacement (CoDisp).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from pynomaly.river.base import NativeAnomalyDetector


class RandomCutForest(NativeAnomalyDetector):
    """Robust Random Cut Forest (Guha et al. 2016), streaming.

    Parameters
    ----------
    n_trees
        Number of trees.
    tree_size
        Points each tree holds (the most recent ones).
    shingle_size
        Consecutive events joined into one point (1: none).
    seed
        Seed of the random cuts; ``None`` draws one.

    Examples
    --------
    >>> import random
    >>> from pynomaly.river import RandomCutForest
    >>> rng = random.Random(0)
    >>> model = RandomCutForest(n_trees=20, tree_size=64, seed=1)
    >>> for _ in range(300):
    ...     model.learn_one({"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)})
    >>> model.score_one({"a": 0.0, "b": 0.0}) < model.score_one({"a": 8.0, "b": 8.0})
    True

    References
    ----------
    Guha, S., Mishra, N., Roy, G. & Schrijvers, O. (2016). Robust random cut
    forest based anomaly detection on streams. ICML 2016, 2712-2721.
    """

    engine_name = "rcf"

    def __init__(
        self,
        n_trees: int = 40,
        tree_size: int = 256,
        shingle_size: int = 1,
        seed: int | None = None,
    ) -> None:
        self.n_trees = n_trees
        self.tree_size = tree_size
        self.shingle_size = shingle_size
        self.seed = seed
        super().__init__()

    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        return {"n_trees": self.n_trees, "tree_size": self.tree_size,
                "shingle_size": self.shingle_size, "seed": seed}  # fmt: skip
