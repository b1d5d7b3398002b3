"""LODA: Lightweight On-line Detector of Anomalies (Pevný 2016), streaming form.

LODA keeps ``R`` sparse random projections ``w_r`` (``k = max(1, floor(sqrt(d)))``
non-zero N(0, 1) weights each) and a one-dimensional equi-width histogram of
``n_bins`` bins on each projected value ``z_r = w_r . x``. The score of ``x`` is
the mean negative log density over the projections (paper, eq. 2)::

    f(x) = -1/R * sum_r log p_r(z_r),
    p_r(z) = (count_r(bin(z)) + 1) / ((n + n_bins) * width_r)

with ``n`` the number of events learned. Scores are computed before learning.

Histograms follow PySAD's streaming LODA: the first two distinct projected
values fix the bin width (their distance spans ``n_bins - 0.5`` bins); a value
outside the current range doubles the width and merges adjacent pairs of bins
(counts stay exact) until it fits. A projection that has seen one distinct
value only contributes 0. Random projections are drawn exactly as PySAD does
(``RandomState(seed)``: ``permutation(d)[:k]`` then ``randn(k)`` per
projection), so with the same seed both compute the same scores.

Explanation (paper, §3.2): for feature ``j`` compare the per-projection
scores ``-log p_r`` of the projections that use ``j`` with those that do not,
by Welch's t statistic ``t_j = (mean_in - mean_out) / sqrt(s2_in/n_in +
s2_out/n_out)``; larger means the feature matters more.

Example
-------
>>> import numpy as np
>>> from pynomaly.engine import create_detector
>>> det = create_detector("loda", n_projections=50, seed=1)
>>> rng = np.random.default_rng(0)
>>> s = det.score_learn_many(np.r_[rng.normal(size=(500, 3)), [[8.0, 0.0, 0.0]]])
>>> bool(s[-1] > np.quantile(s[100:-1], 0.99))
True
>>> int(np.argmax(det.explain_one([8.0, 0.0, 0.0])))
0

References
----------
Pevný, T. (2016). Loda: Lightweight on-line detector of anomalies. Machine
Learning 102(2), 275-304. doi:10.1007/s10994-015-5521-0 (eq. 2; §3.2 feature
relevance).
Yilmaz, S. F. & Kozat, S. S. (2020). PySAD: A Streaming Anomaly Detection
Framework in Python. arXiv:2009.02572 (``pysad.models.LODA``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from pydantic import Field, model_validator

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register

#: Width doublings allowed for one value; with inputs clipped to 1e150 a value
#: never needs more than ~2100 from the smallest positive width.
_MAX_DOUBLINGS = 4096
#: Up to this many features the projections run as a dense (SIMD) product.
DENSE_MAX_FEATURES = 16
#: Largest histogram state accepted (n_projections * n_bins cells, 8 bytes each).
MAX_CELLS = 2**22


@njit(cache=True, nogil=True)
def _project(x: np.ndarray, idx: np.ndarray, w: np.ndarray, z: np.ndarray) -> None:
    """z[r] = sum_k x[idx[r, k]] * w[r, k]."""
    for r in range(idx.shape[0]):
        acc = 0.0
        for k in range(idx.shape[1]):
            acc += x[idx[r, k]] * w[r, k]
        z[r] = acc


@njit(cache=True, nogil=True)
def _projection_scores(z: np.ndarray, hist: np.ndarray, lows: np.ndarray, widths: np.ndarray, n_seen: int,
                       per_proj: np.ndarray) -> None:
    """per_proj[r] = -log p_r(z[r]) (0 for projections without a width yet)."""
    n_bins = hist.shape[1]
    log_total = np.log(n_seen + n_bins)
    for r in range(z.shape[0]):
        width = widths[r]
        if width > 0.0:
            pos = np.floor((z[r] - lows[r]) / width)
            count = 0.0
            if pos >= 0.0 and pos < n_bins:
                count = hist[r, int(pos)]
            per_proj[r] = log_total + np.log(width) - np.log(count + 1.0)
        else:
            per_proj[r] = 0.0


@njit(cache=True, nogil=True)
def _extend(r: int, value: float, hist: np.ndarray, lows: np.ndarray, widths: np.ndarray, scratch: np.ndarray) -> int:
    """Double bin width ``r`` towards ``value`` until it fits; returns its bin."""
    n_bins = hist.shape[1]
    for _ in range(_MAX_DOUBLINGS):
        pos = np.floor((value - lows[r]) / widths[r])
        if pos >= 0.0 and pos < n_bins:
            return int(pos)
        scratch[:] = 0.0
        if pos < 0.0:  # grow to the left: old bins become the right half
            scratch[n_bins:] = hist[r]
            lows[r] -= n_bins * widths[r]
        else:
            scratch[:n_bins] = hist[r]
        for b in range(n_bins):
            hist[r, b] = scratch[2 * b] + scratch[2 * b + 1]
        widths[r] *= 2.0
    pos = np.floor((value - lows[r]) / widths[r])
    return 0 if pos < 0.0 else n_bins - 1


@njit(cache=True, nogil=True)
def _learn_slow(r: int, v: float, hist: np.ndarray, lows: np.ndarray, widths: np.ndarray, log_widths: np.ndarray,
                scratch: np.ndarray) -> None:
    """Learn ``v`` on projection ``r`` when it has no width yet or ``v`` is out of range."""
    n_bins = hist.shape[1]
    if widths[r] > 0.0:
        hist[r, _extend(r, v, hist, lows, widths, scratch)] += 1.0
        log_widths[r] = np.log(widths[r])
        return
    seen = lows[r]
    width = abs(v - seen) / (n_bins - 0.5)
    if width == 0.0:  # still a single distinct value
        hist[r, 0] += 1.0
        return
    widths[r] = width
    lows[r] = min(v, seen)
    count = hist[r, 0]
    hist[r, 0] = 0.0
    hist[r, _extend(r, seen, hist, lows, widths, scratch)] = count
    hist[r, _extend(r, v, hist, lows, widths, scratch)] += 1.0
    log_widths[r] = np.log(widths[r])


@njit(cache=True, nogil=True)
def _loda_kernel(X: np.ndarray, idx: np.ndarray, w: np.ndarray, dense_t: np.ndarray, hist: np.ndarray, lows: np.ndarray, widths: np.ndarray,
                 log_widths: np.ndarray, n_seen: int, learn: bool, out: np.ndarray) -> int:
    """Score rows of X before learning each; returns the updated n_seen.

    One pass per event over the projections: project (through the dense,
    transposed matrix ``dense_t`` when it is not empty, else the sparse
    indices), read the count of the bin, then (when learning) add the event to that bin. A projection's update
    cannot change another's score, so this equals score-all-then-learn-all.
    The sum of log(count + 1) is taken as the log of chunked products (one log
    per ~20 projections; a count never exceeds 2**53, so a product stays below
    1e296); log widths are cached.
    """
    n_proj, k_nonzero = idx.shape
    n_bins = hist.shape[1]
    dense = dense_t.shape[0] > 0
    scratch = np.empty(2 * n_bins)
    z = np.zeros(n_proj)
    for i in range(X.shape[0]):
        if dense:  # few features: z = W x as d SIMD-friendly passes over R
            z[:] = 0.0
            for j in range(dense_t.shape[0]):
                xj = X[i, j]
                for r in range(n_proj):
                    z[r] += dense_t[j, r] * xj
        n_ready = 0
        sum_log_width = 0.0
        log_counts = 0.0
        prod = 1.0
        for r in range(n_proj):
            if dense:
                v = z[r]
            else:
                v = 0.0
                for k in range(k_nonzero):
                    v += X[i, idx[r, k]] * w[r, k]
            width = widths[r]
            b = -1
            if width > 0.0:
                n_ready += 1
                sum_log_width += log_widths[r]
                pos = (v - lows[r]) / width  # floor(pos) == int(pos) when pos >= 0
                if pos >= 0.0 and pos < n_bins:
                    b = int(pos)
                    prod *= hist[r, b] + 1.0
                    if prod > 1e280:
                        log_counts += np.log(prod)
                        prod = 1.0
            if learn:
                if n_seen == 0:
                    lows[r] = v
                    hist[r, 0] = 1.0
                elif b >= 0:
                    hist[r, b] += 1.0
                else:
                    _learn_slow(r, v, hist, lows, widths, log_widths, scratch)
        log_counts += np.log(prod)
        total = n_ready * np.log(n_seen + n_bins) + sum_log_width - log_counts
        out[i] = total / n_proj
        if learn:
            n_seen += 1
    return n_seen


@njit(cache=True, nogil=True)
def _log_positive(widths: np.ndarray) -> np.ndarray:
    """log of each positive width, 0 elsewhere (same libm log as the kernel)."""
    out = np.zeros_like(widths)
    for r in range(widths.shape[0]):
        if widths[r] > 0.0:
            out[r] = np.log(widths[r])
    return out


def draw_projections(
    n_features: int, n_projections: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse projections as (indices, weights), each of shape (R, k).

    Drawn in PySAD's order so that the same seed gives the same projections.

    >>> idx, w = draw_projections(4, 3, seed=0)
    >>> idx.shape, w.shape
    ((3, 2), (3, 2))
    """
    k = max(1, int(np.sqrt(n_features)))
    rng = np.random.RandomState(seed)
    idx = np.empty((n_projections, k), dtype=np.int64)
    w = np.empty((n_projections, k))
    for r in range(n_projections):
        idx[r] = rng.permutation(n_features)[:k]
        w[r] = rng.randn(k)
    return idx, w


class LodaParams(DetectorParams):
    n_projections: int = Field(100, ge=1, le=10_000, description="random projections R")
    n_bins: int = Field(10, ge=2, le=10_000, description="histogram bins per projection")
    seed: int = Field(0, ge=0, lt=2**32, description="seed of the random projections")

    @model_validator(mode="after")
    def _bounded_state(self) -> LodaParams:
        if self.n_projections * self.n_bins > MAX_CELLS:
            raise ValueError(f"n_projections * n_bins must be <= {MAX_CELLS}")
        return self


@register
class Loda(Detector):
    """Streaming LODA; see the module docstring."""

    name = "loda"
    Params = LodaParams
    params: LodaParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        self._idx, self._w = draw_projections(n_features, p.n_projections, p.seed)
        self._dense_t = np.zeros(
            (n_features if n_features <= DENSE_MAX_FEATURES else 0, p.n_projections)
        )
        if self._dense_t.size:
            rows = np.repeat(np.arange(p.n_projections), self._idx.shape[1])
            self._dense_t[self._idx.ravel(), rows] = self._w.ravel()
        self._hist = np.zeros((p.n_projections, p.n_bins))
        self._lows = np.zeros(p.n_projections)
        self._widths = np.zeros(p.n_projections)
        self._log_widths = np.zeros(p.n_projections)
        self._n_seen = 0

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        out = np.empty(X.shape[0])
        n_seen = _loda_kernel(
            X,
            self._idx,
            self._w,
            self._dense_t,
            self._hist,
            self._lows,
            self._widths,
            self._log_widths,
            self._n_seen,
            learn,
            out,
        )
        self._n_seen = int(n_seen)
        return out

    def _explain(self, x: np.ndarray) -> np.ndarray:
        n_proj = self._idx.shape[0]
        z = np.empty(n_proj)
        per_proj = np.empty(n_proj)
        _project(x, self._idx, self._w, z)
        _projection_scores(z, self._hist, self._lows, self._widths, self._n_seen, per_proj)
        uses = np.zeros((n_proj, x.size), dtype=bool)
        uses[np.arange(n_proj)[:, None], self._idx] = True
        out = np.empty(x.size)
        for j in range(x.size):
            inside, outside = per_proj[uses[:, j]], per_proj[~uses[:, j]]
            if inside.size == 0:
                out[j] = 0.0
            elif outside.size < 2 or inside.size < 2:
                out[j] = inside.mean() - (outside.mean() if outside.size else 0.0)
            else:
                se = np.sqrt(inside.var(ddof=1) / inside.size + outside.var(ddof=1) / outside.size)
                out[j] = (inside.mean() - outside.mean()) / max(se, 1e-12)
        return out

    def _get_state(self) -> dict[str, Any]:
        return {
            "hist": self._hist.copy(),
            "lows": self._lows.copy(),
            "widths": self._widths.copy(),
            "n_seen": self._n_seen,
        }

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        self._hist = np.asarray(state["hist"], dtype=np.float64).copy()
        self._lows = np.asarray(state["lows"], dtype=np.float64).copy()
        self._widths = np.asarray(state["widths"], dtype=np.float64).copy()
        self._log_widths = _log_positive(self._widths)
        self._n_seen = int(state["n_seen"])
