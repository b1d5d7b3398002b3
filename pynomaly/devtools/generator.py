"""Synthetic metric streams with daily/weekly seasonality, noise and labelled anomalies.

Every key (``host-0001`` …) emits one record per step; step ``s`` has event time
``start + s × interval_s``. Records come out step-major (all keys for step 0,
then step 1, …) in numpy blocks of a fixed number of steps, so the stream is
identical for a given seed whatever the caller's batch size. Three independent
random streams are used per block: the baseline noise, the anomalies, and the
malformed records. A run with ``anomaly_rate=0`` therefore yields exactly the
baseline of the same run with anomalies (see :meth:`MetricGenerator.seasonal`).

Examples
--------
>>> gen = MetricGenerator(GeneratorConfig(keys=2, seed=7, anomaly_rate=0))
>>> batch = next(gen.batches(count=4))
>>> for r in batch.records():
...     print(r)
{'key': 'host-0001', 'ts': '2026-01-01T00:00:00Z', 'cpu': 0.496, 'latency_ms': 26.05}
{'key': 'host-0002', 'ts': '2026-01-01T00:00:00Z', 'cpu': 0.246, 'latency_ms': 12.41}
{'key': 'host-0001', 'ts': '2026-01-01T00:01:00Z', 'cpu': 0.5025, 'latency_ms': 28.81}
{'key': 'host-0002', 'ts': '2026-01-01T00:01:00Z', 'cpu': 0.2041, 'latency_ms': 13.59}
>>> batch.lines()[0]
b'{"key":"host-0001","ts":"2026-01-01T00:00:00Z","cpu":0.496,"latency_ms":26.05}'
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pynomaly.connectors.arrow_text import float_text, iso_one, iso_utc
from pynomaly.devtools.generator_anomalies import (
    ANOMALY_KINDS,
    Anomaly,
    apply_anomaly,
    schedule_anomalies,
)
from pynomaly.devtools.generator_malformed import MALFORMED_KINDS, malformed_line

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
_TARGET_BLOCK_RECORDS = 1 << 16


class FieldSpec(BaseModel):
    """One value field: ``base + daily + weekly + noise`` (each scaled per key), clipped."""

    model_config = ConfigDict(frozen=True)

    name: str
    base: float
    daily_amplitude: float = 0.0
    weekly_amplitude: float = 0.0
    noise: float = Field(gt=0)
    min: float = -math.inf
    max: float = math.inf
    decimals: int = Field(default=4, ge=0, le=12)


DEFAULT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(name="cpu", base=0.35, daily_amplitude=0.12, weekly_amplitude=0.04,
              noise=0.02, min=0.0, max=1.0, decimals=4),
    FieldSpec(name="latency_ms", base=20.0, daily_amplitude=5.0, weekly_amplitude=2.0,
              noise=1.0, min=0.0, decimals=2),
)  # fmt: skip


class GeneratorConfig(BaseModel):
    """What to generate. All randomness derives from ``seed``."""

    model_config = ConfigDict(frozen=True)

    keys: int = Field(default=100, ge=1, le=10_000_000)
    fields: tuple[FieldSpec, ...] = DEFAULT_FIELDS
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    interval_s: float = Field(default=60.0, gt=0)
    seed: int = 0
    anomaly_rate: float = Field(default=0.001, ge=0, le=1)
    anomaly_kinds: tuple[str, ...] = ANOMALY_KINDS
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    key_prefix: str = "host-"

    @field_validator("anomaly_kinds")
    @classmethod
    def _known_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(kinds) - set(ANOMALY_KINDS))
        if unknown:
            raise ValueError(f"unknown anomaly kinds {unknown}; known: {list(ANOMALY_KINDS)}")
        return kinds

    @field_validator("fields")
    @classmethod
    def _distinct_fields(cls, fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
        names = [f.name for f in fields]
        if not names or len(set(names)) != len(names) or {"key", "ts"} & set(names):
            raise ValueError(f"need distinct value field names other than key/ts, got {names}")
        return fields

    @field_validator("start")
    @classmethod
    def _utc(cls, start: datetime) -> datetime:
        return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


@dataclass(slots=True)
class MetricBatch:
    """Consecutive records in columnar form, plus the labels that start in them.

    ``values`` has one row per record and one column per field; record ``i`` is
    key ``key_index[i]`` at ``ts_ms[i]`` (``ts_iso[i]`` as text) and is record
    ``first_row + i`` of the stream. When serialised, row ``malformed_after[j]``
    is followed by a malformed record of kind ``malformed_kind[j]``. Each label's
    ``row`` is the stream index of the record where it starts (malformed: the
    record it follows).
    """

    key_names: pa.Array
    field_names: tuple[str, ...]
    key_index: np.ndarray
    ts_ms: np.ndarray
    ts_iso: pa.Array
    values: np.ndarray
    decimals: tuple[int, ...]
    first_row: int = 0
    labels: list[dict[str, Any]] = field(default_factory=list)
    malformed_after: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    malformed_kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.key_index)

    def keys(self) -> pa.Array:
        """The entity key of every record."""
        return self.key_names.take(pa.array(self.key_index))

    def records(self) -> list[dict[str, Any]]:
        """The well-formed records as dicts (``key``, ``ts`` ISO-8601 UTC, fields)."""
        cols = [self.values[:, j].tolist() for j in range(len(self.field_names))]
        heads = ("key", "ts", *self.field_names)
        rows = zip(self.keys().to_pylist(), self.ts_iso.to_pylist(), *cols, strict=True)
        return [dict(zip(heads, row, strict=True)) for row in rows]

    def to_arrow(self, iso_time: bool = True) -> pa.Table:
        """The well-formed records as a table; ``ts`` as text or as ``timestamp[ms, UTC]``."""
        ts = self.ts_iso if iso_time else pa.array(self.ts_ms).cast(pa.timestamp("ms", "UTC"))
        cols = [self.keys(), ts] + [pa.array(self.values[:, j]) for j in range(self.values.shape[1])]
        return pa.table(cols, names=["key", "ts", *self.field_names])

    def _json(self, end: str) -> pa.Array:
        parts: list[Any] = ['{"key":"', self.keys(), '","ts":"', self.ts_iso]
        for j, name in enumerate(self.field_names):
            text = float_text(self.values[:, j], self.decimals[j])
            parts += [f',"{name}":' if j else f'","{name}":', text]
        parts.append("}" + end)
        return pc.binary_join_element_wise(*parts, "")

    def lines(self) -> list[bytes]:
        """JSON lines without newline, with the malformed records inserted."""
        out = self._json("").cast(pa.binary()).to_pylist()
        for pos, code in zip(
            reversed(self.malformed_after.tolist()), reversed(self.malformed_kind.tolist()),
            strict=True,
        ):  # fmt: skip
            out.insert(pos + 1, malformed_line(out[pos], MALFORMED_KINDS[code]))
        return out

    def line_keys(self) -> list[bytes]:
        """The entity key of every line of :meth:`lines` (a malformed one takes its source's)."""
        keys = self.keys().cast(pa.binary()).to_pylist()
        for pos in reversed(self.malformed_after.tolist()):
            keys.insert(pos + 1, keys[pos])
        return keys

    def jsonl(self) -> bytes | memoryview:
        """The whole batch as JSONL (newline-terminated lines), malformed ones included."""
        if self.malformed_after.size:
            return b"".join(line + b"\n" for line in self.lines())
        text = self._json("\n")
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)
        first, last = offsets[text.offset], offsets[text.offset + len(text)]
        return memoryview(text.buffers()[2])[first:last]


class MetricGenerator:
    """Generates :class:`MetricBatch` blocks for a :class:`GeneratorConfig`."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        self.config = config or GeneratorConfig()
        cfg = self.config
        k, f = cfg.keys, len(cfg.fields)
        self.key_names = [f"{cfg.key_prefix}{i + 1:04d}" for i in range(k)]
        self._key_array = pa.array(self.key_names)
        self.field_names = tuple(fs.name for fs in cfg.fields)
        self.block_steps = max(1, _TARGET_BLOCK_RECORDS // k)
        rng = np.random.default_rng([cfg.seed, 0])
        self.scale = rng.uniform(0.8, 1.2, size=(k, f))
        self.daily_phase = rng.uniform(0, 2 * np.pi, size=(k, 1))
        self.weekly_phase = rng.uniform(0, 2 * np.pi, size=(k, 1))
        self.base = np.array([fs.base for fs in cfg.fields]) * self.scale
        self.daily = np.array([fs.daily_amplitude for fs in cfg.fields]) * self.scale
        self.weekly = np.array([fs.weekly_amplitude for fs in cfg.fields]) * self.scale
        self.sigma = np.array([fs.noise for fs in cfg.fields]) * self.scale
        self.lo = np.array([fs.min for fs in cfg.fields])
        self.hi = np.array([fs.max for fs in cfg.fields])
        self.decimals = tuple(fs.decimals for fs in cfg.fields)
        self.start_ms = round(cfg.start.timestamp() * 1000)
        self.interval_ms = cfg.interval_s * 1000.0
        #: whether times carry milliseconds (fixed for the stream, not per batch)
        self.millis = bool(self.start_ms % 1000) or not float(self.interval_ms / 1000).is_integer()

    def step_ts_ms(self, steps: np.ndarray) -> np.ndarray:
        """Event time (epoch ms) of each step."""
        return self.start_ms + np.round(np.asarray(steps) * self.interval_ms).astype(np.int64)

    def seasonal(self, steps: np.ndarray) -> np.ndarray:
        """Noise-free baseline, shape (steps, keys, fields), before clipping and rounding."""
        t = (self.step_ts_ms(steps) - self.start_ms)[:, None, None] / 1000.0
        day = np.sin(2 * np.pi * t / DAY_S + self.daily_phase[None])
        week = np.sin(2 * np.pi * t / WEEK_S + self.weekly_phase[None])
        return self.base[None] + self.daily[None] * day + self.weekly[None] * week

    def _iso(self, ts_ms: np.ndarray) -> pa.Array:
        """ISO-8601 UTC text of epoch-ms times (``...Z``; ``.mmm`` only when needed)."""
        return iso_utc(ts_ms, self.millis)

    def _block(
        self, b: int, busy_until: np.ndarray, active: list[Anomaly], last_step: int | None
    ) -> tuple[np.ndarray, list[Anomaly]]:
        """Values (steps, keys, fields) of block ``b`` and the anomalies starting in it."""
        cfg = self.config
        first = b * self.block_steps
        steps = np.arange(first, first + self.block_steps)
        noise = np.random.default_rng([cfg.seed, 1, b]).standard_normal(
            (self.block_steps, cfg.keys, len(cfg.fields))
        )
        noise *= self.sigma[None]
        values = self.seasonal(steps) + noise
        new = schedule_anomalies(
            np.random.default_rng([cfg.seed, 2, b]),
            block_start=first, block_steps=self.block_steps, n_keys=cfg.keys,
            n_fields=len(cfg.fields), rate=cfg.anomaly_rate, kinds=cfg.anomaly_kinds,
            sigma=self.sigma, busy_until=busy_until, last_step=last_step,
        )  # fmt: skip
        active.extend(new)
        for a in active:
            apply_anomaly(a, values, noise, first)
        active[:] = [a for a in active if a.end >= first + self.block_steps]
        np.clip(values, self.lo, self.hi, out=values)
        for j, d in enumerate(self.decimals):
            values[..., j] = np.round(values[..., j], d)
        return values, new

    def _label(self, a: Anomaly, count: int | None) -> dict[str, Any]:
        j = a.field
        if count is not None and a.end * self.config.keys + a.key >= count:
            a.end -= 1  # its key has no record in the last, partial step
        magnitude = a.magnitude
        if a.kind == "stuck":
            magnitude = float(np.clip(np.round(magnitude, self.decimals[j]), self.lo[j], self.hi[j]))
        ts = [iso_one(int(t), self.millis) for t in self.step_ts_ms(np.array([a.start, a.end]))]
        return {
            "key": self.key_names[a.key], "kind": a.kind, "field": self.field_names[j],
            "start": ts[0], "end": ts[1], "start_step": a.start, "end_step": a.end,
            "row": a.start * self.config.keys + a.key,
            "magnitude": magnitude, "sigma": float(self.sigma[a.key, j]),
        }  # fmt: skip

    def batches(self, count: int | None = None) -> Iterator[MetricBatch]:
        """Yield blocks until ``count`` well-formed records (forever when ``None``).

        Anomaly labels come with the block where the anomaly starts; with a
        ``count`` they end no later than the last step.
        """
        cfg = self.config
        k, n_fields = cfg.keys, len(cfg.fields)
        last_step = None if count is None else max(0, (count - 1) // k)
        busy_until = np.full(k, -1, dtype=np.int64)
        active: list[Anomaly] = []
        limit = math.inf if count is None else count
        line = 0
        emitted = 0
        b = 0
        while count is None or emitted < count:
            values, new = self._block(b, busy_until, active, last_step)
            first = b * self.block_steps
            n = self.block_steps * k if count is None else min(self.block_steps * k, count - emitted)
            step_rel = np.repeat(np.arange(self.block_steps), k)[:n]
            step_ms = self.step_ts_ms(np.arange(first, first + self.block_steps))
            batch = MetricBatch(
                key_names=self._key_array, field_names=self.field_names,
                key_index=np.tile(np.arange(k), self.block_steps)[:n], ts_ms=step_ms[step_rel],
                ts_iso=self._iso(step_ms).take(pa.array(step_rel)),
                values=values.reshape(-1, n_fields)[:n], decimals=self.decimals,
                first_row=emitted,
                labels=[self._label(a, count) for a in new if a.start * k + a.key < limit],
            )  # fmt: skip
            if cfg.malformed_rate > 0:
                line = self._add_malformed(batch, b, line)
            else:
                line += n
            emitted += n
            b += 1
            yield batch

    def _add_malformed(self, batch: MetricBatch, b: int, line: int) -> int:
        """Pick records to follow with a malformed one; add their labels. Returns next line."""
        rng = np.random.default_rng([self.config.seed, 3, b])
        n = len(batch)
        full = self.block_steps * self.config.keys  # draw for the whole block: same stream
        picked = rng.random(full) < self.config.malformed_rate  # whatever the count
        kinds = rng.integers(0, len(MALFORMED_KINDS), size=full)[picked][: int(picked[:n].sum())]
        after = np.flatnonzero(picked[:n])
        batch.malformed_after, batch.malformed_kind = after, kinds
        for j, (pos, code) in enumerate(zip(after.tolist(), kinds.tolist(), strict=True)):
            batch.labels.append({
                "key": self.key_names[int(batch.key_index[pos])], "kind": "malformed",
                "reason": MALFORMED_KINDS[code], "ts": batch.ts_iso[pos].as_py(),
                "row": batch.first_row + pos, "line": line + pos + j + 1,
            })  # fmt: skip
        return line + n + after.size
