"""Faults: ``qgen simulate`` and ``qgen train`` killed with SIGKILL at random (seeded)
moments never leave a broken file — each output is absent, the previous complete file,
or the complete new one — and ``qgen train --resume`` after the kills ends on exactly the
weights of an uninterrupted run; Ctrl-C (SIGINT) stops training with status 130 and a
readable checkpoint.

Leftovers of a kill can only be the writer's hidden temporary files
(``.NAME.HOST-PID-XXXXXXXX.tmp``), which no reader takes for data and the next write of
the same output removes.  The quick versions kill a
few times; ``-m slow`` runs many more kills.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

from qgen.cli import cli
from qgen.datasets.hdf5 import read_dataset
from qgen.training import load_model

QGEN = [sys.executable, "-c", "from qgen.cli import main; main()"]
TEMP = re.compile(r"^\.(?P<name>.+)\.[^.]+\.tmp$")


def start(args: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "QGEN_DEBUG"} | {"OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*QGEN, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` seconds unless it ended; True if it was killed."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True
    assert proc.returncode == 0, proc.stderr.read()
    return False


def assert_only_temp_leftovers(directory: Path, expected: set[str]) -> None:
    """Besides ``expected``, only hidden temporary files of expected outputs remain."""
    for p in directory.iterdir():
        if p.name in expected:
            continue
        m = TEMP.match(p.name)
        assert m and m["name"] in expected, f"unexpected file {p.name}"


def wait_for(condition: Path | Callable[[], bool], proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Wait until the file ``condition`` exists (or ``condition()`` holds): True, or until
    ``proc`` ended: False."""
    ready = condition.exists if isinstance(condition, Path) else condition
    t_end = time.perf_counter() + timeout
    while not ready():
        if proc.poll() is not None or time.perf_counter() > t_end:
            return False
        time.sleep(0.02)
    return True


# -- qgen simulate ----------------------------------------------------------------------

SIMULATE = ["simulate", "ghz", "--n", "40", "--samples", "60000", "--seed", "3", "-q", "-o"]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """A complete run of SIMULATE (in this process): the expected new file."""
    out = tmp_path_factory.mktemp("sim") / "full.h5"
    assert CliRunner().invoke(cli, [*SIMULATE, str(out)]).exit_code == 0
    return out


def check_simulate_output(path: Path, previous: bytes | None, expected) -> str:
    """The output after a kill: absent (only for a fresh path), the previous file byte for
    byte, or a complete file equal to the uninterrupted run's."""
    if not path.exists():
        assert previous is None, "an existing output vanished"
        return "absent"
    if previous is not None and path.read_bytes() == previous:
        return "previous"
    got = read_dataset(path)
    np.testing.assert_array_equal(got.outcomes, expected.outcomes)
    np.testing.assert_array_equal(got.log_prob, expected.log_prob)
    assert got.split == expected.split and got.seed == 3
    return "new"


def run_simulate_kills(tmp_path: Path, simulated: Path, n_kills: int, seed: int) -> list[str]:
    """Kill SIMULATE ``n_kills`` times, writing over an existing file (even k) or to a new
    path (odd k): while the file is written (k mod 3 < 2) or at a uniform time in the
    first 6 s (start-up, sampling, writing or after the end on a 2-core machine)."""
    expected = read_dataset(simulated)
    rng = np.random.default_rng(seed)
    outcomes = []
    for k in range(n_kills):
        d = tmp_path / f"kill{k}"
        d.mkdir()
        out = d / "data.h5"
        previous = None
        if k % 2 == 0:  # an existing, different, complete file to be replaced
            assert CliRunner().invoke(cli, ["simulate", "ghz", "--n", "5", "--samples", "500", "-q", "-o",
                                            str(out)]).exit_code == 0
            previous = out.read_bytes()
        proc = start([*SIMULATE, out])
        if k % 3 < 2:  # while the file is being written (its temporary file exists)
            writing = wait_for(lambda d=d: any(TEMP.match(p.name) for p in d.iterdir()), proc)
            killed = kill_after(proc, float(rng.uniform(0.0, 0.3))) if writing else kill_after(proc, 0)
        else:
            killed = kill_after(proc, float(rng.uniform(0.2, 6.0)))
        state = check_simulate_output(out, previous, expected)
        outcomes.append(f"{'killed' if killed else 'finished'}:{state}")
        assert_only_temp_leftovers(d, {"data.h5"})
        # a later run over the leftovers completes and gives the expected file
        if k == 0:
            assert CliRunner().invoke(cli, [*SIMULATE, str(out)]).exit_code == 0
            assert check_simulate_output(out, None, expected) == "new"
            assert not any(TEMP.match(p.name) for p in d.iterdir())  # the killed writer's are removed
    return outcomes


def test_simulate_killed_leaves_old_or_new_complete_file(tmp_path, simulated):
    outcomes = run_simulate_kills(tmp_path, simulated, n_kills=3, seed=7)
    assert any(o.startswith("killed") for o in outcomes), outcomes


@pytest.mark.slow
def test_simulate_killed_many_times(tmp_path, simulated):
    outcomes = run_simulate_kills(tmp_path, simulated, n_kills=24, seed=11)
    assert {"killed:absent", "killed:previous"} <= set(outcomes), outcomes


# -- qgen train -------------------------------------------------------------------------

TRAIN = ["--epochs", "3", "--batch-size", "50", "--set", "hidden=8", "--set", "n_layers=1", "--set", "embed=4",
         "--threads", "1", "--patience", "100", "--model", "rnn", "--bootstrap", "0", "-q"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, float]:
    """A dataset and an uninterrupted training run on it (in this process), with its time."""
    d = tmp_path_factory.mktemp("train")
    data = d / "data.h5"
    assert CliRunner().invoke(cli, ["simulate", "ghz", "--n", "4", "--samples", "1000", "--seed", "1", "-q", "-o",
                                    str(data)]).exit_code == 0
    t0 = time.perf_counter()
    res = CliRunner().invoke(cli, ["train", str(data), "-o", str(d / "ref"), *TRAIN])
    assert res.exit_code == 0, res.output
    return data, d / "ref", time.perf_counter() - t0


def check_run_files(run: Path) -> None:
    """Every file a killed trainer left is absent or complete and readable."""
    if (run / "run.json").exists():
        json.loads((run / "run.json").read_text())
    if (run / "model.safetensors").exists():
        load_model(run)
    if (run / "checkpoint.safetensors").exists():
        with safe_open(str(run / "checkpoint.safetensors"), framework="pt") as f:
            assert json.loads(f.metadata()["qgen"])["format"] == "qgen-checkpoint"
    if (run / "metrics.jsonl").exists():
        for line in (run / "metrics.jsonl").read_text().splitlines():
            json.loads(line)
    if (run / "training_curve.png").exists():
        png = (run / "training_curve.png").read_bytes()
        assert png.startswith(b"\x89PNG") and png.endswith(b"IEND\xaeB`\x82")
    assert_only_temp_leftovers(run, {"run.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl",
                                     "training_curve.png"})


def weights(run: Path) -> dict[str, torch.Tensor]:
    model, _ = load_model(run)
    return model.state_dict()


def run_train_kills(tmp_path: Path, trained, n_kills: int, seed: int) -> int:
    data, ref, seconds = trained
    run = tmp_path / "run"
    rng = np.random.default_rng(seed)
    killed = 0
    for k in range(n_kills):
        proc = start(["train", data, "-o", run, *TRAIN, *(["--resume"] if k else [])])
        if wait_for(run / "run.json", proc):  # training is about to start: kill somewhere in it
            killed += kill_after(proc, float(rng.uniform(0.0, 1.2 * seconds)))
        else:
            assert proc.wait() == 0, proc.stderr.read()
        check_run_files(run)
    res = CliRunner().invoke(cli, ["train", str(data), "-o", str(run), *TRAIN, "--resume"])
    assert res.exit_code == 0, res.output
    got, want = weights(run), weights(ref)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    with safe_open(str(run / "checkpoint.safetensors"), "pt") as a, safe_open(str(ref / "checkpoint.safetensors"),
                                                                              "pt") as b:
        for key in b.keys():  # noqa: SIM118 (a safetensors file handle, not a dict)
            if key.startswith("model."):
                assert torch.equal(a.get_tensor(key), b.get_tensor(key)), key
    return killed


def test_train_killed_then_resumed_equals_uninterrupted_run(tmp_path, trained):
    assert run_train_kills(tmp_path, trained, n_kills=2, seed=5) >= 1


@pytest.mark.slow
def test_train_killed_many_times(tmp_path, trained):
    assert run_train_kills(tmp_path, trained, n_kills=15, seed=13) >= 10


def test_sigint_stops_training_with_status_130_and_a_checkpoint(tmp_path, trained):
    data, _, _ = trained
    run = tmp_path / "run"
    proc = start(["train", data, "-o", run, *TRAIN[:1], "100000", *TRAIN[2:]])
    assert wait_for(run / "checkpoint.safetensors", proc), proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: training interrupted; checkpoint saved"), err
    check_run_files(run)
    with safe_open(str(run / "checkpoint.safetensors"), framework="pt") as f:
        assert json.loads(f.metadata()["qgen"])["state"]["stop_reason"] == "interrupted"


@pytest.mark.parametrize("delay", [0.3, 0.8, 2.0])
def test_ctrl_c_during_start_up_exits_quietly(tmp_path, delay):
    """The console script (``qgen._entry``) loads the CLI's modules for about a second;
    Ctrl-C then, or once the command runs, ends with status 130 and one line, no traceback,
    and no output file.  (The interpreter's own first ~0.1 s, before any qgen code runs,
    is outside qgen's reach.)"""
    out = tmp_path / "data.h5"
    entry = [sys.executable, "-c", "from qgen._entry import main; main()"]
    proc = subprocess.Popen([*entry, "simulate", "tfim", "--n", "30", "--samples", "3000000", "-q", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and len(lines) == 1 and lines[0].startswith("Error: interrupted"), err
    assert not out.exists()


def test_ctrl_c_while_click_parses_arguments_is_an_interrupt(monkeypatch):
    """A Ctrl-C between start-up and the command, while click parses the arguments, reaches
    qgen as click's Abort; it still ends with status 130 and ``Error: interrupted``."""

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "make_context", interrupted)
    res = CliRunner().invoke(cli, ["info", "x.h5"])
    assert res.exit_code == 130 and res.output.split() == ["Error:", "interrupted"], res.output


def test_ctrl_c_inside_compiled_code_is_an_interrupt(monkeypatch, tmp_path):
    """A Ctrl-C that lands inside numba-compiled code (quimb's DMRG) reaches Python as a
    ``SystemError`` caused by the ``KeyboardInterrupt``: status 130 and ``Error: interrupted``,
    not the SystemError's message.  Other SystemErrors stay ordinary one-line errors."""
    import qgen.cli.simulate as simulate_cmd

    def compiled(cause):
        def run(*args, **kwargs):
            try:
                raise cause
            except BaseException as e:
                raise SystemError("CPUDispatcher(<function svd>) returned a result with an exception set") from e
        return run

    args = ["simulate", "tfim", "--n", "6", "--samples", "100", "-q", "-o", str(tmp_path / "d.h5")]
    monkeypatch.setattr(simulate_cmd, "make_target", compiled(KeyboardInterrupt()))
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130 and res.output.split() == ["Error:", "interrupted"], res.output
    monkeypatch.setattr(simulate_cmd, "make_target", compiled(ValueError("x")))
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and res.output.startswith("Error: CPUDispatcher"), res.output
    assert not (tmp_path / "d.h5").exists()


def test_a_swallowed_ctrl_c_still_ends_the_process(tmp_path):
    """Compiled code can turn the KeyboardInterrupt into an exception a library catches; the
    console script's watchdog then ends the process anyway, GRACE_S after the Ctrl-C, with
    status 130, one line, and no file left behind by the write in progress."""
    script = f"""
import os, signal, time
from qgen import _entry
from qgen._io import atomic_write
_entry.GRACE_S = 0.5
signal.signal(signal.SIGINT, _entry._interrupt)

def write(tmp):
    tmp.write_text("partial")
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    except KeyboardInterrupt:
        pass  # swallowed, as compiled code may
    time.sleep(10)
    print("survived")

atomic_write({str(tmp_path / "out.txt")!r}, write)
"""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130 and proc.stderr.strip() == "Error: interrupted", proc.stderr
    assert "survived" not in proc.stdout and time.perf_counter() - t0 < 8
    assert list(tmp_path.iterdir()) == []
