"""Half-Space Trees: mass-based streaming anomaly detection (Tan, Ting & Liu 2011).

Each of ``n_trees`` complete binary trees of height ``height`` splits the
feature space with random axis-parallel cuts drawn inside per-feature limits
(no data needed to build them). Every tree counts, at each node, how many
events of the current window fell in that half-space (the *latest* mass) and
keeps the counts of the previous full window (the *reference* mass). Every
``window_size`` learned events the latest masses become the reference and the
latest restart from zero. An event is scored on the reference masses along
its path: dense regions score low, empty ones high.

The trees, masses, window swap and score follow River's ``HalfSpaceTrees``
exactly: same defaults, the same pre-order random draws from
``random.Random(seed)`` (so the same trees for the same seed and limits), the
same early stop at nodes with reference mass below ``0.1 * window_size``,
and the same score ``1 - sum_t sum_depth r_mass * 2**depth / max_score``, in
[0, 1], 0 during the first window. Given the same limits, seed and stream,
scores agree with River's to rounding.

``limits`` gives each feature's range as ``((lo, hi), ...)``; ``"unit"`` is
River's default ``[0, 1]`` for every feature; ``"auto"`` (the default) takes
each feature's range over the first window, widened by one range on each side
(see :func:`auto_limits`), scales every feature by those limits onto
``[0, 1]`` and learns that window on trees drawn in the unit cube. Since
nothing is scored during the first window anyway, ``"auto"`` gives exactly
the scores River gives with ``"unit"`` limits on the scaled stream. Scaling
first means each feature gets splits in proportion to its scaled range, not
its raw one (a latency in ms no longer takes the splits from a CPU share),
and that every key of a flow draws the same unit trees from the same seed:
a key's own state is its masses and its two scale rows, which is what lets
many keys share one forest (:class:`~pynomaly.engine.banked.HSTBank`).

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("hst", n_trees=10, height=6, window_size=100, seed=3)
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(400, 2)), [[6.0, 0.0]]])
>>> bool(s[-1] > np.quantile(s[100:-1], 0.99)), bool(np.all(s[:100] == 0.0))
(True, True)
>>> contributions = det.explain_one([6.0, 0.0])
>>> bool(np.isclose(contributions.sum(), det.score_one([6.0, 0.0])))
True

References
----------
Tan, S. C., Ting, K. M. & Liu, T. F. (2011). Fast anomaly detection for
streaming data. IJCAI 2011, 1511-1516. doi:10.5591/978-1-57735-516-8/IJCAI11-254
(Algorithms 1-3; sizeLimit = 0.1 psi in §3.2).
River ``river/anomaly/hst.py`` and ``river/tree/padded.py`` (padding 0.15).
"""

from __future__ import annotations

import random
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.hst_kernels import (
    BATCHED_MIN_ROWS,
    PADDING,
    build_trees,
    explain,
    path_scores,
    score_learn,
    score_learn_batched,
    sum_internal,
)
from pynomaly.engine.registry import register

#: Largest total node count (all trees) accepted; 2**25 nodes use ~256 MiB.
MAX_NODES = 2**25

#: Auto limits widen the first window's range by this many widths on each side.
AUTO_MARGIN = 1.0

Limits = tuple[tuple[float, float], ...]


class HalfSpaceTreesParams(DetectorParams):
    n_trees: int = Field(10, ge=1, description="number of trees")
    height: int = Field(8, ge=1, le=24, description="tree height (2**(h+1) - 1 nodes)")
    window_size: int = Field(250, ge=1, description="events per mass window")
    limits: Literal["auto", "unit"] | Limits = Field(
        "auto", description='"auto" (first window), "unit" ([0, 1]) or ((lo, hi), ...)'
    )
    seed: int = Field(0, description="seed of random.Random drawing the splits")

    @field_validator("limits")
    @classmethod
    def _check_limits(cls, value: Any) -> Any:
        if isinstance(value, tuple):
            for lo, hi in value:
                if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                    raise ValueError(f"each limit needs finite lo < hi, got ({lo}, {hi})")
        return value

    @model_validator(mode="after")
    def _check_size(self) -> HalfSpaceTreesParams:
        if self.n_trees * (2 ** (self.height + 1) - 1) > MAX_NODES:
            raise ValueError(f"n_trees * (2**(height+1) - 1) must be <= {MAX_NODES}")
        return self


def auto_limits(window: np.ndarray) -> np.ndarray:
    """Per-feature ``[lo, hi]`` (shape ``(2, d)``) around the range of ``window``.

    The observed range ``[min, max]`` of width ``w`` is widened by
    ``AUTO_MARGIN * w`` on each side, so that some splits fall outside the data
    and isolate events beyond it (Tan et al. 2011 build the workspace around a
    random point of the unit range with width ``4 max(s, 1 - s)``, three data
    ranges on average). A constant feature ``v`` gets ``v ± max(1, |v|) / 2``.

    >>> auto_limits(np.array([[0.0, 2.0], [1.0, 2.0]])).tolist()
    [[-1.0, 1.0], [2.0, 3.0]]
    """
    lo = window.min(axis=0)
    hi = window.max(axis=0)
    width = hi - lo
    flat = ~(width > 0.0)
    width[flat] = np.maximum(1.0, np.abs(lo[flat])) / (2.0 * AUTO_MARGIN)
    return np.stack([lo - AUTO_MARGIN * width, hi + AUTO_MARGIN * width])


def mass_dtype(window_size: int) -> type:
    """Mass counters for ``window_size``: a node never counts more than a window.

    >>> mass_dtype(250).__name__, mass_dtype(1000).__name__, mass_dtype(10**5).__name__
    ('uint8', 'uint16', 'int32')
    """
    if window_size < 2**8:
        return np.uint8
    return np.uint16 if window_size < 2**16 else np.int32


def river_draws(seed: int, n_trees: int, height: int) -> np.ndarray:
    """The uniforms River's tree builder takes from ``random.Random(seed)``.

    Shape ``(n_trees, 2**height - 1, 2)``: per internal node in pre-order, the
    draw of ``rng.choices`` (feature) then of ``rng.uniform`` (split).
    """
    rng = random.Random(seed)
    n = n_trees * (2**height - 1) * 2
    return np.array([rng.random() for _ in range(n)]).reshape(n_trees, -1, 2)


@register
class HalfSpaceTrees(Detector):
    """Half-Space Trees with River's semantics; see the module docstring."""

    name = "hst"
    Params = HalfSpaceTreesParams
    params: HalfSpaceTreesParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        n_internal = 2**p.height - 1
        self._feature = np.zeros((p.n_trees, n_internal), dtype=np.int32)
        mass = self._mass_dtype()
        self._threshold = np.zeros((p.n_trees, n_internal))
        self._l_mass = np.zeros((p.n_trees, 2 * n_internal + 1), dtype=mass)
        self._r_mass = np.zeros_like(self._l_mass)
        # derived from the reference masses (see hst_kernels.path_scores); not stored
        self._path_score = np.zeros((p.n_trees, n_internal + 1), dtype=self._path_score_dtype())
        self._state = np.array([0, 1], dtype=np.int64)  # [counter, first_window]
        self._pending = np.empty((0, n_features))
        #: the limits in the stream's units (known after the first window with "auto")
        self._limits: np.ndarray | None = None
        #: with "auto": rows ``[offset, width]`` mapping the stream onto the unit trees
        self._scale: np.ndarray | None = None
        unit = np.stack([np.zeros(n_features), np.ones(n_features)])
        if p.limits == "unit":
            self._build(unit)
            self._limits = unit
        elif p.limits == "auto":
            self._build(unit)
        else:
            if len(p.limits) != n_features:
                raise ValueError(f"hst: {len(p.limits)} limits for {n_features} features")
            self._limits = np.array(p.limits, dtype=np.float64).T.copy()
            self._build(self._limits)

    def _mass_dtype(self) -> type:
        """The smallest unsigned masses a window fits in (uint8 up to 255 events,
        uint16 up to 65535): smaller trees stay in the cache and many keys fit."""
        return mass_dtype(self.params.window_size)

    def _path_score_dtype(self) -> type:
        """uint32 path scores while the largest, ``window * (2**(h+1) - 1)``, fits."""
        p = self.params
        return np.uint32 if p.window_size * (2 ** (p.height + 1) - 1) < 2**32 else np.int64

    def _build(self, limits: np.ndarray) -> None:
        p = self.params
        draws = river_draws(p.seed, p.n_trees, p.height)
        build_trees(limits[0], limits[1], draws, PADDING, p.height, self._feature, self._threshold)

    def _kernel(self, X: np.ndarray, learn: bool) -> np.ndarray:
        """Run the kernel; with ``learn`` false it writes nothing but ``out``."""
        out = np.empty(X.shape[0])
        p = self.params
        kernel = score_learn_batched if X.shape[0] >= BATCHED_MIN_ROWS else score_learn
        kernel(X, self._feature, self._threshold, self._l_mass, self._r_mass, self._path_score,
               p.height, p.window_size, self._state, learn, out)
        return out

    def tree_space(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the units the trees split: scaled by the auto limits, else as is."""
        if self._scale is None:
            return X
        return np.asarray((X - self._scale[0]) / self._scale[1])

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if self._limits is not None:
            return self._kernel(self.tree_space(X), learn)
        if not learn:
            return np.zeros(X.shape[0])
        take = min(X.shape[0], self.params.window_size - self._pending.shape[0])
        self._pending = np.concatenate([self._pending, X[:take]])
        if self._pending.shape[0] < self.params.window_size:
            return np.zeros(X.shape[0])
        first, self._pending = self._pending, self._pending[:0]
        self._limits = auto_limits(first)
        self._scale = np.stack([self._limits[0], self._limits[1] - self._limits[0]])
        self._kernel(self.tree_space(first), True)
        return np.concatenate([np.zeros(take), self._kernel(self.tree_space(X[take:]), True)])

    def _explain(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros(x.shape[0])
        if self._state[1] == 0:
            p = self.params
            explain(self.tree_space(x), self._feature, self._threshold, self._r_mass, p.height,
                    p.window_size, out)
        return out

    def nbytes(self) -> int:
        """Bytes held by the state arrays."""
        arrays = (self._feature, self._threshold, self._l_mass, self._r_mass, self._path_score,
                  self._pending)  # fmt: skip
        return sum(a.nbytes for a in arrays)

    def _get_state(self) -> dict[str, Any]:
        assert self.n_features is not None  # snapshot() asks once the features are known
        l_mass = self._l_mass.copy()
        sum_internal(l_mass)  # the batched kernel counts leaves only
        return {
            "limits": None if self._limits is None else self._limits.copy(),
            "scale": None if self._scale is None else self._scale.copy(),
            "pending": self._pending.copy(),
            "feature": self._feature.astype(np.min_scalar_type(self.n_features - 1)),
            "threshold": self._threshold.copy(),
            "l_mass": l_mass,
            "r_mass": self._r_mass.copy(),
            "state": self._state.copy(),
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._limits = None if state["limits"] is None else np.array(state["limits"])
        # a snapshot without "scale" holds trees drawn in the stream's units
        scale = state.get("scale")
        self._scale = None if scale is None else np.array(scale, dtype=np.float64)
        self._pending = np.array(state["pending"], dtype=np.float64)
        self._feature = np.array(state["feature"], dtype=np.int32)
        self._threshold = np.array(state["threshold"], dtype=np.float64)
        self._l_mass = np.array(state["l_mass"], dtype=self._mass_dtype())
        self._r_mass = np.array(state["r_mass"], dtype=self._mass_dtype())
        self._path_score = np.zeros_like(self._path_score)
        path_scores(self._r_mass, self.params.height, self.params.window_size, self._path_score)
        self._state = np.array(state["state"], dtype=np.int64)
