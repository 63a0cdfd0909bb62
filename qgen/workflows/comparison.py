"""Train several backends on the same data and budget and score them side by side
(``qgen compare``).

Example
-------
>>> from qgen.targets import make_target
>>> from qgen.measurements import pauli4
>>> from qgen.datasets import simulate
>>> import tempfile
>>> ds = simulate(make_target("ghz", n=3), pauli4(), 600, seed=0)
>>> rows = compare(ds, ["rnn"], max_time=3, out_dir=tempfile.mkdtemp(), n_samples=500)
>>> rows[0]["model"], sorted(rows[0])[:3]
('rnn', ['classical_fidelity', 'corr_error', 'energy_error'])
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from qgen._io import atomic_write, atomic_write_text
from qgen.datasets.dataset import Dataset
from qgen.models import create_model
from qgen.stats import Estimate
from qgen.training.checkpoint import load_model
from qgen.training.config import TrainConfig
from qgen.training.loop import train
from qgen.workflows.evaluation import check_sampling_fits, evaluate
from qgen.workflows.reports import format_columns, short_cell

__all__ = ["compare", "fit_and_evaluate", "format_comparison", "plot_comparison"]

COLUMNS = [("classical_fidelity", "F_c"), ("kl_target_model", "KL(P‖q)"), ("quantum_fidelity", "quantum F"),
           ("energy_error", "E_model − E_exact"), ("corr_error", "ΔC_zz(1)")]


def _difference(model: dict | None, exact: float | None, why: str) -> dict:
    """model − exact as an Estimate dict (the exact value carries no error)."""
    if model is None or exact is None or model.get("mean") is None:
        return Estimate.unavailable(why).to_dict()
    return {**model, "mean": model["mean"] - exact}


def fit_and_evaluate(ds: Dataset, name: str, *, max_time: float | None, out_dir: str | Path, seed: int = 0,
                     n_samples: int = 20_000, epochs: int = 10_000,
                     progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train backend ``name`` (default preset, initial weights from ``seed``) on
    ``ds.train``, early-stopping on ``ds.val``, for at most ``epochs`` epochs and
    ``max_time`` seconds, with the run written to ``out_dir``; then score its best
    validation weights (what ``qgen evaluate`` scores) with :func:`qgen.evaluation.evaluate`.
    Returns (report, {"train_seconds", "epochs", "stop_reason"})."""
    torch.manual_seed(seed)
    model = create_model(name, ds.n_qubits, ds.povm.n_outcomes, povm=ds.povm)
    cfg = TrainConfig.from_preset(name, epochs=epochs, max_time=max_time, seed=seed)
    t0 = time.perf_counter()
    result = train(model, ds.train, ds.val, cfg, out_dir, progress=progress, dataset_info=ds.identity())
    t_train = time.perf_counter() - t0
    best, _ = load_model(out_dir)
    summary = {"train_seconds": round(t_train, 1), "epochs": len(result.history), "stop_reason": result.stop_reason}
    return evaluate(best, ds, n_samples=n_samples, seed=seed), summary


def compare(ds: Dataset, models: list[str], *, max_time: float, out_dir: str | Path, seed: int = 0,
            n_samples: int = 20_000, progress: bool = False) -> list[dict[str, Any]]:
    """Train each model in ``models`` on ``ds`` for ``max_time`` seconds (same data, same
    seed, each with its default preset) and evaluate it; one row per model with the
    scores (Estimate dicts or "n/a"), energy and C_zz(1) errors, training time and size.
    Runs go to ``out_dir/<model>``; ``compare.json`` and ``compare.png`` are written."""
    check_sampling_fits(n_samples, ds.n_qubits)  # before hours of training
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in models:
        rep, fit = fit_and_evaluate(ds, name, max_time=max_time, out_dir=out_dir / name, seed=seed,
                                    n_samples=n_samples, progress=progress)
        obs = rep["observables"]
        energy = obs.get("energy")
        corr = obs["correlation_zz"]
        rows.append({
            "model": name,
            "likelihood": rep["model"]["likelihood"],
            **{k: rep["scores"][k] for k in ("classical_fidelity", "kl_target_model", "quantum_fidelity")},
            "energy_error": _difference(energy and energy["model"], energy and energy["exact"],
                                        "no Hamiltonian attached"),
            "corr_error": _difference(corr["model"][0], corr["exact"][0] if corr["exact"] else None, "no target"),
            "train_seconds": fit["train_seconds"],
            "parameters": rep["model"]["parameters"],
        })
    atomic_write_text(out_dir / "compare.json", json.dumps(rows, indent=2, allow_nan=False))
    plot_comparison(rows, out_dir / "compare.png")
    return rows


def format_comparison(rows: list[dict[str, Any]]) -> str:
    """One table: a row per model, each cell 'mean ± stderr' or 'n/a'."""
    head = ["model", *[label for _, label in COLUMNS], "train s", "parameters"]
    body = [[r["model"], *[short_cell(r[k]) for k, _ in COLUMNS], f"{r['train_seconds']:.0f}",
             f"{r['parameters']:,}"] for r in rows]
    return format_columns(head, body)


def plot_comparison(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Bar charts of F_c and of the energy error per model, with error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [r["model"] for r in rows]
    for ax, (key, label) in zip(axes, (COLUMNS[0], COLUMNS[3])):
        means = [r[key]["mean"] if r[key].get("mean") is not None else 0.0 for r in rows]
        errs = [r[key]["stderr"] or 0.0 if r[key].get("mean") is not None else 0.0 for r in rows]
        bars = ax.bar(names, means, yerr=errs, capsize=4, color="tab:blue", alpha=0.8)
        for bar, r in zip(bars, rows):
            if r[key].get("mean") is None:
                ax.annotate("n/a", (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom")
        ax.set_title(label)
        ax.axhline(1.0 if key == "classical_fidelity" else 0.0, color="k", lw=0.8, ls="--")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return Path(path)
