"""All backends on the same data and budget (the table of ``qgen compare``) for GHZ
N = 20 and TFIM N = 20 and 50 (J = h = 1, open chain), Pauli-4.

Each backend is trained with its default preset for the case's budget (2 minutes at
N = 20, 4 minutes at N = 50 unless ``--max-time`` sets one for all), early-stopping on
the validation split, then scored by ``qgen.evaluation.evaluate`` on 20,000 model
samples (``--eval-samples``).  Every row records the wall-clock and CPU seconds of
training and the load average (1, 5, 15 min) before it: on a shared machine the
wall-clock budget buys less work than on an idle one.  torch uses ``--threads`` threads
(default 2).  Results are saved after every model.

    python benchmarks/bench_compare.py [--cases ghz20 tfim20 tfim50] [--max-time 2m] [--samples 50000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from _common import save

from qgen.datasets import simulate
from qgen.measurements import pauli4
from qgen.targets import make_target
from qgen.training import parse_duration
from qgen.workflows import compare, format_comparison

CASES = {"ghz20": ("ghz", 20, "2m"), "tfim20": ("tfim", 20, "2m"), "tfim50": ("tfim", 50, "4m")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", default=None, help="training budget per model for every case (default: per case)")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--models", default="rnn,transformer,flow,vae,gan")
    ap.add_argument("--samples", type=int, default=50_000, help="measured strings (80 %% train, 10 %% val, 10 %% test)")
    ap.add_argument("--name", default="compare", help="results file benchmarks/results/NAME.json")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--eval-samples", type=int, default=20_000, help="model samples per evaluation")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results: dict[str, dict] = {}
    for case in args.cases:
        kind, n, default_budget = CASES[case]
        budget = args.max_time or default_budget
        ds = simulate(make_target(kind, n=n), pauli4(), args.samples, seed=0, train_log_prob=False)
        rows, table = [], []
        for name in args.models.split(","):
            load = os.getloadavg()
            cpu = time.process_time()
            with tempfile.TemporaryDirectory() as d:
                (row,) = compare(ds, [name], max_time=parse_duration(budget), out_dir=d, n_samples=args.eval_samples)
            table.append(row)
            rows.append(row.to_dict() | {"cpu_seconds": round(time.process_time() - cpu, 1),
                                         "loadavg_before": [round(x, 2) for x in load]})
            results[case] = {"n_qubits": n, "target": kind, "max_time": budget, "samples": args.samples,
                             "eval_samples": args.eval_samples, "rows": rows}
            save(args.name, {"threads": args.threads, "results": results})
            print(f"{case} {name}: {row.classical_fidelity} (load {load[0]:.1f})", flush=True)
        print(f"\n{case}: {args.samples:,} Pauli-4 samples, {budget} of training per model")
        print(format_comparison(table))
    print(f"results saved to {save(args.name, {'threads': args.threads, 'results': results})}")


if __name__ == "__main__":
    main()
