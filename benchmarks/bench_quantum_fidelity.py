"""Quantum fidelity of reconstructions versus the number of measurements: standard
tomography (maximum likelihood, linear inversion) as the reference for qgen's models.

For every target — GHZ, W, 1D cluster, TFIM ground state (J = h = 1, open chain) and GHZ
depolarized with p = 0.05 per qubit (``ghz_noisy``) — at N = 4, 6, 8, measured with
Pauli-6 and Pauli-4, S = 1,000 / 3,000 / 10,000 / 30,000 shots (``qgen.simulate`` with
seeds 0, 1, 2; all S strings are used), every entry of :data:`RECONSTRUCTORS` reconstructs
ρ and is scored by F = ⟨ψ_ideal|ρ|ψ_ideal⟩ against the ideal pure state (for
``ghz_noisy`` the noiseless GHZ, whose exact value ⟨ψ|ρ_true|ψ⟩ is the ``true`` column;
1 for the pure targets).  Each F carries a bootstrap error over the shots: the standard
deviation of the reconstructor refitted on K resamples drawn with replacement
(:func:`qgen.bootstrap.bootstrap_estimate`; K by N in :data:`BOOTSTRAP_K`).  The table
gives the mean over the seeds of F and of its bootstrap error.

Generative backends (:data:`MODELS`): the shots are split 90 / 10 into training and
validation strings (as ``qgen simulate`` does), :func:`qgen.workflows.fit` trains with no
tuning option (its adaptive schedule: a budget of 3,000 steps), and ρ is what ``qgen
evaluate`` scores: the tensor network's exact state, or ρ_q = Σ_a q(a) D^a from all K^N
model probabilities of an autoregressive model.  Column ``default`` is ``fit`` with its
default model.  A model fit costs 10–60 s, so model columns get no bootstrap refits
(``BOOTSTRAP_K_BY_NAME``: 0, the error is reported unavailable); the spread over seeds is
their error bar.  The verdict column ``default ≥ MLE − err`` compares the default's F with
MLE's F minus MLE's bootstrap error, per row.  A reconstructor may return ``(ρ, info)``
with a JSON-able dict stored in the row.

Sections are the targets (``--sections ghz,w``, default all); re-running some updates them
in ``results/quantum_fidelity.json`` (``--columns default,mps`` refits only those columns,
keeping the others of the stored rows; ``--povms``, ``--shots``, ``--seeds`` select rows),
saved after every row with the load average and wall time of each run (``summary``: the
table of :func:`summarise` over all stored rows; the file is re-read under a lock before
each write, so processes running different sections can share it), and prints the whole
table.  ``--quick``
(N = 4, Pauli-6, 1,000 and 3,000 shots, one seed, K = 5) writes
``results/quantum_fidelity_quick.json`` instead.

    python benchmarks/bench_quantum_fidelity.py [--sections ghz,tfim] [--n 4 6] [--quick]
    python benchmarks/bench_quantum_fidelity.py --columns default --n 8 --shots 3000 --seeds 0
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from _common import RESULTS, machine, print_table, save

import qgen
from qgen.datasets import Dataset, split_counts
from qgen.measurements import POVM, reconstruct_density_matrix
from qgen.scores.bootstrap import bootstrap_estimate
from qgen.scores.densities import fidelity_pure, project_to_density_matrix
from qgen.scores.tomography import linear_inversion, mle
from qgen.targets import DenseState
from qgen.workflows import fit

TARGETS = {
    "ghz": dict(kind="ghz"),
    "w": dict(kind="w"),
    "cluster": dict(kind="cluster"),
    "tfim": dict(kind="tfim", J=1.0, h=1.0),
    "ghz_noisy": dict(kind="ghz", noise=0.05),
}
NS = (4, 6, 8)
POVMS = ("pauli6", "pauli4")
SHOTS = (1_000, 3_000, 10_000, 30_000)
SEEDS = (0, 1, 2)
BOOTSTRAP_K = {4: 20, 6: 10, 8: 3}
"""Refits per bootstrap error, by N: an N = 8 fit takes 2–15 s on one free core (4–60 s on
the shared 2-core machine at load average 6–10), so N = 8 gets 3 refits; the error of a
bootstrap standard deviation from K refits is ~1/√(2(K − 1)) of it, 50 % at K = 3."""


def _mle(outcomes: np.ndarray, povm: POVM) -> tuple[np.ndarray, dict]:
    fit = mle(outcomes, povm)
    return fit.rho, {"iterations": fit.iterations, "converged": fit.converged, "gap": fit.gap}


RECONSTRUCTORS: dict[str, Callable[[np.ndarray, POVM], np.ndarray | tuple[np.ndarray, dict]]] = {
    "mle": _mle,
    "li": linear_inversion,
    "li_projected": lambda outcomes, povm: project_to_density_matrix(linear_inversion(outcomes, povm)),
}
"""name → fit(outcomes (S, N), povm) → ρ (2^N × 2^N), or (ρ, info dict): the columns."""
MODELS = {"default": None, "rnn": "rnn", "transformer": "transformer", "mps": "mps", "lpdo": "lpdo"}
"""Model columns: name → backend given to ``fit`` (None: fit's default)."""


def model_reconstructor(backend: str | None) -> Callable[[np.ndarray, POVM], tuple[np.ndarray, dict]]:
    """fit(outcomes, povm) → (ρ, info) through :func:`qgen.workflows.fit` with no tuning option."""

    def reconstruct(outcomes: np.ndarray, povm: POVM) -> tuple[np.ndarray, dict]:
        ds = Dataset(outcomes, povm, split_counts(len(outcomes), (0.1, 0.0)))
        with tempfile.TemporaryDirectory() as tmp:
            run = fit(ds, *(() if backend is None else (backend,)), out_dir=tmp, progress=False)
            model = run.best()
        with torch.no_grad():
            rho = model.to_dense() if model.exact_state else reconstruct_density_matrix(
                np.exp(model.log_prob_all().numpy()), povm)
        r = run.result
        return rho, {"model": model.name, "schedule": run.schedule, "epochs": len(r.history),
                     "best_epoch": r.best_epoch, "stop": r.stop_reason, "train_seconds": r.elapsed}

    return reconstruct


RECONSTRUCTORS |= {name: model_reconstructor(backend) for name, backend in MODELS.items()}
BOOTSTRAP_K_BY_NAME: dict[str, dict[int, int]] = {name: dict.fromkeys(NS, 0) for name in MODELS}
"""Per-reconstructor refit counts by N, overriding :data:`BOOTSTRAP_K` (costly backends)."""


def ideal_and_true(target: qgen.Target) -> tuple[np.ndarray, float]:
    """ψ_ideal (the noiseless state, normalised) and the exact ⟨ψ_ideal|ρ_true|ψ_ideal⟩."""
    state = target.state
    psi = state.to_dense()
    psi = psi / np.linalg.norm(psi)
    rho_true = DenseState(psi, noise=state.noise).density_matrix()
    return psi, fidelity_pure(rho_true, psi)


def score(name: str, outcomes: np.ndarray, povm: POVM, psi: np.ndarray, n: int, k: int, seed: int) -> dict:
    fit = RECONSTRUCTORS[name]
    t0 = time.perf_counter()
    out = fit(outcomes, povm)
    seconds = time.perf_counter() - t0
    rho, info = out if isinstance(out, tuple) else (out, {})
    k = BOOTSTRAP_K_BY_NAME.get(name, {}).get(n, k)

    def fidelity_of(y: np.ndarray) -> float:
        o = fit(y, povm)
        return fidelity_pure(o[0] if isinstance(o, tuple) else o, psi)

    point = fidelity_pure(rho, psi)
    if k == 0:
        return {"F": {"mean": point, "stderr": None, "n": len(outcomes), "note": "one fit, no bootstrap refits"},
                "seconds": seconds, **info}
    est = bootstrap_estimate(outcomes, fidelity_of, k=k, seed=seed, point=point)
    return {"F": est.to_dict(), "seconds": seconds, **info}


def run_target(name: str, ns: tuple[int, ...], povms: tuple[str, ...], shots: tuple[int, ...],
               seeds: tuple[int, ...], k_by_n: dict[int, int], columns: list[str], stored: list[dict],
               on_row: Callable[[list[dict]], None]) -> list[dict]:
    """Rows of target ``name`` with ``columns`` (re)computed; a stored row of the same
    (N, POVM, shots, seed) keeps its other columns."""
    rows = list(stored)
    index = {(r["n"], r["povm"], r["shots"], r["seed"]): i for i, r in enumerate(rows)}
    for n in ns:
        target = qgen.make_target(n=n, **TARGETS[name])
        psi, true = ideal_and_true(target)
        for povm_name in povms:
            povm = qgen.get_povm(povm_name)
            for s in shots:
                for seed in seeds:
                    x = qgen.simulate(target, povm, s, seed=seed, train_log_prob=False).outcomes
                    key = (n, povm_name, s, seed)
                    row = rows[index[key]] if key in index else {
                        "target": name, "n": n, "povm": povm_name, "shots": s, "seed": seed, "true": true,
                        "bootstrap_k": k_by_n[n]}
                    for rec in columns:
                        row[rec] = score(rec, x, povm, psi, n, k_by_n[n], seed)
                    if key not in index:
                        index[key] = len(rows)
                        rows.append(row)
                    on_row(rows)
                    print(f"  {name} N={n} {povm_name} S={s} seed={seed}: " + ", ".join(
                        f"{rec} {row[rec]['F']['mean']:.4f}" + (f" ± {row[rec]['F']['stderr']:.4f}"
                                                                if row[rec]["F"]["stderr"] is not None else "")
                        + f" ({row[rec]['seconds']:.0f} s)" for rec in columns), flush=True)
    return rows


def meets(default: float, mle: float, err: float) -> str:
    """``yes``, or ``no (−d)`` with d the shortfall of the default below MLE − err."""
    return "yes" if default >= mle - err else f"no (−{mle - err - default:.3f})"


def summarise(rows: list[dict]) -> list[dict]:
    """Per (target, N, POVM, shots): the mean over seeds of F and of its bootstrap error, and
    the standard deviation of F over the seeds (to compare with the bootstrap error); and
    whether the default pipeline reaches MLE − MLE's error (means over the seeds)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["n"], r["povm"], r["shots"]), []).append(r)
    table = []
    for (name, n, povm, s), rs in groups.items():
        line = {"target": name, "N": n, "POVM": povm, "shots": f"{s:,}", "true": f"{rs[0]['true']:.4f}",
                "seeds": len(rs)}
        for rec in RECONSTRUCTORS:
            have = [r for r in rs if rec in r]
            if not have:
                continue
            f = np.array([r[rec]["F"]["mean"] for r in have])
            errs = [r[rec]["F"]["stderr"] for r in have if r[rec]["F"]["stderr"] is not None]
            line[rec] = f"{f.mean():.4f}" + (f" ± {np.mean(errs):.4f}" if errs else "")
            line[f"{rec} sd"] = f"{f.std(ddof=1):.4f}" if len(f) > 1 else ""
        both = [r for r in rs if "default" in r and "mle" in r]
        if both:
            line["default ≥ MLE − err"] = meets(*(float(np.mean([r[c]["F"][k] for r in both])) for c, k in (
                ("default", "mean"), ("mle", "mean"), ("mle", "stderr"))))
            line["default s"] = f"{np.mean([r['default']['seconds'] for r in both]):.0f}"
        line["mle s"] = f"{np.mean([r['mle']['seconds'] for r in rs if 'mle' in r]):.2f}"
        line["unconv."] = sum(not r["mle"]["converged"] for r in rs if "mle" in r) or ""
        table.append(line)
    return table


def all_rows(sections: dict) -> list[dict]:
    """The rows of every section, each sorted by (N, POVM, shots)."""
    return [r for sec in sections.values() for r in sorted(sec["rows"], key=lambda r: (r["n"], r["povm"], r["shots"]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default=",".join(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    ap.add_argument("--n", type=int, nargs="+", default=list(NS), help="numbers of qubits")
    ap.add_argument("--povms", nargs="+", default=list(POVMS), choices=POVMS)
    ap.add_argument("--shots", type=int, nargs="+", default=list(SHOTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--columns", default=",".join(RECONSTRUCTORS),
                    help="comma-separated reconstructors to (re)compute: " + ",".join(RECONSTRUCTORS))
    ap.add_argument("--quick", action="store_true", help="N = 4, Pauli-6, 1,000 and 3,000 shots, 1 seed, K = 5")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    unknown = (set(chosen) - set(TARGETS)) | (set(columns) - set(RECONSTRUCTORS))
    if unknown:
        ap.error(f"unknown sections or columns {sorted(unknown)}")
    if args.quick:
        ns, povms, shots, seeds, k_by_n = (4,), ("pauli6",), (1_000, 3_000), (0,), {4: 5}
    else:
        ns, povms, shots, seeds, k_by_n = tuple(args.n), tuple(args.povms), tuple(args.shots), tuple(args.seeds), \
            BOOTSTRAP_K
    name = "quantum_fidelity_quick" if args.quick else "quantum_fidelity"
    path = RESULTS / f"{name}.json"
    sections = json.loads(path.read_text()).get("sections", {}) if path.is_file() else {}
    config = {"povms": povms, "shots": shots, "seeds": seeds, "bootstrap_k": k_by_n, "reconstructors": columns,
              "threads": os.environ.get("OMP_NUM_THREADS"),
              "fidelity": "⟨ψ_ideal|ρ|ψ_ideal⟩, no projection unless named"}
    for target in chosen:
        t0, load0 = time.perf_counter(), os.getloadavg()
        section = sections.setdefault(target, {"rows": []})
        label = " ".join(map(str, ns)) + ("" if columns == list(RECONSTRUCTORS) else f" [{','.join(columns)}]")

        def keep(rows: list[dict], section: dict = section, t0: float = t0, load0: tuple = load0,
                 label: str = label, target: str = target) -> None:  # after every row: rows, wall time, load
            section["rows"] = rows
            section.setdefault("runs", {})[label] = {
                "seconds": time.perf_counter() - t0, "load_average_start": load0, "load_average_end": os.getloadavg(),
                "config": config}
            with open(path.with_suffix(".lock"), "w") as lock:  # other processes may run other sections
                fcntl.flock(lock, fcntl.LOCK_EX)
                stored = json.loads(path.read_text()).get("sections", {}) if path.is_file() else {}
                sections.update(stored | {target: section})
                save(name, {"sections": sections, "summary": summarise(all_rows(sections))})

        run_target(target, ns, povms, shots, seeds, k_by_n, columns, section["rows"], keep)
        print(f"{target}: {time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    info = machine()
    table = summarise(all_rows(sections))
    present = [rec for rec in RECONSTRUCTORS if any(rec in line for line in table)]
    columns = ["target", "N", "POVM", "shots", "true"] + [c for rec in present for c in (rec, f"{rec} sd")]
    print_table(f"Quantum fidelity ⟨ψ|ρ|ψ⟩: mean over seeds ± mean bootstrap error; sd: standard deviation over "
                f"the seeds; {info['cores']} cores {info['cpu']}", table,
                columns + ["default ≥ MLE − err", "default s", "mle s", "unconv."])
    print(f"results saved to {RESULTS / f'{name}.json'}")


if __name__ == "__main__":
    main()
