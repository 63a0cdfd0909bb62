"""``qgen compare``."""

from __future__ import annotations

import click

from qgen.datasets.hdf5 import read_dataset

from .main import cli
from .options import writable_directory


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--models", default="rnn,transformer,flow,vae,gan",
              help="Comma-separated backends: rnn, transformer, conv, flow, vae, gan, rbm.")
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
    from qgen.models import get_model
    from qgen.training import parse_duration
    from qgen.workflows import compare as run_compare
    from qgen.workflows import format_comparison

    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise click.BadParameter(f"no model names in '{models}'", param_hint="--models")
    for name in names:
        get_model(name)  # unknown names fail before any training
    budget = parse_duration(max_time)
    writable_directory(output)
    ds = read_dataset(data)
    rows = run_compare(ds, names, max_time=budget, out_dir=output, seed=seed, n_samples=n_samples,
                       progress=not quiet)
    click.echo(format_comparison(rows))
    click.echo(f"wrote     {output}/compare.json, {output}/compare.png and one run directory per model")
