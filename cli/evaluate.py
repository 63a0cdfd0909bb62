"""``qgen evaluate``."""

from __future__ import annotations

import time

import click

from .main import cli
from .options import writable_directory


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
    from qgen.workflows import evaluate_run, format_table

    writable_directory(output or run)
    t0 = time.perf_counter()
    report, paths = evaluate_run(run, data, n_samples=n_samples, seed=seed, out_dir=output)
    click.echo(format_table(report))
    if report.dataset.target is None:
        click.echo("          fidelities need a target: qgen attach DATA --target SPEC")
    click.echo(f"wrote     {', '.join(str(p) for p in paths)} ({time.perf_counter() - t0:.1f} s)")
