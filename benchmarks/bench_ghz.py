"""RNN (default preset) on GHZ states: classical fidelity vs training-set size, and the
exact quantum fidelity of the reconstructed density matrix for small N.

  * N = 20 and 50, Pauli-4 and Pauli-6: F_c ≥ 0.99, with the number of training samples used;
  * N = 6 and 8: exact fidelity ⟨GHZ|ρ_q|GHZ⟩ of ρ_q = Σ_a q(a) D^a ≥ 0.95, by enumeration
    of all K^N strings.

The F_c runs train at most 20 epochs, no time cap (early stopping on the validation NLL).
The quantum-fidelity runs train a fixed number of epochs (cosine schedule, lr 2e-3, no
early stopping: the validation NLL is too noisy at this scale to see the coherence, worth
KL(GHZ‖mixture) = 0.030 nats at N = 6 and 0.0135 at N = 8 under Pauli-6, and 16–40× less
under Pauli-4), with and without the RNN's phase channels.

    python benchmarks/bench_ghz.py [--quick] [--only fc|quantum] [--n 6 8] [--povm pauli4] [--seed S] [--patch 2]

``--patch P`` trains the RNN with P qubits per step; results go to ``ghz_…_patchP.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from _common import print_table, save

from qgen.datasets import simulate
from qgen.measurements import get_povm
from qgen.models import create_model
from qgen.scores import enumerate_strings, exact_scores
from qgen.targets import make_target
from qgen.training import TrainConfig, train
from qgen.workflows import evaluate, model_log_prob


def one(n: int, povm: str, n_train: int, epochs: int, patch: int, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    ds = simulate(make_target("ghz", n=n), get_povm(povm), int(n_train / 0.9) + 1, seed=seed,
                  val_fraction=0.1, test_fraction=0.0, train_log_prob=False)
    torch.manual_seed(seed)
    model = create_model("rnn", n, ds.povm.n_outcomes, povm=ds.povm, patch=patch)
    # no time cap: the cosine schedule runs its whole course (or early stopping ends it)
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train, ds.val, TrainConfig.from_preset("rnn", epochs=epochs, seed=seed), d,
                    progress=False)
    fc = evaluate(model, ds, n_samples=20_000, seed=seed).scores.classical_fidelity
    return {"N": n, "POVM": povm, "train samples": f"{len(ds.train):,}", "epochs": len(res.history),
            "seconds": f"{time.perf_counter() - t0:.0f}", "F_c": f"{fc.mean:.4f} ± {fc.stderr:.4f}",
            "goal": "F_c ≥ 0.99", "met": "yes" if fc.mean >= 0.99 else "NO"}


def quantum(n: int, povm: str, n_train: int, epochs: int, phases: int, patch: int, seed: int = 0) -> dict:
    """Exact ⟨GHZ|ρ_q|GHZ⟩ after a fixed training schedule."""
    t0 = time.perf_counter()
    ds = simulate(make_target("ghz", n=n), get_povm(povm), int(n_train / 0.9) + 1, seed=seed,
                  val_fraction=0.1, test_fraction=0.0, train_log_prob=False)
    torch.manual_seed(seed)
    model = create_model("rnn", n, ds.povm.n_outcomes, phases=phases, povm=ds.povm, patch=patch)
    cfg = TrainConfig.from_preset("rnn", epochs=epochs, seed=seed, lr=2e-3, patience=None)
    with tempfile.TemporaryDirectory() as d:
        train(model, ds.train, ds.val, cfg, d, progress=False)
    ex = exact_scores(model_log_prob(model, enumerate_strings(ds.povm.n_outcomes, n)), ds.target.state, ds.povm)
    qf = ex["quantum_fidelity"].mean
    return {"N": n, "POVM": povm, "phases": phases, "seed": seed, "train samples": f"{len(ds.train):,}",
            "epochs": epochs,
            "seconds": f"{time.perf_counter() - t0:.0f}", "F_c exact": f"{ex['classical_fidelity'].mean:.4f}",
            "KL(P‖q) exact": f"{ex['kl_target_model'].mean:.4f}", "quantum F (ρ_q, exact)": f"{qf:.4f}",
            "goal": "quantum F ≥ 0.95", "met": "yes" if qf >= 0.95 else "NO"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only N = 6 and 20")
    ap.add_argument("--only", choices=["fc", "quantum"], help="run one of the two tables")
    ap.add_argument("--n", type=int, nargs="+", help="only these N in the quantum-fidelity table")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--povm", choices=["pauli4", "pauli6"], help="only this POVM in the quantum-fidelity table")
    ap.add_argument("--seed", type=int, default=0, help="seed of data, weights and batches")
    ap.add_argument("--patch", type=int, default=1, help="qubits per RNN step")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = {}
    if args.only != "fc":
        cases = [(6, "pauli6", 300_000, 20, 4), (6, "pauli6", 300_000, 20, 0)]
        if not args.quick:  # Pauli-4's coherence signal is 16–40× weaker: more passes, more data
            cases += [(8, "pauli6", 400_000, 20, 4), (6, "pauli4", 300_000, 40, 4), (8, "pauli4", 1_000_000, 60, 4)]
        cases = [c for c in cases if (args.n is None or c[0] in args.n) and args.povm in (None, c[1])]
        out["quantum"] = [quantum(*c, args.patch, seed=args.seed) for c in cases]
        print_table("RNN on small GHZ states: exact quantum fidelity of ρ_q", out["quantum"],
                    ["N", "POVM", "phases", "seed", "train samples", "epochs", "seconds", "F_c exact", "KL(P‖q) exact",
                     "quantum F (ρ_q, exact)", "goal", "met"])
    if args.only != "quantum":
        cases = [(20, "pauli4", 20_000, 20), (20, "pauli6", 20_000, 20)]
        if not args.quick:
            cases += [(50, "pauli4", 20_000, 20), (50, "pauli6", 20_000, 20)]
        out["fc"] = [one(*c, args.patch, seed=args.seed) for c in cases]
        print_table("RNN (default preset) on GHZ states: classical fidelity", out["fc"],
                    ["N", "POVM", "train samples", "epochs", "seconds", "F_c", "goal", "met"])
    name = (("ghz" if args.only is None else f"ghz_{args.only}") + ("_n" + "_".join(map(str, args.n)) if args.n else "")
            + (f"_{args.povm}" if args.povm else "") + (f"_seed{args.seed}" if args.seed else "")
            + (f"_patch{args.patch}" if args.patch != 1 else ""))
    print(f"results saved to {save(name, out)}")


if __name__ == "__main__":
    main()
