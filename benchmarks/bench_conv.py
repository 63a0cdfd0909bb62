"""The causal-convolution backend (``conv``) against the RNN: throughput, and F_c after a
fixed training budget.

Cases: TFIM-50 (J = h = 1, open chain, Pauli-4) and GHZ-20 (Pauli-6); each simulated once
(seed 0) as ``--samples`` training strings plus 10 % for validation and 20 % for the test.
For each case and model (default presets, initial weights from seed 0):

* training strings/s: the trainer (:func:`qgen.training.train`) for ``--rate-time`` seconds
  on 1 and on 2 threads (both models train 2-thread batches in thread shards: their losses
  allow it), strings per second of the epoch;
* sampling strings/s: ``model.sample`` of ``--sample-strings`` strings with their exact
  ln q, on 1 and on 2 torch threads (untrained weights: the cost does not depend on them);
* F_c after ``--budget`` of training on ``--threads`` threads: the cosine schedule spans the
  epochs that fit the budget at the rate just measured (so the learning rate anneals
  within it; ``max_time`` cuts what does not fit), and the best validation weights are
  scored by :func:`qgen.workflows.evaluate` on ``--eval-samples`` model strings: F_c,
  KL(P‖q) and the test NLL, each with its error bar.

The machine is shared: the load average (1 min) is recorded beside every number.  On a GPU
(``--device cuda``) the thread columns are one run on the device.

    python benchmarks/bench_conv.py [--cases tfim50 ghz20] [--models conv,rnn] [--budget 2m] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from _common import print_table, save

from qgen.datasets import Dataset, simulate
from qgen.measurements import pauli4, pauli6
from qgen.models import create_model
from qgen.targets import make_target
from qgen.training import TrainConfig, parse_duration, train
from qgen.workflows import fit_and_evaluate

CASES = {"tfim50": ("tfim", 50, pauli4), "ghz20": ("ghz", 20, pauli6)}
COLUMNS = ["case", "model", "params", "train/s 1t", "train/s 2t", "sample/s 1t", "sample/s 2t", "epochs", "F_c",
           "KL(P‖q)", "test NLL", "load"]


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def train_rate(ds: Dataset, name: str, threads: int, seconds: float, device: str) -> dict:
    """Strings per second of one (cut) training epoch on up to 20,000 training strings."""
    torch.manual_seed(0)
    model = create_model(name, ds.n_qubits, ds.povm.n_outcomes, povm=ds.povm)
    cfg = TrainConfig.from_preset(name, epochs=1, patience=None, max_time=seconds, num_threads=threads,
                                  device=device)
    load = _load()
    with tempfile.TemporaryDirectory() as d:
        res = train(model, ds.train[:20_000], ds.val[:2_000], cfg, d, progress=False)
    return {"strings_per_s": res.history[-1]["samples_per_s"], "load": load}


def sample_rate(ds: Dataset, name: str, threads: int, n: int, device: str) -> dict:
    """Strings per second of ``model.sample`` (with exact ln q) on ``threads`` torch threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = create_model(name, ds.n_qubits, ds.povm.n_outcomes, povm=ds.povm).to(device).eval()
        gen = torch.Generator(device=device).manual_seed(0)
        model.sample(256, generator=gen)  # warm-up
        load, t0 = _load(), time.perf_counter()
        model.sample(n, generator=gen)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return {"strings_per_s": n / (time.perf_counter() - t0), "load": load}
    finally:
        torch.set_num_threads(before)


def fixed_budget(ds: Dataset, name: str, budget: float, rate: float, threads: int, n_eval: int, device: str,
                 out: Path) -> dict:
    """Train for ``budget`` seconds (epochs planned from ``rate``) and score the best weights."""
    epochs = max(1, int(0.85 * budget * rate / len(ds.train)))
    load = _load()
    report, run = fit_and_evaluate(ds, name, out, n_samples=n_eval, epochs=epochs, max_time=budget,
                                   num_threads=threads, device=device)
    s = report.scores
    return {"epochs_planned": epochs, "epochs": len(run.result.history), "stop_reason": run.result.stop_reason,
            "train_seconds": run.result.elapsed, "classical_fidelity": s.classical_fidelity.to_dict(),
            "kl_target_model": s.kl_target_model.to_dict(), "test_nll": s.test_nll.to_dict(), "load": load}


def _cell(est: dict, digits: int = 4) -> str:
    if est.get("mean") is None:
        return "n/a"
    return f"{est['mean']:.{digits}f} ± {est['stderr']:.{digits}f}"


def table_row(r: dict) -> dict:
    rate = {f"{what}/s {t}t": f"{r[what][str(t)]['strings_per_s']:,.0f}" for what in ("train", "sample")
            for t in (1, 2) if str(t) in r[what]}
    b = r["budget"]
    return {"case": r["case"], "model": r["model"], "params": f"{r['parameters']:,}", **rate,
            "epochs": f"{b['epochs']}/{b['epochs_planned']}", "F_c": _cell(b["classical_fidelity"]),
            "KL(P‖q)": _cell(b["kl_target_model"]), "test NLL": _cell(b["test_nll"], 3), "load": b["load"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--models", default="conv,rnn")
    ap.add_argument("--samples", type=int, default=100_000, help="training strings (plus 10 %% val, 20 %% test)")
    ap.add_argument("--budget", default="2m", help="training time per model and case for F_c")
    ap.add_argument("--threads", type=int, default=2, help="threads of the fixed-budget training")
    ap.add_argument("--rate-time", default="30s", help="training time of each throughput measurement")
    ap.add_argument("--sample-strings", type=int, default=20_000)
    ap.add_argument("--eval-samples", type=int, default=20_000, help="model samples per evaluation")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--name", default="conv", help="results file benchmarks/results/NAME.json")
    args = ap.parse_args()
    budget, rate_time = parse_duration(args.budget), parse_duration(args.rate_time)
    threads = [1, 2] if args.device == "cpu" else [1]
    settings = {k: getattr(args, k) for k in ("samples", "budget", "threads", "rate_time", "sample_strings",
                                              "eval_samples", "device")}
    rows: list[dict] = []
    for case in args.cases:
        kind, n, povm = CASES[case]
        total = round(args.samples / 0.7)
        ds = simulate(make_target(kind, n=n), povm(), total, seed=0, val_fraction=0.1, test_fraction=0.2,
                      train_log_prob=False)
        for name in args.models.split(","):
            model = create_model(name, n, ds.povm.n_outcomes, povm=ds.povm)
            row = {"case": case, "model": name, "config": model.config,
                   "parameters": sum(p.numel() for p in model.parameters()),
                   "train": {str(t): train_rate(ds, name, t, rate_time, args.device) for t in threads},
                   "sample": {str(t): sample_rate(ds, name, t, args.sample_strings, args.device) for t in threads}}
            rate = row["train"][str(min(args.threads, max(threads)))]["strings_per_s"]
            with tempfile.TemporaryDirectory() as d:
                row["budget"] = fixed_budget(ds, name, budget, rate, args.threads, args.eval_samples, args.device,
                                             Path(d))
            rows.append(row)
            path = save(args.name, settings | {"rows": rows})
            print(f"{case} {name}: F_c {_cell(row['budget']['classical_fidelity'])}", flush=True)
    print_table(f"conv vs RNN, {args.samples:,} training strings, {args.budget} of training on {args.threads} "
                f"threads ({args.device})", [table_row(r) for r in rows], COLUMNS)
    print(f"results saved to {path}")


if __name__ == "__main__":
    main()
