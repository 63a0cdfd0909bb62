"""The RBM backend against the RNN on GHZ and TFIM (J = h = 1, open chain) data at N = 6 and
20, Pauli-4.

Each model is trained with its default preset for ``--max-time`` (2 minutes) on the same
50,000 simulated strings (80 % train, 10 % validation, 10 % test), early-stopping on the
validation split, and its best weights are scored by :func:`qgen.evaluation.evaluate` on
20,000 model samples: F_c, KL(P‖q) on the test split, the test NLL, and at N = 6 the exact
quantum fidelity of ρ_q = Σ_a q(a) D^a by enumeration (``exact_scores``).  For the RBM also
ln Z with its error bar (0 when summed exactly; at N = 20 with the default 20 hidden units
it is exact, and the AIS estimate of the same ln Z is listed beside it as a check), and the
effective sample size and R̂ of 20,000 Gibbs samples.  Throughputs: training strings per
second (median over epochs) and model strings per second drawn by ``model.sample`` (the RBM's
include its burn-in and thinning).  The load average (1, 5, 15 min) is recorded before
every run: the machine is shared.

    python benchmarks/bench_rbm.py [--cases ghz6 tfim6 ghz20 tfim20] [--models rbm,rnn] [--max-time 2m]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import print_table, save

from qgen.datasets import simulate
from qgen.measurements import pauli4
from qgen.targets import make_target
from qgen.training import load_model, parse_duration
from qgen.workflows import fit_and_evaluate

CASES = {"ghz6": ("ghz", 6), "tfim6": ("tfim", 6), "ghz20": ("ghz", 20), "tfim20": ("tfim", 20)}
COLUMNS = ["case", "model", "F_c", "KL(P‖q)", "test NLL", "quantum F", "ln Z", "AIS ln Z", "ESS/n", "R̂",
           "train/s", "sample/s", "epochs", "train s", "load"]


def _cell(est: dict | None, digits: int = 4) -> str:
    if not est or est.get("mean") is None:
        return "n/a"
    err = est.get("stderr")
    return f"{est['mean']:.{digits}f}" + (f" ± {err:.{digits}f}" if err else "")


def run(case: str, name: str, ds, max_time: float, n_samples: int, out_dir: Path) -> dict:
    load = [round(x, 2) for x in os.getloadavg()]
    report, run = fit_and_evaluate(ds, name, out_dir, n_samples=n_samples, max_time=max_time, epochs=10_000)
    fit = run.summary()
    history = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    model, _ = load_model(out_dir)
    t0 = time.perf_counter()
    model.sample(n_samples, generator=torch.Generator().manual_seed(1))
    sample_rate = n_samples / (time.perf_counter() - t0)
    scores = report.scores
    row = {
        "case": case, "model": name, "likelihood": report.model.likelihood,
        "parameters": report.model.parameters, "config": report.model.config,
        "classical_fidelity": scores.classical_fidelity.to_dict(), "kl_target_model": scores.kl_target_model.to_dict(),
        "test_nll": scores.test_nll.to_dict(), "quantum_fidelity_sampled": scores.quantum_fidelity.to_dict(),
        "exact": report.exact.to_dict() if report.exact is not None else {},
        "train_samples_per_s": float(np.median([h["samples_per_s"] for h in history])),
        "sample_per_s": sample_rate, "epochs": fit["epochs"], "train_seconds": fit["train_seconds"],
        "stop_reason": fit["stop_reason"], "loadavg_before": load,
    }
    if name == "rbm":
        row["sampling"] = dict(model.last_sampling)
        row["log_partition"] = model.log_partition()
        if model.likelihood == "exact":
            t0 = time.perf_counter()
            row["log_partition_ais"] = model.log_partition("ais")
            row["ais_seconds"] = time.perf_counter() - t0
    return row


def table_row(r: dict) -> dict:
    lz, ais, s = r.get("log_partition"), r.get("log_partition_ais"), r.get("sampling")
    return {
        "case": r["case"], "model": r["model"], "F_c": _cell(r["classical_fidelity"]),
        "KL(P‖q)": _cell(r["kl_target_model"]), "test NLL": _cell(r["test_nll"], 3),
        "quantum F": _cell(r["exact"].get("quantum_fidelity")) + (" (exact)" if r["exact"] else ""),
        "ln Z": f"{lz[0]:.4f} ± {lz[1]:.4f}" if lz else "", "AIS ln Z": f"{ais[0]:.4f} ± {ais[1]:.4f}" if ais else "",
        "ESS/n": f"{s['ess'] / s['draws']:.2f}" if s else "", "R̂": f"{s['rhat']:.3f}" if s else "",
        "train/s": f"{r['train_samples_per_s']:,.0f}", "sample/s": f"{r['sample_per_s']:,.0f}",
        "epochs": r["epochs"], "train s": r["train_seconds"], "load": r["loadavg_before"][0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--models", default="rbm,rnn")
    ap.add_argument("--max-time", default="2m", help="training budget per model and case")
    ap.add_argument("--samples", type=int, default=50_000, help="measured strings (80 %% train, 10 %% val, 10 %% test)")
    ap.add_argument("--eval-samples", type=int, default=20_000, help="model samples per evaluation")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--name", default="rbm", help="results file benchmarks/results/NAME.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows: list[dict] = []
    settings = {"threads": args.threads, "max_time": args.max_time, "samples": args.samples,
                "eval_samples": args.eval_samples}
    for case in args.cases:
        kind, n = CASES[case]
        ds = simulate(make_target(kind, n=n), pauli4(), args.samples, seed=0, train_log_prob=False)
        for name in args.models.split(","):
            with tempfile.TemporaryDirectory() as d:
                rows.append(run(case, name, ds, parse_duration(args.max_time), args.eval_samples, Path(d)))
            path = save(args.name, settings | {"rows": rows})
            print(f"{case} {name}: F_c {_cell(rows[-1]['classical_fidelity'])}", flush=True)
    print_table(f"RBM vs RNN, Pauli-4, {args.samples:,} strings, {args.max_time} of training per model",
                [table_row(r) for r in rows], COLUMNS)
    print(f"results saved to {path}")


if __name__ == "__main__":
    main()
