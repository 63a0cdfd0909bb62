"""One optimisation step of the trainer, the default one: the loss, under mixed precision
if asked,
split over thread shards on the CPU (:mod:`qgen.training.threads`), with gradient
clipping.

Example
-------
>>> from qgen.models import create_model
>>> import torch
>>> from qgen.training import TrainConfig
>>> from qgen.training.distributed import Context
>>> model = create_model("rnn", 3, 4, hidden=8, n_layers=1)
>>> x = torch.zeros((8, 3), dtype=torch.long)
>>> opts = model.configure_optimizers(TrainConfig(lr=0.01))
>>> logs = default_step(model.loss, model, x, 8, opts, TrainConfig(), None, Context(), None)
>>> sorted(logs)
['loss']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from qgen.models import GenerativeModel
from qgen.training import distributed
from qgen.training.config import (
    AMP_DTYPES,
    TrainConfig,
)
from qgen.training.threads import ThreadShards

__all__ = ["MIN_SHARD", "default_step", "thread_shards"]


MIN_SHARD = 32
"""Fewest strings per thread shard: below this a step's matrix products are so small that
one thread runs at under 40 % of its speed on 500 strings (default RNN, measured here)."""


def default_step(loss_fn: Callable[..., torch.Tensor], model: GenerativeModel, x: torch.Tensor, n_global: int,
                  optimizers: list[torch.optim.Optimizer], cfg: TrainConfig, scaler: torch.amp.GradScaler | None,
                  ctx: distributed.Context,
                  shards: ThreadShards | None) -> dict[str, torch.Tensor]:
    """One gradient step on ``loss_fn(x) = model.loss(x)`` (the trainer's step for models
    without ``training_step``), on ``shards``' threads when given.  ``x`` is this rank's
    share of a global batch of ``n_global`` strings; its mean loss is weighted by
    K·len(x)/n_global so that DDP's gradient average over K ranks is the gradient of the
    global mean."""
    (opt,) = optimizers
    weight = ctx.world_size * len(x) / n_global
    if len(x) == 0:  # nothing here this step: a zero-weight pass keeps the ranks' collectives in step
        x = torch.zeros((1, model.n_qubits), dtype=torch.long, device=x.device)
    opt.zero_grad(set_to_none=True)
    if shards is not None:
        params = [p for p in model.parameters() if p.requires_grad]
        seed = int(torch.randint(2**62, ()))  # from the global RNG, which checkpoints keep
        loss = shards.backward(loss_fn, x, params, weight, AMP_DTYPES.get(cfg.amp), seed)
    else:
        with torch.autocast(x.device.type, dtype=AMP_DTYPES.get(cfg.amp), enabled=cfg.amp is not None):
            loss = loss_fn(x).float()
        scaled = loss * weight if weight != 1 else loss
        (scaler.scale(scaled) if scaler else scaled).backward()
    if scaler:
        scaler.unscale_(opt)
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    if scaler:
        scaler.step(opt)
        scaler.update()
    else:
        opt.step()
    return {"loss": loss.detach() if weight else torch.zeros((), device=x.device)}


@contextmanager
def thread_shards(model: GenerativeModel, ctx: distributed.Context,
                   batch_size: int) -> Iterator[ThreadShards | None]:
    """One shard per torch thread (:mod:`qgen.threads`), but no shard under
    ``MIN_SHARD`` strings, with torch itself on one thread, when the model's loss allows
    it on the CPU in one process; else None."""
    k = min(torch.get_num_threads(), batch_size // MIN_SHARD)
    if k < 2 or model.own_training_step or ctx.active or model.device.type != "cpu" or not model.shardable_loss:
        yield None
        return
    torch.set_num_threads(1)  # train() restores the caller's setting
    with ThreadShards(k) as shards:
        yield shards
