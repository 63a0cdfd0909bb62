"""One optimisation step of the trainer: the optimizers (a model's own, or one AdamW), the
learning-rate schedule, and the default step — the loss, under mixed precision if asked,
split over thread shards on the CPU (:mod:`qgen.training.threads`), with gradient
clipping.

Example
-------
>>> from qgen.models import create_model
>>> from qgen.training import TrainConfig
>>> model = create_model("rnn", 3, 4, hidden=8, n_layers=1)
>>> opts = make_optimizers(model, TrainConfig(lr=0.01))
>>> type(opts[0]).__name__, make_scheduler(opts[0], TrainConfig(schedule="constant"), 10)
('AdamW', None)
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from qgen.models import GenerativeModel
from qgen.training import distributed
from qgen.training.config import (
    AMP_DTYPES,
    TrainConfig,
)
from qgen.training.threads import ThreadShards

__all__ = ["MIN_SHARD", "default_step", "make_optimizers", "make_scheduler", "thread_shards"]


def make_optimizers(model: GenerativeModel, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """The model's ``configure_optimizers(cfg)`` if it has one, else one AdamW over all weights."""
    hook = getattr(model, "configure_optimizers", None)
    if hook is not None:
        return hook(cfg)
    return [torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)]


MIN_SHARD = 32
"""Fewest strings per thread shard: below this a step's matrix products are so small that
one thread runs at under 40 % of its speed on 500 strings (default RNN, measured here)."""


def default_step(loss_fn, model: GenerativeModel, x: torch.Tensor, n_global: int,
                  optimizers: list[torch.optim.Optimizer], cfg: TrainConfig, scaler, ctx: distributed.Context,
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


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps, eta_min=cfg.lr / 100)
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    return None


# ---------------------------------------------------------------- the loop



@contextmanager
def thread_shards(model: GenerativeModel, own_step: bool, ctx: distributed.Context,
                   batch_size: int) -> Iterator[ThreadShards | None]:
    """One shard per torch thread (:mod:`qgen.threads`), but no shard under
    ``MIN_SHARD`` strings, with torch itself on one thread, when the model's loss allows
    it on the CPU in one process; else None."""
    k = min(torch.get_num_threads(), batch_size // MIN_SHARD)
    if k < 2 or own_step or ctx.active or model.device.type != "cpu" or not model.shardable_loss:
        yield None
        return
    torch.set_num_threads(1)  # train() restores the caller's setting
    with ThreadShards(k) as shards:
        yield shards
