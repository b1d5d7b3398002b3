"""The ``pynomaly.river`` classes timed in ``pynomaly bench detectors``.

For a native detector and its engine parameters, :func:`river_model` builds
the equivalent River-API model (same trees, projections and seed: the same
scores, tested), and
:func:`time_river_api` times it the way River users run it: per event
(``score_one(dict)`` then ``learn_one(dict)``), and per mini-batch
(``score_many(DataFrame)`` then ``learn_many(DataFrame)``). Dicts and frames
are built before the clock starts, as the peers' dicts are.

>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(600, 2))
>>> model = river_model("hst", {"n_trees": 5, "height": 4, "window_size": 100, "seed": 1,
...                             "limits": ((-4.0, 4.0), (-4.0, 4.0))})
>>> type(model).__name__, model.limits
('HalfSpaceTrees', {0: (-4.0, 4.0), 1: (-4.0, 4.0)})
>>> timing = time_river_api("robust_zscore", {}, X, batch=256, per_event=200, repeats=1)
>>> sorted(timing), timing["river_api_scores"].shape
(['river_api_batch_eps', 'river_api_eps', 'river_api_scores'], (600,))
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _limits(mins: list[float], maxes: list[float]) -> dict[int, tuple[float, float]]:
    return {j: (float(lo), float(hi)) for j, (lo, hi) in enumerate(zip(mins, maxes, strict=True))}


def river_model(name: str, params: dict[str, Any]) -> Any:
    """The ``pynomaly.river`` model for engine detector ``name``; ``None`` if there is none."""
    import pynomaly.river as pr

    p = dict(params)
    if name != "robust_zscore":
        p.setdefault("seed", 0)  # the engine's default; River's None would draw one
    if name == "hst":
        limits = p.get("limits", "auto")
        if isinstance(limits, tuple):
            p["limits"] = _limits([lo for lo, _ in limits], [hi for _, hi in limits])
        elif limits == "auto":
            p["limits"] = None
        return pr.HalfSpaceTrees(**p)
    if name == "loda":
        p["n_random_cuts"] = p.pop("n_projections", 100)
        return pr.LODA(**p)
    if name == "rshash":
        if "feature_mins" in p:
            p["limits"] = _limits(p.pop("feature_mins"), p.pop("feature_maxes"))
        return pr.RSHash(**p)
    classes = {"rcf": pr.RandomCutForest, "xstream": pr.XStream, "robust_zscore": pr.RobustZScore}
    return classes[name](**p) if name in classes else None


def time_river_api(
    name: str, params: dict[str, Any], X: np.ndarray, batch: int, per_event: int, repeats: int
) -> dict[str, Any]:
    """Events/s per event and per mini-batch through the River API; empty if no model."""
    import pandas as pd

    if river_model(name, params) is None:
        return {}
    rows = [dict(enumerate(x)) for x in X[:per_event].tolist()]
    frames = [pd.DataFrame(X[i : i + batch]) for i in range(0, len(X), batch)]
    warm = river_model(name, params)
    for x in rows[: min(len(rows), 600)]:  # compile the kernels outside the clock
        warm.score_one(x)
        warm.learn_one(x)

    def singles() -> None:
        model = river_model(name, params)
        for x in rows:
            model.score_one(x)
            model.learn_one(x)

    def batches() -> np.ndarray:
        model = river_model(name, params)
        out = []
        for frame in frames:
            out.append(model.score_many(frame).to_numpy())
            model.learn_many(frame)
        return np.concatenate(out)

    from pynomaly.bench.detectors import _best_of  # the detectors bench's timer

    _, single_s = _best_of(repeats, singles)
    scores, batch_s = _best_of(repeats, batches)
    return {
        "river_api_eps": len(rows) / single_s,
        "river_api_batch_eps": len(X) / batch_s,
        "river_api_scores": scores,
    }
