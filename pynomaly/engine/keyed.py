"""KeyedPipelines: a bank of per-key scoring pipelines built from one config.

``process_batch(keys, X, times, now)`` takes a micro-batch of rows of many keys,
groups the rows by key (``np.unique`` + a stable ``argsort``, so each key's rows
keep their order), calls each key's :class:`~pynomaly.engine.pipeline.ScoringPipeline`
once on its group, and returns a :class:`KeyedResult` aligned with the input
rows.

- Pipelines are built lazily when a key is first seen.
- Idle keys are evicted by TTL: a key whose last event (``times``, or ``now``
  when no times are given) is older than ``now - ttl`` is dropped. ``now`` is an
  argument, so the clock is event time (a watermark) or processing time as the
  caller chooses; eviction runs at the start of ``process_batch`` when ``now``
  is given, or on :meth:`KeyedPipelines.evict_idle`.
- ``max_keys`` caps live keys. Rows of a new key beyond the cap are not
  processed: they are marked ``rejected`` and counted in ``overflow``; the
  caller decides (e.g. dead-letter them).

Examples
--------
>>> import numpy as np
>>> bank = KeyedPipelines({"detector": "robust_zscore", "warmup": 10}, max_keys=2, ttl=60.0)
>>> keys = np.array(["a", "b", "a", "c"])
>>> res = bank.process_batch(keys, np.zeros((4, 1)), times=np.array([0.0, 1.0, 2.0, 3.0]))
>>> res.rejected.tolist()
[False, False, False, True]
>>> _ = bank.process_batch(np.array(["a"]), np.zeros((1, 1)), now=61.5)  # "b" idle 60.5 s
>>> {k: bank.stats()[k] for k in ("live_keys", "evicted", "overflow")}
{'live_keys': 1, 'evicted': 1, 'overflow': 1}
"""

from __future__ import annotations

import pickle
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pynomaly.engine.base import SNAPSHOT_FORMAT
from pynomaly.engine.drift import DriftEvent
from pynomaly.engine.pipeline import PipelineConfig, ScoringPipeline

BANK_STATE_VERSION = 1


@dataclass
class KeyedResult:
    """Outputs aligned with the rows of one ``process_batch`` call.

    Rejected rows (key over the cap) have ``NaN`` score, probability and
    threshold and ``is_anomaly`` False.
    """

    scores: np.ndarray
    probability: np.ndarray
    is_anomaly: np.ndarray
    threshold: np.ndarray
    rejected: np.ndarray
    #: ``(key, event)`` for each drift detection, in key order then stream order.
    drift_events: list[tuple[Hashable, DriftEvent]] = field(default_factory=list)
    #: Input row → per-feature contributions (sum 1), for flagged rows.
    explanations: dict[int, np.ndarray] = field(default_factory=dict)


def _group_rows(keys: np.ndarray) -> tuple[list[Hashable], list[np.ndarray]]:
    """Distinct keys in order of first appearance, and each key's row indices (in order)."""
    try:
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    except TypeError:  # keys of mixed, unorderable types
        codes: dict[Hashable, int] = {}
        inverse = np.fromiter((codes.setdefault(k, len(codes)) for k in keys.tolist()), np.int64, len(keys))
        uniq = np.empty(len(codes), dtype=object)
        uniq[:] = list(codes)
        first = np.arange(len(codes))  # codes are numbered in order of first appearance
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse.reshape(-1), minlength=len(uniq)))[:-1]
    groups = np.split(order, bounds)
    by_first = np.argsort(first, kind="stable")
    names = [u.item() if isinstance(u, np.generic) else u for u in uniq]
    return [names[i] for i in by_first], [groups[i] for i in by_first]


class KeyedPipelines:
    """Per-key pipelines with lazy creation, TTL eviction and a key cap."""

    def __init__(
        self,
        config: PipelineConfig | dict[str, Any] | None = None,
        max_keys: int | None = None,
        ttl: float | None = None,
    ) -> None:
        self.config = config if isinstance(config, PipelineConfig) else PipelineConfig.model_validate(config or {})
        if max_keys is not None and max_keys < 1:
            raise ValueError(f"max_keys must be >= 1 or None, got {max_keys}")
        if ttl is not None and not ttl > 0:
            raise ValueError(f"ttl must be > 0 or None, got {ttl}")
        self.max_keys = max_keys
        self.ttl = ttl
        self.pipelines: dict[Hashable, ScoringPipeline] = {}
        self.last_seen: dict[Hashable, float] = {}
        self.created = 0
        self.evicted = 0
        self.overflow = 0

    def evict_idle(self, now: float) -> list[Hashable]:
        """Drop keys idle for more than ``ttl`` at time ``now``; returns them."""
        if self.ttl is None:
            return []
        limit = now - self.ttl
        gone = [k for k, t in self.last_seen.items() if t < limit]
        for k in gone:
            self.pipelines.pop(k, None)
            del self.last_seen[k]
        self.evicted += len(gone)
        return gone

    def process_batch(
        self, keys: Any, X: Any, times: Any = None, now: float | None = None
    ) -> KeyedResult:
        """Process rows of many keys; results are aligned with the input rows."""
        keys_arr = np.asarray(keys)
        if keys_arr.dtype.kind == "f" and np.isnan(keys_arr).any():
            raise ValueError("keys must not be NaN")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != keys_arr.reshape(-1).shape[0]:
            raise ValueError(f"X must be 2-D with one row per key; got {X.shape} for {keys_arr.size} keys")
        keys_arr = keys_arr.reshape(-1)
        t = None if times is None else np.asarray(times, dtype=np.float64).reshape(-1)
        if t is not None and t.shape[0] != X.shape[0]:
            raise ValueError(f"{t.shape[0]} times for {X.shape[0]} rows")
        if self.ttl is not None and t is None and now is None:
            raise ValueError("a bank with a ttl needs event times or now to know when keys were seen")
        if now is not None:
            self.evict_idle(now)
        n = X.shape[0]
        res = KeyedResult(
            np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool),
            np.full(n, np.nan), np.zeros(n, dtype=bool),
        )
        if n == 0:
            return res
        for key, rows in zip(*_group_rows(keys_arr), strict=True):
            pipe = self.pipelines.get(key)
            if pipe is None:
                if self.max_keys is not None and len(self.pipelines) >= self.max_keys:
                    res.rejected[rows] = True
                    self.overflow += rows.shape[0]
                    continue
                pipe = self.pipelines[key] = ScoringPipeline(self.config)
                self.created += 1
            out = pipe.process_many(X[rows])
            res.scores[rows], res.probability[rows] = out.scores, out.probability
            res.is_anomaly[rows], res.threshold[rows] = out.is_anomaly, out.threshold
            res.drift_events.extend((key, ev) for ev in out.drift_events)
            for r, contrib in out.explanations.items():
                res.explanations[int(rows[r])] = contrib
            seen = float(np.max(t[rows])) if t is not None else now
            if seen is not None:
                self.last_seen[key] = max(seen, self.last_seen.get(key, -np.inf))
        return res

    def stats(self, sample: int = 8) -> dict[str, Any]:
        """Live keys, lifetime counters and a bytes-per-key estimate.

        ``bytes_per_key`` is the mean pickled state size of up to ``sample``
        live keys (0 when none are live).
        """
        some = list(self.pipelines.values())[:sample]
        size = [len(pickle.dumps(p.state(), protocol=pickle.HIGHEST_PROTOCOL)) for p in some]
        return {
            "live_keys": len(self.pipelines),
            "created": self.created,
            "evicted": self.evicted,
            "overflow": self.overflow,
            "bytes_per_key": int(np.mean(size)) if size else 0,
        }

    def snapshot(self) -> bytes:
        """Versioned bytes of the whole bank (config once, then each key's state)."""
        payload = {
            "format": SNAPSHOT_FORMAT,
            "component": "keyed_pipelines",
            "state_version": BANK_STATE_VERSION,
            "config": self.config.model_dump(mode="json"),
            "max_keys": self.max_keys,
            "ttl": self.ttl,
            "keys": [(k, p.state(), self.last_seen.get(k)) for k, p in self.pipelines.items()],
            "counters": (self.created, self.evicted, self.overflow),
        }
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(cls, blob: bytes) -> KeyedPipelines:
        """Rebuild a bank from :meth:`snapshot` bytes."""
        payload = pickle.loads(blob)
        if payload.get("format") != SNAPSHOT_FORMAT or payload.get("component") != "keyed_pipelines":
            raise ValueError("not a keyed-pipelines snapshot of a supported format")
        bank = cls(payload["config"], payload["max_keys"], payload["ttl"])
        for key, state, seen in payload["keys"]:
            bank.pipelines[key] = ScoringPipeline.from_state(bank.config, state)
            if seen is not None:
                bank.last_seen[key] = seen
        bank.created, bank.evicted, bank.overflow = payload["counters"]
        return bank
