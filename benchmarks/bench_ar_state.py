"""Quantum fidelity of the autoregressive backends with and without bits given bases
(issue 17.4), against maximum-likelihood tomography of the same shots.

For every target (GHZ, W, TFIM ground state J = h = 1, open chain) at N = 4, 6, 8, measured
with Pauli-6, S = 1,000 / 3,000 / 10,000 shots are simulated (``qgen.simulate``, seed s,
90 % training / 10 % validation).  Each backend (``rnn``, ``transformer``: default preset
and training settings, ``qgen.workflows.fit`` with seed s) is trained twice on the same
split: ``bases`` = bits given bases (:mod:`qgen.models.bases`, what ``povm_defaults`` turns
on for Pauli-6) and ``plain`` (``bases=None``: one softmax over the six outcomes).  Its
best validation weights are scored exactly by enumeration of all 6^N strings
(:func:`qgen.scores.enumeration.exact_scores`): quantum fidelity F = ⟨ψ|ρ_q|ψ⟩ of
ρ_q = Σ_a q(a) D^a with the pure target (above 1 when ρ_q is not positive), the fidelity
F_phys of the nearest density matrix (:func:`qgen.scores.densities.project_to_density_matrix`),
and the classical fidelity F_c.  MLE
(:func:`qgen.scores.tomography.mle`) is fitted on all S shots (training + validation).

Every F is exact for the fitted model; what varies is the fit (data and training seed).
With several seeds the table gives the mean and its standard error over seeds, with one
seed the value (error "n/a (one seed)").  Rows are appended to
``results/ar_state.json`` as they finish (with the load average, wall time and the
training schedule), re-reading the file before each write, so a run can be resumed,
extended, or split over processes; ``--cases ghz:6:10000`` runs single cases.

The section ``fixed_schedule`` keeps the rows measured before the data-size-adaptive
training defaults (:func:`qgen.training.config.adapt_to_data`, commit f8f73f7: at most 20
epochs of 500 strings, patience 5, where the defaults now give a budget of 3,000 optimizer
steps); the table's ``gain`` columns are the change in F from that schedule to today's.

    python benchmarks/bench_ar_state.py [--targets ghz,w,tfim] [--n 4 6 8] [--shots 1000 3000 10000]
        [--seeds 0] [--models rnn transformer] [--cases ghz:6:10000 tfim:8:2000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from _common import RESULTS, print_table, save

import qgen
from qgen.measurements import pauli6, reconstruct_density_matrix
from qgen.scores.densities import fidelity_pure, project_to_density_matrix
from qgen.scores.enumeration import exact_scores
from qgen.scores.tomography import mle
from qgen.targets import make_target
from qgen.workflows import fit

TARGETS = {"ghz": {}, "w": {}, "tfim": {"J": 1.0, "h": 1.0}}
VARIANTS = {"bases": {}, "plain": {"bases": None}}
"""Variant → model options: bits given bases (the default for Pauli-6) or one softmax."""
NAME = "ar_state"
NOTE = ("F = ⟨ψ|ρ_q|ψ⟩ exact by enumeration for each fit; MLE on all shots; models: 90 % train / 10 % "
        "validation, default preset and training settings (rows: today's data-size-adaptive schedule; "
        "fixed_schedule: at most 20 epochs of 500, patience 5, before commit f8f73f7)")


def _fidelities(model, target: qgen.Target, psi: np.ndarray) -> dict:
    """F = ⟨ψ|ρ_q|ψ⟩, F_c, the smallest eigenvalue of ρ_q and F_phys = ⟨ψ|ρ̂|ψ⟩ of the density
    matrix ρ̂ nearest to ρ_q (F exceeds 1 when ρ_q is not positive; F_phys cannot)."""
    lq = model.log_prob_all().cpu().numpy()
    scores = exact_scores(lq, target.state, pauli6())
    rho = project_to_density_matrix(reconstruct_density_matrix(np.exp(lq), pauli6()))
    return {"F": scores["quantum_fidelity"].mean, "F_c": scores["classical_fidelity"].mean,
            "min_eig": scores["min_eigenvalue"].mean, "F_phys": fidelity_pure(rho, psi)}


def run_case(kind: str, n: int, shots: int, seed: int, models: list[str], threads: int) -> dict:
    """One row: MLE and every (model, variant) on the same simulated shots."""
    target = make_target(kind, n=n, **TARGETS[kind])
    ds = qgen.simulate(target, pauli6(), shots, seed=seed, val_fraction=0.1, test_fraction=0.0)
    row = {"target": kind, "n": n, "shots": shots, "seed": seed, "load": os.getloadavg()[0]}
    t0 = time.perf_counter()
    ml = mle(ds.outcomes, pauli6())
    psi = target.state.to_dense() if hasattr(target.state, "to_dense") else target.state.data
    psi = psi / np.linalg.norm(psi)
    row["mle"] = {"F": float((psi.conj() @ ml.rho @ psi).real), "seconds": time.perf_counter() - t0}
    for model in models:
        for variant, options in VARIANTS.items():
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as out:
                run = fit(ds, model, out, seed=seed, progress=False, model_options=options, num_threads=threads)
                scores = _fidelities(run.best(), target, psi)
            row[f"{model}_{variant}"] = scores | {"seconds": time.perf_counter() - t0,
                                                  "epochs": len(run.result.history),
                                                  "best_epoch": run.result.best_epoch, "schedule": run.schedule}
    return row


def _load() -> dict:
    path = RESULTS / f"{NAME}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _summary(rows: list[dict], columns: list[str], before: list[dict]) -> list[dict]:
    """Mean ± standard error over seeds of every column, per (target, n, shots), and the
    change of each model column from the fixed schedule's rows (``before``, same seeds)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["n"], r["shots"]), []).append(r)
    old = {(r["target"], r["n"], r["shots"], r["seed"]): r for r in before}
    table = []
    for (kind, n, shots), rs in sorted(groups.items()):
        line = {"target": kind, "n": n, "shots": shots, "seeds": len(rs)}
        for c in columns:
            v = np.array([r[c]["F"] for r in rs if c in r])
            if len(v):
                err = f" ± {v.std(ddof=1) / np.sqrt(len(v)):.3f}" if len(v) > 1 else ""
                line[c] = f"{v.mean():.3f}{err}"
            gains = [r[c]["F"] - old[key][c]["F"] for r in rs
                     if c != "mle" and c in r and (key := (kind, n, shots, r["seed"])) in old and c in old[key]]
            if gains:
                line[f"{c} gain"] = f"{np.mean(gains):+.3f}"
        table.append(line)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default="ghz,w,tfim")
    ap.add_argument("--n", type=int, nargs="+", default=[4, 6, 8])
    ap.add_argument("--shots", type=int, nargs="+", default=[1_000, 3_000, 10_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--models", nargs="+", default=["rnn", "transformer"])
    ap.add_argument("--cases", nargs="*", default=None, help="target:n:shots, instead of the grid")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.cases:
        cases = [(k, int(n), int(s)) for k, n, s in (c.split(":") for c in args.cases)]
    else:
        cases = [(k, n, s) for k in args.targets.split(",") for n in args.n for s in args.shots]
    for kind, n, shots in cases:
        for seed in args.seeds:
            t0 = time.perf_counter()
            row = run_case(kind, n, shots, seed, args.models, args.threads)
            row["wall_s"] = time.perf_counter() - t0
            saved = _load()  # re-read: another process may have added rows meanwhile
            rows = [r for r in saved.get("rows", [])
                    if (r["target"], r["n"], r["shots"], r["seed"]) != (kind, n, shots, seed)]
            save(NAME, {**{k: v for k, v in saved.items() if k != "machine"}, "rows": rows + [row], "note": NOTE})
            print(f"{kind}-{n} {shots} seed {seed}: " + ", ".join(
                f"{k} {v['F']:.3f}" for k, v in row.items() if isinstance(v, dict)), flush=True)
    saved = _load()
    columns = ["mle"] + [f"{m}_{v}" for m in ("rnn", "transformer") for v in VARIANTS]
    table = _summary(saved.get("rows", []), columns, saved.get("fixed_schedule", []))
    print_table("Quantum fidelity ⟨ψ|ρ|ψ⟩, Pauli-6 (mean ± s.e. over seeds; gain: change from the fixed schedule)",
                table, ["target", "n", "shots", "seeds", "mle"] + [c for m in columns[1:] for c in (m, f"{m} gain")])


if __name__ == "__main__":
    main()
