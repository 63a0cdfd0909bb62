"""Training settings and results: :class:`TrainConfig` (JSON-serialisable),
:class:`TrainResult`, and the parsers of durations and devices.

Example
-------
>>> TrainConfig(epochs=3, max_time="2m").max_time
120.0
>>> parse_duration("1h30m")
5400.0
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from qgen.models import training_preset
from qgen.training.schedule import get_schedule

__all__ = [
    "TrainConfig", "TrainResult", "parse_duration", "resolve_device", "AMP_DTYPES", "TRAJECTORY_FIELDS",
    "FORMAT_VERSION", "MODEL_FILE", "CHECKPOINT_FILE", "METRICS_FILE", "CURVE_FILE",
]

MODEL_FILE, CHECKPOINT_FILE = "model.safetensors", "checkpoint.safetensors"
METRICS_FILE, CURVE_FILE = "metrics.jsonl", "training_curve.png"
FORMAT_VERSION = 1
# Settings that shape the optimisation trajectory; a resumed run must keep them.
TRAJECTORY_FIELDS = ("epochs", "batch_size", "lr", "schedule", "weight_decay", "grad_clip", "patience", "seed", "amp")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from a number or a string such as ``"90"``, ``"90s"``, ``"2m"``, ``"1h30m"``,
    ``"1.5h"``; None stays None.

    >>> parse_duration("1h30m"), parse_duration("90s"), parse_duration(2.5)
    (5400.0, 90.0, 2.5)
    """
    if value is None or isinstance(value, (int, float)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValueError(f"duration must be a non-negative number of seconds, got {value}")
        return None if value is None else float(value)
    text = value.strip().lower()
    match = re.fullmatch(r"(\d*\.?\d+)|(?:(\d*\.?\d+)h)?\s*(?:(\d*\.?\d+)m)?\s*(?:(\d*\.?\d+)s)?", text)
    if not text or match is None:
        raise ValueError(f"cannot parse duration {value!r}; use e.g. '90s', '2m', '1h30m' or seconds")
    bare, h, m, sec = (float(g) if g else 0.0 for g in match.groups())
    return bare + 3600 * h + 60 * m + sec


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else as ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class TrainConfig:
    """Training settings (JSON-serialisable via ``dataclasses.asdict``).

    schedule : name of a registered :class:`qgen.training.schedule.Schedule`: ``"cosine"``
        (per step, from lr down to lr/100 over all epochs; default), ``"plateau"`` (halve
        lr when the validation loss stalls for 2 epochs) or ``"constant"``.
    grad_clip : max gradient 2-norm, None to disable.
    patience : epochs without validation improvement before stopping; None disables.
    max_time : wall-clock budget in seconds (strings like ``"2m"`` accepted), counted over
        resumed segments too; checked after every optimizer step.
    log_every : optimizer steps between progress-bar updates.
    num_threads : CPU threads during training; None leaves torch's setting (one per core).
        A model with ``shardable_loss`` (the RNN, the VAE; the transformer without dropout) uses
        them as data parallelism: every batch is split into that many shards, each
        computed on its own thread with one torch thread (:mod:`qgen.threads`; speed-ups:
        benchmarks/bench_scale.py, section ``plain``).  Results are reproducible for a given number of threads.
    amp : mixed precision of the training step: None (float32), ``"bf16"`` (CPU or CUDA)
        or ``"fp16"`` (CUDA, with a gradient scaler).

    >>> TrainConfig.from_preset("rnn", "paper", epochs=3).schedule
    'constant'
    """

    epochs: int = 20
    batch_size: int = 500
    lr: float = 1e-3
    schedule: str = "cosine"
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    patience: int | None = 5
    seed: int = 0
    device: str = "auto"
    max_time: float | None = None
    log_every: int = 20
    num_threads: int | None = None
    amp: str | None = None

    def __post_init__(self) -> None:
        self.max_time = parse_duration(self.max_time)
        get_schedule(self.schedule)
        if self.amp is not None and self.amp not in AMP_DTYPES:
            raise ValueError(f"unknown amp '{self.amp}'; choose one of {', '.join(AMP_DTYPES)} (or none)")
        if self.epochs < 1 or self.batch_size < 1 or not 0 < self.lr < math.inf or self.log_every < 1:
            raise ValueError(f"epochs, batch_size, log_every must be ≥ 1 and lr > 0 finite, got lr = {self.lr}")

    @classmethod
    def from_preset(cls, model: str, preset: str | None = None, **overrides: Any) -> TrainConfig:
        """Defaults, then the training settings attached to the model preset, then overrides."""
        return cls(**(training_preset(model, preset) | overrides))


@dataclass
class TrainResult:
    """Outcome of ``train``: per-epoch ``history`` (dicts with epoch, ``train_<loss_name>``,
    ``val_<val_name>``, lr, time, samples_per_s, partial), the best epoch and its
    validation loss ``best_val`` (the model's ``val_name``: the NLL for most models), why
    training stopped (``"epochs"``, ``"early_stopping"`` or ``"max_time"``) and where files
    went."""

    history: list[dict[str, Any]]
    best_epoch: int
    best_val: float
    stop_reason: str
    elapsed: float
    out_dir: Path
    model_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.model_path = self.out_dir / MODEL_FILE
