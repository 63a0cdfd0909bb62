"""Learning from shots with missing readouts, and filling them: TFIM-12, Pauli-4.

A fraction of the readouts (default 20 %) of simulated TFIM-12 shots is hidden at random.
An RNN is trained (a) on the complete shots and (b) on the incomplete ones (exact
marginal likelihood); its classical fidelity F_c (20,000 model samples, exact ln P) is
reported for both.  Model (b) then imputes the holes, and for every qubit q and outcome
a the imputed count is z-tested against Σ_shots p(a_q = a | observed readouts), the
exact conditional computed with the identity at the other missing qubits (Σ_a M^a = I,
``qgen.measurements.log_prob(missing=…)``); the variance is that of a sum of
independent Bernoulli draws, Σ p(1 − p).  A |z| well above 3 measures the model's error,
not sampling noise.

    python benchmarks/bench_missing.py [--shots 20000] [--hide 0.2] [--epochs 20]

Prints a table and saves benchmarks/results/missing.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import machine, print_table, save

from qgen.datasets import Dataset, simulate
from qgen.measurements import log_prob, pauli4
from qgen.models import create_model
from qgen.scores.distribution import classical_fidelity
from qgen.targets import make_target
from qgen.training import TrainConfig, train


def exact_conditionals(target, povm, x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """p(a_q = a | observed) for every missing readout (rows of (shot, qubit)), (R, K)."""
    k = povm.n_outcomes
    shots, qubits = np.nonzero(missing)
    base = np.where(missing, 0, x)[shots]
    rest = missing[shots].copy()
    rest[np.arange(len(shots)), qubits] = False
    joint = []
    for a in range(k):
        y = base.copy()
        y[np.arange(len(shots)), qubits] = a
        joint.append(log_prob(target.state, povm, y, missing=rest))
    joint = np.stack(joint, 1)
    return np.exp(joint - np.logaddexp.reduce(joint, axis=1, keepdims=True))


def fidelity(model, target, povm, n: int, seed: int) -> tuple[float, float]:
    with torch.no_grad():
        x, lq = model.sample(n, torch.Generator().manual_seed(seed))
    est = classical_fidelity(lq.double().numpy(), log_prob(target.state, povm, x.numpy()))
    return est.mean, est.stderr


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--shots", type=int, default=20_000)
    p.add_argument("--hide", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="/tmp/bench_missing")
    args = p.parse_args(argv)
    target, povm = make_target("tfim", args.n), pauli4()
    full = simulate(target, povm, args.shots, seed=args.seed)
    holes = np.random.default_rng(args.seed).random(full.outcomes.shape) < args.hide
    ds = Dataset(full.outcomes, povm, full.split, None, target, args.seed, {}, holes)
    rows, runs = [], {}
    for name, data in (("complete", full), ("incomplete", ds)):
        torch.manual_seed(args.seed)
        model = create_model("rnn", args.n, 4, hidden=args.hidden, n_layers=1)
        t0 = time.perf_counter()
        result = train(model, data.masked("train"), data.masked("val"),
                       TrainConfig(epochs=args.epochs, batch_size=500, lr=3e-3, seed=args.seed),
                       f"{args.out}/{name}", progress=False)
        f, df = fidelity(model, target, povm, 20_000, args.seed + 1)
        runs[name] = model
        rows.append({"data": name, "epochs": len(result.history), "train_s": round(time.perf_counter() - t0, 1),
                     "F_c": round(f, 4), "F_c_err": round(df, 4),
                     "val_nll": round(result.history[-1][f"val_{model.val_name}"], 4)})
    print_table(f"TFIM-{args.n}, Pauli-4, {args.shots:,} shots, {args.hide:.0%} readouts hidden", rows,
                ["data", "epochs", "train_s", "F_c", "F_c_err", "val_nll"])
    # imputation z-tests on all incomplete shots
    from qgen.workflows import impute

    t0 = time.perf_counter()
    filled = impute(runs["incomplete"], ds, seed=args.seed)[0]
    impute_s = time.perf_counter() - t0
    p_exact = exact_conditionals(target, povm, ds.outcomes, holes)
    shots, qubits = np.nonzero(holes)
    drawn = filled.outcomes[shots, qubits]
    z = np.zeros((args.n, 4))
    for q in range(args.n):
        sel = qubits == q
        expected = p_exact[sel].sum(0)
        var = (p_exact[sel] * (1 - p_exact[sel])).sum(0)
        z[q] = (np.bincount(drawn[sel], minlength=4) - expected) / np.sqrt(np.maximum(var, 1e-12))
    zrows = [{"qubit": q, "missing": int(holes[:, q].sum()), **{f"z_{a}": round(float(z[q, a]), 2) for a in range(4)}}
             for q in range(args.n)]
    print_table(f"imputed vs exact conditional marginals ({impute_s:.1f} s to impute)", zrows,
                ["qubit", "missing", "z_0", "z_1", "z_2", "z_3"])
    payload = {"args": vars(args), "machine": machine(), "training": rows, "imputation_z": zrows,
               "max_abs_z": float(np.abs(z).max()), "impute_s": impute_s,
               "F_c_gap": rows[0]["F_c"] - rows[1]["F_c"]}
    print(f"saved {save('missing', payload)}")
    return payload


if __name__ == "__main__":
    main()
