"""Speed of the default backend's candidates at large N: why ``fit``'s ``"auto"`` model
is a tensor network only for small N (:data:`qgen.workflows.fitting.AUTO_TENSOR_NETWORK_MAX`).

For N = 8, 20 and 50 qubits and Pauli-4 strings of the TFIM ground state (J = h = 1),
every candidate (``rnn``, ``transformer``, ``mps``, ``lpdo``; default presets, one torch
thread) times ``--steps`` training steps (loss, backward, AdamW) on batches of 100 and
500 strings, ``log_prob`` of 10,000 strings and drawing 10,000 samples.  The table prints
milliseconds per step and seconds per 10,000 strings; the JSON goes to
``benchmarks/results/default_model.json``.

    python benchmarks/bench_default_model.py [--n 8 50] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from _common import print_table, save

import qgen
from qgen.models import create_model

MODELS = ("rnn", "transformer", "mps", "lpdo")


def seconds(fn, repeat: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def measure(name: str, n: int, x: torch.Tensor, povm, steps: int) -> dict:
    torch.manual_seed(0)
    model = create_model(name, n, povm.n_outcomes, povm=povm)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    row = {"model": name, "N": n, "parameters": sum(p.numel() for p in model.parameters())}
    for b in (100, 500):
        def step(b: int = b) -> None:
            opt.zero_grad()
            model.loss(x[:b]).backward()
            opt.step()
        row[f"ms/step B={b}"] = round(1e3 * seconds(step, steps), 1)
    with torch.no_grad():
        row["log_prob s/10k"] = round(seconds(lambda: model.log_prob(x[:10_000]), 1), 2)
        row["sample s/10k"] = round(seconds(lambda: model.sample(10_000, torch.Generator().manual_seed(1)), 1), 2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[8, 20, 50])
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    povm, rows, load0 = qgen.get_povm("pauli4"), [], os.getloadavg()
    for n in args.n:
        x = torch.as_tensor(qgen.simulate(qgen.make_target("tfim", n=n, J=1.0, h=1.0), povm, 10_000, seed=0,
                                          train_log_prob=False).outcomes, dtype=torch.long)
        for name in MODELS:
            rows.append(measure(name, n, x, povm, args.steps))
            print(rows[-1], flush=True)
    cols = ["model", "N", "parameters", "ms/step B=100", "ms/step B=500", "log_prob s/10k", "sample s/10k"]
    print_table(f"one thread, load average {load0[0]:.1f} → {os.getloadavg()[0]:.1f}", rows, cols)
    save("default_model", {"rows": rows, "load_average_start": load0, "load_average_end": os.getloadavg()})


if __name__ == "__main__":
    main()
