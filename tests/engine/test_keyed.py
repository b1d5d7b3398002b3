"""KeyedPipelines: grouping = per-key pipelines, cap/overflow, TTL, stats, snapshots."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynomaly.engine.keyed import KeyedPipelines
from pynomaly.engine.pipeline import ScoringPipeline

CONFIG = {
    "detector": {"name": "robust_zscore", "params": {"alpha": 0.05, "warmup": 5}},
    "calibration": {"kind": "conformal", "window": 100},
    "threshold": {"kind": "probability", "level": 0.97},
    "warmup": 10,
    "protect": True,
    "drift": [{"monitor": "fast_page_hinkley", "stream": "input", "params": {"threshold": 10.0}}],
}


def interleaved(seed=0, n=1500, keys=("a", "b", "c", "d")):
    rng = np.random.default_rng(seed)
    k = rng.choice(np.array(keys), n)
    offsets = {key: i * 10.0 for i, key in enumerate(keys)}
    X = rng.normal(size=(n, 2)) + np.array([offsets[x] for x in k])[:, None]
    X[rng.choice(n, 15, replace=False)] += 8.0
    X[n // 2 :, 1] += 4.0  # drift for every key
    return k, X


def test_results_equal_one_pipeline_per_key_over_micro_batches():
    keys, X = interleaved()
    bank = KeyedPipelines(CONFIG)
    parts = [bank.process_batch(keys[lo : lo + 128], X[lo : lo + 128]) for lo in range(0, len(X), 128)]
    scores = np.concatenate([p.scores for p in parts])
    flags = np.concatenate([p.is_anomaly for p in parts])
    events = [e for p in parts for e in p.drift_events]
    assert flags.sum() > 10 and events
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        alone = ScoringPipeline(CONFIG).process_many(X[rows])
        np.testing.assert_array_equal(scores[rows], alone.scores)
        np.testing.assert_array_equal(flags[rows], alone.is_anomaly)
        assert [e for k, e in events if k == key] == alone.drift_events
    expl_rows = {lo + r for lo, p in zip(range(0, len(X), 128), parts, strict=True) for r in p.explanations}
    assert expl_rows == set(np.flatnonzero(flags).tolist())


def test_cap_rejects_and_counts_rows_of_new_keys():
    bank = KeyedPipelines(CONFIG, max_keys=2)
    keys = np.array(["x", "y", "z", "x", "z", "w"])
    res = bank.process_batch(keys, np.zeros((6, 2)))
    assert res.rejected.tolist() == [False, False, True, False, True, True]
    assert np.isnan(res.scores[res.rejected]).all() and not res.is_anomaly[res.rejected].any()
    assert np.isfinite(res.scores[~res.rejected]).all()
    assert bank.stats()["overflow"] == 3 and set(bank.pipelines) == {"x", "y"}


def test_ttl_eviction_in_event_time_and_processing_time():
    bank = KeyedPipelines(CONFIG, ttl=10.0)
    bank.process_batch(["a", "b"], np.zeros((2, 2)), times=[0.0, 5.0])
    assert bank.evict_idle(now=12.0) == ["a"]
    bank.process_batch(["b", "c"], np.zeros((2, 2)), now=14.0)  # processing time: seen at 14
    assert bank.evict_idle(now=20.0) == []
    res = bank.process_batch(["a"], np.zeros((1, 2)), now=30.0)  # b and c idle 16 s; a is new
    s = bank.stats()
    assert (s["live_keys"], s["created"], s["evicted"]) == (1, 4, 3)
    assert bank.pipelines["a"].n_seen == 1 and not res.rejected.any()
    with pytest.raises(ValueError, match="needs event times or now"):
        bank.process_batch(["a"], np.zeros((1, 2)))


def test_stats_estimate_bytes_per_key():
    keys, X = interleaved(n=400)
    bank = KeyedPipelines(CONFIG)
    assert bank.stats()["bytes_per_key"] == 0
    bank.process_batch(keys, X)
    s = bank.stats()
    assert s["live_keys"] == 4 and 1000 < s["bytes_per_key"] < 20_000


def test_bank_snapshot_round_trip():
    keys, X = interleaved(seed=3)
    whole = KeyedPipelines(CONFIG, max_keys=3, ttl=1e9)
    t = np.arange(len(X), dtype=float)
    full = whole.process_batch(keys, X, times=t)
    bank = KeyedPipelines(CONFIG, max_keys=3, ttl=1e9)
    first = bank.process_batch(keys[:700], X[:700], times=t[:700])
    again = KeyedPipelines.restore(bank.snapshot())
    second = again.process_batch(keys[700:], X[700:], times=t[700:])
    np.testing.assert_array_equal(np.r_[first.scores, second.scores], full.scores)
    np.testing.assert_array_equal(np.r_[first.rejected, second.rejected], full.rejected)
    assert again.stats() == whole.stats()
    with pytest.raises(ValueError, match="not a keyed-pipelines snapshot"):
        KeyedPipelines.restore(ScoringPipeline(CONFIG).snapshot())


def test_int_and_mixed_keys_are_grouped():
    bank = KeyedPipelines(CONFIG)
    res = bank.process_batch(np.array([3, 1, 3, 2]), np.ones((4, 2)))
    assert list(bank.pipelines) == [3, 1, 2] and all(type(k) is int for k in bank.pipelines)
    assert bank.pipelines[3].n_seen == 2 and len(res.scores) == 4
    mixed = KeyedPipelines(CONFIG)
    mixed.process_batch(np.array(["a", 1, ("t", 2), 1], dtype=object), np.ones((4, 2)))
    assert list(mixed.pipelines) == ["a", 1, ("t", 2)] and mixed.pipelines[1].n_seen == 2


def test_bad_batches_are_rejected():
    bank = KeyedPipelines(CONFIG)
    with pytest.raises(ValueError, match="one row per key"):
        bank.process_batch(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="3 times for 2 rows"):
        bank.process_batch(["a", "b"], np.zeros((2, 2)), times=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        bank.process_batch(np.array([1.0, np.nan]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="max_keys"):
        KeyedPipelines(CONFIG, max_keys=0)
    assert len(bank.process_batch([], np.zeros((0, 2))).scores) == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["p", "q", "r", "s"]), min_size=1, max_size=60), st.integers(1, 4))
def test_any_key_sequence_stays_aligned(keys, cap):
    X = np.arange(len(keys) * 2, dtype=float).reshape(-1, 2)
    bank = KeyedPipelines(CONFIG, max_keys=cap)
    res = bank.process_batch(np.array(keys), X)
    admitted = list(dict.fromkeys(keys))[:cap]
    assert res.rejected.tolist() == [k not in admitted for k in keys]
    assert bank.overflow == int(res.rejected.sum())
    for k in admitted:
        assert bank.pipelines[k].n_seen == keys.count(k)
