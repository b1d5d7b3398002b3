"""A pipeline's explanations are on the detector state each flagged row was
scored with: the same events in batches of any size give the same outputs."""

import numpy as np
import pytest

from pynomaly.engine import create_detector
from pynomaly.engine.pipeline import ScoringPipeline

CONFIGS = {
    "zscore": {"detector": "robust_zscore", "warmup": 30,
               "threshold": {"kind": "probability", "level": 0.98}},
    "hst": {"detector": {"name": "hst", "params": {"n_trees": 8, "height": 5,
                                                   "window_size": 40, "seed": 3}},
            "warmup": 80, "threshold": {"kind": "probability", "level": 0.95}},
    "loda_protect": {"detector": {"name": "loda", "params": {"seed": 1}}, "warmup": 50,
                     "protect": True, "threshold": {"kind": "probability", "level": 0.97}},
    "zscore_drift_reset": {"detector": "robust_zscore", "warmup": 30,
                           "threshold": {"kind": "probability", "level": 0.98},
                           "drift": [{"monitor": "page_hinkley", "stream": "score"}],
                           "drift_policy": "reset"},
}


def _events(n=900, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    hits = rng.random(n) < 0.04
    X[hits, rng.integers(0, 3, hits.sum())] += rng.choice([-1.0, 1.0], hits.sum()) * 6.0
    X[600:] += 2.5  # a level shift (drift)
    return X


def _run(config, X, sizes):
    pipe = ScoringPipeline(config)
    flags, expl, cut = [], {}, 0
    for size in sizes:
        res = pipe.process_many(X[cut:cut + size])
        flags += (cut + np.flatnonzero(res.is_anomaly)).tolist()
        expl.update({cut + r: e.tolist() for r, e in res.explanations.items()})
        cut += size
    assert cut == len(X)
    return flags, expl


@pytest.mark.parametrize("name", list(CONFIGS))
def test_explanations_do_not_depend_on_the_batching(name):
    X = _events()
    whole = _run(CONFIGS[name], X, [len(X)])
    assert len(whole[0]) >= 5 and set(whole[1]) == set(whole[0])
    rng = np.random.default_rng(1)
    uneven = rng.integers(1, 60, 100)
    uneven = uneven[np.cumsum(uneven) <= len(X)].tolist()
    uneven.append(len(X) - sum(uneven))
    assert _run(CONFIGS[name], X, [1] * len(X)) == whole
    assert _run(CONFIGS[name], X, uneven) == whole


def test_an_explanation_is_on_the_state_before_its_row():
    X = _events()
    pipe = ScoringPipeline(CONFIGS["zscore"])
    res = pipe.process_many(X)
    twin = create_detector("robust_zscore")
    rows = sorted(res.explanations)
    done = 0
    for r in rows:
        twin.learn_many(X[done:r])
        done = r
        contrib = np.abs(twin.explain_one(X[r]))
        assert np.array_equal(res.explanations[r], contrib / contrib.sum())
