"""The online torch autoencoder: contract, reproducibility, snapshots, detection."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pynomaly.engine.registry import create_detector, list_detectors, restore_detector

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

from pynomaly.engine.detectors.torch_autoencoder import (  # noqa: E402 (needs torch)
    TorchAutoencoder,
    build_autoencoder,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def low_rank_stream(n: int, seed: int = 4, n_anomalies: int = 0):
    """4 features driven by 2 latent factors; anomalies break the correlation only.

    Each anomaly swaps the sign of the dependent half of the event, so every
    feature keeps its normal marginal distribution.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    X = np.c_[z, z @ np.array([[1.0, 0.6], [-0.6, 1.0]])] + 0.05 * rng.normal(size=(n, 4))
    y = np.zeros(n, dtype=bool)
    if n_anomalies:
        idx = rng.choice(np.arange(n // 2, n), size=n_anomalies, replace=False)
        X[idx, 2:] *= -1.0
        y[idx] = True
    return X, y


def test_registered_and_device_auto():
    assert "torch_autoencoder" in list_detectors()
    det = create_detector("torch_autoencoder")
    det.score_one([0.0, 1.0])
    assert det._device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    net = build_autoencoder(5, (8, 3), "tanh")
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [8, 3, 8, 5]


def test_warmup_scores_zero_and_scores_come_before_learning():
    X, _ = low_rank_stream(300)
    det = create_detector("torch_autoencoder", warmup=64, batch_size=32, device="cpu")
    s = det.score_learn_many(X[:32])
    assert det.score_one(X[0]) == 0.0 and np.all(det.explain_one(X[0]) == 0.0)
    s = np.r_[s, det.score_learn_many(X[32:64])]
    assert np.all(s == 0.0)
    assert np.all(det.explain_one(X[0]) > 0.0)  # 64 events absorbed: warm
    assert det.score_one(X[64]) > 0.0
    det.learn_many(X[64:100])  # 4 events wait in the mini-batch buffer
    probe = det.score_many(X[100:128])  # learns nothing
    np.testing.assert_array_equal(det.score_learn_many(X[100:128]), probe)
    # the mini-batch completed at event 128 changes the scores after it
    assert not np.array_equal(det.score_many(X[100:128]), probe)


def test_event_by_event_equals_batches_and_seed_reproduces():
    X, _ = low_rank_stream(500)
    params = {"warmup": 64, "hidden": (6, 2), "device": "cpu"}
    batched = create_detector("torch_autoencoder", **params).score_learn_many(X)
    single = create_detector("torch_autoencoder", **params)
    one = []
    for x in X:
        one.append(single.score_one(x))
        single.learn_one(x)
    # matrix products may round differently for 1 row and for many rows
    np.testing.assert_allclose(one, batched, rtol=1e-12, atol=1e-15)
    f32 = create_detector("torch_autoencoder", dtype="float32", **params).score_learn_many(X)
    np.testing.assert_allclose(f32, batched, rtol=1e-3, atol=1e-6)
    again = create_detector("torch_autoencoder", **params).score_learn_many(X)
    np.testing.assert_array_equal(again, batched)
    other = create_detector("torch_autoencoder", seed=1, **params).score_learn_many(X)
    assert not np.allclose(other, batched)


def test_score_is_reconstruction_error_of_running_standardised_input():
    X, _ = low_rank_stream(330)
    det = create_detector("torch_autoencoder", batch_size=32, warmup=0, device="cpu")
    det.learn_many(X)  # 10 full mini-batches absorbed, 10 events buffered
    seen = X[:320]
    mean, sd = seen.mean(axis=0), seen.std(axis=0, ddof=1)
    np.testing.assert_allclose(det._mean, mean, rtol=1e-12)
    probe = np.array([[0.3, -1.0, 2.0, 0.1], [9.0, 0.0, 0.0, 0.0]])
    z = np.clip((probe - mean) / sd, -8.0, 8.0)
    with torch.no_grad():
        recon = det._net(torch.tensor(z, dtype=torch.float64)).numpy()
    per_feature = (recon - z) ** 2
    np.testing.assert_allclose(det.score_many(probe), per_feature.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(det.explain_one(probe[0]), per_feature[0], rtol=1e-9)


def test_snapshot_round_trip_gives_identical_subsequent_scores():
    X, _ = low_rank_stream(520)
    det = create_detector("torch_autoencoder", warmup=64, lr=0.01, device="cpu")
    det.score_learn_many(X[:300])  # 300 = 9 mini-batches + 12 buffered events
    blob = det.snapshot()
    restored = restore_detector(blob)
    via_pickle = pickle.loads(pickle.dumps(det))
    a = det.score_learn_many(X[300:])
    np.testing.assert_array_equal(restored.score_learn_many(X[300:]), a)
    np.testing.assert_array_equal(via_pickle.score_learn_many(X[300:]), a)
    # the optimizer state travelled too: a net restored without it would drift apart
    assert (
        restored._opt.state_dict()["state"][0]["step"] == det._opt.state_dict()["state"][0]["step"]
    )


def test_detects_correlation_breaking_anomalies():
    X, y = low_rank_stream(3000, seed=8, n_anomalies=40)
    det = create_detector("torch_autoencoder", hidden=(8, 2), lr=0.01, steps=3, device="cpu")
    s = det.score_learn_many(X)
    assert roc_auc_score(y[1500:], s[1500:]) > 0.95


def test_parameter_validation():
    with pytest.raises(ValueError):
        create_detector("torch_autoencoder", hidden=())
    with pytest.raises(ValueError):
        create_detector("torch_autoencoder", activation="sigmoid")
    assert TorchAutoencoder.name == "torch_autoencoder"


def test_module_raises_module_not_found_without_torch_and_registry_skips_it():
    code = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "try:\n"
        "    import pynomaly.engine.detectors.torch_autoencoder\n"
        "except ModuleNotFoundError as exc:\n"
        "    assert exc.name == 'torch', exc.name\n"
        "else:\n"
        "    raise SystemExit('imported without torch')\n"
        "from pynomaly.engine.registry import list_detectors\n"
        "names = list_detectors()\n"
        "assert 'torch_autoencoder' not in names and 'pyod' in names, names\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
