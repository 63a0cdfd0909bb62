"""``qgen import`` (measurement records → dataset) and ``qgen attach`` (a target for a dataset)."""

from __future__ import annotations

import time

import click
import numpy as np

from qgen.datasets import RECORD_FORMATS, RESULT_VALUES, Dataset, attach_target, correct_readout, import_records
from qgen.datasets.hdf5 import read_dataset, write_dataset
from qgen.datasets.qiskit import QISKIT_FORMATS, import_qiskit, read_confusions
from qgen.measurements import POVM_NAMES
from qgen.stats import mean_estimate
from qgen.targets import parse_target

from .main import cli
from .options import writable_output

_TARGET_HELP = ("Target: a kind with parameters (tfim:h=1,J=1, ghz, xxz:delta=0.5, tfim2d:lx=3,ly=4), "
                "an MPS .npz, or the POVM_GENMODEL index.txt,tensor.txt pair (or its directory).")
_HAMILTONIAN_HELP = "Hamiltonian of a named or file state, for energies (e.g. tfim:J=-1,h=-1)."


def _report_target(ds: Dataset, seconds: float) -> None:
    """Print the attached target and how well it explains the data (its NLL, or strings it cannot produce)."""
    click.echo(f"target    {ds.target.describe()}; exact ln P of all {ds.n_samples:,} strings in {seconds:.1f} s")
    impossible = int(np.sum(ds.log_prob == -np.inf))
    if impossible:
        click.echo(f"warning   {impossible:,} of {ds.n_samples:,} strings have probability 0 under this target: "
                   "the data cannot have come from it", err=True)
    else:
        click.echo(f"          its NLL on the data is {mean_estimate(-ds.log_prob)} nats (compare a model's test NLL)")


@cli.command("import")
@click.argument("records", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", required=True, type=click.Choice(RECORD_FORMATS + QISKIT_FORMATS),
              help="index: N outcome indices per row; onehot: K·N values 0/1 per row (qubit-major); "
                   "pauli-basis: N basis letters X/Y/Z then N results per row; qiskit-counts: JSON "
                   "{basis string: {bitstring: count}}; qiskit-memory: JSON {basis string: [bitstring, …]}; "
                   "qiskit-result: a saved Result.to_dict() JSON (basis strings list qubit 0 first, "
                   "bitstrings Qiskit's, qubit 0 rightmost).  A missing readout is '-', '?' or 'nan' (in "
                   "pauli-basis the result, or the basis and the result), in onehot an all-zero block: kept as "
                   "the dataset's missing mask (qgen impute fills it).")
@click.option("--povm", type=click.Choice(POVM_NAMES, case_sensitive=False), default=None,
              help="POVM of the records (required for index and onehot; pauli6 for pauli-basis).")
@click.option("--n-qubits", type=click.IntRange(min=1), default=None, help="Expected N (checked).")
@click.option("--values", type=click.Choice(RESULT_VALUES), default="auto",
              help="pauli-basis results: bits 0/1 (0 = eigenvalue +1) or signs ±1; auto decides from the file.")
@click.option("--skip-rows", type=click.IntRange(min=0), default=0, help="Lines to skip first (a header).")
@click.option("--target", default=None, help=_TARGET_HELP)
@click.option("--hamiltonian", default=None, help=_HAMILTONIAN_HELP)
@click.option("--val-fraction", type=float, default=0.1)
@click.option("--test-fraction", type=float, default=0.1)
@click.option("--seed", type=click.IntRange(min=0), default=0, help="Seed of the shuffle before splitting.")
@click.option("--shuffle/--no-shuffle", default=True, help="Shuffle the shots before splitting.")
@click.option("--readout", "readout_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="JSON list of per-qubit confusion matrices [[p(0|0), p(0|1)], [p(1|0), p(1|1)]]: folded into "
                   "the POVM, so the state before readout is learned.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads for ln P (default: all cores).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5 file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def import_(records, fmt, povm, n_qubits, values, skip_rows, target, hamiltonian, val_fraction, test_fraction,
            seed, shuffle, readout_file, workers, output, quiet) -> None:
    """Import measurement RECORDS (text, CSV or .npy; one row per shot) as a dataset.

    \b
    Examples:
      qgen import shots.csv --format index --povm pauli4 -o data.h5
      qgen import shots.txt --format pauli-basis --target tfim:h=1 -o data.h5
      qgen import train.txt --format onehot --povm pauli4 --target index.txt,tensor.txt -o data.h5
    """
    output = writable_output(output)
    if fmt == "pauli-basis" and povm not in (None, "pauli6"):
        raise click.BadParameter("Pauli-basis records are Pauli-6 outcomes; leave --povm out or give pauli6",
                                 param_hint="--povm")
    if hamiltonian is not None and target is None:
        raise click.BadParameter("a Hamiltonian is attached together with a --target", param_hint="--hamiltonian")
    t0 = time.perf_counter()
    if fmt in QISKIT_FORMATS:
        ds = import_qiskit(records, fmt, povm=povm or "pauli6", seed=seed, shuffle=shuffle, val_fraction=val_fraction,
                           test_fraction=test_fraction)
        if n_qubits is not None and ds.n_qubits != n_qubits:
            raise click.BadParameter(f"the file holds {ds.n_qubits} qubits, not {n_qubits}", param_hint="--n-qubits")
    else:
        ds = import_records(records, fmt, povm, n_qubits=n_qubits, values=values, skip_rows=skip_rows,
                            val_fraction=val_fraction, test_fraction=test_fraction, shuffle=shuffle, seed=seed)
    if readout_file is not None:
        ds = correct_readout(ds, read_confusions(readout_file), source=str(readout_file))
        click.echo(f"readout   folded into the POVM: {ds.povm.describe()}")
    new = None if target is None else parse_target(target, ds.n_qubits, hamiltonian=hamiltonian)
    n_tr, n_va, n_te = ds.split
    click.echo(f"read      {ds.n_samples:,} shots of {ds.n_qubits} qubits from {records} ({fmt}) as "
               f"{ds.povm.name} outcomes in {time.perf_counter() - t0:.1f} s")
    click.echo(f"split     train {n_tr:,}, validation {n_va:,}, test {n_te:,}"
               + (f" (shuffled, seed {seed})" if shuffle else " (file order)"))
    for w in ds.meta.get("warnings", []):
        click.echo(f"warning   {w}", err=True)
    if new is not None:
        t1 = time.perf_counter()
        ds = attach_target(ds, new, workers=workers, progress=not quiet)
        _report_target(ds, time.perf_counter() - t1)
    else:
        click.echo("target    none (fidelities need one: qgen attach DATA --target SPEC)")
    write_dataset(ds, output)
    click.echo(f"wrote     {output}")


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", required=True, help=_TARGET_HELP)
@click.option("--hamiltonian", default=None, help=_HAMILTONIAN_HELP)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads for ln P (default: all cores).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Output .h5 file (default: rewrite DATA in place, atomically).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def attach(data, target, hamiltonian, workers, output, quiet) -> None:
    """Attach a target state to DATA and store the exact ln P of every string.

    \b
    Example:  qgen attach data.h5 --target tfim:h=1,J=1
    """
    output = writable_output(output or data)
    ds = read_dataset(data)
    new = parse_target(target, ds.n_qubits, hamiltonian=hamiltonian)
    if ds.target is not None:
        click.echo(f"replacing {ds.target.describe()}")
    t0 = time.perf_counter()
    ds = attach_target(ds, new, workers=workers, progress=not quiet)
    _report_target(ds, time.perf_counter() - t0)
    write_dataset(ds, output)
    click.echo(f"wrote     {output}")
