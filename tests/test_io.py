"""Atomic output: the temporary files a killed writer leaves are removed by the next write."""

from __future__ import annotations

import subprocess
import sys

from qgen._io import _HOST, atomic_write_text


def test_next_write_removes_temporaries_of_dead_writers_only(tmp_path):
    out = tmp_path / "report.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)  # reaped: no process has this pid now (pid reuse aside)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".report.json.{_HOST}-{dead_pid}-abc123.tmp"
        live = tmp_path / f".report.json.{_HOST}-{alive.pid}-def456.tmp"  # a writer still at work
        remote = tmp_path / ".report.json.otherhost-1-xyz789.tmp"  # another host on a shared disk
        other = tmp_path / f".other.json.{_HOST}-{dead_pid}-abc123.tmp"  # another output's
        for p in (stale, live, remote, other):
            p.write_text("partial")
        atomic_write_text(out, "{}")
        assert out.read_text() == "{}"
        assert not stale.exists() and live.exists() and remote.exists() and other.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (out, live, remote, other))
    finally:
        alive.kill()
        alive.wait()
