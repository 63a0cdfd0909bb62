"""Transformer on GHZ states with Pauli-6: the fewest training samples that reach
F_c ≥ 0.99, for N = 20, 40, 80 (published attention-based tomography needed about
6,000 (N = 10) to 13,000 (N = 80) samples; an RNN 43,000 to 98,000).

For each N the training-set sizes are tried in increasing order until one reaches the
goal.  Prints one table; saves JSON.

    python benchmarks/bench_transformer_ghz.py [--n 20 40 80] [--sizes 4000 8000 16000 32000] [--max-time 3m]
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
from qgen.povm import pauli6
from qgen.targets import make_target
from qgen.training import TrainConfig, parse_duration, train

GOAL = 0.99


def run(n: int, n_train: int, max_time: float, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    ds = simulate(make_target("ghz", n=n), pauli6(), int(n_train / 0.9) + 1, seed=seed, val_fraction=0.1,
                  test_fraction=0.0, train_log_prob=False)
    torch.manual_seed(seed)
    model = create_model("transformer", n, 6)
    cfg = TrainConfig.from_preset("transformer", epochs=200, seed=seed, max_time=max_time, patience=10)
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train, ds.val, cfg, d, progress=False)
    fc = evaluate(model, ds, n_samples=10_000, seed=seed)["scores"]["classical_fidelity"]
    return {"N": n, "train samples": f"{len(ds.train):,}", "epochs": len(res.history),
            "seconds": f"{time.perf_counter() - t0:.0f}", "F_c": f"{fc['mean']:.4f} ± {fc['stderr']:.4f}",
            "met": "yes" if fc["mean"] >= GOAL else "no"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[20, 40, 80])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 8000, 16000, 32000])
    ap.add_argument("--max-time", default="3m")
    args = ap.parse_args()
    rows = []
    for n in args.n:
        for size in sorted(args.sizes):
            rows.append(run(n, size, parse_duration(args.max_time)))
            print(rows[-1], flush=True)
            if rows[-1]["met"] == "yes":
                break
    print_table(f"Transformer (default preset), GHZ with Pauli-6: samples to F_c ≥ {GOAL}", rows,
                ["N", "train samples", "epochs", "seconds", "F_c", "met"])
    print(f"results saved to {save('transformer_ghz', {'rows': rows})}")


if __name__ == "__main__":
    main()
