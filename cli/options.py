"""Parameter types and checks shared by several commands."""

from __future__ import annotations

import os
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


def writable_output(path: str | os.PathLike) -> Path:
    """Fail fast (before hours of work) if ``path`` cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise click.BadParameter(f"'{path}' is a directory", param_hint="output")
    if not parent.is_dir():
        raise click.BadParameter(f"directory '{parent}' does not exist", param_hint="output")
    if not os.access(parent, os.W_OK):
        raise click.BadParameter(f"directory '{parent}' is not writable", param_hint="output")
    return path
