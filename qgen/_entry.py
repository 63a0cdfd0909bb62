"""The ``qgen`` console script: Ctrl-C while the CLI's modules load (about a second)
exits quietly with status 130, like Ctrl-C later, instead of printing an import
traceback; Ctrl-C later raises ``KeyboardInterrupt`` and, should compiled code swallow it,
still ends the process (status 130) after :data:`GRACE_S` seconds.  ``import qgen`` is
light (its names load on first use), so this runs first."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # Only modules are loading: nothing to save or clean up, and an exception raised inside
    # an import could leave half-started threads for the interpreter to wait on at exit.
    sys.stderr.write("Error: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


GRACE_S = 10.0
"""Seconds a Ctrl-C may take to end the command before the process exits anyway."""


def _force_exit() -> None:
    from qgen._io import remove_live_temporaries

    remove_live_temporaries()
    _interrupted(signal.SIGINT, None)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # As Python's default handler: the CLI turns the KeyboardInterrupt into one line and
    # status 130, after every `finally` has cleaned up.  Compiled code (numba, in quimb's
    # DMRG) can turn the exception into another one that a library catches, so a watchdog
    # ends the process GRACE_S later if it is still running.
    timer = threading.Timer(GRACE_S, _force_exit)
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    from qgen.cli import main as cli_main

    signal.signal(signal.SIGINT, _interrupt)
    cli_main()
