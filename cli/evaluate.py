"""``qgen evaluate``."""

from __future__ import annotations

import time

import click

from qgen.datasets.hdf5 import read_dataset

from .main import cli
from .options import writable_directory


def run_evaluation(run: str, data: str, n_samples: int = 20_000, seed: int = 0, output: str | None = None):
    """Library-level body of ``qgen evaluate``: returns (report, written paths)."""
    from qgen.training import load_model
    from qgen.workflows import evaluate, write_report

    writable_directory(output or run)
    ds = read_dataset(data)
    model, _ = load_model(run, expect=ds.identity())
    report = evaluate(model, ds, n_samples=n_samples, seed=seed)
    return report, write_report(report, output or run)


@cli.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="Dataset the model was trained on.")
@click.option("--samples", "n_samples", type=click.IntRange(min=2), default=20_000, help="Model samples to draw.")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None, help="Report directory (default RUN).")
def evaluate(run, data, n_samples, seed, output) -> None:
    """Score the model in RUN against DATA: report.json, plots and a table.

    \b
    Example:  qgen evaluate runs/tfim50 --data tfim50.h5
    """
    from qgen.workflows import format_table

    t0 = time.perf_counter()
    report, paths = run_evaluation(run, data, n_samples, seed, output)
    click.echo(format_table(report))
    click.echo(f"wrote     {', '.join(str(p) for p in paths)} ({time.perf_counter() - t0:.1f} s)")
