"""``qgen measure``: a circuit → randomized Pauli measurements on Aer or a device's noise model → dataset."""

from __future__ import annotations

import time

import click

from qgen.datasets import split_counts
from qgen.datasets.hdf5 import write_dataset

from .main import cli
from .options import circuit_summary, writable_output


def _settings(value: str | None) -> int | str | None:
    if value is None or value == "all":
        return value
    try:
        m = int(value)
    except ValueError:
        m = 0
    if m < 1:
        raise click.BadParameter(f"expected a positive integer or 'all', got '{value}'", param_hint="--settings")
    return m


@cli.command()
@click.argument("circuit", type=click.Path(dir_okay=False))
@click.option("--shots", required=True, type=click.IntRange(min=1), help="Number of measurement shots.")
@click.option("--backend", default="aer", help="Simulator: aer (real devices: use the Python API with a backend).")
@click.option("--noise-model", default=None, help="A real device's noise on Aer: fake_<name>, e.g. fake_sherbrooke.")
@click.option("--settings", default=None,
              help="Basis design: omit for a random basis per shot, M for M random settings, 'all' for 3^N.")
@click.option("--povm", type=click.Choice(["pauli6", "pauli4"]), default="pauli6",
              help="pauli6 (basis and bit) or pauli4 (exact coarse-graining).")
@click.option("--calibrate", is_flag=True, help="Also measure readout confusion matrices (|0…0⟩, |1…1⟩).")
@click.option("--calibration-shots", type=click.IntRange(min=1), default=4096)
@click.option("--max-bond", type=click.IntRange(min=1), default=None, help="Bond cap of the target's MPS.")
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of bases, transpiler and simulator.")
@click.option("--val-fraction", type=float, default=0.1)
@click.option("--test-fraction", type=float, default=0.1)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5 file.")
def measure(circuit, shots, backend, noise_model, settings, povm, calibrate, calibration_shots, max_bond, seed,
            val_fraction, test_fraction, output) -> None:
    """Measure the state prepared by CIRCUIT (OpenQASM 2 or 3) with random Pauli bases.

    \b
    Example:  qgen measure ghz.qasm --shots 20000 --noise-model fake_sherbrooke --calibrate -o ghz.h5
    """
    from qgen.workflows.devices import measure as run_measure

    output = writable_output(output)
    design = _settings(settings)
    split_counts(shots, (val_fraction, test_fraction))  # bad fractions fail before any work
    t0 = time.perf_counter()
    ds = run_measure(circuit, shots, backend=backend, noise_model=noise_model, settings=design, povm=povm, seed=seed,
                     calibrate=calibrate, calibration_shots=calibration_shots, max_bond=max_bond,
                     val_fraction=val_fraction, test_fraction=test_fraction)
    src, info = ds.meta["source"], ds.target.info
    click.echo(f"target    {circuit_summary(info)}")
    click.echo(f"backend   {src['backend']}" + (f", noise model {src['noise_model']}" if src["noise_model"] else "")
               + f"; physical qubits {src['physical_qubits']}")
    click.echo(f"measured  {ds.n_samples:,} shots ({src['design']}) as {ds.povm.name} outcomes in "
               f"{time.perf_counter() - t0:.1f} s; train {ds.split[0]:,}, validation {ds.split[1]:,}, "
               f"test {ds.split[2]:,}")
    readout = ds.meta.get("readout", {})
    reported = readout.get("reported", {}).get("confusion")
    for label, c in (("readout  ", readout.get("confusion")), ("reported ", reported)):
        if c:
            rates = ", ".join(f"{q[1][0]:.3f}/{q[0][1]:.3f}" for q in c[:8])
            click.echo(f"{label} p(1|0)/p(0|1) per qubit: {rates}{' …' if len(c) > 8 else ''}")
    for w in ds.meta.get("warnings", []):
        click.echo(f"warning   {w}", err=True)
    write_dataset(ds, output)
    click.echo(f"wrote     {output}")
