"""Calibration of the finite-data error bars (issue 17.5): over many simulated experiments
with a known truth, does the reported 1σ interval of the reconstruction's fidelity contain
the true fidelity ⟨ψ|ρ_true|ψ⟩ about 68 % of the time?

Each experiment draws S shots of a noisy state (default: GHZ-3 depolarized with p = 0.1 per
qubit, Pauli-4, S = 2,000; seed = experiment number), fits the model with K bootstrap refits
(:func:`qgen.workflows.fit`, ``bootstrap=K``), evaluates it (:func:`qgen.workflows.evaluate`
with the refits) and records the verdict's fidelity, its total error (finite data and model
samples in quadrature) and the exact true value (:func:`qgen.workflows.true_fidelity`).
The table gives the coverage of the 1σ and 2σ intervals with its binomial error, the mean
bias of the fidelity and the mean reported error against the spread of the fidelities over
the experiments (the error the interval should have).

Both the fidelity of the reconstruction (error: the refits' spread, which leaves the bias
out) and the verdict's bootstrap bias-corrected estimate (error including the correction,
:func:`qgen.workflows.refits.bias_corrected`) are scored.  ``--model mle`` runs the same
experiments with maximum-likelihood tomography and the shot bootstrap (K refits), through
the same two formulas.

    python benchmarks/bench_calibration.py [--experiments 50] [--refits 8] [--model lpdo]
        [--set epochs=60 --set batch_size=200] [--first 0] [--name calibration]
    python benchmarks/bench_calibration.py --name calibration --merge part_a part_b

``--first`` and ``--merge`` split the experiments over processes: each writes its own
result, and ``--merge`` joins them (same settings, distinct seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from _common import RESULTS, machine, print_table, save

from qgen.datasets import Dataset, simulate
from qgen.measurements import get_povm
from qgen.scores.bootstrap import bootstrap
from qgen.scores.densities import fidelity_pure
from qgen.scores.tomography import mle
from qgen.stats import Estimate
from qgen.targets import make_target
from qgen.workflows import evaluate, fit, true_fidelity
from qgen.workflows.refits import bias_corrected, data_error

__all__ = ["experiment", "summary"]


def experiment(seed: int, *, target: str = "ghz", n: int = 3, noise: float = 0.1, povm: str = "pauli4",
               shots: int = 2_000, model: str = "lpdo", refits: int = 8, options: dict | None = None) -> dict:
    """One simulated experiment: the reported fidelity, its errors, and the truth."""
    ds = simulate(make_target(target, n=n, noise=noise), get_povm(povm), shots, seed=seed)
    t0 = time.perf_counter()
    if model == "mle":
        psi = ds.target.state.with_noise(0.0).to_dense()
        fid = lambda x: fidelity_pure(mle(x, ds.povm).rho, psi)  # noqa: E731
        values = [Estimate(v, 0.0, 0) for v in bootstrap(ds.outcomes, fid, k=refits, seed=seed)]
        point = Estimate(fid(ds.outcomes), 0.0, len(ds.outcomes))
        f = Estimate(point.mean, 0.0, point.n, data_stderr=data_error(values))
        return _row(seed, f, bias_corrected(point, values), ds, t0)
    with tempfile.TemporaryDirectory() as d:
        run = fit(ds, model, d, seed=seed, progress=False, bootstrap=refits, **(options or {}))
        report = evaluate(run.best(), ds, n_samples=2_000, seed=seed, refits=run.refit_models())
    return _row(seed, report.verdict.fidelity, report.verdict.corrected, ds, t0)


def _row(seed: int, f: Estimate, corrected: Estimate, ds: Dataset, t0: float) -> dict:
    return {"seed": seed, "fidelity": f.mean, "data_stderr": f.data_stderr, "stderr": f.stderr,
            "total_stderr": f.total_stderr, "corrected": corrected.mean, "corrected_stderr": corrected.total_stderr,
            "truth": true_fidelity(ds.target.state).mean,
            "seconds": round(time.perf_counter() - t0, 1), "load": os.getloadavg()[0]}


def summary(rows: list[dict]) -> dict:
    """Coverage of the 1σ and 2σ intervals (with binomial errors), bias and error sizes."""
    f = np.array([r["fidelity"] for r in rows])
    err = np.array([r["total_stderr"] for r in rows])
    truth = np.array([r["truth"] for r in rows])
    z = np.abs(f - truth) / err
    m = len(rows)
    c1, c2 = float(np.mean(z <= 1)), float(np.mean(z <= 2))
    out = {"experiments": m, "coverage_1sigma": c1, "coverage_1sigma_err": float(np.sqrt(c1 * (1 - c1) / m)),
           "coverage_2sigma": c2, "mean_bias": float(np.mean(f - truth)), "mean_reported_error": float(np.mean(err)),
           "spread_of_fidelity": float(np.std(f, ddof=1)), "within_68_pm_10": bool(0.58 <= c1 <= 0.78)}
    if all("corrected" in r for r in rows):
        fc = np.array([r["corrected"] for r in rows])
        cc = float(np.mean(np.abs(fc - truth) <= np.array([r["corrected_stderr"] for r in rows])))
        out |= {"corrected_coverage_1sigma": cc, "corrected_mean_bias": float(np.mean(fc - truth)),
                "corrected_within_68_pm_10": bool(0.58 <= cc <= 0.78)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiments", type=int, default=50)
    p.add_argument("--refits", type=int, default=8)
    p.add_argument("--model", default="lpdo")
    p.add_argument("--shots", type=int, default=2_000)
    p.add_argument("--set", dest="sets", action="append", default=[], help="training option KEY=VALUE")
    p.add_argument("--first", type=int, default=0, help="seed of the first experiment")
    p.add_argument("--name", default="calibration")
    p.add_argument("--merge", nargs="+", metavar="NAME",
                   help="run nothing: join the experiments of these results (same settings) into --name")
    args = p.parse_args()
    if args.merge:
        parts = [json.loads((RESULTS / f"{name}.json").read_text()) for name in args.merge]
        if any(part["settings"] != parts[0]["settings"] for part in parts):
            p.error("the results to merge were run with different settings")
        rows = sorted((r for part in parts for r in part["experiments"]), key=lambda r: r["seed"])
        if len({r["seed"] for r in rows}) != len(rows):
            p.error("the results to merge share experiments (seeds)")
        save(args.name, {"settings": parts[0]["settings"], "merged": args.merge, "experiments": rows,
                         "summary": summary(rows)})
    else:
        options = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.sets)}
        settings = {"model": args.model, "refits": args.refits, "shots": args.shots, "options": options,
                    "target": "ghz n=3 noise=0.1", "povm": "pauli4"}
        rows = []
        for seed in range(args.first, args.first + args.experiments):
            rows.append(experiment(seed, model=args.model, refits=args.refits, shots=args.shots, options=options))
            print(json.dumps(rows[-1]), flush=True)
            save(args.name, {"settings": settings, "experiments": rows,
                             "summary": summary(rows) if len(rows) > 1 else None})
    s = summary(rows)
    print_table(f"calibration of the 1σ interval ({machine()['date']})", [s], list(s))


if __name__ == "__main__":
    main()
