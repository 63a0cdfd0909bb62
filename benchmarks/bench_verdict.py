"""Cost of the verdict (issue 17.6): :func:`qgen.workflows.evaluate` with the exact fidelity
of the reconstruction by enumeration of all 4^N strings (autoregressive model,
``log_prob_all``; ρ_q built and, for N ≤ 10, diagonalised) up to N = 12, and by
tensor-network contraction (``lpdo``) at any N; the local fidelity map included.

Models are untrained (their weights do not change the cost).  Target: the TFIM ground
state (h = 1), Pauli-4, 2,000 shots, 2,000 model samples.  Wall time, peak RSS and the
load average of the shared machine are recorded.

    python benchmarks/bench_verdict.py [--rnn 4 8 10 12] [--lpdo 12 50]   (--rnn with no N: none)
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from _common import machine, peak_rss_mb, previous, print_table, save

from qgen.datasets import simulate
from qgen.measurements import pauli4
from qgen.models import create_model
from qgen.targets import make_target
from qgen.workflows import evaluate


def one(model_name: str, n: int) -> dict:
    ds = simulate(make_target("tfim", n=n, h=1.0), pauli4(), 2_000, seed=0)
    torch.manual_seed(0)
    model = create_model(model_name, n, 4, povm=pauli4())
    t0 = time.perf_counter()
    v = evaluate(model, ds, n_samples=2_000).verdict
    return {"model": model_name, "N": n, "strings enumerated": 4**n if "enumerated" in v.fidelity.note else 0,
            "how": v.fidelity.note.split(":")[1].strip()[:40] if ":" in v.fidelity.note else v.fidelity.note,
            "evaluate s": round(time.perf_counter() - t0, 1), "peak RSS MB": round(peak_rss_mb()),
            "load": round(os.getloadavg()[0], 1), "local sets": len(v.local.sets)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rnn", type=int, nargs="*", default=[4, 8, 10, 12])
    p.add_argument("--lpdo", type=int, nargs="*", default=[12, 50])
    args = p.parse_args()
    # rows measured now replace the saved ones of the same model and N; the others are kept
    saved = {(r["model"], r["N"]): r for r in previous("verdict").get("rows", [])}
    for name, ns in (("rnn", args.rnn), ("lpdo", args.lpdo)):
        for n in ns:
            saved[name, n] = one(name, n)
            print(saved[name, n], flush=True)
            rows = [saved[k] for k in sorted(saved, key=lambda k: (k[0] != "rnn", k[1]))]
            save("verdict", {"machine": machine(), "rows": rows})
    rows = list(saved.values())
    print_table(f"cost of the verdict ({machine()['date']})", rows, list(rows[0]))


if __name__ == "__main__":
    main()
