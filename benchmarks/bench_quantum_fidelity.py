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

Adding a generative backend: add ``RECONSTRUCTORS["rnn"] = fit`` with ``fit(outcomes,
povm) -> ρ_q``, e.g. train on ``outcomes`` (split off a validation part as needed) and
return ``qgen.measurements.reconstruct_density_matrix(q, povm)`` with q the model's probabilities
of all K^N strings; ``BOOTSTRAP_K_BY_NAME["rnn"] = {4: 3, 6: 3, 8: 2}`` sets its refit
count.  A reconstructor may return ``(ρ, info)`` with a JSON-able dict stored in the row.

Sections are the targets (``--sections ghz,w``, default all); re-running some updates them
in ``results/quantum_fidelity.json`` (saved after every row, with the load average and
wall time of each run, by N) and prints the whole table.  ``--quick`` (N = 4, Pauli-6, 1,000 and 3,000
shots, one seed, K = 5) writes ``results/quantum_fidelity_quick.json`` instead.

    python benchmarks/bench_quantum_fidelity.py [--sections ghz,tfim] [--n 4 6] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import numpy as np
from _common import RESULTS, machine, print_table, save

import qgen
from qgen.measurements import POVM
from qgen.scores.bootstrap import bootstrap_estimate
from qgen.scores.densities import fidelity_pure, project_to_density_matrix
from qgen.scores.tomography import linear_inversion, mle
from qgen.targets import DenseState

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
BOOTSTRAP_K_BY_NAME: dict[str, dict[int, int]] = {}
"""Per-reconstructor refit counts by N, overriding :data:`BOOTSTRAP_K` (costly backends)."""


def ideal_and_true(target: qgen.Target) -> tuple[np.ndarray, float]:
    """ψ_ideal (the noiseless state, normalised) and the exact ⟨ψ_ideal|ρ_true|ψ_ideal⟩."""
    state = target.state
    psi = state.to_dense() if isinstance(state, qgen.MPS) else state.data
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

    est = bootstrap_estimate(outcomes, fidelity_of, k=k, seed=seed, point=fidelity_pure(rho, psi))
    return {"F": est.to_dict(), "seconds": seconds, **info}


def run_target(name: str, ns: tuple[int, ...], povms: tuple[str, ...], shots: tuple[int, ...],
               seeds: tuple[int, ...], k_by_n: dict[int, int], on_row: Callable[[list[dict]], None]) -> list[dict]:
    rows: list[dict] = []
    for n in ns:
        target = qgen.make_target(n=n, **TARGETS[name])
        psi, true = ideal_and_true(target)
        for povm_name in povms:
            povm = qgen.get_povm(povm_name)
            for s in shots:
                for seed in seeds:
                    x = qgen.simulate(target, povm, s, seed=seed, train_log_prob=False).outcomes
                    row = {"target": name, "n": n, "povm": povm_name, "shots": s, "seed": seed, "true": true,
                           "bootstrap_k": k_by_n[n]}
                    for rec in RECONSTRUCTORS:
                        row[rec] = score(rec, x, povm, psi, n, k_by_n[n], seed)
                    rows.append(row)
                    on_row(rows)
                    print(f"  {name} N={n} {povm_name} S={s} seed={seed}: " + ", ".join(
                        f"{rec} {row[rec]['F']['mean']:.4f} ± {row[rec]['F']['stderr']:.4f}" for rec in RECONSTRUCTORS)
                        + f" ({row['mle']['seconds']:.1f} s per MLE fit)", flush=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per (target, N, POVM, shots): the mean over seeds of F and of its bootstrap error, and
    the standard deviation of F over the seeds (to compare with the bootstrap error)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["target"], r["n"], r["povm"], r["shots"]), []).append(r)
    table = []
    for (name, n, povm, s), rs in groups.items():
        line = {"target": name, "N": n, "POVM": povm, "shots": f"{s:,}", "true": f"{rs[0]['true']:.4f}"}
        for rec in RECONSTRUCTORS:
            f = np.array([r[rec]["F"]["mean"] for r in rs])
            boot = float(np.mean([r[rec]["F"]["stderr"] for r in rs]))
            line[rec] = f"{f.mean():.4f} ± {boot:.4f}"
            line[f"{rec} sd"] = f"{f.std(ddof=1):.4f}" if len(f) > 1 else ""
        line["mle s"] = f"{np.mean([r['mle']['seconds'] for r in rs]):.2f}"
        line["unconv."] = sum(not r["mle"]["converged"] for r in rs) or ""
        table.append(line)
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default=",".join(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    ap.add_argument("--n", type=int, nargs="+", default=list(NS), help="numbers of qubits")
    ap.add_argument("--quick", action="store_true", help="N = 4, Pauli-6, 1,000 and 3,000 shots, 1 seed, K = 5")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(chosen) - set(TARGETS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}")
    if args.quick:
        ns, povms, shots, seeds, k_by_n = (4,), ("pauli6",), (1_000, 3_000), (0,), {4: 5}
    else:
        ns, povms, shots, seeds, k_by_n = tuple(args.n), POVMS, SHOTS, SEEDS, BOOTSTRAP_K
    name = "quantum_fidelity_quick" if args.quick else "quantum_fidelity"
    path = RESULTS / f"{name}.json"
    sections = json.loads(path.read_text()).get("sections", {}) if path.is_file() else {}
    config = {"povms": povms, "shots": shots, "seeds": seeds, "bootstrap_k": k_by_n,
              "reconstructors": list(RECONSTRUCTORS), "threads": os.environ.get("OMP_NUM_THREADS"),
              "fidelity": "⟨ψ_ideal|ρ|ψ_ideal⟩, no projection unless named"}
    for target in chosen:
        t0, load0 = time.perf_counter(), os.getloadavg()
        section = sections.setdefault(target, {"rows": []})
        old = [r for r in section["rows"] if r["n"] not in ns]

        def keep(rows: list[dict], section: dict = section, old: list = old, t0: float = t0,
                 load0: tuple = load0) -> None:  # after every row: rows, wall time, load
            section["rows"] = old + rows
            section.setdefault("runs", {})[" ".join(map(str, ns))] = {
                "seconds": time.perf_counter() - t0, "load_average_start": load0, "load_average_end": os.getloadavg(),
                "config": config}
            save(name, {"sections": sections})

        run_target(target, ns, povms, shots, seeds, k_by_n, keep)
        print(f"{target}: {time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = [r for sec in sections.values() for r in sorted(sec["rows"], key=lambda r: (r["n"], r["povm"],
                                                                                        r["shots"]))]
    info = machine()
    columns = ["target", "N", "POVM", "shots", "true"] + [c for rec in RECONSTRUCTORS for c in (rec, f"{rec} sd")]
    print_table(f"Quantum fidelity ⟨ψ|ρ|ψ⟩: mean over seeds ± mean bootstrap error; sd: standard deviation over "
                f"the seeds; {info['cores']} cores {info['cpu']}", summarise(rows), columns + ["mle s", "unconv."])
    print(f"results saved to {RESULTS / f'{name}.json'}")


if __name__ == "__main__":
    main()
