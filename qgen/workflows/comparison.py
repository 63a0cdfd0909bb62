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
>>> rows[0].model, rows[0].corr_error.available
('rnn', True)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qgen._io import atomic_write, atomic_write_text
from qgen.datasets import Dataset
from qgen.stats import Estimate
from qgen.workflows.draws import check_sampling_fits
from qgen.workflows.fitting import fit_and_evaluate
from qgen.workflows.reports import format_columns, short_cell

__all__ = ["ComparisonRow", "compare", "format_comparison", "plot_comparison"]

COLUMNS = [("classical_fidelity", "F_c"), ("kl_target_model", "KL(P‖q)"), ("quantum_fidelity", "quantum F"),
           ("energy_error", "E_model − E_exact"), ("corr_error", "ΔC_zz(1)")]


@dataclass
class ComparisonRow:
    """One backend in a comparison: its scores, its energy and C_zz(r=1) errors against the
    exact values, its training time and size."""

    model: str
    likelihood: str
    classical_fidelity: Estimate
    kl_target_model: Estimate
    quantum_fidelity: Estimate
    energy_error: Estimate
    corr_error: Estimate
    train_seconds: float
    parameters: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (v.to_dict() if isinstance(v := getattr(self, f.name), Estimate) else v)
                for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ComparisonRow:
        return cls(**{f.name: Estimate.from_dict(d[f.name]) if isinstance(d[f.name], dict) else d[f.name]
                      for f in fields(cls)})


def compare(ds: Dataset, models: list[str], *, max_time: float, out_dir: str | Path, seed: int = 0,
            n_samples: int = 20_000, progress: bool = False) -> list[ComparisonRow]:
    """Train each model in ``models`` on ``ds`` for ``max_time`` seconds (same data, same
    seed, each with its default preset) and evaluate it; one row per model.  Runs go to
    ``out_dir/<model>``; ``compare.json`` and ``compare.png`` are written."""
    check_sampling_fits(n_samples, ds.n_qubits)  # before hours of training
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in models:
        rep, run = fit_and_evaluate(ds, name, out_dir / name, seed=seed, n_samples=n_samples, progress=progress,
                                    max_time=max_time, epochs=10_000)
        energy, corr = rep.observables.get("energy"), rep.observables["correlation_zz"]
        energy_error = (energy.model[0] - energy.exact[0] if energy is not None and energy.exact is not None
                        else Estimate.unavailable("no Hamiltonian attached"))
        corr_error = corr.model[0] - corr.exact[0] if corr.exact is not None else Estimate.unavailable("no target")
        sc = rep.scores
        rows.append(ComparisonRow(name, rep.model.likelihood, sc.classical_fidelity, sc.kl_target_model,
                                  sc.quantum_fidelity, energy_error, corr_error, run.summary()["train_seconds"],
                                  rep.model.parameters))
    atomic_write_text(out_dir / "compare.json", json.dumps([r.to_dict() for r in rows], indent=2, allow_nan=False))
    plot_comparison(rows, out_dir / "compare.png")
    return rows


def format_comparison(rows: list[ComparisonRow]) -> str:
    """One table: a row per model, each cell 'mean ± stderr' or 'n/a'."""
    head = ["model", *[label for _, label in COLUMNS], "train s", "parameters"]
    body = [[r.model, *[short_cell(getattr(r, k)) for k, _ in COLUMNS], f"{r.train_seconds:.0f}",
             f"{r.parameters:,}"] for r in rows]
    return format_columns(head, body)


def plot_comparison(rows: list[ComparisonRow], path: str | Path) -> Path:
    """Bar charts of F_c and of the energy error per model, with error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [r.model for r in rows]
    for ax, (key, label) in zip(axes, (COLUMNS[0], COLUMNS[3])):
        values = [getattr(r, key) for r in rows]
        means = [e.mean if e.available else 0.0 for e in values]
        errs = [e.stderr if e.available and not math.isnan(e.stderr) else 0.0 for e in values]
        bars = ax.bar(names, means, yerr=errs, capsize=4, color="tab:blue", alpha=0.8)
        for bar, e in zip(bars, values):
            if not e.available:
                ax.annotate("n/a", (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom")
        ax.set_title(label)
        ax.axhline(1.0 if key == "classical_fidelity" else 0.0, color="k", lw=0.8, ls="--")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return Path(path)
