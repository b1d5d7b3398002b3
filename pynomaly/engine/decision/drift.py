"""Drift monitors on inputs and scores, drift events as data, and drift policies.

A monitor watches one univariate stream (one input feature, or the raw scores)
and reports the positions where it detected a change. Kinds:

- ``adwin``, ``page_hinkley``, ``kswin``: wrappers over ``river.drift``
  (one Python call per value; parameters are River's, validated on build).
- ``fast_page_hinkley``: the same test as River's PageHinkley as a numba
  kernel over a whole batch (:mod:`pynomaly.engine.decision.drift_kernels`); the fast
  choice, and the one a flow on the banked detect path can use (one state
  vector per key, :mod:`pynomaly.engine.banked_pipeline`).

A detection becomes a :class:`DriftEvent` (monitor, stream, index in the key's
event stream, detail) that flows downstream as data. The per-flow
:data:`DriftPolicy` says what the pipeline does when one fires:

- ``none``: only report it;
- ``reset``: re-initialise the detector (calibrator, threshold and warm-up kept);
- ``rewarm``: re-initialise detector and calibrator and start a new warm-up;
- ``recalibrate``: reset the calibrator only.

Examples
--------
>>> import numpy as np
>>> mon = make_monitor("fast_page_hinkley", {"threshold": 20.0})
>>> x = np.r_[np.zeros(100), np.full(50, 3.0)]
>>> mon.update_many(x).tolist()
[106]
>>> cfg = DriftMonitorConfig(monitor="adwin", stream="input", params={"delta": 0.01})
>>> cfg.build()
AdwinMonitor(delta=0.01, clock=32, max_buckets=5, min_window_length=5, grace_period=10)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pynomaly.engine.decision.calibration import ComponentParams, StatefulComponent
from pynomaly.engine.decision.drift_kernels import (
    MODE_BOTH,
    MODE_DOWN,
    MODE_UP,
    _page_hinkley_kernel,
    new_page_hinkley_state,
)

DriftPolicy = Literal["none", "reset", "rewarm", "recalibrate"]
Stream = Literal["input", "score"]


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """A detected change. ``index`` counts events of the key from 0."""

    monitor: str
    stream: str
    index: int
    detail: dict[str, Any] = field(default_factory=dict)


class DriftMonitor(StatefulComponent):
    """A univariate change detector; ``update_many`` returns detection positions."""

    def update_many(self, values: Any) -> np.ndarray:
        """Feed values in order; positions (into ``values``) where drift fired.

        A non-finite value is not a measurement: it is skipped, so it can neither
        fire nor poison the running sums (a clipped ``inf`` squared overflows and
        blinds the monitor for good).
        """
        x = np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(-1))
        finite = np.isfinite(x)
        if finite.all():
            return self._update_many(x)
        kept = np.flatnonzero(finite)
        hits: np.ndarray = kept[self._update_many(np.ascontiguousarray(x[kept]))]
        return hits

    def _update_many(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _RiverMonitor(DriftMonitor):
    """Holds one ``river.drift`` detector built from the params."""

    #: name of the class in ``river.drift`` (River is imported on first use:
    #: it takes about a second, which flows without River monitors should not pay)
    river_class: str = ""

    def reset(self) -> None:
        from river import drift as river_drift

        args = {k: v for k, v in self.get_params().items() if k != "kind"}
        self._model = getattr(river_drift, self.river_class)(**args)

    def _update_many(self, x: np.ndarray) -> np.ndarray:
        model = self._model
        hits = []
        for i, v in enumerate(x.tolist()):
            model.update(v)
            if model.drift_detected:
                hits.append(i)
        return np.asarray(hits, dtype=np.int64)

    def _get_state(self) -> dict[str, Any]:
        return {"model": copy.deepcopy(self._model)}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._model = copy.deepcopy(state["model"])


class AdwinParams(ComponentParams):
    kind: Literal["adwin"] = "adwin"
    delta: float = Field(0.002, gt=0.0, lt=1.0)
    clock: int = Field(32, ge=1)
    max_buckets: int = Field(5, ge=2)
    min_window_length: int = Field(5, ge=1)
    grace_period: int = Field(10, ge=1)


class AdwinMonitor(_RiverMonitor):
    kind = "adwin"
    Params = AdwinParams
    params: AdwinParams
    river_class = "ADWIN"


class PageHinkleyParams(ComponentParams):
    kind: Literal["page_hinkley"] = "page_hinkley"
    min_instances: int = Field(30, ge=1)
    delta: float = Field(0.005, ge=0.0)
    threshold: float = Field(50.0, gt=0.0)
    alpha: float = Field(1 - 0.0001, gt=0.0, le=1.0)
    mode: Literal["both", "up", "down"] = "both"


class PageHinkleyMonitor(_RiverMonitor):
    kind = "page_hinkley"
    Params = PageHinkleyParams
    params: PageHinkleyParams
    river_class = "PageHinkley"


class KswinParams(ComponentParams):
    kind: Literal["kswin"] = "kswin"
    alpha: float = Field(0.005, gt=0.0, lt=1.0)
    window_size: int = Field(100, ge=2)
    stat_size: int = Field(30, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _stat_fits_window(self) -> KswinParams:
        if self.stat_size >= self.window_size:
            raise ValueError("stat_size must be smaller than window_size")
        return self


class KswinMonitor(_RiverMonitor):
    kind = "kswin"
    Params = KswinParams
    params: KswinParams
    river_class = "KSWIN"


class FastPageHinkleyParams(PageHinkleyParams):
    kind: Literal["fast_page_hinkley"] = "fast_page_hinkley"  # type: ignore[assignment]


class FastPageHinkleyMonitor(DriftMonitor):
    """River's Page-Hinkley as one numba call per batch."""

    kind = "fast_page_hinkley"
    Params = FastPageHinkleyParams
    params: FastPageHinkleyParams
    _MODES = {"both": MODE_BOTH, "up": MODE_UP, "down": MODE_DOWN}

    def reset(self) -> None:
        self._st = new_page_hinkley_state()

    def _update_many(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        hits: np.ndarray = _page_hinkley_kernel(
            x, self._st, p.min_instances, p.delta, p.threshold, p.alpha, self._MODES[p.mode]
        )
        return hits

    def _get_state(self) -> dict[str, Any]:
        return {"st": self._st.copy()}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._st = np.asarray(state["st"], dtype=np.float64).copy()


MONITORS: dict[str, type[DriftMonitor]] = {
    c.kind: c for c in (AdwinMonitor, PageHinkleyMonitor, KswinMonitor, FastPageHinkleyMonitor)
}
MonitorKind = Literal["adwin", "page_hinkley", "kswin", "fast_page_hinkley"]


def make_monitor(kind: str, params: dict[str, Any] | None = None) -> DriftMonitor:
    """Build a drift monitor of ``kind`` with validated ``params``."""
    if kind not in MONITORS:
        raise ValueError(f"unknown drift monitor {kind!r}; known: {', '.join(sorted(MONITORS))}")
    return MONITORS[kind](**(params or {}))


class DriftMonitorConfig(BaseModel):
    """One monitor of a pipeline: which test, on which stream, with which params."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    monitor: MonitorKind = Field(description="drift test")
    stream: Stream = Field("score", description="'input' (each feature) or 'score' (raw scores)")
    features: list[int] | None = Field(
        None, description="input features to watch (default: all); only for stream='input'"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="parameters of the test")

    @model_validator(mode="after")
    def _check(self) -> DriftMonitorConfig:
        if self.features is not None:
            if self.stream != "input":
                raise ValueError("features can only be given for stream='input'")
            if not self.features or min(self.features) < 0:
                raise ValueError("features must be a non-empty list of feature indices >= 0")
        if "kind" in self.params:
            raise ValueError("give the test in 'monitor', not params['kind']")
        self.build()  # validates params with the monitor's own model
        return self

    def build(self) -> DriftMonitor:
        """A fresh monitor for one univariate stream."""
        return make_monitor(self.monitor, self.params)
