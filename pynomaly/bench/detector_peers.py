"""Peers of the native detectors for ``pynomaly bench detectors``.

Each factory returns a *step*: a callable taking one event and returning its
score computed before the peer learns it, through the peer's own per-event API
(River ``score_one``/``learn_one``, PySAD ``fit_score_partial``, capymoa
``score_instance``/``train``, the ``rrcf`` streaming recipe). Peers are
imported lazily: a missing one is reported by the benchmark, not fatal.

>>> import numpy as np
>>> step = numpy_rolling_mad(window=32)
>>> [round(step(np.array([v])), 2) for v in [0.0] * 16 + [5.0]][-1] > 1e6
True
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Step = Callable[[Any], float]


def river_hst(X: np.ndarray, limits: np.ndarray, seed: int = 0) -> Step:
    from river.anomaly import HalfSpaceTrees

    model = HalfSpaceTrees(
        n_trees=10,
        height=8,
        window_size=250,
        limits={j: (float(limits[0, j]), float(limits[1, j])) for j in range(X.shape[1])},
        seed=seed,
    )

    def step(x: Any) -> float:
        s = model.score_one(x)
        model.learn_one(x)
        return s

    return step


def capymoa_hst(d: int, seed: int = 0) -> Step:
    """MOA's HSTrees through capymoa (a JVM via JPype): same trees, depth and window."""
    from capymoa.anomaly import HalfSpaceTrees
    from capymoa.core import LabeledInstance
    from capymoa.stream import Schema

    names = [f"x{j}" for j in range(d)]
    schema = Schema.from_custom(features=[*names, "y"], target="y", categories={"y": ["0", "1"]})
    model = HalfSpaceTrees(
        schema=schema, window_size=250, number_of_trees=10, max_depth=8, random_seed=seed
    )

    def step(x: np.ndarray) -> float:
        instance = LabeledInstance.from_array(schema, x, 0)
        s = model.score_instance(instance)
        model.train(instance)
        return s

    return step


def pysad(cls_name: str, **kwargs: Any) -> Callable[[int], Step]:
    """A factory of PySAD ``cls_name`` models; its argument is their ``random_state``."""

    def make(seed: int = 0) -> Step:
        import pysad.models

        return getattr(pysad.models, cls_name)(**kwargs, random_state=seed).fit_score_partial

    return make


def rrcf_module() -> Any:
    """``rrcf.rrcf`` loaded from its file: the package ``__init__`` needs
    ``pkg_resources``, which current setuptools no longer ships."""
    spec = importlib.util.find_spec("rrcf")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("rrcf", name="rrcf")
    path = Path(spec.origin).with_name("rrcf.py")
    module_spec = importlib.util.spec_from_file_location("_rrcf_tree", path)
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def rrcf(seed: int = 0, n_trees: int = 40, tree_size: int = 256) -> Step:
    """The streaming recipe from rrcf's README (forget oldest, insert, CoDisp)."""
    rrcf = rrcf_module()
    np.random.seed(seed)
    forest = [rrcf.RCTree() for _ in range(n_trees)]
    index = [0]

    def step(x: np.ndarray) -> float:
        i = index[0]
        total = 0.0
        for tree in forest:
            if len(tree.leaves) > tree_size:
                tree.forget_point(i - tree_size)
            tree.insert_point(x, index=i)
            total += tree.codisp(i)
        index[0] = i + 1
        return total / n_trees

    return step


def river_ewma_zscore(alpha: float = 0.02) -> Callable[[int], Step]:
    def make(d: int) -> Step:
        from river import stats

        means = [stats.EWMean(fading_factor=alpha) for _ in range(d)]
        vars_ = [stats.EWVar(fading_factor=alpha) for _ in range(d)]

        def step(x: np.ndarray) -> float:
            z = 0.0
            for j, v in enumerate(x.tolist()):
                sd = vars_[j].get() ** 0.5
                z = max(z, abs(v - means[j].get()) / (sd + 1e-12))
                means[j].update(v)
                vars_[j].update(v)
            return z

        return step

    return make


def numpy_rolling_mad(seed: int = 0, window: int = 128) -> Step:
    """Median/MAD z over the last ``window`` events (deterministic: ``seed`` is unused)."""
    from collections import deque

    recent: deque[np.ndarray] = deque(maxlen=window)

    def step(x: np.ndarray) -> float:
        score = 0.0
        if len(recent) >= 16:
            W = np.asarray(recent)
            med = np.median(W, axis=0)
            mad = np.median(np.abs(W - med), axis=0)
            score = float(np.max(np.abs(x - med) / (1.4826 * mad + 1e-9)))
        recent.append(x)
        return score

    return step
