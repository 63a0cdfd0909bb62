"""All backends on the same data and budget (the table of ``qgen compare``) for GHZ
N = 20 and TFIM N = 20 and 50, Pauli-4.

    python benchmarks/bench_compare.py [--max-time 2m] [--cases ghz20 tfim20 tfim50] [--samples 50000]
"""

from __future__ import annotations

import argparse
import tempfile

from _common import save
from qgen.compare import compare, format_comparison
from qgen.datasets import simulate
from qgen.povm import pauli4
from qgen.targets import make_target
from qgen.training import parse_duration

CASES = {"ghz20": ("ghz", 20), "tfim20": ("tfim", 20), "tfim50": ("tfim", 50)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-time", default="2m", help="training budget per model")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--models", default="rnn,transformer,flow,vae,gan")
    ap.add_argument("--samples", type=int, default=50_000)
    args = ap.parse_args()
    results = {}
    for case in args.cases:
        kind, n = CASES[case]
        ds = simulate(make_target(kind, n=n), pauli4(), args.samples, seed=0, train_log_prob=False)
        with tempfile.TemporaryDirectory() as d:
            rows = compare(ds, args.models.split(","), max_time=parse_duration(args.max_time), out_dir=d)
        print(f"\n{case}: {args.samples:,} Pauli-4 samples, {args.max_time} of training per model")
        print(format_comparison(rows))
        results[case] = rows
    print(f"results saved to {save('compare', {'max_time': args.max_time, 'results': results})}")


if __name__ == "__main__":
    main()
