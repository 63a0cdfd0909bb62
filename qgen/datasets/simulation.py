"""Simulated measurements: exact POVM sampling of a target, with the exact ln P of every
string, in memory (:func:`simulate`) or written chunk by chunk to a dataset file
(:func:`simulate_to_file`); and :func:`attach_target`, which gives measured data its
target and the exact ln P of every stored string.

Blocks of ``BLOCK`` strings each have their own seed stream, so the strings do not depend
on how many workers (threads or processes) drew them.

Example
-------
>>> from qgen.targets import make_target
>>> from qgen.measurements import pauli4
>>> ds = simulate(make_target("ghz", n=6), pauli4(), 1000, seed=1)
>>> ds.split, ds.train.shape
((800, 100, 100), (800, 6))
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from qgen._chunks import default_workers
from qgen._version import __version__
from qgen.datasets.dataset import Dataset, DatasetError, split_counts
from qgen.datasets.hdf5 import DatasetHeader, read_header, timestamp, write_parts
from qgen.measurements.povm import POVM
from qgen.measurements.sampling import BLOCK, BlockSampler
from qgen.measurements.sampling import log_prob as exact_log_prob
from qgen.resources import check_simulate
from qgen.targets.states import State
from qgen.targets.target import Target

__all__ = ["simulate", "simulate_to_file", "attach_target"]


def simulate(
    target: Target,
    povm: POVM,
    n_samples: int,
    *,
    seed: int | None = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    train_log_prob: bool = True,
    workers: int | None = None,
    progress: bool = False,
) -> Dataset:
    """Sample ``n_samples`` outcome strings of ``target`` and their exact ln P.

    ln P is always computed for the validation and test splits; for the training split
    unless ``train_log_prob=False`` (it is the costly part: ≈ 10 MFLOP per string at
    χ ≈ 19).  ``workers``: None uses one thread per core in this process, 1 this process
    alone, K ≥ 2 that many single-threaded processes (MPS targets; see
    :func:`simulate_to_file`).  The result depends only on the seed.
    """
    n_samples, split = _plan(n_samples, val_fraction, test_fraction)
    check_simulate(target, povm, n_samples, workers=workers)
    parts = list(_blocks(target, povm, n_samples, seed, split[0] * (not train_log_prob), workers, progress))
    outcomes, lp = (np.concatenate(p) for p in zip(*parts))
    return Dataset(outcomes, povm, split, lp, target, seed, {"qgen_version": __version__, "created": timestamp()})


def simulate_to_file(
    path: str | os.PathLike,
    target: Target,
    povm: POVM,
    n_samples: int,
    *,
    seed: int | None = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    train_log_prob: bool = True,
    workers: int | None = None,
    progress: bool = False,
    chunk_rows: int | None = None,
) -> DatasetHeader:
    """:func:`simulate` straight into an HDF5 dataset file (written atomically), block by
    block: memory stays bounded by a few blocks and one HDF5 chunk, whatever ``n_samples``.

    The strings come in blocks of ``qgen.sampling.BLOCK``, block c from its own seed
    stream, each with its exact ln P.  ``workers`` = K ≥ 2 computes the blocks in K
    single-threaded processes (spawned; for MPS targets — small dense targets use K
    threads); this process writes them in order, so the file holds the same data for
    every K.  Returns the new file's header.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from qgen.targets import make_target
    >>> from qgen.measurements import pauli4
    >>> from qgen.datasets import read_dataset
    >>> path = Path(tempfile.mkdtemp()) / "ghz.h5"
    >>> simulate_to_file(path, make_target("ghz", n=5), pauli4(), 1000, seed=1).split
    (800, 100, 100)
    >>> bool((read_dataset(path).outcomes == simulate(make_target("ghz", n=5), pauli4(), 1000, seed=1).outcomes).all())
    True
    """
    n_samples, split = _plan(n_samples, val_fraction, test_fraction)
    check_simulate(target, povm, n_samples, workers=workers, streamed=True, output=path)
    parts = _blocks(target, povm, n_samples, seed, split[0] * (not train_log_prob), workers, progress)
    write_parts(path, n_samples, target.n_qubits, povm, split, seed,
                {"qgen_version": __version__, "created": timestamp()}, target, parts, chunk_rows)
    return read_header(path)


def _plan(n_samples: int, val_fraction: float, test_fraction: float) -> tuple[int, tuple[int, int, int]]:
    n_samples = int(n_samples)
    if n_samples < 1:
        raise DatasetError(f"number of samples must be ≥ 1, got {n_samples}")
    return n_samples, split_counts(n_samples, (val_fraction, test_fraction))


# Set in each worker process by _init_worker: (sampler, target state, POVM, n, first row with ln P).
_WORKER: dict[str, Any] = {}


def _init_worker(state: State, povm: POVM, seed: int | None, n: int, logp_from: int) -> None:
    threadpool_limits(1)  # one BLAS thread per process: the processes are the parallelism
    _WORKER.update(job=(BlockSampler(state, povm, seed), state, povm, n, logp_from))


def _worker_block(c: int) -> tuple[np.ndarray, np.ndarray]:
    return _block(*_WORKER["job"], c)


def _block(draw: BlockSampler, state: State, povm: POVM, n: int, logp_from: int,
           c: int) -> tuple[np.ndarray, np.ndarray]:
    """Block c's strings and their exact ln P (NaN before row ``logp_from``)."""
    a, b = c * BLOCK, min(n, (c + 1) * BLOCK)
    x = draw(c, b - a)
    lp = np.full(b - a, np.nan)
    first = max(a, logp_from) - a
    if first < b - a:
        lp[first:] = exact_log_prob(state, povm, x[first:], workers=1)
    return x, lp


def _blocks(target: Target, povm: POVM, n: int, seed: int | None, logp_from: int, workers: int | None,
            progress: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(strings, ln P) of the blocks of one simulation, in order, computed by ``workers``
    (see :func:`simulate`) with at most two blocks per worker in flight."""
    if workers is not None and workers < 1:
        raise DatasetError(f"workers must be ≥ 1, got {workers}")
    draw = BlockSampler(target.state, povm, seed)
    n_blocks = -(-n // BLOCK)
    k = min(workers or default_workers(), n_blocks)
    bar = tqdm(total=n, desc="sampling + exact ln P", disable=not progress, unit="str", leave=False,
               dynamic_ncols=True)
    try:
        if k == 1:  # one core: one BLAS thread too (more only oversubscribe these small products)
            with threadpool_limits(1):
                for c in range(n_blocks):
                    yield _block(draw, target.state, povm, n, logp_from, c)
                    bar.update(min(n, (c + 1) * BLOCK) - c * BLOCK)
            return
        if workers is not None and draw.heavy:
            pool: Executor = ProcessPoolExecutor(k, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker,
                                                 initargs=(target.state, povm, seed, n, logp_from))
            job: Callable[[int], tuple[np.ndarray, np.ndarray]] = _worker_block
        else:
            pool = ThreadPoolExecutor(k)
            job = lambda c: _block(draw, target.state, povm, n, logp_from, c)  # noqa: E731
        with pool, threadpool_limits(1):
            for part in _in_order(pool, job, range(n_blocks), 2 * k):
                yield part
                bar.update(len(part[0]))
    finally:
        bar.close()


def _in_order(pool: Executor, fn: Callable, items: Iterable, window: int) -> Iterator:
    """``fn(item)`` for every item, in order, with at most ``window`` calls submitted
    ahead (so results never pile up faster than the consumer takes them)."""
    items = iter(items)
    pending = deque(pool.submit(fn, item) for item in itertools.islice(items, window))
    while pending:
        result = pending.popleft().result()
        for item in items:
            pending.append(pool.submit(fn, item))
            break
        yield result


def attach_target(ds: Dataset, target: Target, *, workers: int | None = None, progress: bool = False) -> Dataset:
    """A copy of ``ds`` with ``target`` attached (replacing any other) and the exact
    ln P(a) = ln Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] of every stored string
    (:func:`qgen.sampling.log_prob`), so that every fidelity and KL can be scored.

    ln P = −inf marks strings the target cannot produce (data that did not come from it).
    A string with missing readouts (``ds.missing``) gets the exact marginal of the
    readouts it has: its missing qubits are measured with Σ_a M^a = I.

    >>> from qgen.targets import make_target
    >>> from qgen.measurements import pauli4
    >>> ds = simulate(make_target("ghz", n=3), pauli4(), 50, seed=0)
    >>> bare = Dataset(ds.outcomes, ds.povm, ds.split)
    >>> np.allclose(attach_target(bare, ds.target).log_prob, ds.log_prob)
    True
    """
    if target.n_qubits != ds.n_qubits:
        raise DatasetError(f"the target has {target.n_qubits} qubits but the data have {ds.n_qubits}")
    lp = exact_log_prob(target.state, ds.povm, ds.outcomes, workers=workers, progress=progress, missing=ds.missing)
    return replace(ds, log_prob=lp, target=target)
