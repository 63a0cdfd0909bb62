"""Safe, atomic files of the trainer: model files (``save_model``/``load_model``) and
full checkpoints (weights, optimizers, schedules, gradient scaler, loop state, RNG
states) for exact resume.

All files are safetensors (tensors) with their metadata as JSON in the header: loading
never unpickles anything; a file of another kind or program is a one-line ``ValueError``.

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from qgen.models import create_model
>>> path = Path(tempfile.mkdtemp()) / "m.safetensors"
>>> save_model(path, create_model("rnn", 3, 4, hidden=8, n_layers=1), {"dataset": {"povm": "pauli4"}})
>>> model, meta = load_model(path, expect={"n_qubits": 3, "povm": "pauli4"})
>>> meta["model"], model.n_qubits
('rnn', 3)
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from qgen._io import atomic_write
from qgen.measurements.povm import POVM, POVMError
from qgen.models import GenerativeModel, get_model
from qgen.training import distributed
from qgen.training.config import FORMAT_VERSION, MODEL_FILE, TRAJECTORY_FIELDS, TrainConfig
from qgen.training.schedule import Scheduler

__all__ = [
    "save_model", "load_model", "stored_povm", "LoopState", "save_checkpoint", "write_checkpoint",
    "resume_checkpoint",
]


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
        "format": "qgen-model", "version": FORMAT_VERSION, "model": model.name, "config": model.config,
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


def stored_povm(meta: dict[str, Any]) -> POVM | None:
    """The POVM stored with a model (``meta`` from :func:`load_model`), or None for a model
    file written without one; a one-line ``ValueError`` for a corrupt entry."""
    if meta.get("povm") is None:
        return None
    try:
        povm = POVM.from_dict(meta["povm"])
    except (POVMError, AttributeError) as e:
        raise ValueError(f"the model's stored POVM is not valid: {e}") from None
    if povm.n_outcomes != meta["n_outcomes"]:
        raise ValueError(f"the model's stored POVM has {povm.n_outcomes} outcomes, the model {meta['n_outcomes']}")
    return povm


# ---------------------------------------------------------------- training state


@dataclass
class LoopState:
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


def save_checkpoint(path: Path, model: GenerativeModel, opts: list[torch.optim.Optimizer], scheds: list[Scheduler],
                    scaler: torch.amp.GradScaler | None, state: LoopState, meta: dict[str, Any],
                     ctx: distributed.Context) -> None:
    """Gather every rank's RNG state (collective), then rank 0 writes the checkpoint while
    the others wait."""
    rngs = distributed.gather(torch.get_rng_state(), ctx)
    cuda_rngs = distributed.gather(torch.cuda.get_rng_state(model.device), ctx) if model.device.type == "cuda" else []
    if ctx.is_main:
        write_checkpoint(path, model, opts, scheds, scaler, state, meta, rngs, cuda_rngs)
    distributed.barrier(ctx)  # the others go on (and may resume from it) once it is complete


def write_checkpoint(path: Path, model: GenerativeModel, opts: list[torch.optim.Optimizer], scheds: list[Scheduler],
                     scaler: torch.amp.GradScaler | None, state: LoopState, meta: dict[str, Any],
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


def resume_checkpoint(path: Path, model: GenerativeModel, opts: list[torch.optim.Optimizer], scheds: list[Scheduler],
                      scaler: torch.amp.GradScaler | None, meta: dict[str, Any],
                      ctx: distributed.Context) -> LoopState:
    tensors, stored = _read_tensors(path, "checkpoint")
    if (stored["model"], stored["config"]) != (meta["model"], meta["config"]):
        raise ValueError(f"checkpoint {path} holds model {stored['model']} {stored['config']}, "
                         f"not {meta['model']} {meta['config']}")
    for key in ("dataset", "data_sha1", "n_train", "data_order"):
        if stored.get(key) != meta[key]:
            raise ValueError(f"checkpoint {path} was trained on different data "
                             f"({key}: {stored.get(key)} vs {meta[key]})")
    defaults = dataclasses.asdict(TrainConfig())
    changed = [f"{k}: {stored['train_config'].get(k, defaults[k])} → {meta['train_config'][k]}"
               for k in TRAJECTORY_FIELDS if stored["train_config"].get(k, defaults[k]) != meta["train_config"][k]]
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
    return LoopState(**stored["state"])
