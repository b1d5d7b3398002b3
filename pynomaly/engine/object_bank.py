"""Any detector as a bank: one detector object per slot.

Detectors without array kernels over slots (RCF, LODA, xStream, the
univariate and shape detectors, and the River, PyOD and torch adapters) still
run on the banked detect step: the calibration, thresholds, drift monitors,
cooldowns and alert rules are the banked ones, and only the detector is a
Python object per key, called once per key group of a batch with that key's
rows, in order, exactly as a per-key pipeline calls it. So this is the
one-slot case of the bank contract, for detectors whose state is not arrays.

Explanations are computed for the rows that alert, after the decision, as the
per-key pipeline does: the bank keeps each key's detector as it was before
the batch and replays the key's rows up to the alerting one
(:meth:`ObjectBank.take_replay`, :meth:`ObjectBank.explain_from`), instead of attributing every row's score.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> from pynomaly.engine.detectors.loda import Loda
>>> bank = ObjectBank(Loda.Params(seed=1), n_features=2)
>>> bank.ensure(2)
>>> X = np.random.default_rng(0).normal(size=(400, 2))
>>> slots = np.tile([0, 1], 200)
>>> scores = bank.score_learn(X, slots, np.ones(400, dtype=bool))
>>> twin = create_detector("loda", seed=1)
>>> bool(np.array_equal(scores[0::2], twin.score_learn_many(X[0::2])))
True
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from pynomaly.engine.banked import DetectorBank
from pynomaly.engine.base import Detector
from pynomaly.engine.pipeline import _can_explain, _detector_from, _state_copy
from pynomaly.engine.registry import detector_class, list_detectors


def _detector_type(params: Any) -> type[Detector]:
    """The registered detector whose parameter model ``params`` is (looked up
    in the module that defines that model first: importing every detector
    module would import the adapters' libraries)."""
    module = sys.modules.get(type(params).__module__)
    local = [v for v in vars(module).values()
             if isinstance(v, type) and issubclass(v, Detector)] if module else []
    for cls in local + [detector_class(name) for name in list_detectors()]:
        if getattr(cls, "Params", None) is type(params):
            return cls
    raise ValueError(f"no registered detector takes {type(params).__name__}")


class ObjectBank(DetectorBank):
    """Per-slot detector objects behind the :class:`~pynomaly.engine.banked.DetectorBank`
    interface (see the module docstring). Mixes with the calibration banks
    of :mod:`pynomaly.engine.decision.banked_calibration` like the array banks."""

    def __init__(self, params: Any, n_features: int) -> None:
        super().__init__(params, n_features)
        self.detector_type = _detector_type(params)
        self.label = f"{self.detector_type.name} bank"
        self.detectors: list[Detector | None] = []
        #: whether the detector attributes scores at all (else nothing is kept to explain)
        self.attributes = _can_explain(self.detector_type(**params.model_dump()))
        #: batch row → (slot, the slot's detector before its rows, the rows it got)
        self._replay: dict[int, tuple[Any, np.ndarray, int]] = {}

    # -- the bank interface ---------------------------------------------------
    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        return {}

    def ensure(self, capacity: int) -> None:
        """Make room for slots ``0 .. capacity - 1`` (doubling, as array banks)."""
        super().ensure(capacity)
        self.detectors.extend([None] * (self.capacity - len(self.detectors)))

    def reset(self, slots: np.ndarray, names: tuple[str, ...] | None = None) -> None:
        """Give ``slots`` a new detector (made at their next row) and fresh
        arrays (of ``names`` only, and then no new detector)."""
        super().reset(slots, names)
        if names is None:
            self.reset_detectors(slots)

    def reset_detectors(self, slots: np.ndarray) -> None:
        """Give ``slots`` a new detector, keeping every array (calibration)."""
        for s in np.asarray(slots).tolist():
            self.detectors[s] = None

    def _detector(self, slot: int) -> Detector:
        det = self.detectors[slot]
        if det is None:
            det = self.detectors[slot] = self.detector_type(**self.params.model_dump())
        return det

    def _run(self, X: np.ndarray, slots: np.ndarray, keep: np.ndarray, explain_at: float,
             out: np.ndarray, contrib: np.ndarray) -> None:
        """Each slot's kept rows through its detector's ``score_learn_many``, in
        order. With ``explain_at`` finite or ``-inf`` the contributions are left
        NaN and each kept row can be explained later (:meth:`explain_from`)."""
        out[:] = 0.0
        contrib[:] = np.nan
        explaining = explain_at < np.inf and self.attributes
        self._replay = {}
        rows = np.flatnonzero(keep)
        if not rows.size:
            return
        sl = np.asarray(slots)[rows]
        order = np.argsort(sl, kind="stable")
        bounds = np.flatnonzero(np.diff(sl[order])) + 1
        for group in np.split(rows[order], bounds):
            s = int(slots[group[0]])
            det = self._detector(s)
            if explaining:
                before = _state_copy(det)
                mine = X[group]
                for k, r in enumerate(group.tolist()):
                    self._replay[r] = (before, mine, k)
            out[group] = det.score_learn_many(X[group])

    def take_replay(self) -> dict[int, tuple[Any, np.ndarray, int]]:
        """What the latest call keeps to explain its rows: row → replay entry
        (the key's detector before the call, the key's rows, the row's place)."""
        replay, self._replay = self._replay, {}
        return replay

    def explain_from(self, entry: tuple[Any, np.ndarray, int] | None) -> np.ndarray | None:
        """The contributions of a replay entry's row (see :meth:`take_replay`) on
        the state its key's detector scored it with (None: the detector does not
        attribute, or the row was not scored)."""
        if entry is None:
            return None
        before, mine, k = entry
        like = self.detector_type(**self.params.model_dump())
        like.n_features = self.n_features
        det = _detector_from(like, before)
        if k:
            det.learn_many(mine[:k])
        contrib = det.explain_one(mine[k])
        return None if contrib is None else np.asarray(contrib, dtype=np.float64)

    def explain(self, slot: int, x: np.ndarray) -> np.ndarray | None:
        det = self.detectors[slot] if slot < len(self.detectors) else None
        return None if det is None or det.n_features is None else det.explain_one(x)

    def copy(self) -> ObjectBank:
        """An independent copy (arrays copied, each detector through its state;
        the detector objects are not in ``bytes_per_slot``: ``pynomaly plan``
        measures them)."""
        new = super().copy()
        assert isinstance(new, ObjectBank)
        new.detectors = [None if d is None else type(d).restore(d.snapshot())
                         for d in self.detectors]
        new._replay = {}
        return new

    def truncated_state(self, n: int) -> dict[str, Any]:
        """State with the arrays and detectors cut to the first ``n`` slots."""
        st = super().truncated_state(n)
        st["detectors"] = self.detectors[:n]
        st["_replay"] = {}
        return st
