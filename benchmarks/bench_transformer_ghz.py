"""Transformer on GHZ states with Pauli-6: the fewest training samples that reach
F_c ≥ 0.99, for N = 20, 40, 80 (published attention-based tomography needed about
6,000 (N = 10) to 13,000 (N = 80) samples; an RNN 43,000 to 98,000).

For each N the training-set sizes are tried in increasing order until one reaches the
goal.  Every run trains to convergence: up to ``--epochs`` epochs with early stopping on
the validation NLL (``--patience``; validation split = 1/9 of the training size, drawn
alongside it), the best validation weights scored by ``qgen.evaluation.evaluate`` on
10,000 model samples; ``--max-time`` (none by default) only guards against runaways and
a run it cuts is marked so.  Each row records epochs, wall and CPU seconds and the load
average (1, 5, 15 min) at its start.  Results are saved after every run; ``--resume``
keeps the runs already in the results file.

    python benchmarks/bench_transformer_ghz.py [--n 20 40 80] [--sizes 4000 8000 16000 32000 64000]
                                               [--preset default] [--threads 2] [--resume]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch
from _common import RESULTS, print_table, save

from qgen.datasets import simulate
from qgen.measurements import pauli6
from qgen.models import create_model
from qgen.targets import make_target
from qgen.training import TrainConfig, load_model, parse_duration, train
from qgen.workflows import evaluate

GOAL = 0.99
NAME = "transformer_ghz"


def run(n: int, n_train: int, preset: str, epochs: int, patience: int, max_time: float | None, seed: int = 0) -> dict:
    """Train on ``n_train`` GHZ-n Pauli-6 strings (plus n_train/9 for validation) and score."""
    load, wall, cpu = os.getloadavg(), time.perf_counter(), time.process_time()
    ds = simulate(make_target("ghz", n=n), pauli6(), n_train + n_train // 9, seed=seed,
                  val_fraction=(n_train // 9) / (n_train + n_train // 9), test_fraction=0.0, train_log_prob=False)
    torch.manual_seed(seed)
    model = create_model("transformer", n, 6, preset=preset)
    cfg = TrainConfig.from_preset("transformer", preset, epochs=epochs, patience=patience, seed=seed,
                                  max_time=max_time)
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train, ds.val, cfg, d, progress=False)
        best, _ = load_model(d)
    fc = evaluate(best, ds, n_samples=10_000, seed=seed).scores.classical_fidelity
    return {"N": n, "n_train": len(ds.train), "n_val": len(ds.val), "preset": preset, "epochs": len(res.history),
            "best_epoch": res.best_epoch, "stop": res.stop_reason, "best_val_nll": round(res.best_val, 4),
            "F_c": fc.to_dict(), "met": fc.mean >= GOAL, "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1), "loadavg": [round(x, 2) for x in load]}


def summary(rows: list[dict], sizes_by_n: dict[int, list[int]]) -> list[dict]:
    """Per N: the smallest training size that met the goal, or the sizes tried without it."""
    out = []
    for n, _sizes in sizes_by_n.items():
        mine = sorted((r for r in rows if r["N"] == n), key=lambda r: r["n_train"])
        met = [r for r in mine if r["met"]]
        out.append({"N": n, "smallest n_train with F_c ≥ 0.99": f"{met[0]['n_train']:,}" if met else "not reached",
                    "tried": ", ".join(f"{r['n_train']:,}: {r['F_c']['mean']:.4f} ± {r['F_c']['stderr']:.4f}"
                                       for r in mine) or "none"})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[20, 40, 80])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4000, 8000, 16000, 32000, 64000])
    ap.add_argument("--preset", default="default", help="transformer preset (architecture and training)")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--max-time", default=None, help="safety cap per run (e.g. 30m); none by default")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--resume", action="store_true", help="keep (and skip) the runs already saved")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = json.loads((RESULTS / f"{NAME}.json").read_text())["runs"] if args.resume else []
    for n in args.n:
        for size in sorted(args.sizes):
            done = [r for r in rows if (r["N"], r["n_train"], r["preset"]) == (n, size, args.preset)]
            row = done[0] if done else run(n, size, args.preset, args.epochs, args.patience,
                                           parse_duration(args.max_time))
            if not done:
                rows.append(row)
                save(NAME, {"goal": GOAL, "threads": args.threads, "runs": rows})
                print(json.dumps(row), flush=True)
            if row["met"]:
                break
    table = summary(rows, {n: args.sizes for n in args.n})
    print_table(f"Transformer ({args.preset} preset), GHZ with Pauli-6: training samples to F_c ≥ {GOAL}", table,
                ["N", "smallest n_train with F_c ≥ 0.99", "tried"])
    print(f"results saved to {save(NAME, {'goal': GOAL, 'threads': args.threads, 'runs': rows, 'summary': table})}")


if __name__ == "__main__":
    main()
