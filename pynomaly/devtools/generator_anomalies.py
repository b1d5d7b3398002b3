"""Anomalies injected by the synthetic metric generator, with their ground truth.

Each anomaly hits one field of one key over an inclusive step range and is
described by one :class:`Anomaly`, which is also its label. Magnitudes are
drawn in units of the key's noise standard deviation ``sigma``:

=================  =================================================  ==========
kind               effect on ``value`` over ``[start, end]``          steps
=================  =================================================  ==========
``spike``          ``+ magnitude`` (6–10 σ)                           1
``dip``            ``- magnitude`` (6–10 σ, stored negative)          1
``level_shift``    ``+ magnitude`` (±4–6 σ)                           30–240
``variance``       noise × ``magnitude`` (4–6)                        30–240
``drift``          ``+ magnitude × (s - start + 1) / (end - start + 1)``  60–480
                   (±6–10 σ at the end, then back to normal)
``stuck``          constant ``magnitude`` (the value at ``start``)    30–240
=================  =================================================  ==========

Examples
--------
>>> import numpy as np
>>> a = Anomaly(key=0, field=0, kind="level_shift", start=2, end=3, magnitude=5.0)
>>> values = np.zeros((6, 1, 1)); noise = np.zeros((6, 1, 1))
>>> apply_anomaly(a, values, noise, block_start=0)
>>> values[:, 0, 0].tolist()
[0.0, 0.0, 5.0, 5.0, 0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANOMALY_KINDS: tuple[str, ...] = ("spike", "dip", "level_shift", "variance", "drift", "stuck")

# kind -> (magnitude low, high, min steps, max steps)
_SHAPES: dict[str, tuple[float, float, int, int]] = {
    "spike": (6.0, 10.0, 1, 1),
    "dip": (6.0, 10.0, 1, 1),
    "level_shift": (4.0, 6.0, 30, 240),
    "variance": (4.0, 6.0, 30, 240),
    "drift": (6.0, 10.0, 60, 480),
    "stuck": (0.0, 0.0, 30, 240),
}

#: Steps a key stays quiet after an anomaly before another may start.
QUIET_STEPS = 10


@dataclass(slots=True)
class Anomaly:
    """One injected anomaly: ``kind`` on ``field`` of ``key`` for steps ``start..end``."""

    key: int
    field: int
    kind: str
    start: int
    end: int
    magnitude: float


def schedule_anomalies(
    rng: np.random.Generator,
    *,
    block_start: int,
    block_steps: int,
    n_keys: int,
    n_fields: int,
    rate: float,
    kinds: tuple[str, ...],
    sigma: np.ndarray,
    busy_until: np.ndarray,
    last_step: int | None,
) -> list[Anomaly]:
    """Draw the anomalies that start inside one block of steps.

    Each (step, key) starts an anomaly with probability ``rate``, unless the key
    is still busy with (or just recovering from) another one. ``busy_until`` is
    updated in place. Stuck anomalies get their value later, in
    :func:`apply_anomaly`. ``last_step`` clips anomalies at the end of a finite
    stream.
    """
    if rate <= 0 or not kinds:
        return []
    n_cells = block_steps * n_keys
    n = int(rng.binomial(n_cells, min(rate, 1.0)))
    if n == 0:
        return []
    cells = np.unique(rng.integers(0, n_cells, size=n))
    kind_idx = rng.integers(0, len(kinds), size=cells.size)
    fields = rng.integers(0, n_fields, size=cells.size)
    unit = rng.random(size=cells.size)
    length_u = rng.random(size=cells.size)
    signs = np.where(rng.random(size=cells.size) < 0.5, -1.0, 1.0)
    out: list[Anomaly] = []
    for cell, ki, field, u, lu, sign in zip(
        cells.tolist(), kind_idx.tolist(), fields.tolist(), unit.tolist(),
        length_u.tolist(), signs.tolist(), strict=True,
    ):  # fmt: skip
        step = block_start + cell // n_keys
        key = cell % n_keys
        if step <= busy_until[key]:
            continue
        kind = kinds[ki]
        low, high, min_len, max_len = _SHAPES[kind]
        length = min_len + int(lu * (max_len - min_len + 1))
        end = step + length - 1
        if last_step is not None:
            end = min(end, last_step)
        size = low + u * (high - low)
        s = float(sigma[key, field])
        if kind == "spike":
            magnitude = size * s
        elif kind == "dip":
            magnitude = -size * s
        elif kind in ("level_shift", "drift"):
            magnitude = sign * size * s
        elif kind == "variance":
            magnitude = size
        else:  # stuck: the value is read from the data at its start
            magnitude = float("nan")
        busy_until[key] = end + QUIET_STEPS
        out.append(Anomaly(key, field, kind, step, end, magnitude))
    return out


def apply_anomaly(a: Anomaly, values: np.ndarray, noise: np.ndarray, block_start: int) -> None:
    """Apply the part of ``a`` inside this block to ``values`` (steps × keys × fields).

    ``noise`` holds the noise already included in ``values`` (same shape), so a
    variance change can scale it. A stuck anomaly takes its value from its first
    step (``a.magnitude`` is set then, and carried into later blocks).
    """
    block_steps = values.shape[0]
    lo = max(a.start, block_start)
    hi = min(a.end, block_start + block_steps - 1)
    if hi < lo:
        return
    rows = slice(lo - block_start, hi - block_start + 1)
    column = values[rows, a.key, a.field]
    if a.kind in ("spike", "dip", "level_shift"):
        column += a.magnitude
    elif a.kind == "drift":
        steps = np.arange(lo, hi + 1, dtype=np.float64)
        column += a.magnitude * (steps - a.start + 1) / (a.end - a.start + 1)
    elif a.kind == "variance":
        column += (a.magnitude - 1.0) * noise[rows, a.key, a.field]
    elif a.kind == "stuck":
        if a.start >= block_start:
            a.magnitude = float(column[0])
        column[:] = a.magnitude
    else:
        raise ValueError(f"unknown anomaly kind {a.kind!r}; known: {', '.join(ANOMALY_KINDS)}")
