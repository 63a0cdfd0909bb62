"""qgen next to qiskit-experiments' StateTomography on the same shots, and the device
data path at scale.

Small (``--only small``): GHZ and a random shallow circuit at N = 2–6.  The
StateTomography experiment (3^N Pauli settings × ``--shots-per-setting``) runs on Aer
with a fake device's noise model (``--noise``, default fake_sherbrooke).  The same
counts go to

* qiskit-experiments' fitters: ``linear_inversion`` and the PSD-constrained
  ``cvxpy_gaussian_lstsq`` (needs cvxpy), each with its fidelity to the ideal state and,
  where affordable, its bootstrap standard error (``target_bootstrap_samples``);
* qgen: :func:`qgen.qiskit_io.from_tomography`, the circuit's ideal state attached, then
  ``RECONSTRUCTOR`` (a function ``(dataset, seed) -> dict``; today the default pipeline,
  ``fit`` with no tuning option, and the exact fidelity of the state it reconstructs), and
  qgen's maximum-likelihood tomography (:func:`qgen.scores.tomography.mle`) of the same
  imported shots.

The reference is the fidelity of the state Aer actually prepares (the transpiled circuit
with the device's gate noise, density-matrix method, on the experiment's physical
qubits); the tomographies also see the readout errors, which the reference does not.

Scale (``--only scale``): GHZ at N = 8, 10, 12, 20, 50 with the noise model (Aer's MPS
method above 24 qubits): ``qgen.devices.measure`` with a random basis per shot
(``--scale-shots``, default 20,000): time and peak memory of the data path (circuit →
MPS target, transpile, SamplerV2, dataset with exact ln P), each case in its own process.
qiskit-experiments on the same number of shots (3^N settings) runs where it can
(``--tomo-scale-n``, default 8, with a time limit) and is otherwise reported with the
reason (its circuits, its parameters and the dense ρ it fits).  ``SCALE_RECONSTRUCTOR``
is the pluggable qgen reconstruction column (None today: not run).

    python benchmarks/bench_qiskit.py [--only small|scale] [--n 2 3 4] [--scale-n 8 50]

Today's figures (2026-12-03, 2 shared cores, load average 6–10 from other jobs) come from
``--only small`` (GHZ 2–5; GHZ 6 and the random circuits were re-run with ``--name`` after
the cvxpy fitter was killed for memory at GHZ-6) and ``--only scale --scale-shots 2000
--timeout 900``: per-shot bases cost one Aer execution per shot (20–100 ms each here with
the noise model), so 20,000 shots per case did not fit the session; the seconds scale
linearly with the shots.

Prints tables and saves ``benchmarks/results/qiskit.json`` (sections merged into an
existing file).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from _common import RESULTS, peak_rss_mb, print_table, save

warnings.filterwarnings("ignore")


def ghz_circuit(n: int):
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(n, name=f"ghz{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    return qc


def random_shallow(n: int):
    from qiskit.circuit.random import random_circuit

    qc = random_circuit(n, 3, max_operands=2, seed=100 + n)
    qc.name = f"random{n}"
    return qc


def default_reconstructor(ds, seed: int = 0) -> dict:
    """The default pipeline, :func:`qgen.workflows.fit` with no tuning option (its default
    model for N ≤ 12 is the LPDO tensor network, sized and scheduled by the number of
    shots), on the training split; then the exact fidelity of the model's state, the
    smallest eigenvalue of its density matrix and the exact F_c by enumeration."""
    from qgen.scores import enumerate_strings, exact_scores
    from qgen.workflows import fit, model_log_prob

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        run = fit(ds, out_dir=d, seed=seed, progress=False)
        model = run.best()
    ex = exact_scores(model_log_prob(model, enumerate_strings(ds.povm.n_outcomes, ds.n_qubits)), ds.target.state,
                      ds.povm)
    lowest = float(np.linalg.eigvalsh(model.to_dense())[0])
    return {"fidelity": model.fidelity(ds.target.state), "min_eigenvalue": lowest,
            "classical_fidelity": ex["classical_fidelity"].mean, "epochs": len(run.result.history),
            "seconds": time.perf_counter() - t0, "schedule": run.schedule,
            "method": f"fit's default ({model.name}), exact ⟨ψ|ρ|ψ⟩ of its state"}


CVXPY_MAX_N = 5
RECONSTRUCTOR = default_reconstructor
SCALE_RECONSTRUCTOR = None


def noisy_state_fidelity(qc, fake) -> float:
    """⟨ψ|ρ|ψ⟩ of the state Aer prepares from the transpiled circuit (gate noise, no readout)."""
    from qiskit import transpile
    from qiskit.quantum_info import Statevector, state_fidelity
    from qiskit_aer import AerSimulator

    tqc = transpile(qc, backend=fake, initial_layout=list(range(qc.num_qubits)), optimization_level=1,
                    seed_transpiler=0)
    where = tqc.layout.final_index_layout()
    tqc.save_density_matrix(qubits=where)
    rho = AerSimulator.from_backend(fake, method="density_matrix").run(tqc).result().data()["density_matrix"]
    return float(state_fidelity(rho, Statevector(qc)))


def tomography_fits(expdata, exp, n: int) -> list[dict]:
    rows = []
    for fitter, boot in (("linear_inversion", 10 if n <= 5 else 0), ("cvxpy_gaussian_lstsq", 10 if n <= 3 else 0)):
        if fitter.startswith("cvxpy") and n > CVXPY_MAX_N:
            rows.append({"fitter": fitter,
                         "note": f"not run above N = {CVXPY_MAX_N}: at N = 6 it was killed for memory "
                                 "(20.8 GB resident on this 24 GB machine, 2026-12-03)"})
            continue
        if fitter.startswith("cvxpy"):
            try:
                import cvxpy  # noqa: F401
            except ImportError:
                rows.append({"fitter": fitter, "note": "n/a: cvxpy not installed"})
                continue
        exp.analysis.set_options(fitter=fitter, target_bootstrap_samples=boot, target_bootstrap_seed=0)
        t0 = time.perf_counter()
        done = exp.analysis.run(expdata, replace_results=True).block_for_results()
        fit = done.analysis_results("state_fidelity", dataframe=True).iloc[0]
        value = fit["value"]
        err = getattr(value, "std_dev", None)
        rows.append({"fitter": fitter, "fidelity": float(getattr(value, "nominal_value", value)),
                     "stderr": None if err is None or not np.isfinite(err) else float(err), "bootstrap": boot,
                     "seconds": time.perf_counter() - t0})
    return rows


def small_case(kind: str, n: int, shots: int, noise: str, seed: int) -> dict:
    from qiskit_aer import AerSimulator
    from qiskit_experiments.library import StateTomography

    from qgen.datasets.qiskit import from_tomography
    from qgen.scores.densities import fidelity_pure
    from qgen.scores.tomography import mle
    from qgen.targets.circuits import circuit_target
    from qgen.workflows.backends import fake_backend

    fake = fake_backend(noise)
    qc = (ghz_circuit if kind == "ghz" else random_shallow)(n)
    exp = StateTomography(qc)
    t0 = time.perf_counter()
    expdata = exp.run(AerSimulator.from_backend(fake), shots=shots, seed_simulator=seed,
                      analysis=None).block_for_results()
    run_s = time.perf_counter() - t0
    fits = tomography_fits(expdata, exp, n)
    t0 = time.perf_counter()
    ds = from_tomography(expdata, seed=seed, target=circuit_target(qc))
    import_s = time.perf_counter() - t0
    qgen = RECONSTRUCTOR(ds, seed=seed)
    t0 = time.perf_counter()
    qgen_mle = {"fidelity": fidelity_pure(mle(ds.outcomes, ds.povm).rho, ds.target.state.to_dense()),
                "seconds": time.perf_counter() - t0}
    return {"circuit": kind, "N": n, "settings": 3**n, "shots": 3**n * shots, "aer_run_s": run_s,
            "reference_fidelity": noisy_state_fidelity(qc, fake), "fits": fits, "qgen_import_s": import_s,
            "qgen": qgen, "qgen_mle": qgen_mle}


def scale_worker(n: int, shots: int, noise: str, seed: int, settings: int = 0) -> dict:
    """One process: qgen's data path for GHZ-N (time, peak RSS); ``settings`` 0: a
    random basis per shot."""
    from qgen.workflows.devices import measure

    t0 = time.perf_counter()
    ds = measure(ghz_circuit(n), shots, noise_model=noise, seed=seed, settings=settings or None)
    seconds = time.perf_counter() - t0
    out = {"N": n, "shots": shots, "settings": settings or "per shot", "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
           "target_max_bond": ds.target.info["max_bond"], "finite_lnP": float(np.isfinite(ds.log_prob).mean()),
           "physical_qubits": ds.meta["source"]["physical_qubits"], "warnings": ds.meta.get("warnings", [])}
    if SCALE_RECONSTRUCTOR is not None:
        out["qgen_reconstruction"] = SCALE_RECONSTRUCTOR(ds, seed=seed)
    return out


def tomo_scale_worker(n: int, shots: int, noise: str, seed: int, settings: int = 0) -> dict:
    """One process: qiskit-experiments StateTomography of GHZ-N with ~shots in total."""
    from qiskit_aer import AerSimulator
    from qiskit_experiments.library import StateTomography

    from qgen.workflows.backends import fake_backend

    per = max(1, round(shots / 3**n))
    exp = StateTomography(ghz_circuit(n))
    exp.analysis.set_options(fitter="linear_inversion")
    t0 = time.perf_counter()
    expdata = exp.run(AerSimulator.from_backend(fake_backend(noise)), shots=per, seed_simulator=seed,
                      analysis=None).block_for_results()
    run_s = time.perf_counter() - t0
    fit = tomography_fits(expdata, exp, 99)[0]
    return {"N": n, "shots": per * 3**n, "run_s": run_s, "fit_s": fit["seconds"], "fidelity": fit["fidelity"],
            "peak_rss_mb": peak_rss_mb()}


def in_process(worker: str, args: list, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", worker, *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"error": f"not finished in {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}


def tomography_cost(n: int) -> dict:
    """What StateTomography needs at N qubits: circuits, parameters, the dense ρ."""
    return {"circuits": 3**n, "parameters": 4**n - 1, "density_matrix_bytes": 16 * 4**n}


def fmt(x, digits=4):
    return "—" if x is None else f"{x:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["small", "scale"])
    ap.add_argument("--n", type=int, nargs="+", default=[2, 3, 4, 5, 6])
    ap.add_argument("--circuits", nargs="+", default=["ghz", "random"])
    ap.add_argument("--shots-per-setting", type=int, default=200)
    ap.add_argument("--scale-n", type=int, nargs="+", default=[8, 10, 12, 20, 50])
    ap.add_argument("--scale-shots", type=int, default=20_000)
    ap.add_argument("--tomo-scale-n", type=int, nargs="*", default=[8])
    ap.add_argument("--timeout", type=float, default=1800.0, help="per scale case (s)")
    ap.add_argument("--noise", default="fake_sherbrooke")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="qiskit", help="results/NAME.json")
    ap.add_argument("--scale-settings", type=int, default=0, help="qgen design at scale: 0 = random basis per shot")
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, n, shots, noise, seed, settings = args.worker
        job = scale_worker if kind == "scale" else tomo_scale_worker
        print(json.dumps(job(int(n), int(shots), noise, int(seed), int(settings))))
        return
    path = RESULTS / f"{args.name}.json"

    def store(section: str, value: dict) -> None:  # merged into the file as it is now (sections run apart)
        payload = json.loads(path.read_text()) if path.exists() else {}
        payload.pop("machine", None)
        save(args.name, payload | {section: value})

    load = lambda: " ".join(open("/proc/loadavg").read().split()[:3])  # noqa: E731
    if args.only in (None, "small"):
        rows, table = [], []
        for kind in args.circuits:
            for n in args.n:
                r = small_case(kind, n, args.shots_per_setting, args.noise, args.seed)
                r["loadavg"] = load()
                rows.append(r)
                fits = {f["fitter"]: f for f in r["fits"]}
                cell = lambda f: (fmt(f.get("fidelity")) + (f" ± {f['stderr']:.4f}" if f.get("stderr") else "")  # noqa: E731
                                  + f" ({f['seconds']:.1f} s)") if "fidelity" in f else f.get("note", "")
                table.append({"circuit": kind, "N": n, "shots": f"{r['shots']:,}",
                              "Aer F (state)": fmt(r["reference_fidelity"]),
                              "linear inversion": cell(fits["linear_inversion"]),
                              "cvxpy PSD": cell(fits["cvxpy_gaussian_lstsq"]),
                              "qgen default F (exact)": f"{fmt(r['qgen']['fidelity'])} ({r['qgen']['seconds']:.0f} s, "
                                                    f"{r['qgen']['epochs']} ep.)",
                              "qgen λ_min": fmt(r["qgen"]["min_eigenvalue"]),
                              "qgen MLE F": fmt(r["qgen_mle"]["fidelity"]), "load": r["loadavg"]})
                print_table("StateTomography shots → qiskit-experiments fitters and qgen", table, list(table[0]))
                store("small", {"noise": args.noise, "shots_per_setting": args.shots_per_setting, "rows": rows})
    if args.only in (None, "scale"):
        rows, table = [], []
        for n in args.scale_n:
            q = in_process("scale", [n, args.scale_shots, args.noise, args.seed, args.scale_settings], args.timeout)
            cost = tomography_cost(n)
            if n in args.tomo_scale_n:
                t = in_process("tomo", [n, args.scale_shots, args.noise, args.seed, 0], args.timeout)
            else:
                t = {"not_run": f"{cost['circuits']:,} circuits, {cost['parameters']:,} parameters, dense ρ "
                                f"{cost['density_matrix_bytes'] / 2**30:.3g} GiB"}
            rows.append({"N": n, "qgen": q, "qiskit_experiments": t, "tomography_cost": cost, "loadavg": load()})
            ours = q.get("error") or f"{q['seconds']:.0f} s, {q['peak_rss_mb']:.0f} MB"
            theirs = (t.get("error") or t.get("not_run")
                      or f"run {t['run_s']:.0f} s + fit {t['fit_s']:.0f} s, {t['peak_rss_mb']:.0f} MB, "
                         f"F={t['fidelity']:.3f}")
            table.append({"N": n, "qgen measure→dataset": ours, "qiskit-experiments": theirs,
                          "qgen reconstruction": "pluggable: not run" if SCALE_RECONSTRUCTOR is None else "see JSON",
                          "load": rows[-1]["loadavg"]})
            print_table(f"GHZ, {args.scale_shots:,} shots, {args.noise} noise (random basis per shot for qgen)", table,
                        list(table[0]))
            store("scale", {"noise": args.noise, "shots": args.scale_shots, "rows": rows})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
