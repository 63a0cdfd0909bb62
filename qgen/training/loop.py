"""Maximum-likelihood training of generative models on POVM outcome strings, with
resumable checkpoints that never unpickle anything.

``train`` minimises ``model.loss`` over minibatches (AdamW, gradient-norm clipping,
learning-rate schedule), evaluates the validation loss (the NLL for models with a
likelihood) after every epoch, early-stops on it and writes, atomically, into ``out_dir``:

* ``checkpoint.safetensors`` – latest full training state (weights, optimizer, schedule,
  early-stopping counters, history, RNG state); ``resume=True`` continues from it to
  bit-identical weights, even after a ``max_time`` stop in the middle of an epoch;
* ``model.safetensors`` – the weights with the best validation NLL, or the last ones with
  ``keep="last"`` (read by ``load_model``);
* ``metrics.jsonl`` – one JSON line per epoch; ``training_curve.png`` – losses against epoch.

The loop is the trainer's; what a model brings is declared on
:class:`~qgen.models.GenerativeModel`: its optimizers (``configure_optimizers``), or its
own step (``own_training_step``, e.g. the GAN's two optimizers), and the names of what its
losses are.  The learning-rate schedule is a :class:`~qgen.training.schedule.Schedule`;
:class:`~qgen.training.callbacks.Callback` objects run after every epoch — the metrics log
and the curve plot always, others as given.  Every optimizer and its schedule are
checkpointed, so resume stays exact.

Scale.  ``train_x`` may be a :class:`qgen.training.streaming.HDF5Stream` instead of an array:
the training split is then read from its HDF5 file chunk by chunk with bounded memory
(the checkpoint's epoch and batch are the position in the stream).  Under ``torchrun``
the same call trains with ``DistributedDataParallel`` (:mod:`qgen.training.distributed`): each
rank takes its share of every global batch of ``batch_size`` strings, gradients are
averaged, so the steps equal those of one process up to floating-point order; only rank
0 writes files.  Models with their own training step (the GAN) are refused there.
In one process on the CPU, a model with ``shardable_loss`` splits every batch over the
threads instead (:mod:`qgen.training.threads`), one shard per thread.

Missing readouts.  ``train_x`` and ``val_x`` may be masked arrays (``numpy.ma``, mask =
missing readout; a stream reads the file's ``/missing``).  Every batch is made ready by
:func:`~qgen.training.batches.fill_holes`: a model whose ``missing_readouts`` is
``"exact"`` trains on the exact marginal likelihood of the readouts it has, an
``"imputation"`` one on its own conditional draws for the holes, seeded by (seed, rank,
step) so resume stays exact, and the metrics say which (``train_missing_marginalised``
or ``train_missing_imputed``: the fraction of readouts concerned; ``train_missing_dropped``
those dropped to bound the enumeration).  The validation holes are treated alike (the
imputation with a fixed seed).
``TrainConfig.amp`` runs the default step under ``torch.autocast`` (bf16, or fp16 with a
gradient scaler on CUDA); validation, sampling and checkpoints stay in float32.

All files are safetensors (tensors) with their metadata as JSON in the header.

Example
-------
>>> import numpy as np, tempfile
>>> from qgen.models import create_model
>>> from qgen.training import TrainConfig, load_model
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
import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from qgen.measurements.povm import POVM
from qgen.models import GenerativeModel
from qgen.training import distributed
from qgen.training.batches import InMemoryBatches, as_long, as_tensor, fill_holes, fingerprint
from qgen.training.callbacks import Callback, MetricsLog, TrainingCurve
from qgen.training.checkpoint import LoopState, resume_checkpoint, save_checkpoint, save_model
from qgen.training.config import (
    CHECKPOINT_FILE,
    FORMAT_VERSION,
    MODEL_FILE,
    TrainConfig,
    TrainResult,
    resolve_device,
)
from qgen.training.schedule import Schedule, Scheduler, get_schedule
from qgen.training.step import default_step, thread_shards
from qgen.training.streaming import HDF5Stream, StreamBatches
from qgen.training.threads import ThreadShards

__all__ = ["train", "TrainingInterrupted", "NonFiniteLoss"]



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

    def handler(signum: int, frame: FrameType | None) -> None:
        flag["hit"] = True
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _validate(model: GenerativeModel, data: torch.Tensor, batch_size: int, seed: int,
              ctx: distributed.Context, shards: ThreadShards | None = None) -> float:
    """Mean validation loss over all ranks' shares (its chunks on ``shards``' threads when
    given); any randomness it uses is seeded and isolated from training."""
    model.eval()
    devices = [model.device] if model.device.type == "cuda" else []

    def chunk_total(chunk: torch.Tensor) -> float:
        with torch.no_grad():  # grad mode is per thread: set here, where the chunk runs
            generator = torch.Generator(model.device).manual_seed(distributed.stream_seed(seed, ctx.rank, 0, 2))
            return float(model.val_loss(fill_holes(model, as_long(chunk), generator)[0])) * len(chunk)

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
    callbacks: Sequence[Callback] = (),
    povm: POVM | None = None,
) -> TrainResult:
    """Train ``model`` on outcome strings ``train_x`` (uint8, (n, N), or an
    :class:`~qgen.training.streaming.HDF5Stream` of a dataset file's training split), early-stopping
    on ``val_x``; write checkpoints, best model, metrics and curve into ``out_dir``.

    Reproducible: the epoch-e order depends only on (seed, e) and the torch RNG is seeded
    with ``config.seed`` at the start (initial weights are the caller's: seed before
    building the model).  ``resume=True`` continues from ``out_dir/checkpoint.safetensors``
    (if present) to exactly the weights of an uninterrupted run; a run that already
    finished (epochs or early stopping) is returned as is.  ``resume=False`` starts afresh
    and overwrites earlier outputs.  ``dataset_info`` (e.g. ``{"povm": "pauli4"}``) is stored
    with the model and checked on resume and by ``load_model(expect=…)``; ``povm``, the
    measurement, is stored with the model too (:func:`qgen.training.stored_povm` reads
    it back), so the model file describes its outcomes on its own.  ``callbacks``
    run after the metrics log and the curve plot.  Under torchrun every process calls
    ``train`` alike (see the module doc); rank 0 writes the files and runs the callbacks.
    """
    cfg = config or TrainConfig()
    out_dir = Path(out_dir)
    info = {"n_qubits": model.n_qubits, "n_outcomes": model.n_outcomes} | (dataset_info or {})
    if (info["n_qubits"], info["n_outcomes"]) != (model.n_qubits, model.n_outcomes):
        raise ValueError(f"dataset_info {dataset_info} disagrees with the model's "
                         f"n_qubits={model.n_qubits}, n_outcomes={model.n_outcomes}")
    if model.own_training_step and distributed.from_env().active:
        raise ValueError(f"model '{model.name}' trains with its own training_step (several optimizers), which "
                         "DistributedDataParallel does not synchronise; train it in one process")
    if model.own_training_step and cfg.amp:
        raise ValueError(f"model '{model.name}' trains with its own training_step; "
                         "amp applies to the default step only")
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
        val = as_tensor(val_x, model, "val_x")
        lo, hi = distributed.share(len(val), ctx)
        if isinstance(train_x, HDF5Stream):
            if (train_x.n_qubits, train_x.header.povm.n_outcomes) != (model.n_qubits, model.n_outcomes):
                raise ValueError(f"{train_x.path} holds {train_x.n_qubits}-qubit strings with "
                                 f"{train_x.header.povm.n_outcomes} outcomes; the model expects "
                                 f"{model.n_qubits} and {model.n_outcomes}")
            if train_x.header.missing_per_qubit is not None and model.missing_readouts == "none":
                raise ValueError(f"{train_x.path} has missing readouts, which model '{model.name}' cannot learn "
                                 "from (it has no likelihood): impute them with another model first")
            batches = train_x.batches(cfg.batch_size, cfg.seed, ctx, device)
        else:
            data = as_tensor(train_x, model, "train_x")
            batches = InMemoryBatches(data, fingerprint(data.cpu().numpy()), cfg.batch_size, cfg.seed, ctx)
        try:
            meta = {
                "format": "qgen-checkpoint", "version": FORMAT_VERSION, "model": model.name,
                "config": model.config, "dataset": info, "data_sha1": batches.fingerprint,
                "n_train": batches.n_rows, "data_order": batches.settings, "processes": ctx.world_size,
                "train_config": dataclasses.asdict(cfg),
            }
            hooks = [MetricsLog(out_dir), TrainingCurve(out_dir), *callbacks] if ctx.is_main else []
            with thread_shards(model, ctx, cfg.batch_size) as shards:
                return _run(model, batches, val[lo:hi], cfg, out_dir, resume, progress, meta, ctx, shards, hooks,
                            povm)
        finally:
            batches.close()
    finally:
        torch.set_num_threads(threads)


def _run(model: GenerativeModel, batches: InMemoryBatches | StreamBatches, val: torch.Tensor, cfg: TrainConfig,
         out_dir: Path, resume: bool, progress: bool, meta: dict[str, Any],
         ctx: distributed.Context, shards: ThreadShards | None, hooks: list[Callback], povm: POVM | None
         ) -> TrainResult:
    steps = batches.steps
    opts = model.configure_optimizers(cfg)
    schedule = get_schedule(cfg.schedule)
    scheds = [s for s in (schedule.scheduler(opt, cfg, steps) for opt in opts) if s is not None]
    scaler = torch.amp.GradScaler(model.device.type) if cfg.amp == "fp16" else None
    ckpt = out_dir / CHECKPOINT_FILE
    if resume and ckpt.exists():
        state = resume_checkpoint(ckpt, model, opts, scheds, scaler, meta, ctx)
        if state.history and state.history[-1]["partial"]:
            state.history.pop()  # the interrupted epoch is completed below
    else:
        torch.manual_seed(distributed.rank_seed(cfg.seed, ctx.rank))
        state = LoopState()
    if model.own_training_step:
        model_step = lambda x, n, step: model.training_step(x, opts, step, cfg.grad_clip)  # noqa: E731
    else:
        loss_fn = distributed.wrap(model, ctx)  # after resume: DDP broadcasts rank 0's weights here
        model_step = lambda x, n, step: default_step(loss_fn, model, x, n, opts, cfg, scaler, ctx, shards)  # noqa: E731

    def step_fn(x: torch.Tensor, n: int, step: int) -> dict:
        if not batches.has_holes:
            return model_step(x, n, step)
        generator = torch.Generator(model.device).manual_seed(distributed.stream_seed(cfg.seed, ctx.rank, step, 1))
        x, holes = fill_holes(model, x, generator)
        return model_step(x, n, step) | holes
    model_extra = {"dataset": meta["dataset"], "train_config": meta["train_config"]} | (
        {"povm": povm.to_dict()} if povm is not None else {})
    started = time.perf_counter() - state.elapsed

    def result() -> TrainResult:
        for hook in hooks:
            hook.on_train_end(state, model)
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
            if state.batch == 0:
                model.begin_epoch(state.epoch, cfg.epochs, cfg.seed)
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
                schedule.after_batch(scheds)
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
            _end_epoch(model, val, cfg, state, steps, opts, schedule, scheds, out_dir, model_extra, ctx, shards)
            if state.stop_reason is None and state.epoch < cfg.epochs:
                state.stop_reason = decide(distributed.all_sum(requests(), ctx).tolist())
            state.elapsed = time.perf_counter() - started
            if state.stop_reason is None and state.epoch >= cfg.epochs:
                state.stop_reason = "epochs"
            save_checkpoint(out_dir / CHECKPOINT_FILE, model, opts, scheds, scaler, state, meta, ctx)
            for hook in hooks:
                hook.on_epoch_end(state, model)
            last = state.history[-1]
            bar.set_postfix(epoch=last["epoch"], train=f"{last[f'train_{model.loss_name}']:.4f}",
                            val=f"{last[f'val_{model.val_name}']:.4f}")
    bar.close()
    if state.stop_reason == "interrupted":
        raise TrainingInterrupted(f"training interrupted; checkpoint saved in {out_dir}, continue with resume")
    return result()


def _end_epoch(model: GenerativeModel, val: torch.Tensor, cfg: TrainConfig, state: LoopState, steps: int,
               opts: list[torch.optim.Optimizer], schedule: Schedule, scheds: list[Scheduler], out_dir: Path,
               extra: dict[str, Any], ctx: distributed.Context, shards: ThreadShards | None) -> None:
    """Validate, log, update best model, early stopping and an epoch-wise schedule; advance
    the epoch counter unless the epoch was cut short by ``max_time``."""
    partial = state.batch < steps
    val_loss = _validate(model, val, 4 * cfg.batch_size, cfg.seed, ctx, shards)
    state.history.append({
        "epoch": state.epoch, f"train_{model.loss_name}": state.epoch_loss / max(state.epoch_samples, 1),
        f"val_{model.val_name}": val_loss,
        "lr": opts[0].param_groups[0]["lr"], "time": state.elapsed,
        "samples_per_s": state.epoch_samples / max(state.epoch_train_time, 1e-9),
        "partial": partial, "fraction": state.batch / steps,
    } | {f"train_{k}": v / max(state.epoch_samples, 1) for k, v in state.epoch_extra.items()})
    if val_loss < state.saved_val or cfg.keep == "last":
        state.saved_val, state.saved_epoch = val_loss, state.epoch
        if ctx.is_main:
            save_model(out_dir / MODEL_FILE, model, extra | {"epoch": state.epoch, f"val_{model.val_name}": val_loss})
    if partial:
        return
    if val_loss < state.best_val:
        state.best_val, state.bad_epochs = val_loss, 0
    else:
        state.bad_epochs += 1
        if cfg.patience and state.bad_epochs >= cfg.patience:
            state.stop_reason = "early_stopping"
    schedule.after_epoch(scheds, val_loss)
    state.epoch, state.batch = state.epoch + 1, 0
    state.epoch_loss, state.epoch_extra, state.epoch_samples, state.epoch_train_time = 0.0, {}, 0, 0.0
