"""Scale benchmarks: one table (CPU, and GPU when one is present), saved as JSON.

Sections (``--sections``, default all):

* ``mps``      perfect MPS sampling and exact ln P of the critical TFIM chain, N = 50, 100, 200;
* ``train``    training throughput of every backend (default preset, batch of its preset);
* ``sample``   model sampling throughput of every backend;
* ``evaluate`` ``qgen.evaluation.evaluate`` on TFIM-50 (model samples scored per second);
* ``simulate`` ``simulate_to_file`` with ln P: 1 process, 2 processes, threads;
* ``ddp``      ``qgen train`` under torchrun, GRU 3×256 (compute-bound): 1 vs 2 gloo processes;
* ``stream``   ``qgen train --stream`` on a 10^7-string file: peak RSS, vs loading it;
* ``plain``    the default RNN in qgen's trainer vs a plain PyTorch GRU loop of the same size.

Throughputs are strings per second; CPU rows use one torch thread unless they say
otherwise.  The 2-core machine is shared, so the load average is recorded with every
section.  Re-running some sections updates them in ``results/scale.json`` and prints the
whole table.

    python benchmarks/bench_scale.py [--sections train,plain] [--big /path/to/tfim50_1e7.h5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, machine, print_table, save
from bench_measurement import measure

from qgen.datasets import simulate, simulate_to_file
from qgen.measurements import pauli4, sample
from qgen.models import MODELS, create_model
from qgen.targets import make_target
from qgen.training import TrainConfig, step, train

N = 50
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
COLUMNS = ["section", "task", "size", "cpu", "gpu", "note"]


def rate(x: float) -> str:
    return f"{x:,.0f}/s"


def tfim_strings(n: int, count: int, seed: int = 0) -> np.ndarray:
    return sample(make_target("tfim", n=n).state, pauli4(), count, seed=seed)


def rounds(repeats: int, runs: dict) -> dict[str, list[float]]:
    """Each throughput measurement ``runs[name]()`` taken ``repeats`` times, interleaved
    round by round, so that every variant sees the same slow drifts of a shared machine's
    load; ``{name: [rate of round 0, round 1, …]}``."""
    out = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            out[name].append(fn())
    return out


def speedup(fast: list[float], slow: list[float]) -> str:
    """Median and range of the per-round ratios fast/slow (a ratio within one round is
    far steadier than either rate on a shared machine)."""
    r = np.array(fast) / np.array(slow)
    return f"{np.median(r):.2f}× (rounds {r.min():.2f}–{r.max():.2f}×)"


# ---------------------------------------------------------------- sections


def _gpu_log_prob_rate(n: int, count: int) -> str:
    """Exact target ln P of ``count`` strings with the torch MPS sweep on CUDA."""
    from qgen.measurements import log_prob

    state = make_target("tfim", n=n).state
    a = sample(state, pauli4(), count, seed=1)
    log_prob(state, pauli4(), a[:100], device="cuda")  # CUDA context, cuBLAS handles
    t0 = time.perf_counter()
    log_prob(state, pauli4(), a, device="cuda")
    return rate(count / (time.perf_counter() - t0))


def sec_mps(args) -> list[dict]:
    rows = []
    for n in (50, 100, 200):
        got = {r["task"].split(" ")[0]: r for r in measure(n, args.mps_samples, args.mps_logp)}
        rows += [
            {"task": f"MPS perfect sampling N={n}", "size": f"{args.mps_samples:.0e}, χ={got['DMRG']['size'][2:]}",
             "cpu": got["sample"]["rate"], "gpu": "n/a (numba)", "note": "2 threads"},
            {"task": f"exact target ln P N={n}", "size": f"{args.mps_logp:.0e}", "cpu": got["exact"]["rate"],
             "gpu": _gpu_log_prob_rate(n, args.mps_logp) if "cuda" in DEVICES else "",
             "note": "CPU: numba + BLAS, 2 threads; GPU: torch sweep, complex128"},
        ]
    return rows


def sec_train(args) -> list[dict]:
    x = tfim_strings(N, args.train_strings + 1000)
    cores = os.cpu_count() or 1

    def speed(name: str, dev: str, threads: int) -> tuple[float, int, bool]:
        """(strings/s, batch size, whether the loss is trained in thread shards)."""
        torch.manual_seed(0)
        model = create_model(name, N, 4)
        cfg = TrainConfig.from_preset(name, epochs=1, patience=None, device=dev, num_threads=threads)
        with tempfile.TemporaryDirectory() as out:
            res = train(model, x[: args.train_strings], x[args.train_strings :], cfg, out, progress=False)
        return res.history[-1]["samples_per_s"], cfg.batch_size, model.shardable_loss

    rows = []
    for name in MODELS:
        row = {"task": f"train {name} (default preset)", "size": f"{args.train_strings:,} strings, N={N}"}
        for dev in DEVICES:
            value, batch, _ = speed(name, dev, 1)
            row["gpu" if dev == "cuda" else "cpu"] = rate(value)
            row["note"] = f"batch {batch}"
            if dev == "cpu" and cores > 1:  # thread shards where the loss allows, else torch's threads
                many, _, sharded = speed(name, dev, cores)
                how = "thread shards" if sharded else "torch threads"
                row["note"] += f"; {cores} threads ({how}): {rate(many)} ({many / value:.2f}×)"
        rows.append(row)
    return rows


def sec_sample(args) -> list[dict]:
    rows = []
    for name in MODELS:
        row = {"task": f"sample {name}", "size": f"{args.sample_strings:,} strings, N={N}"}
        for dev in DEVICES:
            torch.set_num_threads(1)
            torch.manual_seed(0)
            model = create_model(name, N, 4).to(dev).eval()
            gen = torch.Generator(device=dev).manual_seed(0)
            model.sample(256, generator=gen)
            t0 = time.perf_counter()
            _, lq = model.sample(args.sample_strings, generator=gen)
            if dev == "cuda":
                torch.cuda.synchronize()
            row["gpu" if dev == "cuda" else "cpu"] = rate(args.sample_strings / (time.perf_counter() - t0))
            row["note"] = "with exact ln q" if lq is not None else "no ln q"
        rows.append(row)
    return rows


def sec_evaluate(args) -> list[dict]:
    from qgen.workflows import evaluate

    ds = simulate(make_target("tfim", n=N), pauli4(), 3 * args.eval_strings, seed=0, val_fraction=1 / 3,
                  test_fraction=1 / 3)
    torch.manual_seed(0)
    model = create_model("rnn", N, 4)
    evaluate(model, ds, n_samples=500)  # warm-up (numba kernels)
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        evaluate(model, ds, n_samples=args.eval_strings)
        dt = time.perf_counter() - t0
        rows.append({"task": f"qgen evaluate (rnn, TFIM-50), {threads} torch thread(s)",
                     "size": f"{args.eval_strings:,} model samples, {len(ds.train):,} + {len(ds.test):,} data",
                     "cpu": rate(args.eval_strings / dt), "gpu": "",
                     "note": f"{dt:.1f} s: F_c, KLs, quantum F, observables (MPS sweeps on all cores)"})
    torch.set_num_threads(1)
    return rows


def sec_simulate(args) -> list[dict]:
    target = make_target("tfim", n=N)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers, note in ((1, "1 process, 1 thread"), (2, "2 processes (spawned)"), (None, "1 process, 2 threads")):
            t0 = time.perf_counter()
            simulate_to_file(Path(tmp) / "d.h5", target, pauli4(), args.sim_strings, seed=0, workers=workers)
            dt = time.perf_counter() - t0
            rows.append({"task": f"simulate + exact ln P, workers={workers}", "size": f"{args.sim_strings:,}, N={N}",
                         "cpu": rate(args.sim_strings / dt), "gpu": "", "note": f"{note}; {dt:.1f} s"})
    return rows


def _qgen_train(args_list: list[str], procs: int, threads: int, out: Path) -> float:
    """Run ``qgen train`` (under torchrun when procs > 1); samples/s of its last epoch."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1"}
    shutil.rmtree(out, ignore_errors=True)
    cmd = ["qgen", *args_list, "-o", str(out), "--threads", str(threads), "-q"]
    if procs > 1:
        cmd = ["torchrun", "--no-python", "--nproc-per-node", str(procs), "--master-addr", "127.0.0.1",
               "--master-port", str(29400 + os.getpid() % 500), *cmd]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["samples_per_s"]


def sec_ddp(args) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.h5"
        simulate_to_file(data, make_target("tfim", n=N), pauli4(), args.ddp_strings, seed=0, train_log_prob=False,
                         val_fraction=0.05, test_fraction=0.0)
        common = ["train", str(data), "--epochs", "1", "--batch-size", "500", "--set", "hidden=256", "--set",
                  "n_layers=3"]
        runs = rounds(args.repeats, {(p, t): lambda p=p, t=t: _qgen_train(common, p, t, Path(tmp) / "run")
                                     for p, t in ((1, 1), (2, 1), (1, 2))})
    size = f"{int(args.ddp_strings * 0.95):,} strings, batch 500, {args.repeats} rounds"
    one, ddp, threads = runs[(1, 1)], runs[(2, 1)], runs[(1, 2)]
    return [
        {"task": "train GRU 3×256, 1 process × 1 thread", "size": size, "cpu": rate(np.median(one)), "gpu": "",
         "note": "median"},
        {"task": "train GRU 3×256, 1 process × 2 threads (thread shards)", "size": size,
         "cpu": rate(np.median(threads)), "gpu": "",
         "note": f"{speedup(threads, one)} 1 thread"},
        {"task": "train GRU 3×256, 2 gloo DDP processes", "size": size, "cpu": rate(np.median(ddp)), "gpu": "",
         "note": f"{speedup(ddp, one)} 1 process (target ≥ 1.6×); {speedup(ddp, threads)} 2 threads"},
    ]


def _peak_rss_of(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a command run in a fresh child."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], check=True, capture_output=True, text=True)
    rss, wall = out.stdout.split()
    return float(rss), float(wall)


def sec_stream(args) -> list[dict]:
    big = Path(args.big)
    if not big.is_file():
        t0 = time.perf_counter()
        head = simulate_to_file(big, make_target("tfim", n=N), pauli4(), 10_000_000, seed=0, train_log_prob=False,
                                val_fraction=0.001, test_fraction=0.001, progress=True)
        print(f"wrote {big} ({head.n_samples:,} strings) in {time.perf_counter() - t0:.0f} s")
    rows = []
    tiny = ["--set", "hidden=8", "--set", "n_layers=1", "--set", "embed=4", "--batch-size", "5000", "--epochs", "1",
            "--threads", "1", "--max-time", args.stream_time, "-q"]
    size = f"{big.stat().st_size / 1e6:.0f} MB file, 10^7 strings"
    with tempfile.TemporaryDirectory() as tmp:
        small = simulate_to_file(Path(tmp) / "small.h5", make_target("tfim", n=N), pauli4(), 20_000, seed=0,
                                 train_log_prob=False).path
        for mode, data, extra in (("--stream", big, ["--stream", "--buffer", "65536"]), ("in memory", big, []),
                                  ("in memory, 2·10^4-string file", small, [])):
            rss, wall = _peak_rss_of(["qgen", "train", str(data), "-o", f"{tmp}/run", *tiny, *extra])
            last = json.loads(Path(f"{tmp}/run/metrics.jsonl").read_text().splitlines()[-1])
            seen = last["fraction"] * (9_980_000 if data == big else 16_000)
            rows.append({"task": f"train {mode} (RNN 1×8), ≤ {args.stream_time}",
                         "size": size if data == big else "baseline: the process itself",
                         "cpu": f"peak RSS {rss:,.0f} MB", "gpu": "",
                         "note": f"{seen:,.0f} strings trained, {rate(last['samples_per_s'])}, {wall:.0f} s wall"})
    return rows


def _plain_epoch(x: torch.Tensor, batch: int, k: int, params, loss_of) -> float:
    """One epoch of a standard PyTorch loop, samples/s: DataLoader over a TensorDataset,
    one-hot inputs (start token k, then the previous outcomes), ``loss_of(inputs, strings)``,
    Adam."""
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    opt = torch.optim.Adam(params, lr=1e-3)
    loader = DataLoader(TensorDataset(x), batch_size=batch, shuffle=True)
    t0 = time.perf_counter()
    for (xb,) in loader:
        start = torch.full((len(xb), 1), k)
        inp = nn.functional.one_hot(torch.cat([start, xb[:, :-1]], 1), k + 1).float()
        loss = loss_of(inp, xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return len(x) / (time.perf_counter() - t0)


def _plain_gru(x: torch.Tensor, batch: int, hidden: int, layers: int, k: int) -> float:
    """The loop with a fused ``nn.GRU`` and a Linear head, cross-entropy over all steps."""
    from torch import nn

    torch.manual_seed(0)
    gru = nn.GRU(k + 1, hidden, num_layers=layers, batch_first=True)
    out = nn.Linear(hidden, k)
    loss_fn = nn.CrossEntropyLoss()
    return _plain_epoch(x, batch, k, [*gru.parameters(), *out.parameters()],
                        lambda inp, xb: loss_fn(out(gru(inp)[0]).reshape(-1, k), xb.reshape(-1)))


def _plain_gru_cells(x: torch.Tensor, batch: int, hidden: int, layers: int, k: int) -> float:
    """The step-by-step form of the same loop: stacked ``nn.GRUCell`` stepped over the N
    qubits (how the seed paper's TensorFlow code, a MultiRNNCell unrolled by dynamic_rnn,
    and most autoregressive tomography tutorials run the network)."""
    from torch import nn

    torch.manual_seed(0)
    cells = nn.ModuleList([nn.GRUCell(k + 1 if i == 0 else hidden, hidden) for i in range(layers)])
    out = nn.Linear(hidden, k)
    loss_fn = nn.CrossEntropyLoss()

    def loss_of(inp: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        h = [torch.zeros(len(xb), hidden) for _ in cells]
        loss = 0.0
        for i in range(xb.shape[1]):
            z = inp[:, i]
            for j, cell in enumerate(cells):
                h[j] = z = cell(z, h[j])
            loss = loss + loss_fn(out(z), xb[:, i])
        return loss / xb.shape[1]

    return _plain_epoch(x, batch, k, [*cells.parameters(), *out.parameters()], loss_of)


def _gemm_rate(batch: int, hidden: int, repeats: int = 200) -> float:
    """FLOP/s of this machine's fp32 GEMMs at the shapes of one GRU step on the current
    torch threads: the forward h·W_hhᵀ (+ bias), and the backward's grad-input and
    grad-weight products; total FLOPs over total time, best of three passes."""
    h, g = torch.randn(batch, hidden), torch.randn(batch, 3 * hidden)
    w, b = torch.randn(3 * hidden, hidden), torch.randn(3 * hidden)
    products = (lambda: torch.addmm(b, h, w.t()), lambda: g @ w, lambda: g.t() @ h)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            for f in products:
                f()
        best = min(best, time.perf_counter() - t0)
    return 3 * repeats * 2 * batch * hidden * 3 * hidden / best


def _gru_flops_per_string(n: int, k: int, hidden: int, layers: int) -> float:
    """Matrix-product FLOPs to train on one string with the plain one-hot GRU: per step
    2·3H·(I_l + H) for every layer (I_1 = K + 1, I_l = H after) and 2·H·K for the head;
    the backward pass costs twice the forward."""
    per_step = sum(2 * 3 * hidden * ((k + 1 if i == 0 else hidden) + hidden) for i in range(layers)) + 2 * hidden * k
    return 3 * n * per_step


def sec_plain(args) -> list[dict]:
    x = tfim_strings(N, args.plain_strings + 500)
    xt = torch.from_numpy(x[: args.plain_strings]).long()
    size = f"{args.plain_strings:,} strings, N={N}, batch 500, {args.repeats} rounds"
    rows, medians = [], {}
    for threads in (1, 2):
        torch.set_num_threads(threads)

        def ours(amp: str | None = None, shards: bool = True, threads: int = threads, **config) -> float:
            torch.manual_seed(0)
            model = create_model("rnn", N, 4, **config)
            cfg = TrainConfig.from_preset("rnn", epochs=1, patience=None, device="cpu", num_threads=threads, amp=amp)
            least = step.MIN_SHARD
            step.MIN_SHARD = least if shards else cfg.batch_size + 1  # no shards: torch's own threads
            try:
                with tempfile.TemporaryDirectory() as out:
                    return train(model, x[: args.plain_strings], x[args.plain_strings :], cfg, out,
                                 progress=False).history[-1]["samples_per_s"]
            finally:
                step.MIN_SHARD = least

        runs = {"fused": lambda: _plain_gru(xt, 500, 64, 2, 4), "cells": lambda: _plain_gru_cells(xt, 500, 64, 2, 4),
                "ours": ours, "patch2": lambda: ours(patch=2), "bf16": lambda: ours("bf16")}
        if threads > 1:
            runs["unsharded"] = lambda: ours(shards=False)
        r = rounds(args.repeats, runs)
        medians |= {(key, threads): float(np.median(v)) for key, v in r.items()}
        gemm = _gemm_rate(500, 64)
        flops = _gru_flops_per_string(N, 4, 64, 2)
        need = 2 * np.median(r["cells"]) * flops
        rows += [
            {"task": f"plain PyTorch GRU 2×64 loop, {threads} thread(s)", "size": size,
             "cpu": rate(np.median(r["fused"])), "gpu": "", "note": "DataLoader, one-hot, fused nn.GRU, CE, Adam"},
            {"task": f"plain GRUCell 2×64 loop over qubits, {threads} thread(s)", "size": size,
             "cpu": rate(np.median(r["cells"])), "gpu": "", "note": "as above, the cells stepped qubit by qubit"},
            {"task": f"qgen RNN default (2×64 GRU, 4 phases), {threads} thread(s)", "size": size,
             "cpu": rate(np.median(r["ours"])), "gpu": "",
             "note": f"{speedup(r['ours'], r['fused'])} fused loop, {speedup(r['ours'], r['cells'])} cell loop "
                     "(target ≥ 2×)"},
            *([{"task": f"qgen RNN default on {threads} torch threads, no thread shards", "size": size,
                "cpu": rate(np.median(r["unsharded"])), "gpu": "",
                "note": f"{speedup(r['unsharded'], r['fused'])} fused loop; thread shards are "
                        f"{speedup(r['ours'], r['unsharded'])} this"}] if "unsharded" in r else []),
            {"task": f"qgen RNN default, --set patch=2 (2 qubits per step), {threads} thread(s)", "size": size,
             "cpu": rate(np.median(r["patch2"])), "gpu": "",
             "note": f"{speedup(r['patch2'], r['fused'])} fused loop, {speedup(r['patch2'], r['cells'])} cell loop"},
            {"task": f"qgen RNN default, --amp bf16, {threads} thread(s)", "size": size,
             "cpu": rate(np.median(r["bf16"])), "gpu": "",
             "note": f"{speedup(r['bf16'], r['fused'])} fused loop, {speedup(r['bf16'], r['cells'])} cell loop"},
            {"task": f"fp32 GEMM at the GRU step's shapes, {threads} thread(s)", "size": "500×64 · 64×192 and back",
             "cpu": f"{gemm / 1e9:.0f} GFLOP/s", "gpu": "",
             "note": f"2× the cell loop needs {need / 1e9:.0f} GFLOP/s of matrix products alone "
                     f"({flops / 1e6:.1f} MFLOP per string)"},
        ]
    torch.set_num_threads(1)
    best = max((key for key in medians if key[0] in ("fused", "cells")), key=medians.get)
    ours = max((key for key in medians if key[0] == "ours"), key=medians.get)
    loops = {"fused": "fused nn.GRU loop", "cells": "GRUCell loop"}
    rows.append({"task": "qgen RNN default at its fastest vs the fastest plain loop", "size": size,
                 "cpu": f"{medians[ours] / medians[best]:.2f}×", "gpu": "",
                 "note": f"{rate(medians[ours])} on {ours[1]} thread(s) vs {rate(medians[best])}, the "
                         f"{loops[best[0]]} on {best[1]} thread(s) (medians; target ≥ 2×)"})
    return rows


SECTIONS = {"mps": sec_mps, "train": sec_train, "sample": sec_sample, "evaluate": sec_evaluate,
            "simulate": sec_simulate, "ddp": sec_ddp, "stream": sec_stream, "plain": sec_plain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset of " + ",".join(SECTIONS))
    ap.add_argument("--big", default=str(Path(tempfile.gettempdir()) / "qgen_tfim50_1e7.h5"),
                    help="the 10^7-string file of the stream section (simulated if missing)")
    ap.add_argument("--mps-samples", type=int, default=100_000)
    ap.add_argument("--mps-logp", type=int, default=10_000)
    ap.add_argument("--train-strings", type=int, default=5_000)
    ap.add_argument("--sample-strings", type=int, default=20_000)
    ap.add_argument("--eval-strings", type=int, default=5_000)
    ap.add_argument("--sim-strings", type=int, default=400_000)
    ap.add_argument("--ddp-strings", type=int, default=8_000)
    ap.add_argument("--plain-strings", type=int, default=10_000)
    ap.add_argument("--stream-time", default="60s")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds of the ddp and plain sections")
    args = ap.parse_args()
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}")
    path = RESULTS / "scale.json"
    sections = json.loads(path.read_text()).get("sections", {}) if path.is_file() else {}
    torch.set_num_threads(1)
    for name in chosen:
        t0 = time.perf_counter()
        rows = SECTIONS[name](args)
        sections[name] = {"rows": rows, "load_average": os.getloadavg(), "seconds": time.perf_counter() - t0,
                          "machine": machine()}
        print(f"{name}: {time.perf_counter() - t0:.0f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    table = [{"section": name, **row} for name, sec in sections.items() for row in sec["rows"]]
    info = machine()
    print_table(f"Scale benchmarks ({info['cores']} cores {info['cpu']}, torch {info['torch']}, "
                f"GPU {info['cuda'] or 'none'})", table, COLUMNS)
    print(f"results saved to {save('scale', {'sections': sections})}")


if __name__ == "__main__":
    main()
