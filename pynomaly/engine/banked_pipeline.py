"""The scoring pipeline of the banked detect path: detector → calibrator →
threshold → warm-up → drift monitors → drift policy, for a batch of rows of
many keys (slots), with the results of one
:class:`~pynomaly.engine.pipeline.ScoringPipeline` per key.

The detector and its calibrator live in a bank
(:mod:`pynomaly.engine.banked`, :mod:`pynomaly.engine.decision.banked_calibration`);
the rest of a key's pipeline state is a row of :class:`PipelineSlots`: its
stream position (``n_seen``, for the warm-up), where its warm-up and its
score monitors start (moved by the drift policies ``rewarm`` and
``reset``), the window of a ``quantile`` threshold, and the state vector of
every drift monitor (``fast_page_hinkley``, the only kind with a banked form:
:data:`~pynomaly.engine.banked.BANKED_MONITORS`).

A batch is processed stage by stage, each stage one numba pass over rows in
arrival order. A drift policy makes the stages depend on each other: after a
key's drifting row its detector, calibrator or threshold start afresh. Keys
are independent, so :meth:`BankedPipeline.run` handles it in rounds: each
round runs the stages over the rows still to do and finds each key's first
drifting row; the rows up to it (and every row of a key without one) are
final; the policy is applied to the drifting keys and their later rows make
the next round. Input monitors are never reset by a policy, so they run once
over the whole batch. With ``reset`` or ``rewarm`` the detector of a drifting
key is replaced by a fresh one at its drifting row, so the later rows it
learned in the round are forgotten with it and are simply scored again;
with ``recalibrate`` the detector and score monitors are not touched and run
once. Rounds are as many as the most drifts of one key in a batch (one
without drift).

Example
-------
>>> import numpy as np
>>> from pynomaly.engine.banked import make_bank
>>> from pynomaly.engine.pipeline import PipelineConfig, ScoringPipeline
>>> cfg = PipelineConfig.model_validate({"detector": "robust_zscore", "warmup": 20,
...     "calibration": {"kind": "spot", "n_init": 100, "level": 0.9, "q": 1e-3},
...     "drift": [{"monitor": "fast_page_hinkley", "stream": "input",
...                "params": {"threshold": 20.0}}], "drift_policy": "rewarm"})
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(600, 1))
>>> X[300:] += 5.0  # both keys' level shifts
>>> slots = np.tile([0, 1], 300)
>>> pipe = BankedPipeline(cfg, n_features=1)
>>> bank, ps = make_bank(cfg, 1), pipe.new_slots()
>>> bank.ensure(2); ps.ensure(2)
>>> res = pipe.run(bank, ps, X, X, slots, np.ones(600, dtype=bool), np.inf)
>>> [(int(slots[r]), ev.index, ev.detail["action"]) for r, ev in res.drift]
[(0, 149, 'rewarm'), (1, 154, 'rewarm')]
>>> one = ScoringPipeline(cfg).process_many(X[1::2])  # key 1 on its own
>>> [ev.index for ev in one.drift_events], bool(np.array_equal(one.probability,
...                                                            res.probability[1::2]))
([154], True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pynomaly.engine.banked import BANKED_MONITORS, DetectorBank, SlotArrays
from pynomaly.engine.base import Detector
from pynomaly.engine.decision.banked_calibration import calibrated_bank, reset_detector
from pynomaly.engine.decision.banked_decide import quantile_thresholds, stream_index
from pynomaly.engine.decision.drift import DriftEvent, FastPageHinkleyMonitor, FastPageHinkleyParams
from pynomaly.engine.decision.drift_kernels import new_page_hinkley_state, page_hinkley_bank_kernel
from pynomaly.engine.object_bank import ObjectBank
from pynomaly.engine.pipeline import PipelineConfig


@dataclass(frozen=True)
class _Monitor:
    """One monitored stream of every key: ``feature`` of the input (or -1: the scores)."""

    kind: str
    stream: str
    feature: int
    params: FastPageHinkleyParams

    def detail(self) -> dict[str, Any]:
        return {"feature": self.feature} if self.stream == "input" else {}


class PipelineSlots(SlotArrays):
    """A shard's per-slot pipeline state besides the detector bank (one row
    per slot; see the module docstring). ``ensure``, ``reset``, ``copy`` and
    ``truncated_state`` work as a :class:`~pynomaly.engine.banked.DetectorBank`'s.
    """

    #: records each slot's pipeline learned (imputed ones included)
    n_seen: np.ndarray
    #: stream position where the warm-up started (``rewarm`` moves it; kept
    #: only with a policy that moves it, else 0)
    warm_start: np.ndarray
    #: stream position from which score monitors watch (``reset``/``rewarm``
    #: move it; kept only then, else the warm-up)
    watch_from: np.ndarray
    #: Page-Hinkley state vectors, ``(slot, monitor, 7)``
    monitors: np.ndarray
    #: a quantile threshold's window of past scores per slot
    q_ring: np.ndarray
    q_sorted: np.ndarray
    q_n: np.ndarray
    q_head: np.ndarray
    q_count: np.ndarray

    def __init__(self, warmup: int = 0, n_monitors: int = 0,
                 score_monitors: tuple[int, ...] = (), quantile_window: int = 0,
                 moving: bool = False) -> None:
        self.warmup = warmup
        self.n_monitors = n_monitors
        self.score_monitors = score_monitors
        self.quantile_window = quantile_window
        #: whether a drift policy moves the warm-up or the score monitors' start
        self.moving = moving
        # only what the pipeline uses takes memory: 8 bytes per slot without
        # drift monitors or a quantile threshold
        self.arrays: tuple[str, ...] = ("n_seen",)
        if moving:
            self.arrays += ("warm_start", "watch_from")
        if n_monitors:
            self.arrays += ("monitors",)
        if quantile_window:
            self.arrays += ("q_ring", "q_sorted", "q_n", "q_head", "q_count")
        self.capacity = 0

    def _fresh(self, n: int) -> dict[str, np.ndarray]:
        fresh: dict[str, np.ndarray] = {"n_seen": np.zeros(n, dtype=np.int64)}
        if self.moving:
            fresh["warm_start"] = np.zeros(n, dtype=np.int64)
            # score monitors skip the warm-up (ScoringPipeline.score_watch_from)
            fresh["watch_from"] = np.full(n, self.warmup, dtype=np.int64)
        if self.n_monitors:
            fresh["monitors"] = np.tile(new_page_hinkley_state(), (n, self.n_monitors, 1))
        if self.quantile_window:
            w = self.quantile_window
            fresh.update(q_ring=np.zeros((n, w)), q_sorted=np.zeros((n, w)),
                         q_n=np.zeros(n, dtype=np.int64), q_head=np.zeros(n, dtype=np.int64),
                         q_count=np.zeros(n, dtype=np.int64))
        return fresh

    def reset_score_monitors(self, slots: np.ndarray) -> None:
        """Fresh score monitors for ``slots`` (their input monitors go on)."""
        if self.score_monitors and len(slots):
            fresh = new_page_hinkley_state()
            for m in self.score_monitors:
                self.monitors[slots, m] = fresh

    def warm_from(self, slots: np.ndarray) -> np.ndarray:
        """Stream position from which each of ``slots`` may alert."""
        if not self.moving:
            return np.full(slots.shape[0], self.warmup, dtype=np.int64)
        return np.asarray(self.warm_start[slots] + self.warmup)

    def watched_from(self, slots: np.ndarray) -> np.ndarray:
        """Stream position from which the score monitors of ``slots`` watch."""
        if not self.moving:
            return np.full(slots.shape[0], self.warmup, dtype=np.int64)
        return np.asarray(self.watch_from[slots])

    def reset_threshold(self, slots: np.ndarray) -> None:
        """An empty quantile window for ``slots`` (nothing without one)."""
        if self.quantile_window:
            self.reset(slots, ("q_ring", "q_sorted", "q_n", "q_head", "q_count"))

    def copy(self) -> PipelineSlots:
        """An independent copy."""
        new: PipelineSlots = super().copy()
        return new


@dataclass
class BankedScores:
    """Per-row outputs of :meth:`BankedPipeline.run`, as a per-key
    :class:`~pynomaly.engine.pipeline.PipelineResult` gives them for each key's
    rows; rows not learned get score 0, probability and threshold NaN, no flag."""

    #: detector scores (cleaned as ``Detector._finish`` cleans them)
    scores: np.ndarray
    #: per-feature contributions of the rows scoring at least ``explain_at``
    contrib: np.ndarray
    #: ``1 - p`` (NaN without calibration)
    probability: np.ndarray
    #: the threshold in force
    threshold: np.ndarray
    #: the threshold's flag, past the warm-up
    flags: np.ndarray
    #: (row, event), by row then monitor (inputs before scores), per key as
    #: ``PipelineResult.drift_events``; ``event.index`` is the key's stream position
    drift: list[tuple[int, DriftEvent]] = field(default_factory=list)
    #: a bank that explains after the decision (:class:`~pynomaly.engine.object_bank.ObjectBank`):
    #: the contributions of a row on the state it was scored with; ``contrib`` is NaN then
    explain_row: Callable[[int], np.ndarray | None] | None = None


class BankedPipeline:
    """The per-key pipeline of ``config`` over slot-indexed state (see the
    module docstring); holds no state itself."""

    def __init__(self, config: PipelineConfig, n_features: int) -> None:
        self.config = config
        for m in config.drift:
            if m.monitor not in BANKED_MONITORS:
                raise ValueError(f"drift monitor {m.monitor!r} has no banked form")
        inputs = []
        for m in config.drift:
            if m.stream != "input":
                continue
            for f in m.features if m.features is not None else range(n_features):
                if f >= n_features:
                    raise ValueError(
                        f"drift monitor {m.monitor!r}: feature {f} >= {n_features} features")
                inputs.append(_Monitor(m.monitor, "input", int(f),
                                       FastPageHinkleyParams(**m.params)))
        scores = [_Monitor(m.monitor, "score", -1, FastPageHinkleyParams(**m.params))
                  for m in config.drift if m.stream == "score"]
        #: every monitored stream, in the order a per-key pipeline reports
        #: events of one row: input monitors, then score monitors
        self.monitors: list[_Monitor] = inputs + scores
        self.policy = config.drift_policy
        self.warmup = int(config.warmup)
        thr = config.threshold
        self.quantile_window = int(thr.window) if thr.kind == "quantile" else 0

    def new_slots(self) -> PipelineSlots:
        """Empty per-slot state for this pipeline."""
        n_in = sum(m.stream == "input" for m in self.monitors)
        return PipelineSlots(self.warmup, len(self.monitors),
                             tuple(range(n_in, len(self.monitors))), self.quantile_window,
                             moving=self.policy in ("reset", "rewarm"))

    def run(self, bank: DetectorBank, ps: PipelineSlots, X: np.ndarray, raw: np.ndarray,
            slots: np.ndarray, learn: np.ndarray, explain_at: float) -> BankedScores:
        """Score, calibrate, decide and monitor the ``learn`` rows of a batch, in
        order, learning them; ``X`` holds the values as the detector takes them
        (:func:`~pynomaly.engine.banked.prepare_values`), ``raw`` as read (what
        input monitors watch; non-finite values are skipped)."""
        n = slots.shape[0]
        slots = np.ascontiguousarray(slots, dtype=np.int64)
        learn = np.ascontiguousarray(learn, dtype=np.bool_)
        index = stream_index(slots, learn, ps.n_seen)
        res = BankedScores(
            np.zeros(n), np.empty((n if explain_at < np.inf else 0, X.shape[1])),
            np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.bool_))
        hits = np.zeros((len(self.monitors), n), dtype=np.bool_)
        for m, mon in enumerate(self.monitors):
            if mon.stream == "input":
                col = np.ascontiguousarray(raw[:, mon.feature], dtype=np.float64)
                self._monitor(ps, m, col, slots, learn & np.isfinite(col), hits[m])
        acting = self.policy != "none" and bool(self.monitors)
        rescore = self.policy in ("reset", "rewarm")
        rows = np.arange(n)
        keep = learn
        first = True
        # a bank of detector objects explains the alerting rows after the decision
        objects = bank if explain_at < np.inf and isinstance(bank, ObjectBank) else None
        replay: dict[int, Any] = {}
        while True:
            sl = slots[rows]
            own = np.maximum(sl, 0)  # rows over the key cap (slot < 0) are never kept
            if first or rescore:
                scores, contrib = bank.score_learn_explain(X if first else X[rows], sl, keep,
                                                           explain_at)
                scores = Detector._finish(scores)
                if objects is not None:  # this round's rows: map them to the batch's
                    replay.update({int(rows[k]): v for k, v in objects.take_replay().items()})
                res.scores[rows] = np.where(keep, scores, 0.0)
                if contrib.shape[0]:
                    res.contrib[rows] = contrib
                for m, mon in enumerate(self.monitors):
                    if mon.stream == "score":
                        watch = keep & (index[rows] >= ps.watched_from(own))
                        fired = np.zeros(rows.shape[0], dtype=np.bool_)
                        self._monitor(ps, m, scores, sl, watch, fired)
                        hits[m, rows] = fired
            drifted = hits[:, rows].any(axis=0) & keep
            done = np.ones(rows.shape[0], dtype=np.bool_)
            cut_rows = np.empty(0, dtype=np.int64)
            if acting and drifted.any():
                # each slot's first drifting row; its later rows wait for the next round
                at = np.flatnonzero(drifted)
                cut_slots, first_at = np.unique(sl[at], return_index=True)
                cut_pos = at[first_at]
                limit = np.full(ps.capacity, rows.shape[0], dtype=np.int64)
                limit[cut_slots] = cut_pos
                done = np.arange(rows.shape[0]) <= limit[own]
                cut_rows = rows[cut_pos]
            self._decide(bank, ps, rows[done], slots[rows[done]], keep[done], index, res)
            if cut_rows.size:
                self._apply_policy(bank, ps, slots[cut_rows], index[cut_rows])
            if done.all():
                break
            rows = rows[~done]
            keep = learn[rows]
            first = False
        # each row's hits are those of the round that made it final
        res.drift = self._events(hits, index, acting)
        if objects is not None:
            explain_from = objects.explain_from
            res.explain_row = lambda row: explain_from(replay.get(row))
        return res

    def _monitor(self, ps: PipelineSlots, m: int, values: np.ndarray, slots: np.ndarray,
                 keep: np.ndarray, fired: np.ndarray) -> None:
        """Feed monitor ``m`` of each kept row's slot the row's value; ``fired``
        gets the rows where it detected a drift."""
        p = self.monitors[m].params
        page_hinkley_bank_kernel(values, slots, keep, ps.monitors, m, p.min_instances, p.delta,
                                 p.threshold, p.alpha, FastPageHinkleyMonitor._MODES[p.mode],
                                 fired)

    def _decide(self, bank: DetectorBank, ps: PipelineSlots, rows: np.ndarray,
                sl: np.ndarray, keep: np.ndarray, index: np.ndarray,
                res: BankedScores) -> None:
        """Calibration, threshold and warm-up of ``rows`` (final scores), in order."""
        scores = res.scores[rows]
        cal = calibrated_bank(bank)
        prob = (1.0 - cal.p_values(scores, sl, keep) if cal is not None
                else np.full(rows.shape[0], np.nan))
        thr = self.config.threshold
        if thr.kind == "quantile":
            flags, level = quantile_thresholds(scores, sl, keep, ps.q_ring, ps.q_sorted, ps.q_n,
                                               ps.q_head, ps.q_count, thr.level, thr.min_count)
        elif thr.kind == "probability":
            # 1 - p >= level, as ProbabilityThreshold compares them
            flags, level = prob >= thr.level, np.full(rows.shape[0], thr.level)
        else:
            flags, level = scores >= thr.value, np.full(rows.shape[0], thr.value)
        warm = index[rows] >= ps.warm_from(np.maximum(sl, 0))
        res.flags[rows] = flags & warm & keep
        res.probability[rows] = np.where(keep, prob, np.nan)
        res.threshold[rows] = np.where(keep, level, np.nan)

    def _apply_policy(self, bank: DetectorBank, ps: PipelineSlots, slots: np.ndarray,
                      at: np.ndarray) -> None:
        """The drift policy for ``slots``, each right after its row at stream
        position ``at`` (``ScoringPipeline._apply_policy``)."""
        policy = self.policy
        if policy in ("reset", "rewarm"):
            reset_detector(bank, slots)
            ps.reset_score_monitors(slots)
            ps.watch_from[slots] = at + 1 + self.warmup
        if policy in ("rewarm", "recalibrate"):
            cal = calibrated_bank(bank)
            if cal is not None:
                cal.reset_calibration(slots)
            ps.reset_threshold(slots)
        if policy == "rewarm":
            ps.warm_start[slots] = at + 1

    def _events(self, hits: np.ndarray, index: np.ndarray,
                acting: bool) -> list[tuple[int, DriftEvent]]:
        """The drift events of the rows, by row then monitor. With a policy each
        is its key's first drift in a round, so it carries the ``action``."""
        mons, rows = np.nonzero(hits)
        events = []
        for r, m in sorted(zip(rows.tolist(), mons.tolist(), strict=True)):
            mon = self.monitors[m]
            detail = mon.detail()
            if acting:
                detail["action"] = self.policy
            events.append((r, DriftEvent(mon.kind, mon.stream, int(index[r]), detail)))
        return events
