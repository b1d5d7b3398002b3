"""An on-call scenario stream: a few hosts at a fixed cadence with a gentle
hourly cycle, one short spike on one host and one host that goes silent.

Each record is ``{"host", "ts", "cpu", "region", "service"}``; the flow that
reads it names only ``host`` and ``cpu``, so ``region`` and ``service`` reach
alerts only as carried-through labels.

>>> s = OncallStream(hours=0.1)
>>> rows = s.records()
>>> sorted({r["host"] for r in rows}) == [f"host-{i}" for i in range(6)]
True
>>> s.spike_host, s.silent_host
('host-2', 'host-4')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

START = 1_793_491_200.0  # 2026-11-01T00:00:00Z


def iso(t: float) -> str:
    """Epoch seconds as an ISO-8601 UTC string."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class OncallStream:
    hosts: int = 6
    cadence_s: float = 10.0
    hours: float = 8.0
    level: float = 40.0
    cycle: float = 6.0  # amplitude of the hourly cycle
    noise: float = 1.0
    spike_host: str = "host-2"
    spike_at_h: float = 5.0
    spike_s: float = 60.0
    spike_height: float = 35.0
    silent_host: str = "host-4"
    silent_at_h: float = 6.5
    seed: int = 7

    @property
    def spike_start(self) -> float:
        return START + self.spike_at_h * 3600

    @property
    def silent_from(self) -> float:
        return START + self.silent_at_h * 3600

    def records(self) -> list[dict[str, Any]]:
        rng = np.random.default_rng(self.seed)
        n = int(self.hours * 3600 / self.cadence_s)
        t = START + np.arange(n) * self.cadence_s
        rows: list[dict[str, Any]] = []
        cols = {}
        for h in range(self.hosts):
            host = f"host-{h}"
            phase = rng.uniform(0, 2 * math.pi)
            v = (self.level + 3 * h + self.cycle * np.sin(2 * math.pi * (t - START) / 3600 + phase)
                 + rng.normal(0, self.noise, n))
            if host == self.spike_host:
                inside = (t >= self.spike_start) & (t < self.spike_start + self.spike_s)
                v[inside] += self.spike_height
            cols[host] = v
        for i, ts in enumerate(t.tolist()):
            for h in range(self.hosts):
                host = f"host-{h}"
                if host == self.silent_host and ts >= self.silent_from:
                    continue
                rows.append({"host": host, "ts": iso(ts), "cpu": round(float(cols[host][i]), 3),
                             "region": "eu-west-1" if h % 2 else "us-east-1",
                             "service": "checkout"})
        return rows

    def write_jsonl(self, path: Path) -> Path:
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in self.records()))
        return path
