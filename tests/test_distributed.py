"""DistributedDataParallel under torchrun: 2 gloo processes on the CPU must take the same
steps as one process with the same global batch (in memory and streamed), only rank 0
may write files, and a time-budget stop must be agreed by both ranks (no hang) and
resume to the uninterrupted weights."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from qgen.datasets import simulate
from qgen.datasets.hdf5 import write_dataset
from qgen.measurements import pauli4
from qgen.targets import make_target
from qgen.training.distributed import Context, setup, share
from qgen.workflows import fit

# Runs `qgen` commands (separated by " | ") in every torchrun process, logging each file
# the trainer or `qgen train` writes to writes.<rank>.
LAUNCHER = textwrap.dedent("""
    import os, signal, sys
    import qgen.workflows.fitting as fitting
    from qgen.training import callbacks, checkpoint, loop
    from qgen.cli.main import cli

    rank = os.environ["RANK"]
    log = os.path.join(sys.argv[1], "writes." + rank)

    def spy(write):
        def logged(path, *args):
            with open(log, "a") as f:
                f.write(str(path) + "\\n")
            return write(path, *args)
        return logged

    def sigint_at_step(k, step):  # Ctrl-C reaching this process alone, during its k-th step
        calls = []
        def stepped(*args):
            calls.append(1)
            if len(calls) == k:
                os.kill(os.getpid(), signal.SIGINT)
            return step(*args)
        return stepped

    checkpoint.atomic_write = spy(checkpoint.atomic_write)
    callbacks.atomic_write = spy(callbacks.atomic_write)
    fitting.atomic_write_text = spy(fitting.atomic_write_text)
    default_step = loop.default_step
    for command in sys.argv[2].split(" | "):
        if command.startswith("@sigint-rank1 "):
            command = command.split(" ", 1)[1]
            if rank == "1":
                loop.default_step = sigint_at_step(5, default_step)
        try:
            code = cli.main(command.split(), standalone_mode=False)
        except SystemExit as stop:
            code = stop.code
        loop.default_step = default_step
        print(f"rank {rank} exit {code}", flush=True)
""")

COMMON = ("--model rnn --bootstrap 0 --device cpu --epochs 3 --batch-size 250 --lr 0.01 --set hidden=16 "
          "--set n_layers=1 --set embed=8 -q --threads 1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_group(args: list, env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run a command in its own process group; on timeout kill the whole group (torchrun's
    workers too), then fail."""
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s (a rank waiting for another?)\n{out}\n{err[-3000:]}")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def weights(run) -> dict:
    return {k: v for k, v in load_file(str(run / "checkpoint.safetensors")).items() if k.startswith("model.")}


def history(run) -> list:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_share_and_context():
    assert [share(10, Context(r, 3)) for r in range(3)] == [(0, 3), (3, 6), (6, 10)]
    assert [share(1, Context(r, 2)) for r in range(2)] == [(0, 0), (0, 1)]  # a rank may get nothing


def test_more_cuda_ranks_than_devices_is_a_clear_error(monkeypatch):
    """Seen on a 1-GPU machine: 2 ranks with the default device ``auto`` would both ask
    for a GPU; rank 1's cuda:1 does not exist.  Refused before any process group forms."""
    rank = torch.cuda.device_count()  # the first local rank without a device of its own
    monkeypatch.setenv("WORLD_SIZE", str(rank + 2))
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))
    with pytest.raises(ValueError, match=f"needs cuda:{rank}.*or train on the CPU"):
        setup(torch.device("cuda"))


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_two_gloo_processes_match_one_process(tmp_path):
    data = tmp_path / "tfim.h5"
    ds = simulate(make_target("tfim", n=8, h=1.0), pauli4(), 2_600, seed=0)
    write_dataset(ds, data, chunk_rows=150)  # 14 chunks in the training split: several per shard
    ddp, one = tmp_path / "ddp", tmp_path / "one"
    runs = {
        "memory": f"train {data} -o {ddp}/memory {COMMON}",
        "stream": f"train {data} -o {ddp}/stream {COMMON} --stream --buffer 300",
        "stopped": f"@sigint-rank1 train {data} -o {ddp}/stopped {COMMON}",
        "resumed": f"train {data} -o {ddp}/stopped {COMMON} --resume",
    }
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    proc = run_group(["torchrun", "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port",
                      str(free_port()), str(launcher), str(tmp_path), " | ".join(runs.values())], env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # one process, same global batches (the stream with the same 2 shards)
    fit(data, "rnn", one / "memory", progress=False, device="cpu", epochs=3,
                 batch_size=250, lr=0.01, num_threads=1, model_options={"hidden": 16, "n_layers": 1, "embed": 8})
    fit(data, "rnn", one / "stream", progress=False, device="cpu", epochs=3,
                 batch_size=250, lr=0.01, num_threads=1, model_options={"hidden": 16, "n_layers": 1, "embed": 8},
                 stream=True, buffer=300, shards=2)
    for mode in ("memory", "stream"):
        a, b = weights(ddp / mode), weights(one / mode)
        assert a.keys() == b.keys()
        for name in a:
            torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=2e-5, msg=f"{mode} {name}")
        ha, hb = history(ddp / mode), history(one / mode)
        assert len(ha) == len(hb) == 3
        np.testing.assert_allclose([h["val_nll"] for h in ha], [h["val_nll"] for h in hb], rtol=1e-5)
        assert ha[-1]["val_nll"] < ha[0]["val_nll"]
    assert not np.allclose(weights(one / "memory")["model.head.weight"], weights(one / "stream")["model.head.weight"])

    # Ctrl-C on rank 1 alone: both ranks stopped after the same step (else a collective would
    # have hung), saved, exited 130; resuming ended on the weights of the uninterrupted run
    # (the ranks share one stdout, so rank 0's report can run into rank 1's line: match, don't split)
    exits = sorted(re.findall(r"rank \d exit \d+", proc.stdout))
    assert exits == ["rank 0 exit 0"] * 3 + ["rank 0 exit 130"] + ["rank 1 exit 0"] * 3 + ["rank 1 exit 130"]
    assert "training interrupted" in proc.stderr
    stopped = history(ddp / "stopped")
    assert [h["epoch"] for h in stopped] == [0, 1, 2] and not stopped[-1]["partial"]
    for name, value in weights(ddp / "stopped").items():
        torch.testing.assert_close(value, weights(ddp / "memory")[name], rtol=1e-5, atol=1e-6)

    # only rank 0 wrote files: every output of the four runs, nothing from rank 1
    written = (tmp_path / "writes.0").read_text().split()
    for mode in ("memory", "stream", "stopped"):
        for name in ("run.json", "checkpoint.safetensors", "model.safetensors", "metrics.jsonl",
                     "training_curve.png"):
            assert str(ddp / mode / name) in written
    assert not (tmp_path / "writes.1").exists()
    assert not list(ddp.rglob("*.tmp"))
