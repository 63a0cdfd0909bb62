"""The ``qgen`` console script: Ctrl-C while the CLI's modules load (about a second)
exits quietly with status 130, like Ctrl-C later, instead of printing an import
traceback.  ``import qgen`` is light (its names load on first use), so this runs first."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # Only modules are loading: nothing to save or clean up, and an exception raised inside
    # an import could leave half-started threads for the interpreter to wait on at exit.
    sys.stderr.write("Error: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def main() -> None:
    previous = signal.signal(signal.SIGINT, _interrupted)
    from qgen.cli import main as cli_main

    signal.signal(signal.SIGINT, previous)
    cli_main()
