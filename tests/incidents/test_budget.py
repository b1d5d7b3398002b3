"""The alert budget: BH against a naive twin, pooled p-values, the hard cap, the null rate."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynomaly.incidents.budget import AlertBudget, BudgetConfig, bh_passes


def naive_bh(p: list[float], m: int, q: float) -> list[bool]:
    """Benjamini–Hochberg as written in the paper: the largest k with p_(k) <= k q / m."""
    m = max(m, len(p))
    ranked = sorted(range(len(p)), key=lambda i: (p[i], i))
    k = 0
    for r, i in enumerate(ranked, start=1):
        if p[i] <= r * q / m:
            k = r
    keep = set(ranked[:k])
    return [i in keep for i in range(len(p))]


@pytest.mark.kernel
@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=40), st.integers(0, 200),
       st.floats(1e-4, 1.0))
def test_bh_matches_the_naive_twin(p: list[float], m: int, q: float) -> None:
    assert bh_passes(np.array(p, dtype=np.float64), m, q).tolist() == naive_bh(p, m, q)


def null_run(budget: AlertBudget, *, hours: float, rate_per_s: float, seed: int,
             true_every_s: float = 0.0, t0: float = 0.0) -> tuple[int, int, list[float], int]:
    """Exponential null scores (p = exp(-s)); candidates above s = 3 are offered.
    Returns (null alerts released, true released, release times, true offered)."""
    rng = np.random.default_rng(seed)
    released_null = released_true = offered_true = 0
    times: list[float] = []
    step = 1.0
    next_true = t0 + true_every_s if true_every_s else float("inf")
    for sec in range(int(hours * 3600)):
        t = t0 + sec
        scores = rng.exponential(size=int(rate_per_s * step))
        budget.observe(t, scores)
        for s in scores[scores > 3.0]:
            budget.offer({"true": False, "t": t}, t=t, score=float(s))
        if t >= next_true:
            budget.offer({"true": True, "t": t}, t=t, score=40.0)
            offered_true += 1
            next_true += true_every_s
        for a in budget.close(t):
            released_true += a["true"]
            released_null += not a["true"]
            times.append(t)
    return released_null, released_true, times, offered_true


def test_null_stream_raises_about_the_budget_and_never_more_than_the_cap() -> None:
    cfg = BudgetConfig(alerts_per_hour=120, history_s=600)
    budget = AlertBudget(cfg)
    nulls, _, times, _ = null_run(budget, hours=2.0, rate_per_s=300, seed=1)
    # the hard guarantee: within any hour, at most budget + burst
    t = np.array(times)
    for start in range(0, 7200 - 3600 + 1, 600):
        assert ((t >= start) & (t < start + 3600)).sum() <= cfg.alerts_per_hour + cfg.bucket_size()
    # and BH on pooled p-values spends about the budget, not the 1 in 20 candidates
    assert 0.3 * 240 < nulls <= 240 + cfg.bucket_size()
    assert budget.held_back > 50 * nulls


def test_clear_anomalies_pass_and_state_survives_a_pickle() -> None:
    budget = AlertBudget(BudgetConfig(alerts_per_hour=60, history_s=600))
    null_run(budget, hours=0.2, rate_per_s=200, seed=2)
    twin = pickle.loads(pickle.dumps(budget))
    a = null_run(budget, hours=0.5, rate_per_s=200, seed=3, true_every_s=120, t0=720)
    b = null_run(twin, hours=0.5, rate_per_s=200, seed=3, true_every_s=120, t0=720)
    assert a == b
    late = budget.close(float("inf"))  # slices still open at the end
    assert a[3] == 14 and a[1] + sum(x["true"] for x in late) == a[3]  # every clear anomaly
    assert budget.p_value(40.0) < 1e-5 < budget.p_value(3.0)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(1e-6, 1e6)), max_size=60))
def test_bin_count_kernel_matches_score_bins(scores: list[float]) -> None:
    from pynomaly.incidents.budget import N_BINS, _count_bins, score_bins

    x = np.array(scores, dtype=np.float64)
    hist = np.zeros(N_BINS, dtype=np.int64)
    _count_bins(x, hist)
    assert hist.tolist() == np.bincount(score_bins(x), minlength=N_BINS).tolist()
