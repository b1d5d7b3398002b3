"""The engine's detectors as scikit-learn outlier detectors.

Each class maps its parameters onto one engine detector (see
:mod:`pynomaly.sklearn.base` for the contract and :mod:`pynomaly.river` for
the same detectors with River's API). Parameter names follow River and PyOD
where they have the model (``n_trees``, ``height``, ``window_size``;
``n_bins``, ``n_random_cuts``), plus ``contamination`` and ``random_state``.

Example
-------
>>> import numpy as np
>>> from sklearn.base import clone
>>> from pynomaly.sklearn import LODA
>>> X = np.random.default_rng(1).normal(size=(400, 3))
>>> model = LODA(n_random_cuts=50, random_state=0).fit(X)
>>> model.predict([[0.0, 0.0, 0.0], [5.0, 5.0, -5.0]]).tolist()
[1, -1]
>>> clone(model).get_params()["n_random_cuts"]
50
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pynomaly.sklearn.base import NativeOutlierDetector


def _capped(size: int, X: np.ndarray, batch: bool, least: int = 1) -> int:
    """``size``, capped at the sample count when fitting a batch (at least ``least``)."""
    return max(least, min(size, X.shape[0])) if batch else size


class HalfSpaceTrees(NativeOutlierDetector):
    """Half-Space Trees (Tan, Ting & Liu 2011) on the engine's kernels.

    Parameters
    ----------
    n_trees, height, window_size
        As River's ``HalfSpaceTrees``; ``fit`` uses ``min(window_size, n_samples)``.
    limits
        ``None`` (the first window's range, widened by one range on each side),
        ``"unit"`` (``[0, 1]`` per feature) or one ``(lo, hi)`` per feature.
    contamination
        Share of the training data predicted ``-1``.
    random_state
        Seed of the random splits.
    """

    engine_name = "hst"

    def __init__(
        self,
        n_trees: int = 10,
        height: int = 8,
        window_size: int = 250,
        limits: str | Sequence[tuple[float, float]] | None = None,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.limits = limits
        self.contamination = contamination
        self.random_state = random_state

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        limits: Any = self.limits
        if limits is None:
            limits = "auto"
        elif not isinstance(limits, str):
            limits = tuple((float(lo), float(hi)) for lo, hi in limits)
        return {"n_trees": self.n_trees, "height": self.height,
                "window_size": _capped(self.window_size, X, batch),
                "limits": limits, "seed": seed}  # fmt: skip


class LODA(NativeOutlierDetector):
    """LODA (Pevný 2016), streaming histograms as PySAD's, on the engine's kernels.

    Parameters
    ----------
    n_bins
        Histogram bins per projection.
    n_random_cuts
        Random projections.
    contamination
        Share of the training data predicted ``-1``.
    random_state
        Seed of the projections.
    """

    engine_name = "loda"

    def __init__(
        self,
        n_bins: int = 10,
        n_random_cuts: int = 100,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.n_bins = n_bins
        self.n_random_cuts = n_random_cuts
        self.contamination = contamination
        self.random_state = random_state

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        return {"n_bins": self.n_bins, "n_projections": self.n_random_cuts, "seed": seed}


class RandomCutForest(NativeOutlierDetector):
    """Robust Random Cut Forest (Guha et al. 2016) over the last ``tree_size`` rows.

    Parameters
    ----------
    n_trees
        Number of trees.
    tree_size
        Points each tree holds (the most recent rows learned).
    shingle_size
        Consecutive rows joined into one point (1: none).
    contamination
        Share of the training data predicted ``-1``.
    random_state
        Seed of the random cuts.
    """

    engine_name = "rcf"

    def __init__(
        self,
        n_trees: int = 40,
        tree_size: int = 256,
        shingle_size: int = 1,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.n_trees = n_trees
        self.tree_size = tree_size
        self.shingle_size = shingle_size
        self.contamination = contamination
        self.random_state = random_state

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        return {"n_trees": self.n_trees, "tree_size": self.tree_size,
                "shingle_size": self.shingle_size, "seed": seed}  # fmt: skip


class RSHash(NativeOutlierDetector):
    """RS-Hash (Sathe & Aggarwal 2016) with a decayed count-min sketch.

    Parameters
    ----------
    n_components, decay, n_hash_fns, hash_range
        As the engine's ``rshash``.
    limits
        One ``(lo, hi)`` normalisation range per feature, or ``None``: ``fit``
        takes the range of ``X``; the first ``partial_fit`` calls buffer
        ``warmup`` rows to find it.
    warmup
        Rows buffered for the range in streaming use.
    contamination
        Share of the training data predicted ``-1``.
    random_state
        Seed of grids, subspaces, shifts and hashes.
    """

    engine_name = "rshash"

    def __init__(
        self,
        n_components: int = 100,
        decay: float = 0.015,
        n_hash_fns: int = 1,
        hash_range: int = 10_000,
        limits: Sequence[tuple[float, float]] | None = None,
        warmup: int = 256,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.decay = decay
        self.n_hash_fns = n_hash_fns
        self.hash_range = hash_range
        self.limits = limits
        self.warmup = warmup
        self.contamination = contamination
        self.random_state = random_state

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "n_components": self.n_components, "decay": self.decay,
            "n_hash_fns": self.n_hash_fns, "hash_range": self.hash_range,
            "warmup": self.warmup, "seed": seed,
        }  # fmt: skip
        if self.limits is not None:
            bounds = np.array(self.limits, dtype=np.float64).reshape(-1, 2)
        elif batch:
            bounds = np.stack([X.min(axis=0), X.max(axis=0)], axis=1)
        else:
            return params
        params["feature_mins"], params["feature_maxes"] = (
            bounds[:, 0].tolist(),
            bounds[:, 1].tolist(),
        )
        return params


class XStream(NativeOutlierDetector):
    """xStream (Manzoor et al. 2018), PySAD's semantics, on the engine's kernels.

    Parameters
    ----------
    n_components, n_chains, depth, density
        As the engine's ``xstream``.
    window_size
        Rows per count window; ``fit`` uses ``min(window_size, n_samples)`` (at least 2).
    contamination
        Share of the training data predicted ``-1``.
    random_state
        Seed of split features and shifts.
    """

    engine_name = "xstream"

    def __init__(
        self,
        n_components: int = 100,
        n_chains: int = 100,
        depth: int = 15,
        window_size: int = 256,
        density: float = 1 / 3,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.n_components = n_components
        self.n_chains = n_chains
        self.depth = depth
        self.window_size = window_size
        self.density = density
        self.contamination = contamination
        self.random_state = random_state

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        return {"n_components": self.n_components, "n_chains": self.n_chains,
                "depth": self.depth, "window_size": _capped(self.window_size, X, batch, 2),
                "density": self.density, "seed": seed}  # fmt: skip


class RobustZScore(NativeOutlierDetector):
    """EWMA z-score per feature with winsorised learning (deterministic).

    Parameters
    ----------
    alpha
        EWMA smoothing factor in ``(0, 1]``.
    warmup
        Rows scored 0 at the start; ``fit`` uses ``min(warmup, n_samples)``.
    clip_z
        Learning winsorises values at this z-score (0: off).
    contamination
        Share of the training data predicted ``-1``.
    random_state
        Unused (no randomness); kept for a uniform interface.
    """

    engine_name = "robust_zscore"

    def __init__(
        self,
        alpha: float = 0.02,
        warmup: int = 30,
        clip_z: float = 6.0,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.alpha = alpha
        self.warmup = warmup
        self.clip_z = clip_z
        self.contamination = contamination
        self.random_state = random_state

    def _engine_params(self, X: np.ndarray, seed: int, batch: bool) -> dict[str, Any]:
        return {"alpha": self.alpha, "warmup": _capped(self.warmup, X, batch, 0),
                "clip_z": self.clip_z}  # fmt: skip
