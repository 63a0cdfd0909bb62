"""Training data in memory, in the order the trainer visits it: epoch e visits the
strings in a random order that depends only on (seed, e), and under DDP rank r takes its
share of every global batch.  (:mod:`qgen.training.streaming` is the same for data read
from a file chunk by chunk.)

Missing readouts travel with the strings: a masked array (``numpy.ma``, mask = missing)
is held as uint8 with :data:`HOLE` at the missing positions, so the shuffle, the
fingerprint and exact resume cover the mask too, and every batch comes out as long
outcomes with :data:`~qgen.models.MISSING` (−1) there, which ``model.loss`` reads.

Example
-------
>>> import numpy as np
>>> from qgen.models import create_model
>>> from qgen.training.distributed import Context
>>> model = create_model("rnn", 3, 4, hidden=8, n_layers=1)
>>> x = as_tensor(np.zeros((10, 3), np.uint8), model, "strings")
>>> batches = InMemoryBatches(x, fingerprint(x.numpy()), 4, seed=0, ctx=Context())
>>> batches.steps, [len(b) for b, n in batches.epoch(0)]
(3, [4, 4, 2])
>>> holes = np.ma.MaskedArray(np.ones((2, 3), np.uint8), [[0, 1, 0], [0, 0, 0]])
>>> as_long(as_tensor(holes, model, "strings")).tolist()
[[1, -1, 1], [1, 1, 1]]
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

import numpy as np
import torch

from qgen.models import MISSING, GenerativeModel
from qgen.training import distributed

__all__ = ["InMemoryBatches", "as_tensor", "as_long", "fill_holes", "epoch_generator", "fingerprint", "HOLE"]

HOLE = 255
"""A missing readout in the uint8 strings the trainer holds."""


def fingerprint(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).view(np.uint8).data).hexdigest()


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Shuffling RNG of one epoch, a function of (seed, epoch) only."""
    return torch.Generator().manual_seed(distributed.stream_seed(seed, epoch))


def as_tensor(x: np.ndarray, model: GenerativeModel, what: str) -> torch.Tensor:
    """uint8 strings on the model's device, :data:`HOLE` where ``x`` (a masked array) is masked."""
    missing = np.ma.getmaskarray(x) if np.ma.isMaskedArray(x) else None
    x = np.ma.getdata(x) if missing is not None else np.asarray(x)
    if x.ndim != 2 or x.shape[1] != model.n_qubits or len(x) == 0:
        raise ValueError(f"{what} must have shape (n > 0, {model.n_qubits}), got {x.shape}")
    if missing is not None:
        x = np.where(missing, 0, x)
    if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= model.n_outcomes:
        raise ValueError(f"{what} must hold integers in 0…{model.n_outcomes - 1}")
    x = np.ascontiguousarray(x, dtype=np.uint8)
    if missing is not None and missing.any():
        if model.missing_readouts == "none":
            raise ValueError(f"{what} has missing readouts, which model '{model.name}' cannot learn from "
                             "(it has no likelihood): impute them with another model first")
        x[missing] = HOLE
    return torch.from_numpy(x).to(model.device)


def as_long(x: torch.Tensor) -> torch.Tensor:
    """uint8 strings → long, :data:`~qgen.models.MISSING` at :data:`HOLE`."""
    x = x.long()
    return torch.where(x == HOLE, MISSING, x)


def fill_holes(model: GenerativeModel, x: torch.Tensor, generator: torch.Generator | None
               ) -> tuple[torch.Tensor, dict[str, float]]:
    """A batch with :data:`~qgen.models.MISSING` readouts made ready for ``model.loss``
    (``model.missing_readouts``): first ``model.trim_missing`` drops readouts so that no
    string needs more than ``model.completion_limit`` completions; then an ``"exact"``
    model gets the batch as is (its loss is the exact marginal), an ``"imputation"`` one
    the holes filled by a draw from its own conditional (``sample_given``, from
    ``generator``).  Also returns, per string, the fraction of readouts dropped and
    marginalised or imputed, for the training metrics."""
    missing = x < 0
    kind = "missing_marginalised" if model.missing_readouts == "exact" else "missing_imputed"
    if not bool(missing.any()):
        return x, {"missing_dropped": 0.0, kind: 0.0}
    trimmed = model.trim_missing(missing)
    logs = {"missing_dropped": float((trimmed & ~missing).float().mean()), kind: float(trimmed.float().mean())}
    x = torch.where(trimmed, MISSING, x)
    if model.missing_readouts == "exact":
        return x, logs
    with torch.no_grad():
        filled = model.sample_given(x, generator, limit=model.completion_limit)[0]
    return filled, logs


class InMemoryBatches:
    """Batches of strings held in memory: epoch e visits them in a random order that
    depends only on (seed, e); rank r takes its share of every global batch."""

    settings = None  # (a stream's are its buffer and shards)

    def __init__(self, data: torch.Tensor, fingerprint: str, batch_size: int, seed: int,
                 ctx: distributed.Context) -> None:
        self.data, self.fingerprint, self.batch_size, self.seed, self.ctx = data, fingerprint, batch_size, seed, ctx
        self.n_rows = len(data)
        self.has_holes = bool((data == HOLE).any())
        self.steps = math.ceil(self.n_rows / batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, int]]:
        """(this rank's strings as long, global batch size) for batches start … steps−1."""
        perm = torch.randperm(self.n_rows, generator=epoch_generator(self.seed, epoch)).to(self.data.device)
        for b in range(start, self.steps):
            idx = perm[b * self.batch_size : (b + 1) * self.batch_size]
            lo, hi = distributed.share(len(idx), self.ctx)
            yield as_long(self.data[idx[lo:hi]]), len(idx)

    def close(self) -> None:
        pass
