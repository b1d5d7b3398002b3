"""ScoringPipeline: detector → calibrator → threshold → drift monitors → policy.

One pipeline serves one key (entity). ``process_many(X)`` takes a batch of that
key's events in order and returns a :class:`PipelineResult` of arrays: raw
``scores``, ``probability`` of anomaly (``1 - p``, higher = more anomalous),
``is_anomaly`` flags, the ``threshold`` in force, the drift events, and for
flagged rows the per-feature ``explanations`` (the detector's ``explain_one``
made absolute and normalised to sum to 1, computed on the detector state the
row was scored with, before learning it: so they, like every other output,
do not depend on how the events were batched).

Batch-first: each batch is one detector call, one numba calibrator call, one
threshold call and one call per drift monitor. What would force a per-event
loop — ``protect`` (a flagged event is not learned by the detector) and a drift
policy (the detector or calibrator is reset right after the drifting event) —
is handled by speculation: the batch runs through on the optimistic path; if an
event at row ``e`` changes state, every component returns to its state before
the batch, replays rows ``[0, e]`` (identical results), applies the action, and
the rest of the batch is processed again from ``e + 1`` (in a pass of about
twice the rows the last pass kept, at least 32, doubling while no event cuts
it, so each event wastes a bounded amount of work). Batches without such
events pay only for saving the state.

With ``protect`` a flagged event is not learned by the detector, and a
conformal calibrator or quantile threshold learns it capped at its window
maximum (so it cannot mask the next anomaly, and the window cannot ratchet
down; see ``docs/adr/0031``). Warm-up: the first ``warmup`` events of a key
(and of each ``rewarm``) never alert.

The :class:`PipelineConfig` (pydantic) is what flow specs embed.

Examples
--------
>>> import numpy as np
>>> pipe = ScoringPipeline({"detector": "robust_zscore", "warmup": 50,
...                        "threshold": {"kind": "probability", "level": 0.999}})
>>> rng = np.random.default_rng(2)
>>> X = rng.normal(size=(1500, 3))
>>> X[1400] = [0.0, 12.0, 0.0]
>>> res = pipe.process_many(X)  # false alarms occur at rate 1 - level by construction
>>> np.flatnonzero(res.is_anomaly).tolist()
[1400]
>>> res.explanations[1400].round(2).tolist()
[0.0, 0.99, 0.01]
>>> again = ScoringPipeline.restore(pipe.snapshot())
>>> bool(np.all(again.process_many(X[:5]).scores == pipe.process_many(X[:5]).scores))
True
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

import pynomaly.engine.ensemble  # noqa: F401  (registers the "ensemble" detector)
from pynomaly.engine.base import SNAPSHOT_FORMAT, Detector
from pynomaly.engine.decision.calibration import Calibrator, make_calibrator
from pynomaly.engine.decision.calibration_conformal import ConformalParams
from pynomaly.engine.decision.calibration_none import NoCalibrationParams
from pynomaly.engine.decision.calibration_spot import DSpotParams, SpotParams
from pynomaly.engine.decision.drift import (
    MONITORS,
    DriftEvent,
    DriftMonitor,
    DriftMonitorConfig,
    DriftPolicy,
)
from pynomaly.engine.decision.thresholds import (
    ProbabilityThresholdParams,
    QuantileThresholdParams,
    StaticThresholdParams,
    Threshold,
    make_threshold,
)
from pynomaly.engine.registry import create_detector, detector_class, restore_detector
from pynomaly.engine.shapes import as_batch

PIPELINE_STATE_VERSION = 1
#: Smallest speculative pass after a cut: bounds the work a flag wastes.
_MIN_SPAN = 32

CalibrationConfig = Annotated[
    ConformalParams | SpotParams | DSpotParams | NoCalibrationParams, Field(discriminator="kind")
]
ThresholdConfig = Annotated[
    StaticThresholdParams | QuantileThresholdParams | ProbabilityThresholdParams,
    Field(discriminator="kind"),
]


class DetectorConfig(BaseModel):
    """A registered detector (``name``) and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="registered detector name, e.g. 'robust_zscore'")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        try:
            detector_class(name)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return name

    @field_validator("params")
    @classmethod
    def _valid_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("name")
        if name is not None:  # an unknown name is reported on its own field
            detector_class(name).Params(**params)  # errors are located under ``params``
        return params


class PipelineConfig(BaseModel):
    """Everything a :class:`ScoringPipeline` is built from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: DetectorConfig = Field(
        default_factory=lambda: DetectorConfig(name="robust_zscore"),
        description="detector name + params (a bare name is accepted)",
    )
    calibration: CalibrationConfig = Field(default_factory=ConformalParams)
    threshold: ThresholdConfig = Field(default_factory=ProbabilityThresholdParams)
    warmup: int = Field(100, ge=0, description="first events of a key never alert")
    protect: bool = Field(
        False,
        description="flagged events are not learned by the detector and are learned "
        "capped at the window maximum by a conformal calibrator or quantile threshold",
    )
    drift: list[DriftMonitorConfig] = Field(default_factory=list)
    drift_policy: DriftPolicy = Field("none", description="none, reset, rewarm, recalibrate")
    explain: bool = Field(True, description="attach per-feature explanations to flagged rows")

    @model_validator(mode="before")
    @classmethod
    def _bare_detector_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("detector"), str):
            data = {**data, "detector": {"name": data["detector"]}}
        return data

    @model_validator(mode="after")
    def _probability_needs_calibration(self) -> PipelineConfig:
        if self.calibration.kind == "none" and self.threshold.kind == "probability":
            raise ValueError("a probability threshold needs a calibration (not 'none')")
        return self

    @model_validator(mode="after")
    def _policy_needs_monitor(self) -> PipelineConfig:
        if self.drift_policy != "none" and not self.drift:
            raise ValueError(f"drift_policy={self.drift_policy!r} needs at least one drift monitor")
        return self


def _state_copy(detector: Detector) -> bytes | dict[str, Any]:
    """An independent copy of a detector's state (cheaper than a snapshot:
    no pickling); :func:`_detector_from` rebuilds the detector from it. A
    detector that has seen nothing yet gives its snapshot."""
    if detector.n_features is None:
        return detector.snapshot()
    return copy.deepcopy(detector._get_state())


def _detector_from(like: Detector, saved: bytes | dict[str, Any]) -> Detector:
    """A detector like ``like`` in the state ``saved`` (snapshot bytes or a
    :func:`_state_copy`)."""
    if isinstance(saved, bytes):
        return type(like).restore(saved)
    n = like.n_features
    if n is None:  # _state_copy gives a snapshot until the feature count is known
        raise ValueError("a detector state copy needs the detector's feature count")
    det = type(like)(**like.get_params())
    det.n_features = n
    det._reset(n)
    det._set_state(copy.deepcopy(saved), like.state_version)
    return det


def _can_explain(detector: Detector) -> bool:
    """Whether ``detector`` attributes scores to features (overrides the
    base class's ``explain_one`` or ``_explain``, which give None)."""
    cls = type(detector)
    return cls.explain_one is not Detector.explain_one or cls._explain is not Detector._explain


@dataclass
class PipelineResult:
    """Per-row outputs of one ``process_many`` call, aligned with its rows."""

    scores: np.ndarray
    probability: np.ndarray
    is_anomaly: np.ndarray
    threshold: np.ndarray
    #: ``"score"`` or ``"probability"``: the scale ``threshold`` is on.
    threshold_scale: str
    #: Index of the first row in the key's event stream.
    start: int
    drift_events: list[DriftEvent] = field(default_factory=list)
    #: Row → per-feature contributions (sum 1), only for flagged rows.
    explanations: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.scores.shape[0])


class ScoringPipeline:
    """Per-key scoring and decision; see the module docstring."""

    def __init__(self, config: PipelineConfig | dict[str, Any] | None = None) -> None:
        self.config = config if isinstance(config, PipelineConfig) else PipelineConfig.model_validate(config or {})
        c = self.config
        self.detector: Detector = create_detector(c.detector.name, **c.detector.params)
        self.calibrator: Calibrator = make_calibrator(c.calibration)
        self.threshold: Threshold = make_threshold(c.threshold)
        self.score_monitors: list[tuple[str, DriftMonitor]] = [
            (m.monitor, m.build()) for m in c.drift if m.stream == "score"
        ]
        #: (monitor kind, feature, monitor); built on the first batch.
        self.input_monitors: list[tuple[str, int, DriftMonitor]] | None = None
        self.n_seen = 0
        self.warm_start = 0
        #: Stream index from which score monitors see scores.
        self.score_watch_from = self.config.warmup

    # -- helpers -----------------------------------------------------------
    def _build_input_monitors(self, n_features: int) -> None:
        monitors: list[tuple[str, int, DriftMonitor]] = []
        for m in self.config.drift:
            if m.stream != "input":
                continue
            feats = m.features if m.features is not None else range(n_features)
            for f in feats:
                if f >= n_features:
                    raise ValueError(f"drift monitor {m.monitor!r}: feature {f} >= {n_features} features")
                monitors.append((m.monitor, int(f), m.build()))
        self.input_monitors = monitors

    def _monitors(self) -> list[DriftMonitor]:
        return [*(m for _, m in self.score_monitors), *(m for _, _, m in self.input_monitors or [])]

    def _run(self, seg: np.ndarray, base: int, out: dict[str, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray, int, list[tuple[int, DriftEvent]]]:
        """Score rows ``seg`` through every component, learning all of them.

        Writes the outputs into ``out`` from row ``base``. With ``protect`` the
        monitors stop at the first flagged row (where the batch will be cut).
        Returns (raw scores, flags, rows the monitors saw, drift hits as (row, event)).
        """
        raw = self.detector.score_learn_many(seg)
        warm = self._warm(base, seg.shape[0])
        if self._stops_at_flag():
            # The calibrator stops at the first flag and learns it protected:
            # it never needs a rollback for a flag.
            eligible = int(np.argmax(warm)) if warm.any() else seg.shape[0]
            p, done = self.calibrator.p_values_until(  # type: ignore[attr-defined]
                raw, self.threshold.params.level, eligible  # type: ignore[attr-defined]
            )
        else:
            # Detector scores are already finite 1-D float64: skip re-validation.
            p, done = self.calibrator._p_values(raw, True), seg.shape[0]
        prob = 1.0 - p
        flags, thr = self.threshold._decide(raw[:done], prob, True)
        flags = flags & warm[:done]
        sl = slice(base, base + done)
        out["scores"][sl], out["probability"][sl] = raw[:done], prob
        out["is_anomaly"][sl], out["threshold"][sl] = flags, thr
        seen = int(np.argmax(flags)) + 1 if self.config.protect and flags.any() else done
        hits = self._monitor(seg[:seen], raw[:seen], base)
        return raw, flags, seen, hits

    def _stops_at_flag(self) -> bool:
        """Protected, with a probability threshold and a calibrator that can stop at a flag."""
        return (
            self.config.protect
            and self.threshold.scale == "probability"
            and hasattr(self.calibrator, "p_values_until")
        )

    def _warm(self, base: int, m: int) -> np.ndarray:
        """Which of ``m`` rows from batch row ``base`` are past the warm-up."""
        return self.n_seen + base + np.arange(m) >= self.warm_start + self.config.warmup

    def _monitor(self, seg: np.ndarray, raw: np.ndarray, base: int
                 ) -> list[tuple[int, DriftEvent]]:
        """Feed the drift monitors.

        Score monitors skip the warm-up, and ``warmup`` events after every
        detector reset: a fresh detector's own warm-up scores (often zeros)
        would otherwise look like a drift and reset it again, forever.
        """
        if not self.score_monitors and not self.input_monitors:
            return []
        at = self.n_seen + base
        hits: list[tuple[int, DriftEvent]] = []
        for kind, feat, mon in self.input_monitors or []:
            for r in mon.update_many(seg[:, feat]).tolist():
                hits.append((r, DriftEvent(kind, "input", at + r, {"feature": feat})))
        if self.score_monitors:
            rows = np.flatnonzero(at + np.arange(seg.shape[0]) >= self.score_watch_from)
            for kind, mon in self.score_monitors:
                for r in rows[mon.update_many(raw[rows])].tolist():
                    hits.append((r, DriftEvent(kind, "score", at + r, {})))
        hits.sort(key=lambda h: h[0])
        return hits

    def _replay(
        self, seg: np.ndarray, raw: np.ndarray, prob: np.ndarray, base: int, cut: int,
        learn_cut: bool, monitors: bool, calibration: bool,
    ) -> list[tuple[int, DriftEvent]]:
        """Bring the rolled-back components through rows [0, cut] again.

        Outputs are already known. Unless ``learn_cut``, row ``cut`` is a
        protected flagged event: the detector skips it, and the calibrator and
        threshold learn it capped at their window maximum (leaving it out would
        let them ratchet down; learning it as is would let it mask later
        anomalies). The monitors are fed only when ``monitors`` (they were
        rolled back too).
        """
        n_learn = cut + 1 if learn_cut else cut
        if n_learn:
            self.detector.learn_many(seg[:n_learn])
        if calibration:  # False: the calibrator and threshold are already at row cut
            if n_learn:
                self.calibrator.learn_many(raw[:n_learn])
                self.threshold.decide(raw[:n_learn], prob[:n_learn])
            if not learn_cut:
                self.calibrator.learn_flagged(raw[cut : cut + 1])
                self.threshold.learn_flagged(raw[cut : cut + 1])
        if not monitors:
            return []
        return self._monitor(seg[: cut + 1], raw[: cut + 1], base)

    def _apply_policy(self, at: int) -> None:
        policy = self.config.drift_policy
        if policy in ("reset", "rewarm"):
            self.detector = self.detector.clone()
            for _, mon in self.score_monitors:
                mon.reset()
            self.score_watch_from = at + 1 + self.config.warmup
        if policy in ("rewarm", "recalibrate"):
            self.calibrator.reset()
            self.threshold.reset()
        if policy == "rewarm":
            self.warm_start = at + 1

    # -- public API --------------------------------------------------------
    def process_many(self, X: Any) -> PipelineResult:
        """Score, calibrate, decide and monitor a batch of one key's events,
        shape ``(n_samples, n_features)``."""
        X = as_batch(X, "pipeline")
        n = X.shape[0]
        out = {
            "scores": np.zeros(n), "probability": np.zeros(n),
            "is_anomaly": np.zeros(n, dtype=bool), "threshold": np.zeros(n),
        }
        start = self.n_seen
        events: list[DriftEvent] = []
        c = self.config
        act_on_drift = c.drift_policy != "none"
        speculative = c.protect or act_on_drift
        if self.input_monitors is None:
            self._build_input_monitors(X.shape[1])
        explaining = c.explain and _can_explain(self.detector)
        explanations: dict[int, np.ndarray] | None = {}
        pos = 0
        span = n  # rows per speculative pass: shrinks after a cut, grows again after none
        while pos < n:
            seg = X[pos : pos + span]
            saved: list[Any] = []
            if speculative:
                det_blob = self.detector.snapshot()
                if act_on_drift or not self._stops_at_flag():
                    saved = [comp.save_state() for comp in (self.calibrator, self.threshold)]
                saved_monitors = [m.save_state() for m in self._monitors()] if act_on_drift else []
            explain_from: Any = None  # the detector before this pass, when a row can flag
            if explaining and self._warm(pos, seg.shape[0]).any():
                explain_from = det_blob if speculative else _state_copy(self.detector)
            raw, flags, seen, hits = self._run(seg, pos, out)
            first_flag = int(np.argmax(flags)) if c.protect and flags.any() else None
            first_drift = hits[0][0] if act_on_drift and hits else None
            cut = min((e for e in (first_flag, first_drift) if e is not None), default=None)
            final = seg.shape[0] if cut is None else cut + 1  # rows of this pass that stand
            if explain_from is not None and explanations is not None:
                explanations = self._explain_pass(
                    explain_from, seg, out["is_anomaly"][pos : pos + final], pos, explanations)
            if cut is None:
                events.extend(ev for _, ev in hits)
                pos += seg.shape[0]
                span *= 2
                continue
            # Roll back, replay rows [0, cut] (same outputs), act, go on from cut + 1.
            self.detector = type(self.detector).restore(det_blob)
            calibrated = self._stops_at_flag() and first_flag == cut  # already at row cut
            if not calibrated:
                for comp, state in zip((self.calibrator, self.threshold), saved, strict=True):
                    comp.load_state(state)
            rewind = seen > cut + 1  # the monitors saw rows past the cut
            if rewind:
                for mon, state in zip(self._monitors(), saved_monitors, strict=True):
                    mon.load_state(state)
            else:
                events.extend(ev for _, ev in hits)
            prob = out["probability"][pos : pos + cut + 1]
            events.extend(ev for _, ev in self._replay(
                seg, raw, prob, pos, cut, learn_cut=first_flag != cut, monitors=rewind,
                calibration=not calibrated,
            ))
            if first_drift == cut:
                for ev in events:
                    if ev.index == self.n_seen + pos + cut:
                        ev.detail["action"] = c.drift_policy
                self._apply_policy(self.n_seen + pos + cut)
            pos += cut + 1
            span = max(_MIN_SPAN, 2 * (cut + 1))
        self.n_seen += n
        result = PipelineResult(
            out["scores"], out["probability"], out["is_anomaly"], out["threshold"],
            self.threshold.scale, start, events,
        )
        if explanations:
            result.explanations = explanations
        return result

    def _explain_pass(self, before: Any, seg: np.ndarray, flagged: np.ndarray, base: int,
                      expl: dict[int, np.ndarray]) -> dict[int, np.ndarray] | None:
        """Add the explanations of the ``flagged`` rows of a pass (batch rows
        ``base + r``) to ``expl``, each on the detector state it was scored
        with: the detector as ``before`` (a snapshot or :func:`_state_copy`
        of it before the pass) learns the rows in between. None when the
        detector cannot attribute."""
        rows = np.flatnonzero(flagged).tolist()
        if not rows:
            return expl
        det = _detector_from(self.detector, before)
        done = 0
        for r in rows:
            if r > done:
                det.learn_many(seg[done:r])
                done = r
            contrib = det.explain_one(seg[r])
            if contrib is None:
                return None
            a = np.abs(np.asarray(contrib, dtype=np.float64))
            a[~np.isfinite(a)] = 0.0
            s = a.sum()
            expl[base + r] = a / s if s > 0 else np.full(a.shape[0], 1.0 / a.shape[0])
        return expl

    # -- snapshot ----------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Picklable state without the config (a bank of keys stores one config)."""
        return {
            "detector": self.detector.snapshot(),
            "calibrator": self.calibrator.snapshot(),
            "threshold": self.threshold.snapshot(),
            "score_monitors": [m.snapshot() for _, m in self.score_monitors],
            "input_monitors": None if self.input_monitors is None
            else [(k, f, m.snapshot()) for k, f, m in self.input_monitors],
            "n_seen": self.n_seen,
            "warm_start": self.warm_start,
            "score_watch_from": self.score_watch_from,
        }

    @classmethod
    def from_state(cls, config: PipelineConfig | dict[str, Any], state: dict[str, Any]) -> ScoringPipeline:
        """Rebuild a pipeline from its ``config`` and a :meth:`state` dict."""
        pipe = cls(config)
        pipe.detector = restore_detector(state["detector"])
        pipe.calibrator = type(pipe.calibrator).restore(state["calibrator"])
        pipe.threshold = type(pipe.threshold).restore(state["threshold"])
        pipe.score_monitors = [
            (k, type(m).restore(b))
            for (k, m), b in zip(pipe.score_monitors, state["score_monitors"], strict=True)
        ]
        if state["input_monitors"] is not None:
            pipe.input_monitors = [
                (k, f, MONITORS[k].restore(b)) for k, f, b in state["input_monitors"]
            ]
        pipe.n_seen = int(state["n_seen"])
        pipe.warm_start = int(state["warm_start"])
        pipe.score_watch_from = int(state.get("score_watch_from", pipe.config.warmup))
        return pipe

    def snapshot(self) -> bytes:
        """Versioned bytes of the config and the whole state; see :meth:`restore`."""
        payload = {
            "format": SNAPSHOT_FORMAT,
            "component": "pipeline",
            "state_version": PIPELINE_STATE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "state": self.state(),
        }
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes) -> ScoringPipeline:
        """Rebuild a pipeline from :meth:`snapshot` bytes."""
        payload = pickle.loads(blob)
        if payload.get("format") != SNAPSHOT_FORMAT or payload.get("component") != "pipeline":
            raise ValueError("not a pipeline snapshot of a supported format")
        return cls.from_state(payload["config"], payload["state"])
