"""The detect step: per-shard state holding every key's detector, windows,
warm-up and cooldown, turning an :class:`EventBatch` into alerts.

Keys are grouped into shards (``crc32(key) % shards``); a shard is one unit of
Bytewax state, so one ``stateful_map`` call handles a whole micro-batch of the
shard's keys and calls one detector kernel per key group.

Example
-------
>>> import numpy as np
>>> from pynomaly.dataflow.detect import DetectLogic
>>> from pynomaly.dataflow.records import EventBatch
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "demo", "source": {"type": "file", "path": "x"},
...     "record": {"value_fields": ["v"]}, "detection": {"warmup": 20,
...     "threshold": {"kind": "static", "value": 8.0}}})
>>> logic = DetectLogic(spec)
>>> v = np.r_[np.random.default_rng(0).normal(size=100), 40.0].reshape(-1, 1)
>>> batch = EventBatch(["k"] * 101, np.arange(101.0) * 60, v, ("v",))
>>> state, out = logic.process(None, batch)
>>> [a["key"] for a in out.alerts], out.alerts[0]["values"]
(['k'], {'v': 40.0})
"""

from __future__ import annotations

import pickle
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from pynomaly._legacy import unreadable_snapshot
from pynomaly.alerting.decision import AlertDecision, Arrivals, DecisionState, batch_watermarks
from pynomaly.alerting.imputation import Augmented, real_rows
from pynomaly.alerting.labels import labels_for
from pynomaly.alerting.watermark import Ticker, with_ticks
from pynomaly.dataflow.alert_record import make_alert
from pynomaly.dataflow.records import DeadLetter, EventBatch, Reason, raw_bytes
from pynomaly.dataflow.windowing import KeyWindows
from pynomaly.engine.banked import prepare_values
from pynomaly.engine.pipeline import ScoringPipeline
from pynomaly.observability import metrics
from pynomaly.spec import FlowSpec


def _or_none(x: float) -> float | None:
    return None if np.isnan(x) else x


def dead_letter(batch: EventBatch, i: int, reason: Reason, detail: str) -> DeadLetter:
    """Dead letter of event ``i`` of ``batch``, rejected after parsing (late,
    over the key cap): with the position and original bytes it was read
    with, or, for events not read from a source, the event as JSON and the
    origin ``detect``."""
    key = batch.keys[i]
    if batch.source is not None:
        return DeadLetter(reason, detail, batch.source.raw(i), batch.source.position(i), key=key)
    rec = {"key": key, "ts": float(batch.times[i]),
           **{f: float(v) for f, v in zip(batch.fields, batch.values[i], strict=True)}}
    return DeadLetter(reason, detail, raw_bytes(rec), "detect", key=key)


def shard_of(key: str, shards: int) -> int:
    """Stable shard number of a key (same in every process)."""
    return zlib.crc32(key.encode()) % shards


def split_by_shard(batch: EventBatch, shards: int,
                   cache: dict[str, int] | None = None) -> list[tuple[str, EventBatch]]:
    """Split a batch into per-shard sub-batches, keeping arrival order.

    ``cache`` (key → shard, filled as keys are seen) saves the crc32 of keys
    seen before; callers bound its size (see :class:`ShardSplitter`). A batch
    that carries its keys' CRC-32s (``key_hash``) needs neither.
    """
    n = len(batch)
    if n == 0:
        return []
    keys = batch.keys
    if batch.key_hash is not None:  # CRC-32s from the parser's byte scan
        ids = (batch.key_hash % np.uint32(shards)).astype(np.int64)
    elif cache is None:
        ids = np.fromiter((zlib.crc32(k.encode()) for k in keys), dtype=np.int64, count=n) % shards
    else:
        try:  # the usual case: every key seen before
            ids = np.fromiter(map(cache.__getitem__, keys), dtype=np.int64, count=n)
        except KeyError:
            for k in dict.fromkeys(keys).keys() - cache.keys():
                cache[k] = zlib.crc32(k.encode()) % shards
            ids = np.fromiter(map(cache.__getitem__, keys), dtype=np.int64, count=n)
    if shards == 1 or (ids == ids[0]).all():
        return [(str(int(ids[0])), batch)]
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    bounds = np.flatnonzero(np.diff(sorted_ids)) + 1
    out = []
    for idx in np.split(order, bounds):
        sub_keys = list(itemgetter(*idx.tolist())(keys)) if len(idx) > 1 else [keys[idx[0]]]
        out.append((str(int(ids[idx[0]])), EventBatch(
            sub_keys, batch.times[idx], batch.values[idx], batch.fields,
            batch.read_at, batch.trace_parent, labels=labels_for(batch.labels, sub_keys),
            source=None if batch.source is None else batch.source.take(idx),
            watermark=batch.watermark, watermark_from=batch.watermark_from)))
    return out


@dataclass(frozen=True)
class Rebaseline:
    """A control item for a shard's detect state: ``keys`` (and keys matching
    ``pattern``) start learning afresh, as after an ``expected_change``
    verdict (docs/alert-fatigue.md)."""

    keys: tuple[str, ...] = ()
    pattern: str | None = None

    def matches(self, known: Iterable[str]) -> list[str]:
        """The keys of ``known`` it names."""
        import fnmatch

        named = set(self.keys)
        return [k for k in known if k in named
                or (self.pattern is not None and fnmatch.fnmatchcase(k, self.pattern))]


def rebaseline_items(verdict: dict[str, Any], shards: int) -> list[tuple[str, Rebaseline]]:
    """The shard-keyed :class:`Rebaseline` items an ``expected_change`` verdict
    asks for (none for other verdicts). Keys go to their own shard; a pattern
    goes to every shard.

    >>> rebaseline_items({"verdict": "expected_change", "keys": ["a"]}, 4)
    [('3', Rebaseline(keys=('a',), pattern=None))]
    >>> len(rebaseline_items({"verdict": "expected_change", "pattern": "web-*",
    ...                       "scope": "pattern"}, 4)), rebaseline_items({"verdict": "x"}, 4)
    (4, [])
    """
    if not isinstance(verdict, dict) or verdict.get("verdict") != "expected_change":
        return []
    pattern = verdict.get("pattern") if verdict.get("scope") == "pattern" else None
    if isinstance(pattern, str) and pattern:
        return [(str(s), Rebaseline(pattern=pattern)) for s in range(shards)]
    keys = verdict.get("keys") or []
    by_shard: dict[str, list[str]] = {}
    for k in keys if isinstance(keys, list | tuple) else []:
        by_shard.setdefault(str(shard_of(str(k), shards)), []).append(str(k))
    return [(s, Rebaseline(keys=tuple(ks))) for s, ks in by_shard.items()]


class ShardSplitter:
    """``split_by_shard`` with a bounded key → shard cache (cleared when it
    holds ``max_cached`` keys), for the flow's shard step.

    >>> from pynomaly.dataflow.records import EventBatch
    >>> split = ShardSplitter(4)
    >>> b = EventBatch(["a", "b", "a"], np.zeros(3), np.zeros((3, 1)), ("v",))
    >>> sorted((s, sub.keys) for s, sub in split(b))
    [('1', ['b']), ('3', ['a', 'a'])]

    With ``route="partition"`` the shard labels are renamed to ones Bytewax
    routes to the worker running this process (:mod:`.routing`), so each
    sub-batch stays where it was read:

    >>> from pynomaly.dataflow.routing import set_local_worker, worker_of
    >>> set_local_worker(1, 2)
    >>> [worker_of(label, 2) for label, _ in ShardSplitter(4, route="partition")(b)]
    [1, 1]
    >>> set_local_worker(0, 1)
    """

    def __init__(self, shards: int, max_cached: int = 1_000_000, route: str = "hash") -> None:
        self.shards = shards
        self.max_cached = max_cached
        self.cache: dict[str, int] = {}
        self.route = route
        self._labels: dict[str, str] = {}
        self._labels_for: object = None
        self.ticker = Ticker()

    def __call__(self, batch: EventBatch) -> list[tuple[str, EventBatch]]:
        if len(self.cache) > self.max_cached:
            self.cache.clear()
        parts = with_ticks(split_by_shard(batch, self.shards, self.cache), batch, self.shards,
                           self.ticker)
        if self.route != "partition":
            return parts
        from pynomaly.dataflow.routing import local_label, local_worker

        here = local_worker()
        if here != self._labels_for:  # set by the runner before the flow starts
            self._labels = {str(s): local_label(s, here.index, here.count)
                            for s in range(self.shards)}
            self._labels_for = here
        labels = self._labels
        return [(labels[shard], sub) for shard, sub in parts]


class KeyState:
    """Everything kept for one key."""

    __slots__ = ("cooldown_until", "last_time", "pipeline", "seen", "windows")

    def __init__(self, pipeline: ScoringPipeline, windows: KeyWindows | None) -> None:
        self.pipeline = pipeline
        self.windows = windows
        self.seen = 0
        self.last_time = -np.inf
        self.cooldown_until = -np.inf

    def __getstate__(self) -> dict[str, Any]:
        st = {s: getattr(self, s) for s in self.__slots__ if s != "pipeline"}
        st["pipeline"] = self.pipeline.state()
        # every key of a shard shares one config object: a snapshot stores it once
        st["config"] = self.pipeline.config
        return st

    def __setstate__(self, st: dict[str, Any]) -> None:
        config = st.get("config")
        if config is None:
            raise ValueError(
                "recovery state of a key was written by an older release, without its "
                "pipeline config; start the flow from an empty recovery directory")
        for k, v in st.items():
            if k not in ("pipeline", "config"):
                setattr(self, k, v)
        self.pipeline = ScoringPipeline.from_state(config, st["pipeline"])


@dataclass
class ShardState:
    """State of one shard: its keys and counters (what recovery snapshots)."""

    keys: dict[str, KeyState] = field(default_factory=dict)
    watermark: float = -np.inf
    evicted: int = 0
    overflow: int = 0
    late: int = 0
    batches: int = 0
    #: cadence, baseline, rule counters and labels per key (pynomaly.alerting)
    decision: DecisionState | None = None

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # Serialise once here so the time a recovery snapshot takes is measured.
        t0 = time.perf_counter()
        blob = pickle.dumps(self.__dict__, protocol=pickle.HIGHEST_PROTOCOL)
        metrics.current().snapshot_duration(time.perf_counter() - t0)
        return (_load_shard, (blob,))


def _drift_alert(flow: str, detector: str, link_base: str | None, st: ShardState, key: str,
                 t: float, ev: Any) -> dict[str, Any]:
    """A drift event of ``key`` as an alert record of kind ``drift`` (schema v2)."""
    from pynomaly.alerting.alert_v2 import dashboard_link, drift_record

    decision = st.decision
    slot = decision.keys.get(key) if decision is not None else None
    labels = dict(decision.labels[slot]) if decision is not None and slot is not None else {}
    return drift_record(flow, key, t, detector, monitor=ev.monitor, stream=ev.stream,
                        detail=dict(ev.detail), labels=labels,
                        link=dashboard_link(link_base, key))


def rebaseline_shard(state: Any, item: Rebaseline) -> Any:
    """Apply a :class:`Rebaseline` to a shard's state, per-key or banked. On the
    per-key path the named keys lose their pipelines (a fresh one, with its
    warm-up, is built at their next record); on the banked path their slots
    restart. Their decision baselines restart too."""
    if state is None:
        return state
    if isinstance(state, ShardState):
        for k in item.matches(list(state.keys)):
            del state.keys[k]
    else:
        state.rebaseline(item.matches(list(state.keys)))
    decision = state.__dict__.get("decision")
    if decision is not None:
        decision.rebaseline(item.matches(list(decision.keys)))
    return state


def decision_of(st: ShardState) -> DecisionState:
    """The shard's alert-decision state (:meth:`DetectLogic.process` creates it)."""
    if st.decision is None:
        raise RuntimeError("shard state has no decision state yet")
    return st.decision


def _load_shard(blob: bytes) -> ShardState:
    try:
        saved = pickle.loads(blob)
    except (ImportError, AttributeError, EOFError, pickle.UnpicklingError) as exc:
        raise unreadable_snapshot("a detect shard (per-key state)", exc) from exc
    st = ShardState.__new__(ShardState)
    st.__dict__.update(saved)
    return st


@dataclass
class ShardOutput:
    """What one detect call produced."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    #: scored events for live views: (key, event times, values, scores,
    #: probabilities, thresholds, anomaly flags)
    points: list[tuple[Any, ...]] = field(default_factory=list)
    #: drift events: {"key", "ts", "monitor", "stream", "detail"}
    drift: list[dict[str, Any]] = field(default_factory=list)
    scored: int = 0
    read_at: float = 0.0
    #: (event times, scores) of the scored rows, when the flow has an alert
    #: budget (its tests and p-value pool; pynomaly.incidents.budget)
    budget_scores: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    #: the maintenance windows in force at the shard's watermark (None: the
    #: flow has none), for the dashboard
    windows: list[dict[str, Any]] | None = None


def make_detect_logic(spec: FlowSpec, keep_points: bool = False) -> Any:
    """The detect step for ``spec``: the banked path
    (:mod:`pynomaly.dataflow.detect_banked`) when the spec allows it — same
    alerts, far less Python per key — else the per-key :class:`DetectLogic`."""
    from pynomaly.dataflow.detect_banked import BankedDetectLogic, banked_eligible

    if banked_eligible(spec):
        return BankedDetectLogic(spec, keep_points=keep_points)
    return DetectLogic(spec, keep_points=keep_points)


class DetectLogic:
    """The pure per-shard step; :meth:`mapper` is what ``stateful_map`` calls."""

    def __init__(self, spec: FlowSpec, keep_points: bool = False) -> None:
        self.spec = spec
        self.flow = spec.name
        self.det_name = spec.detection.detector.name
        self.threshold_kind = spec.detection.threshold.kind
        self.fields = tuple(spec.record.value_fields)
        self.max_keys_per_shard = max(1, spec.keys.max_keys // spec.keys.shards)
        self.keep_points = keep_points
        self.decision = AlertDecision(spec)
        w = spec.window
        self._window_args = (
            None if w.kind == "none"
            else (w.size_s, w.size_s if w.kind == "tumbling" else (w.slide_s or w.size_s / 2),
                  w.allowed_lateness_s, w.agg)
        )

    def shard_label(self, batch: EventBatch) -> int:
        """The shard a (single-shard) batch belongs to."""
        return shard_of(batch.keys[0], self.spec.keys.shards) if len(batch) else -1

    def _new_key(self) -> KeyState:
        pipe = ScoringPipeline(self.spec.detection)
        windows = None
        if self._window_args is not None:
            size, slide, lateness, agg = self._window_args
            windows = KeyWindows(size, slide, lateness, agg, len(self.fields))
        return KeyState(pipe, windows)

    def mapper(self, state: ShardState | None, batch: EventBatch) -> tuple[ShardState, ShardOutput]:
        return self.process(state, batch)

    def process(self, state: ShardState | None, batch: EventBatch) -> tuple[ShardState, ShardOutput]:
        if state is not None and not isinstance(state, ShardState):
            raise TypeError(
                f"flow {self.flow!r}: recovery state of shard was written by the banked detect "
                "path (another version or spec); start from an empty recovery directory or "
                "run the version and spec that wrote it")
        st = state if state is not None else ShardState()
        if getattr(st, "decision", None) is None:
            st.decision = self.decision.new_state()
        out = ShardOutput(read_at=batch.read_at)
        st.batches += 1
        # arrival-order watermark before each row (missing data, see pynomaly.alerting)
        wm_before = batch_watermarks(decision_of(st), batch)
        maintenance = self.decision.maintenance(decision_of(st), batch.keys, batch.times)
        groups: dict[str, list[int]] = {}
        for i, k in enumerate(batch.keys):
            g = groups.get(k)
            if g is None:
                groups[k] = [i]
            else:
                g.append(i)
        for key, idx_list in groups.items():
            ks = st.keys.get(key)
            if ks is None:
                if len(st.keys) >= self.max_keys_per_shard:
                    st.overflow += len(idx_list)
                    for i in idx_list:
                        out.dead.append(self._dead(batch, i, Reason.KEY_OVERFLOW,
                                                   "live-key cap reached"))
                    continue
                ks = self._new_key()
                st.keys[key] = ks
            idx = np.asarray(idx_list)
            self._process_key(st, ks, key, batch, idx, out, wm_before, maintenance)
        if len(batch):
            st.watermark = max(st.watermark, float(batch.times.max()))
        out.alerts += self.decision.missing(decision_of(st), batch, st.watermark)
        ttl = self.spec.keys.ttl_s
        if ttl > 0 and st.batches % 16 == 0:
            self._evict(st, st.watermark - ttl)
            decision_of(st).evict_before(st.watermark - ttl)
        out.windows = self.decision.windows_in_force(st.watermark)
        return st, out

    def _dead(self, batch: EventBatch, i: int, reason: Reason, detail: str) -> DeadLetter:
        return dead_letter(batch, i, reason, detail)

    def _evict(self, st: ShardState, before: float) -> None:
        stale = [k for k, ks in st.keys.items() if ks.last_time < before]
        for k in stale:
            del st.keys[k]
        st.evicted += len(stale)

    def _drift_record(self, st: ShardState, key: str, t: float, ev: Any) -> dict[str, Any]:
        return _drift_alert(self.flow, self.det_name, self.spec.alerts.dashboard_url, st, key,
                            t, ev)

    def _arrivals(self, st: ShardState, key: str, times: np.ndarray, keep: np.ndarray,
                  wm_before: np.ndarray | None, idx: np.ndarray, out: ShardOutput,
                  origin: str) -> Arrivals:
        """The key's event times to its cadence; recoveries (and missing data
        within the batch) to the alerts."""
        wm = wm_before[idx] if wm_before is not None else None
        arr = self.decision.arrivals(decision_of(st), [key] * len(times), times, keep, wm,
                                     origin)
        if arr.recovered.any():
            out.alerts += self.decision.recoveries(decision_of(st), arr, [key] * len(times), times)
        return arr

    def _process_key(self, st: ShardState, ks: KeyState, key: str, batch: EventBatch,
                     idx: np.ndarray, out: ShardOutput, wm_before: np.ndarray | None = None,
                     maintenance: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        times = batch.times[idx]
        X = batch.values[idx]
        if maintenance is None:
            maintenance = self.decision.maintenance(decision_of(st), batch.keys, batch.times)
        if ks.windows is not None:
            late, closed = ks.windows.add(times, X)
            for j in late:
                st.late += 1
                out.dead.append(self._dead(batch, int(idx[j]), Reason.LATE_EVENT,
                                           "event older than the window watermark minus lateness"))
            on_time = np.ones(len(times), dtype=bool)
            on_time[list(late)] = False
            self._arrivals(st, key, times, on_time, wm_before, idx, out, batch.watermark_from)
            if not closed:
                return
            times = np.array([c[0] for c in closed])
            X = np.array([c[1] for c in closed], dtype=np.float64)
            hold, skip = self.decision.maintenance(decision_of(st), [key] * len(times), times)
            aug = Augmented(X, np.zeros(len(X), dtype=np.int64), ~skip, np.ones(len(X), bool),
                            np.arange(len(X)))
        else:
            lateness = self.spec.window.allowed_lateness_s
            prev = np.maximum.accumulate(np.r_[ks.last_time, times])[:-1]
            late_mask = times < prev - lateness
            if late_mask.any():
                for j in np.flatnonzero(late_mask).tolist():
                    st.late += 1
                    out.dead.append(self._dead(batch, int(idx[j]), Reason.LATE_EVENT,
                                               "event time behind the key's newest event"))
                keep = ~late_mask
                times, X, idx = times[keep], X[keep], idx[keep]
                if len(times) == 0:
                    return
            arr = self._arrivals(st, key, times, np.ones(len(times), dtype=bool), wm_before, idx,
                                 out, batch.watermark_from)
            hold, skip = maintenance[0][idx], maintenance[1][idx]
            aug = self.decision.imputed(decision_of(st), arr, X, ~skip)
        if aug.imputed or not aug.keep.all():
            # imputed rows learned before the row after a gap; skipped rows not at all
            learned = aug.X[aug.keep]
            res = real_rows(ks.pipeline.process_many(learned) if len(learned) else None, aug,
                            ks.seen)
        else:
            res = ks.pipeline.process_many(X)
        scores = res.scores
        out.scored += len(scores)
        if self.spec.budget is not None:
            out.budget_scores.append((np.asarray(times, dtype=np.float64), np.asarray(scores)))
        if self.keep_points:
            out.points.append((key, times, X, scores, res.probability, res.threshold,
                               res.is_anomaly))
        for ev in res.drift_events:
            t_ev = float(times[ev.index - res.start])
            out.drift.append({"key": key, "ts": t_ev,
                              "monitor": ev.monitor, "stream": ev.stream, "detail": ev.detail})
            out.alerts.append(self._drift_record(st, key, t_ev, ev))
        ks.seen += len(scores)
        ks.last_time = max(ks.last_time, float(times.max()))
        n = len(times)
        flags = np.asarray(res.is_anomaly, dtype=bool)
        # the values as the detector takes them (NaN → 0, clipped), as on the banked path
        obs = self.decision.observe(decision_of(st), [key] * n, prepare_values(X), ~skip, flags,
                                    labels_for(batch.labels, [key]))
        now = time.time()
        passed = np.flatnonzero(self.decision.hold(decision_of(st), obs, hold))
        if not flags.any():
            return
        cooldown = self.spec.alerts.cooldown_s
        alerted = np.zeros(n, dtype=bool)
        for j in passed.tolist():
            t = float(times[j])
            # no alert within `cooldown` of the key's latest alert, on either
            # side: an out-of-order event just before it is the same incident
            if abs(t - (ks.cooldown_until - cooldown)) < cooldown:
                continue
            ks.cooldown_until = max(ks.cooldown_until, t + cooldown)
            alerted[j] = True
        held = self.decision.held(decision_of(st), obs, flags, alerted)
        for j in np.flatnonzero(alerted).tolist():
            alert = make_alert(
                self.flow, key, float(times[j]), dict(zip(self.fields, X[j].tolist(), strict=True)),
                float(scores[j]), _or_none(float(res.probability[j])), float(res.threshold[j]),
                self.threshold_kind, self.det_name,
                self._explanation(res.explanations.get(j)), emit_time=now,
            )
            out.alerts.append(self.decision.upgrade(decision_of(st), obs, j, alert, int(held[j])))

    def _explanation(self, share: np.ndarray | None) -> dict[str, float]:
        top = self.spec.alerts.explain_top
        if top == 0 or share is None:
            return {}
        order = np.argsort(-share)[:top]
        return {self.fields[i]: round(float(share[i]), 6) for i in order if share[i] > 0}
