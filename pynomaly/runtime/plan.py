"""Sizing a flow before it starts: the memory and CPU its detect step needs, measured.

:func:`measure` builds the spec's own detect step (what ``pynomaly run``
builds, :func:`~pynomaly.dataflow.detect.make_detect_logic`) and feeds it a
synthetic stream of the spec's value fields: a sample of keys in one shard,
each with enough records to pass its warm-up and fill every window the spec
names (:func:`fill_lengths`). It measures

- the state of a shard and the state each key adds: the sample's keys come in
  two halves; the growth of traced allocations (:mod:`tracemalloc`; numpy
  arrays are traced) over the second half is what a key adds, the rest of the
  first half's is the shard's (shared trees, state made on first use). A copy
  of the state (what Bytewax snapshots for recovery) is measured too; it also
  sees arrays made inside numba kernels, so a key counts the larger of the two;
- the records per second of the detect step on one core, in batches shaped as
  a run at the planned key count receives them (the source's batch size over
  the shards), and of the parse and shard steps on JSON records;
- the resident memory of the process before the sample (Python, Bytewax, the
  loaded kernels) and what one source batch takes in flight: its records as
  read, and the traced peak while they are parsed, split and scored.

:func:`estimate` scales the measurement to N keys: the empty shards plus N
times the state per key. The banked path keeps a shard's keys in arrays that
grow by doubling; pages of slots no key has used yet are not touched, so they
are not resident, but a snapshot copies the arrays whole: the copy counts the
spare slots a run at N keys has (keys spread over the shards by hash), each
as much as a spare slot added to the copy when one more key doubled the full
sample shard.
The detect step copies its state only for recovery snapshots
(``--recovery-dir``, every ``--snapshot-interval``); with them the ``peak`` holds
one copy, without them it is the resident memory.

:func:`check_memory` is what ``pynomaly run`` and ``replay`` do at start: when
the spec sets ``keys.max_keys`` and the estimate at that many keys exceeds the
memory this machine has (:func:`memory_room`), the flow is refused.

Example
-------
>>> from pynomaly.spec import FlowSpec
>>> spec = FlowSpec.model_validate({"name": "cpu", "source": {"type": "file", "path": "m.jsonl"},
...     "record": {"value_fields": ["cpu"]}, "detection": {"detector": "robust_zscore",
...     "calibration": {"kind": "none"}, "threshold": {"kind": "static", "value": 8.0},
...     "warmup": 30}})
>>> fill_lengths(spec)
{'detector warmup': 30, 'warm-up': 30, 'alerts baseline warmup': 30}
>>> est = estimate(spec, keys=100_000, rate=20_000, quick=True)
>>> est.path, est.measurement.sample_keys, est.keys
('banked', 32, 100000)
>>> 0 < est.state_bytes_per_key < 2_000 and est.resident_bytes > est.state_bytes
True
"""

from __future__ import annotations

import copy
import gc
import math
import os
import re
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pynomaly.dataflow.records import EventBatch, RawBatch
from pynomaly.spec import FlowSpec

__all__ = ["MEMORY_LIMIT_ENV", "Estimate", "Measurement", "MemoryRefused", "Room",
           "check_memory", "estimate", "fill_lengths", "format_bytes",
           "key_limit", "measure", "memory_room", "processes_here", "slot_capacity"]

#: Environment variable: the memory, in bytes, the flow's processes may use in
#: all on this machine, used instead of what the machine reports (a container
#: whose limit is not visible as a cgroup, tests).
MEMORY_LIMIT_ENV = "PYNOMALY_MEMORY_LIMIT_BYTES"

#: records per key are capped here (the longest history of any detector fits)
MAX_ROWS_PER_KEY = 20_000
#: sample keys: at least (two halves of the smallest capacity of a banked shard) and at most
MIN_SAMPLE_KEYS = 32
MAX_SAMPLE_KEYS = 256
#: seconds the sample's records may take to feed (``pynomaly plan``; the check at start)
FILL_BUDGET_S = 2.0
QUICK_BUDGET_S = 0.3
#: memory the sample's state may take
SAMPLE_BYTES = 256 * 2**20
#: seconds each throughput measurement runs
RATE_SECONDS = 0.3
#: keys that time the fill before the sample is sized, and for how long at most
PROBE_KEYS = 8
PROBE_S = 0.2
#: records of one key per detect call while filling the sample
RECORDS_PER_CALL = 16
#: event-time spacing of a key's records without windows
RECORD_INTERVAL_S = 60.0

#: parameter names that count records (a window, a warm-up, a history …);
#: names ending in ``_s`` are seconds
_FILL_NAME = re.compile(r"window|warmup|history|size|until|fit|init")


# -- what the spec fills ------------------------------------------------------
def fill_lengths(spec: FlowSpec) -> dict[str, int]:
    """Records a key takes to fill each window, warm-up or history the spec
    names (detector parameters with their defaults, calibration, threshold,
    drift monitors, the alert baseline), by where it is set."""
    from pynomaly.engine.registry import detector_class

    det = spec.detection
    out: dict[str, int] = {}
    try:
        params = detector_class(det.detector.name).Params(**det.detector.params).model_dump()
    except Exception:  # an unknown detector fails when the step is built, with its message
        params = dict(det.detector.params)
    _collect(params, "detector", out)
    out["warm-up"] = det.warmup
    _collect(det.model_dump(exclude={"detector", "warmup"}), "", out)
    _collect(spec.alerts.baseline.model_dump(), "alerts baseline", out)
    return out


def _collect(data: Any, where: str, out: dict[str, int]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            name = f"{where} {k}".strip()
            if isinstance(v, dict | list):
                _collect(v, name, out)
            elif (isinstance(v, int) and not isinstance(v, bool) and v > 0
                  and _FILL_NAME.search(str(k)) and not str(k).endswith("_s")):
                out[name] = v
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _collect(v, f"{where}[{i}]", out)


def rows_per_key(spec: FlowSpec) -> int:
    """Records per sample key: the longest fill (:func:`fill_lengths`) and a tenth
    more, at least 50 more (at most :data:`MAX_ROWS_PER_KEY`)."""
    longest = max(fill_lengths(spec).values(), default=0)
    return min(MAX_ROWS_PER_KEY, longest + max(50, longest // 10))


def slot_capacity(keys_per_shard: int) -> int:
    """Slots a banked shard's arrays hold once ``keys_per_shard`` keys came in
    a few at a time: 16, doubled until the keys fit
    (:meth:`~pynomaly.engine.banked.DetectorBank.ensure`).

    >>> slot_capacity(0), slot_capacity(16), slot_capacity(17), slot_capacity(15_625)
    (0, 16, 32, 16384)
    """
    if keys_per_shard <= 0:
        return 0
    cap = 16
    while cap < keys_per_shard:
        cap *= 2
    return cap


def shard_counts(keys: int, shards: int) -> np.ndarray:
    """Keys per shard when ``keys`` keys are spread over ``shards`` by hash
    (a multinomial draw, the same every time).

    >>> shard_counts(1000, 64).sum(), len(shard_counts(1000, 64))
    (np.int64(1000), 64)
    """
    rng = np.random.default_rng(0)
    return rng.multinomial(keys, np.full(shards, 1.0 / shards))


def format_bytes(n: float) -> str:
    """``n`` bytes for people.

    >>> format_bytes(512), format_bytes(17_400), format_bytes(3.5 * 2**30)
    ('512 B', '17.0 KiB', '3.5 GiB')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def rss_bytes() -> int:
    """Resident memory of this process (psutil when installed, else /proc)."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        pass
    else:
        return int(psutil.Process().memory_info().rss)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# -- measuring ----------------------------------------------------------------
@dataclass(frozen=True)
class Measurement:
    """What :func:`measure` found for one spec (see the module doc)."""

    flow: str
    #: ``banked`` or ``per key``; ``reason``: why per key (None when banked)
    path: str
    reason: str | None
    sample_keys: int
    rows_per_key: int
    #: the longest fill the rows cover, e.g. ``calibration window 2000``
    fills: str
    #: state of one shard without keys, and of its copy
    shard_bytes: float
    shard_copy_bytes: float
    #: state each key adds, and its copy
    key_bytes: float
    key_copy_bytes: float
    #: a copy's bytes per slot of a banked shard that no key uses yet
    spare_copy_bytes: float
    #: seconds a snapshot copy takes per key
    copy_s_per_key: float
    #: resident memory of the process before the sample
    baseline_bytes: int
    #: memory of one source batch in flight (read, parsed, split, scored)
    batch_bytes: float = 0.0
    #: detect step records/s on one core, and the batch shape it was measured
    #: with (rows per call, distinct keys per call); None: not measured
    detect_per_s: float | None = None
    batch_shape: tuple[int, int] | None = None
    #: parse (JSON) and shard steps, records/s on one core
    parse_per_s: float | None = None
    #: seconds the measurement took
    seconds: float = 0.0

    @property
    def banked(self) -> bool:
        return self.path == "banked"


#: measurements of this process, by spec (as JSON)
_CACHE: dict[str, list[tuple[bool, int | None, Measurement]]] = {}


def measure(spec: FlowSpec, *, quick: bool = False, at_keys: int | None = None,
            sample_keys: int | None = None) -> Measurement:
    """Measure ``spec``'s detect step (see the module doc). The sample has as
    many keys (a power of two, from :data:`MIN_SAMPLE_KEYS`, a quarter of it on
    the per-key path, up to :data:`MAX_SAMPLE_KEYS`) as fit in about
    :data:`FILL_BUDGET_S` seconds, or ``sample_keys``; the rates are measured
    with batches shaped as at ``at_keys`` keys. ``quick`` (the check at start)
    measures memory only, on at most :data:`MIN_SAMPLE_KEYS` keys that fit in
    :data:`QUICK_BUDGET_S`. A measurement is kept for the life of the process: a
    quick one is answered by any of the same spec."""
    if sample_keys is not None:
        sample_keys = max(MIN_SAMPLE_KEYS, _pow2_floor(sample_keys))
    done = _CACHE.setdefault(spec.model_dump_json(), [])
    for was_quick, was_at, m in done:
        if ((quick or (not was_quick and was_at == at_keys))
                and sample_keys in (None, m.sample_keys)):
            return m
    m = _measure(spec, quick=quick, at_keys=at_keys, sample_keys=sample_keys)
    done.append((quick, at_keys, m))
    return m


def _sample_spec(spec: FlowSpec) -> FlowSpec:
    """``spec`` with no key cap and no eviction: the same per-key state."""
    keys = spec.keys.model_copy(update={"max_keys": 2**62, "ttl_s": 0.0})
    return spec.model_copy(update={"keys": keys})


def _wants_points(spec: FlowSpec) -> bool:
    """Whether the flow keeps every score (a dashboard sink with points), as
    :func:`~pynomaly.dataflow.flow.build_flow` decides."""
    return any(getattr(s, "type", "") == "dashboard" and getattr(s, "points", False)
               for s in spec.sinks)


class _Stream:
    """Synthetic records for the sample keys, in event-time order per key."""

    def __init__(self, spec: FlowSpec, keys: list[str]) -> None:
        self.fields = tuple(spec.record.value_fields)
        w = spec.window
        # windowed flows: one record per window slide, so every record closes a window
        self.step = (RECORD_INTERVAL_S if w.kind == "none"
                     else float(w.size_s if w.kind == "tumbling" else (w.slide_s or w.size_s / 2)))
        self.keys = keys
        self.next = np.zeros(len(keys), dtype=np.int64)
        self.rng = np.random.default_rng(1)
        self.t0 = 1.7e9
        self.level = 1.0 + np.arange(len(self.fields), dtype=np.float64)

    def batch(self, idx: np.ndarray, per_key: int) -> EventBatch:
        """``per_key`` records of each key in ``idx``, time-major like a stream."""
        n = len(idx) * per_key
        ks = [self.keys[i] for i in idx.tolist()] * per_key
        steps = (self.next[idx][None, :] + np.arange(per_key)[:, None]).ravel()
        self.next[idx] += per_key
        times = self.t0 + self.step * steps.astype(np.float64)
        values = self.level + 0.1 * self.level * self.rng.standard_normal((n, len(self.fields)))
        return EventBatch(ks, times, values, self.fields)

    def empty(self) -> EventBatch:
        return EventBatch([], np.empty(0), np.empty((0, len(self.fields))), self.fields)


@contextmanager
def _traced() -> Iterator[Callable[[], int]]:
    """Trace allocations inside the block; yields a function giving the bytes
    traced now (tracing already on elsewhere is left on)."""
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[0]
    finally:
        if not was:
            tracemalloc.stop()


def _grown(now: Callable[[], int], start: int) -> int:
    """Bytes traced since ``start``, after freeing the young generations'
    cycles: the sample's garbage while automatic collections are off (a full
    collection of the process would cost more than the rest)."""
    gc.collect(1)
    return max(0, now() - start)


def _measure(spec: FlowSpec, *, quick: bool, at_keys: int | None,
             sample_keys: int | None) -> Measurement:
    import pynomaly.dataflow.flow  # noqa: F401  (what a run has loaded: Bytewax, connectors)
    from pynomaly.dataflow.detect import make_detect_logic
    from pynomaly.dataflow.detect_banked import per_key_reason
    from pynomaly.dataflow.instrumented import detect_step

    t_start = time.perf_counter()
    points = _wants_points(spec)
    reason = per_key_reason(spec)
    sample = _sample_spec(spec)
    logic = make_detect_logic(sample, keep_points=points)
    rows = rows_per_key(spec)
    lengths = fill_lengths(spec)
    longest = max(lengths, key=lambda k: lengths[k]) if lengths else "warm-up"

    # warm-up: imports and kernels, on a state thrown away; then a few keys'
    # records, traced as the sample will be, time the fill (for at most
    # PROBE_S, extrapolated to all their records)
    probe = _Stream(sample, [f"probe-key-{i:06d}" for i in range(PROBE_KEYS)])
    some = np.arange(PROBE_KEYS)
    st = logic.process(None, probe.batch(some, 4))[0]
    chunk = max(1, min(rows, RECORDS_PER_CALL))
    with _traced() as now:
        t0 = time.perf_counter()
        done = 0
        while done < rows - 4 and (done == 0 or time.perf_counter() - t0 < PROBE_S):
            n = min(chunk, rows - 4 - done)
            st = logic.process(st, probe.batch(some, n))[0]
            done += n
        probe_s = (time.perf_counter() - t0) * (rows - 4) / max(done, 1) / PROBE_KEYS
        start = now()
        probe_copy = copy.deepcopy(st)
        probe_bytes = _grown(now, start) / PROBE_KEYS
    del st, probe_copy
    gc.collect(1)
    baseline = rss_bytes()

    if sample_keys is not None:
        k = sample_keys
    else:
        # banked shards hold at least 16 slots: halves of 16 keys fill them; a
        # per-key sample may be smaller when its keys are slow or large
        fewest = MIN_SAMPLE_KEYS if reason is None else MIN_SAMPLE_KEYS // 4
        # the first half's keys are fed twice as long: 1.5 records per key
        by_time = (QUICK_BUDGET_S if quick else FILL_BUDGET_S) / max(1.5 * probe_s, 1e-9)
        by_bytes = SAMPLE_BYTES / max(probe_bytes, 1)
        most = MIN_SAMPLE_KEYS if quick else MAX_SAMPLE_KEYS
        k = _pow2_floor(max(fewest, min(most, by_time, by_bytes)))
    half = k // 2
    # a few records per key and call, as a stream of many keys brings them
    # (some per-key buffers keep the size the largest call gave them)
    per_call = max(1, min(rows, RECORDS_PER_CALL, 8192 // k))
    # no automatic collections while measuring: the sample's garbage stays
    # young, where _grown frees it, instead of aging into the old generation
    gc_was = gc.isenabled()
    gc.disable()
    try:
        with _traced() as now:
            start = now()
            state = logic.process(None, _Stream(sample, []).empty())[0]
            empty_bytes = _grown(now, start)
            start = now()
            shard_copy = copy.deepcopy(state)
            shard_copy_bytes = _grown(now, start)
            del shard_copy
            # two halves into the same shard: the second half's growth is what a
            # key adds; the rest of the first half's is the shard's, made lazily.
            # The first half's keys go on with the second (none falls silent)
            start = now()
            stream = _Stream(sample, [f"sample-key-{i:06d}" for i in range(k)])
            stream.next[half:] = rows  # the second half arrives when the first is full
            grown = []
            for part in (np.arange(half), np.arange(k)):
                fed = 0
                while fed < rows:
                    n = min(per_call, rows - fed)
                    state = logic.process(state, stream.batch(part, n))[0]
                    fed += n
                grown.append(_grown(now, start))
            key_bytes = max(0.0, (grown[1] - grown[0]) / half)
            shard_bytes = empty_bytes + max(0.0, grown[0] - half * key_bytes)
            start = now()
            t0 = time.perf_counter()
            state_copy = copy.deepcopy(state)
            copy_s = time.perf_counter() - t0
            copied = max(0, _grown(now, start) - shard_copy_bytes)
            del state_copy
            key_copy_bytes = copied / k
            spare_copy_bytes = 0.0
            if _capacity(state) == k:  # banked and full: one more key doubles it
                one = _Stream(sample, ["sample-key-spare"])
                one.next[:] = stream.next.max()
                state = logic.process(state, one.batch(np.array([0]), 1))[0]
                spare = _capacity(state) - k - 1
                if spare > 0:
                    start = now()
                    state_copy = copy.deepcopy(state)
                    copied_more = _grown(now, start) - shard_copy_bytes
                    del state_copy
                    spare_copy_bytes = max(0.0, copied_more - copied - key_copy_bytes) / spare
    finally:
        if gc_was:
            gc.enable()
    # a copy also sees what numba kernels allocated, which tracing does not
    key_bytes = max(key_bytes, key_copy_bytes)

    detect_rate = shape = parse_rate = None
    if not quick:
        step = detect_step(logic, spec.name, spec.detection.detector.name)
        shape = _batch_shape(spec, at_keys if at_keys is not None else k, k)
        stream.next[:] = stream.next.max()  # every key current again
        detect_rate = _detect_rate(step, state, stream, shape)
        parse_rate = _parse_rate(spec, at_keys if at_keys is not None else k)
    batch_bytes = _batch_bytes(spec, logic, state, stream)
    del state
    return Measurement(
        flow=spec.name, path="banked" if reason is None else "per key", reason=reason,
        sample_keys=k, rows_per_key=rows, fills=f"{longest} {lengths.get(longest, 0)}",
        shard_bytes=float(shard_bytes), shard_copy_bytes=float(shard_copy_bytes),
        key_bytes=float(key_bytes), key_copy_bytes=float(key_copy_bytes),
        spare_copy_bytes=float(spare_copy_bytes), copy_s_per_key=copy_s / k, baseline_bytes=baseline, batch_bytes=batch_bytes,
        detect_per_s=detect_rate,
        batch_shape=shape, parse_per_s=parse_rate, seconds=time.perf_counter() - t_start)


def _capacity(state: Any) -> int:
    """Slots a banked shard's arrays hold (0: a per-key shard)."""
    return int(getattr(getattr(state, "bank", None), "capacity", 0))


def _pow2_floor(x: float) -> int:
    return 1 << max(0, math.floor(math.log2(max(x, 1.0))))


def _batch_shape(spec: FlowSpec, keys: int, sample_keys: int) -> tuple[int, int]:
    """(rows, distinct keys) of one detect call when ``keys`` keys arrive in
    source batches of the spec's size, split over its shards."""
    batch = spec.source.batch_size
    active = max(1, min(spec.keys.shards, keys))
    rows = max(1, batch // active)
    distinct = max(1, min(rows, math.ceil(keys / spec.keys.shards), sample_keys))
    return (distinct * max(1, rows // distinct), distinct)


def _best_rate(unit: Callable[[], tuple[int, float]], rounds: int = 3) -> float:
    """Records/s of the best of ``rounds`` rounds of about
    ``RATE_SECONDS / rounds`` each; ``unit()`` does one piece of work and
    returns the records it took and the seconds its timed part took (other
    processes on the machine slow some rounds: the best is what a core does)."""
    best = 0.0
    for _ in range(rounds):
        done, took = 0, 0.0
        while done == 0 or took < RATE_SECONDS / rounds:
            n, seconds = unit()
            done += n
            took += seconds
        best = max(best, done / max(took, 1e-9))
    return best


def _detect_rate(step: Any, state: Any, stream: _Stream, shape: tuple[int, int]) -> float:
    """Records/s of the detect step in calls of ``shape`` (rows, distinct keys);
    making the batches is not timed (the parse step does it in a run)."""
    rows, distinct = shape
    k = len(stream.keys)
    per_key = max(1, rows // distinct)
    calls = 0

    def call() -> tuple[int, float]:
        nonlocal state, calls
        batch = stream.batch((np.arange(distinct) + calls * distinct) % k, per_key)
        calls += 1
        t0 = time.perf_counter()
        state = step(state, batch)[0]
        return len(batch), time.perf_counter() - t0

    return _best_rate(call)


def _json_batch(record: Any, keys: list[str], times: np.ndarray,
                rng: np.random.Generator) -> RawBatch:
    """JSON records of ``record``'s fields: record ``i`` of key ``keys[i]`` at
    event time ``times[i]``, values as the sample stream's (:class:`_Stream`)."""
    import orjson

    if record.time_format == "epoch_s":
        ts: list[Any] = times.round(3).tolist()
    elif record.time_format == "epoch_ms":
        ts = (times * 1000).astype(np.int64).tolist()
    else:
        ts = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
              for t in times.tolist()]
    level = 1.0 + np.arange(len(record.value_fields))
    values = (level + 0.1 * level * rng.standard_normal((len(keys), len(level)))).round(4)
    return RawBatch([orjson.dumps({record.key_field: k, record.time_field: t,
                                   **dict(zip(record.value_fields, v, strict=True))})
                     for k, t, v in zip(keys, ts, values.tolist(), strict=True)], "plan")


def _parse_rate(spec: FlowSpec, keys: int) -> float | None:
    """Records/s of the parse and shard steps on JSON records like the spec's."""
    from pynomaly.dataflow.detect import ShardSplitter
    from pynomaly.dataflow.instrumented import parse_step
    from pynomaly.dataflow.parse import RecordParser

    n = spec.source.batch_size
    distinct = max(1, min(keys, 1_000_000))
    rng = np.random.default_rng(2)
    start = time.time() - 120.0

    def batch(j: int) -> RawBatch:
        """The next keys, their records within the next second (fresh
        timestamps: the parser's timestamp cache is as warm as in a stream)."""
        names = [f"sample-key-{(j * n + i) % distinct:06d}" for i in range(n)]
        return _json_batch(spec.record, names, start + j + np.arange(n) / n, rng)

    parse = parse_step(RecordParser(spec.record), spec.name)
    split = ShardSplitter(spec.keys.shards)
    good, _ = parse(batch(0))  # warm: the byte scanner's kernels
    if len(good) < n // 2:
        return None  # records like these are not what this spec reads
    split(good)
    j = 0

    def parse_and_split() -> tuple[int, float]:
        nonlocal j
        j += 1
        raw = batch(j)  # not timed: the source makes it in a run
        t0 = time.perf_counter()
        split(parse(raw)[0])
        return n, time.perf_counter() - t0

    return _best_rate(parse_and_split)


def _batch_bytes(spec: FlowSpec, logic: Any, state: Any, stream: _Stream) -> float:
    """Memory one source batch takes in flight: its records as read, and the
    traced peak while they are parsed, split over the shards and scored (on
    the sample's keys, after their records so far). Returns the bytes."""
    import sys

    from pynomaly.dataflow.detect import ShardSplitter
    from pynomaly.dataflow.parse import RecordParser

    record = spec.record.model_copy(update={"max_age_s": 0.0, "max_future_s": 1e12})
    parser = RecordParser(record)
    rng = np.random.default_rng(4)
    # the sample's keys, each at its cadence from where the stream left it
    k = len(stream.keys)
    per_key = max(1, spec.source.batch_size // k)
    first = float(stream.next.max())
    steps = np.repeat(first + np.arange(per_key), k)
    names = stream.keys * per_key
    parser.parse(_json_batch(record, names[:k], stream.t0 + stream.step * steps[:k], rng))
    raw = _json_batch(record, names[k:], stream.t0 + stream.step * steps[k:], rng)
    read = sys.getsizeof(raw.payloads) + sum(sys.getsizeof(p) for p in raw.payloads)
    split = ShardSplitter(spec.keys.shards)
    with _traced() as now:
        gc.collect(1)
        tracemalloc.reset_peak()
        base = now()
        good, _ = parser.parse(raw)
        parts = split(good)  # held while scored, as in a run
        # every sample key lives in the one sample shard: scored in one call
        state, out = logic.process(state, good)
        peak = tracemalloc.get_traced_memory()[1] - base
        del parts, out
    return float(read + max(0, peak))


# -- estimating ---------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """Memory and CPU of a flow at ``keys`` keys and ``rate`` records/s over
    ``processes`` processes, from a :class:`Measurement`; bytes are totals
    over the processes unless named per process."""

    flow: str
    keys: int
    rate: float
    processes: int
    #: whether the detect state is copied at every epoch (recovery on)
    snapshots: bool
    path: str
    reason: str | None
    #: detect state of every key and shard, and per key
    state_bytes: float
    state_bytes_per_key: float
    #: resident: the processes' baselines, a batch in flight in each, the detect state
    resident_bytes: float
    #: a snapshot's copy of the state (arrays at capacity); 0 without snapshots
    copy_bytes: float
    #: resident plus the copy, when snapshots are taken
    peak_bytes: float
    #: banked: the slots the shards' arrays reach at ``keys`` keys (None: per key)
    capacity_slots: int | None
    #: cores for the detect step and for parse and shard at ``rate``, and
    #: for the snapshot copies (None where not measured)
    detect_cores: float | None
    parse_cores: float | None
    snapshot_cores: float | None
    #: the key cap of the spec, when ``keys`` is beyond it
    over_max_keys: int | None
    measurement: Measurement = field(repr=False)

    @property
    def cores(self) -> float | None:
        parts = [c for c in (self.detect_cores, self.parse_cores, self.snapshot_cores)
                 if c is not None]
        return sum(parts) if parts else None

    @property
    def per_process_peak_bytes(self) -> float:
        return self.peak_bytes / self.processes

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cores"] = self.cores
        out["per_process_peak_bytes"] = self.per_process_peak_bytes
        return out

    def lines(self, room: Room | None = None) -> list[str]:
        """The estimate as ``pynomaly plan`` prints it; with ``room``, whether
        it fits there."""
        m = self.measurement
        who = (f"{self.processes} processes" if self.processes > 1 else "1 process")
        out = [f"plan {self.flow}: {self.keys:,} keys, {self.rate:,.0f} records/s, {who}"]
        out.append("detect path   " + ("banked" if self.reason is None
                                       else f"per key ({self.reason})"))
        times = f" x {self.processes}" if self.processes > 1 else ""
        out.append(f"memory        resident {format_bytes(self.resident_bytes)} = process "
                   f"{format_bytes(m.baseline_bytes)}{times} + a batch in flight "
                   f"{format_bytes(m.batch_bytes)}{times} + detect state "
                   f"{format_bytes(self.state_bytes)} "
                   f"({format_bytes(self.state_bytes_per_key)} per key)")
        if self.snapshots:
            cap = (f", arrays at {self.capacity_slots:,} slots"
                   if self.capacity_slots is not None else "")
            out.append(f"              peak {format_bytes(self.peak_bytes)} with a recovery "
                       f"snapshot's copy of the state ({format_bytes(self.copy_bytes)}{cap})")
        else:
            cap = (f"; banked arrays reach {self.capacity_slots:,} slots"
                   if self.capacity_slots is not None else "")
            out.append(f"              peak {format_bytes(self.peak_bytes)} (no snapshot copies "
                       f"without --recovery-dir{cap})")
        if self.processes > 1:
            out.append(f"              per process {format_bytes(self.per_process_peak_bytes)}")
        if room is not None:
            verdict = "fits" if self.peak_bytes <= room.bytes else "does NOT fit"
            out.append(f"              {verdict} in the {format_bytes(room.bytes)} this machine "
                       f"has ({room.source})")
        if self.over_max_keys is not None:
            out.append(f"              note: the spec's keys.max_keys is {self.over_max_keys:,}; "
                       "events of keys beyond it are dead-lettered")
        if self.cores is not None:
            parts = []
            if self.detect_cores is not None and m.detect_per_s:
                parts.append(f"detect {self.detect_cores:.2f} ({m.detect_per_s:,.0f} records/s "
                             "per core)")
            if self.parse_cores is not None and m.parse_per_s:
                parts.append(f"parse and shard {self.parse_cores:.2f} ({m.parse_per_s:,.0f} "
                             "records/s per core, JSON)")
            if self.snapshot_cores is not None:
                parts.append(f"snapshot copies {self.snapshot_cores:.2f}")
            out.append(f"cpu           {self.cores:.2f} cores = " + " + ".join(parts))
        scaled = "scaled linearly" if m.sample_keys < self.keys else "at"
        out.append(f"measured      {m.sample_keys:,} sample keys x {m.rows_per_key:,} records "
                   f"(fills {m.fills}) in {m.seconds:.1f} s; {scaled} to {self.keys:,} keys")
        out.append("not counted   the source's and sinks' own buffers and work, batches queued "
                   "between steps, Bytewax itself")
        return out


def estimate(spec: FlowSpec, keys: int, rate: float = 0.0, *, processes: int = 1,
             recovery: bool = False, snapshot_interval_s: float = 10.0, quick: bool = False,
             measurement: Measurement | None = None) -> Estimate:
    """The memory and CPU ``spec`` needs at ``keys`` keys and ``rate``
    records/s, its keys spread over ``processes`` processes (each with its own
    baseline). ``recovery``: the state is copied for a snapshot every
    ``snapshot_interval_s`` (the peak holds one copy). ``quick``: memory only
    (the check at start)."""
    if keys < 1:
        raise ValueError("keys must be at least 1")
    if processes < 1:
        raise ValueError("processes must be at least 1")
    m = measurement or measure(spec, quick=quick, at_keys=keys)
    shards = spec.keys.shards
    counts = shard_counts(keys, shards)
    used = int(np.count_nonzero(counts))
    state = used * m.shard_bytes + keys * m.key_bytes
    capacity = int(sum(slot_capacity(int(c)) for c in counts)) if m.banked else None
    copy_bytes = 0.0
    if recovery:
        spare = capacity - keys if capacity is not None else 0
        copy_bytes = (used * m.shard_copy_bytes + keys * m.key_copy_bytes
                      + spare * m.spare_copy_bytes)
    resident = processes * (m.baseline_bytes + m.batch_bytes) + state
    detect = rate / m.detect_per_s if m.detect_per_s else None
    parse = rate / m.parse_per_s if m.parse_per_s else None
    snap = None
    if recovery and not quick:
        snap = m.copy_s_per_key * keys / max(snapshot_interval_s, 1e-3)
    cap = spec.keys.max_keys
    return Estimate(
        flow=spec.name, keys=keys, rate=rate, processes=processes, snapshots=recovery,
        path=m.path, reason=m.reason, state_bytes=state, state_bytes_per_key=state / keys,
        resident_bytes=resident, copy_bytes=copy_bytes, peak_bytes=resident + copy_bytes,
        capacity_slots=capacity, detect_cores=detect, parse_cores=parse, snapshot_cores=snap,
        over_max_keys=cap if keys > cap else None, measurement=m)


# -- the check at start ---------------------------------------------------------
@dataclass(frozen=True)
class Room:
    """Memory the flow's processes may use on this machine, in all, and where
    that figure comes from."""

    bytes: int
    source: str


def memory_room(*, own_rss: bool = True) -> Room:
    """What the flow may use: :data:`MEMORY_LIMIT_ENV` when set, else the
    smaller of the machine's available memory (psutil, else ``MemAvailable``
    of /proc/meminfo) and the room left under a cgroup's ``memory.max``; with
    ``own_rss`` the resident memory of this process (the flow runs in it)
    counts as room too.

    >>> import os
    >>> os.environ[MEMORY_LIMIT_ENV] = "1000000"
    >>> memory_room()
    Room(bytes=1000000, source='PYNOMALY_MEMORY_LIMIT_BYTES')
    >>> del os.environ[MEMORY_LIMIT_ENV]
    >>> memory_room().bytes > 0
    True
    """
    env = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if env:
        try:
            limit = int(float(env))
        except ValueError:
            raise ValueError(f"{MEMORY_LIMIT_ENV}={env!r}: expected a number of bytes") from None
        return Room(limit, MEMORY_LIMIT_ENV)
    own = rss_bytes() if own_rss else 0
    avail, where = _available()
    room = Room(avail + own, where)
    cg = _cgroup_room()
    if cg is not None and cg[0] + own < room.bytes:
        room = Room(cg[0] + own, cg[1])
    return room


def _available() -> tuple[int, str]:
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available), "available memory"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable"
    except OSError:
        pass
    return 2**62, "unknown"


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room(root: Path = Path("/sys/fs/cgroup")) -> tuple[int, str] | None:
    """Room under the tightest cgroup memory limit of this process (v2
    ``memory.max`` of its group and every parent; v1 ``memory.limit_in_bytes``),
    or None without one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    best: tuple[int, str] | None = None
    for line in lines:
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":
            base, limit_file, usage_file = root, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            base, limit_file, usage_file = root / "memory", "memory.limit_in_bytes", \
                "memory.usage_in_bytes"
        else:
            continue
        d = base / path.lstrip("/")
        while True:
            limit = _read_int(d / limit_file)
            if limit is not None and limit < 2**60:
                used = _read_int(d / usage_file) or 0
                room = max(0, limit - used)
                if best is None or room < best[0]:
                    best = (room, f"cgroup {limit_file} {format_bytes(limit)}")
            if d == base or base not in d.parents:
                break
            d = d.parent
    return best


class MemoryRefused(RuntimeError):
    """A flow whose estimated memory exceeds what the machine has; ``hint``
    says how to proceed."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def keys_that_fit(spec: FlowSpec, room: int, *, processes: int = 1, recovery: bool = False,
                  measurement: Measurement) -> int:
    """The most keys whose estimated peak stays within ``room`` bytes (0: none)."""
    def fits(n: int) -> bool:
        return estimate(spec, n, processes=processes, recovery=recovery, quick=True,
                        measurement=measurement).peak_bytes <= room

    if not fits(1):
        return 0
    lo, hi = 1, 2
    while fits(hi) and hi < 2**40:
        lo, hi = hi, hi * 2
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def key_limit(spec: FlowSpec) -> int | None:
    """The key cap ``spec`` sets itself (``keys.max_keys``), or None when it
    leaves the default. Read it from the spec as loaded: a spec rebuilt from a
    dump sets every field.

    >>> base = {"name": "x", "source": {"type": "file", "path": "a"},
    ...         "record": {"value_fields": ["v"]}}
    >>> key_limit(FlowSpec.model_validate(base)), key_limit(FlowSpec.model_validate(
    ...     {**base, "keys": {"max_keys": 5000}}))
    (None, 5000)
    """
    return spec.keys.max_keys if "max_keys" in spec.keys.model_fields_set else None


def processes_here(addresses: list[str], process_id: int) -> int:
    """How many processes of a cluster run on this process's machine: those
    with its host, or every loopback one when it is on loopback.

    >>> processes_here(["127.0.0.1:2101", "127.0.0.1:2102", "b:2101"], 0)
    2
    >>> processes_here(["a:2101", "b:2101"], 1)
    1
    """
    def host(address: str) -> str:
        return address.strip().rsplit(":", 1)[0].strip("[]").lower()

    def loopback(h: str) -> bool:
        return h in ("localhost", "::1") or h.startswith("127.")

    me = host(addresses[process_id])
    return sum(1 for a in addresses
               if host(a) == me or (loopback(me) and loopback(host(a))))


def check_memory(spec: FlowSpec, max_keys: int | None, *, processes: int = 1,
                 colocated: int | None = None, recovery: bool = False,
                 own_rss: bool = True) -> Estimate | None:
    """Refuse ``spec`` (raise :class:`MemoryRefused`) when its estimated peak
    memory at ``max_keys`` keys (the cap the spec sets, :func:`key_limit`;
    None: not checked, returns None) exceeds :func:`memory_room`.
    ``processes`` is the number of processes sharing the keys, ``colocated``
    how many of them run on this machine (default: all); ``recovery``: a
    recovery snapshot's copy of the state; ``own_rss``: the flow runs in this process.
    Returns the estimate when the flow fits."""
    if max_keys is None:
        return None
    here = processes if colocated is None else max(1, min(colocated, processes))
    est = estimate(spec, max_keys, processes=processes, recovery=recovery, quick=True)
    need = est.peak_bytes * here / processes
    room = memory_room(own_rss=own_rss)
    if need <= room.bytes:
        return est
    m = est.measurement
    where = "" if here == 1 else f" for the {here} processes on this machine"
    fit = keys_that_fit(spec, int(room.bytes * processes / here), processes=processes,
                        recovery=recovery, measurement=m)
    message = (f"flow {spec.name!r} needs about {format_bytes(need)}{where} at keys.max_keys "
               f"{max_keys:,} ({format_bytes(est.state_bytes_per_key)} of detect state per "
               f"key, {'banked' if m.banked else 'per key'}"
               f"{', with a recovery snapshot copy' if recovery else ''}), more than the "
               f"{format_bytes(room.bytes)} this machine has ({room.source})")
    hint = (f"lower keys.max_keys (about {fit:,} fit), choose a smaller detector or "
            "calibration window, spread the keys over more processes on more machines "
            "(-i/-a), or start anyway with --no-memory-check; "
            "'pynomaly plan SPEC --keys N' sizes a flow")
    raise MemoryRefused(message, hint)
