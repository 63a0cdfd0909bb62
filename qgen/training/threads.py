"""Data parallelism over threads inside one process, for CPU training of models whose
loss is a mean of per-string terms that draws its random numbers, if any, from a
generator it is given (``GenerativeModel.shardable_loss``: the RNN, the VAE, and the
transformer without dropout).

The matrix products of a small autoregressive network are too small for torch's own
intra-op threads: one step of the default RNN multiplies 500 × 64 by 64 × 192, and 2
torch threads train it little faster than 1.
:class:`ThreadShards` instead splits every batch into K contiguous shards and computes
the loss and the gradients of each on its own thread, every thread with one torch
thread: torch operators release the GIL and the backward pass runs in C++, so the K
shards run side by side (measured speed-ups: benchmarks/bench_scale.py, section
``plain``, and the documentation's benchmark pages).  The gradients are summed in shard order, and shard s draws its
random numbers from its own generator, seeded with ``SeedSequence([seed, s])``, so a run
is reproducible for a given K.  A step of a loss without random numbers equals the
one-thread step on the whole batch up to floating-point summation order.

Example
-------
>>> import torch
>>> from qgen.models import create_model
>>> model = create_model("rnn", 6, 4, hidden=8, n_layers=1)
>>> x = torch.randint(4, (10, 6), generator=torch.Generator().manual_seed(0))
>>> with ThreadShards(2) as shards:
...     loss = shards.backward(model.loss, x, list(model.parameters()))
>>> g = [p.grad.clone() for p in model.parameters()]
>>> model.zero_grad(); model.loss(x).backward()
>>> torch.allclose(loss, model.loss(x)) and all(torch.allclose(a, p.grad, atol=1e-6)
...                                            for a, p in zip(g, model.parameters()))
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Self, TypeVar

import torch

from qgen.training.distributed import stream_seed

__all__ = ["ThreadShards"]

T = TypeVar("T")
R = TypeVar("R")


class ThreadShards:
    """A pool of ``k`` threads that splits batches into ``k`` shards (use as a context
    manager, or call :meth:`close`).  Set torch to one thread while it runs
    (``torch.set_num_threads(1)``): the shards are the parallelism."""

    def __init__(self, k: int) -> None:
        if k < 2:
            raise ValueError(f"ThreadShards needs k ≥ 2 threads, got {k}")
        self.k = k
        self._pool = ThreadPoolExecutor(k, thread_name_prefix="qgen-shard")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) for item in items]`` computed on the pool, in order.  Grad mode and
        autocast are per thread in torch: ``fn`` sets what it needs."""
        return list(self._pool.map(fn, items))

    def backward(self, loss_fn: Callable[..., torch.Tensor], x: torch.Tensor, params: list[torch.Tensor],
                 scale: float = 1.0, amp: torch.dtype | None = None, seed: int = 0) -> torch.Tensor:
        """The mean loss L over the batch ``x`` (a detached float32 scalar), with
        ∇(scale·L) added to each parameter's ``.grad``.

        ``loss_fn(shard, generator=g)`` must be the mean of per-string terms, so that
        L = Σ_s (n_s / n) loss_fn(shard_s, g_s), and draw its random numbers from ``g``
        (g_s seeded with ``SeedSequence([seed, s])``); ``amp`` runs it under CPU autocast."""
        n = len(x)

        def shard(job: tuple[int, torch.Tensor]) -> tuple[torch.Tensor, tuple]:
            s, xs = job
            generator = torch.Generator().manual_seed(stream_seed(seed, s))
            with torch.enable_grad(), torch.autocast("cpu", dtype=amp, enabled=amp is not None):
                loss = loss_fn(xs, generator=generator).float()
            return loss.detach() * (len(xs) / n), torch.autograd.grad(loss * (scale * len(xs) / n), params,
                                                                       allow_unused=True)

        losses, grads = zip(*self.map(shard, enumerate(x.chunk(self.k))))
        for p, gs in zip(params, zip(*grads)):
            for g in gs:
                if g is not None:
                    p.grad = g if p.grad is None else p.grad.add_(g)
        return torch.stack(losses).sum()
