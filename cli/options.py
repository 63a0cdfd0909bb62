"""Parameter types and checks shared by several commands."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import click

BACKENDS = "rnn, transformer, conv, mps, lpdo, rbm, flow, vae, gan"
"""The registered backends, as the help of every ``--model``/``--models`` option lists them
(a test checks them against :data:`qgen.models.base.MODELS`; the CLI does not import torch for its help)."""

TARGET_HELP = ("Target: a kind with parameters (tfim:h=1,J=1, ghz, xxz:delta=0.5, tfim2d:lx=3,ly=4), "
               "an MPS .npz, the POVM_GENMODEL index.txt,tensor.txt pair (or its directory), or a circuit: "
               "circuit:FILE.qasm (OpenQASM 2 or 3; options max_bond=K, cutoff=C, noise=P after commas).")
"""Help of every ``--target SPEC`` option (the specs of :func:`qgen.targets.parse_target`)."""


def circuit_summary(info: dict) -> str:
    """One line on a circuit target's simulation (its ``info``): size, depth, bonds, truncation, hash."""
    return (f"circuit n={info['n_qubits']}, depth {info['depth']}, MPS bonds ≤ {info['max_bond']} "
            f"(truncation {info['truncation_error']:.1e}), sha256 {info['sha256'][:16]}…")


def int_list(value: str) -> tuple[int, ...]:
    """'8,16,32' → (8, 16, 32)."""
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got '{value}'") from None
    if not out or min(out) < 1:
        raise click.BadParameter(f"expected positive integers, got '{value}'")
    return out


class FiniteFloat(click.ParamType):
    """A float that must be finite (click's FLOAT accepts 'nan' and 'inf')."""

    name = "float"

    def convert(self, value, param, ctx) -> float:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


FINITE = FiniteFloat()


def _probe(directory: Path) -> None:
    """Create and remove a hidden file in ``directory``: the one reliable test that it
    takes new files (``os.access`` says yes to root on read-only or virtual file systems)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".qgen-probe-")
    except OSError as e:
        raise click.BadParameter(f"directory '{directory}' is not writable ({e.strerror or e})",
                                 param_hint="output") from None
    os.close(fd)
    os.unlink(tmp)


def writable_output(path: str | os.PathLike) -> Path:
    """Fail fast (before hours of work) if the file ``path`` cannot be written."""
    path = Path(path)
    if not str(path) or path.name in ("", ".", ".."):
        raise click.BadParameter(f"'{path}' is not a file name", param_hint="output")
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise click.BadParameter(f"'{path}' is a directory", param_hint="output")
    if not parent.is_dir():
        raise click.BadParameter(f"directory '{parent}' does not exist", param_hint="output")
    _probe(parent)
    return path


def writable_directory(path: str | os.PathLike) -> Path:
    """Fail fast if the output directory ``path`` (created later if missing, with its
    parents) cannot take new files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"'{path}' exists and is not a directory", param_hint="output")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise click.BadParameter(f"'{existing}' is not a directory", param_hint="output")
    _probe(existing)
    return path
