"""Atomic file output: readers see the previous complete file or the new complete one,
never a partial one, even if the writer is killed (temporary file + fsync + rename).

The temporary file is ``.NAME.HOST-PID-XXXXXXXX.tmp`` beside the output.  A writer killed
with SIGKILL cannot remove its own; the next write of the same output on the same host
removes those whose process is gone (a live writer's, or another host's on a shared
file system, are left alone)."""

from __future__ import annotations

import glob
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "remove_stale_temporaries"]


_HOST = socket.gethostname().replace(".", "_").replace("-", "_") or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that killed writers of ``path`` left on this host;
    return them."""
    path = Path(path)
    stale = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.{_HOST}-*-*.tmp"):
        pid = tmp.name[len(path.name) + len(_HOST) + 3 :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            stale.append(tmp)
    return stale


_LIVE: set[str] = set()  # temporary files of atomic writes in progress


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    Raises ``OSError`` with a one-line message if the directory is missing or read-only.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"output directory '{directory}' does not exist")
    if not os.access(directory, os.W_OK):
        raise PermissionError(f"output directory '{directory}' is not writable")
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.{_HOST}-{os.getpid()}-", suffix=".tmp")
    os.close(fd)
    _LIVE.add(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 (or a writer's own) would make results private
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _LIVE.discard(tmp)
    return path


def remove_live_temporaries() -> None:
    """Delete the temporary files of writes still in progress (before a forced exit)."""
    for tmp in list(_LIVE):
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
