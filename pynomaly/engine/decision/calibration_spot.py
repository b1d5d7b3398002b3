"""SPOT and DSPOT: extreme-value calibration by peaks-over-threshold (POT).

Siffer et al. (KDD 2017) model the upper tail of a stream with the
Pickands-Balkema-de Haan theorem: above a high initial threshold ``t`` the
excesses ``Y = X - t`` follow a generalised Pareto distribution (GPD) with
shape ``gamma`` and scale ``sigma``. Then, with ``n`` observations of which
``N_t`` exceeded ``t``,

    P(X > x) = (N_t / n) * (1 + gamma * (x - t) / sigma) ** (-1 / gamma)   (x > t)

and the alarm threshold for risk ``q`` is (paper eq. 1)

    z_q = t + sigma / gamma * ((q * n / N_t) ** (-gamma) - 1).

Algorithm (paper Alg. 1 / Alg. 3):

1. *Initial calibration*: the first ``n_init`` scores are collected; ``t`` is
   their empirical ``level`` quantile; the excesses over ``t`` are the peaks;
   the GPD is fitted and ``z_q`` computed.
2. *Streaming*: a score above ``z_q`` is an alarm and is **not** learned;
   a score in ``(t, z_q]`` becomes a new peak (the GPD is refitted and
   ``z_q`` updated); otherwise only ``n`` grows.
3. *DSPOT* runs the same on drift-corrected values ``x - M``, ``M`` the mean of
   the last ``depth`` learned (non-alarm) scores.

The fit is Grimshaw's (1993) trick, as in the paper (section 3.2): the MLE
reduces to the roots ``theta`` of ``u(theta) v(theta) = 1`` with
``u = mean(1 / (1 + theta Y))`` and ``v = 1 + mean(log(1 + theta Y))``,
searched on ``(-1 / Y_max, 0)`` and ``(0, 2 (mean(Y) - Y_min) / Y_min**2)``
(a grid scan for sign changes, then Illinois regula falsi); each root gives
``gamma = v - 1``, ``sigma = gamma / theta``; the candidate with the highest
log-likelihood wins, the exponential (``gamma = 0``, ``sigma = mean(Y)``)
included. ``fit="moments"`` uses the method of moments instead
(Hosking & Wallis 1987: ``gamma = (1 - m^2/s^2) / 2``,
``sigma = m (1 + m^2/s^2) / 2``), O(1) per peak but biased for heavy tails.
The peaks are kept in a bounded ring of the latest ``max_peaks``. The paper
refits at every new peak; here the fit is redone once the peaks have grown by
``refit_growth`` (default 5%) since the last fit, which bounds the fitting cost
per event independently of ``max_peaks`` (``refit_growth=0`` refits at every
peak). ``z_q`` follows ``n`` and ``N_t`` at every peak.

State layout: one calibrator is row ``slot`` of a few arrays (the counters
and fit in ``st``, the sorted initial sample, the ring of peaks, DSPOT's ring
of learned scores; :func:`new_spot_state`), updated by
:func:`spot_bank_kernel` for a batch of rows of mixed slots. A
:class:`SpotCalibrator` is the one-slot case; the banked detect path
(:mod:`pynomaly.engine.decision.banked_calibration`) keeps one slot per key, so both
compute the same statements on the same numbers.

The calibrated p-value is the tail probability above; for ``x <= t`` it is
the empirical p-value among the initial sample (never below ``N_t / n``), and
during the initial phase the conformal p-value among the scores so far. Beyond
the finite endpoint of a fitted short tail (``gamma < 0``) the model gives 0;
there the p-value continues as ``1e-200 * exp(-excess / sigma)`` so that it
stays positive and strictly decreasing (scores still rank).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> cal = SpotCalibrator(n_init=2000, level=0.98, q=1e-4)
>>> p = cal.p_values(rng.exponential(size=5000))
>>> round(cal.gamma, 2), round(cal.z_q, 1)  # exponential tail: gamma ~ 0, z_q ~ -log(q) = 9.2
(0.0, 9.5)
>>> cal.p_values([2.0, 12.0], learn=False).round(5).tolist()
[0.12994, 1e-05]

References
----------
Siffer, A., Fouque, P.-A., Termier, A., Largouet, C. (2017). Anomaly Detection
in Streams with Extreme Value Theory. KDD '17, 1067-1075.
doi:10.1145/3097983.3098144

Grimshaw, S. D. (1993). Computing Maximum Likelihood Estimates for the
Generalized Pareto Distribution. Technometrics 35(2), 185-191.
doi:10.1080/00401706.1993.10485040

Hosking, J. R. M., Wallis, J. R. (1987). Parameter and Quantile Estimation for
the Generalized Pareto Distribution. Technometrics 29(3), 339-349.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from pynomaly.engine.decision.calibration import Calibrator, ComponentParams
from pynomaly.engine.decision.calibration_conformal import _lower_bound

_GRID = 32
_ROOT_ITERS = 40
_W_NOISE = 1e-11
#: p-value scale beyond a short tail's finite endpoint (see ``_tail_p``).
_BEYOND_ENDPOINT = 1e-200
# Layout of the float state vector.
T, N, NT, GAMMA, SIGMA, ZQ, NSEEN, NPEAK, PHEAD, DSUM, DN, DHEAD, PSINCE = range(13)
_STATE_LEN = 13


@njit(cache=True, nogil=True)
def _w(peaks: np.ndarray, m: int, theta: float) -> float:
    u = 0.0
    v = 0.0
    for i in range(m):
        s = 1.0 + theta * peaks[i]
        u += 1.0 / s
        v += np.log(s)
    return (u / m) * (1.0 + v / m) - 1.0


@njit(cache=True, nogil=True)
def _gpd_loglik(peaks: np.ndarray, m: int, gamma: float, sigma: float) -> float:
    if sigma <= 0.0:
        return -np.inf
    if gamma == 0.0:
        total = 0.0
        for i in range(m):
            total += peaks[i]
        return float(-m * np.log(sigma) - total / sigma)
    acc = 0.0
    for i in range(m):
        z = 1.0 + gamma * peaks[i] / sigma
        if z <= 0.0:
            return -np.inf
        acc += np.log(z)
    return float(-m * np.log(sigma) - (1.0 + 1.0 / gamma) * acc)


@njit(cache=True, nogil=True)
def _illinois(peaks: np.ndarray, m: int, a: float, b: float, fa: float, fb: float) -> float:
    """Root of w in [a, b] (fa, fb of opposite signs): regula falsi, Illinois variant."""
    side = 0
    c = a
    for _ in range(_ROOT_ITERS):
        if fb == fa:
            break
        c = (a * fb - b * fa) / (fb - fa)
        fc = _w(peaks, m, c)
        if abs(fc) < 1e-15 or abs(b - a) <= 1e-10 * max(abs(a), abs(b)):
            break
        if (fc > 0.0) == (fb > 0.0):
            b, fb = c, fc
            if side == -1:
                fa *= 0.5
            side = -1
        else:
            a, fa = c, fc
            if side == 1:
                fb *= 0.5
            side = 1
    return c


@njit(cache=True, nogil=True)
def _roots_in(peaks: np.ndarray, m: int, lo: float, hi: float, geometric: bool,
              best: np.ndarray) -> None:
    """Scan (lo, hi) for sign changes of w, bisect each, keep the best fit in best.

    Both ends must have the same sign. ``geometric`` spaces the grid evenly in
    ``log|theta|`` (dense near 0) instead of evenly in ``theta``.
    """
    prev_t = lo
    prev_w = _w(peaks, m, lo)
    ratio = hi / lo if geometric else 1.0
    for g in range(1, _GRID + 1):
        t = lo * ratio ** (g / _GRID) if geometric else lo + (hi - lo) * g / _GRID
        wt = _w(peaks, m, t)
        # Near theta = 0, w is O(theta^2) and its sign is rounding noise: a root
        # there is the exponential fit, which is always a candidate anyway.
        if (
            np.isfinite(wt) and np.isfinite(prev_w) and (wt > 0.0) != (prev_w > 0.0)
            and min(abs(wt), abs(prev_w)) > _W_NOISE
        ):
            theta = _illinois(peaks, m, prev_t, t, prev_w, wt)
            if theta != 0.0:
                v = 0.0
                for i in range(m):
                    v += np.log(1.0 + theta * peaks[i])
                gamma = v / m
                sigma = gamma / theta
                ll = _gpd_loglik(peaks, m, gamma, sigma)
                if ll > best[2]:
                    best[0], best[1], best[2] = gamma, sigma, ll
        prev_t, prev_w = t, wt


@njit(cache=True, nogil=True)
def _fit_gpd(peaks: np.ndarray, m: int, moments: bool) -> tuple[float, float]:
    """(gamma, sigma) of the GPD fitted to peaks[:m] (all > 0)."""
    mean = 0.0
    ymin = np.inf
    ymax = 0.0
    for i in range(m):
        mean += peaks[i]
        ymin = min(ymin, peaks[i])
        ymax = max(ymax, peaks[i])
    mean /= m
    if mean <= 0.0:
        return 0.0, 1e-12
    if moments:  # on peaks / ymax, so that squares of huge peaks cannot overflow
        ms = mean / ymax
        var = 0.0
        for i in range(m):
            var += (peaks[i] / ymax - ms) ** 2
        var /= m
        if var <= 0.0:
            return 0.0, mean
        r = ms * ms / var
        return 0.5 * (1.0 - r), 0.5 * mean * (1.0 + r)
    best = np.empty(3)
    best[0], best[1], best[2] = 0.0, mean, _gpd_loglik(peaks, m, 0.0, mean)
    if m < 3 or ymax <= ymin:
        return best[0], best[1]
    eps = 1e-8 / ymax
    lower = -1.0 / ymax + eps
    if lower < -eps:
        _roots_in(peaks, m, lower, -eps, False, best)
        _roots_in(peaks, m, -eps, lower, True, best)
    upper = 2.0 * (mean - ymin) / (ymin * ymin) if ymin > 0.0 else 1.0 / (eps * eps)
    if upper > eps:
        _roots_in(peaks, m, eps, upper, False, best)
        _roots_in(peaks, m, eps, upper, True, best)
    return best[0], best[1]


@njit(cache=True, nogil=True)
def _z_q(t: float, gamma: float, sigma: float, q: float, n: float, nt: float) -> float:
    r = q * n / nt
    if gamma == 0.0:
        return float(t - sigma * np.log(r))
    return float(t + sigma / gamma * (r ** (-gamma) - 1.0))


@njit(cache=True, nogil=True)
def _tail_p(x: float, st: np.ndarray, init_sorted: np.ndarray, n_init: int) -> float:
    t = st[T]
    frac = st[NT] / st[N]
    if x > t:
        y = x - t
        gamma, sigma = st[GAMMA], st[SIGMA]
        if gamma == 0.0:
            return float(frac * np.exp(-y / sigma))
        z = 1.0 + gamma * y / sigma
        if z <= 0.0:
            # Beyond the finite endpoint t - sigma/gamma of a short tail (gamma < 0),
            # where the fit says "impossible": keep p positive and decreasing so
            # that such scores still rank among themselves.
            return float(frac * _BEYOND_ENDPOINT * np.exp(-(y + sigma / gamma) / sigma))
        return float(frac * z ** (-1.0 / gamma))
    body = (1.0 + (n_init - _lower_bound(init_sorted, n_init, x))) / (1.0 + n_init)
    return float(max(body, frac))


@njit(cache=True, nogil=True)
def _calibrate(st: np.ndarray, init_sorted: np.ndarray, n_init: int, level: float, peaks: np.ndarray, q: float,
               moments: bool) -> None:
    k = min(n_init - 1, max(0, int(np.ceil(level * n_init)) - 1))
    t = init_sorted[k]
    cap = peaks.shape[0]
    m = 0
    for i in range(n_init):  # the largest excesses if there are more than cap
        y = init_sorted[n_init - 1 - i] - t
        if y <= 0.0 or m == cap:
            break
        peaks[m] = y
        m += 1
    st[T] = t
    st[N] = n_init
    st[NT] = max(m, 1)
    st[NPEAK] = m
    st[PHEAD] = m % cap
    if m > 0:
        st[GAMMA], st[SIGMA] = _fit_gpd(peaks, m, moments)
    else:
        st[GAMMA], st[SIGMA] = 0.0, 1e-12
    st[ZQ] = _z_q(t, st[GAMMA], st[SIGMA], q, st[N], st[NT])


@njit(cache=True, nogil=True)
def _spot_step(
    s: float, st: np.ndarray, init_sorted: np.ndarray, peaks: np.ndarray, dwin: np.ndarray,
    n_init: int, level: float, q: float, moments: bool, refit_growth: float, learn: bool,
) -> tuple[float, float]:
    """(p-value, z_q in force) of score ``s`` before learning it; learns it into
    one calibrator's state (``st``, ``init_sorted``, ``peaks``, ``dwin``) when
    ``learn``."""
    depth = dwin.shape[0]
    x = s
    if depth > 0 and st[DN] > 0:
        x = s - st[DSUM] / st[DN]
    seen = int(st[NSEEN])
    if seen < n_init:
        p = (1.0 + (seen - _lower_bound(init_sorted, seen, x))) / (1.0 + seen)
        zq = np.inf
    else:
        p = _tail_p(x, st, init_sorted, n_init)
        zq = st[ZQ]
    if not learn:
        return p, zq
    if seen < n_init:
        k = _lower_bound(init_sorted, seen, x)
        for j in range(seen, k, -1):
            init_sorted[j] = init_sorted[j - 1]
        init_sorted[k] = x
        st[NSEEN] = seen + 1
        if seen + 1 == n_init:
            _calibrate(st, init_sorted, n_init, level, peaks, q, moments)
    elif x > st[ZQ]:
        return p, zq  # alarm: not learned (paper Alg. 1, line 6)
    else:
        st[N] += 1.0
        if x > st[T]:
            cap = peaks.shape[0]
            h = int(st[PHEAD])
            peaks[h] = x - st[T]
            st[PHEAD] = (h + 1) % cap
            st[NPEAK] = min(st[NPEAK] + 1.0, cap)
            st[NT] += 1.0
            st[PSINCE] += 1.0
            if st[PSINCE] >= max(1.0, refit_growth * st[NPEAK]):
                st[GAMMA], st[SIGMA] = _fit_gpd(peaks, int(st[NPEAK]), moments)
                st[PSINCE] = 0.0
            st[ZQ] = _z_q(st[T], st[GAMMA], st[SIGMA], q, st[N], st[NT])
    if depth > 0:  # DSPOT: mean of the last `depth` learned raw scores
        h = int(st[DHEAD])
        if st[DN] == depth:
            st[DSUM] -= dwin[h]
        else:
            st[DN] += 1.0
        dwin[h] = s
        st[DSUM] += s
        st[DHEAD] = (h + 1) % depth
    return p, zq


@njit(cache=True, nogil=True)
def spot_bank_kernel(
    scores: np.ndarray, slots: np.ndarray, keep: np.ndarray, st: np.ndarray, init: np.ndarray,
    peaks: np.ndarray, dwin: np.ndarray, n_init: int, level: float, q: float, moments: bool,
    refit_growth: float, learn: bool, out: np.ndarray, zq_out: np.ndarray,
) -> None:
    """SPOT over a batch of mixed calibrators: row ``s`` of ``st`` (``(slots,
    13)``), ``init`` (``(slots, n_init)``), ``peaks`` (``(slots, max_peaks)``)
    and ``dwin`` (``(slots, depth)``) is calibrator ``s``. Each kept row gets
    the p-value (and z_q) of its score on its slot's calibrator, then the
    score is learned there when ``learn``; the other rows get 1 (and inf).

    A single calibrator is the one-slot case (:class:`SpotCalibrator` runs
    this kernel on ``(1, ...)`` arrays), so a banked calibrator and a per-key
    one compute the same statements on the same numbers.
    """
    for i in range(scores.shape[0]):
        if not keep[i]:
            out[i] = 1.0
            zq_out[i] = np.inf
            continue
        s = slots[i]
        out[i], zq_out[i] = _spot_step(scores[i], st[s], init[s], peaks[s], dwin[s], n_init,
                                       level, q, moments, refit_growth, learn)


def new_spot_state(n: int, n_init: int, max_peaks: int, depth: int) -> dict[str, np.ndarray]:
    """Fresh state of ``n`` SPOT calibrators (DSPOT when ``depth > 0``), by
    array: ``st`` (the 13 counters and fit parameters), ``init`` (the sorted
    initial sample), ``peaks`` (the ring of excesses), ``dwin`` (DSPOT's ring
    of learned scores).

    >>> {k: v.shape for k, v in new_spot_state(3, 20, 10, 0).items()}
    {'st': (3, 13), 'init': (3, 20), 'peaks': (3, 10), 'dwin': (3, 0)}
    """
    return {"st": np.zeros((n, _STATE_LEN)), "init": np.zeros((n, n_init)),
            "peaks": np.zeros((n, max_peaks)), "dwin": np.zeros((n, depth))}


class SpotParams(ComponentParams):
    kind: Literal["spot"] = "spot"
    n_init: int = Field(1000, ge=20, description="scores collected before the first GPD fit")
    level: float = Field(0.98, gt=0.5, lt=1.0, description="initial threshold t = this quantile")
    q: float = Field(1e-4, gt=0.0, lt=0.5, description="risk: z_q is exceeded with probability q")
    max_peaks: int = Field(1000, ge=10, description="latest peaks kept for the fit")
    fit: Literal["grimshaw", "moments"] = "grimshaw"
    refit_growth: float = Field(
        0.05, ge=0.0, le=1.0,
        description="refit the GPD once the peaks grew by this fraction since the last fit "
        "(0 = at every peak, as in the paper); z_q is updated at every peak",
    )

    @model_validator(mode="after")
    def _q_below_initial_rate(self) -> SpotParams:
        if self.q >= 1.0 - self.level:
            raise ValueError(f"q={self.q} must be below 1 - level = {1.0 - self.level:g}")
        return self


class DSpotParams(SpotParams):
    kind: Literal["dspot"] = "dspot"  # type: ignore[assignment]
    depth: int = Field(50, ge=1, description="scores in the moving mean that DSPOT subtracts")


class SpotCalibrator(Calibrator):
    """SPOT tail calibration; see the module docstring."""

    kind = "spot"
    Params = SpotParams
    params: SpotParams

    def _depth(self) -> int:
        return 0

    def reset(self) -> None:
        p = self.params
        fresh = new_spot_state(1, p.n_init, p.max_peaks, self._depth())
        # one slot of the banked layout: row 0 of (1, ...) arrays
        self._st, self._init, self._peaks, self._dwin = (
            fresh["st"], fresh["init"], fresh["peaks"], fresh["dwin"])

    @property
    def n_seen(self) -> int:
        st = self._st[0]
        return int(st[NSEEN] if st[NSEEN] < self.params.n_init else st[N])

    @property
    def calibrated(self) -> bool:
        """True once the initial ``n_init`` scores have been fitted."""
        return bool(self._st[0, NSEEN] >= self.params.n_init)

    @property
    def z_q(self) -> float:
        """Current alarm threshold (``inf`` before calibration)."""
        return float(self._st[0, ZQ]) if self.calibrated else float("inf")

    @property
    def t(self) -> float:
        """Initial (peaks) threshold."""
        return float(self._st[0, T])

    @property
    def gamma(self) -> float:
        return float(self._st[0, GAMMA])

    @property
    def sigma(self) -> float:
        return float(self._st[0, SIGMA])

    def peaks(self) -> np.ndarray:
        """A copy of the excesses currently used by the fit."""
        return self._peaks[0, : int(self._st[0, NPEAK])].copy()

    def _run(self, scores: np.ndarray, learn: bool) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        n = scores.shape[0]
        out = np.empty(n)
        zq = np.empty(n)
        st = self._st if learn else self._st.copy()
        spot_bank_kernel(
            scores, np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.bool_), st, self._init,
            self._peaks, self._dwin, p.n_init, p.level, p.q, p.fit == "moments",
            p.refit_growth, learn, out, zq,
        )
        return out, zq

    def _p_values(self, scores: np.ndarray, learn: bool) -> np.ndarray:
        return self._run(scores, learn)[0]

    def thresholds(self, scores: Any, learn: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(p_values, z_q in force for each score)`` — z_q is ``inf`` before calibration."""
        from pynomaly.engine.decision.calibration import as_scores

        return self._run(as_scores(scores, self.kind), learn)

    def _get_state(self) -> dict[str, Any]:
        return {
            "st": self._st[0].copy(), "init": self._init[0].copy(),
            "peaks": self._peaks[0].copy(), "dwin": self._dwin[0].copy(),
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._st, self._init, self._peaks, self._dwin = (
            np.asarray(state[k], dtype=np.float64).reshape(1, -1).copy()
            for k in ("st", "init", "peaks", "dwin"))


class DSpotCalibrator(SpotCalibrator):
    """DSPOT: SPOT on ``score - moving mean``; see the module docstring."""

    kind = "dspot"
    Params = DSpotParams
    params: DSpotParams

    def _depth(self) -> int:
        return self.params.depth
