"""Training data in memory, in the order the trainer visits it: epoch e visits the
strings in a random order that depends only on (seed, e), and under DDP rank r takes its
share of every global batch.  (:mod:`qgen.training.streaming` is the same for data read
from a file chunk by chunk.)

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
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

import numpy as np
import torch

from qgen.models import GenerativeModel
from qgen.training import distributed

__all__ = ["InMemoryBatches", "as_tensor", "epoch_generator", "fingerprint"]


def fingerprint(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).view(np.uint8).data).hexdigest()


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Shuffling RNG of one epoch, a function of (seed, epoch) only."""
    return torch.Generator().manual_seed(distributed.stream_seed(seed, epoch))


def as_tensor(x: np.ndarray, model: GenerativeModel, what: str) -> torch.Tensor:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != model.n_qubits or len(x) == 0:
        raise ValueError(f"{what} must have shape (n > 0, {model.n_qubits}), got {x.shape}")
    if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= model.n_outcomes:
        raise ValueError(f"{what} must hold integers in 0…{model.n_outcomes - 1}")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8)).to(model.device)


class InMemoryBatches:
    """Batches of strings held in memory: epoch e visits them in a random order that
    depends only on (seed, e); rank r takes its share of every global batch."""

    settings = None  # (a stream's are its buffer and shards)

    def __init__(self, data: torch.Tensor, fingerprint: str, batch_size: int, seed: int,
                 ctx: distributed.Context) -> None:
        self.data, self.fingerprint, self.batch_size, self.seed, self.ctx = data, fingerprint, batch_size, seed, ctx
        self.n_rows = len(data)
        self.steps = math.ceil(self.n_rows / batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, int]]:
        """(this rank's strings as long, global batch size) for batches start … steps−1."""
        perm = torch.randperm(self.n_rows, generator=epoch_generator(self.seed, epoch)).to(self.data.device)
        for b in range(start, self.steps):
            idx = perm[b * self.batch_size : (b + 1) * self.batch_size]
            lo, hi = distributed.share(len(idx), self.ctx)
            yield self.data[idx[lo:hi]].long(), len(idx)

    def close(self) -> None:
        pass
