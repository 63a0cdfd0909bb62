"""Chunked, multi-threaded evaluation with bounded memory and a progress bar.

The heavy kernels (BLAS GEMMs, numba loops with ``nogil``) release the GIL, so chunks run
concurrently in threads; BLAS is limited to one thread per chunk to avoid
oversubscribing the cores.  Results come back in order, so output never depends on the
number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

T = TypeVar("T")


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def chunked_map(
    fn: Callable[[int, int], T],
    n: int,
    chunk_size: int,
    workers: int | None = None,
    progress: bool = False,
    desc: str = "",
) -> list[T]:
    """[fn(start, stop) for each chunk of range(n)], in order, using ``workers`` threads."""
    if chunk_size < 1:
        raise ValueError(f"chunk size must be positive, got {chunk_size}")
    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    workers = min(workers or default_workers(), max(1, len(bounds)))
    bar = tqdm(total=n, desc=desc, disable=not progress, unit="str", leave=False, dynamic_ncols=True)

    def run(b: tuple[int, int]) -> T:
        out = fn(*b)
        bar.update(b[1] - b[0])
        return out

    try:
        if workers == 1:
            return [run(b) for b in bounds]
        with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
            return list(pool.map(run, bounds))
    finally:
        bar.close()
