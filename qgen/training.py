"""Maximum-likelihood training of generative models on POVM outcome strings, with
resumable checkpoints that never unpickle anything.

``train`` minimises ``model.loss`` over minibatches (Adam/AdamW, gradient-norm clipping,
learning-rate schedule), evaluates the validation NLL after every epoch, early-stops on
it and writes, atomically, into ``out_dir``:

* ``checkpoint.safetensors`` – latest full training state (weights, optimizer, schedule,
  early-stopping counters, history, RNG state); ``resume=True`` continues from it to
  bit-identical weights, even after a ``max_time`` stop in the middle of an epoch;
* ``model.safetensors`` – the weights with the best validation NLL (read by ``load_model``);
* ``metrics.jsonl`` – one JSON line per epoch; ``training_curve.png`` – NLL against epoch.

Models that are not trained by minimising one loss (adversarial ones) may define two
hooks, used instead of the default single AdamW step on ``model.loss``:

* ``configure_optimizers(config) -> list[torch.optim.Optimizer]``;
* ``training_step(x, optimizers, step, grad_clip) -> dict[str, torch.Tensor]`` – one
  update on batch ``x`` at global step ``step``; the ``"loss"`` entry is logged as
  ``train_nll``, every other entry as ``train_<key>`` (epoch means) in ``metrics.jsonl``.

Every optimizer and its schedule are checkpointed, so resume stays exact.

Scale.  ``train_x`` may be a :class:`qgen.streaming.HDF5Stream` instead of an array:
the training split is then read from its HDF5 file chunk by chunk with bounded memory
(the checkpoint's epoch and batch are the position in the stream).  Under ``torchrun``
the same call trains with ``DistributedDataParallel`` (:mod:`qgen.distributed`): each
rank takes its share of every global batch of ``batch_size`` strings, gradients are
averaged, so the steps equal those of one process up to floating-point order; only rank
0 writes files.  Models with their own ``training_step`` (the GAN) are refused there.
In one process on the CPU, a model with ``shardable_loss`` splits every batch over the
threads instead (:mod:`qgen.threads`), one shard per thread.
``TrainConfig.amp`` runs the default step under ``torch.autocast`` (bf16, or fp16 with a
gradient scaler on CUDA); validation, sampling and checkpoints stay in float32.

All files are safetensors (tensors) with their metadata as JSON in the header.

Example
-------
>>> import numpy as np, tempfile
>>> from qgen.models import create_model
>>> rng = np.random.default_rng(0)
>>> data = rng.choice(4, size=(600, 5), p=[0.5, 0.2, 0.2, 0.1]).astype(np.uint8)
>>> model = create_model("rnn", 5, 4, hidden=16, n_layers=1)
>>> out = Path(tempfile.mkdtemp())
>>> result = train(model, data[:500], data[500:], TrainConfig(epochs=2, batch_size=100),
...                out, progress=False, dataset_info={"povm": "pauli4"})
>>> result.stop_reason, len(result.history)
('epochs', 2)
>>> loaded, info = load_model(out, expect={"n_qubits": 5, "povm": "pauli4"})
>>> info["model"], info["dataset"]["povm"]
('rnn', 'pauli4')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from . import distributed
from ._io import atomic_write
from .models import GenerativeModel, get_model, training_preset
from .streaming import HDF5Stream
from .threads import ThreadShards

__all__ = [
    "TrainConfig", "TrainResult", "train", "save_model", "load_model", "parse_duration",
    "resolve_device", "SCHEDULES", "TrainingInterrupted", "NonFiniteLoss",
]

SCHEDULES = ("cosine", "plateau", "constant")
MODEL_FILE, CHECKPOINT_FILE = "model.safetensors", "checkpoint.safetensors"
METRICS_FILE, CURVE_FILE = "metrics.jsonl", "training_curve.png"
_FORMAT_VERSION = 1
# Settings that shape the optimisation trajectory; a resumed run must keep them.
_TRAJECTORY_FIELDS = ("epochs", "batch_size", "lr", "schedule", "weight_decay", "grad_clip", "patience", "seed", "amp")
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

    schedule : ``"cosine"`` (per step, from lr down to lr/100 over all epochs; default),
        ``"plateau"`` (halve lr when validation NLL stalls for 2 epochs) or ``"constant"``.
    grad_clip : max gradient 2-norm, None to disable.
    patience : epochs without validation improvement before stopping; None disables.
    max_time : wall-clock budget in seconds (strings like ``"2m"`` accepted), counted over
        resumed segments too; checked after every optimizer step.
    log_every : optimizer steps between progress-bar updates.
    num_threads : CPU threads during training; None leaves torch's setting (one per core).
        A model with ``shardable_loss`` (the RNN, the VAE; the transformer without dropout) uses
        them as data parallelism: every batch is split into that many shards, each
        computed on its own thread with one torch thread (:mod:`qgen.threads`): on 2 cores
        the default RNN trains 1.4–1.7× faster than on one here, where torch's own 2
        threads gave 0.9–1.4×.  Results are reproducible for a given number of threads.
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
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule '{self.schedule}'; choose one of {', '.join(SCHEDULES)}")
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
    """Outcome of ``train``: per-epoch ``history`` (dicts with epoch, train_nll, val_nll, lr,
    time, samples_per_s, partial), the best epoch and its validation NLL, why training
    stopped (``"epochs"``, ``"early_stopping"`` or ``"max_time"``) and where files went."""

    history: list[dict[str, Any]]
    best_epoch: int
    best_val_nll: float
    stop_reason: str
    elapsed: float
    out_dir: Path
    model_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.model_path = self.out_dir / MODEL_FILE


# ---------------------------------------------------------------- safe, atomic files


def _write_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"qgen": json.dumps(meta)}))


def _read_tensors(path: Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a qgen safetensors file of the given kind; ValueError for
    anything else (a pickle, a truncated file, another program's file)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["qgen"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as err:
        raise ValueError(f"{path} is not a readable qgen {kind} file ({type(err).__name__}: {err})") from None
    if meta.get("format") != f"qgen-{kind}":
        raise ValueError(f"{path} is a {meta.get('format')!r} file, not a qgen {kind}")
    return tensors, meta


def save_model(path: str | Path, model: GenerativeModel, extra: dict[str, Any] | None = None) -> None:
    """Write ``model``'s weights, registered name and config to a safetensors file, with
    JSON-serialisable ``extra`` metadata; ``extra["dataset"]`` is the dataset identity
    (e.g. ``{"povm": "pauli4"}``) that ``load_model(expect=…)`` checks."""
    meta = {
        "format": "qgen-model", "version": _FORMAT_VERSION, "model": model.name, "config": model.config,
        "n_qubits": model.n_qubits, "n_outcomes": model.n_outcomes, **(extra or {}),
    }
    _write_tensors(Path(path), model.state_dict(), meta)


def _identity(meta: dict[str, Any]) -> dict[str, Any]:
    return {"n_qubits": meta["n_qubits"], "n_outcomes": meta["n_outcomes"], **meta.get("dataset", {})}


def load_model(
    path: str | Path, *, expect: dict[str, Any] | None = None, device: str | torch.device = "cpu"
) -> tuple[GenerativeModel, dict[str, Any]]:
    """Rebuild a model saved by ``save_model`` (or a training directory's best model).

    ``expect`` (e.g. ``{"n_qubits": 50, "povm": "pauli4"}``) is compared with the stored
    dataset identity (n_qubits, n_outcomes and ``extra["dataset"]``); any disagreement raises
    a one-line ``ValueError``.  Returns (model in eval mode, metadata dict).
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    tensors, meta = _read_tensors(path, "model")
    try:
        ident = _identity(meta)
        wrong = {k: v for k, v in (expect or {}).items() if ident.get(k) != v}
        if not wrong:
            model = get_model(meta["model"])(meta["n_qubits"], meta["n_outcomes"], **meta["config"])
            model.load_state_dict(tensors)
    except (KeyError, TypeError, RuntimeError) as err:  # metadata of the wrong shape, weights of another model
        msg = " ".join(str(err).split())[:300]
        raise ValueError(f"{path} does not hold a loadable qgen model ({type(err).__name__}: {msg})") from None
    if wrong:
        got = ", ".join(f"{k}={ident.get(k)!r}" for k in wrong)
        want = ", ".join(f"{k}={v!r}" for k, v in wrong.items())
        raise ValueError(f"model {path} was trained for {got}, but {want} was expected")
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"model {path} has NaN or infinite weights ({', '.join(bad[:3])})")
    return model.to(device).eval(), meta


# ---------------------------------------------------------------- training state


@dataclass
class _State:
    """Everything besides tensors that a resumed run needs (stored as checkpoint JSON)."""

    epoch: int = 0  # current epoch
    batch: int = 0  # next batch within it
    elapsed: float = 0.0
    epoch_loss: float = 0.0  # Σ batch-mean loss × batch size so far this epoch
    epoch_extra: dict[str, float] = field(default_factory=dict)  # the same for training_step's other logs
    epoch_samples: int = 0
    epoch_train_time: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val: float = math.inf  # early-stopping reference (full epochs only)
    bad_epochs: int = 0
    saved_val: float = math.inf  # validation NLL of model.safetensors
    saved_epoch: int = -1
    stop_reason: str | None = None


def _fingerprint(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).view(np.uint8).data).hexdigest()


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Shuffling RNG of one epoch, a function of (seed, epoch) only."""
    return torch.Generator().manual_seed(distributed.stream_seed(seed, epoch))


def _make_optimizers(model: GenerativeModel, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """The model's ``configure_optimizers(cfg)`` if it has one, else one AdamW over all weights."""
    hook = getattr(model, "configure_optimizers", None)
    if hook is not None:
        return hook(cfg)
    return [torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)]


MIN_SHARD = 32
"""Fewest strings per thread shard: below this a step's matrix products are so small that
one thread runs at under 40 % of its speed on 500 strings (default RNN, measured here)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C (SIGINT) once the checkpoint of the interrupted state is saved."""


class NonFiniteLoss(ArithmeticError):
    """The training loss became NaN or infinite; nothing of the bad step was saved."""


@contextmanager
def _deferred_sigint() -> Iterator[dict[str, bool]]:
    """While active, a first SIGINT only sets ``flag["hit"]`` (the loop then stops after the
    current step, saves and raises :class:`TrainingInterrupted`); a second one interrupts
    at once.  Only in the main thread (signals cannot be handled elsewhere)."""
    flag = {"hit": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag["hit"] = True
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _default_step(loss_fn, model: GenerativeModel, x: torch.Tensor, n_global: int,
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


def _make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * steps, eta_min=cfg.lr / 100)
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2)
    return None


def _optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Flatten an optimizer state dict into tensors named ``{prefix}{param id}.{key}`` + JSON."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"{prefix}{pid}.{key}"] = val
            else:
                scalars.setdefault(str(pid), {})[key] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                    prefix: str) -> None:
    state: dict[int, dict[str, Any]] = {int(p): dict(s) for p, s in meta["scalars"].items()}
    for name, val in tensors.items():
        if name.startswith(prefix):
            pid, key = name[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[key] = val
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _save_checkpoint(path: Path, model, opts, scheds, scaler, state: _State, meta: dict[str, Any],
                     ctx: distributed.Context) -> None:
    """Gather every rank's RNG state (collective), then rank 0 writes the checkpoint while
    the others wait."""
    rngs = distributed.gather(torch.get_rng_state(), ctx)
    cuda_rngs = distributed.gather(torch.cuda.get_rng_state(model.device), ctx) if model.device.type == "cuda" else []
    if ctx.is_main:
        _write_checkpoint(path, model, opts, scheds, scaler, state, meta, rngs, cuda_rngs)
    distributed.barrier(ctx)  # the others go on (and may resume from it) once it is complete


def _write_checkpoint(path: Path, model, opts, scheds, scaler, state: _State, meta: dict[str, Any],
                      rngs: list[torch.Tensor], cuda_rngs: list[torch.Tensor]) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_metas = []
    for i, opt in enumerate(opts):
        opt_tensors, opt_meta = _optimizer_tensors(opt, f"optim.{i}.")
        tensors |= opt_tensors
        opt_metas.append(opt_meta)
    for name, states in (("rng.cpu", rngs), ("rng.cuda", cuda_rngs)):
        for rank, rng in enumerate(states):
            tensors[name if rank == 0 else f"{name}.{rank}"] = rng
    meta = meta | {
        "optimizers": opt_metas,
        "schedulers": [sched.state_dict() for sched in scheds],
        "scaler": scaler.state_dict() if scaler else None,
        "state": dataclasses.asdict(state),
    }
    _write_tensors(path, tensors, meta)


def _resume(path: Path, model, opts, scheds, scaler, meta: dict[str, Any], ctx: distributed.Context) -> _State:
    tensors, stored = _read_tensors(path, "checkpoint")
    if (stored["model"], stored["config"]) != (meta["model"], meta["config"]):
        raise ValueError(f"checkpoint {path} holds model {stored['model']} {stored['config']}, "
                         f"not {meta['model']} {meta['config']}")
    for key in ("dataset", "data_sha1", "n_train", "data_order"):
        if stored.get(key) != meta[key]:
            raise ValueError(f"checkpoint {path} was trained on different data ({key}: {stored.get(key)} vs {meta[key]})")
    defaults = dataclasses.asdict(TrainConfig())
    changed = [f"{k}: {stored['train_config'].get(k, defaults[k])} → {meta['train_config'][k]}"
               for k in _TRAJECTORY_FIELDS if stored["train_config"].get(k, defaults[k]) != meta["train_config"][k]]
    if changed:
        raise ValueError(f"cannot resume {path} with changed settings ({'; '.join(changed)})")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    for i, (opt, opt_meta) in enumerate(zip(opts, stored["optimizers"], strict=True)):
        _load_optimizer(opt, tensors, opt_meta, f"optim.{i}.")
    for sched, sched_state in zip(scheds, stored["schedulers"], strict=True):
        sched.load_state_dict(sched_state)
    if scaler and stored.get("scaler"):
        scaler.load_state_dict(stored["scaler"])
    suffix = "" if ctx.rank == 0 else f".{ctx.rank}"
    if f"rng.cpu{suffix}" in tensors:
        torch.set_rng_state(tensors[f"rng.cpu{suffix}"])
    else:  # saved by fewer processes: this rank's noise stream restarts (resume is exact for noise-free losses)
        torch.manual_seed(distributed.rank_seed(meta["train_config"]["seed"], ctx.rank))
    if f"rng.cuda{suffix}" in tensors and model.device.type == "cuda":
        torch.cuda.set_rng_state(tensors[f"rng.cuda{suffix}"], model.device)
    return _State(**stored["state"])


# ---------------------------------------------------------------- outputs


def _write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(h) + "\n" for h in history)
    atomic_write(out_dir / METRICS_FILE, lambda tmp: tmp.write_text(text))


def _plot_curve(out_dir: Path, history: list[dict[str, Any]]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = [h["epoch"] + (h["fraction"] if h["partial"] else 1) for h in history]
    ax.plot(x, [h["train_nll"] for h in history], "o-", label="train")
    ax.plot(x, [h["val_nll"] for h in history], "s-", label="validation")
    if history:
        ax.axvline(x[int(np.argmin([h["val_nll"] for h in history]))], color="grey", ls=":", label="best")
    ax.set(xlabel="epoch", ylabel="NLL per string (nats)")
    ax.legend()
    atomic_write(out_dir / CURVE_FILE, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


# ---------------------------------------------------------------- the loop


def _as_tensor(x: np.ndarray, model: GenerativeModel, what: str) -> torch.Tensor:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != model.n_qubits or len(x) == 0:
        raise ValueError(f"{what} must have shape (n > 0, {model.n_qubits}), got {x.shape}")
    if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= model.n_outcomes:
        raise ValueError(f"{what} must hold integers in 0…{model.n_outcomes - 1}")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8)).to(model.device)


class _InMemory:
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
        perm = torch.randperm(self.n_rows, generator=_epoch_generator(self.seed, epoch)).to(self.data.device)
        for b in range(start, self.steps):
            idx = perm[b * self.batch_size : (b + 1) * self.batch_size]
            lo, hi = distributed.share(len(idx), self.ctx)
            yield self.data[idx[lo:hi]].long(), len(idx)

    def close(self) -> None:
        pass


def _validate(model: GenerativeModel, data: torch.Tensor, batch_size: int, seed: int,
              ctx: distributed.Context, shards: ThreadShards | None = None) -> float:
    """Mean validation loss over all ranks' shares (its chunks on ``shards``' threads when
    given); any randomness it uses is seeded and isolated from training."""
    model.eval()
    devices = [model.device] if model.device.type == "cuda" else []

    def chunk_total(chunk: torch.Tensor) -> float:
        with torch.no_grad():  # grad mode is per thread: set here, where the chunk runs
            return float(model.val_loss(chunk)) * len(chunk)

    if shards is not None:  # at least one chunk per thread
        batch_size = max(1, min(batch_size, -(-len(data) // shards.k)))
    chunks = [chunk for chunk in data.split(batch_size) if len(chunk)]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        total = sum(shards.map(chunk_total, chunks) if shards else map(chunk_total, chunks))
    model.train()
    total, count = distributed.all_sum([total, len(data)], ctx).tolist()
    return total / count


def train(
    model: GenerativeModel,
    train_x: np.ndarray | HDF5Stream,
    val_x: np.ndarray,
    config: TrainConfig | None = None,
    out_dir: str | Path = "run",
    resume: bool = False,
    progress: bool = True,
    dataset_info: dict[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` on outcome strings ``train_x`` (uint8, (n, N), or an
    :class:`~qgen.streaming.HDF5Stream` of a dataset file's training split), early-stopping
    on ``val_x``; write checkpoints, best model, metrics and curve into ``out_dir``.

    Reproducible: the epoch-e order depends only on (seed, e) and the torch RNG is seeded
    with ``config.seed`` at the start (initial weights are the caller's: seed before
    building the model).  ``resume=True`` continues from ``out_dir/checkpoint.safetensors``
    (if present) to exactly the weights of an uninterrupted run; a run that already
    finished (epochs or early stopping) is returned as is.  ``resume=False`` starts afresh
    and overwrites earlier outputs.  ``dataset_info`` (e.g. ``{"povm": "pauli4"}``) is stored
    with the model and checked on resume and by ``load_model(expect=…)``.  Under torchrun
    every process calls ``train`` alike (see the module doc); rank 0 writes the files.
    """
    cfg = config or TrainConfig()
    out_dir = Path(out_dir)
    info = {"n_qubits": model.n_qubits, "n_outcomes": model.n_outcomes} | (dataset_info or {})
    if (info["n_qubits"], info["n_outcomes"]) != (model.n_qubits, model.n_outcomes):
        raise ValueError(f"dataset_info {dataset_info} disagrees with the model's "
                         f"n_qubits={model.n_qubits}, n_outcomes={model.n_outcomes}")
    own_step = getattr(model, "training_step", None) is not None
    if own_step and distributed.from_env().active:
        raise ValueError(f"model '{model.name}' trains with its own training_step (several optimizers), which "
                         "DistributedDataParallel does not synchronise; train it in one process")
    if own_step and cfg.amp:
        raise ValueError(f"model '{model.name}' trains with its own training_step; amp applies to the default step only")
    device = resolve_device(cfg.device)
    if cfg.amp == "fp16" and device.type != "cuda":
        raise ValueError("amp fp16 needs a CUDA device; use bf16 on the CPU")
    out_dir.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        ctx, device = distributed.setup(device)
        model.to(device)
        val = _as_tensor(val_x, model, "val_x")
        lo, hi = distributed.share(len(val), ctx)
        if isinstance(train_x, HDF5Stream):
            if (train_x.n_qubits, train_x.header.povm.n_outcomes) != (model.n_qubits, model.n_outcomes):
                raise ValueError(f"{train_x.path} holds {train_x.n_qubits}-qubit strings with "
                                 f"{train_x.header.povm.n_outcomes} outcomes; the model expects "
                                 f"{model.n_qubits} and {model.n_outcomes}")
            batches = train_x.batches(cfg.batch_size, cfg.seed, ctx, device)
        else:
            fingerprint = _fingerprint(np.asarray(train_x, dtype=np.uint8))
            batches = _InMemory(_as_tensor(train_x, model, "train_x"), fingerprint, cfg.batch_size, cfg.seed, ctx)
        try:
            meta = {
                "format": "qgen-checkpoint", "version": _FORMAT_VERSION, "model": model.name,
                "config": model.config, "dataset": info, "data_sha1": batches.fingerprint,
                "n_train": batches.n_rows, "data_order": batches.settings, "processes": ctx.world_size,
                "train_config": dataclasses.asdict(cfg),
            }
            with _thread_shards(model, own_step, ctx, cfg.batch_size) as shards:
                return _run(model, batches, val[lo:hi], cfg, out_dir, resume, progress, meta, ctx, shards)
        finally:
            batches.close()
    finally:
        torch.set_num_threads(threads)


@contextmanager
def _thread_shards(model: GenerativeModel, own_step: bool, ctx: distributed.Context,
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


def _run(model, batches, val, cfg: TrainConfig, out_dir: Path, resume: bool, progress: bool, meta,
         ctx: distributed.Context, shards: ThreadShards | None) -> TrainResult:
    steps = batches.steps
    opts = _make_optimizers(model, cfg)
    scheds = [s for s in (_make_scheduler(opt, cfg, steps) for opt in opts) if s is not None]
    scaler = torch.amp.GradScaler(model.device.type) if cfg.amp == "fp16" else None
    ckpt = out_dir / CHECKPOINT_FILE
    if resume and ckpt.exists():
        state = _resume(ckpt, model, opts, scheds, scaler, meta, ctx)
        if state.history and state.history[-1]["partial"]:
            state.history.pop()  # the interrupted epoch is completed below
    else:
        torch.manual_seed(distributed.rank_seed(cfg.seed, ctx.rank))
        state = _State()
    own_step = getattr(model, "training_step", None)
    if own_step is None:
        loss_fn = distributed.wrap(model, ctx)  # after resume: DDP broadcasts rank 0's weights here
        step_fn = lambda x, n, step: _default_step(loss_fn, model, x, n, opts, cfg, scaler, ctx, shards)  # noqa: E731
    else:
        step_fn = lambda x, n, step: own_step(x, opts, step, cfg.grad_clip)  # noqa: E731
    model_extra = {"dataset": meta["dataset"], "train_config": meta["train_config"]}
    started = time.perf_counter() - state.elapsed

    def result() -> TrainResult:
        if ctx.is_main:
            _write_metrics(out_dir, state.history)
            _plot_curve(out_dir, state.history)
        distributed.barrier(ctx)
        return TrainResult(state.history, state.saved_epoch, state.saved_val, state.stop_reason or "epochs",
                           state.elapsed, out_dir)

    if state.stop_reason in ("epochs", "early_stopping"):
        return result()
    state.stop_reason = None
    bar = tqdm(total=cfg.epochs * steps, initial=state.epoch * steps + state.batch,
               disable=not (progress and ctx.is_main), unit="batch", dynamic_ncols=True)
    model.train()
    # Stops on epochs, early stopping, max_time or SIGINT (each leaving a checkpoint); a NaN/inf
    # loss raises NonFiniteLoss before anything of that step is saved.  Under DDP every rank's
    # requests are summed with the losses, so all ranks stop at the same step.
    with _deferred_sigint() as sigint:

        def requests() -> list[float]:
            over = cfg.max_time is not None and time.perf_counter() - started >= cfg.max_time
            return [float(sigint["hit"]), float(over)]

        def decide(hits: list[float]) -> str | None:
            return "interrupted" if hits[0] else "max_time" if hits[1] else None

        while state.epoch < cfg.epochs and state.stop_reason is None:
            sums = {"loss": state.epoch_loss} | state.epoch_extra
            t0 = time.perf_counter()
            for x, n_global in batches.epoch(state.epoch, state.batch):
                logs = step_fn(x, n_global, state.epoch * steps + state.batch)
                keys = list(logs)
                local = [float(logs[k]) * len(x) for k in keys]
                *totals, hit_int, hit_time = distributed.all_sum(local + requests(), ctx).tolist()
                if not math.isfinite(totals[0]):
                    raise NonFiniteLoss(
                        f"training loss became {totals[0] / n_global} at epoch {state.epoch}, batch {state.batch}; "
                        f"stopped, the last good checkpoint and best model in {out_dir} are kept (try a lower lr)")
                if cfg.schedule == "cosine":
                    for sched in scheds:
                        sched.step()
                for key, value in zip(keys, totals):
                    sums[key] = sums.get(key, 0.0) + value
                state.epoch_samples += n_global
                state.batch += 1
                bar.update()
                if state.batch % cfg.log_every == 0:
                    bar.set_postfix(epoch=state.epoch, loss=f"{sums['loss'] / state.epoch_samples:.4f}")
                if state.batch < steps and (reason := decide([hit_int, hit_time])):
                    state.stop_reason = reason
                    break
            state.epoch_loss = sums.pop("loss")
            state.epoch_extra = sums
            state.epoch_train_time += time.perf_counter() - t0
            state.elapsed = time.perf_counter() - started
            _end_epoch(model, val, cfg, state, steps, opts, scheds, out_dir, model_extra, ctx, shards)
            if state.stop_reason is None and state.epoch < cfg.epochs:
                state.stop_reason = decide(distributed.all_sum(requests(), ctx).tolist())
            state.elapsed = time.perf_counter() - started
            if state.stop_reason is None and state.epoch >= cfg.epochs:
                state.stop_reason = "epochs"
            _save_checkpoint(out_dir / CHECKPOINT_FILE, model, opts, scheds, scaler, state, meta, ctx)
            if ctx.is_main:
                _write_metrics(out_dir, state.history)
            bar.set_postfix(epoch=state.history[-1]["epoch"], train=f"{state.history[-1]['train_nll']:.4f}",
                            val=f"{state.history[-1]['val_nll']:.4f}")
    bar.close()
    if state.stop_reason == "interrupted":
        raise TrainingInterrupted(f"training interrupted; checkpoint saved in {out_dir}, continue with resume")
    return result()


def _end_epoch(model, val, cfg: TrainConfig, state: _State, steps: int, opts, scheds, out_dir: Path, extra,
               ctx: distributed.Context, shards: ThreadShards | None) -> None:
    """Validate, log, update best model, early stopping and plateau schedule; advance the
    epoch counter unless the epoch was cut short by ``max_time``."""
    partial = state.batch < steps
    val_nll = _validate(model, val, 4 * cfg.batch_size, cfg.seed, ctx, shards)
    state.history.append({
        "epoch": state.epoch, "train_nll": state.epoch_loss / max(state.epoch_samples, 1), "val_nll": val_nll,
        "lr": opts[0].param_groups[0]["lr"], "time": state.elapsed,
        "samples_per_s": state.epoch_samples / max(state.epoch_train_time, 1e-9),
        "partial": partial, "fraction": state.batch / steps,
    } | {f"train_{k}": v / max(state.epoch_samples, 1) for k, v in state.epoch_extra.items()})
    if val_nll < state.saved_val:
        state.saved_val, state.saved_epoch = val_nll, state.epoch
        if ctx.is_main:
            save_model(out_dir / MODEL_FILE, model, extra | {"epoch": state.epoch, "val_nll": val_nll})
    if partial:
        return
    if val_nll < state.best_val:
        state.best_val, state.bad_epochs = val_nll, 0
    else:
        state.bad_epochs += 1
        if cfg.patience and state.bad_epochs >= cfg.patience:
            state.stop_reason = "early_stopping"
    if cfg.schedule == "plateau":
        for sched in scheds:
            sched.step(val_nll)
    state.epoch, state.batch = state.epoch + 1, 0
    state.epoch_loss, state.epoch_extra, state.epoch_samples, state.epoch_train_time = 0.0, {}, 0, 0.0
