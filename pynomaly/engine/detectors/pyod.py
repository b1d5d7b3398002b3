"""PyOD models in incremental form: a sliding reference window, periodic refits.

PyOD detectors are batch models (``fit`` on a matrix, ``decision_function``
on new rows). The adapter keeps the last ``window`` events as the reference
set and refits a fresh model on it every ``refit_every`` learned events.
Events are scored, before they are learned, by the model in use; until the
first fit (fewer than ``min_fit`` events seen) scores are 0. With
``synchronous=True`` the semantics are those of this loop, which the tests run
side by side with the adapter::

    for x in stream:
        score = model.decision_function(x[None])[0] if model else 0.0
        window.append(x)                              # deque(maxlen=window)
        since += 1
        if (model is None and len(window) >= min_fit) or (
            model is not None and since >= refit_every
        ):
            model, since = make_model().fit(np.array(window)), 0

With ``synchronous=False`` (default) refits run off the scoring path, one
period behind: at each refit point the model fitted on the previous refit
point's window is put in use (waiting for it only if it is not ready yet), and
a fit on the current window is handed to a shared thread pool
(PyOD/scikit-learn/numba release the GIL for much of a fit). A fit thus has
``refit_every`` events' worth of scoring time to finish, and the hot path
stalls only when fits take longer than that (back-pressure, never a stale
model). The first fit, at ``min_fit`` events, runs in line. The swap points
are fixed event counts, so this mode is deterministic too: it equals the loop
above with ``model`` replaced, at each refit point, by the fit started at the
previous one.

Speed: a batch is cut only where a refit falls, and each piece is scored
with one ``decision_function`` call. ECOD and COPOD are transductive in PyOD
(a row's score depends on the rest of its batch), so they are scored by
:class:`~pynomaly.engine.detectors.pyod_ecdf.EcdfScorer`, an exact batched
form of the one-row call. Models not in :data:`MODELS` (any
``pyod.models.<module>.<Class>`` path) are scored one row per call.

Snapshots hold rows, not pickled models: the rows the model in use was fitted
on, the rows of the fit in flight, the window and the counters. That is
smaller for most models (an ``IForest`` of 100 trees fitted on 1,024 4-feature
events pickles to 1.2 MB; the snapshot is under 100 kB) and independent of
scikit-learn/PyOD pickle compatibility. Restoring refits on the stored rows
(the model in use in line, the one in flight in the pool), which gives the
same models for deterministic fits (ECOD, COPOD, HBOS, LOF, KNN, PCA) and for
seeded ones (``IForest``'s ``random_state``, set from ``seed`` unless
``model_params`` gives one): a restored detector scores exactly as the live
one would have.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("pyod", model="ECOD", window=256, refit_every=64,
...                       min_fit=64, synchronous=True)
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(300, 2)), [[6.0, -6.0]]])
>>> bool(np.all(s[:64] == 0.0)), bool(s[-1] > np.quantile(s[64:-1], 0.99))
(True, True)
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.pyod_ecdf import EcdfScorer
from pynomaly.engine.registry import register

#: Short name -> (module, class, how decision_function is used). "batch":
#: row scores are independent of the batch (checked by the tests); "ecdf": the
#: exact batched form of one-row scoring; "row": one call per row.
MODELS: dict[str, tuple[str, str, str]] = {
    "IForest": ("pyod.models.iforest", "IForest", "batch"),
    "ECOD": ("pyod.models.ecod", "ECOD", "ecdf"),
    "COPOD": ("pyod.models.copod", "COPOD", "ecdf"),
    "HBOS": ("pyod.models.hbos", "HBOS", "batch"),
    "LOF": ("pyod.models.lof", "LOF", "batch"),
    "KNN": ("pyod.models.knn", "KNN", "batch"),
    "PCA": ("pyod.models.pca", "PCA", "batch"),
}

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def refit_pool() -> ThreadPoolExecutor:
    """The thread pool shared by every asynchronous refit (created on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, min(4, (os.cpu_count() or 2) - 1)),
                thread_name_prefix="pynomaly-pyod-refit",
            )
        return _pool


def _model_class(name: str) -> tuple[type, str]:
    if name in MODELS:
        module, cls, mode = MODELS[name]
    else:
        module, _, cls = name.rpartition(".")
        mode = "row"
        if not module.startswith("pyod.models."):
            known = ", ".join(MODELS)
            raise ValueError(f"model must be one of {known} or pyod.models.<module>.<Class>")
    try:
        return getattr(importlib.import_module(module), cls), mode
    except (ImportError, AttributeError):
        raise ValueError(f"cannot import {cls!r} from {module!r}") from None


class PyODParams(DetectorParams):
    model: str = Field("ECOD", description="PyOD model: a MODELS name or a dotted path")
    model_params: dict[str, Any] = Field(default_factory=dict, description="model kwargs")
    window: int = Field(1024, ge=2, description="reference window length (events)")
    refit_every: int = Field(256, ge=1, description="learned events between refits")
    min_fit: int = Field(128, ge=2, description="events needed before the first fit")
    synchronous: bool = Field(
        False, description="refit in line, or in a thread pool and use it one period later"
    )
    seed: int | None = Field(0, description="random_state when the model takes one")

    @model_validator(mode="after")
    def _check(self) -> PyODParams:
        if self.min_fit > self.window:
            raise ValueError(f"min_fit ({self.min_fit}) must not exceed window ({self.window})")
        try:
            _make_factory(self)()
        except TypeError as exc:
            raise ValueError(f"bad model_params for {self.model}: {exc}") from None
        return self


def _make_factory(p: PyODParams) -> Callable[[], Any]:
    cls, _ = _model_class(p.model)
    kwargs = dict(p.model_params)
    takes_seed = "random_state" in inspect.signature(cls).parameters
    if p.seed is not None and takes_seed and "random_state" not in kwargs:
        kwargs["random_state"] = p.seed
    return lambda: cls(**kwargs)


class _Fitted:
    """A fitted model with the rows it was fitted on and its batch scorer."""

    def __init__(self, model: Any, rows: np.ndarray, mode: str, kind: str) -> None:
        self.model = model
        self.rows = rows
        self.mode = mode
        self.ecdf = EcdfScorer(model, kind) if mode == "ecdf" else None

    @classmethod
    def fit(cls, factory: Callable[[], Any], rows: np.ndarray, mode: str, kind: str) -> _Fitted:
        return cls(factory().fit(rows), rows, mode, kind)

    def score(self, X: np.ndarray) -> np.ndarray:
        if self.ecdf is not None:
            return self.ecdf.score(X)
        if self.mode == "batch":
            return np.asarray(self.model.decision_function(X), dtype=np.float64)
        return np.array([self.model.decision_function(X[i : i + 1])[0] for i in range(len(X))])


@register
class PyODDetector(Detector):
    """A PyOD model refitted on a sliding window; see the module docstring."""

    name = "pyod"
    Params = PyODParams
    params: PyODParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        self._factory = _make_factory(p)
        self._mode = _model_class(p.model)[1]
        self._buf = np.zeros((p.window, n_features))
        self._pos = 0  # next write index in the ring buffer
        self._filled = 0
        self._since_fit = 0
        self._seen = 0
        self._fitted: _Fitted | None = None
        self._pending: Future[_Fitted] | None = None
        self._pending_rows: np.ndarray | None = None
        self.n_fits = 0

    # -- window ----------------------------------------------------------
    def _window_rows(self) -> np.ndarray:
        """The window's rows, oldest first (a copy)."""
        if self._filled < self.params.window:
            return self._buf[: self._filled].copy()
        return np.concatenate((self._buf[self._pos :], self._buf[: self._pos]))

    def _push(self, X: np.ndarray) -> None:
        w = self.params.window
        if X.shape[0] >= w:
            self._buf[:] = X[-w:]
            self._pos = 0
        else:
            end = self._pos + X.shape[0]
            if end <= w:
                self._buf[self._pos : end] = X
            else:
                cut = w - self._pos
                self._buf[self._pos :] = X[:cut]
                self._buf[: end - w] = X[cut:]
            self._pos = end % w
        self._filled = min(w, self._filled + X.shape[0])
        self._since_fit += X.shape[0]
        self._seen += X.shape[0]

    # -- refits ------------------------------------------------------------
    def _rows_until_fit(self) -> int:
        """Events to learn before the next refit point (at least 1)."""
        if self._fitted is None:
            return max(1, self.params.min_fit - self._filled)
        return max(1, self.params.refit_every - self._since_fit)

    def _fit_due(self) -> bool:
        if self._fitted is None:
            return self._filled >= self.params.min_fit
        return self._since_fit >= self.params.refit_every

    def _fit_now(self, rows: np.ndarray) -> _Fitted:
        return _Fitted.fit(self._factory, rows, self._mode, self.params.model)

    def _submit(self, rows: np.ndarray) -> None:
        self._pending_rows = rows
        self._pending = refit_pool().submit(
            _Fitted.fit, self._factory, rows, self._mode, self.params.model
        )

    def _adopt_pending(self) -> None:
        """Put the fit in flight in use, waiting for it if needed."""
        pending, self._pending, self._pending_rows = self._pending, None, None
        if pending is None:
            return
        try:
            self._install(pending.result())
        except Exception as exc:
            raise RuntimeError(f"{self.name}: refit of {self.params.model} failed: {exc}") from exc

    def _refit(self) -> None:
        """At a refit point: swap in and start fits as the mode says."""
        rows = self._window_rows()
        self._since_fit = 0
        if self.params.synchronous or self._fitted is None:
            self._install(self._fit_now(rows))
        else:
            self._adopt_pending()
            self._submit(rows)

    def _install(self, fitted: _Fitted) -> None:
        self._fitted = fitted
        self.n_fits += 1

    # -- contract ------------------------------------------------------------
    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if not learn:
            return self._score_with_current(X)
        out = np.empty(X.shape[0])
        i = 0
        while i < X.shape[0]:
            j = min(X.shape[0], i + self._rows_until_fit())
            out[i:j] = self._score_with_current(X[i:j])
            self._push(X[i:j])
            if self._fit_due():
                self._refit()
            i = j
        return out

    def _score_with_current(self, X: np.ndarray) -> np.ndarray:
        if self._fitted is None:
            return np.zeros(X.shape[0])
        return self._fitted.score(X)

    def _get_state(self) -> dict[str, Any]:
        return {
            "window": self._window_rows(),
            "fit_rows": None if self._fitted is None else self._fitted.rows.copy(),
            "pending_rows": None if self._pending_rows is None else self._pending_rows.copy(),
            "since_fit": self._since_fit,
            "seen": self._seen,
            "n_fits": self.n_fits,
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._push(np.asarray(state["window"], dtype=np.float64))
        self._since_fit = int(state["since_fit"])
        self._seen = int(state["seen"])
        if state["fit_rows"] is not None:
            self._fitted = self._fit_now(np.asarray(state["fit_rows"], dtype=np.float64))
        if state["pending_rows"] is not None:
            self._submit(np.asarray(state["pending_rows"], dtype=np.float64))
        self.n_fits = int(state["n_fits"])
