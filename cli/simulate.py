"""``qgen simulate``: target → exact POVM measurements → HDF5 dataset."""

from __future__ import annotations

import time

import click

from qgen.datasets import simulate_to_file, split_counts
from qgen.measurements import POVM_NAMES, get_povm
from qgen.resources import check_simulate
from qgen.targets import RECIPES, SOLVER_PARAMS, make_target, parse_target

from .main import cli
from .options import TARGET_HELP, circuit_summary, int_list, writable_output


def _recipe_options(command):
    """One option per recipe parameter in :data:`qgen.targets.RECIPES` (the seed is the
    command's own, shared by sampling and the DMRG start)."""
    seen: dict[str, tuple] = {}
    for recipe in RECIPES.values():
        for p in recipe.params + (SOLVER_PARAMS if recipe.ground_state else ()):
            seen.setdefault(p.name, (p, []))[1].append(recipe.name)
    for name, (p, users) in reversed(list(seen.items())):
        if name == "seed":
            continue
        shown = ",".join(map(str, p.default)) if name == "bond_dims" else p.default
        default = "" if p.default is None else f"; default {shown}"
        kind = str if name == "bond_dims" else p.type
        command = click.option(f"--{name.replace('_', '-')}", name, type=kind, default=None,
                               help=f"{p.help[0].upper()}{p.help[1:]} ({', '.join(users)}{default}).")(command)
    return command


@cli.command()
@click.argument("kind", type=click.Choice(list(RECIPES), case_sensitive=False), required=False)
@click.option("--target", "spec", default=None, help=TARGET_HELP + " Instead of KIND and its options.")
@click.option("--n", "n", type=int, help="Number of qubits (lattices: from their sizes).")
@click.option("--noise", default="0", help="Local depolarizing strength p on every qubit, or one per qubit "
                                          "separated by '/' (e.g. 0/0/0.2/0).")
@_recipe_options
@click.option("--povm", type=click.Choice(POVM_NAMES, case_sensitive=False), default="pauli4")
@click.option("--samples", type=int, default=100_000, help="Number of measurement strings.")
@click.option("--seed", type=int, default=0, help="Random seed (sampling and DMRG start).")
@click.option("--val-fraction", type=float, default=0.1)
@click.option("--test-fraction", type=float, default=0.1)
@click.option("--train-logp/--no-train-logp", default=True, help="Also store exact ln P of the training split.")
@click.option("--workers", type=int, default=None,
              help="Processes sharing the sampling and exact ln P; the file is the same for any number "
                   "(default: this process, one thread per core).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .h5 file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def simulate(kind, spec, n, noise, povm, samples, seed, val_fraction, test_fraction, train_logp, workers, output,
             quiet, **recipe) -> None:
    """Simulate POVM measurements of a target state KIND (or --target SPEC) and write a dataset.

    \b
    Example:  qgen simulate tfim --n 50 --J 1 --h 1 --povm pauli4 --samples 100000 --seed 0 -o tfim50.h5
              qgen simulate --target circuit:ghz.qasm --povm pauli6 --samples 20000 -o ghz.h5
    """
    if (kind is None) == (spec is None):
        raise click.BadParameter("give either a target KIND or --target SPEC", param_hint="--target")
    given = {k: v for k, v in recipe.items() if v is not None}
    if spec is not None and (given or noise != "0"):
        extra = ", ".join(f"--{k.replace('_', '-')}" for k in [*given, *(["noise"] if noise != "0" else [])])
        raise click.BadParameter(f"{extra} set a KIND's parameters; with --target give them in the spec "
                                 "(e.g. tfim:h=0.5,n=8 or circuit:F.qasm,noise=0.01)", param_hint="--target")
    output = writable_output(output)
    if samples < 1:
        raise click.BadParameter(f"must be ≥ 1, got {samples}", param_hint="--samples")
    if seed < 0:
        raise click.BadParameter(f"must be ≥ 0, got {seed}", param_hint="--seed")
    if workers is not None and workers < 1:
        raise click.BadParameter(f"must be ≥ 1, got {workers}", param_hint="--workers")
    split_counts(samples, (val_fraction, test_fraction))  # bad fractions fail before any work
    povm_obj = get_povm(povm)
    t0 = time.perf_counter()
    if spec is not None:
        target = parse_target(spec, n)
    else:
        if "bond_dims" in given:
            given["bond_dims"] = int_list(given["bond_dims"])
        if RECIPES[kind.lower()].ground_state:
            given["seed"] = seed
        target = make_target(kind, n, noise=noise, **given)
    check_simulate(target, povm_obj, samples, workers=workers, streamed=True, output=output)
    click.echo(f"target    {target.describe()}")
    if target.name == "circuit":
        click.echo(f"          {circuit_summary(target.info)}")
    elif "energy" in target.info:
        i = target.info
        click.echo(f"ground    E0 = {i['energy']:.12f}  ({i['method']}, {time.perf_counter() - t0:.1f} s)")
        cert = f"variance ⟨H²⟩−⟨H⟩² = {i['variance']:.2e}"
        if i.get("bond_dim"):
            cert += (f", bond dimension {i['bond_dim']}, truncation error {i['truncation_error']:.1e}, "
                     f"{i['n_sweeps']} sweeps")
        click.echo(f"certif.   {cert}" + ("" if i["converged"] else "  [NOT CONVERGED]"))
    if not povm_obj.is_ic:
        click.echo(f"warning   {povm_obj.describe()}: the state cannot be fully reconstructed", err=True)
    t1 = time.perf_counter()
    head = simulate_to_file(output, target, povm_obj, samples, seed=seed, val_fraction=val_fraction,
                            test_fraction=test_fraction, train_log_prob=train_logp, workers=workers,
                            progress=not quiet)
    n_tr, n_va, n_te = head.split
    click.echo(f"measured  {samples} {povm_obj.name} strings (train {n_tr}, val {n_va}, test {n_te}), "
               f"exact ln P for {'all' if train_logp else 'val+test'} in {time.perf_counter() - t1:.1f} s")
    click.echo(f"wrote     {output}")
