"""``qgen demo``: the whole path at a small size."""

from __future__ import annotations

import time

import click

from .main import cli
from .options import FINITE, writable_directory


@cli.command()
@click.option("-o", "--output", type=click.Path(file_okay=False), default="qgen-demo", help="Working directory.")
@click.option("--n", "n", type=click.IntRange(min=2), default=12, help="Qubits of the TFIM chain.")
@click.option("--h", "h", type=FINITE, default=1.0, help="Transverse field (1 = critical).")
@click.option("--samples", type=click.IntRange(min=100), default=50_000, help="Measurement strings.")
@click.option("--max-time", default="90s", help="Training budget.")
@click.option("--seed", type=click.IntRange(min=0), default=0)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def demo(output, n, h, samples, max_time, seed, quiet) -> None:
    """Simulate a TFIM chain, train the RNN on its Pauli-4 data, and evaluate it.

    Equivalent to ``qgen simulate tfim …``, ``qgen train …``, ``qgen evaluate …``.
    """
    from qgen.datasets import simulate
    from qgen.datasets.hdf5 import write_dataset
    from qgen.measurements import pauli4
    from qgen.resources import check_memory, estimate_simulate
    from qgen.targets import make_target
    from qgen.training import parse_duration
    from qgen.workflows import evaluate_run, fit, format_table

    parse_duration(max_time)  # bad input fails before any work or output
    out = writable_directory(output)
    check_memory(estimate_simulate(samples, n, bond_dim=64), f"simulating {samples:,} strings × {n:,} qubits",
                 "outcomes + ln P")
    t0 = time.perf_counter()
    target = make_target("tfim", n, h=h, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"tfim{n}.h5"
    click.echo(f"[1/3] simulate: TFIM n={n}, J=1, h={h}, {samples:,} Pauli-4 measurements")
    write_dataset(simulate(target, pauli4(), samples, seed=seed, progress=not quiet), data)
    click.echo(f"      E0 = {target.info['energy']:.10f} ({target.info['method']}), wrote {data}")
    click.echo(f"[2/3] train: RNN (default preset), budget {max_time}")
    run = fit(data, "rnn", out / "run", seed=seed, progress=not quiet,
              max_time=max_time, epochs=12)  # ~5 s each here: the cosine schedule ends in budget
    click.echo(f"      {len(run.result.history)} epochs, best validation {run.model.val_name.upper()} "
               f"{run.result.best_val:.4f}, stopped by {run.result.stop_reason}")
    click.echo("[3/3] evaluate")
    report, paths = evaluate_run(out / "run", data, seed=seed)
    click.echo(format_table(report))
    click.echo(f"done in {time.perf_counter() - t0:.0f} s; report and plots in {out / 'run'}")
