"""Fit a backend to a dataset: the one pipeline behind ``qgen train``, ``qgen compare`` and
``qgen sweep``.

:func:`fit` builds the model from its preset (initial weights from the seed, defaults taken
from the measured POVM), trains it on the training split with early stopping on the
validation split, and writes the run directory: the trainer's files plus ``run.json``
(what was fitted to what).  The model file carries the POVM's elements, so the run is
self-contained.  Data can be a :class:`~qgen.datasets.Dataset` in memory or a dataset file,
which can also be streamed chunk by chunk.

Example
-------
>>> import tempfile
>>> from qgen.datasets import simulate
>>> from qgen.measurements import pauli4
>>> from qgen.targets import make_target
>>> ds = simulate(make_target("ghz", n=3), pauli4(), 600, seed=0)
>>> run = fit(ds, "rnn", tempfile.mkdtemp(), epochs=2, progress=False, model_options={"hidden": 8})
>>> run.result.stop_reason, run.best().n_qubits
('epochs', 3)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from qgen._io import atomic_write_text
from qgen.datasets import Dataset, read_dataset, read_header
from qgen.errors import ArgumentError
from qgen.models import GenerativeModel, create_model, data_sized, training_preset
from qgen.resources import check_memory, estimate_training_data
from qgen.scores.bootstrap import resamples
from qgen.scores.report import Report
from qgen.training import (
    Callback,
    HDF5Stream,
    TrainConfig,
    TrainResult,
    distributed,
    load_model,
    resolve_device,
    train,
)
from qgen.training.config import adapt_to_data
from qgen.training.streaming import DEFAULT_BUFFER
from qgen.workflows.evaluation import evaluate
from qgen.workflows.refits import REFITS_DIR, refit_count

__all__ = ["Fit", "fit", "fit_and_evaluate", "default_model", "AUTO_TENSOR_NETWORK_MAX", "RUN_FILE"]

RUN_FILE = "run.json"
AUTO_TENSOR_NETWORK_MAX = 12


def default_model(n_qubits: int) -> str:
    """The backend of ``model="auto"``: the LPDO tensor network (a mixed state, positive
    by construction, exact fidelity) up to :data:`AUTO_TENSOR_NETWORK_MAX` qubits, the
    RNN above (the backend benchmarked for large-N outcome statistics).

    Measured (benchmarks/results/quantum_fidelity.json, N = 8, Pauli-6, 3,000 shots, seed
    0, adaptive schedule; F of lpdo (pure start, bond dimension 2 on this little data) / mps
    / rnn / transformer, then MLE ± its bootstrap error): W 0.987 / 0.975 / 0.876 / 0.791,
    MLE 0.836 ± 0.003; cluster 0.991 / 0.978 / 0.247 / 0.130, 0.857 ± 0.025; TFIM 0.939 /
    0.980 / 0.795 / 0.750, 0.806 ± 0.021; GHZ with p = 0.05 (true 0.740) 0.695 / 0.870 /
    0.407 / 0.422, 0.538 ± 0.049.  The pure ``mps`` claims a pure state there (F above the
    true 0.740), which is why the default is the mixed model.  Over N = 4, 6, 8, Pauli-6 and
    Pauli-4, 1,000, 3,000, 10,000 and 30,000 shots (means over 3 seeds from 3,000 shots up;
    10 for GHZ-8 and depolarized GHZ-8 from 3,000 Pauli-4 shots; 1 at 1,000) the default
    meets MLE − err on all 120 settings, and 275 of the 284 single fits from 3,000 shots up
    do.  From 3,000 Pauli-4 shots of GHZ-8 its seeds scatter from 0.18 to 0.89 (mean 0.59 ±
    0.08, MLE 0.39): the phase of the 8-body coherence is weakly determined there.  At N = 50
    a training step of the tensor networks costs no more than the RNN's
    (benchmarks/bench_default_model.py).

    >>> default_model(8), default_model(50)
    ('lpdo', 'rnn')
    """
    return "lpdo" if n_qubits <= AUTO_TENSOR_NETWORK_MAX else "rnn"


@dataclass
class Fit:
    """What :func:`fit` did: the model as trained (last weights), the trainer's result, and
    the run directory (whose ``model.safetensors`` holds the weights kept: the best
    validation ones, or the last with ``keep="last"``), and
    how the schedule was chosen (:func:`~qgen.training.config.adapt_to_data`'s note, and
    the sizes the backend took from the data, :meth:`~qgen.models.GenerativeModel.data_defaults`)."""

    model: GenerativeModel
    result: TrainResult
    out_dir: Path
    schedule: str = ""
    refits: list[Path] = field(default_factory=list)

    def best(self, device: str | torch.device = "cpu") -> GenerativeModel:
        """The model with the kept weights (``model.safetensors``), loaded from the run directory."""
        return load_model(self.out_dir, device=device)[0]

    def refit_models(self, device: str | torch.device = "cpu") -> list[GenerativeModel]:
        """The bootstrap refits' best models (:mod:`qgen.workflows.refits`)."""
        return [load_model(p, device=device)[0] for p in self.refits]

    def summary(self) -> dict[str, Any]:
        """Training time, epochs and why training stopped."""
        return {"train_seconds": round(self.result.elapsed, 1), "epochs": len(self.result.history),
                "stop_reason": self.result.stop_reason}


def _load(data: Dataset | str | Path, stream: bool, buffer: int | None, shards: int | None,
          train_samples: int | None):
    """(training strings or stream, validation strings, dataset identity, POVM, where from)."""
    if stream:
        if isinstance(data, Dataset):
            raise ValueError("streaming reads a dataset file; this dataset is in memory")
        if train_samples is not None:
            raise ValueError("a streamed training split cannot be cut to its first strings")
        x = HDF5Stream(data, buffer=buffer or DEFAULT_BUFFER, shards=shards)
        return x, x.validation(), x.header.identity(), x.header.povm, str(Path(data).resolve())
    if buffer is not None or shards is not None:
        raise ValueError("a shuffle buffer and chunk streams apply to streamed data only")
    source = None
    if not isinstance(data, Dataset):
        head = read_header(data)
        check_memory(estimate_training_data(head.n_samples, head.n_qubits),
                     f"training on {head.n_samples:,} strings × {head.n_qubits} qubits from '{data}'")
        source, data = str(Path(data).resolve()), read_dataset(data, load_target=False)
    if train_samples is not None and not 1 <= train_samples <= len(data.train):
        raise ArgumentError("train_samples", f"must lie in 1..{len(data.train)}, got {train_samples}")
    x = data.masked("train") if train_samples is None else data.masked("train")[:train_samples]
    return x, data.masked("val"), data.identity(), data.povm, source


def fit(data: Dataset | str | Path, model: str = "auto", out_dir: str | Path = "run", *, preset: str | None = None,
        seed: int = 0, resume: bool = False, progress: bool = True, model_options: dict[str, Any] | None = None,
        train_samples: int | None = None, stream: bool = False, buffer: int | None = None,
        shards: int | None = None, callbacks: tuple[Callback, ...] = (), bootstrap: int | str = 0,
        **train_options: Any) -> Fit:
    """Train backend ``model`` (its ``preset``, with ``model_options`` overriding
    architecture keywords; ``"auto"``: :func:`default_model` of the number of qubits) on
    ``data`` and write the run into ``out_dir``.

    ``train_options`` are :class:`~qgen.training.TrainConfig` fields (None keeps the
    preset's value); the epochs, batch size and patience that neither they nor the preset
    fix follow the number of training strings (:func:`~qgen.training.config.adapt_to_data`:
    a budget of 3,000 optimizer steps, ≥ 4 epochs), noted in ``run.json`` and ``Fit.schedule``.
    ``train_samples`` uses only the first strings of the training split.
    ``stream`` reads a dataset file's training split chunk by chunk
    (:class:`~qgen.training.HDF5Stream` with ``buffer`` strings per shard and ``shards``
    chunk streams).  ``resume`` continues an interrupted run exactly.  Under torchrun every
    process calls ``fit`` alike; rank 0 writes the files.

    ``bootstrap``: the number of bootstrap refits on resampled training strings for
    finite-data error bars, trained after the model into ``out_dir/bootstrap/<j>/`` with
    the same settings (0 none; ``"auto"``: where cheap; :mod:`qgen.workflows.refits`).
    """
    x, val, identity, povm, source = _load(data, stream, buffer, shards, train_samples)
    if len(val) == 0:
        raise ValueError("the dataset has no validation split (needed for early stopping)")
    n_train = len(x) if not stream else x.n_rows
    model = default_model(identity["n_qubits"]) if model == "auto" else model
    given = {"seed": seed} | {k: v for k, v in train_options.items() if v is not None}
    fields, schedule = adapt_to_data(training_preset(model, preset), given, n_train)
    cfg = TrainConfig(**fields)
    resolve_device(cfg.device)  # a bad device fails before anything is written
    k = refit_count(bootstrap, identity["n_qubits"], n_train, stream)

    def build() -> GenerativeModel:
        torch.manual_seed(seed)
        return create_model(model, identity["n_qubits"], identity["n_outcomes"], preset=preset, povm=povm,
                            n_train=n_train,
                            **(model_options or {}))

    def run(net: GenerativeModel, strings: Any, where: Path, show: bool) -> TrainResult:
        return train(net, strings, val, cfg, where, resume=resume, progress=show, dataset_info=identity, povm=povm,
                     callbacks=callbacks)

    net = build()  # a bad model option fails before anything is written
    sized = {k: net.config[k] for k in data_sized(model, preset, n_train, net.config) if k not in (model_options or {})}
    if sized:
        schedule += "; " + ", ".join(f"{k} {v}" for k, v in sized.items()) + " for this data size"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if distributed.from_env().is_main and not (resume and (out / RUN_FILE).exists()):  # resume keeps it
        info = {"data": source, "model": model, "preset": preset, "n_train": n_train, "stream": stream,
                "schedule": schedule, "bootstrap": k}
        atomic_write_text(out / RUN_FILE, json.dumps(info, indent=2))
    result = run(net, x, out, progress)
    refits = [out / REFITS_DIR / str(j) for j in range(k)]
    for idx, where in zip(resamples(n_train, k, seed) if k else (),
                          tqdm(refits, desc="bootstrap refits", disable=not progress or not k, leave=False)):
        run(build(), x[idx], where, False)
    return Fit(net, result, out, schedule, refits)


def fit_and_evaluate(ds: Dataset, model: str, out_dir: str | Path, *, seed: int = 0, n_samples: int = 20_000,
                     progress: bool = False, **train_options: Any) -> tuple[Report, Fit]:
    """:func:`fit` backend ``model`` (default preset, initial weights from ``seed``) to
    ``ds``, then score its kept weights (what ``qgen evaluate`` scores) on
    ``ds`` with :func:`~qgen.workflows.evaluate`, with finite-data errors from the
    bootstrap refits when ``bootstrap`` asks for them: the path of ``qgen compare`` and
    ``qgen sweep``."""
    run = fit(ds, model, out_dir, seed=seed, progress=progress, **train_options)
    return evaluate(run.best(), ds, n_samples=n_samples, seed=seed, refits=run.refit_models()), run
