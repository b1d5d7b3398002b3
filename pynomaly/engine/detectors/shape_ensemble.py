"""The univariate ensemble with a shape component: left discords join when a period is found.

Two detectors see every value of the metric, score before learn:

- :class:`~pynomaly.engine.detectors.univariate_ensemble.UnivariateEnsemble`
  (value and seasonal-residual rarity, anomaly likelihood, fire once), whose
  score ``s_e`` is on its probability-like [0, 1) scale;
- :class:`~pynomaly.engine.detectors.left_discord.LeftDiscord`, the distance
  ``d`` of the window ending at each point to its nearest neighbour in the
  recent past, active only once a period has been found (it scores 0 before
  and on series without one).

The discord distance becomes evidence on the ensemble's scale: ``z`` is ``d``
against the mean and standard deviation of all earlier non-zero distances of
the metric (0 until ``shape_warmup`` of them). With ``u = shape_weight *
max(z, 0)`` and the ensemble's ``z_scale`` and ``alarm_z``, the shape score
fires once, like the ensemble: a point with ``u >= alarm_z`` scores
``1 - exp(-u / z_scale)`` (at or above the ensemble's alarm level) and starts a
quiet period of ``shape_quiet`` windows, during which, as for every point
below the alarm, the shape score is ``(alarm_level / 2) (1 - exp(-u /
z_scale))``. The detector's score is ``max(s_e, s_d)``, plus ``1e-6 (1 -
exp(-u / z_scale))`` so points the ensemble scores alike (its range
novelties all score 1) are still ranked by their shape evidence.
``shape_weight = 0`` reduces it to the ensemble; ``shape_quiet = 0`` (the
default) lets every point rank by its shape evidence. The defaults
(``shape_weight = 1``, ``shape_quiet = 0``) were chosen by cross-validation
on UCR and NAB together (docs/adr/0057; ``benchmarks/default_cv.py``).

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> rng = np.random.default_rng(0)
>>> x = np.sin(np.arange(8000) * 2 * np.pi / 80) + rng.normal(0, 0.05, 8000)
>>> x[6000:6040] = np.sin(np.arange(40) * 2 * np.pi / 40)  # one cycle twice as fast
>>> det = create_detector("shape_ensemble")
>>> s = det.score_learn_many(x.reshape(-1, 1))
>>> 6000 <= int(np.argmax(s[2000:])) + 2000 < 6000 + 40 + 80
True
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numba import njit
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.left_discord import LeftDiscord
from pynomaly.engine.detectors.univariate_ensemble import UnivariateEnsemble
from pynomaly.engine.registry import register

#: Weight of the shape score that breaks ties of the combined score.
TIE_BREAK = 1e-6


@njit(cache=True, nogil=True)
def combine_kernel(s_e: np.ndarray, d: np.ndarray, stats: np.ndarray, warmup: int,
                   weight: float, z_scale: float, alarm_z: float, quiet: int,
                   out: np.ndarray) -> None:
    """The combined score per point; ``stats`` = (count, mean, M2) of the non-zero distances
    so far (Welford, updated after each point is scored) and the quiet points left."""
    alarm = 1.0 - math.exp(-alarm_z / z_scale)
    for i in range(d.shape[0]):
        z = 0.0
        if d[i] > 0.0:
            n, mu, m2 = stats[0], stats[1], stats[2]
            if n >= warmup:
                sd = math.sqrt(m2 / n)
                if sd > 0.0:
                    z = max((d[i] - mu) / sd, 0.0)
            n += 1.0
            delta = d[i] - mu
            mu += delta / n
            stats[0] = n
            stats[1] = mu
            stats[2] = m2 + delta * (d[i] - mu)
        u = 1.0 - math.exp(-weight * z / z_scale)
        if stats[3] > 0.0:
            stats[3] -= 1.0
            s_d = 0.5 * alarm * u
        elif weight * z >= alarm_z:
            s_d = u
            stats[3] = quiet
        else:
            s_d = 0.5 * alarm * u
        out[i] = max(s_e[i], s_d) + TIE_BREAK * u


def combine(
    s_e: np.ndarray,
    d: np.ndarray,
    stats: np.ndarray,
    warmup: int,
    weight: float,
    z_scale: float,
    alarm_z: float,
    quiet: int,
) -> np.ndarray:
    """The combined score of a batch (``stats``, 4 floats, carries over between batches)."""
    out = np.empty(d.shape[0])
    combine_kernel(
        np.ascontiguousarray(s_e, dtype=np.float64), np.ascontiguousarray(d, dtype=np.float64),
        stats, warmup, weight, z_scale, alarm_z, quiet, out,
    )  # fmt: skip
    return out


class ShapeEnsembleParams(DetectorParams):
    shape_weight: float = Field(
        1.0, ge=0.0, description="discord z-scores per ensemble z-score (0: ensemble only)"
    )
    shape_warmup: int = Field(200, ge=2, description="discord distances seen before they score")
    shape_quiet: float = Field(
        0.0, ge=0.0, description="windows after a shape alarm in which the shape cannot alarm"
    )
    discord_history: int = Field(10000, ge=2, description="past windows each window meets")


@register
class ShapeEnsemble(Detector):
    """Univariate ensemble + left discords once a period is found; see the module docstring."""

    name = "shape_ensemble"
    Params = ShapeEnsembleParams
    params: ShapeEnsembleParams
    #: Scores stay on the ensemble's [0, 1] scale (at most 1 + TIE_BREAK before clipping).
    unit_scores: ClassVar[bool] = True
    univariate_only: ClassVar[bool] = True

    def _reset(self, n_features: int) -> None:
        self.ensemble = UnivariateEnsemble()
        self.discord = LeftDiscord(history=self.params.discord_history)
        self.stats = np.zeros(4)

    @property
    def alarm_level(self) -> float:
        """The ensemble's alarm level (the shape score reaches it at the same z)."""
        return self.ensemble.alarm_level

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if not learn:  # each row against the current state, which is put back after it
            saved = self._get_state()
            out = np.empty(X.shape[0])
            for i in range(X.shape[0]):
                out[i] = self._score_learn(X[i : i + 1], True)[0]
                self._set_state(saved, self.state_version)
            return out
        s_e = self.ensemble.score_learn_many(X)
        d = self.discord.score_learn_many(X)
        p, ep = self.params, self.ensemble.params
        quiet = round(p.shape_quiet * self.discord.window)
        return combine(
            s_e, d, self.stats, p.shape_warmup, p.shape_weight, ep.z_scale, ep.alarm_z, quiet
        )

    def _get_state(self) -> dict[str, Any]:
        return {
            "ensemble": self.ensemble.snapshot(),
            "discord": self.discord.snapshot(),
            "stats": self.stats.copy(),
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        ensemble, discord = (UnivariateEnsemble.restore(state["ensemble"]),
                             LeftDiscord.restore(state["discord"]))
        assert isinstance(ensemble, UnivariateEnsemble) and isinstance(discord, LeftDiscord)
        self.ensemble, self.discord = ensemble, discord
        self.stats = np.asarray(state["stats"], dtype=np.float64).copy()
