"""RNN (default preset) on GHZ states: classical fidelity vs training-set size, and the
exact quantum fidelity of the reconstructed density matrix for small N.

  * N = 20 and 50, Pauli-4 and Pauli-6: F_c ≥ 0.99, with the number of training samples used;
  * N = 6 and 8, Pauli-4: exact fidelity ⟨GHZ|ρ_q|GHZ⟩ of ρ_q = Σ_a q(a) D^a ≥ 0.95.

Each run trains at most 30 epochs or 150 s (early stopping on the validation NLL).

    python benchmarks/bench_ghz.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from _common import print_table, save
from qgen.datasets import simulate
from qgen.evaluation import evaluate
from qgen.models import create_model
from qgen.povm import get_povm
from qgen.targets import make_target
from qgen.training import TrainConfig, train


def one(n: int, povm: str, n_train: int, epochs: int, seed: int = 0, max_time: float = 150.0) -> dict:
    t0 = time.perf_counter()
    ds = simulate(make_target("ghz", n=n), get_povm(povm), int(n_train / 0.9) + 1, seed=seed,
                  val_fraction=0.1, test_fraction=0.0, train_log_prob=False)
    torch.manual_seed(seed)
    model = create_model("rnn", n, ds.povm.n_outcomes)
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train, ds.val, TrainConfig.from_preset("rnn", epochs=epochs, seed=seed, max_time=max_time), d,
                    progress=False)
    rep = evaluate(model, ds, n_samples=20_000, seed=seed)
    fc = rep["scores"]["classical_fidelity"]
    row = {"N": n, "POVM": povm, "train samples": f"{len(ds.train):,}", "epochs": len(res.history),
           "seconds": f"{time.perf_counter() - t0:.0f}", "F_c": f"{fc['mean']:.4f} ± {fc['stderr']:.4f}"}
    if rep["exact"]:
        ex = rep["exact"]
        row["F_c exact"] = f"{ex['classical_fidelity']['mean']:.4f}"
        row["quantum F (ρ_q, exact)"] = f"{ex['quantum_fidelity']['mean']:.4f}"
        row["goal"] = "quantum F ≥ 0.95"
        row["met"] = "yes" if ex["quantum_fidelity"]["mean"] >= 0.95 else "NO"
    else:
        row["goal"] = "F_c ≥ 0.99"
        row["met"] = "yes" if fc["mean"] >= 0.99 else "NO"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only N = 6 and 20")
    args = ap.parse_args()
    cases = [(6, "pauli4", 100_000, 30), (8, "pauli4", 200_000, 30),
             (20, "pauli4", 20_000, 30), (20, "pauli6", 20_000, 30)]
    if not args.quick:
        cases += [(50, "pauli4", 20_000, 30), (50, "pauli6", 20_000, 30)]
    rows = [one(*c) for c in cases]
    cols = ["N", "POVM", "train samples", "epochs", "seconds", "F_c", "F_c exact", "quantum F (ρ_q, exact)",
            "goal", "met"]
    print_table("RNN (default preset) on GHZ states", rows, cols)
    print(f"results saved to {save('ghz', {'rows': rows})}")


if __name__ == "__main__":
    main()
