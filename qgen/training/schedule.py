"""Learning-rate schedules as objects the trainer drives: each builds a torch scheduler for
an optimizer and says when it moves — after every batch, or after every full epoch with
the validation loss.  Schedules are registered by name, so a training configuration stays
plain JSON (and a checkpoint records which schedule it follows).

* ``cosine``: η(t) = η_min + ½ (η − η_min)(1 + cos(π t / T)) over all T = epochs × steps
  batches, η_min = η/100 (Loshchilov & Hutter, ICLR 2017, without restarts);
* ``plateau``: η halves whenever the validation loss has not improved for 2 epochs;
* ``constant``: η throughout.

Example
-------
>>> import torch
>>> from qgen.training import TrainConfig
>>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
>>> s = get_schedule("cosine")
>>> sched = s.scheduler(opt, TrainConfig(lr=1.0, epochs=1), steps_per_epoch=2)
>>> for _ in range(2):
...     opt.step(); s.after_batch([sched])
>>> round(opt.param_groups[0]["lr"], 6)
0.01
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

if TYPE_CHECKING:
    from qgen.training.config import TrainConfig

__all__ = ["Schedule", "Cosine", "Plateau", "Constant", "SCHEDULES", "get_schedule", "register_schedule"]

Scheduler = Any  # a torch.optim.lr_scheduler object (LRScheduler or ReduceLROnPlateau)


class Schedule:
    """How the learning rate moves.  ``scheduler`` builds the torch scheduler of one
    optimizer (None for none); the trainer calls ``after_batch`` after every optimizer
    step and ``after_epoch`` after every full epoch with its validation loss."""

    name: ClassVar[str]

    def scheduler(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                  steps_per_epoch: int) -> Scheduler | None:
        return None

    def after_batch(self, schedulers: list[Scheduler]) -> None:
        """Move after an optimizer step (nothing by default)."""

    def after_epoch(self, schedulers: list[Scheduler], val_loss: float) -> None:
        """Move after a full epoch, given the validation loss (nothing by default)."""


class Cosine(Schedule):
    """Cosine decay from the peak rate to ``floor`` × peak over the whole run, per batch."""

    name = "cosine"

    def __init__(self, floor: float = 0.01) -> None:
        self.floor = floor

    def scheduler(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                  steps_per_epoch: int) -> Scheduler:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch,
                                                          eta_min=config.lr * self.floor)

    def after_batch(self, schedulers: list[Scheduler]) -> None:
        for s in schedulers:
            s.step()


class Plateau(Schedule):
    """Multiply the rate by ``factor`` when the validation loss stalls for ``patience`` epochs."""

    name = "plateau"

    def __init__(self, factor: float = 0.5, patience: int = 2) -> None:
        self.factor, self.patience = factor, patience

    def scheduler(self, optimizer: torch.optim.Optimizer, config: TrainConfig,
                  steps_per_epoch: int) -> Scheduler:
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=self.factor, patience=self.patience)

    def after_epoch(self, schedulers: list[Scheduler], val_loss: float) -> None:
        for s in schedulers:
            s.step(val_loss)


class Constant(Schedule):
    """The peak rate throughout."""

    name = "constant"


SCHEDULES: dict[str, Schedule] = {}
"""Registered schedules by name (what ``TrainConfig.schedule`` names)."""


def register_schedule(schedule: Schedule) -> Schedule:
    """Make ``schedule`` available to ``TrainConfig(schedule=schedule.name)``."""
    if not getattr(schedule, "name", None) or schedule.name in SCHEDULES:
        raise ValueError(f"a schedule needs a new name, got {getattr(schedule, 'name', None)!r}")
    SCHEDULES[schedule.name] = schedule
    return schedule


for _s in (Cosine(), Plateau(), Constant()):
    register_schedule(_s)


def get_schedule(name: str) -> Schedule:
    """The registered schedule called ``name``."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {str(name)[:40]!r}; choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name]
