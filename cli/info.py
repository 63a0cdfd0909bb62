"""``qgen info FILE``."""

from __future__ import annotations

import click

from qgen.datasets.hdf5 import read_dataset

from .main import cli


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
def info(file: str) -> None:
    """Print a readable summary of a dataset FILE."""
    click.echo(read_dataset(file).describe())
