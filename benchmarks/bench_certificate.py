"""The gap certificate F ≥ 1 − (⟨H⟩ − E0)/(E1 − E0) on the 50-qubit open TFIM (J = 1) at
h = 1 (critical, Δ ≈ 0.062) and h = 2 (paramagnet, Δ ≈ 2.007).

Per field: the DMRG ground state and the penalty-DMRG first excited state (against the
free-fermion E0 and ε_min); 100k Pauli-4 samples; the default RNN trained under a
wall-clock budget; F_c from ``qgen.evaluation.evaluate`` (20k model samples); ⟨H⟩ from
``--energy-samples`` model samples and from the raw training data; the bound from each.
The model's bound is about ρ_q, which need not be a physical state (the stated
assumption); the raw-data bound is about the state actually measured.

    python benchmarks/bench_certificate.py [--fields 1 2] [--max-time 2m] [--samples 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import print_table, save

from qgen.datasets import simulate
from qgen.measurements import pauli4
from qgen.models import create_model
from qgen.scores import certificate, observable
from qgen.targets import make_target
from qgen.training import TrainConfig, parse_duration, train
from qgen.workflows import evaluate, model_sample

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import tfim_open_energy, tfim_open_gap  # noqa: E402  (independent free fermions)


def one_field(n: int, h: float, n_samples: int, max_time: float, energy_samples: int,
              seed: int) -> tuple[dict, dict]:
    t0 = time.perf_counter()
    target = make_target("tfim", n=n, J=1.0, h=h, seed=seed)
    ds = simulate(target, pauli4(), n_samples, seed=seed, val_fraction=0.02, test_fraction=0.03,
                  train_log_prob=False)
    t_sim = time.perf_counter() - t0

    energy_op = target.hamiltonian.pauli_indices()
    e_data = observable(ds.train, ds.povm, *energy_op)
    t1 = time.perf_counter()
    cert_data = certificate(ds, e_data)  # computes E1 (penalty DMRG) and stores it in target.info
    t_gap = time.perf_counter() - t1
    gap = target.info["gap"]

    torch.manual_seed(seed)
    model = create_model("rnn", n, 4)
    cfg = TrainConfig(seed=seed, max_time=max_time, epochs=100, patience=None)
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train, ds.val, cfg, d, progress=False)
    report = evaluate(model, ds, n_samples=20_000, seed=seed)
    x, _ = model_sample(model, energy_samples, seed=seed + 1)
    e_model = observable(x, ds.povm, *energy_op)
    cert_model = certificate(ds, e_model)
    fc = report.scores.classical_fidelity
    bm, bd = cert_model.bound, cert_data.bound
    e0_ff, gap_ff = tfim_open_energy(n, 1.0, h), tfim_open_gap(n, 1.0, h)
    row = {
        "h": h, "E0 dmrg": f"{gap['e0']:.10f}", "E0 free ferm.": f"{e0_ff:.10f}",
        "E1 dmrg": f"{gap['e1']:.10f}", "Δ dmrg": f"{gap['gap']:.8f}", "Δ free ferm.": f"{gap_ff:.8f}",
        "gap s": f"{t_gap:.1f}", "epochs": len(res.history), "F_c": str(fc),
        "<H> model": str(e_model), "F ≥ (model)": str(bm), "<H> data": str(e_data), "F ≥ (data)": str(bd),
    }
    detail = {
        "n": n, "h": h, "samples": n_samples, "train_samples": len(ds.train), "energy_samples": energy_samples,
        "simulate_s": t_sim, "gap_s": t_gap, "train_s": res.elapsed, "epochs": len(res.history),
        "e0_free_fermion": e0_ff, "gap_free_fermion": gap_ff, "gap": gap,
        "classical_fidelity": fc.to_dict(), "quantum_fidelity": report.scores.quantum_fidelity.to_dict(),
        "certificate_model": cert_model.to_dict(), "certificate_data": cert_data.to_dict(),
        "total_s": time.perf_counter() - t0,
    }
    return row, detail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--fields", nargs="+", type=float, default=[1.0, 2.0])
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--max-time", default="2m", help="training budget per field")
    ap.add_argument("--energy-samples", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    load_before = os.getloadavg()
    rows, details = zip(*(one_field(args.n, h, args.samples, parse_duration(args.max_time), args.energy_samples,
                                    args.seed) for h in args.fields))
    load_after = os.getloadavg()
    cols = ["h", "E0 dmrg", "E0 free ferm.", "E1 dmrg", "Δ dmrg", "Δ free ferm.", "gap s", "epochs", "F_c",
            "<H> model", "F ≥ (model)", "<H> data", "F ≥ (data)"]
    print_table(f"Gap certificate, TFIM N = {args.n} (J = 1), Pauli-4, {args.samples:,} samples, "
                f"RNN {args.max_time}; <H> model from {args.energy_samples:,} model samples", list(rows), cols)
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (2 cores shared)")
    path = save("certificate", {"args": vars(args), "load_average": [load_before, load_after], "rows": list(rows),
                                "details": list(details)})
    print(f"results saved to {path}")


if __name__ == "__main__":
    main()
