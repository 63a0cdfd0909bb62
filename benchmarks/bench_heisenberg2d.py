"""The reference paper's second test system: the antiferromagnetic Heisenberg model
H = J Σ_⟨ij⟩ σ_i · σ_j (J = 1, Pauli units, E_S = E_σ/4) on the open 8 × 8 lattice, qubits
along the snake of :func:`qgen.targets.snake_sites`, from DMRG to the fidelity report.

A. DMRG (``ground_state(method="dmrg")`` on the exact MPO, bond dimension D = 29) at each χ of
   ``--chis``, each in its own process (peak RSS above the process's baseline, against
   :func:`qgen.resources.estimate_dmrg`): energy, variance ⟨H²⟩ − ⟨H⟩², discarded weight,
   sweeps, wall time.  The energy is extrapolated linearly in the variance to zero variance
   (least squares over the largest χ, ``--fit`` points) and compared with the loop-QMC value
   E_S/64 = −0.619033 of Lubasch, Cirac & Bañuls, PRB 90, 064425 (2014), App. C, Table III.
   ``--validate 6x6`` repeats A on the open 6 × 6 lattice, whose exact energy is known
   (E_σ = −86.9071441699763, VarBench Heisenberg/square_6_OO_36), to test the extrapolation.
B. ``--samples`` Pauli-4 strings of the largest-χ state (:func:`simulate_to_file`, exact ln P
   for the validation and test splits), the default RNN trained by :func:`qgen.workflows.fit` (its adaptive schedule)
   for ``--train-time``, and :func:`qgen.workflows.evaluate` on ``--eval-samples`` model samples (F_c,
   KL, energy and the chain correlations exact / model / data), plus lattice correlations
   C(d) = mean ⟨σz_(x,y) σz_(x+d,y)⟩ along x (sites through ``snake_sites``).  The
   certificate's gap E1 − E0 comes from a penalty DMRG at χ ≤ 32 (``--gap-chi``): the
   certificate needs E1 − E0 > √var0 + √var1, which the ground state's own √var0 ≈ 2 rules
   out at these χ, so a larger E1 computation would change nothing but the time.
C. Exact ln P (:func:`qgen.measurements.log_prob`) and exact sampling
   (:func:`qgen.measurements.sample`) throughput, strings per second, for each χ.

The load average (1, 5, 15 min) is recorded with every timing: the 2-core machine is shared.

    python benchmarks/bench_heisenberg2d.py [--chis 32 64 128] [--validate 6x6] [--train-time 600]

The recorded results: ``--chis 32 64 128 256 384 --skip pipeline`` (χ = 384: 46 min, 8.8 GiB),
``--skip dmrg cost --pipeline-chi 128 --samples 20000 --eval-samples 2000`` and
``--skip dmrg pipeline --chis 32 64 128 256 384 --cost-strings 200``, with ``--cache`` kept
between them; a χ whose row is saved and whose state is in the cache is not run again.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from _common import previous, print_table, save

from qgen.resources import estimate_dmrg, format_bytes
from qgen.targets import heisenberg_2d, snake_sites

QMC_PER_SITE = -0.619033  # E_S / N, open 8 × 8, Lubasch, Cirac & Bañuls, PRB 90, 064425 (2014), Table III
ED_6X6 = -86.9071441699763  # E_σ, open 6 × 6, exact diagonalisation (VarBench Heisenberg/square_6_OO_36)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _ramp(chi: int, extra: int) -> tuple[int, ...]:
    """16, 32, … below χ, then χ for ``extra`` + 1 sweeps."""
    return tuple(c for c in (16, 32, 64, 128, 256, 512) if c < chi) + (chi,) * (extra + 1)


def dmrg_job(lx: int, ly: int, chi: int, extra: int, cache: str) -> dict:
    """One DMRG run in a fresh process; saves the MPS to ``cache`` and returns its row."""
    from qgen.targets import ground_state
    from qgen.targets.target import _mpo_bond

    H = heisenberg_2d(lx, ly)
    H.to_mpo()  # quimb imported and warm: the baseline includes the libraries
    base, load, t0 = _rss(), _load(), time.perf_counter()
    ramp = _ramp(chi, extra)
    gs = ground_state(H, "dmrg", bond_dims=ramp, tol=1e-8, max_sweeps=len(ramp), cutoff=1e-11, seed=0)
    wall = time.perf_counter() - t0
    np.savez(Path(cache) / f"{lx}x{ly}_chi{chi}.npz", **{str(i): a for i, a in enumerate(gs.state.tensors)})
    est = estimate_dmrg(H.n_qubits, chi, _mpo_bond(H))
    n = lx * ly
    return {"lattice": f"{lx}x{ly}", "chi": chi, "E_sigma": gs.energy, "E_S/site": gs.energy / 4 / n,
            "variance": gs.variance, "trunc": gs.truncation_error, "sweeps": gs.n_sweeps,
            "converged": gs.converged, "wall_s": round(wall, 1), "peak_MiB": round((_rss() - base) / 2**20),
            "estimate_MiB": round(est / 2**20), "mpo_bond": _mpo_bond(H), "load": load}


def extrapolate(rows: list[dict], n_fit: int) -> dict:
    """E(var) = E0 + a·var by least squares over the ``n_fit`` rows of largest χ; the
    standard error of E0 from the residuals when there are more points than parameters."""
    pts = sorted(rows, key=lambda r: r["chi"])[-n_fit:]
    v, e = np.array([r["variance"] for r in pts]), np.array([r["E_sigma"] for r in pts])
    A = np.stack([np.ones_like(v), v], axis=1)
    coef, *_ = np.linalg.lstsq(A, e, rcond=None)
    err = None
    if len(pts) > 2:
        resid = e - A @ coef
        cov = np.linalg.inv(A.T @ A) * (resid @ resid) / (len(pts) - 2)
        err = float(np.sqrt(cov[0, 0]))
    return {"chis": [r["chi"] for r in pts], "E0_sigma": float(coef[0]), "slope": float(coef[1]), "stderr": err}


def dmrg_section(lx: int, ly: int, chis: list[int], extra: int, cache: str, n_fit: int, reference: float,
                 ref_name: str, saved: list[dict]) -> dict:
    """DMRG at each χ; a χ whose row is in ``saved`` and whose state is in ``cache`` is not run again."""
    rows = []
    for chi in chis:
        old = [r for r in saved if r["chi"] == chi and r["lattice"] == f"{lx}x{ly}"]
        if old and (Path(cache) / f"{lx}x{ly}_chi{chi}.npz").exists():
            rows.append(old[0])
            print(f"  {lx}x{ly} chi={chi}: saved row and state reused", flush=True)
            continue
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            rows.append(pool.submit(dmrg_job, lx, ly, chi, extra, cache).result())
        print(f"  {lx}x{ly} chi={chi}: E = {rows[-1]['E_sigma']:.6f}, var = {rows[-1]['variance']:.4g}, "
              f"{rows[-1]['wall_s']} s, load {rows[-1]['load']}", flush=True)
    fit = extrapolate(rows, min(n_fit, len(rows))) if len(rows) >= 2 else None
    n = lx * ly
    shown = [{**r, "E_sigma": f"{r['E_sigma']:.6f}", "E_S/site": f"{r['E_S/site']:.6f}",
              "variance": f"{r['variance']:.4g}", "trunc": f"{r['trunc']:.1e}",
              "memory": f"{r['peak_MiB']} / {r['estimate_MiB']} MiB"} for r in rows]
    if fit:
        err = f" ± {fit['stderr'] / 4 / n:.6f}" if fit["stderr"] is not None else ""
        shown.append({"chi": f"var→0 ({','.join(map(str, fit['chis']))})", "E_sigma": f"{fit['E0_sigma']:.6f}",
                      "E_S/site": f"{fit['E0_sigma'] / 4 / n:.6f}{err}"})
    shown.append({"chi": ref_name, "E_sigma": f"{reference:.6f}", "E_S/site": f"{reference / 4 / n:.6f}"})
    print_table(f"DMRG, open {lx} x {ly} Heisenberg (snake MPS, MPO bond {rows[0]['mpo_bond']})", shown,
                ["chi", "E_sigma", "E_S/site", "variance", "trunc", "sweeps", "wall_s", "memory", "load"])
    return {"rows": rows, "extrapolation": fit, "reference": {"E_sigma": reference, "source": ref_name}}


def lattice_zz(lx: int, ly: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """C(d) = mean over (x, y) of σz_(x,y) σz_(x+d,y), d = 1 … lx − 1, as (coefs, ops) lists."""
    sites = snake_sites(lx, ly)
    coefs, opss = [], []
    for d in range(1, lx):
        pairs = [(sites[x, y], sites[x + d, y]) for x in range(lx - d) for y in range(ly)]
        ops = np.zeros((len(pairs), lx * ly), dtype=np.int8)
        for k, (i, j) in enumerate(pairs):
            ops[k, [i, j]] = 3
        coefs.append(np.full(len(pairs), 1.0 / len(pairs)))
        opss.append(ops)
    return coefs, opss


def _est(e) -> str:
    return "n/a" if not e.available else f"{e.mean:.4f} ± {e.stderr:.4f}"


def pipeline_section(state_path: Path, chi: int, n_samples: int, train_time: float, gap_chi: int, seed: int,
                     n_eval: int, out: Path) -> dict:
    import torch

    from qgen.datasets import read_dataset, simulate_to_file
    from qgen.measurements import pauli4
    from qgen.scores.observables import exact_observables, observables
    from qgen.targets import read_mps_npz, spectral_gap, target_from_hamiltonian
    from qgen.targets.solvers import GroundState, mps_energy_variance
    from qgen.workflows import evaluate, fit

    H = heisenberg_2d(8, 8)
    mps = read_mps_npz(state_path)
    energy, variance = mps_energy_variance(H, mps)
    ground = GroundState(mps, energy, variance, "dmrg", mps.max_bond, 0.0, 0, False)
    target = target_from_hamiltonian(H, "heisenberg2d", ground=ground)
    data = out / "heis8x8.h5"
    load, t0 = _load(), time.perf_counter()
    simulate_to_file(data, target, pauli4(), n_samples, seed=seed, train_log_prob=False)
    t_sim = time.perf_counter() - t0
    print(f"  simulated {n_samples:,} strings in {t_sim:.0f} s", flush=True)
    torch.manual_seed(seed)
    load_train, t0 = _load(), time.perf_counter()
    run = fit(data, "rnn", out / "run", seed=seed, progress=False, max_time=train_time)
    t_train = time.perf_counter() - t0
    print(f"  trained in {t_train:.0f} s", flush=True)
    ds = read_dataset(data)
    t0 = time.perf_counter()
    gap = spectral_gap(H, ground, "dmrg", bond_dims=_ramp(gap_chi, 1), max_sweeps=6, tol=1e-6)
    ds.target.info["gap"] = gap.to_dict()  # the certificate's cache (qgen.scores.certificates)
    t_gap = time.perf_counter() - t0
    print(f"  gap in {t_gap:.0f} s", flush=True)
    model = run.best()
    load_eval, t0 = _load(), time.perf_counter()
    report = evaluate(model, ds, n_samples=n_eval, seed=seed)
    t_eval = time.perf_counter() - t0
    x_model = model.sample(n_eval, generator=torch.Generator().manual_seed(seed + 1))[0].numpy()
    coefs, opss = lattice_zz(8, 8)
    c_exact = exact_observables(ds.target.state, coefs, opss)
    c_model = observables(x_model, ds.povm, coefs, opss)
    c_data = observables(ds.train, ds.povm, coefs, opss)
    s, obs = report.scores, report.observables
    e_exact, e_model, e_data = obs["energy"].exact[0], obs["energy"].model[0], obs["energy"].data[0]
    rows = [{"quantity": "F_c", "value": _est(s.classical_fidelity)},
            {"quantity": "KL(P‖q)", "value": _est(s.kl_target_model)},
            {"quantity": "KL(q‖P)", "value": _est(s.kl_model_target)},
            {"quantity": "quantum fidelity (estimate)", "value": _est(s.quantum_fidelity)},
            {"quantity": "energy exact (DMRG state)", "value": f"{e_exact:.4f}"},
            {"quantity": "energy model", "value": _est(e_model)},
            {"quantity": "energy raw data", "value": _est(e_data)},
            {"quantity": "certificate", "value": _est(report.certificate.model.bound)
             + ("" if report.certificate.model.bound.available else f" ({report.certificate.model.bound.note})")}]
    rows += [{"quantity": f"lattice C({d}) exact / model / data",
              "value": f"{c_exact[d - 1]:.4f} / {_est(c_model[d - 1])} / {_est(c_data[d - 1])}"} for d in range(1, 8)]
    corr = obs["correlation_zz"]
    rows += [{"quantity": f"chain C({r}) exact / model",
              "value": f"{corr.exact[r - 1]:.4f} / {_est(corr.model[r - 1])}"} for r in (1, 2, 8, 16)]
    print_table(f"RNN on {n_samples:,} Pauli-4 strings of the chi = {chi} state (simulate {t_sim:.0f} s, train "
                f"{t_train:.0f} s, gap {t_gap:.0f} s, evaluate {t_eval:.0f} s)", rows, ["quantity", "value"])
    return {"chi": chi, "n_samples": n_samples, "simulate_s": round(t_sim, 1), "train_s": round(t_train, 1),
            "gap_s": round(t_gap, 1), "evaluate_s": round(t_eval, 1), "load_simulate": load,
            "load_train": load_train, "load_evaluate": load_eval, "fit": run.summary(), "gap": gap.to_dict(),
            "report": report.to_dict(), "table": rows,
            "lattice_zz": {"exact": c_exact.tolist(), "model": [e.to_dict() for e in c_model],
                           "data": [e.to_dict() for e in c_data]}}


def cost_section(cache: str, chis: list[int], n: int) -> list[dict]:
    from qgen.measurements import log_prob, pauli4, sample
    from qgen.targets import read_mps_npz

    rows = []
    for chi in chis:
        mps = read_mps_npz(Path(cache) / f"8x8_chi{chi}.npz")
        log_prob(mps, pauli4(), sample(mps, pauli4(), 10, seed=0))  # first-call set-up outside the timing
        load, t0 = _load(), time.perf_counter()
        x = sample(mps, pauli4(), n, seed=1)
        t_sample = time.perf_counter() - t0
        t0 = time.perf_counter()
        lp = log_prob(mps, pauli4(), x)
        t_lp = time.perf_counter() - t0
        assert np.all(np.isfinite(lp))
        rows.append({"chi": chi, "strings": n, "sample/s": float(f"{n / t_sample:.3g}"),
                     "ln P/s": float(f"{n / t_lp:.3g}"),
                     "load": load})
    print_table("Exact sampling and ln P of the 8 x 8 MPS (Pauli-4), strings per second", rows,
                ["chi", "strings", "sample/s", "ln P/s", "load"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chis", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--extra-sweeps", type=int, default=2, help="sweeps at the final χ after the first")
    ap.add_argument("--fit", type=int, default=3, help="points (largest χ) in the variance extrapolation")
    ap.add_argument("--validate", nargs="*", default=[], choices=["6x6"])
    ap.add_argument("--pipeline-chi", type=int, default=None, help="χ of the state in B (default: the largest)")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--train-time", type=float, default=600.0)
    ap.add_argument("--eval-samples", type=int, default=20_000, help="model samples for evaluate")
    ap.add_argument("--gap-chi", type=int, default=32)
    ap.add_argument("--cost-strings", type=int, default=2000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["dmrg", "pipeline", "cost"])
    ap.add_argument("--cache", default=None, help="directory for the DMRG states (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cache = args.cache or tempfile.mkdtemp(prefix="heis2d_")
    Path(cache).mkdir(parents=True, exist_ok=True)
    kept = previous("heisenberg2d")
    payload: dict = {"args": vars(args) | {"cache": cache}}

    def store() -> Path:
        """Save the sections run now over the file as it is at this moment: sections skipped here, or
        written meanwhile by another run, keep their results."""
        on_disk = {k: v for k, v in previous("heisenberg2d").items() if k != "machine"}
        return save("heisenberg2d", on_disk | payload)

    if "dmrg" not in args.skip:
        payload["dmrg_8x8"] = dmrg_section(8, 8, args.chis, args.extra_sweeps, cache, args.fit, 256 * QMC_PER_SITE,
                                           "QMC (Lubasch et al. 2014)", kept.get("dmrg_8x8", {}).get("rows", []))
        store()
    if "pipeline" not in args.skip:
        with tempfile.TemporaryDirectory() as d:
            chi = args.pipeline_chi or max(args.chis)
            payload["pipeline"] = pipeline_section(Path(cache) / f"8x8_chi{chi}.npz", chi, args.samples,
                                                   args.train_time, args.gap_chi, args.seed, args.eval_samples,
                                                   Path(d))
        store()
    if "cost" not in args.skip:
        payload["cost"] = cost_section(cache, args.chis, args.cost_strings)
        store()
    for lattice in args.validate:
        payload[f"dmrg_{lattice}"] = dmrg_section(6, 6, args.chis, args.extra_sweeps, cache, args.fit, ED_6X6,
                                                  "exact (VarBench)", kept.get(f"dmrg_{lattice}", {}).get("rows", []))
        store()
    print(f"results saved to {store()}; DMRG states in {cache} "
          f"(peak memory of this process {format_bytes(_rss())})")


if __name__ == "__main__":
    main()
