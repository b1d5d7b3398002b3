"""Banked detectors: many keys' detector state in arrays indexed by slot.

A :class:`~pynomaly.engine.pipeline.ScoringPipeline` per key costs a dozen
Python calls per key per micro-batch; with thousands of keys in a batch that
dominates (about 0.3-1 ms per key). A *bank* keeps the state of every key of a
shard in 2-D arrays (``mean[slot, feature]`` …) and scores a whole batch of
mixed keys in one numba call, row by row in arrival order, using the very
statements of the per-key detector's kernel on the slot's rows — so scores
are bit-identical to the per-key path (tests/speed checks this against the
per-key detectors).

Any calibration and threshold, and ``fast_page_hinkley`` drift monitors, run
on the bank's slots (:mod:`pynomaly.engine.decision.banked_calibration`,
:mod:`pynomaly.engine.banked_pipeline`); the per-row warm-up, late-event
check, threshold and cooldown live in :mod:`pynomaly.engine.decision.banked_decide`.
A detector without a bank here is held as one object per slot
(:mod:`pynomaly.engine.object_bank`); River drift monitors and ``protect``
stay per key (see :func:`bank_supported`).

Example
-------
>>> import numpy as np
>>> from pynomaly.engine.pipeline import PipelineConfig
>>> cfg = PipelineConfig.model_validate({"detector": {"name": "robust_zscore",
...     "params": {"warmup": 5}}, "calibration": {"kind": "none"},
...     "threshold": {"kind": "static", "value": 6.0}})
>>> bank = make_bank(cfg, n_features=1)
>>> bank.ensure(2)
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(40, 1)) * np.tile([1.0, 10.0], 20).reshape(-1, 1)
>>> X[-2:] = 30.0  # the same spike for both keys
>>> slots = np.tile([0, 1], 20)  # key 0 is quiet, key 1 noisy
>>> bank.score_learn(X, slots, np.ones(40, dtype=bool))[-2:].round(1).tolist()
[37.8, 4.6]
>>> from pynomaly.engine import create_detector  # the per-key detector agrees
>>> float(create_detector("robust_zscore", warmup=5).score_learn_many(X[0::2])[-1].round(1))
37.8
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from pynomaly.engine.base import INPUT_LIMIT
from pynomaly.engine.detectors.hst import AUTO_MARGIN, HalfSpaceTrees
from pynomaly.engine.detectors.hst_kernels import SIZE_LIMIT_FRACTION
from pynomaly.engine.detectors.hst_kernels import explain as hst_explain
from pynomaly.engine.detectors.metric_deviation import _z as _md_z
from pynomaly.engine.detectors.metric_deviation import metric_deviation_kernel
from pynomaly.engine.detectors.robust_zscore import EPS
from pynomaly.engine.pipeline import PipelineConfig
from pynomaly.engine.registry import detector_class
from pynomaly.engine.shapes import as_batch


# -- kernels -----------------------------------------------------------------
@njit(cache=True, nogil=True)
def _zscore_bank_kernel(X: np.ndarray, slots: np.ndarray, keep: np.ndarray, mean: np.ndarray,
                        var: np.ndarray, count: np.ndarray, alpha: float, warmup: int,
                        clip_z: float, out: np.ndarray, explain_at: float,
                        contrib: np.ndarray) -> None:
    """Score-then-learn each kept row with its slot's EWMA state, in order.

    The statements of ``robust_zscore._ewma_zscore_kernel`` for one row, on
    row ``slots[i]`` of the state arrays (inlined: a call per row with array
    views costs ~10x the arithmetic). A row scoring at least ``explain_at``
    gets its ``explain_one`` contributions in ``contrib[i]``, on the state it
    was scored with.
    """
    d = X.shape[1]
    for i in range(X.shape[0]):
        if not keep[i]:
            out[i] = 0.0
            continue
        s = slots[i]
        c = count[s]
        best = 0.0
        for j in range(d):
            z = abs(X[i, j] - mean[s, j]) / np.sqrt(var[s, j] + EPS)
            if z > best:
                best = z
        out[i] = best if c >= warmup else 0.0
        if not out[i] < explain_at:
            for j in range(d):
                contrib[i, j] = np.abs(X[i, j] - mean[s, j]) / np.sqrt(var[s, j] + EPS)
        for j in range(d):
            x = X[i, j]
            if c >= warmup and clip_z > 0.0:
                sd = np.sqrt(var[s, j] + EPS)
                hi = mean[s, j] + clip_z * sd
                lo = mean[s, j] - clip_z * sd
                if x > hi:
                    x = hi
                elif x < lo:
                    x = lo
            if c == 0:
                mean[s, j] = x
                var[s, j] = 0.0
            else:
                a = alpha if c >= 1.0 / alpha else 1.0 / (c + 1.0)
                diff = x - mean[s, j]
                mean[s, j] += a * diff
                var[s, j] = (1.0 - a) * (var[s, j] + a * diff * diff)
        count[s] = c + 1


@njit(inline="always")
def _hst_walk(x: np.ndarray, s: int, feature: np.ndarray, threshold: np.ndarray,
              mass: np.ndarray, height: int, size_limit: float, max_score: float,
              scoring: bool, node: np.ndarray, walking: np.ndarray) -> float:
    """Score row ``x`` on slot ``s``'s reference masses and count it in the
    latest masses: the statements of ``hst_kernels.score_learn`` for one row."""
    n_trees = feature.shape[0]
    for t in range(n_trees):
        node[t] = 0
        walking[t] = 1 if scoring else 0
    total = 0
    pow2 = 1
    for _ in range(height):
        for t in range(n_trees):
            nd = node[t]
            mass[s, t, nd, 0] += 1
            r = mass[s, t, nd, 1]
            total += walking[t] * r * pow2
            walking[t] &= r >= size_limit
            node[t] = 2 * nd + 2 - (x[feature[t, nd]] < threshold[t, nd])
        pow2 *= 2
    for t in range(n_trees):
        nd = node[t]
        mass[s, t, nd, 0] += 1
        total += walking[t] * mass[s, t, nd, 1] * pow2
    return 1.0 - total / max_score if scoring else 0.0


@njit(inline="always")
def _hst_count(s: int, mass: np.ndarray, window: int, state: np.ndarray) -> None:
    """One more event in slot ``s``'s window; a full window becomes the reference."""
    state[s, 0] += 1
    if state[s, 0] == window:
        for t in range(mass.shape[1]):
            for n in range(mass.shape[2]):
                mass[s, t, n, 1] = mass[s, t, n, 0]
                mass[s, t, n, 0] = 0
        state[s, 0] = 0
        state[s, 1] = 0


@njit(cache=True, nogil=True)
def _hst_bank_kernel(X: np.ndarray, slots: np.ndarray, keep: np.ndarray, feature: np.ndarray,
                     threshold: np.ndarray, mass: np.ndarray, height: int, window: int,
                     state: np.ndarray, out: np.ndarray, explain_at: float,
                     contrib: np.ndarray) -> None:
    """Score-then-learn each kept row on its slot's masses (shared trees), in order.

    The statements of ``hst_kernels.score_learn`` (with ``learn``) for one
    row, on ``mass[s]``, ``state[s]``, with the walk arrays allocated once per
    batch instead of once per row. ``mass[s, t, node]`` holds the latest
    (``0``) and reference (``1``) mass of a node side by side: one cache line
    per node visited instead of two. A row scoring at least ``explain_at``
    gets its ``explain_one`` contributions in ``contrib[i]``, on the reference
    masses it was scored with (before its window may swap them).
    """
    n_trees = feature.shape[0]
    size_limit = SIZE_LIMIT_FRACTION * window
    max_score = float(n_trees) * float(window) * float(2 ** (height + 1) - 1)
    node = np.zeros(n_trees, dtype=np.int64)
    walking = np.zeros(n_trees, dtype=np.int64)
    for i in range(X.shape[0]):
        if not keep[i]:
            out[i] = 0.0
            continue
        s = slots[i]
        scoring = state[s, 1] == 0
        out[i] = _hst_walk(X[i], s, feature, threshold, mass, height, size_limit, max_score,
                           scoring, node, walking)
        if not out[i] < explain_at:
            if scoring:
                hst_explain(X[i], feature, threshold, mass[s, :, :, 1], height, window,
                            contrib[i])
            else:
                contrib[i, :] = 0.0
        _hst_count(s, mass, window, state)


@njit(cache=True, nogil=True)
def _hst_auto_bank_kernel(X: np.ndarray, slots: np.ndarray, keep: np.ndarray,
                          feature: np.ndarray, threshold: np.ndarray, mass: np.ndarray,
                          height: int, window: int, state: np.ndarray, scale: np.ndarray,
                          pending: np.ndarray, out: np.ndarray, explain_at: float,
                          contrib: np.ndarray) -> None:
    """:func:`_hst_bank_kernel` for ``limits="auto"``: the unit trees are shared
    and each slot maps its rows onto them with its own ``scale[s] = [offset,
    width]``, set from its first window as ``HalfSpaceTrees`` does.

    Until a slot has seen a window its rows wait in ``pending[s]`` and score 0
    (``state[s, 2]`` counts them); the row that completes the window fixes
    the slot's auto limits (:func:`~pynomaly.engine.detectors.hst.auto_limits`,
    the same statements) and the waiting rows are learned, in order.
    """
    n_trees = feature.shape[0]
    d = X.shape[1]
    size_limit = SIZE_LIMIT_FRACTION * window
    max_score = float(n_trees) * float(window) * float(2 ** (height + 1) - 1)
    node = np.zeros(n_trees, dtype=np.int64)
    walking = np.zeros(n_trees, dtype=np.int64)
    xt = np.empty(d)
    for i in range(X.shape[0]):
        if not keep[i]:
            out[i] = 0.0
            continue
        s = slots[i]
        waiting = state[s, 2]
        if waiting < window:
            pending[s, waiting, :] = X[i]
            state[s, 2] = waiting + 1
            out[i] = 0.0
            if not out[i] < explain_at:
                contrib[i, :] = 0.0
            if waiting + 1 < window:
                continue
            for j in range(d):
                lo = pending[s, 0, j]
                hi = pending[s, 0, j]
                for r in range(1, window):
                    v = pending[s, r, j]
                    lo = min(lo, v)
                    hi = max(hi, v)
                width = hi - lo
                if not width > 0.0:
                    width = max(1.0, abs(lo)) / (2.0 * AUTO_MARGIN)
                a = lo - AUTO_MARGIN * width
                b = hi + AUTO_MARGIN * width
                scale[s, 0, j] = a
                scale[s, 1, j] = b - a
            for r in range(window):
                for j in range(d):
                    xt[j] = (pending[s, r, j] - scale[s, 0, j]) / scale[s, 1, j]
                _hst_walk(xt, s, feature, threshold, mass, height, size_limit, max_score,
                          state[s, 1] == 0, node, walking)
                _hst_count(s, mass, window, state)
            continue
        for j in range(d):
            xt[j] = (X[i, j] - scale[s, 0, j]) / scale[s, 1, j]
        scoring = state[s, 1] == 0
        out[i] = _hst_walk(xt, s, feature, threshold, mass, height, size_limit, max_score,
                           scoring, node, walking)
        if not out[i] < explain_at:
            if scoring:
                hst_explain(xt, feature, threshold, mass[s, :, :, 1], height, window, contrib[i])
            else:
                contrib[i, :] = 0.0
        _hst_count(s, mass, window, state)


# -- banks -------------------------------------------------------------------
class SlotArrays:
    """Per-slot arrays (first axis = slot) that grow by doubling: the state
    layout every bank, and the banked pipeline's own slots, share.
    Subclasses name their arrays in ``arrays`` and make fresh rows in
    ``_fresh``."""

    #: names of the per-slot arrays (first axis = slot)
    arrays: tuple[str, ...] = ()
    capacity: int = 0

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def ensure(self, capacity: int) -> None:
        """Make room for slots ``0 .. capacity - 1`` (doubling); new slots are fresh."""
        if capacity <= self.capacity:
            return
        new_cap = max(capacity, 2 * self.capacity, 16)
        fresh = self._fresh(new_cap)
        for name in self.arrays:
            arr = fresh[name]
            if self.capacity:
                arr[: self.capacity] = getattr(self, name)
            setattr(self, name, arr)
        self.capacity = new_cap

    def reset(self, slots: np.ndarray, names: tuple[str, ...] | None = None) -> None:
        """Give ``slots`` fresh rows (of the ``names`` arrays; default all)."""
        if len(slots) == 0 or not self.capacity:
            return
        fresh = self._fresh(1)
        for name in self.arrays if names is None else names:
            getattr(self, name)[slots] = fresh[name][0]

    def bytes_per_slot(self) -> int:
        """Bytes of the per-slot arrays per slot."""
        return sum(getattr(self, n)[0].nbytes for n in self.arrays) if self.capacity else 0

    def copy(self) -> Any:
        """An independent copy (the per-slot arrays copied, anything shared not)."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        if self.capacity:
            for name in self.arrays:
                setattr(new, name, getattr(self, name).copy())
        return new

    def truncated_state(self, n: int) -> dict[str, Any]:
        """State with the arrays cut to the first ``n`` slots (for snapshots)."""
        st = dict(self.__dict__)
        if self.capacity:
            for name in self.arrays:
                st[name] = getattr(self, name)[:n].copy()
        st["capacity"] = min(n, self.capacity)
        return st


class DetectorBank(SlotArrays):
    """Per-slot detector state of one shard; subclasses hold the arrays.

    ``ensure(capacity)`` grows the arrays, ``reset(slots)`` gives slots a
    fresh detector, ``score_learn(X, slots, keep)`` scores and learns the
    kept rows in order; ``score_learn_explain`` also gives the contributions
    of the rows scoring at least a level, each on the state it was scored
    with (so they do not depend on the batching); ``explain(slot, x)`` is the
    detector's ``explain_one`` on that slot's current state.
    """

    def __init__(self, params: Any, n_features: int) -> None:
        self.params = params
        self.n_features = n_features
        self.capacity = 0

    def score_learn(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Scores of the kept rows (0 for the others), learning each after scoring it."""
        return self.score_learn_explain(X, slots, keep, np.inf)[0]

    #: who a refused input names (``as_batch``)
    label = "bank"

    def score_learn_explain(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray,
                            explain_at: float) -> tuple[np.ndarray, np.ndarray]:
        """``score_learn``, and the contributions (``explain_one``) of each kept
        row scoring at least ``explain_at`` (or NaN), on the state it was
        scored with; rows of the ``(n, n_features)`` array are undefined for
        the other rows."""
        X = as_batch(X, self.label)
        out = np.empty(X.shape[0])
        contrib = np.empty(X.shape if explain_at < np.inf else (0, X.shape[1]))
        self._run(X, slots, keep, float(explain_at), out, contrib)
        return out, contrib

    def _run(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray, explain_at: float,
             out: np.ndarray, contrib: np.ndarray) -> None:
        """The bank's kernel over a batch: scores into ``out``, the contributions
        of rows scoring at least ``explain_at`` into ``contrib``."""
        raise NotImplementedError

    def explain(self, slot: int, x: np.ndarray) -> np.ndarray | None:
        return None


class ZScoreBank(DetectorBank):
    """Banked :class:`~pynomaly.engine.detectors.robust_zscore.RobustZScore`."""

    arrays: tuple[str, ...] = ("mean", "var", "count")
    mean: np.ndarray
    var: np.ndarray
    count: np.ndarray

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        d = self.n_features
        return {"mean": np.zeros((n, d)), "var": np.zeros((n, d)),
                "count": np.zeros(n, dtype=np.int64)}

    label = "robust_zscore bank"

    def _run(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray, explain_at: float,
             out: np.ndarray, contrib: np.ndarray) -> None:
        p = self.params
        _zscore_bank_kernel(X, slots, keep, self.mean, self.var, self.count, p.alpha, p.warmup,
                            p.clip_z, out, explain_at, contrib)

    def explain(self, slot: int, x: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(x - self.mean[slot]) / np.sqrt(self.var[slot] + EPS))


class HSTBank(DetectorBank):
    """Banked Half-Space Trees with fixed limits: one set of trees, masses per slot.

    Every per-key detector of a flow is built from the same seed and limits,
    so they all draw the same trees; only the masses and window counters
    differ per key (with the default ``window_size`` of 250, uint8 masses:
    ``n_trees * (2**(height + 1) - 1) * 2`` bytes per key).
    """

    arrays: tuple[str, ...] = ("mass", "state")
    mass: np.ndarray
    state: np.ndarray

    def __init__(self, params: Any, n_features: int) -> None:
        super().__init__(params, n_features)
        proto = HalfSpaceTrees(**params.model_dump())
        proto.n_features = n_features
        proto._reset(n_features)
        self.feature = proto._feature
        self.threshold = proto._threshold
        self._template = (proto._l_mass, proto._state)

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        lm, st = self._template
        return {"mass": np.zeros((n, *lm.shape, 2), dtype=lm.dtype),
                "state": np.tile(st, (n, 1))}

    label = "hst bank"

    def _run(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray, explain_at: float,
             out: np.ndarray, contrib: np.ndarray) -> None:
        p = self.params
        _hst_bank_kernel(X, slots, keep, self.feature, self.threshold, self.mass, p.height,
                         p.window_size, self.state, out, explain_at, contrib)

    def _tree_space(self, slot: int, x: np.ndarray) -> np.ndarray:
        return x

    def explain(self, slot: int, x: np.ndarray) -> np.ndarray:
        out = np.zeros(x.shape[0])
        if self.state[slot, 1] == 0:
            p = self.params
            r_mass = np.ascontiguousarray(self.mass[slot, :, :, 1])
            hst_explain(self._tree_space(slot, x), self.feature, self.threshold, r_mass,
                        p.height, p.window_size, out)
        return out


class AutoHSTBank(HSTBank):
    """Banked Half-Space Trees with ``limits="auto"``: the unit trees are shared,
    each slot keeps its masses, its scale (offset and width per feature, from
    its first window) and, until that window is full, the rows waiting for it.

    The per-key detector scales by the same limits onto the same unit trees
    (see :mod:`pynomaly.engine.detectors.hst`), so scores are identical.
    """

    arrays: tuple[str, ...] = ("mass", "state", "scale", "pending")
    scale: np.ndarray
    pending: np.ndarray

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        fresh = super()._fresh(n)
        d, w = self.n_features, self.params.window_size
        # state columns: window counter, first window, rows waiting for the limits
        fresh["state"] = np.hstack([fresh["state"], np.zeros((n, 1), dtype=np.int64)])
        fresh["scale"] = np.zeros((n, 2, d))
        fresh["pending"] = np.zeros((n, w, d))
        return fresh

    def _run(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray, explain_at: float,
             out: np.ndarray, contrib: np.ndarray) -> None:
        p = self.params
        _hst_auto_bank_kernel(X, slots, keep, self.feature, self.threshold, self.mass,
                              p.height, p.window_size, self.state, self.scale, self.pending,
                              out, explain_at, contrib)

    def _tree_space(self, slot: int, x: np.ndarray) -> np.ndarray:
        return np.asarray((x - self.scale[slot, 0]) / self.scale[slot, 1])

    def explain(self, slot: int, x: np.ndarray) -> np.ndarray:
        if self.state[slot, 2] < self.params.window_size:
            return np.zeros(x.shape[0])
        return super().explain(slot, x)


@njit(cache=True, nogil=True)
def _metric_deviation_bank_kernel(
    X: np.ndarray, slots: np.ndarray, keep: np.ndarray, mean: np.ndarray, var: np.ndarray,
    lo: np.ndarray, hi: np.ndarray, smooth_z: np.ndarray, state: np.ndarray, top_k: int,
    smoothing: float, floor: float, relative_floor: float, cap: float, memory: float,
    learn_clip: float, learn_gate: float, out: np.ndarray, explain_at: float,
    contrib: np.ndarray, row: np.ndarray,
) -> None:
    """Each kept row through ``metric_deviation_kernel`` on its slot's state, in
    order; the contributions (``_explain``: each metric's smoothed z) on the
    state the row was scored with, for rows scoring at least ``explain_at``."""
    d = X.shape[1]
    explaining = explain_at < np.inf
    for i in range(X.shape[0]):
        if not keep[i]:
            out[i] = 0.0
            continue
        s = slots[i]
        if explaining:
            for j in range(d):
                z = _md_z(X[i, j], mean[s, j], var[s, j], lo[s, j], hi[s, j], floor,
                          relative_floor, cap)
                row[j] = smooth_z[s, j] + smoothing * (z - smooth_z[s, j])
        metric_deviation_kernel(X[i:i + 1], True, mean[s], var[s], lo[s], hi[s], smooth_z[s],
                                state[s], top_k, smoothing, floor, relative_floor, cap, memory,
                                learn_clip, learn_gate, out[i:i + 1])
        if explaining and out[i] >= explain_at:
            for j in range(d):
                contrib[i, j] = row[j]


class MetricDeviationBank(DetectorBank):
    """Banked :class:`~pynomaly.engine.detectors.metric_deviation.MetricDeviation`."""

    arrays: tuple[str, ...] = ("mean", "var", "lo", "hi", "smooth_z", "state")
    mean: np.ndarray
    var: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    smooth_z: np.ndarray
    state: np.ndarray

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        d = self.n_features
        return {"mean": np.zeros((n, d)), "var": np.zeros((n, d)), "lo": np.zeros((n, d)),
                "hi": np.zeros((n, d)), "smooth_z": np.zeros((n, d)), "state": np.zeros((n, 2))}

    label = "metric_deviation bank"

    def _run(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray, explain_at: float,
             out: np.ndarray, contrib: np.ndarray) -> None:
        p = self.params
        _metric_deviation_bank_kernel(
            X, slots, keep, self.mean, self.var, self.lo, self.hi, self.smooth_z, self.state,
            p.top_k, p.smoothing, p.floor, p.relative_floor, p.cap, p.memory, p.learn_clip,
            p.learn_gate, out, explain_at, contrib, np.empty(X.shape[1]))

    def explain(self, slot: int, x: np.ndarray) -> np.ndarray:
        """Each metric's smoothed z on the slot's state (``MetricDeviation.explain_one``)."""
        p = self.params
        sz = self.smooth_z[slot]
        out = np.empty(x.shape[0])
        for j in range(x.shape[0]):
            z = _md_z(float(x[j]), self.mean[slot, j], self.var[slot, j], self.lo[slot, j],
                      self.hi[slot, j], p.floor, p.relative_floor, p.cap)
            out[j] = sz[j] + p.smoothing * (z - sz[j])
        return out


#: detector name → (bank class, predicate on its params)
BANKS: dict[str, tuple[type[DetectorBank], Any]] = {
    "robust_zscore": (ZScoreBank, lambda p: True),
    "hst": (HSTBank, lambda p: True),
    "metric_deviation": (MetricDeviationBank, lambda p: True),
}


def bank_class(name: str, params: Any) -> type[DetectorBank]:
    """The bank of detector ``name`` with ``params`` (auto-limit HST has its own);
    a detector without array kernels over slots gets one object per slot
    (:class:`~pynomaly.engine.object_bank.ObjectBank`)."""
    if name == "hst" and params.limits == "auto":
        return AutoHSTBank
    entry = BANKS.get(name)
    if entry is None:
        from pynomaly.engine.object_bank import ObjectBank

        return ObjectBank
    return entry[0]


#: drift monitors with a banked form: per-slot state vectors run by a numba
#: kernel (River's monitors run per value in Python and stay per-key)
BANKED_MONITORS = frozenset({"fast_page_hinkley"})


def bank_supported(config: PipelineConfig) -> bool:
    """Whether ``config`` can run banked with results identical to per-key pipelines:
    a detector with a bank, any calibration (``none``, ``conformal``, ``spot``,
    ``dspot``) with any threshold the pipeline accepts, drift monitors of the
    kinds in :data:`BANKED_MONITORS` with any policy, no ``protect``."""
    entry = BANKS.get(config.detector.name)
    params = detector_class(config.detector.name).Params(**config.detector.params)
    monitors = all(m.monitor in BANKED_MONITORS for m in config.drift)
    return (entry is None or bool(entry[1](params))) and monitors and not config.protect


def make_bank(config: PipelineConfig, n_features: int) -> DetectorBank:
    """An empty bank for ``config`` (see :func:`bank_supported`); with conformal,
    SPOT or DSPOT calibration, the bank also holds each slot's calibrator
    (:mod:`pynomaly.engine.decision.banked_calibration`)."""
    if not bank_supported(config):
        raise ValueError(f"detector {config.detector.name!r} with this pipeline config has no bank")
    params = detector_class(config.detector.name).Params(**config.detector.params)
    cls = bank_class(config.detector.name, params)
    cal = config.calibration
    if cal.kind == "conformal":
        from pynomaly.engine.decision.banked_calibration import CONFORMAL_BANKS

        return CONFORMAL_BANKS[cls](params, n_features, window=int(cal.window))
    if cal.kind in ("spot", "dspot"):
        from pynomaly.engine.decision.banked_calibration import SPOT_BANKS

        return SPOT_BANKS[cls](params, n_features, spot=cal)
    return cls(params, n_features)


def prepare_values(X: np.ndarray) -> np.ndarray:
    """What ``Detector._prepare`` does to finite-checked values, elementwise."""
    X = np.asarray(X, dtype=np.float64)
    if not np.isfinite(X).all() or np.abs(X).max(initial=0.0) > INPUT_LIMIT:
        X = np.nan_to_num(X, nan=0.0, posinf=INPUT_LIMIT, neginf=-INPUT_LIMIT)
        np.clip(X, -INPUT_LIMIT, INPUT_LIMIT, out=X)
    return np.ascontiguousarray(X)


def explanation_shares(contrib: np.ndarray | None) -> np.ndarray | None:
    """Contributions made absolute and normalised to sum 1, as
    ``ScoringPipeline._explain`` does.

    >>> explanation_shares(np.array([-1.0, 3.0])).tolist()
    [0.25, 0.75]
    """
    if contrib is None:
        return None
    a = np.abs(np.nan_to_num(np.asarray(contrib, dtype=np.float64)))
    s = a.sum()
    return a / s if s > 0 else np.full(a.shape[0], 1.0 / a.shape[0])
