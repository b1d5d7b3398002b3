"""Peers run through the SMD harness: other libraries' streaming detectors and
the PCA baseline fitted on each machine's train rows.

Each factory returns a fresh :class:`PeerDetector`: the engine's detector
interface around a peer that scores each row, then learns it, through the
peer's own per-row API. Peers do not attribute scores to metrics, and their
state is not snapshotted (a pipeline that protects or acts on drift needs
snapshots; the harness's default pipeline does not). The PCA baseline is a
batch method: it buffers the train rows and fits when the harness calls
``train_done()``; afterwards it scores without learning.

>>> import numpy as np
>>> det = peer_factory("pca")()
>>> rng = np.random.default_rng(0)
>>> base = rng.normal(size=(500, 1))
>>> train = np.c_[base, base, base + 0.01 * rng.normal(size=(500, 1))]
>>> _ = det.score_learn_many(train); det.train_done()
>>> s = det.score_learn_many(np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 1.0]]))
>>> bool(s[1] > 10 * s[0])
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pynomaly.engine.base import Detector

#: Share of the standardised train variance the PCA baseline keeps.
PCA_VARIANCE = 0.9


class RowPeer:
    """A peer scored one row at a time: ``step(x)`` returns the score before learning x."""

    def __init__(self, make_step: Callable[[], Callable[[np.ndarray], float]]) -> None:
        self._make_step = make_step
        self._step: Callable[[np.ndarray], float] | None = None

    def score_learn_many(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self._step is None:
            self._step = self._make_step()
        step = self._step
        return np.array([step(x) for x in X], dtype=np.float64)

    def learn_many(self, X: Any) -> None:
        self.score_learn_many(X)


def _river_hst() -> Callable[[np.ndarray], float]:
    """River's HalfSpaceTrees with its defaults (features in [0, 1], as SMD is scaled)."""
    from river.anomaly import HalfSpaceTrees

    model = HalfSpaceTrees(seed=0)

    def step(x: np.ndarray) -> float:
        row = dict(enumerate(x.tolist()))
        s = model.score_one(row)
        model.learn_one(row)
        return s

    return step


def _pysad(cls_name: str) -> Callable[[], Callable[[np.ndarray], float]]:
    def make() -> Callable[[np.ndarray], float]:
        import pysad.models

        model = getattr(pysad.models, cls_name)()
        np.random.seed(0)
        return lambda x: float(model.fit_score_partial(x))

    return make


class TrainFittedPCA:
    """PCA reconstruction error fitted on the train rows (standardised, 90 % variance)."""

    def __init__(self, variance: float = PCA_VARIANCE) -> None:
        self.variance = variance
        self._rows: list[np.ndarray] = []
        self._fit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def train_done(self) -> None:
        X = np.concatenate(self._rows)
        mean = X.mean(axis=0)
        sd = X.std(axis=0)
        sd[sd == 0] = 1.0
        Z = (X - mean) / sd
        _, S, Vt = np.linalg.svd(Z, full_matrices=False)
        share = np.cumsum(S**2) / max(float(np.sum(S**2)), 1e-300)
        k = int(np.searchsorted(share, self.variance)) + 1
        self._fit = (mean, sd, Vt[:k].T)
        self._rows = []

    def score_learn_many(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self._fit is None:
            self._rows.append(X.copy())
            return np.zeros(X.shape[0])
        mean, sd, V = self._fit
        Z = (X - mean) / sd
        R = Z - (Z @ V) @ V.T
        return np.einsum("ij,ij->i", R, R)

    def learn_many(self, X: Any) -> None:
        self.score_learn_many(X)


class PeerDetector(Detector):
    """A peer behind the :class:`~pynomaly.engine.base.Detector` interface (not registered)."""

    name = "peer"

    def __init__(self, peer: Any) -> None:
        super().__init__()
        self.peer = peer
        train_done = getattr(peer, "train_done", None)
        if train_done is not None:
            self.train_done = train_done

    def _reset(self, n_features: int) -> None:
        pass

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if not learn:
            raise NotImplementedError(f"{type(self.peer).__name__}: peers score only while learning")
        return self.peer.score_learn_many(X)

    def _get_state(self) -> dict[str, Any]:
        raise NotImplementedError("peers are not snapshotted")

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        raise NotImplementedError("peers are not snapshotted")


PEERS: dict[str, Callable[[], Any]] = {
    "river_hst": lambda: RowPeer(_river_hst),
    "pysad_loda": lambda: RowPeer(_pysad("LODA")),
    "pysad_xstream": lambda: RowPeer(_pysad("xStream")),
    "pca": TrainFittedPCA,
}


def peer_factory(name: str) -> Callable[[], Any]:
    """Factory of fresh peers named ``name``; ``ValueError`` lists the known ones."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(sorted(PEERS))}")
    make = PEERS[name]
    return lambda: PeerDetector(make())
