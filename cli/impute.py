"""``qgen impute``."""

from __future__ import annotations

from pathlib import Path

import click

from .main import cli
from .options import writable_output


@cli.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--data", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Dataset with missing readouts (imported from records marked '-', '?' or 'nan', or an all-zero "
                   "one-hot block).")
@click.option("--draws", "n_draws", type=click.IntRange(min=1), default=1,
              help="Completed copies (multiple imputation): OUT, then OUT_1, OUT_2, … for more than one.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the draws.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5 file.")
def impute(run, data, n_draws, seed, output) -> None:
    """Fill the missing readouts of DATA with draws from the model in RUN, conditioned on
    the readouts each shot has.  The filled positions are recorded (/imputed in the file,
    'imputed' in its meta): they are model draws, not measurements.

    \b
    Example:  qgen impute runs/tfim12 --data holes.h5 -o filled.h5
    """
    from qgen.datasets import read_dataset, write_dataset
    from qgen.training import load_model
    from qgen.workflows import impute as impute_data

    ds = read_dataset(data)
    out = Path(output)
    paths = [out] + [out.with_name(f"{out.stem}_{k}{out.suffix}") for k in range(1, n_draws)]
    for p in paths:
        writable_output(str(p))
    model, _ = load_model(run, expect=ds.identity())
    for p, done in zip(paths, impute_data(model, ds, seed, n_draws)):
        write_dataset(done, p)
    click.echo(f"imputed   {int(ds.missing.sum()) if ds.missing is not None else 0:,} readouts × {n_draws} draw(s)")
    click.echo(f"wrote     {', '.join(str(p) for p in paths)}")
