"""Tensor-network Born machines (``mps``, ``lpdo``) trained with default settings: exact
quantum fidelity ⟨ψ_ideal|ρ|ψ_ideal⟩ of the reconstruction (``model.fidelity``, exact
contraction at any N; the best-validation weights, as ``qgen train`` keeps them).

Sections (``--sections``):

* ``ghz``: GHZ-20 and GHZ-50, Pauli-6 and Pauli-4, 20,000 shots (18,000 train, 2,000
  validation); goal F ≥ 0.95; with how much the data can say about the relative phase
  (:func:`phase_information`): at N = 50 nothing (n s^N ≈ 3·10⁻⁵ for Pauli-6, 10⁻⁸ for
  Pauli-4), so F there measures the model's prior, not the data;
* ``tfim50``: the critical Ising chain (``make_target("tfim", n=50, J=1, h=1)``, DMRG),
  Pauli-4, 100,000 shots; goal F ≥ 0.90 against the DMRG target MPS;
* ``small``: for the comparison with maximum-likelihood tomography: GHZ, W, cluster,
  TFIM (h = 1) and depolarized GHZ (p = 0.05) at N = 4, 6, 8, Pauli-6 and Pauli-4,
  1,000 / 3,000 / 10,000 / 30,000 shots (90 % train, 10 % validation); for the
  depolarized GHZ also the true ⟨ψ|ρ_true|ψ⟩ (dense).

Every row: data seed = weight seed = batch seed = ``--seed``; default training settings
(``TrainConfig.from_preset(model)``); the wall time includes the simulation.  ``--adaptive``
replaces the static defaults by the data-size rule proposed for the trainer
(:func:`adaptive_config`), to compare.  Results go to ``benchmarks/results/NAME.json``
(default ``tensornet``), one entry per section, rewritten after every row.

    python benchmarks/bench_tensornet.py [--sections ghz tfim50 small] [--models mps lpdo]
        [--seeds 0 1] [--n 4 6 8] [--shots 1000 ...] [--states ghz w ...] [--povms pauli6 pauli4]
        [--adaptive] [--set real=true] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time

import numpy as np
import torch
from _common import RESULTS, machine, print_table, save

from qgen.datasets.simulation import simulate
from qgen.measurements.povm import get_povm
from qgen.models import create_model
from qgen.targets.builders import ghz
from qgen.targets.recipes import make_target
from qgen.targets.states import MPS, DenseState
from qgen.training.checkpoint import load_model
from qgen.training.config import TrainConfig
from qgen.training.loop import train

STATES = {"ghz": ("ghz", {}), "w": ("w", {}), "cluster": ("cluster", {}), "tfim": ("tfim", {"J": 1, "h": 1}),
          "ghz_noisy": ("ghz", {"noise": 0.05})}


def adaptive_config(n_train: int, batch_size: int = 100, steps: int = 3000, min_epochs: int = 4) -> dict:
    """Prototype of a data-size-adaptive schedule: about ``steps`` optimizer steps of
    ``batch_size`` strings whatever the data size (at least ``min_epochs`` passes), with
    the cosine decay spanning them all and no early stopping."""
    per_epoch = math.ceil(n_train / batch_size)
    return {"epochs": max(min_epochs, math.ceil(steps / per_epoch)), "batch_size": batch_size,
            "schedule": "cosine", "patience": None}


def ghz_phase_free(model) -> float:
    """max_φ ⟨GHZ_φ|ρ|GHZ_φ⟩ over (|0…0⟩ + e^{iφ}|1…1⟩)/√2: the fidelity up to the relative
    phase, which enters P only through an N-body term (a diagnostic, not the score)."""
    n = model.n_qubits

    def f(phi: float) -> float:
        ts = list(ghz(n).tensors)
        ts[-1] = ts[-1] * np.array([1, np.exp(1j * phi)])[None, :, None]
        return model.fidelity(MPS(tuple(ts)))

    mean = (f(0) + f(np.pi)) / 2  # ½(ρ_00 + ρ_11)
    return mean + math.hypot(f(0) - mean, f(np.pi / 2) - mean)


def phase_information(train: np.ndarray, povm) -> dict:
    """How much a GHZ data set can say about the relative phase φ of (|0…0⟩ + e^{iφ}|1…1⟩)/√2.

    φ enters P only through Re[e^{iφ} Π_i ⟨1|M^{a_i}|0⟩]/… so a string carries phase
    information only if every qubit's outcome has a coherence ⟨0|M|1⟩ ≠ 0 ("all-coherent
    shots"; Pauli-6: every qubit measured in X or Y, a fraction (2/3)^N; Pauli-4: no outcome
    |0⟩, common, but each carries a signal only ~ s^N).  Exact bound: the total-variation distance
    between the n-shot distributions of phases φ and φ' is ≤ n s^N |sin((φ−φ')/2)| with
    s = Σ_k |⟨0|M^k|1⟩|; if n s^N ≪ 1, no estimator tells φ = 0 from φ = π, and a fidelity
    ≥ ½ on GHZ comes from the model's prior (its start state), not from the data."""
    coherent = np.abs(povm.elements[:, 0, 1]) > 1e-12
    n, n_qubits = train.shape
    return {"all-coherent shots": int(coherent[train].all(axis=1).sum()),
            "n s^N": float(f"{n * np.abs(povm.elements[:, 0, 1]).sum() ** n_qubits:.3g}")}


def run(state: str, n: int, povm: str, shots: int, model_name: str, seed: int, adaptive: bool,
        options: dict) -> dict:
    kind, params = STATES[state]
    t0 = time.perf_counter()
    target = make_target(kind, n=n, **params)
    ds = simulate(target, get_povm(povm), shots, seed=seed, val_fraction=0.1, test_fraction=0.0,
                  train_log_prob=False)
    torch.manual_seed(seed)
    model = create_model(model_name, n, ds.povm.n_outcomes, povm=ds.povm, **options)
    cfg = TrainConfig.from_preset(model_name, seed=seed, **(adaptive_config(len(ds.train)) if adaptive else {}))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train, ds.val, cfg, d, progress=False)
        best, _ = load_model(d)
    t2 = time.perf_counter()
    row = {"state": state, "N": n, "POVM": povm, "shots": shots, "model": model_name, "seed": seed,
           "options": json.dumps(options) if options else "", "adaptive": adaptive,
           "epochs": len(res.history), "best epoch": res.best_epoch, "stop": res.stop_reason,
           "train s": round(t2 - t1), "total s": round(t2 - t0), "load": os.getloadavg()[0],
           "F": round(best.fidelity(target.state), 4), "purity": round(best.purity(), 4)}
    if state == "ghz":
        row["F up to GHZ phase"] = round(ghz_phase_free(best), 4)
        row.update(phase_information(ds.train, ds.povm))
    if target.state.noise:
        psi = target.state.to_dense()
        rho = DenseState(psi, noise=target.state.noise).density_matrix()
        row["F true state"] = round(float((psi.conj() @ rho @ psi).real / (psi.conj() @ psi).real), 4)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", default=["ghz", "tfim50", "small"], choices=["ghz", "tfim50", "small"])
    ap.add_argument("--models", nargs="+", default=["mps"], choices=["mps", "lpdo"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--n", type=int, nargs="+", default=[4, 6, 8], help="small section: N")
    ap.add_argument("--shots", type=int, nargs="+", default=[1000, 3000, 10000, 30000], help="small section")
    ap.add_argument("--states", nargs="+", default=list(STATES), choices=list(STATES), help="small section")
    ap.add_argument("--povms", nargs="+", default=["pauli6", "pauli4"])
    ap.add_argument("--adaptive", action="store_true", help="use the data-size-adaptive schedule prototype")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="model options (JSON values), e.g. real=true; rows record them")
    ap.add_argument("--name", default="tensornet", help="results file benchmarks/results/NAME.json")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    path = RESULTS / f"{args.name}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.pop("machine", None)
    plan = {
        "ghz": [("ghz", n, p, 20_000) for n in (20, 50) for p in args.povms],
        "tfim50": [("tfim", 50, "pauli4", 100_000)],
        "small": [(s, n, p, k) for s in args.states for n in args.n for p in args.povms for k in args.shots],
    }
    goals = {"ghz": 0.95, "tfim50": 0.90}
    for section in args.sections:
        rows = results.setdefault(section, [])
        for seed in args.seeds:
            for model_name in args.models:
                for state, n, povm, shots in plan[section]:
                    row = run(state, n, povm, shots, model_name, seed, args.adaptive, options)
                    if section in goals:
                        row["goal"] = f"F ≥ {goals[section]}"
                        row["met"] = "yes" if row["F"] >= goals[section] else "NO"
                    rows[:] = [r for r in rows if any(r.get(k) != row[k] for k in
                                                      ("state", "N", "POVM", "shots", "model", "seed", "options",
                                                       "adaptive"))]
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    save(args.name, results)
        columns = ["state", "N", "POVM", "shots", "model", "options", "seed", "adaptive", "epochs", "stop", "train s",
                   "load", "F", "F up to GHZ phase", "all-coherent shots", "n s^N", "F true state", "purity", "goal",
                   "met"]
        print_table(f"{section} ({machine()['date']})", rows, columns)


if __name__ == "__main__":
    main()
