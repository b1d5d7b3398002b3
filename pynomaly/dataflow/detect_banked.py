"""The banked detect step: one shard's keys in slot-indexed arrays.

Used instead of :class:`~pynomaly.dataflow.detect.DetectLogic` when the spec
allows it (see :func:`banked_eligible`, :func:`per_key_reason`): a detector
with a bank or held as objects, event-time windows kept per slot, any
calibration and threshold, drift monitors of
the numba kind (``fast_page_hinkley``) with any drift policy, no
``protect``. A batch of the shard's events is handled by a few numba passes
over all rows (admit → score → calibrate → threshold → monitor, see
:mod:`pynomaly.engine.banked_pipeline` → cooldown); Python runs per new key,
per flagged row (alert + explanation), per drift event and per dead letter
only. Alerts, drift records, dead letters and counters are exactly those of
the per-key path, in the same order (key groups in order of first
appearance, rows in order).

Example
-------
>>> import numpy as np
>>> from pynomaly.dataflow.detect_banked import BankedDetectLogic
>>> from pynomaly.dataflow.records import EventBatch
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "demo", "source": {"type": "file", "path": "x"},
...     "record": {"value_fields": ["v"]}, "detection": {"warmup": 20,
...     "calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": 8.0}}})
>>> logic = BankedDetectLogic(spec)
>>> v = np.r_[np.random.default_rng(0).normal(size=100), 40.0].reshape(-1, 1)
>>> batch = EventBatch(["k"] * 101, np.arange(101.0) * 60, v, ("v",))
>>> state, out = logic.process(None, batch)
>>> [a["key"] for a in out.alerts], out.alerts[0]["values"], len(state.keys)
(['k'], {'v': 40.0}, 1)
"""

from __future__ import annotations

import copy
import time
import weakref
from typing import Any, cast

import numpy as np

from pynomaly.alerting.decision import (
    AlertDecision,
    DecisionState,
    batch_watermarks,
    in_key_order,
)
from pynomaly.dataflow.alert_record import make_alert
from pynomaly.dataflow.detect import ShardOutput, _drift_alert, dead_letter
from pynomaly.dataflow.records import DeadLetter, EventBatch, Reason
from pynomaly.dataflow.windowing import KeyWindows
from pynomaly.engine.banked import (
    DetectorBank,
    bank_supported,
    explanation_shares,
    make_bank,
    prepare_values,
)
from pynomaly.engine.banked_pipeline import BankedPipeline, PipelineSlots
from pynomaly.engine.decision.banked_decide import admit, cooldown
from pynomaly.engine.decision.drift import DriftEvent
from pynomaly.observability import metrics
from pynomaly.spec import FlowSpec


def per_key_reason(spec: FlowSpec) -> str | None:
    """Why ``spec`` runs on the per-key detect path (None: it runs banked).

    >>> from pynomaly.spec import FlowSpec
    >>> base = {"name": "x", "source": {"type": "file", "path": "a"},
    ...         "record": {"value_fields": ["v"]}}
    >>> per_key_reason(FlowSpec.model_validate(base)) is None
    True
    >>> per_key_reason(FlowSpec.model_validate({**base, "detection": {"detector": "rcf"}})) is None
    True
    >>> per_key_reason(FlowSpec.model_validate({**base, "detection": {
    ...     "calibration": {"kind": "spot"}, "drift": [{"monitor": "adwin"}]}}))
    'drift monitor adwin runs River per value'

    Every detector runs banked (with array kernels over slots, or one object
    per slot: :mod:`pynomaly.engine.object_bank`), every calibration and
    threshold, and ``fast_page_hinkley`` drift monitors with any policy.
    """
    from pynomaly.engine.banked import BANKED_MONITORS

    det = spec.detection
    river = [m.monitor for m in det.drift if m.monitor not in BANKED_MONITORS]
    if river:
        return f"drift monitor {river[0]} runs River per value"
    if det.protect:
        return "protect"
    if not bank_supported(det):
        return f"detector {det.detector.name} with these parameters has no banked form"
    return None


def banked_eligible(spec: FlowSpec) -> bool:
    """Whether ``spec`` runs on the banked path (same alerts as the per-key path)."""
    return bank_supported(spec.detection)


def _rows_through(explain_row: Any, index: np.ndarray) -> Any:
    """``explain_row`` of pipeline rows, called with batch rows (``index`` maps
    a batch row to its row among the pipeline's, imputed records included)."""
    if explain_row is None:
        return None
    return lambda i: explain_row(int(index[i]))


def bank_layout(bank: Any) -> tuple[Any, ...]:
    """What fixes the shapes and meaning of a bank's arrays: its class, field
    count, detector parameters and calibration settings."""
    return (type(bank).__name__, bank.n_features, bank.params.model_dump(),
            getattr(bank, "window", None),
            getattr(getattr(bank, "spot", None), "model_dump", lambda: None)())


class BankedShardState:
    """One shard: ``keys`` maps key → slot; per-slot arrays hold the rest.

    Freed slots (TTL eviction) go to a free list and are reused with fresh
    state. Pickles compactly (arrays cut to the slots in use) for recovery.
    """

    def __init__(self, bank: DetectorBank, pipe: PipelineSlots | None = None) -> None:
        self.keys: dict[str, int] = {}
        self.slot_keys: list[str | None] = []
        self.free: list[int] = []
        self.bank = bank
        #: the rest of each key's pipeline: stream position, warm-up, drift
        #: monitors, quantile threshold (pynomaly.engine.banked_pipeline);
        #: by default that of a pipeline without monitors or quantile threshold
        self.pipe = pipe if pipe is not None else PipelineSlots()
        self.last_time = np.empty(0)
        self.cooldown_until = np.empty(0)
        self.watermark = -np.inf
        self.evicted = 0
        self.overflow = 0
        self.late = 0
        self.batches = 0
        #: cadence, baseline, rule counters and labels per key (pynomaly.alerting)
        self.decision: DecisionState | None = None
        #: event-time windows of each slot (flows with windows; made on first use)
        self.windows: list[KeyWindows | None] = []

    def window_of(self, slot: int, args: tuple[float, float, float, str],
                  n_fields: int) -> KeyWindows:
        """The open windows of ``slot`` (new ones for a new key)."""
        windows: list[KeyWindows | None] = self.__dict__.setdefault("windows", [])
        if slot >= len(windows):
            windows.extend([None] * (slot + 1 - len(windows)))
        w = windows[slot]
        if w is None:
            size, slide, lateness, agg = args
            w = windows[slot] = KeyWindows(size, slide, lateness, agg, n_fields)
        return w

    def _drop_windows(self, slots: list[int]) -> None:
        windows = self.__dict__.get("windows")
        if windows:
            for s in slots:
                if s < len(windows):
                    windows[s] = None

    def _grow(self, n: int) -> None:
        cap = self.last_time.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap, 16)
        self.last_time = np.r_[self.last_time, np.full(new - cap, -np.inf)]
        self.cooldown_until = np.r_[self.cooldown_until, np.full(new - cap, -np.inf)]
        self.bank.ensure(new)
        self.pipe.ensure(new)

    def add_keys(self, new_keys: list[str]) -> np.ndarray:
        """Slots for ``new_keys`` (fresh state), reusing freed slots first."""
        n = len(new_keys)
        reuse = self.free[-n:][::-1] if n else []
        if reuse:
            del self.free[-len(reuse):]
        top = len(self.slot_keys)
        fresh = list(range(top, top + n - len(reuse)))
        self.slot_keys.extend([None] * len(fresh))
        slots = np.array(reuse + fresh, dtype=np.int64)
        self._grow(len(self.slot_keys))
        self.last_time[slots] = -np.inf
        self.cooldown_until[slots] = -np.inf
        if reuse:  # slots beyond the old top are fresh from ensure(): writing them
            self.bank.reset(slots[: len(reuse)])  # would touch every page for nothing
            self._drop_windows(reuse)
            self.pipe.reset(slots[: len(reuse)])
        sk, km = self.slot_keys, self.keys
        for k, s in zip(new_keys, slots.tolist(), strict=True):
            km[k] = s
            sk[s] = k
        return slots

    def rebaseline(self, keys: list[str]) -> None:
        """The named keys start learning afresh: detector state, warm-up and
        cooldown reset (their slots and last event times are kept)."""
        slots = np.array([self.keys[k] for k in keys if k in self.keys], dtype=np.int64)
        if slots.size:
            self.bank.reset(slots)
            self.pipe.reset(slots)
            self.cooldown_until[slots] = -np.inf
            self._drop_windows(slots.tolist())  # the per-key path drops the key's windows

    def evict_before(self, before: float) -> None:
        """Drop keys whose newest event time is before ``before``."""
        n = len(self.slot_keys)
        if n == 0:
            return
        stale = np.flatnonzero(self.last_time[:n] < before).tolist()
        sk, km = self.slot_keys, self.keys
        stale = [s for s in stale if sk[s] is not None]
        for s in stale:
            del km[sk[s]]  # type: ignore[arg-type]
            sk[s] = None
        self.free.extend(stale)
        self.evicted += len(stale)
        self._drop_windows(stale)

    def bytes_per_key(self) -> int:
        """Array bytes per slot (detector, calibrator, pipeline counters, drift
        monitors, last event time and cooldown), without the key dict."""
        return self.bank.bytes_per_slot() + self.pipe.bytes_per_slot() + 2 * 8

    def __deepcopy__(self, memo: dict[int, Any]) -> BankedShardState:
        """An independent copy made of container and array copies (Bytewax
        deep-copies every shard's state at each epoch, recovery on or off;
        the generic ``deepcopy`` walk would visit every key)."""
        new = BankedShardState.__new__(BankedShardState)
        new.__dict__.update(self.__dict__)
        new.keys = dict(self.keys)
        new.slot_keys = list(self.slot_keys)
        new.free = list(self.free)
        for name in ("last_time", "cooldown_until"):
            setattr(new, name, getattr(self, name).copy())
        new.bank = self.bank.copy()
        new.pipe = self.pipe.copy()
        if self.decision is not None:
            new.decision = self.decision.copy()
        if self.__dict__.get("windows"):
            new.windows = copy.deepcopy(self.windows)
        return new

    def __getstate__(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        n = len(self.slot_keys)
        st = dict(self.__dict__)
        st["bank"] = (type(self.bank), self.bank.truncated_state(n))
        st["pipe"] = self.pipe.truncated_state(n)
        for name in ("last_time", "cooldown_until"):
            st[name] = getattr(self, name)[:n].copy()
        metrics.current().snapshot_duration(time.perf_counter() - t0)
        return st

    def __setstate__(self, st: dict[str, Any]) -> None:
        cls, bank_state = st.pop("bank")
        bank = cls.__new__(cls)
        bank.__dict__.update(bank_state)
        pipe_state = st.pop("pipe", None)
        self.__dict__.update(st)
        self.bank = bank
        if pipe_state is not None:
            self.pipe = PipelineSlots.__new__(PipelineSlots)
            self.pipe.__dict__.update(pipe_state)
        # else: written before the pipeline state had its own arrays;
        # BankedDetectLogic rebuilds it from ``seen``


class BankedDetectLogic:
    """The banked per-shard step; same interface as ``DetectLogic``."""

    def __init__(self, spec: FlowSpec, keep_points: bool = False) -> None:
        if not banked_eligible(spec):
            raise ValueError(f"flow {spec.name!r}: this spec needs the per-key detect path")
        self.spec = spec
        self.flow = spec.name
        self.det_name = spec.detection.detector.name
        self.threshold_kind = spec.detection.threshold.kind
        self.fields = tuple(spec.record.value_fields)
        #: detector → calibrator → threshold → drift monitors of every key
        self.pipeline = BankedPipeline(spec.detection, len(self.fields))
        self.max_keys_per_shard = max(1, spec.keys.max_keys // spec.keys.shards)
        #: every scored row goes to ``ShardOutput.points`` (score records, dashboard)
        self.keep_points = keep_points
        self.decision = AlertDecision(spec)
        w = spec.window
        #: event-time windows: (size, slide, allowed lateness, aggregate), or None
        self.window_args: tuple[float, float, float, str] | None = (
            None if w.kind == "none"
            else (w.size_s, w.size_s if w.kind == "tumbling" else (w.slide_s or w.size_s / 2),
                  w.allowed_lateness_s, w.agg))
        #: resumed states found to fit this spec (each checked once)
        self._checked: weakref.WeakSet[BankedShardState] = weakref.WeakSet()
        self._layout: tuple[Any, ...] | None = None

    def shard_label(self, batch: EventBatch) -> int:
        from pynomaly.dataflow.detect import shard_of

        return shard_of(batch.keys[0], self.spec.keys.shards) if len(batch) else -1

    def new_state(self) -> BankedShardState:
        return BankedShardState(make_bank(self.spec.detection, len(self.fields)),
                                self.pipeline.new_slots())

    def _check_layout(self, state: BankedShardState) -> None:
        """Refuse a resumed shard state whose bank another spec made (another
        detector, parameters, calibration or field count): its arrays do not
        have the shapes this spec's kernels index."""
        if self._layout is None:
            self._layout = bank_layout(make_bank(self.spec.detection, len(self.fields)))
        mine, theirs = self._layout, bank_layout(state.bank)
        if mine != theirs:
            raise TypeError(
                f"flow {self.flow!r}: recovery state of shard was written for another "
                f"detector or decision ({theirs[0]}, not {mine[0]}: detector, its parameters, "
                "calibration or value fields changed); start from an empty recovery "
                "directory or run the spec that wrote it")
        self._checked.add(state)

    def _pipe(self, st: BankedShardState) -> PipelineSlots:
        """The shard's pipeline state; for a state written before it had its
        own arrays, built from the stream counts it kept (``seen``)."""
        pipe: PipelineSlots | None = st.__dict__.get("pipe")
        if pipe is None:
            pipe = st.pipe = self.pipeline.new_slots()
            seen = st.__dict__.pop("seen", np.empty(0, dtype=np.int64))
            pipe.ensure(max(st.last_time.shape[0], 1))
            pipe.n_seen[: seen.shape[0]] = seen
        return pipe

    def mapper(self, state: BankedShardState | None,
               batch: EventBatch) -> tuple[BankedShardState, ShardOutput]:
        return self.process(state, batch)

    def _slots(self, st: BankedShardState, keys: list[str]) -> np.ndarray:
        """Slot of every row; rows of keys over the cap get distinct negative ids."""
        km = st.keys
        try:  # the usual case: every key has a slot
            return np.fromiter(map(km.__getitem__, keys), dtype=np.int64, count=len(keys))
        except KeyError:
            pass
        first_seen = dict.fromkeys(keys)
        missing = first_seen.keys() - km.keys()
        new = [k for k in first_seen if k in missing] if missing else []
        over: dict[str, int] = {}
        if new:
            room = max(0, self.max_keys_per_shard - len(km))
            if room < len(new):
                over = {k: -1 - i for i, k in enumerate(new[room:])}
                new = new[:room]
            if new:
                st.add_keys(new)
        if not over:
            return np.fromiter(map(km.__getitem__, keys), dtype=np.int64, count=len(keys))
        get = km.get
        return np.fromiter((get(k, over.get(k)) for k in keys), dtype=np.int64, count=len(keys))

    def process(self, state: BankedShardState | None,
                batch: EventBatch) -> tuple[BankedShardState, ShardOutput]:
        if state is not None and not isinstance(state, BankedShardState):
            raise TypeError(
                f"flow {self.flow!r}: recovery state of shard was written by the per-key detect "
                "path (an older version or another spec); start from an empty recovery "
                "directory or run the version that wrote it")
        if state is not None and state not in self._checked:
            self._check_layout(state)
        st = state if state is not None else self.new_state()
        out = ShardOutput(read_at=batch.read_at)
        st.batches += 1
        if len(batch):
            if self.window_args is None:
                self._score(st, batch, out)
            else:
                self._score_windows(st, batch, out)
            st.watermark = max(st.watermark, float(batch.times.max()))
        out.alerts += self.decision.missing(self._decision_state(st), batch, st.watermark)
        ttl = self.spec.keys.ttl_s
        if ttl > 0 and st.batches % 16 == 0:
            st.evict_before(st.watermark - ttl)
            self._decision_state(st).evict_before(st.watermark - ttl)
        out.windows = self.decision.windows_in_force(st.watermark)
        return st, out

    def _score_windows(self, st: BankedShardState, batch: EventBatch, out: ShardOutput) -> None:
        """Event-time windows: each key's events go to its windows (late ones
        to the dead letters, on-time ones to its cadence), and the windows they
        close are scored as a batch of their own, one row per window (its end
        time and aggregate), as the per-key path scores them."""
        assert self.window_args is not None
        n = len(batch)
        slots = self._slots(st, batch.keys)
        times = np.ascontiguousarray(batch.times, dtype=np.float64)
        late = np.zeros(n, dtype=bool)
        w_keys: list[str] = []
        w_times: list[float] = []
        w_rows: list[list[float]] = []
        for group in self._key_groups(slots, np.arange(n)):
            s = int(slots[group[0]])
            if s < 0:
                continue
            windows = st.window_of(s, self.window_args, len(self.fields))
            late_at, closed = windows.add(times[group], batch.values[group])
            late[group[late_at]] = True
            key = batch.keys[int(group[0])]
            for end, agg in closed:
                w_keys.append(key)
                w_times.append(end)
                w_rows.append(agg)
        on_time = (slots >= 0) & ~late
        dst = self._decision_state(st)
        arr = self.decision.arrivals(dst, batch.keys, times, on_time,
                                     batch_watermarks(dst, batch), batch.watermark_from,
                                     dst.slots_of_bank(batch.keys, slots, (
                                         len(st.slot_keys), st.evicted, len(st.keys))))
        if not on_time.all():
            self._dead_rows(st, batch, slots, on_time, out,
                            "event older than the window watermark minus lateness")
        if arr.recovered.any():
            out.alerts += self.decision.recoveries(dst, arr, batch.keys, times)
        if w_keys:
            closed_batch = EventBatch(w_keys, np.array(w_times),
                                      np.array(w_rows, dtype=np.float64).reshape(
                                          len(w_keys), len(self.fields)),
                                      batch.fields, read_at=batch.read_at, labels=batch.labels)
            self._score(st, closed_batch, out, windows=True)
        if arr.recovered.any() or w_keys:  # in the order the per-key path gives
            out.alerts = in_key_order(out.alerts, batch.keys)

    def _score(self, st: BankedShardState, batch: EventBatch, out: ShardOutput,
               windows: bool = False) -> None:
        """Score, decide and alert a batch of rows: events, or with ``windows``
        the windows a batch closed (their events already went to the cadence)."""
        n = len(batch)
        if n:
            slots = self._slots(st, batch.keys)
            times = np.ascontiguousarray(batch.times, dtype=np.float64)
            keep = admit(slots, times, st.last_time, self.spec.window.allowed_lateness_s)
            raw = np.ascontiguousarray(batch.values, dtype=np.float64)
            X = prepare_values(raw)
            dst = self._decision_state(st)
            arr = None if windows else self.decision.arrivals(
                dst, batch.keys, times, keep, batch_watermarks(dst, batch),
                batch.watermark_from, dst.slots_of_bank(batch.keys, slots, (
                    len(st.slot_keys), st.evicted, len(st.keys))))
            hold, skip = self.decision.maintenance(dst, batch.keys, times)
            learn = keep & ~skip
            # what the pipelines learn: the values as read, with the imputed
            # records (as the per-key path imputes them), then cleaned
            aug = None if arr is None else self.decision.imputed(dst, arr, raw, learn)
            pipe = self._pipe(st)
            if aug is not None and aug.imputed:
                res = self.pipeline.run(st.bank, pipe, prepare_values(aug.X), aug.X,
                                        slots[aug.source], aug.keep, self._explain_at())
                real = aug.real
                scores, prob, thr, flags = (res.scores[real], res.probability[real],
                                            res.threshold[real], res.flags[real])
                contrib = res.contrib[real] if res.contrib.shape[0] else res.contrib
                explain_row = _rows_through(res.explain_row, np.flatnonzero(real)
                                            if real.dtype == np.bool_ else real)
                # a drift on an imputed record is reported on the batch row after it
                drift = [(int(aug.source[r]), ev) for r, ev in res.drift]
            else:
                res = self.pipeline.run(st.bank, pipe, X, raw, slots, learn, self._explain_at())
                scores, prob, thr, flags = res.scores, res.probability, res.threshold, res.flags
                contrib, drift = res.contrib, res.drift
                explain_row = res.explain_row
            if self.spec.budget is not None:
                out.budget_scores.append((times[keep], scores[keep]))
            if self.keep_points:
                self._points(batch, slots, keep, times, raw, scores, prob, thr, flags, out)
            obs = self.decision.observe(dst, batch.keys, X, learn, flags, batch.labels,
                                        None if arr is None else arr.slots)
            # rules and maintenance windows gate the flags before the cooldown:
            # a held-back flag starts none
            passed = flags & self.decision.hold(dst, obs, hold)
            alert = cooldown(slots, passed, times, st.cooldown_until,
                             self.spec.alerts.cooldown_s)
            n_keep = int(np.count_nonzero(keep))
            out.scored = n_keep
            if n_keep < n:
                self._dead_rows(st, batch, slots, keep, out)
            if arr is not None and arr.recovered.any():
                out.alerts += self.decision.recoveries(dst, arr, batch.keys, times)
            if drift:
                self._drift(st, batch, drift, out)
            if flags.any():
                held = self.decision.held(dst, obs, flags, alert)
                if alert.any():
                    start = len(out.alerts)
                    rows = np.flatnonzero(alert)
                    if explain_row is not None:  # the bank explains after the decision
                        contrib = contrib.copy()
                        for i in rows.tolist():
                            c = explain_row(i)
                            contrib[i] = np.nan if c is None else c
                    self._alerts(st, batch, contrib, slots, scores, rows, out, prob, thr)
                    out.alerts[start:] = [
                        self.decision.upgrade(dst, obs, i, a, int(held[i])) for i, a in
                        zip(self._group_order(slots, rows).tolist(), out.alerts[start:],
                            strict=True)]
            if (arr is not None and arr.recovered.any()) or drift:  # the per-key path's order
                out.alerts = in_key_order(out.alerts, batch.keys)

    def _drift(self, st: BankedShardState, batch: EventBatch,
               drift: list[tuple[int, DriftEvent]], out: ShardOutput) -> None:
        """The drift events (batch row, event) as the per-key path reports them:
        to ``out.drift`` and as ``drift`` records, key by key in order of first
        appearance, each key's in stream order."""
        rank: dict[str, int] = {}
        for k in batch.keys:
            rank.setdefault(k, len(rank))
        keys = batch.keys
        for i, ev in sorted(drift, key=lambda d: rank[keys[d[0]]]):
            key, t = keys[i], float(batch.times[i])
            out.drift.append({"key": key, "ts": t, "monitor": ev.monitor, "stream": ev.stream,
                              "detail": ev.detail})
            # (the record reads only the shard's decision state: the key's labels)
            out.alerts.append(_drift_alert(self.flow, self.det_name,
                                           self.spec.alerts.dashboard_url, cast(Any, st), key,
                                           t, ev))

    def _decision_state(self, st: BankedShardState) -> DecisionState:
        """The shard's alert-decision state (created on first use)."""
        dst = st.__dict__.get("decision")
        if dst is None:
            dst = st.decision = self.decision.new_state()
        return dst

    @staticmethod
    def _group_order(slots: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``rows`` reordered as the per-key path emits them: key groups in
        order of first appearance in the batch, rows in order within a group."""
        if len(rows) < 2:
            return rows
        ids, first = np.unique(slots, return_index=True)
        rank = first[np.searchsorted(ids, slots[rows])]
        return rows[np.lexsort((rows, rank))]

    @classmethod
    def _key_groups(cls, slots: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        """``rows`` split by key: keys in order of first appearance in the
        batch, rows in order within a key (rows over the key cap have a slot
        of their own key too)."""
        rows = cls._group_order(slots, rows)
        return np.split(rows, np.flatnonzero(np.diff(slots[rows])) + 1) if len(rows) else []

    def _points(self, batch: EventBatch, slots: np.ndarray, keep: np.ndarray,
                times: np.ndarray, X: np.ndarray, scores: np.ndarray, prob: np.ndarray,
                thr: np.ndarray, flags: np.ndarray, out: Any) -> None:
        """The scored rows as the per-key path's points: one ``(key, times,
        values, scores, probabilities, thresholds, flags)`` per key, keys in
        order of first appearance."""
        for part in self._key_groups(slots, np.flatnonzero(keep)):
            out.points.append((batch.keys[int(part[0])], times[part], X[part], scores[part],
                               prob[part], thr[part], flags[part]))

    def _dead_rows(self, st: BankedShardState, batch: EventBatch, slots: np.ndarray,
                   keep: np.ndarray, out: Any,
                   late_detail: str = "event time behind the key's newest event") -> None:
        rows = self._group_order(slots, np.flatnonzero(~keep))
        for i in rows.tolist():
            if slots[i] < 0:
                st.overflow += 1
                out.dead.append(self._dead(batch, i, Reason.KEY_OVERFLOW, "live-key cap reached"))
            else:
                st.late += 1
                out.dead.append(self._dead(batch, i, Reason.LATE_EVENT, late_detail))

    def _dead(self, batch: EventBatch, i: int, reason: Reason, detail: str) -> DeadLetter:
        return dead_letter(batch, i, reason, detail)

    def _explain_at(self) -> float:
        """The score from which a row's contributions are kept: every row
        that can alert (its score at least the threshold), or none."""
        if not (self.spec.detection.explain and self.spec.alerts.explain_top > 0):
            return np.inf
        thr = self.spec.detection.threshold
        if thr.kind != "static":  # which scores alert is known only after the threshold
            return -np.inf
        from pynomaly.engine.base import SCORE_LIMIT

        return thr.value if thr.value > -SCORE_LIMIT else -np.inf

    def _alerts(self, st: BankedShardState, batch: EventBatch, contrib: np.ndarray,
                slots: np.ndarray, scores: np.ndarray, rows: np.ndarray, out: Any,
                prob: np.ndarray, thr: np.ndarray) -> None:
        """Alerts of ``rows``; ``contrib`` holds their contributions to the
        score, on the state each was scored with; ``prob`` the calibrated
        probabilities (NaN without calibration), ``thr`` the thresholds."""
        now = time.time()
        explain = self.spec.detection.explain and self.spec.alerts.explain_top > 0
        for i in self._group_order(slots, rows).tolist():
            key = batch.keys[i]
            # all NaN: the detector gives no attribution (as a per-key pipeline's None)
            share = (explanation_shares(contrib[i])
                     if explain and not np.isnan(contrib[i]).all() else None)
            out.alerts.append(make_alert(
                self.flow, key, float(batch.times[i]),
                dict(zip(self.fields, batch.values[i].tolist(), strict=True)),
                float(scores[i]), None if prob[i] != prob[i] else float(prob[i]),
                float(thr[i]), self.threshold_kind,
                self.det_name, self._explanation(share), emit_time=now,
            ))

    def _explanation(self, share: np.ndarray | None) -> dict[str, float]:
        top = self.spec.alerts.explain_top
        if top == 0 or share is None:
            return {}
        order = np.argsort(-share)[:top]
        return {self.fields[i]: round(float(share[i]), 6) for i in order if share[i] > 0}
