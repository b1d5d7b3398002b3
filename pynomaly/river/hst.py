"""Half-Space Trees as a River anomaly detector, on the engine's numba kernels.

Same parameters as ``river.anomaly.HalfSpaceTrees``. With ``limits="unit"``
(River's default, ``[0, 1]`` per feature) or an explicit ``{feature: (lo, hi)}``
dict, an equal ``seed`` and every feature present, the trees and the scores are
River's exactly (the engine draws River's random numbers in River's order,
ADR 0010). The default here, ``limits=None``, takes the limits from the first
window instead (see :func:`pynomaly.engine.detectors.hst.auto_limits`), so no
``MinMaxScaler`` is needed in front.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from pynomaly.engine.detectors.hst_kernels import score_learn
from pynomaly.river.base import NativeAnomalyDetector

#: River's limits for a feature it was given none for.
UNIT = (0.0, 1.0)


class HalfSpaceTrees(NativeAnomalyDetector):
    """Half-Space Trees (Tan, Ting & Liu 2011) with River's parameters.

    Parameters
    ----------
    n_trees
        Number of trees.
    height
        Height of each tree (``2 ** (height + 1) - 1`` nodes).
    window_size
        Events per mass window; scores are 0 during the first window.
    limits
        ``None`` (range of the first window, widened by one range on each side),
        ``"unit"`` (``[0, 1]`` for every feature, River's default), or a dict
        ``{feature: (lo, hi)}`` (features not in it get ``(0, 1)``, as in River).
    seed
        Seed of the random splits; ``None`` draws one.

    Examples
    --------
    >>> from pynomaly.river import HalfSpaceTrees
    >>> hst = HalfSpaceTrees(n_trees=5, height=3, window_size=3, limits="unit", seed=42)
    >>> X = [0.5, 0.45, 0.43, 0.44, 0.445, 0.45, 0.0]
    >>> for x in X[:3]:
    ...     hst.learn_one({'x': x})  # warming up
    >>> for x in X:
    ...     hst.learn_one({'x': x})
    ...     print(f'{x:.3f}: {hst.score_one({"x": x}):.3f}')
    0.500: 0.107
    0.450: 0.071
    0.430: 0.107
    0.440: 0.107
    0.445: 0.107
    0.450: 0.071
    0.000: 0.853

    These are the scores of River's own ``HalfSpaceTrees`` example.

    References
    ----------
    Tan, S. C., Ting, K. M. & Liu, T. F. (2011). Fast anomaly detection for
    streaming data. IJCAI 2011, 1511-1516.
    """

    engine_name = "hst"

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        limits: Mapping[Hashable, tuple[float, float]] | str | None = None,
        seed: int | None = None,
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.limits = limits
        self.seed = seed
        super().__init__()

    def _engine_params(self, names: tuple[Hashable, ...] | None, seed: int) -> dict[str, Any]:
        limits: Any = "auto" if self.limits is None else self.limits
        if isinstance(limits, Mapping):
            _check_limits(limits)
            limits = (
                "auto"
                if names is None
                else tuple(tuple(float(v) for v in limits.get(name, UNIT)) for name in names)
            )
        return {"n_trees": self.n_trees, "height": self.height,
                "window_size": self.window_size, "limits": limits, "seed": seed}  # fmt: skip

    def _kernel_one(self, row: np.ndarray, learn: bool) -> float:
        """One row through the engine's single-event kernel, on the engine detector's arrays."""
        d: Any = self._detector
        out = self._out
        score_learn(d.tree_space(row), d._feature, d._threshold, d._l_mass, d._r_mass, d._path_score,
                    self.height, self.window_size, d._state, learn, out)  # fmt: skip
        return out[0]

    def _learn_row(self, row: np.ndarray) -> None:
        if self._detector._limits is None:  # type: ignore[union-attr]  # first window of "auto"
            super()._learn_row(row)
        else:
            self._kernel_one(row, True)

    def _score_row(self, row: np.ndarray) -> float:
        if self._detector._limits is None:  # type: ignore[union-attr]
            return 0.0
        return float(self._kernel_one(row, False))


def _check_limits(limits: Mapping[Hashable, tuple[float, float]]) -> None:
    for name, (lo, hi) in limits.items():
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"limits[{name!r}] needs finite lo < hi, got ({lo}, {hi})")
