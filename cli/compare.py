"""``qgen compare``."""

from __future__ import annotations

import click

from qgen.datasets import read_dataset

from .main import cli


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--models", default="rnn,transformer,flow,vae,gan", help="Comma-separated backends.")
@click.option("--max-time", default="5m", help="Training budget per model, e.g. 90s, 5m.")
@click.option("--samples", "n_samples", type=click.IntRange(min=2), default=20_000, help="Model samples for scores.")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("-o", "--output", type=click.Path(file_okay=False), default="compare", help="Output directory.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def compare(data, models, max_time, n_samples, seed, output, quiet) -> None:
    """Train several backends on DATA with the same budget and print one table.

    \b
    Example:  qgen compare tfim20.h5 --models rnn,transformer,flow,vae,gan --max-time 5m
    """
    from qgen.compare import compare as run_compare
    from qgen.compare import format_comparison
    from qgen.models import get_model
    from qgen.training import parse_duration

    names = [m.strip() for m in models.split(",") if m.strip()]
    for name in names:
        get_model(name)  # unknown names fail before any training
    budget = parse_duration(max_time)
    ds = read_dataset(data)
    rows = run_compare(ds, names, max_time=budget, out_dir=output, seed=seed, n_samples=n_samples,
                       progress=not quiet)
    click.echo(format_comparison(rows))
    click.echo(f"wrote     {output}/compare.json, {output}/compare.png and one run directory per model")
