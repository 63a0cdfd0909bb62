"""Streaming the training split from HDF5: every string once per epoch, reproducible,
bounded memory, the same global batches for any split of the shards over processes,
exact resume, and training on it."""

import itertools

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from qgen.cli.main import cli
from qgen.datasets import Dataset, DatasetError
from qgen.datasets.hdf5 import write_dataset
from qgen.measurements import pauli4
from qgen.models import create_model
from qgen.training import HDF5Stream, TrainConfig, loop, train
from qgen.training.distributed import Context

N_QUBITS = 8  # 4^8 distinct strings: each row can spell its own index in base 4


def indexed_file(path, n=2_300, split=(2_000, 200, 100), chunk_rows=90):
    """A dataset whose row i is the base-4 digits of i (so a string names its row)."""
    digits = (np.arange(n)[:, None] // 4 ** np.arange(N_QUBITS)[::-1]) % 4
    return write_dataset(Dataset(digits.astype(np.uint8), pauli4(), split), path, chunk_rows=chunk_rows)


def rows(x: torch.Tensor) -> np.ndarray:
    return (x.numpy() * 4 ** np.arange(N_QUBITS)[::-1]).sum(1)


def epoch_rows(batches, epoch, start=0):
    return [(rows(x), n) for x, n in batches.epoch(epoch, start)]


def test_every_string_once_per_epoch_in_chunk_shuffled_order(tmp_path):
    stream = HDF5Stream(indexed_file(tmp_path / "d.h5"), buffer=270)  # windows of 3 chunks of 90
    batches = stream.batches(batch_size=128, seed=5)
    for epoch in (0, 1):
        parts = epoch_rows(batches, epoch)
        seen = np.concatenate([r for r, _ in parts])
        assert sorted(seen) == list(range(2_000))  # the training split, each string once
        assert len(parts) == batches.steps == 16 and all(len(r) == n for r, n in parts)
        assert [n for _, n in parts] == [128] * 15 + [80] and all(type(n) is int for _, n in parts)  # JSON-able
        # shuffled: not the file order, and a batch mixes strings of several chunks
        assert not np.array_equal(seen, np.arange(2_000)) and len(set(parts[0][0] // 90)) > 1
        # each chunk read exactly once per epoch; never more than two windows held
        assert batches.chunks_read[epoch] == {c: 1 for c in range(23)}
    assert batches.peak_rows <= 2 * 270
    assert not np.array_equal(*(np.concatenate([r for r, _ in epoch_rows(batches, e)]) for e in (0, 1)))
    batches.close()


def test_reproducible_and_seed_dependent(tmp_path):
    stream = HDF5Stream(indexed_file(tmp_path / "d.h5"), buffer=200)
    a, b, c = (stream.batches(100, seed) for seed in (1, 1, 2))
    first = epoch_rows(a, 3)
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(first, epoch_rows(b, 3)))
    assert not np.array_equal(first[0][0], epoch_rows(c, 3)[0][0])


def test_resume_at_any_batch_continues_the_same_stream(tmp_path):
    stream = HDF5Stream(indexed_file(tmp_path / "d.h5"), buffer=200, shards=2)
    full = epoch_rows(stream.batches(150, 0), 2)
    for start in (1, 6, 13):
        tail = epoch_rows(stream.batches(150, 0), 2, start)
        assert len(tail) == len(full) - start
        assert all(np.array_equal(x, y) and n == m for (x, n), (y, m) in zip(tail, full[start:]))


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_read_only_their_shards_and_make_up_the_global_batch(tmp_path, world):
    stream = HDF5Stream(indexed_file(tmp_path / "d.h5"), buffer=180, shards=4)
    whole = epoch_rows(stream.batches(100, 7), 0)  # one process, all 4 shards
    views = [stream.batches(100, 7, Context(rank, world)) for rank in range(world)]
    parts = [epoch_rows(v, 0) for v in views]
    for b, (x, n) in enumerate(whole):
        assert np.array_equal(np.concatenate([p[b][0] for p in parts]), x)
        assert {p[b][1] for p in parts} == {n} and abs(n - 100) <= 4
    chunks = [set(v.chunks_read[0]) for v in views]
    assert set().union(*chunks) == set(range(23)) and sum(map(len, chunks)) == 23  # disjoint shards
    with pytest.raises(ValueError, match="multiple of the number of processes"):
        stream.batches(100, 7, Context(0, 3))


def test_stream_training_resumes_exactly_mid_epoch(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.choice(4, size=(3_000, N_QUBITS), p=[0.5, 0.2, 0.2, 0.1]).astype(np.uint8)
    path = write_dataset(Dataset(x, pauli4(), (2_500, 500, 0)), tmp_path / "p.h5", chunk_rows=250)
    stream = HDF5Stream(path, buffer=500)
    cfg = TrainConfig(epochs=2, batch_size=100, lr=5e-3, seed=1)

    def model(seed):
        torch.manual_seed(seed)
        return create_model("rnn", N_QUBITS, 4, hidden=16, n_layers=1, embed=8)

    reference = model(0)
    ref = train(reference, stream, x[2_500:], cfg, tmp_path / "ref", progress=False)
    assert ref.history[-1]["val_nll"] < ref.history[0]["val_nll"] < np.log(4) * N_QUBITS
    ticks = itertools.count()  # 1 ms per clock reading: a deterministic stop in epoch 1
    monkeypatch.setattr(loop.time, "perf_counter", lambda: next(ticks) * 1e-3)
    short = TrainConfig(**{**cfg.__dict__, "max_time": 0.04})
    first = train(model(0), stream, x[2_500:], short, tmp_path / "run", progress=False)
    monkeypatch.undo()
    assert first.stop_reason == "max_time" and first.history[-1]["partial"] and first.history[-1]["epoch"] == 1
    resumed = model(9)
    train(resumed, stream, x[2_500:], cfg, tmp_path / "run", resume=True, progress=False)
    for (name, a), b in zip(resumed.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="different data"):  # another shuffle buffer is another trajectory
        train(model(0), HDF5Stream(path, buffer=250), x[2_500:], cfg, tmp_path / "run", resume=True, progress=False)


def test_bad_values_in_a_chunk_are_one_line_errors(tmp_path):
    path = indexed_file(tmp_path / "d.h5")
    with h5py.File(path, "r+") as f:
        f["outcomes"][500, 3] = 9  # not a Pauli-4 outcome
    batches = HDF5Stream(path).batches(100, 0)
    with pytest.raises(DatasetError, match="outcomes beyond 3 in rows"):
        list(batches.epoch(0))


def test_cli_train_stream(tmp_path):
    path = indexed_file(tmp_path / "d.h5")
    runner = CliRunner()
    ok = runner.invoke(cli, ["train", str(path), "-o", str(tmp_path / "run"), "--stream", "--buffer", "500",
                             "--epochs", "1", "--model", "rnn", "--set", "hidden=8", "--set", "n_layers=1", "-q"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "run" / "model.safetensors").is_file()
    bad = runner.invoke(cli, ["train", str(path), "-o", str(tmp_path / "r2"), "--buffer", "10"])
    assert bad.exit_code == 2 and "only with --stream" in bad.output
