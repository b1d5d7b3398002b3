"""Streaming Random Cut Forest (Guha, Mishra, Roy & Schrijvers 2016).

``n_trees`` robust random cut trees all hold the last ``tree_size`` points of
the stream. A point is inserted by the paper's InsertPoint (a random cut over
the bounding box extended by the point, dimension chosen in proportion to
its span; the point becomes a new leaf wherever the cut separates it) and
the oldest point is forgotten by ForgetPoint, so each tree stays distributed
as a tree built on the window. The score is the collusive displacement
(CoDisp, paper §4): for the point's leaf, the largest ratio, over its
ancestors, of the sibling's count to the count of the subtree holding the
point, averaged over trees. Higher = more anomalous.

Score-then-learn: the score of an event is its CoDisp in a forest holding the
window *and* the event (CoDisp needs the point in the tree), computed before
the oldest point is forgotten, as in ``rrcf``'s streaming example. Scoring
without learning (``score_one``, ``score_many``) inserts the event, scores
it, removes it again and rewinds the random state, so ``score_one`` followed
by ``learn_one`` gives exactly the score ``score_learn_many`` gives.

``shingle_size > 1`` turns the last ``shingle_size`` events into one point
(oldest first, as ``rrcf.shingle``); the first ``shingle_size - 1`` events
only fill the shingle and score 0. The explanation charges each tree's CoDisp
to the feature of the cut at which it peaks (the cut separating the point's
group from the points it displaces), summed over shingle positions; it sums
to the score.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("rcf", n_trees=20, tree_size=128, seed=1)
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(300, 3)), [[0.0, 9.0, 0.0]]])
>>> bool(s[-1] > np.quantile(s[100:-1], 0.99))
True
>>> contributions = det.explain_one([0.0, 9.0, 0.0])
>>> int(np.argmax(contributions)), bool(np.isclose(contributions.sum(), det.score_one([0.0, 9.0, 0.0])))
(1, True)

References
----------
Guha, S., Mishra, N., Roy, G. & Schrijvers, O. (2016). Robust random cut
forest based anomaly detection on streams. ICML 2016, PMLR 48:2712-2721
(InsertPoint §3.1, ForgetPoint §3, CoDisp definition 5).
Bartos, M., Mullapudi, A. & Troutman, S. (2019). rrcf: Implementation of the
Robust Random Cut Forest algorithm for anomaly detection on streams. JOSS
4(35), 1336. doi:10.21105/joss.01336
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.rcf_kernels import (
    CHUNK,
    COUNT,
    N_LINKS,
    PARENT,
    rebuild_boxes,
    score_learn,
)
from pynomaly.engine.registry import register

#: Node ids (up to ``2 * tree_size + CHUNK``) and counts are int16.
MAX_TREE_SIZE = (2**15 - 1 - CHUNK) // 2
#: Cut dimensions are int16 too.
MAX_DIMENSIONS = 2**15 - 1

#: Tree arrays in the order the kernels unpack them (layout in rcf_kernels).
TREE_ARRAYS = ("links", "box", "slot_leaf", "root", "free", "n_free", "rng")


class RandomCutForestParams(DetectorParams):
    n_trees: int = Field(40, ge=1, le=4096, description="number of trees")
    tree_size: int = Field(
        256, ge=2, le=MAX_TREE_SIZE, description="points in the sliding window"
    )
    shingle_size: int = Field(1, ge=1, le=1024, description="consecutive events per point")
    seed: int = Field(0, ge=0, description="seed of the trees' random cuts")


@register
class RandomCutForest(Detector):
    """Streaming Random Cut Forest; see the module docstring."""

    name = "rcf"
    Params = RandomCutForestParams
    params: RandomCutForestParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        T, S = p.n_trees, p.tree_size + CHUNK
        D = n_features * p.shingle_size
        if D > MAX_DIMENSIONS:
            raise ValueError(
                f"rcf: {n_features} features x shingle {p.shingle_size} = {D} dimensions;"
                f" at most {MAX_DIMENSIONS}"
            )
        n_int = p.tree_size
        self._points = np.zeros((S, D))
        self._window = np.zeros(2, dtype=np.int64)  # [n_points, next_slot]
        self._history = np.empty((0, n_features))
        self._trees: dict[str, np.ndarray] = {
            "links": np.zeros((T, n_int + S, N_LINKS), dtype=np.int16),
            "box": np.zeros((T, n_int, 1 + 2 * D)),
            "slot_leaf": np.full((T, S), -1, dtype=np.int16),
            "root": np.full(T, -1, dtype=np.int16),
            "free": np.tile(np.arange(n_int - 1, -1, -1, dtype=np.int16), (T, 1)),
            "n_free": np.full(T, n_int, dtype=np.int16),
            "rng": np.random.SeedSequence(p.seed).generate_state(T, dtype=np.uint64),
        }
        self._trees["links"][:, :, PARENT] = -1

    def _shingles(self, X: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
        """Points for the rows of X, the index of the first row with one, the new history."""
        s = self.params.shingle_size
        if s == 1:
            return X, 0, self._history
        history = np.concatenate([self._history, X])
        first = s - 1 - self._history.shape[0]
        if history.shape[0] < s:
            return np.empty((0, s * X.shape[1])), X.shape[0], history
        P = sliding_window_view(history, (s, X.shape[1]))[:, 0].reshape(-1, s * X.shape[1])
        return np.ascontiguousarray(P), max(first, 0), history[-(s - 1) :]

    def _run(self, X: np.ndarray, learn: bool) -> tuple[np.ndarray, np.ndarray]:
        P, first, history = self._shingles(X)
        out = np.zeros(X.shape[0])
        attribution = np.zeros((X.shape[0], X.shape[1]))
        if P.shape[0]:
            tr = tuple(self._trees[k] for k in TREE_ARRAYS)
            score_learn(P, tr, self._points, self._window, self.params.tree_size, learn,
                        X.shape[1], out[first:], attribution[first:])
        if learn:
            self._history = history
        return out, attribution

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        return self._run(X, learn)[0]

    def _explain(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._run(x.reshape(1, -1), False)[1][0])

    def nbytes(self) -> int:
        """Bytes held by the state arrays."""
        arrays = [self._points, self._window, self._history, *self._trees.values()]
        return sum(a.nbytes for a in arrays)

    def _get_state(self) -> dict[str, Any]:
        trees = {k: v.copy() for k, v in self._trees.items() if k not in ("box", "links")}
        n_int = self.params.tree_size
        links = self._trees["links"]
        trees["branches"] = links[:, :n_int].copy()
        trees["leaves"] = links[:, n_int:, PARENT : COUNT + 1].copy()  # leaves use only these
        trees["cut"] = self._trees["box"][:, :, 0].copy()  # boxes are rebuilt on restore
        return {"points": self._points.copy(), "window": self._window.copy(),
                "history": self._history.copy(), "trees": trees}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._points = np.array(state["points"], dtype=np.float64)
        self._window = np.array(state["window"], dtype=np.int64)
        self._history = np.array(state["history"], dtype=np.float64)
        trees = state["trees"]
        for k, v in trees.items():
            if k in self._trees:
                self._trees[k] = np.array(v, dtype=self._trees[k].dtype)
        n_int = self.params.tree_size
        self._trees["links"][:, :n_int] = trees["branches"]
        self._trees["links"][:, n_int:, PARENT : COUNT + 1] = trees["leaves"]
        self._trees["box"][:, :, 0] = trees["cut"]
        rebuild_boxes(tuple(self._trees[k] for k in TREE_ARRAYS), self._points)
