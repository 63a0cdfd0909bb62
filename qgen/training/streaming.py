"""Training on datasets larger than memory: the training split of a qgen HDF5 file,
streamed chunk by chunk with bounded memory.

The split's rows [0, n_train) are cut at the file's HDF5 chunks (C strings each; the
last one shorter).  In epoch e:

1. the chunks are shuffled, ``P = permutation(SeedSequence([seed, e]))``, and dealt to
   S shards: shard s reads chunks ``P[s], P[s+S], …`` (L_s strings in all);
2. each shard reads its chunks in windows of m = max(1, ⌊buffer / C⌋) chunks and
   shuffles every window's strings (``SeedSequence([seed, e, s, window])``): the
   classic chunk shuffle + shuffle buffer, holding at most ≈ 2 windows per shard;
3. global batch b takes from shard s its next ⌊(b+1)·B·L_s/n⌋ − ⌊b·B·L_s/n⌋ strings
   (B = ``batch_size``, n = n_train), so all shards end together after ⌈n/B⌉ batches,
   every string is visited exactly once per epoch, and every batch holds B ± S strings.

Under torchrun with K processes each rank reads only its S/K shards (S defaults to K,
and must be a multiple of it) and trains on their part of every global batch; one
process with the same S reads all shards and sees the same global batches, so both runs
take the same steps up to floating-point order.  The stream is a function of (seed,
epoch, buffer, S) only: a run resumes at any batch by skipping to it (the trainer's
checkpoint holds the epoch and batch).  A file's ``/missing`` mask is read with its rows
(the batches hold :data:`~qgen.models.MISSING` there, as in memory).

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from qgen.datasets import simulate_to_file
>>> from qgen.targets import make_target
>>> from qgen.measurements import pauli4
>>> path = Path(tempfile.mkdtemp()) / "ghz.h5"
>>> _ = simulate_to_file(path, make_target("ghz", n=6), pauli4(), 2000, seed=0, chunk_rows=300)
>>> stream = HDF5Stream(path, buffer=600)
>>> batches = stream.batches(batch_size=256, seed=0)
>>> sizes = [len(x) for x, n in batches.epoch(0)]
>>> batches.steps, sum(sizes), stream.n_rows
(7, 1600, 1600)
>>> batches.close()
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch

from qgen.datasets.dataset import DatasetError
from qgen.datasets.hdf5 import DatasetHeader, read_header
from qgen.errors import ArgumentError
from qgen.training.batches import HOLE, as_long
from qgen.training.distributed import Context

__all__ = ["HDF5Stream", "StreamBatches", "DEFAULT_BUFFER"]

DEFAULT_BUFFER = 1 << 18
"""Strings per shard in the shuffle buffer (≈ 13 MB at N = 50)."""
_UNCHUNKED_ROWS = 1 << 16  # read unit for files whose outcomes are stored contiguously


@dataclass(frozen=True)
class HDF5Stream:
    """The training split of the dataset file ``path``, read in chunks: pass it to
    ``qgen.training.train`` in place of the array of training strings.

    buffer : strings per shard held in the shuffle buffer (whole HDF5 chunks, at least one).
    shards : S, the number of chunk streams (default: the number of torchrun processes);
        runs with the same S see the same batches whatever the number of processes.
    """

    path: Path
    buffer: int = DEFAULT_BUFFER
    shards: int | None = None
    header: DatasetHeader = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.buffer < 1 or (self.shards is not None and self.shards < 1):
            raise ValueError(f"buffer and shards must be ≥ 1, got {self.buffer}, {self.shards}")
        object.__setattr__(self, "header", read_header(self.path))

    @property
    def n_rows(self) -> int:
        """Training strings per epoch."""
        return self.header.split[0]

    @property
    def n_qubits(self) -> int:
        return self.header.n_qubits

    def validation(self) -> np.ndarray:
        """The validation split (held in memory; masked at missing readouts)."""
        n_train, n_val, _ = self.header.split
        with h5py.File(self.path, "r") as f:
            x = f["outcomes"][n_train : n_train + n_val]
            if self.header.missing_per_qubit is None:
                return x
            return np.ma.MaskedArray(x, f["missing"][n_train : n_train + n_val])

    def batches(self, batch_size: int, seed: int, ctx: Context | None = None,
                device: torch.device | str = "cpu") -> StreamBatches:
        """This process's view of the epochs (see :class:`StreamBatches`); close it after use."""
        return StreamBatches(self, batch_size, seed, ctx or Context(), torch.device(device))


class StreamBatches:
    """The batches of a :class:`HDF5Stream` for one process: ``epoch(e, start)`` yields,
    for global batches start, start+1, …, (this rank's strings as a long tensor on
    ``device``, the global batch size).

    ``chunks_read`` counts the chunk reads per epoch ({epoch: {chunk: reads}}) and
    ``peak_rows`` the most strings held at once in this process's shuffle buffers: both
    exist to show that each string is read once per epoch and memory stays bounded.
    """

    def __init__(self, stream: HDF5Stream, batch_size: int, seed: int, ctx: Context, device: torch.device) -> None:
        self.stream, self.batch_size, self.seed, self.device = stream, int(batch_size), int(seed), device
        self.n = self.n_rows = stream.n_rows
        self.shards = stream.shards or ctx.world_size
        if self.shards % ctx.world_size:
            raise ArgumentError("shards", f"({self.shards}) must be a multiple of the number of processes "
                                          f"({ctx.world_size})")
        if self.batch_size < self.shards:
            raise ValueError(f"batch size {self.batch_size} is smaller than the number of shards {self.shards}")
        per_rank = self.shards // ctx.world_size
        self.mine = range(ctx.rank * per_rank, (ctx.rank + 1) * per_rank)
        self.chunk = stream.header.chunk_rows or _UNCHUNKED_ROWS
        self.n_chunks = math.ceil(self.n / self.chunk)
        self.window = max(1, stream.buffer // self.chunk)
        self.steps = math.ceil(self.n / self.batch_size)
        self.n_outcomes = stream.header.povm.n_outcomes
        self.settings = {"stream": True, "buffer": stream.buffer, "shards": self.shards, "chunk_rows": self.chunk}
        self.chunks_read: dict[int, dict[int, int]] = {}
        self.peak_rows = 0
        self._file = h5py.File(stream.path, "r")
        self._outcomes = self._file["outcomes"]
        self._missing = self._file["missing"] if stream.header.missing_per_qubit is not None else None
        self.has_holes = self._missing is not None
        head = stream.header
        digest = hashlib.sha1(repr((head.n_samples, head.n_qubits, head.split, head.seed,
                                    head.meta.get("created"))).encode())
        digest.update(np.ascontiguousarray(self._outcomes[: min(self.chunk, self.n)]).data)
        self.fingerprint = "stream:" + digest.hexdigest()

    def close(self) -> None:
        self._file.close()

    def _rows(self, chunk: int) -> int:
        return min(self.chunk, self.n - chunk * self.chunk)

    def _read(self, epoch: int, chunk: int) -> np.ndarray:
        a = chunk * self.chunk
        x = self._outcomes[a : a + self._rows(chunk)]
        counts = self.chunks_read.setdefault(epoch, {})
        counts[chunk] = counts.get(chunk, 0) + 1
        if x.size and x.max() >= self.n_outcomes:
            raise DatasetError(f"'{self.stream.path}': outcomes beyond {self.n_outcomes - 1} "
                               f"in rows {a}…{a + len(x) - 1}")
        if self._missing is not None:
            x[self._missing[a : a + len(x)]] = HOLE
        return x

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[torch.Tensor, int]]:
        """Global batches ``start … steps−1`` of ``epoch``: (this rank's part, global size)."""
        order = np.random.default_rng(np.random.SeedSequence([self.seed, epoch])).permutation(self.n_chunks).tolist()
        shard_chunks = [order[s :: self.shards] for s in range(self.shards)]
        lengths = [sum(self._rows(c) for c in chunks) for chunks in shard_chunks]

        def end(s: int, b: int) -> int:  # shard s's strings in batches 0…b
            return 0 if b < 0 else min(lengths[s], (b + 1) * self.batch_size * lengths[s] // self.n)

        readers = {s: _ShardReader(self, epoch, s, shard_chunks[s], end(s, start - 1)) for s in self.mine}
        for b in range(start, self.steps):
            parts = [readers[s].take(end(s, b) - end(s, b - 1)) for s in self.mine]
            self.peak_rows = max(self.peak_rows, sum(r.allocated for r in readers.values()))
            x = as_long(torch.from_numpy(np.concatenate(parts)).to(self.device))
            yield x, sum(end(s, b) - end(s, b - 1) for s in range(self.shards))


class _ShardReader:
    """Shard s's strings in order: its chunks in windows of ``batches.window`` chunks,
    each window shuffled; ``take(k)`` returns the next k, reading windows as needed."""

    def __init__(self, batches: StreamBatches, epoch: int, shard: int, chunks: np.ndarray, offset: int) -> None:
        self.batches, self.epoch, self.shard = batches, epoch, shard
        w = batches.window
        self.windows = [chunks[i : i + w] for i in range(0, len(chunks), w)]
        sizes = [sum(batches._rows(c) for c in win) for win in self.windows]
        starts = np.cumsum([0] + sizes)
        self.next = int(np.searchsorted(starts, offset, side="right")) - 1  # window holding `offset`
        self.buffer = np.zeros((0, batches.stream.n_qubits), np.uint8)
        self.allocated = 0  # strings in the array behind ``buffer`` (views keep it alive)
        if self.next < len(self.windows):
            self._load()
            self.buffer = self.buffer[offset - starts[self.next - 1] :]

    def _load(self) -> None:
        """Append the next window, shuffled, to the buffer."""
        rows = np.concatenate([self.batches._read(self.epoch, c) for c in self.windows[self.next]])
        seq = np.random.SeedSequence([self.batches.seed, self.epoch, self.shard, self.next])
        rows = rows[np.random.default_rng(seq).permutation(len(rows))]
        self.buffer = np.concatenate([self.buffer, rows]) if len(self.buffer) else rows
        self.allocated = len(self.buffer)
        self.next += 1

    def take(self, k: int) -> np.ndarray:
        while len(self.buffer) < k:
            if self.next >= len(self.windows):
                raise RuntimeError(f"shard {self.shard} ran out of strings")  # cannot happen: lengths are exact
            self._load()
        out, self.buffer = self.buffer[:k], self.buffer[k:]
        return out

