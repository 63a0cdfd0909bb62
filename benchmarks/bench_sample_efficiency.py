"""Sample efficiency of the autoregressive backends (issue 20.5): the smallest training set
from which GHZ-N measured with Pauli-6 is learned to classical fidelity F_c ≥ 0.99.

For N = 20, 40, 80 and each training-set size S of the grid, ``qgen.simulate`` draws
S / 0.9 shots of ``make_target("ghz", n=N)`` (seed 0: 90 % training, 10 % validation for
early stopping), ``qgen.workflows.fit`` trains the backend with its default preset and
training settings (seed 0), once with bits given bases (``bases``, the Pauli-6 default,
:mod:`qgen.models.bases`) and once without (``plain``, ``bases=None``), and F_c =
E_q[√(P/q)] is estimated from 20,000 model samples with the target's exact ln P
(:func:`qgen.scores.classical_fidelity`, error = Monte-Carlo standard error).

The smallest size is the first grid point whose F_c reaches 0.99; its error bar is the
grid bracket (the size below it on the grid failed) — one data seed and one training seed,
so the seed-to-seed spread is not included.  Goal: 4,000 / 5,000 / 6,500 at N = 20 / 40 /
80 (half the 8,000 / 10,000 / 13,000 of the published attention-based tomography code,
Cha et al. 2022, on the same data).  Rows are saved to ``results/sample_efficiency.json``
as they finish, with the wall time and load average of each fit.

    python benchmarks/bench_sample_efficiency.py [--n 20 40 80] [--sizes 2000 4000 ...]
        [--models rnn] [--variants bases plain]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch
from _common import RESULTS, print_table, save

import qgen
from qgen.measurements import pauli6
from qgen.measurements.sampling import log_prob
from qgen.scores import classical_fidelity
from qgen.targets import make_target
from qgen.workflows import fit

SIZES = (1_000, 2_000, 4_000, 5_000, 6_500, 8_000, 10_000, 13_000)
GOAL = {20: 4_000, 40: 5_000, 80: 6_500}
PUBLISHED = {20: 8_000, 40: 10_000, 80: 13_000}
VARIANTS = {"bases": {}, "plain": {"bases": None}}
THRESHOLD = 0.99
NAME = "sample_efficiency"


def run_point(n: int, size: int, model: str, variant: str, seed: int, threads: int) -> dict:
    target = make_target("ghz", n=n)
    ds = qgen.simulate(target, pauli6(), round(size / 0.9), seed=seed, val_fraction=0.1, test_fraction=0.0)
    load, t0 = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        run = fit(ds, model, out, seed=seed, progress=False, model_options=VARIANTS[variant], num_threads=threads)
        net = run.best()
    train_s = time.perf_counter() - t0
    with torch.no_grad():
        x, lq = net.sample(20_000, torch.Generator().manual_seed(seed + 1))
    lp = log_prob(target.state, pauli6(), x.numpy())
    fc = classical_fidelity(lq.double().numpy(), lp)
    return {"n": n, "size": len(ds.train), "model": model, "variant": variant, "seed": seed,
            "F_c": fc.mean, "F_c_err": fc.stderr, "epochs": len(run.result.history),
            "stop": run.result.stop_reason, "train_s": train_s, "load": load}


def smallest(rows: list[dict], n: int, model: str, variant: str) -> dict:
    """The first grid size with F_c ≥ 0.99, and the largest size below it that was run."""
    pts = sorted((r for r in rows if (r["n"], r["model"], r["variant"]) == (n, model, variant)),
                 key=lambda r: r["size"])
    hit = next((r for r in pts if r["F_c"] >= THRESHOLD), None)
    if hit is None:
        return {"smallest": None, "note": f"no size up to {pts[-1]['size'] if pts else 0:,} reached F_c ≥ 0.99"}
    below = [r["size"] for r in pts if r["size"] < hit["size"]]
    return {"smallest": hit["size"], "F_c": hit["F_c"], "F_c_err": hit["F_c_err"],
            "bracket": [below[-1] if below else None, hit["size"]],
            "later_all_pass": all(r["F_c"] >= THRESHOLD for r in pts if r["size"] > hit["size"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[20, 40, 80])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--models", nargs="+", default=["rnn"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    path = RESULTS / f"{NAME}.json"
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    for n in args.n:
        for size in args.sizes:
            for model in args.models:
                for variant in args.variants:
                    row = run_point(n, size, model, variant, args.seed, args.threads)
                    key = ("n", "size", "model", "variant", "seed")
                    rows = [r for r in rows if tuple(r[k] for k in key) != tuple(row[k] for k in key)]
                    rows.append(row)
                    summary = [{"n": m, "model": b, "variant": v, "goal": GOAL.get(m), "published": PUBLISHED.get(m),
                                **smallest(rows, m, b, v)}
                               for m, b, v in sorted({(r["n"], r["model"], r["variant"]) for r in rows})]
                    save(NAME, {"rows": rows, "summary": summary, "threshold": THRESHOLD})
                    print(f"N={n} S={row['size']} {model}/{variant}: F_c {row['F_c']:.4f} ± {row['F_c_err']:.4f} "
                          f"({row['epochs']} epochs, {row['train_s']:.0f} s, load {row['load']:.1f})", flush=True)
    print_table("GHZ, Pauli-6: F_c by training-set size", [
        {**r, "F_c": f"{r['F_c']:.4f} ± {r['F_c_err']:.4f}", "train_s": f"{r['train_s']:.0f}"}
        for r in sorted(rows, key=lambda r: (r["n"], r["model"], r["variant"], r["size"]))],
        ["n", "model", "variant", "size", "F_c", "epochs", "train_s", "load"])
    print_table("Smallest training set with F_c ≥ 0.99", summary,
                ["n", "model", "variant", "smallest", "bracket", "goal", "published"])


if __name__ == "__main__":
    main()
