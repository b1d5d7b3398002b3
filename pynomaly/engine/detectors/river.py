"""Adapter that runs any ``river.anomaly`` detector under the Detector contract.

River detectors learn and score one event at a time from a ``dict`` of features
(``learn_one``/``score_one``), higher = more anomalous. The adapter turns each
row of a batch into such a dict (feature names ``x0 .. x{d-1}``, or
``feature_names``), scores it, then learns it, in order, so its scores are
exactly those of the raw River model fed the same stream. ``score_one`` and
``learn_one`` also accept a dict, mapped onto the feature order (the keys of
the first dict seen, or ``feature_names``).

Options:

- ``preprocessing``: a ``river.preprocessing`` transformer placed in front of
  the model as a River pipeline (``MinMaxScaler`` suits ``HalfSpaceTrees``,
  whose trees assume features in ``[0, 1]``).
- ``seed``: passed as the model's ``seed`` when its constructor has one and
  ``model_params`` does not set it, so runs are reproducible by default.
- ``drift_detector``: a ``river.drift`` detector (``ADWIN``, ``KSWIN``,
  ``PageHinkley``) fed every learned event's score, except during the first
  ``drift_grace`` events after each (re)start (set it to a ``HalfSpaceTrees``
  window, whose scores are 0 until its first window fills). When it signals
  drift, the model and the drift detector are replaced by fresh, untrained
  copies, which learn the new regime. ``n_drifts`` counts the replacements.
- :meth:`RiverDetector.from_model` wraps an already built River model (any
  anomaly detector, anomaly filter or pipeline ending in one). It is a Python
  API only: the instance is carried pickled in the ``model_pickle`` parameter.

The snapshot state holds the pickled River model (River estimators are
picklable) and, when used, the pickled drift detector.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("river", model="HalfSpaceTrees",
...                       model_params={"n_trees": 10, "height": 6, "window_size": 50})
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(300, 2)), [[8.0, -8.0]]])
>>> bool(s[-1] > np.quantile(s[100:-1], 0.99))
True
>>> round(det.score_one({"x0": 0.0, "x1": 0.0}), 3) < round(det.score_one([8.0, -8.0]), 3)
True

References
----------
Montiel, J. et al. (2021). River: machine learning for streaming data in Python.
Journal of Machine Learning Research 22(110), 1-8.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import Field, model_validator
from river import base as river_base
from river import compose

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register


def _resolve(name: str, package: str) -> type:
    """The class ``name`` (short, or dotted like ``river.anomaly.LODA``) in ``package``."""
    module_name, _, attr = name.rpartition(".")
    module = importlib.import_module(module_name or package)
    try:
        cls: type = getattr(module, attr)
        return cls
    except AttributeError:
        raise ValueError(f"{module.__name__} has no {attr!r}") from None


def _final_step(model: Any) -> Any:
    return list(model.steps.values())[-1] if isinstance(model, compose.Pipeline) else model


def _check_unsupervised(model: Any) -> None:
    final = _final_step(model)
    if not isinstance(final, river_base.AnomalyDetector | river_base.AnomalyFilter):
        raise TypeError(
            f"{type(final).__name__} is not an unsupervised river anomaly detector "
            "(river.base.AnomalyDetector or AnomalyFilter)"
        )


class RiverParams(DetectorParams):
    model: str = Field("HalfSpaceTrees", description="river.anomaly class, short or dotted name")
    model_params: dict[str, Any] = Field(default_factory=dict, description="model kwargs")
    preprocessing: str | None = Field(
        "MinMaxScaler", description="river.preprocessing transformer in front (None = off)"
    )
    preprocessing_params: dict[str, Any] = Field(default_factory=dict)
    feature_names: tuple[str, ...] | None = Field(
        None, description="names of the features in array order (default x0..x{d-1})"
    )
    seed: int | None = Field(0, description="model seed when it takes one and none is given")
    drift_detector: str | None = Field(
        None, description="river.drift detector on the scores; drift resets the model"
    )
    drift_params: dict[str, Any] = Field(default_factory=dict)
    drift_grace: int = Field(
        0, ge=0, description="events after each (re)start whose scores skip the drift detector"
    )
    model_pickle: bytes | None = Field(
        None, repr=False, description="pickled model instance (set by from_model)"
    )

    @model_validator(mode="after")
    def _check_buildable(self) -> RiverParams:
        try:
            _build_model(self)
        except TypeError as exc:  # a wrong model kind is a bad parameter value here
            raise ValueError(str(exc)) from None
        if self.drift_detector is not None:
            _build_drift(self)
        if self.feature_names is not None and len(set(self.feature_names)) != len(
            self.feature_names
        ):
            raise ValueError("feature_names must be distinct")
        return self


def _build_model(p: RiverParams) -> Any:
    if p.model_pickle is not None:
        model = pickle.loads(p.model_pickle)
    else:
        cls = _resolve(p.model, "river.anomaly")
        kwargs = dict(p.model_params)
        takes_seed = "seed" in inspect.signature(cls).parameters
        if p.seed is not None and takes_seed and "seed" not in kwargs:
            kwargs["seed"] = p.seed
        model = cls(**kwargs)
    _check_unsupervised(model)
    if p.preprocessing is not None:
        prep = _resolve(p.preprocessing, "river.preprocessing")(**p.preprocessing_params)
        model = compose.Pipeline(prep, model)
    return model


def _build_drift(p: RiverParams) -> Any:
    assert p.drift_detector is not None
    return _resolve(p.drift_detector, "river.drift")(**p.drift_params)


@register
class RiverDetector(Detector):
    """Any ``river.anomaly`` detector; see the module docstring."""

    name = "river"
    Params = RiverParams
    params: RiverParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._names: tuple[str, ...] | None = self.params.feature_names

    @classmethod
    def from_model(cls, model: Any, **params: Any) -> RiverDetector:
        """Wrap a built River model (its learned state included).

        ``params`` are the other parameters (``preprocessing`` defaults to
        ``None`` here: put scaling into the model's own pipeline).

        >>> from river import anomaly, preprocessing
        >>> m = preprocessing.MinMaxScaler() | anomaly.LODA(seed=1)
        >>> det = RiverDetector.from_model(m)
        >>> det.score_learn_many([[0.1, 0.2], [0.3, 0.1]]).shape
        (2,)
        """
        _check_unsupervised(model)
        params.setdefault("preprocessing", None)
        return cls(
            model=type(_final_step(model)).__name__, model_pickle=pickle.dumps(model), **params
        )

    def __repr__(self) -> str:
        shown = {k: repr(v) for k, v in self.get_params().items()}
        if self.params.model_pickle is not None:
            shown["model_pickle"] = f"<{len(self.params.model_pickle)} bytes>"
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in shown.items())})"

    # -- dict input ------------------------------------------------------
    def _row(self, x: Mapping[str, Any]) -> list[float]:
        if self._names is None:
            self._names = tuple(str(k) for k in x)
        missing = [k for k in self._names if k not in x]
        extra = [k for k in x if k not in self._names]
        if missing or extra:
            raise ValueError(
                f"{self.name}: event keys do not match features {list(self._names)}: "
                f"missing {missing}, unexpected {extra}"
            )
        return [x[k] for k in self._names]

    def _rows(self, X: Any) -> Any:
        if isinstance(X, Mapping):
            return [self._row(X)]
        if isinstance(X, Sequence) and X and isinstance(X[0], Mapping):
            return [self._row(x) for x in X]
        return X

    def score_one(self, x: Any) -> float:
        """Score one event (a dict or a 1-D sequence of features) without learning it."""
        return super().score_one(self._rows(x))

    def learn_one(self, x: Any) -> None:
        """Learn one event (a dict or a 1-D sequence of features)."""
        super().learn_one(self._rows(x))

    def score_many(self, X: Any) -> np.ndarray:
        """Score rows of an array or a list of dicts; learn nothing."""
        return super().score_many(self._rows(X))

    def learn_many(self, X: Any) -> None:
        """Learn rows of an array or a list of dicts, in order."""
        super().learn_many(self._rows(X))

    def score_learn_many(self, X: Any) -> np.ndarray:
        """Score each row (array or list of dicts) before learning it, in order."""
        return super().score_learn_many(self._rows(X))

    def explain_one(self, x: Any) -> np.ndarray | None:
        return super().explain_one(self._rows(x))

    # -- contract ------------------------------------------------------------
    def _reset(self, n_features: int) -> None:
        if self._names is None:
            self._names = tuple(f"x{j}" for j in range(n_features))
        if len(self._names) != n_features:
            raise ValueError(
                f"{self.name}: {len(self._names)} feature names for {n_features} features"
            )
        self._model = _build_model(self.params)
        self._drift = _build_drift(self.params) if self.params.drift_detector else None
        self.n_drifts = 0
        self._since_start = 0

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        names, model = self._names, self._model
        out = np.empty(X.shape[0])
        if learn and self._drift is not None:
            return self._score_learn_drift(X, out)
        for i, row in enumerate(X.tolist()):
            x = dict(zip(names, row, strict=True))  # type: ignore[arg-type]
            out[i] = model.score_one(x)
            if learn:
                model.learn_one(x)
        return out

    def _score_learn_drift(self, X: np.ndarray, out: np.ndarray) -> np.ndarray:
        names, model, drift = self._names, self._model, self._drift
        assert drift is not None  # only called with a drift detector
        grace = self.params.drift_grace
        for i, row in enumerate(X.tolist()):
            x = dict(zip(names, row, strict=True))  # type: ignore[arg-type]
            out[i] = model.score_one(x)
            model.learn_one(x)
            self._since_start += 1
            if self._since_start > grace:
                drift.update(out[i])
                if drift.drift_detected:
                    self._model = model = model.clone()
                    self._drift = drift = _build_drift(self.params)
                    self._since_start = 0
                    self.n_drifts += 1
        return out

    def _get_state(self) -> dict[str, Any]:
        return {
            "names": self._names,
            "model": pickle.dumps(self._model, protocol=pickle.HIGHEST_PROTOCOL),
            "drift": None if self._drift is None else pickle.dumps(self._drift),
            "n_drifts": self.n_drifts,
            "since_start": self._since_start,
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._names = tuple(state["names"])
        self._model = pickle.loads(state["model"])
        self._drift = None if state["drift"] is None else pickle.loads(state["drift"])
        self.n_drifts = int(state["n_drifts"])
        self._since_start = int(state["since_start"])
