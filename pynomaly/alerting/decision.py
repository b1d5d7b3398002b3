"""The alert decision of one shard: from the detector's flags to alert
records an on-call engineer can act on.

For each batch of a shard's events (any mix of keys, in arrival order) it
learns every key's cadence and baseline, applies the suppression rules to the
detector's flags, and builds the records: anomaly alerts with ``expected``,
``bounds``, ``direction``, ``severity``, ``labels`` and ``suppressed``; a
``recovery`` record for a key's first event after it went missing; and, once
per check, a ``missing_data`` alert for every key silent past its limit at
the flow's watermark. All state lives in per-slot arrays
(:class:`DecisionState`), pickled into recovery snapshots.

Example
-------
>>> import numpy as np
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "demo", "source": {"type": "file", "path": "x"},
...     "record": {"key_field": "host", "value_fields": ["cpu"]}})
>>> d = AlertDecision(spec)
>>> st = d.new_state()
>>> t = np.arange(200) * 10.0
>>> x = (40 + np.random.default_rng(0).normal(0, 1, 200)).reshape(-1, 1)
>>> x[150] = 80.0
>>> flagged = np.zeros(200, dtype=bool); flagged[[60, 150]] = True
>>> arr = d.arrivals(st, ["a"] * 200, t, np.ones(200, bool))
>>> obs = d.observe(st, ["a"] * 200, x, np.ones(200, bool), flagged, labels={"a": {"region": "eu"}})
>>> np.flatnonzero(obs.passed).tolist()        # the flag at 60 is within the noise
[150]
>>> from pynomaly.dataflow.alert_record import make_alert
>>> v1 = make_alert("demo", "a", t[150], {"cpu": 80.0}, 30.0, 0.9999, 0.995, "probability",
...                 "robust_zscore", {"cpu": 1.0})
>>> rec = d.upgrade(st, obs, 150, v1, suppressed=1)
>>> rec["direction"], rec["severity"], rec["labels"], rec["suppressed"]
({'cpu': 'up'}, 'critical', {'region': 'eu'}, 1)
>>> from pynomaly.dataflow.records import EventBatch
>>> later = EventBatch(["b"], np.array([2500.0]), np.array([[40.0]]), ("cpu",), watermark=2500.0)
>>> [r["kind"] for r in d.missing(st, later, 2500.0)]  # "a" silent since 1990 s: over 5 x 10 s
['missing_data']
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from pynomaly.alerting.alert_v2 import (
    SCHEMA_VERSION,
    dashboard_link,
    direction_of,
    missing_data_alert,
    recovery_record,
    severity_of,
)
from pynomaly.alerting.baseline import Baseline
from pynomaly.alerting.cadence import Cadence
from pynomaly.alerting.control import ControlFeed
from pynomaly.alerting.imputation import Augmented, impute, last_values
from pynomaly.alerting.maintenance import Calendar
from pynomaly.alerting.rules import Rules
from pynomaly.alerting.watermark import OriginWatermarks


@njit(cache=True, nogil=True)
def _map_slots(bank_slots, by_bank, out):
    """``out = by_bank[bank_slots]`` (``-1`` where a bank slot is ``-1``);
    False when a bank slot has no mapping yet."""
    m = by_bank.shape[0]
    for i in range(bank_slots.shape[0]):
        b = bank_slots[i]
        if b < 0:
            out[i] = -1
        elif b >= m or by_bank[b] < 0:
            return False
        else:
            out[i] = by_bank[b]
    return True


class DecisionState:
    """One shard's decision state: key → slot, labels, cadence, baseline and
    rule counters per slot, each key's origin and each origin's watermark."""

    def __init__(self, decision: AlertDecision) -> None:
        self.keys: dict[str, int] = {}
        self.slot_keys: list[str | None] = []
        self.free: list[int] = []
        self.labels: list[dict[str, Any]] = []
        self.baseline = Baseline(decision.spec.alerts.baseline, len(decision.fields))
        self.rules = Rules(decision.spec.alerts.rules, decision.fields)
        self.cadence = Cadence(decision.spec.alerts.missing_data)
        #: each slot's last value (what imputation starts a gap from)
        self.last_value = np.zeros((0, len(decision.fields)))
        #: the newest watermark of any origin
        self.watermark = -np.inf
        self.origins = OriginWatermarks()
        #: per slot, the origin (id in ``origins``) its events last came from
        self.slot_origin = np.zeros(0, dtype=np.int64)
        #: would-be alerts that maintenance windows held back
        self.held_in_windows = 0

    def slots(self, keys: list[str]) -> np.ndarray:
        """The slot of every key of ``keys`` (new keys get fresh slots)."""
        km = self.keys
        try:
            return np.fromiter(map(km.__getitem__, keys), dtype=np.int64, count=len(keys))
        except KeyError:
            pass
        new = [k for k in dict.fromkeys(keys) if k not in km]
        reuse = self.free[-len(new):][::-1] if new else []
        if reuse:
            del self.free[-len(reuse):]
        top = len(self.slot_keys)
        fresh = list(range(top, top + len(new) - len(reuse)))
        self.slot_keys.extend([None] * len(fresh))
        self.labels.extend({} for _ in fresh)
        n = len(self.slot_keys)
        for part in (self.baseline, self.rules, self.cadence):
            part.ensure(n)
        if n > self.last_value.shape[0]:
            grow = max(n, 2 * self.last_value.shape[0], 16) - self.last_value.shape[0]
            self.last_value = np.pad(self.last_value, ((0, grow), (0, 0)))
        if n > self.slot_origin.shape[0]:
            grow = max(n, 2 * self.slot_origin.shape[0], 16) - self.slot_origin.shape[0]
            self.slot_origin = np.r_[self.slot_origin, np.full(grow, -1, dtype=np.int64)]
        got = np.array(reuse + fresh, dtype=np.int64)
        for part in (self.baseline, self.rules, self.cadence):
            part.reset(got)
        self.slot_origin[got] = -1
        for k, s in zip(new, got.tolist(), strict=True):
            km[k] = s
            self.slot_keys[s] = k
            self.labels[s] = {}
        return np.fromiter(map(km.__getitem__, keys), dtype=np.int64, count=len(keys))

    def rebaseline(self, keys: list[str]) -> None:
        """The named keys' baselines and rule counters start afresh (cadence is kept)."""
        slots = np.array([self.keys[k] for k in keys if k in self.keys], dtype=np.int64)
        if slots.size:
            self.baseline.reset(slots)
            self.rules.reset(slots)

    def slots_of_bank(self, keys: list[str], bank_slots: np.ndarray, generation: Any
                      ) -> np.ndarray:
        """The slots of a banked detect step's rows from the bank's own slots
        (``-1`` for rows the bank has none for: keys over the cap). While the
        bank's ``generation`` (anything that changes when it adds or evicts
        keys) is unchanged this is one array lookup, no per-key work."""
        by_bank = self.__dict__.get("_by_bank")
        n = len(keys)
        if by_bank is not None and generation == self.__dict__.get("_bank_generation"):
            got = np.empty(n, dtype=np.int64)
            if _map_slots(bank_slots, by_bank, got):
                return got
        ok = bank_slots >= 0
        got = np.full(n, -1, dtype=np.int64)
        if ok.all():
            got[:] = self.slots(keys)
        elif ok.any():
            rows = np.flatnonzero(ok)
            got[rows] = self.slots([keys[i] for i in rows.tolist()])
        top = int(bank_slots.max()) + 1 if n else 0
        if by_bank is None or by_bank.shape[0] < top:
            grown = np.full(max(top, 16, 0 if by_bank is None else 2 * by_bank.shape[0]), -1,
                            dtype=np.int64)
            if by_bank is not None:
                grown[:by_bank.shape[0]] = by_bank
            by_bank = grown
        by_bank[bank_slots[ok]] = got[ok]
        self._by_bank = by_bank
        self._bank_generation = generation
        return got

    def evict_before(self, before: float) -> None:
        """Forget keys whose newest event time is before ``before``."""
        n = len(self.slot_keys)
        stale = np.flatnonzero(self.cadence.last[:n] < before).tolist()
        for s in stale:
            k = self.slot_keys[s]
            if k is not None:
                del self.keys[k]
                self.slot_keys[s] = None
                self.labels[s] = {}
                self.free.append(s)

    def copy(self) -> DecisionState:
        new = DecisionState.__new__(DecisionState)
        new.__dict__.update(self.__dict__)
        new.keys = dict(self.keys)
        new.slot_keys = list(self.slot_keys)
        new.free = list(self.free)
        new.labels = list(self.labels)
        new.baseline = self.baseline.copy()
        new.rules = self.rules.copy()
        new.cadence = self.cadence.copy()
        new.last_value = self.last_value.copy()
        if "_by_bank" in self.__dict__:
            new._by_bank = self._by_bank.copy()
        new.origins = copy.deepcopy(self.origins)
        new.slot_origin = self.slot_origin.copy()
        return new

    def __deepcopy__(self, memo: dict) -> DecisionState:
        return self.copy()

    def __getstate__(self) -> dict[str, Any]:
        """The state with every array cut to the slots in use."""
        n = len(self.slot_keys)
        st = dict(self.__dict__)
        for name in ("baseline", "rules", "cadence"):
            part = copy.copy(getattr(self, name))
            part.load(part.state(n))
            part.__dict__.pop("seen", None)  # the last batch's per-row counts
            st[name] = part
        st["last_value"] = self.last_value[:n].copy()
        st["slot_origin"] = self.slot_origin[:n].copy()
        st.pop("_by_bank", None)  # the bank's slot map is rebuilt after a restore
        st.pop("_bank_generation", None)
        return st

    def __setstate__(self, st: dict[str, Any]) -> None:
        self.__dict__.update(st)
        if "last_value" not in st:  # snapshots from before imputation
            self.last_value = np.zeros((len(self.slot_keys), self.baseline.n_fields))
        self.held_in_windows = st.get("held_in_windows", 0)
        if "origins" not in st:  # snapshots from before per-origin watermarks
            self.origins = OriginWatermarks()
            self.slot_origin = np.full(len(self.slot_keys), -1, dtype=np.int64)



@dataclass
class Observation:
    """What :meth:`AlertDecision.observe` learned of a batch's values."""

    slots: np.ndarray
    expected: np.ndarray
    sigma: np.ndarray
    #: flagged rows the rules let through
    passed: np.ndarray
    #: per row, the records its key had learned before it (flags within the
    #: flow's warm-up are not counted)
    seen: np.ndarray


@dataclass
class Arrivals:
    """What :meth:`AlertDecision.arrivals` learned of a batch's arrival times."""

    slots: np.ndarray
    #: rows that are a missing key's first record
    recovered: np.ndarray
    #: recovered rows whose key went missing unreported (within the batch)
    missed: np.ndarray
    #: seconds of silence before the row when longer than 1.5 cadences, else 0
    gap: np.ndarray
    #: the key's cadence before the row
    cadence: np.ndarray


def in_key_order(records: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """``records`` of one batch in the order the per-key detect step emits
    them: keys in order of first appearance in ``keys``; within a key its
    silence records (``missing_data``, ``recovery``) before its anomalies;
    otherwise as given.

    >>> recs = [{"key": "b", "kind": "anomaly"}, {"key": "a", "kind": "recovery"},
    ...         {"key": "b", "kind": "recovery"}]
    >>> [(r["key"], r["kind"]) for r in in_key_order(recs, ["b", "a", "b"])]
    [('b', 'recovery'), ('b', 'anomaly'), ('a', 'recovery')]
    """
    rank: dict[str, int] = {}
    for k in keys:
        rank.setdefault(k, len(rank))
    return sorted(records, key=lambda r: (rank.get(r["key"], len(rank)), r["kind"] == "anomaly"))


def batch_watermarks(st: DecisionState, batch: Any) -> np.ndarray:
    """The watermark of the batch's origin just before each of its rows."""
    out = np.empty(len(batch.times))
    _running_max(st.origins.watermark(batch.watermark_from), batch.times, out)
    return out


@njit(cache=True, nogil=True)
def _running_max(start, times, out):
    m = start
    for i in range(times.shape[0]):
        out[i] = m
        if times[i] > m:
            m = times[i]


def watermarks_before(start: float, times: np.ndarray) -> np.ndarray:
    """The watermark just before each row of a batch in arrival order: the
    larger of ``start`` and every earlier row's event time.

    >>> watermarks_before(5.0, np.array([3.0, 9.0, 7.0])).tolist()
    [5.0, 5.0, 9.0]
    """
    out = np.empty(len(times))
    if len(times):
        out[0] = start
        np.maximum(np.maximum.accumulate(times[:-1]), start, out=out[1:])
    return out


class AlertDecision:
    """The decision of a flow spec; :meth:`new_state` makes a shard's state."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.flow = spec.name
        self.fields = tuple(spec.record.value_fields)
        self.detector = spec.detection.detector.name
        self.severity = spec.alerts.severity
        self.missing_on = spec.alerts.missing_data.enabled
        self.dashboard_url = spec.alerts.dashboard_url
        self._warmup = int(spec.detection.warmup)
        self._missing_spec = spec.alerts.missing_data
        self.calendar = Calendar(spec.alerts.maintenance)
        self._control = spec.alerts.maintenance_control
        self._feed: ControlFeed | None = None

    def new_state(self) -> DecisionState:
        return DecisionState(self)

    def arrivals(self, st: DecisionState, keys: list[str], times: np.ndarray,
                 keep: np.ndarray, wm_before: np.ndarray | None = None,
                 origin: str = "", slots: np.ndarray | None = None) -> Arrivals:
        """Learn the kept rows' arrival times (in order): cadence, recoveries.
        ``origin``: where the rows come from (the batch's ``watermark_from``);
        ``wm_before``: its watermark just before each row (see
        :func:`batch_watermarks`; default: the origin's watermark); ``slots``:
        the rows' slots when known (:meth:`DecisionState.slots_of_bank`)."""
        if slots is None:
            slots = st.slots(keys)
        st.slot_origin[slots[keep]] = st.origins.update(origin, float("nan"))
        if wm_before is None:
            wm_before = np.full(len(keys), st.origins.watermark(origin))
        recovered, missed, gap, cadence = st.cadence.observe(slots, keep, times, wm_before)
        return Arrivals(slots, recovered, missed, gap, cadence)

    def observe(self, st: DecisionState, keys: list[str], X: np.ndarray, keep: np.ndarray,
                flagged: np.ndarray, labels: dict[str, dict[str, Any]] | None = None,
                slots: np.ndarray | None = None) -> Observation:
        """Learn the kept rows' values (in order) and judge the flagged ones
        (``slots``: the rows' slots when known, as :meth:`arrivals` gives them)."""
        if slots is None:
            slots = st.slots(keys)
        if labels:
            for k, lab in labels.items():
                s = st.keys.get(k)
                if s is not None:
                    st.labels[s] = lab
        expected, sigma = st.baseline.observe(slots, keep, X)
        # flags count past the flow's warm-up, as the per-key pipeline counts it
        seen = st.baseline.seen
        passed = st.rules.apply(slots, flagged, X, expected, sigma, seen, self._warmup)
        return Observation(slots, expected, sigma, passed, seen)

    def maintenance(self, st: DecisionState, keys: list[str], times: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Per row: held back by a maintenance window, and not learned (a
        ``skip`` window). Starts reading the control topic on first use."""
        if self._control is not None and self._feed is None:
            self._feed = ControlFeed(self._control, self.calendar).start()
        get, labels = st.keys.get, st.labels

        def labels_of(key: str) -> dict[str, Any]:
            s = get(key)
            return labels[s] if s is not None else {}

        return self.calendar.apply(keys, times, labels_of)

    def windows_in_force(self, watermark: float) -> list[dict[str, Any]] | None:
        """The maintenance windows in force at ``watermark`` (None when the flow
        has no windows, or no watermark yet)."""
        if not self.calendar.windows or not np.isfinite(watermark):
            return None
        return self.calendar.in_force(watermark)

    def hold(self, st: DecisionState, obs: Observation, hold: np.ndarray) -> np.ndarray:
        """The rows the rules let through, less those a window holds back
        (counted in ``st.held_in_windows``)."""
        if not hold.any():
            return obs.passed
        st.held_in_windows += int(np.count_nonzero(obs.passed & hold))
        return obs.passed & ~hold

    def imputed(self, st: DecisionState, arr: Arrivals, X: np.ndarray, keep: np.ndarray
                ) -> Augmented:
        """The rows the detector learns: ``X`` with the imputation policy's
        rows before every row after a gap (:mod:`pynomaly.alerting.imputation`)."""
        md = self._missing_spec
        if md.imputation == "none":
            return Augmented(X, arr.slots, keep, np.ones(len(X), dtype=bool), np.arange(len(X)))
        aug = impute(X, arr.slots, keep, arr.gap, arr.cadence, st.last_value, md.imputation,
                     md.max_imputed)
        last_values(st.last_value, X, arr.slots, keep)
        return aug

    def held(self, st: DecisionState, obs: Observation, flagged: np.ndarray,
             alerted: np.ndarray) -> np.ndarray:
        """Per alerted row, the flagged rows held back since the key's last alert."""
        return st.rules.count_held(obs.slots, flagged & (obs.seen >= self._warmup), alerted)

    def upgrade(self, st: DecisionState, obs: Observation, i: int, alert: dict[str, Any],
                suppressed: int) -> dict[str, Any]:
        """The v2 record of the v1 anomaly ``alert`` raised for row ``i``."""
        exp_row = obs.expected[i]
        sig_row = obs.sigma[i]
        band = st.rules.bounds_of(exp_row[None, :], sig_row[None, :])[0]
        values = alert["values"]
        expected: dict[str, float | None] = {}
        bounds: dict[str, list[float] | None] = {}
        sigmas = []
        for j, f in enumerate(self.fields):
            e = float(exp_row[j])
            expected[f] = None if e != e else round(e, 6)
            lo, hi = float(band[j, 0]), float(band[j, 1])
            bounds[f] = None if lo != lo or hi != hi else [round(lo, 6), round(hi, 6)]
            sd = float(sig_row[j])
            if sd == sd and e == e:
                d = abs(float(values[f]) - e)
                sigmas.append(d / sd if sd > 0 else (float("inf") if d > 0 else 0.0))
        worst = max(sigmas) if sigmas else None
        key = alert["key"]
        rec = {**alert, "schema_version": SCHEMA_VERSION, "kind": "anomaly",
               "expected": expected, "bounds": bounds,
               "direction": direction_of(values, expected),
               "severity": severity_of(self.severity, worst, alert["probability"]),
               "labels": st.labels[obs.slots[i]], "suppressed": int(suppressed),
               "link": dashboard_link(self.dashboard_url, key), "missing": None}
        return rec

    def recoveries(self, st: DecisionState, obs: Arrivals, keys: list[str],
                   times: np.ndarray, emit_time: float | None = None) -> list[dict[str, Any]]:
        """One ``recovery`` record per row that is a missing key's first
        record, after its ``missing_data`` alert when that was not reported
        yet (the key went silent and came back within one batch)."""
        out = []
        for i in np.flatnonzero(obs.recovered).tolist():
            s = int(obs.slots[i])
            t = float(times[i])
            if obs.missed[i]:
                last = t - float(obs.gap[i])
                cadence = float(obs.cadence[i])
                limit = max(st.cadence.spec.multiple * cadence, st.cadence.spec.min_silence_s)
                out.append(missing_data_alert(
                    self.flow, keys[i], last + limit, self.detector, last_seen=last,
                    cadence_s=cadence, labels=st.labels[s],
                    link=dashboard_link(self.dashboard_url, keys[i]), emit_time=emit_time))
            out.append(recovery_record(
                self.flow, keys[i], t, self.detector, last_seen=t - float(obs.gap[i]),
                cadence_s=float(st.cadence.cadence[s]), labels=st.labels[s],
                link=dashboard_link(self.dashboard_url, keys[i]), emit_time=emit_time))
        return out

    def missing(self, st: DecisionState, batch: Any, shard_max: float,
                emit_time: float | None = None) -> list[dict[str, Any]]:
        """Take the batch's origin watermark (without one, ``shard_max``, the
        newest event time the shard has seen); one ``missing_data`` alert per
        key newly silent past its limit, judged against the watermark of the
        origin its events come from (:class:`~.watermark.OriginWatermarks`)."""
        wm = batch.watermark if batch.watermark == batch.watermark else shard_max
        st.origins.update(batch.watermark_from, wm)
        if wm > st.watermark:
            st.watermark = wm
        if not self.missing_on or st.watermark < st.cadence.next_due[0]:
            return []  # no key can be due yet: the usual case costs nothing more
        effective = st.origins.effective()
        if len(effective) == 0:
            return []
        per_origin = np.append(effective, -np.inf)  # index -1: origin unknown
        slots = st.cadence.silent(per_origin[st.slot_origin[:len(st.slot_keys)]])
        if len(slots) == 0:
            return []
        at = st.cadence.alert_time(slots)
        out = []
        for s, t in zip(slots.tolist(), at.tolist(), strict=True):
            key = st.slot_keys[s]
            if key is None:
                continue
            out.append(missing_data_alert(
                self.flow, key, t, self.detector, last_seen=float(st.cadence.last[s]),
                cadence_s=float(st.cadence.cadence[s]), labels=st.labels[s],
                link=dashboard_link(self.dashboard_url, key), emit_time=emit_time))
        return out
