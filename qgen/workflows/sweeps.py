"""How many measurements are needed? One backend trained on nested subsets of the data
and scored at each size (``qgen sweep``).

For each n the model is trained on the first n strings of one seeded permutation of the
training split — so every subset contains the smaller ones and the curve is not blurred
by changing data — early-stopping on a validation subset in the dataset's own
proportion (n_val = n · n_val/n_train, at least 1), and scored on the whole held-out test
split by :func:`qgen.workflows.evaluate` (the training path of :mod:`qgen.workflows.comparison`).
The raw-data (dual-frame, classical-shadow) estimator is applied to the same n strings,
so each observable's error is shown for the model and for the data it was trained on:

* with a target: F_c, quantum fidelity, KL(P‖q), test NLL, and model − exact and
  data − exact for the energy (when a Hamiltonian is known), C_zz(r=1) and the middle
  site's ⟨σx⟩ and ⟨σz⟩;
* without one: test NLL, and model − test data and data − test data (held-out test
  strings are independent of both, so the error bars add in quadrature).

``sweep.json`` is rewritten atomically after every point; ``resume=True`` keeps the
points already done with the same data and settings.

Example
-------
>>> from qgen.targets import make_target
>>> from qgen.measurements import pauli4
>>> from qgen.datasets import simulate
>>> import tempfile
>>> ds = simulate(make_target("ghz", n=3), pauli4(), 1000, seed=0)
>>> rows = sweep(ds, [100, 400], epochs=2, out_dir=tempfile.mkdtemp(), n_samples=300)
>>> [(r.n_train, r.n_val) for r in rows]
[(100, 12), (400, 50)]
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qgen._io import atomic_write, atomic_write_text
from qgen.datasets.dataset import Dataset
from qgen.scores.report import ObservableFamily, Report
from qgen.stats import Estimate
from qgen.workflows.draws import check_sampling_fits
from qgen.workflows.fitting import fit_and_evaluate
from qgen.workflows.reports import format_columns, is_unresolved, observable_summary, short_cell

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["SweepPoint", "nested_subset", "sweep", "format_sweep", "plot_sweep", "observable_errors"]

SCORES = ("classical_fidelity", "quantum_fidelity", "kl_target_model", "test_nll")


def _scores(rep: Report) -> dict[str, Estimate]:
    """The sweep's scores; the quantum fidelity is the verdict's (exact by contraction or
    enumeration where the model allows it) when the report has one, else the sampled estimate."""
    scores = {k: getattr(rep.scores, k) for k in SCORES}
    if rep.verdict is not None and rep.verdict.fidelity.available:
        scores["quantum_fidelity"] = rep.verdict.fidelity
    return scores


def _check_size(ds: Dataset, n: int) -> None:
    if not 1 <= n <= ds.split[0]:
        raise ValueError(f"a subset of {n:,} strings needs 1 ≤ n ≤ {ds.split[0]:,}, the size of the training split")
    if ds.split[1] == 0:
        raise ValueError("the dataset has no validation split (needed for early stopping)")


def nested_subset(ds: Dataset, n: int, seed: int = 0) -> Dataset:
    """``ds`` restricted to the first ``n`` training strings of the seeded permutation
    of its training split, the first n·n_val/n_train validation strings (at least 1),
    and the whole test split (with the stored ln P of each).

    >>> from qgen.targets import make_target
    >>> from qgen.measurements import pauli4
    >>> from qgen.datasets import simulate
    >>> ds = simulate(make_target("ghz", n=3), pauli4(), 1000, seed=0)
    >>> small, big = nested_subset(ds, 100), nested_subset(ds, 400)
    >>> bool((big.train[:100] == small.train).all()), small.split
    (True, (100, 12, 100))
    """
    _check_size(ds, n)
    n_tr, n_va, n_te = ds.split
    n_val = min(n_va, max(1, round(n * n_va / n_tr)))
    train = np.random.default_rng(seed).permutation(n_tr)[:n]
    idx = np.concatenate([train, n_tr + np.arange(n_val), n_tr + n_va + np.arange(n_te)])
    lp = None if ds.log_prob is None else ds.log_prob[idx]
    return Dataset(ds.outcomes[idx], ds.povm, (n, n_val, n_te), lp, ds.target, ds.seed,
                   ds.meta | {"subset": {"n_train": n, "seed": seed}})


@dataclass
class SweepPoint:
    """One size of a sweep: the subset sizes, the training summary, the model's size, the
    scores (F_c, quantum fidelity, KL(P‖q), test NLL) and, per observable label, the
    one-observable :class:`~qgen.scores.report.ObservableFamily` view."""

    n_train: int
    n_val: int
    train_seconds: float
    epochs: int
    stop_reason: str
    parameters: int
    scores: dict[str, Estimate]
    observables: dict[str, ObservableFamily]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)[:6]} | {
            "scores": {k: e.to_dict() for k, e in self.scores.items()},
            "observables": {k: v.to_dict() for k, v in self.observables.items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepPoint:
        return cls(*(d[f.name] for f in fields(cls)[:6]),
                   {k: Estimate.from_dict(e) for k, e in d["scores"].items()},
                   {k: ObservableFamily.from_dict(v) for k, v in d["observables"].items()})


def observable_errors(view: ObservableFamily) -> tuple[Estimate, Estimate, str]:
    """(model error, raw-data error, reference) of one observable: against the exact value
    when known, else against the held-out test data (independent of both)."""
    if view.exact is not None:
        return view.model[0] - view.exact[0], view.data[0] - view.exact[0], "exact"
    return view.model_minus_test[0], view.data[0] - view.test[0], "test data"


def _fingerprint(ds: Dataset) -> str:
    h = hashlib.sha1(ds.outcomes.tobytes())
    h.update(json.dumps([ds.split, ds.povm.name, ds.target.describe() if ds.target else None]).encode())
    return h.hexdigest()


def sweep(
    ds: Dataset,
    sizes: Sequence[int],
    *,
    model: str = "rnn",
    max_time: float | None = None,
    epochs: int = 10_000,
    out_dir: str | Path = "sweep",
    seed: int = 0,
    n_samples: int = 20_000,
    resume: bool = False,
    progress: bool = False,
    on_point: Callable[[SweepPoint], None] | None = None,
) -> list[SweepPoint]:
    """Train ``model`` on nested subsets of ``ds`` of each size in ``sizes`` (at most
    ``epochs`` epochs and ``max_time`` seconds each, early stopping) and score each.

    One :class:`SweepPoint` per size: ``n_train``, ``n_val``, training summary,
    ``parameters``, the scores F_c, quantum fidelity, KL(P‖q), test NLL (unavailable
    without a target) and per observable label its exact value (or None), model, data,
    test and model − test estimates.  Runs go to ``out_dir/n<size>``; ``sweep.json`` (rewritten after
    every point), ``sweep.png`` and ``sweep.txt`` (the table) are written atomically.
    ``on_point(row)`` is called after each point.
    """
    sizes = sorted({int(n) for n in sizes})
    if not sizes:
        raise ValueError("no subset sizes given")
    _check_size(ds, sizes[0])  # before any training
    _check_size(ds, sizes[-1])
    check_sampling_fits(n_samples, ds.n_qubits)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {"data": _fingerprint(ds), "model": model, "seed": seed, "max_time": max_time, "epochs": epochs,
              "n_samples": n_samples}
    done: dict[int, SweepPoint] = {}
    state = out_dir / "sweep.json"
    if resume and state.is_file():
        try:
            saved = json.loads(state.read_text(encoding="utf-8"))
            if saved.get("config") == config:
                done = {p.n_train: p for p in map(SweepPoint.from_dict, saved["rows"])}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{state} is not a readable sweep state ({type(e).__name__}); remove it or run "
                             "without resume") from None
    rows: list[SweepPoint] = []
    for n in sizes:
        if n in done:
            row = done[n]
        else:
            sub = nested_subset(ds, n, seed)
            rep, run = fit_and_evaluate(sub, model, out_dir / f"n{n}", seed=seed, n_samples=n_samples,
                                        progress=progress, max_time=max_time, epochs=epochs)
            row = SweepPoint(n, sub.split[1], **run.summary(), parameters=rep.model.parameters,
                             scores=_scores(rep),
                             observables=dict(observable_summary(rep.observables)))
        rows.append(row)
        kept = sorted(rows + [r for m, r in done.items() if m not in sizes], key=lambda r: r.n_train)
        atomic_write_text(state, json.dumps({"config": config, "rows": [r.to_dict() for r in kept]}, indent=2,
                                            allow_nan=False))
        if on_point is not None:
            on_point(row)
    atomic_write_text(out_dir / "sweep.txt", format_sweep(rows) + "\n")
    plot_sweep(rows, out_dir / "sweep.png")
    return rows


def _table_observables(row: SweepPoint) -> list[str]:
    labels = list(row.observables)
    energy = [label for label in labels if label == "energy"]
    corr = [label for label in labels if label.startswith("C_zz")]
    sx = [label for label in labels if label.startswith("⟨σx⟩")]
    return (energy + corr) if energy else (corr + sx)


def format_sweep(rows: list[SweepPoint]) -> str:
    """One table: a row per size with the scores and, for two observables, the model's
    and the raw data's error (vs exact, or vs the held-out test data without a target)."""
    has_target = any(v.exact is not None for r in rows for v in r.observables.values())
    obs = _table_observables(rows[0])
    ref = "exact" if has_target else "test"
    head = ["n", "epochs"]
    if has_target:
        head += ["F_c", "quantum F", "KL(P‖q)"]
    head += ["test NLL"]
    for label in obs:
        head += [f"{label} model−{ref}", f"{label} data−{ref}"]
    head += ["train s"]
    body = []
    for r in rows:
        cells = [f"{r.n_train:,}", str(r.epochs)]
        if has_target:
            cells += [short_cell(r.scores[k]) for k in ("classical_fidelity", "quantum_fidelity", "kl_target_model")]
        cells.append(short_cell(r.scores["test_nll"]))
        for label in obs:
            model_err, data_err, _ = observable_errors(r.observables[label])
            cells += [short_cell(model_err), short_cell(data_err)]
        cells.append(f"{r.train_seconds:.0f}")
        body.append(cells)
    return format_columns(head, body)


def _errorbar(ax: Axes, n: Sequence[int], estimates: list[Estimate | None], **style: Any) -> None:
    """Plot the available estimates (mean ± stderr) against n."""
    pts = [(x, e.mean, 0.0 if math.isnan(e.stderr) else e.stderr) for x, e in zip(n, estimates)
           if e is not None and math.isfinite(e.mean)]
    if pts:
        x, m, s = zip(*pts)
        ax.errorbar(x, m, yerr=s, capsize=3, ms=4, **style)


def plot_sweep(rows: list[SweepPoint], path: str | Path) -> Path:
    """``sweep.png``: scores and observable errors against the number of training
    measurements n (log axis), the raw-data estimator's error on the same axes."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r.n_train for r in rows]
    has_target = any(r.scores["classical_fidelity"].available for r in rows)
    labels = list(rows[0].observables)
    n_panels = int(has_target) + 1 + len(labels)
    cols = min(3, n_panels)
    fig, axes = plt.subplots(math.ceil(n_panels / cols), cols, figsize=(4.6 * cols, 3.6 * math.ceil(n_panels / cols)),
                             squeeze=False)
    panels = iter(axes.ravel())
    if has_target:
        ax = next(panels)
        _errorbar(ax, n, [r.scores["classical_fidelity"] for r in rows], fmt="o-", label="F_c (model)")
        resolved = [None if is_unresolved(r.scores["quantum_fidelity"]) else r.scores["quantum_fidelity"]
                    for r in rows]
        _errorbar(ax, n, resolved, fmt="s--", color="tab:green", label="quantum fidelity (resolved points)")
        ax.axhline(1.0, color="k", lw=0.8, ls=":")
        ax.set_title("fidelity")
        ax.legend(fontsize=8)
    ax = next(panels)
    _errorbar(ax, n, [r.scores["test_nll"] for r in rows], fmt="o-", label="model")
    ax.set_title("test NLL (nats)")
    for label in labels:
        ax = next(panels)
        ref = observable_errors(rows[0].observables[label])[2]
        errs = [observable_errors(r.observables[label]) for r in rows]
        _errorbar(ax, n, [e[0] for e in errs], fmt="o-", label=f"model − {ref}")
        _errorbar(ax, n, [e[1] for e in errs], fmt="s--", label=f"raw data − {ref}")
        ax.axhline(0.0, color="k", lw=0.8, ls=":")
        ax.set_title(label)
        ax.legend(fontsize=8)
    for ax in axes.ravel():
        if ax.has_data():
            ax.set_xscale("log")
            ax.set_xticks(n, [f"{v:,}" for v in n])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("training measurements n")
        else:
            ax.set_visible(False)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return Path(path)
