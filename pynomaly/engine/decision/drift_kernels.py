"""Numba drift-detection kernels (batch form of per-value change detectors).

``_page_hinkley_kernel`` is the Page-Hinkley test exactly as
``river.drift.PageHinkley`` computes it (running mean, fading cumulative sums
of deviations with forgetting factor ``alpha``, minimum-tolerated change
``delta``, alarm when a cumulative sum departs from its extremum by more than
``threshold``; after an alarm the state starts afresh), run over a whole batch
in one call. It returns the positions in the batch where drift was detected.

Examples
--------
>>> import numpy as np
>>> x = np.r_[np.zeros(200), np.full(100, 5.0)]
>>> st = new_page_hinkley_state()
>>> _page_hinkley_kernel(x, st, 30, 0.005, 50.0, 1 - 1e-4, 0).tolist()
[210]

References
----------
Page, E. S. (1954). Continuous Inspection Schemes. Biometrika 41(1/2), 100-115.
doi:10.2307/2333009
"""

from __future__ import annotations

import numpy as np
from numba import njit

# State vector layout: count, mean, sum_increase, sum_decrease, min_increase,
# max_decrease, drift flag of the previous value.
PH_N, PH_MEAN, PH_INC, PH_DEC, PH_MIN_INC, PH_MAX_DEC, PH_FLAG = range(7)
MODE_BOTH, MODE_UP, MODE_DOWN = 0, 1, 2


def new_page_hinkley_state() -> np.ndarray:
    """A fresh Page-Hinkley state vector."""
    st = np.zeros(7)
    st[PH_MIN_INC] = np.inf
    st[PH_MAX_DEC] = -1.0  # as river.drift.PageHinkley._reset
    return st


@njit(cache=True, nogil=True)
def page_hinkley_step(x: float, st: np.ndarray, min_instances: int, delta: float,
                      threshold: float, alpha: float, mode: int) -> bool:
    """Learn value ``x`` into one monitor's state ``st``; whether drift fired."""
    if st[PH_FLAG] != 0.0:
        st[PH_N] = 0.0
        st[PH_MEAN] = 0.0
        st[PH_INC] = 0.0
        st[PH_DEC] = 0.0
        st[PH_MIN_INC] = np.inf
        st[PH_MAX_DEC] = -1.0
        st[PH_FLAG] = 0.0
    st[PH_N] += 1.0
    st[PH_MEAN] += (1.0 / st[PH_N]) * (x - st[PH_MEAN])
    dev = x - st[PH_MEAN]
    st[PH_INC] = alpha * st[PH_INC] + dev - delta
    st[PH_DEC] = alpha * st[PH_DEC] + dev + delta
    if st[PH_INC] < st[PH_MIN_INC]:
        st[PH_MIN_INC] = st[PH_INC]
    if st[PH_DEC] > st[PH_MAX_DEC]:
        st[PH_MAX_DEC] = st[PH_DEC]
    if st[PH_N] >= min_instances:
        up = st[PH_INC] - st[PH_MIN_INC] > threshold
        down = st[PH_MAX_DEC] - st[PH_DEC] > threshold
        fired = (up or down) if mode == MODE_BOTH else (up if mode == MODE_UP else down)
        if fired:
            st[PH_FLAG] = 1.0
            return True
    return False


@njit(cache=True, nogil=True)
def _page_hinkley_kernel(x: np.ndarray, st: np.ndarray, min_instances: int, delta: float, threshold: float,
                         alpha: float, mode: int) -> np.ndarray:
    """Update st with every value of x; returns the positions where drift fired."""
    hits = np.empty(x.shape[0], dtype=np.int64)
    n_hits = 0
    for i in range(x.shape[0]):
        if page_hinkley_step(x[i], st, min_instances, delta, threshold, alpha, mode):
            hits[n_hits] = i
            n_hits += 1
    return hits[:n_hits]


@njit(cache=True, nogil=True)
def page_hinkley_bank_kernel(x: np.ndarray, slots: np.ndarray, keep: np.ndarray, st: np.ndarray,
                             m: int, min_instances: int, delta: float, threshold: float,
                             alpha: float, mode: int, fired: np.ndarray) -> None:
    """Monitor ``m`` of many slots: each kept row's value ``x[i]`` is learned by
    ``st[slots[i], m]`` (a state vector as :func:`new_page_hinkley_state`
    makes), in order, with :func:`page_hinkley_step` as the one-monitor kernel
    does; ``fired[i]`` says whether drift fired there (False for other rows).

    >>> st = np.tile(new_page_hinkley_state(), (2, 1, 1))  # 2 slots, 1 monitor
    >>> x = np.r_[np.zeros(200), np.full(100, 5.0)].repeat(2)  # both slots see the shift
    >>> fired = np.zeros(600, dtype=np.bool_)
    >>> page_hinkley_bank_kernel(x, np.tile([0, 1], 300), np.ones(600, dtype=np.bool_), st, 0,
    ...                          30, 0.005, 50.0, 1 - 1e-4, 0, fired)
    >>> (np.flatnonzero(fired) // 2).tolist()  # position 210 in each slot's stream
    [210, 210]
    """
    for i in range(x.shape[0]):
        fired[i] = keep[i] and page_hinkley_step(x[i], st[slots[i], m], min_instances, delta,
                                                 threshold, alpha, mode)
