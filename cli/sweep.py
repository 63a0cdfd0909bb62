"""``qgen sweep``: how many measurements are needed."""

from __future__ import annotations

import click

from qgen.datasets.hdf5 import read_dataset

from .main import cli
from .options import int_list, writable_directory


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--samples", "sizes", required=True,
              help="Comma-separated training-set sizes (nested subsets), e.g. 1000,3000,10000.")
@click.option("--model", "model_name", default="rnn", help="Backend: rnn, transformer, conv, flow, vae, gan, rbm.")
@click.option("--max-time", default="2m", help="Training budget per size, e.g. 90s, 5m.")
@click.option("--epochs", type=click.IntRange(min=1), default=10_000, help="Epoch limit per size (early stopping).")
@click.option("--model-samples", "n_samples", type=click.IntRange(min=2), default=20_000,
              help="Model samples for the scores.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the subsets and of training.")
@click.option("-o", "--output", type=click.Path(file_okay=False), default="sweep", help="Output directory.")
@click.option("--resume", is_flag=True, help="Keep the sizes already done in OUTPUT/sweep.json.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def sweep(data, sizes, model_name, max_time, epochs, n_samples, seed, output, resume, quiet) -> None:
    """Train on nested subsets of DATA and plot the scores against the number of measurements.

    \b
    Example:  qgen sweep data.h5 --samples 1000,3000,10000,30000,100000 --model rnn --max-time 5m
    """
    from qgen.models import get_model
    from qgen.training import parse_duration
    from qgen.workflows import format_sweep
    from qgen.workflows import sweep as run_sweep

    n_list = int_list(sizes)
    get_model(model_name)  # an unknown name fails before any training
    budget = parse_duration(max_time)
    writable_directory(output)
    ds = read_dataset(data)
    if ds.target is None:
        click.echo("target    none attached: test NLL and model vs held-out data only (qgen attach adds one)")

    def report(row) -> None:
        f_c = row.scores["classical_fidelity"]
        score = f"F_c {f_c.mean:.4f}" if f_c.available else f"test NLL {row.scores['test_nll'].mean:.4f}"
        click.echo(f"n={row.n_train:<8,} {score}, {row.epochs} epochs in {row.train_seconds:.0f} s "
                   f"({row.stop_reason})")

    rows = run_sweep(ds, n_list, model=model_name, max_time=budget, epochs=epochs, out_dir=output, seed=seed,
                     n_samples=n_samples, resume=resume, progress=not quiet, on_point=report)
    click.echo(format_sweep(rows))
    click.echo(f"wrote     {output}/sweep.json, {output}/sweep.txt, {output}/sweep.png and one run directory per size")
