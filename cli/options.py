"""Parameter types and checks shared by several commands."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import click


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
