"""The ``qgen`` command line (installed as the ``qgen.cli`` package)."""

from .main import cli, main

__all__ = ["cli", "main"]
