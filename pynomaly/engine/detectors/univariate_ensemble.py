"""Default univariate detector: rarity ensemble, anomaly likelihood, fire once.

A streaming detector for one metric, built from cheap causal parts:

1. **Value rarity**: ``-log((c + 1) / (n + 1))`` where ``c`` of the last
   ``n <= history`` values lie within ``bandwidth`` x (all-time range) of the
   new value: a box-kernel density estimate on a sliding window. Catches
   spikes, level shifts and values the metric rarely visits.
2. **Seasonal residual rarity**: every ``season_every`` events the period with
   the highest autocorrelation (at least ``season_min_acf``) is re-estimated
   from the last ``season_history`` values; the residual ``x_t - x_{t-P}`` is
   scored with the same rarity measure. Catches breaks of a daily/weekly shape
   whose values are otherwise ordinary.
3. **Range novelty**: a value beyond the all-time range by more than
   ``spatial_tolerance`` of that range scores 1 (as in Numenta's NAB detector).
4. **Anomaly likelihood** (Ahmad et al. 2017): each rarity score is averaged
   over the last ``short_window`` events and compared, as a z-score, with the
   mean and spread of those averages over the last ``long_window`` events. The
   larger z of the two components maps to ``1 - exp(-z / z_scale)`` in [0, 1).
5. **Fire once**: after a score reaches the alarm level (``z >= alarm_z`` or a
   range novelty) the next ``refractory`` events cannot alarm (they score below
   the alarm level), so one incident gives
   one alarm. With ``breakthrough``, a range novelty still ends the quiet period
   unless the alarm that started it was a novelty on the same side (a new low
   after a likelihood alarm or after a new high is a different incident).
6. **Alarm budget**: z is divided by ``1 + budget_weight * a``, where ``a``
   counts past likelihood alarms with a half-life of ``budget_half_life``
   events: a metric that has just alarmed needs stronger evidence to alarm
   again, so a bursty metric cannot flood its consumers.

7. **Record level**: outside quiet periods, a likelihood z of at least
   ``record_floor`` that beats every earlier z of the metric by the share
   ``record_margin`` is the strongest evidence the metric has shown yet. It
   scores in the record band ``[alarm_level / 2, alarm_level)`` (graded by z)
   and starts its own quiet period of ``refractory`` events: a lower-confidence
   alert for consumers that would rather see a weak incident than miss it
   (they threshold at ``alarm_level / 2``); the alarm level is unchanged.

Other scores (below the alarm level, and during a quiet period) are
``(alarm_level / 2) * (1 - exp(-(z + r) / z_scale))``, ``r`` the event's own
larger rarity: they stay below the record band but still rank events by their
evidence, so the detector also orders individual outliers well (ROC-AUC) while
alerting once per incident.

Everything is computed from past events only, one pass, score before learn.
Scores are on a probability-like [0, 1] scale (``unit_scores``), so one
threshold serves every series.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> rng = np.random.default_rng(0)
>>> x = 10 + np.sin(np.arange(3000) * 2 * np.pi / 100) + rng.normal(0, 0.1, 3000)
>>> x[2500] = 14.0
>>> det = create_detector("univariate_ensemble")
>>> s = det.score_learn_many(x.reshape(-1, 1))
>>> alarms = np.flatnonzero(s >= det.alarm_level)
>>> alarms[alarms > 1000].tolist()
[2500]
>>> bool(s[2501:2501 + det.params.refractory].max() < det.alarm_level)  # one alarm per incident
True
>>> bool(s[2501:].max() < det.alarm_level / 2)  # and no weaker record after a strong alarm
True

References
----------
Ahmad, S., Lavin, A., Purdy, S., Agha, Z. (2017). Unsupervised real-time
anomaly detection for streaming data. Neurocomputing 262, 134-147,
doi:10.1016/j.neucom.2017.04.070 (section 4.2, the anomaly likelihood).
Lavin, A., Ahmad, S. (2015). Evaluating real-time anomaly detection algorithms:
the Numenta Anomaly Benchmark. IEEE ICMLA, doi:10.1109/ICMLA.2015.141.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.detectors.univariate_kernels import ensemble_kernel
from pynomaly.engine.registry import register

_FLOAT_STATE = ("dens", "season", "resid", "short", "lik", "fl")
_INT_STATE = ("lik_ints", "it")


class UnivariateEnsembleParams(DetectorParams):
    history: int = Field(2000, ge=10, description="past values the rarity scores compare with")
    bandwidth: float = Field(
        0.05, gt=0.0, le=1.0, description="rarity kernel half-width, share of the range"
    )
    spatial_tolerance: float = Field(
        0.05, ge=0.0, description="range novelty margin, share of the range"
    )
    warmup: int = Field(100, ge=1, description="events learned before any component scores")
    short_window: int = Field(10, ge=1, description="events averaged by the anomaly likelihood")
    long_window: int = Field(
        4000, ge=10, description="short averages the likelihood's distribution spans"
    )
    likelihood_warmup: int = Field(
        100, ge=2, description="short averages needed before a likelihood"
    )
    var_floor: float = Field(1e-4, gt=0.0, description="lower bound of the likelihood variance")
    seasonal: bool = Field(True, description="score the residual against the estimated period")
    season_min_lag: int = Field(20, ge=2, description="shortest period considered")
    season_max_lag: int = Field(1500, ge=3, description="longest period considered")
    season_min_acf: float = Field(0.5, gt=0.0, le=1.0, description="autocorrelation a period needs")
    season_every: int = Field(500, ge=1, description="events between period estimates")
    season_first: int = Field(400, ge=1, description="events before the first period estimate")
    season_history: int = Field(3000, ge=10, description="values the period is estimated from")
    alarm_z: float = Field(5.0, gt=0.0, description="likelihood z-score that raises an alarm")
    z_scale: float = Field(10.0, gt=0.0, description="z-score scale of the [0, 1) mapping")
    refractory: int = Field(50, ge=0, description="events after an alarm that cannot alarm")
    budget_weight: float = Field(
        0.3, ge=0.0, description="z is divided by 1 + weight x (recent likelihood alarms)"
    )
    budget_half_life: float = Field(
        350.0, gt=0.0, description="events after which a past alarm counts half"
    )
    breakthrough: bool = Field(
        True, description="a range novelty ends a quiet period not started by one on its side"
    )
    record: bool = Field(
        True, description="a new record of likelihood evidence scores in the record band"
    )
    record_floor: float = Field(
        1.5, ge=0.0, description="likelihood z a record needs to score in the record band"
    )
    record_margin: float = Field(
        0.1, ge=0.0, description="share by which a record must beat the highest earlier z"
    )


@register
class UnivariateEnsemble(Detector):
    """Rarity ensemble + anomaly likelihood + refractory; see the module docstring."""

    name = "univariate_ensemble"
    Params = UnivariateEnsembleParams
    params: UnivariateEnsembleParams
    #: Scores are already on a [0, 1] probability-like scale.
    unit_scores: ClassVar[bool] = True
    #: One metric per detector (the contract suite feeds it one feature).
    univariate_only: ClassVar[bool] = True
    #: 2: the record level (``fl`` and ``it`` gained one entry each).
    state_version: ClassVar[int] = 2

    def _reset(self, n_features: int) -> None:
        p = self.params
        self.dens = np.zeros(p.history)
        self.season = np.zeros(max(p.season_history, p.season_max_lag + 1))
        self.resid = np.zeros(p.history)
        self.short = np.zeros((2, p.short_window))
        self.lik = np.zeros((2, p.long_window + 2))
        self.fl = np.zeros(7)
        self.lik_ints = np.zeros((2, 1), dtype=np.int64)
        self.it = np.zeros(5, dtype=np.int64)

    @property
    def alarm_level(self) -> float:
        """The score at and above which an alarm is raised (and the quiet period starts)."""
        return 1.0 - math.exp(-self.params.alarm_z / self.params.z_scale)

    def _run(self, x: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        p = self.params
        out = np.empty(x.shape[0])
        ensemble_kernel(
            x, state["dens"], state["season"], state["resid"], state["short"], state["lik"],
            state["lik_ints"], state["fl"], state["it"],
            p.history, p.bandwidth, p.spatial_tolerance, p.warmup, p.short_window,
            p.long_window, p.likelihood_warmup, p.var_floor,
            p.seasonal, p.season_min_lag, p.season_max_lag, p.season_min_acf,
            p.season_every, p.season_first,
            self.alarm_level, p.z_scale, p.refractory, p.breakthrough, p.budget_weight, 0.5 ** (1.0 / p.budget_half_life),
            p.record, p.record_floor, p.record_margin, out,
        )  # fmt: skip
        return out

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        x = np.ascontiguousarray(X[:, 0])
        if learn:
            return self._run(x, self._get_state())
        # score each row against the current state, learning nothing
        return np.array([self._run(x[i : i + 1], self._copy_state())[0] for i in range(x.size)])

    def _copy_state(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._get_state().items()}

    def _get_state(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _FLOAT_STATE + _INT_STATE}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        for k in _FLOAT_STATE:
            setattr(self, k, np.asarray(state[k], dtype=np.float64).copy())
        for k in _INT_STATE:
            setattr(self, k, np.asarray(state[k], dtype=np.int64).copy())
        if version < 2:  # before the record level: no record yet, no record quiet period
            self.fl = np.r_[self.fl, 0.0]
            self.it = np.r_[self.it, np.zeros(1, dtype=np.int64)]
