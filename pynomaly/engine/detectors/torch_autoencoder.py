"""Online autoencoder in torch: score = reconstruction error of standardised input.

A small MLP (``d -> hidden... -> hidden[-1] -> ...hidden -> d``, mirrored
decoder) learns to reproduce events after a running standardisation. Events
that break the structure the network has learned reconstruct badly; the score
is the mean squared reconstruction error over features, and
:meth:`~pynomaly.engine.base.Detector.explain_one` returns the per-feature
squared errors.

Learning is by mini-batches: learned events are buffered, and every
``batch_size`` events the running mean/variance absorb the buffer (Chan et al.
parallel update) and the network takes ``steps`` Adam steps on it (inputs
clipped to ``±clip_z`` standard deviations). State therefore changes only at
mini-batch boundaries: each event is scored by the network and scaler as they
stand after all complete mini-batches before it, whether events arrive one by
one or in batches of any size. Scores are 0 until ``warmup`` events have been
absorbed.

Runs on the CPU by default (``device="auto"`` picks CUDA when available), in
float64 by default: the network is small, so precision costs little, and
rows then score the same (to ~1e-15) alone or in batches of any size; with
``dtype="float32"`` the rounding of matrix products can differ by batch shape
at ~1e-7.
Weights are initialised under ``seed`` without touching the global torch RNG,
and nothing else is random, so CPU runs are reproducible. The snapshot state
is the ``torch.save`` bytes of the network and optimizer ``state_dict`` plus
the scaler and the buffered events (all tensors, loaded with
``weights_only=True``).

torch is an optional dependency (``pip install "pynomaly-stream[torch]"``);
without it this module raises ``ModuleNotFoundError`` on import and the
registry skips it.

Example
-------
>>> import numpy as np, torch
>>> from pynomaly.engine import create_detector
>>> det = create_detector("torch_autoencoder", hidden=(8, 2), lr=0.01, warmup=64)
>>> rng = np.random.default_rng(0)
>>> z = rng.normal(size=(1200, 2))
>>> X = np.c_[z, z @ [[1.0, 0.5], [-0.5, 1.0]]] + 0.05 * rng.normal(size=(1200, 4))
>>> s = det.score_learn_many(X)
>>> bool(np.all(s[:64] == 0.0))
True
>>> normal, odd = det.score_one(X[0]), det.score_one([1.0, 1.0, -2.0, 2.0])
>>> bool(odd > 10 * normal)
True
>>> int(np.argmax(det.explain_one([0.0, 0.0, 0.0, 3.0])))
3

References
----------
Chan, T. F., Golub, G. H., LeVeque, R. J. (1979). Updating formulae and a pairwise
algorithm for computing sample variances. Stanford CS report STAN-CS-79-773.
"""

from __future__ import annotations

import io
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from pynomaly.engine.base import Detector, DetectorParams
from pynomaly.engine.registry import register

EPS = 1e-12
_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


class TorchAutoencoderParams(DetectorParams):
    hidden: tuple[int, ...] = Field(
        (16, 4), min_length=1, description="encoder layer widths; the decoder mirrors them"
    )
    activation: Literal["tanh", "relu", "gelu"] = "tanh"
    lr: float = Field(3e-3, gt=0.0, description="Adam learning rate")
    batch_size: int = Field(32, ge=1, description="events per mini-batch update")
    steps: int = Field(1, ge=1, description="Adam steps per mini-batch")
    warmup: int = Field(128, ge=0, description="events absorbed before scores are non-zero")
    clip_z: float = Field(8.0, gt=0.0, description="standardised inputs are clipped to ±clip_z")
    device: str = Field("auto", description='"auto" (CUDA when present), "cpu", "cuda", ...')
    dtype: Literal["float64", "float32"] = Field(
        "float64", description="float64: paths agree to ~1e-15; float32: faster on GPUs"
    )
    seed: int = Field(0, description="weight initialisation seed")


def build_autoencoder(n_features: int, hidden: tuple[int, ...], activation: str) -> nn.Sequential:
    """The mirrored MLP ``d -> hidden -> reversed(hidden[:-1]) -> d``."""
    sizes = [n_features, *hidden, *reversed(hidden[:-1]), n_features]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@register
class TorchAutoencoder(Detector):
    """Online MLP autoencoder; see the module docstring."""

    name = "torch_autoencoder"
    Params = TorchAutoencoderParams
    params: TorchAutoencoderParams

    def _reset(self, n_features: int) -> None:
        p = self.params
        self._device = _device(p.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p.seed)
            self._net = build_autoencoder(n_features, p.hidden, p.activation)
        self._dtype = torch.float64 if p.dtype == "float64" else torch.float32
        self._net.to(self._device, self._dtype)
        self._opt = torch.optim.Adam(self._net.parameters(), lr=p.lr)
        self._count = 0
        self._mean = np.zeros(n_features)
        self._m2 = np.zeros(n_features)
        self._pending = np.empty((p.batch_size, n_features))
        self._n_pending = 0

    # -- scaler ----------------------------------------------------------
    def _absorb(self, B: np.ndarray) -> None:
        """Merge the batch ``B`` into the running mean and sum of squares."""
        n_b = B.shape[0]
        mean_b = B.mean(axis=0)
        m2_b = ((B - mean_b) ** 2).sum(axis=0)
        total = self._count + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / total)
        self._m2 = self._m2 + m2_b + delta**2 * (self._count * n_b / total)
        self._count = total

    def _standardise(self, X: np.ndarray) -> torch.Tensor:
        var = self._m2 / max(self._count - 1, 1) if self._count > 1 else np.ones_like(self._m2)
        z = (X - self._mean) / np.sqrt(var + EPS)
        np.clip(z, -self.params.clip_z, self.params.clip_z, out=z)
        return torch.from_numpy(z).to(self._device, self._dtype)

    # -- network -----------------------------------------------------------
    def _update(self, B: np.ndarray) -> None:
        self._absorb(B)
        z = self._standardise(B)
        self._net.train()
        for _ in range(self.params.steps):
            self._opt.zero_grad(set_to_none=True)
            loss = torch.mean((self._net(z) - z) ** 2)
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it untyped
            self._opt.step()

    def _errors(self, X: np.ndarray) -> np.ndarray:
        """Per-feature squared reconstruction errors, shape ``X.shape``."""
        z = self._standardise(X)
        self._net.eval()
        with torch.no_grad():
            err = (self._net(z) - z) ** 2
        return np.asarray(err.double().cpu().numpy())

    # -- contract ------------------------------------------------------------
    def _score_rows(self, X: np.ndarray) -> np.ndarray:
        if self._count < self.params.warmup or X.shape[0] == 0:
            return np.zeros(X.shape[0])
        return np.asarray(self._errors(X).mean(axis=1))

    def _score_learn(self, X: np.ndarray, learn: bool) -> np.ndarray:
        if not learn:
            return self._score_rows(X)
        out = np.empty(X.shape[0])
        bs = self.params.batch_size
        i = 0
        while i < X.shape[0]:
            j = min(X.shape[0], i + bs - self._n_pending)
            out[i:j] = self._score_rows(X[i:j])
            self._pending[self._n_pending : self._n_pending + j - i] = X[i:j]
            self._n_pending += j - i
            if self._n_pending == bs:
                self._update(self._pending)
                self._n_pending = 0
            i = j
        return out

    def _explain(self, x: np.ndarray) -> np.ndarray:
        if self._count < self.params.warmup:
            return np.zeros(x.shape[0])  # as the score: nothing to attribute yet
        return np.asarray(self._errors(x.reshape(1, -1))[0])

    def _get_state(self) -> dict[str, Any]:
        buf = io.BytesIO()
        torch.save(
            {
                "net": self._net.state_dict(),
                "opt": self._opt.state_dict(),
                "count": self._count,
                "mean": torch.from_numpy(self._mean.copy()),
                "m2": torch.from_numpy(self._m2.copy()),
                "pending": torch.from_numpy(self._pending[: self._n_pending].copy()),
            },
            buf,
        )
        return {"torch": buf.getvalue()}

    def _set_state(self, state: dict[str, Any], version: int) -> None:
        blob = torch.load(io.BytesIO(state["torch"]), map_location=self._device, weights_only=True)
        self._net.load_state_dict(blob["net"])
        self._opt.load_state_dict(blob["opt"])
        self._count = int(blob["count"])
        self._mean = blob["mean"].cpu().numpy().astype(np.float64)
        self._m2 = blob["m2"].cpu().numpy().astype(np.float64)
        pending = blob["pending"].cpu().numpy()
        self._n_pending = pending.shape[0]
        self._pending[: self._n_pending] = pending
