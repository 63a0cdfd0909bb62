"""Data-parallel training on PyTorch's own engine: ``torch.distributed`` with
``DistributedDataParallel`` (DDP), launched by ``torchrun``.

``torchrun --no-python --nproc-per-node K qgen train DATA -o RUN`` starts K copies of
the same command; torchrun tells each its place through the environment (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``).  The trainer then

* joins the process group (NCCL on CUDA, gloo on CPU) — :func:`setup`;
* wraps the model's loss in DDP, which averages the gradients of all ranks during the
  backward pass — :func:`wrap`;
* gives rank r the slice ``[⌊r·b/K⌋, ⌊(r+1)·b/K⌋)`` of every global batch of b strings —
  :func:`share` — and weights its mean loss by K·b_r/b, so the averaged gradient is the
  gradient of the global batch mean: the same update as one process with the same
  ``batch_size``, up to floating-point summation order;
* sums logged losses, validation losses and stop requests (Ctrl-C, time budget) over the
  ranks — :func:`all_sum` — so every rank takes the same decisions and none waits
  forever in a collective another rank has left; after rank 0 writes a checkpoint all
  ranks wait for it — :func:`barrier` — so a rank that resumes never reads a stale one.

Only rank 0 writes files and shows progress.  Without torchrun (no ``WORLD_SIZE`` or
``WORLD_SIZE=1``) everything here is a no-op and training runs in one process.

Example
-------
>>> ctx = Context()              # one process
>>> ctx.active, ctx.is_main, share(10, ctx)
(False, True, (0, 10))
>>> share(10, Context(rank=1, world_size=3))
(3, 6)
>>> all_sum([1.5, 2.0], ctx).tolist()
[1.5, 2.0]
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = ["Context", "from_env", "setup", "share", "all_sum", "gather", "barrier", "rank_seed", "stream_seed", "wrap"]


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` of ``world_size`` processes, the GPU index
    ``local_rank`` on its node, and ``device``, where collective tensors live (the
    training device for NCCL, the CPU for gloo)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and reports."""
        return self.rank == 0


def from_env() -> Context:
    """The context torchrun describes in ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (one
    process when they are absent)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ValueError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"invalid torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return Context(rank, world, local)


def setup(device: torch.device) -> tuple[Context, torch.device]:
    """Join torchrun's process group (once per process; it stays up for later calls and
    is left at exit) and return the context and the device to train on
    (``cuda:LOCAL_RANK`` when ``device`` is CUDA and several processes run).

    The backend is NCCL for CUDA and gloo for the CPU; one process needs no group."""
    ctx = from_env()
    if not ctx.active:
        return ctx, device
    if device.type == "cuda":
        if ctx.local_rank >= torch.cuda.device_count():
            raise ValueError(f"rank {ctx.rank} needs cuda:{ctx.local_rank}, but this node has "
                             f"{torch.cuda.device_count()} CUDA device(s): start at most that many processes "
                             f"per node, or train on the CPU")
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    ctx = replace(ctx, device=device if device.type == "cuda" else torch.device("cpu"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=ctx.rank, world_size=ctx.world_size)
        atexit.register(dist.destroy_process_group)
    elif dist.get_world_size() != ctx.world_size:
        raise ValueError(f"the process group has {dist.get_world_size()} ranks but WORLD_SIZE={ctx.world_size}")
    elif dist.get_backend() != ("nccl" if device.type == "cuda" else "gloo"):
        raise ValueError(f"this process already trained with the {dist.get_backend()} backend on another device")
    return ctx, device


def share(n: int, ctx: Context) -> tuple[int, int]:
    """This rank's slice [lo, hi) of n items: ``lo = ⌊r·n/K⌋``, ``hi = ⌊(r+1)·n/K⌋``."""
    return n * ctx.rank // ctx.world_size, n * (ctx.rank + 1) // ctx.world_size


def all_sum(values: Sequence[float] | torch.Tensor, ctx: Context) -> torch.Tensor:
    """Element-wise sum over all ranks, in float64 on the CPU (the values themselves when
    one process trains)."""
    t = torch.as_tensor(values, dtype=torch.float64).detach().reshape(-1).to(ctx.device)
    if ctx.active:
        dist.all_reduce(t)
    return t.cpu()


def gather(t: torch.Tensor, ctx: Context) -> list[torch.Tensor]:
    """The same-shaped tensor ``t`` of every rank, in rank order (``[t]`` in one process)."""
    if not ctx.active:
        return [t]
    src = t.detach().to(ctx.device)
    out = [torch.empty_like(src) for _ in range(ctx.world_size)]
    dist.all_gather(out, src.contiguous())
    return [o.to(t.device) for o in out]


def barrier(ctx: Context) -> None:
    """Wait until every rank gets here (e.g. until rank 0 has written a file the others
    will read); nothing in one process."""
    if ctx.active:
        dist.barrier()


def stream_seed(*key: int) -> int:
    """A 32-bit torch seed for the independent stream ``SeedSequence([*key])``, e.g.
    ``(seed, rank)``, ``(seed, epoch)`` or ``(seed, shard)``."""
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0])


def rank_seed(seed: int, rank: int) -> int:
    """Seed of rank r's torch RNG (noise drawn inside a model's loss): ``seed`` itself on
    rank 0, an independent stream ``SeedSequence([seed, r])`` on the others."""
    return seed if rank == 0 else stream_seed(seed, rank)


class _Loss(nn.Module):
    """``forward(x, **kw) = model.loss(x, **kw)``: what DDP wraps, so its gradient hooks see
    the loss."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, **kw: Any) -> torch.Tensor:
        return self.model.loss(x, **kw)


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """A module whose ``forward(x)`` is ``model.loss(x)``; under several processes it is a
    ``DistributedDataParallel`` that averages gradients over the ranks in ``backward``
    (and broadcasts rank 0's weights once, now).  The model itself stays unwrapped for
    sampling, evaluation and saving."""
    module = _Loss(model)
    if not ctx.active:
        return module
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
