"""Training settings and results: :class:`TrainConfig` (JSON-serialisable),
:class:`TrainResult`, the data-size-adaptive schedule (:func:`adapt_to_data`), and the
parsers of durations and devices.

Example
-------
>>> TrainConfig(epochs=3, max_time="2m").max_time
120.0
>>> parse_duration("1h30m")
5400.0
>>> adapt_to_data({"batch_size": 500}, {}, 2_700)[1]
'adaptive: 3,000 steps of 135 strings over 150 epochs (patience 38) for 2,700 training strings'
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
    "TrainConfig", "adapt_to_data", "STEP_BUDGET", "MIN_EPOCHS", "MIN_BATCH",
    "TrainResult", "parse_duration", "resolve_device", "AMP_DTYPES", "TRAJECTORY_FIELDS",
    "FORMAT_VERSION", "MODEL_FILE", "CHECKPOINT_FILE", "METRICS_FILE", "CURVE_FILE",
]

MODEL_FILE, CHECKPOINT_FILE = "model.safetensors", "checkpoint.safetensors"
METRICS_FILE, CURVE_FILE = "metrics.jsonl", "training_curve.png"
FORMAT_VERSION = 1
# Settings that shape the optimisation trajectory; a resumed run must keep them.
TRAJECTORY_FIELDS = ("epochs", "batch_size", "lr", "schedule", "weight_decay", "grad_clip", "patience", "seed", "amp")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
STEP_BUDGET, MIN_EPOCHS, MIN_BATCH = 3_000, 4, 100


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
    keep : which weights become ``model.safetensors`` (what ``best()``, ``evaluate`` and
        ``sample`` use): ``"best"``, those of the lowest validation NLL, or ``"last"``, those
        at the end of training (for models that cannot overfit the data, such as the
        positive tensor networks, whose validation NLL is flat within its noise and whose
        lowest value falls on an early, undertrained epoch).
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
    keep: str = "best"
    seed: int = 0
    device: str = "auto"
    max_time: float | None = None
    log_every: int = 20
    num_threads: int | None = None
    amp: str | None = None

    def __post_init__(self) -> None:
        self.max_time = parse_duration(self.max_time)
        get_schedule(self.schedule)
        if self.keep not in ("best", "last"):
            raise ValueError(f"keep must be 'best' or 'last', got {self.keep!r}")
        if self.amp is not None and self.amp not in AMP_DTYPES:
            raise ValueError(f"unknown amp '{self.amp}'; choose one of {', '.join(AMP_DTYPES)} (or none)")
        if self.epochs < 1 or self.batch_size < 1 or not 0 < self.lr < math.inf or self.log_every < 1:
            raise ValueError(f"epochs, batch_size, log_every must be ≥ 1 and lr > 0 finite, got lr = {self.lr}")

    @classmethod
    def from_preset(cls, model: str, preset: str | None = None, n_train: int | None = None,
                    **overrides: Any) -> TrainConfig:
        """Defaults, then the training settings attached to the model preset, then overrides;
        with ``n_train``, what the overrides leave open follows :func:`adapt_to_data`.

        >>> TrainConfig.from_preset("rnn", n_train=2_700).epochs
        150
        """
        fields = training_preset(model, preset)
        if n_train is not None:
            return cls(**adapt_to_data(fields, overrides, n_train)[0])
        fields.pop("steps", None)
        return cls(**(fields | overrides))


def adapt_to_data(preset: dict[str, Any], given: dict[str, Any], n_train: int) -> tuple[dict[str, Any], str]:
    """:class:`TrainConfig` keywords for ``n_train`` training strings, and a one-line note.

    ``given`` (the user's values) always wins; ``preset`` (a model's ``train_presets``
    entry) may fix ``epochs`` and ``patience``, caps the batch with its ``batch_size`` and
    sets the step budget with ``steps`` (default :data:`STEP_BUDGET`).  What is left open
    follows the data rather than a fixed epoch count:

        batch    B = min(B_preset, max(MIN_BATCH, ⌊n/20⌋))     (≥ 20 steps per epoch, B ≥ 100)
        epochs   E = max(MIN_EPOCHS, ⌈steps / ⌈n/B⌉⌉)          (a step budget, ≥ 4 passes)
        patience P = max(5, ⌈E/4⌉)                              (scaled to the epochs)

    and the trainer keeps the best-validation weights (unless the preset says ``keep: last``).  With the former fixed
    defaults (20 epochs of 500, patience 5) 2,000 strings gave 80 optimizer steps; the
    rule gives 3,000 (150 epochs of 134).  Measured (benchmarks/results/tensornet_adaptive.json,
    ``mps``, N = 8, Pauli-6): a budget of 3,000 steps of 100, ≥ 4 epochs, cosine, best
    checkpoint, raised the quantum fidelity of W from 1,000 / 3,000 shots from 0.09 / 0.10
    (10 epochs of 100) to 0.925 / 0.975 and of the cluster state from 0.005 / 0.30 to
    0.931 / 0.978, 41–49 s each; benchmarks/results/quantum_fidelity.json compares the
    default pipeline under this rule with maximum likelihood.  For large data (n ≥ 20 B ·
    steps / 4) the rule is 4 epochs of B_preset.

    >>> fields, note = adapt_to_data({"batch_size": 500, "lr": 3e-3}, {"epochs": 5}, 1_000)
    >>> fields["epochs"], fields["batch_size"], fields["patience"], fields["lr"]
    (5, 100, 5, 0.003)
    >>> note
    'adaptive: batch 100, patience 5 for 1,000 training strings (epochs 5 given)'
    >>> adapt_to_data({}, {}, 1_000_000)[0]["epochs"]
    4
    """
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 1:
        raise ValueError(f"the number of training strings must be an integer ≥ 1, got {n_train!r}")
    fields = {k: v for k, v in preset.items() if k != "steps"} | given
    budget = preset.get("steps", STEP_BUDGET)
    cap = preset.get("batch_size", TrainConfig.batch_size)
    chosen: dict[str, Any] = {}
    if "batch_size" not in given:
        chosen["batch_size"] = min(cap, max(MIN_BATCH, n_train // 20))
    per_epoch = -(-n_train // chosen.get("batch_size", fields.get("batch_size", cap)))
    if "epochs" not in fields:
        chosen["epochs"] = max(MIN_EPOCHS, -(-budget // per_epoch))
    if "patience" not in fields:
        chosen["patience"] = max(5, -(-chosen.get("epochs", fields.get("epochs", TrainConfig.epochs)) // 4))
    fields |= chosen
    kept = ", ".join(f"{k} {fields[k]} {'given' if k in given else 'by the model'}"
                     for k in ("epochs", "batch_size", "patience") if k in fields and k not in chosen)
    if "epochs" in chosen:
        head = f"{fields['epochs'] * per_epoch:,} steps of {fields['batch_size']} strings over {fields['epochs']} " \
               f"epochs" + (f" (patience {chosen['patience']})" if "patience" in chosen else "")
    else:
        head = ", ".join(f"{k.replace('_size', '')} {v}" for k, v in chosen.items())
    note = f"adaptive: {head} for {n_train:,} training strings" + (f" ({kept})" if kept else "")
    return fields, note if chosen else f"fixed: {kept} for {n_train:,} training strings"


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
