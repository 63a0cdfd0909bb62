"""Measurement datasets: simulation, and the self-describing HDF5 file format.

Schema (version 1; every metadata value is HDF5 scalar/array data or a JSON string —
nothing is pickled or evaluated)::

    /                  attrs  format = "qgen-dataset", schema_version = 1, qgen_version,
                              created (ISO 8601, UTC), seed (−1 if none), n_qubits,
                              n_outcomes, split = [n_train, n_val, n_test] (contiguous, in
                              that order), meta (JSON)
    /outcomes          uint8 (n_samples, n_qubits), chunked + gzip
    /log_prob          float64 (n_samples,): exact ln P(a); NaN where not computed
    /povm              attrs  name;  /povm/elements complex128 (K, 2, 2)
    /target            (optional) attrs name, params (JSON), info (JSON: ground-state
                              certificate), hamiltonian (JSON, "" if none), kind
                              ("mps" | "vector" | "density_matrix"), noise
    /target/tensors/0…N−1   MPS tensors (chi_l, 2, chi_r)     (kind "mps")
    /target/state            dense vector or density matrix    (other kinds)

Files are written atomically (temporary file in the same directory, then rename) and
validated on reading; any problem is a :class:`DatasetError` with a one-line message.

Example
-------
>>> from qgen.targets import make_target
>>> from qgen.povm import pauli4
>>> ds = simulate(make_target("ghz", n=6), pauli4(), 1000, seed=1)
>>> ds.split, ds.train.shape
((800, 100, 100), (800, 6))
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import multiprocessing
import os
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import h5py
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ._chunks import default_workers
from ._io import atomic_write
from ._version import __version__
from .hamiltonians import Hamiltonian
from .povm import POVM, POVMError
from .resources import ResourceError, check_memory, check_simulate
from .sampling import BLOCK, BlockSampler
from .sampling import log_prob as exact_log_prob
from .states import MPS, DenseState
from .targets import Target

__all__ = [
    "Dataset", "DatasetError", "DatasetHeader", "simulate", "simulate_to_file", "attach_target", "write_dataset",
    "read_dataset", "read_header", "write_samples", "read_samples", "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1
FORMAT = "qgen-dataset"


class DatasetError(ValueError):
    """A dataset file or request that cannot be used; the message is one line."""


@dataclass(eq=False)
class Dataset:
    """POVM outcome strings with their provenance.

    ``outcomes[:n_train]`` is the training split, then validation, then test.
    ``log_prob`` holds the exact ln P(a) (NaN where not computed); ``target`` is None
    for measured data whose state is not known.
    """

    outcomes: np.ndarray
    povm: POVM
    split: tuple[int, int, int]
    log_prob: np.ndarray | None = None
    target: Target | None = None
    seed: int | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        o = np.asarray(self.outcomes)
        if o.ndim != 2 or o.shape[0] == 0 or o.shape[1] == 0:
            raise DatasetError(f"outcomes must be a non-empty (n_samples, n_qubits) array, got shape {o.shape}")
        if not np.issubdtype(o.dtype, np.integer):
            raise DatasetError(f"outcomes must be integers, got {o.dtype}")
        if o.min() < 0 or o.max() >= self.povm.n_outcomes:
            raise DatasetError(f"outcomes must lie in [0, {self.povm.n_outcomes - 1}] for POVM '{self.povm.name}'")
        self.outcomes = o.astype(np.uint8, copy=False)
        self.split = _check_split(self.split, o.shape[0])
        if self.log_prob is not None:
            lp = np.asarray(self.log_prob, dtype=np.float64)
            if lp.shape != (o.shape[0],):
                raise DatasetError(f"log_prob has shape {lp.shape}, expected ({o.shape[0]},)")
            if np.any(lp > 1e-9):
                raise DatasetError("log_prob contains positive values (probabilities above 1)")
            self.log_prob = lp
        if self.target is not None and self.target.n_qubits != o.shape[1]:
            raise DatasetError(f"target has {self.target.n_qubits} qubits but outcomes have {o.shape[1]}")

    @property
    def n_samples(self) -> int:
        return self.outcomes.shape[0]

    @property
    def n_qubits(self) -> int:
        return self.outcomes.shape[1]

    def _part(self, k: int) -> slice:
        start = sum(self.split[:k])
        return slice(start, start + self.split[k])

    @property
    def train(self) -> np.ndarray:
        return self.outcomes[self._part(0)]

    @property
    def val(self) -> np.ndarray:
        return self.outcomes[self._part(1)]

    @property
    def test(self) -> np.ndarray:
        return self.outcomes[self._part(2)]

    def split_log_prob(self, name: str) -> np.ndarray | None:
        """Exact ln P of the 'train', 'val' or 'test' split, or None if not stored."""
        if self.log_prob is None:
            return None
        lp = self.log_prob[self._part(("train", "val", "test").index(name))]
        return None if lp.size == 0 or np.isnan(lp).any() else lp

    def identity(self) -> dict:
        """What a model trained on this data must agree with."""
        return {"n_qubits": self.n_qubits, "n_outcomes": self.povm.n_outcomes, "povm": self.povm.name}

    def describe(self) -> str:
        """Readable multi-line summary (``qgen info``)."""
        n_tr, n_va, n_te = self.split
        lines = [
            f"samples   {self.n_samples} (train {n_tr}, validation {n_va}, test {n_te})",
            f"qubits    {self.n_qubits}",
            f"POVM      {self.povm.describe()}",
        ]
        if self.log_prob is not None:
            have = [s for s in ("train", "val", "test") if self.split_log_prob(s) is not None]
            lines.append(f"exact lnP {', '.join(have) if have else 'none'}")
        t = self.target
        if t is None:
            lines.append("target    none attached")
        else:
            lines.append(f"target    {t.describe()}")
            if t.params:
                lines.append("params    " + ", ".join(f"{k}={v}" for k, v in t.params.items()))
            if t.info:
                i = t.info
                lines.append(
                    f"energy    {i['energy']:.12g} (variance {i['variance']:.2g}, {i['method']}"
                    + (f", bond {i['bond_dim']}, truncation {i['truncation_error']:.2g}" if i.get("bond_dim") else "")
                    + ")"
                )
            if t.hamiltonian is not None and not t.info:
                h = t.hamiltonian
                lines.append(f"hamilt.   {h.name} " + ", ".join(f"{k}={v}" for k, v in h.params.items()))
        lines.append(f"seed      {self.seed}" if self.seed is not None else "seed      none")
        for k in ("qgen_version", "created", "source"):
            if k in self.meta:
                v = self.meta[k]
                if isinstance(v, dict):  # an import's provenance
                    v = (f"{v.get('file')} ({v.get('format')}, {v.get('shots')} shots, "
                         f"{'shuffled' if v.get('shuffled') else 'file order'})")
                lines.append(f"{k:<9} {v}")
        lines += [f"warning   {w}" for w in self.meta.get("warnings", [])]
        return "\n".join(lines)


def _check_split(split, n: int) -> tuple[int, int, int]:
    split = tuple(int(s) for s in split)
    if len(split) != 3 or min(split) < 0 or sum(split) != n or split[0] == 0:
        raise DatasetError(f"split {split} must be 3 non-negative counts (train > 0) summing to {n}")
    return split


def split_counts(n: int, fractions: tuple[float, float]) -> tuple[int, int, int]:
    """(n_train, n_val, n_test) from validation and test fractions."""
    f_val, f_test = fractions
    if not (0 <= f_val < 1 and 0 <= f_test < 1 and f_val + f_test < 1):
        raise DatasetError(f"validation/test fractions {fractions} must be in [0, 1) and sum below 1")
    n_val, n_test = int(round(f_val * n)), int(round(f_test * n))
    if n - n_val - n_test < 1:
        raise DatasetError(f"{n} samples leave no training data")
    return n - n_val - n_test, n_val, n_test


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
    return Dataset(outcomes, povm, split, lp, target, seed, {"qgen_version": __version__, "created": _now()})


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
    >>> from qgen.targets import make_target
    >>> from qgen.povm import pauli4
    >>> path = Path(tempfile.mkdtemp()) / "ghz.h5"
    >>> simulate_to_file(path, make_target("ghz", n=5), pauli4(), 1000, seed=1).split
    (800, 100, 100)
    >>> bool((read_dataset(path).outcomes == simulate(make_target("ghz", n=5), pauli4(), 1000, seed=1).outcomes).all())
    True
    """
    n_samples, split = _plan(n_samples, val_fraction, test_fraction)
    check_simulate(target, povm, n_samples, workers=workers, streamed=True, output=path)
    parts = _blocks(target, povm, n_samples, seed, split[0] * (not train_log_prob), workers, progress)
    _write_file(path, n_samples, target.n_qubits, povm, split, seed, {"qgen_version": __version__, "created": _now()},
                target, parts, chunk_rows)
    return read_header(path)


def _plan(n_samples: int, val_fraction: float, test_fraction: float) -> tuple[int, tuple[int, int, int]]:
    n_samples = int(n_samples)
    if n_samples < 1:
        raise DatasetError(f"number of samples must be ≥ 1, got {n_samples}")
    return n_samples, split_counts(n_samples, (val_fraction, test_fraction))


# Set in each worker process by _init_worker: (sampler, target state, POVM, n, first row with ln P).
_WORKER: dict[str, Any] = {}


def _init_worker(state, povm: POVM, seed: int | None, n: int, logp_from: int) -> None:
    threadpool_limits(1)  # one BLAS thread per process: the processes are the parallelism
    _WORKER.update(job=(BlockSampler(state, povm, seed), state, povm, n, logp_from))


def _worker_block(c: int) -> tuple[np.ndarray, np.ndarray]:
    return _block(*_WORKER["job"], c)


def _block(draw: BlockSampler, state, povm: POVM, n: int, logp_from: int, c: int) -> tuple[np.ndarray, np.ndarray]:
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

    >>> from qgen.targets import make_target
    >>> from qgen.povm import pauli4
    >>> ds = simulate(make_target("ghz", n=3), pauli4(), 50, seed=0)
    >>> bare = Dataset(ds.outcomes, ds.povm, ds.split)
    >>> np.allclose(attach_target(bare, ds.target).log_prob, ds.log_prob)
    True
    """
    if target.n_qubits != ds.n_qubits:
        raise DatasetError(f"the target has {target.n_qubits} qubits but the data have {ds.n_qubits}")
    lp = exact_log_prob(target.state, ds.povm, ds.outcomes, workers=workers, progress=progress)
    return replace(ds, log_prob=lp, target=target)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_dataset(ds: Dataset, path: str | os.PathLike, *, chunk_rows: int | None = None) -> Path:
    """Write ``ds`` to an HDF5 file atomically (schema above); ``chunk_rows`` strings per
    HDF5 chunk (default: a multiple of ``BLOCK`` near 1 MB; streaming reads whole chunks)."""
    lp = ds.log_prob if ds.log_prob is not None else np.full(ds.n_samples, np.nan)
    return _write_file(path, ds.n_samples, ds.n_qubits, ds.povm, ds.split, ds.seed, ds.meta, ds.target,
                       [(ds.outcomes, lp)], chunk_rows)


def default_chunk_rows(n_samples: int, n_qubits: int) -> int:
    """Strings per HDF5 chunk: a multiple of ``BLOCK`` close to 1 MB of outcomes (at
    least one block), at most ``n_samples``."""
    return max(1, min(n_samples, BLOCK * max(1, 2**20 // n_qubits // BLOCK)))


def _write_file(path: str | os.PathLike, n: int, n_qubits: int, povm: POVM, split: tuple[int, int, int],
                seed: int | None, meta: dict, target: Target | None,
                parts: Iterable[tuple[np.ndarray, np.ndarray]], chunk_rows: int | None) -> Path:
    """Create the file and fill ``/outcomes`` and ``/log_prob`` from ``parts`` (consecutive
    row blocks of any sizes), one whole HDF5 chunk at a time."""
    rows = default_chunk_rows(n, n_qubits) if chunk_rows is None else min(int(chunk_rows), n)
    if rows < 1:
        raise DatasetError(f"chunk_rows must be ≥ 1, got {chunk_rows}")

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(
                format=FORMAT,
                schema_version=SCHEMA_VERSION,
                qgen_version=meta.get("qgen_version", __version__),
                created=meta.get("created", _now()),
                seed=-1 if seed is None else int(seed),
                n_qubits=n_qubits,
                n_outcomes=povm.n_outcomes,
                split=np.array(split, dtype=np.int64),
                meta=json.dumps(meta),
            )
            out = f.create_dataset("outcomes", (n, n_qubits), np.uint8, chunks=(rows, n_qubits), compression="gzip",
                                   shuffle=True)
            lp = f.create_dataset("log_prob", (n,), np.float64, chunks=(rows,), compression="gzip")
            done, held = 0, []
            for part in itertools.chain(parts, [None]):  # None: the end, flush what is held
                if part is not None:
                    held.append(part)
                ready = sum(len(x) for x, _ in held)
                if ready >= rows or (part is None and ready):
                    xs, ls = (np.concatenate(p) for p in zip(*held))
                    k = ready if part is None else ready // rows * rows
                    out[done : done + k], lp[done : done + k] = xs[:k], ls[:k]
                    done, held = done + k, [(xs[k:], ls[k:])]
            if done != n:
                raise DatasetError(f"internal error: wrote {done} of {n} strings")
            g = f.create_group("povm")
            g.attrs["name"] = povm.name
            g.create_dataset("elements", data=povm.elements)
            if target is not None:
                _write_target(f.create_group("target"), target)

    try:
        return atomic_write(path, write)
    except OSError as e:
        raise DatasetError(str(e)) from None


def _write_target(g: h5py.Group, t: Target) -> None:
    g.attrs.update(
        name=t.name,
        params=json.dumps(t.params),
        info=json.dumps(t.info),
        hamiltonian=json.dumps(t.hamiltonian.to_dict()) if t.hamiltonian is not None else "",
        noise=float(t.noise),
    )
    if isinstance(t.state, MPS):
        g.attrs["kind"] = "mps"
        tg = g.create_group("tensors")
        for i, a in enumerate(t.state.tensors):
            tg.create_dataset(str(i), data=a)
    else:
        g.attrs["kind"] = "vector" if t.state.data.ndim == 1 else "density_matrix"
        g.create_dataset("state", data=t.state.data, compression="gzip")


def _json_attr(node, key: str):
    try:
        raw = node.attrs[key]
        return json.loads(raw) if raw != "" else None
    except KeyError:
        raise DatasetError(f"missing attribute '{key}' in {node.name}") from None
    except (TypeError, json.JSONDecodeError):
        raise DatasetError(f"attribute '{key}' in {node.name} is not valid JSON") from None


def _read_target(g: h5py.Group) -> Target:
    kind = str(g.attrs.get("kind", ""))
    noise = float(g.attrs.get("noise", 0.0))
    if kind == "mps":
        tg = g["tensors"]
        n = len(tg)
        missing = [str(i) for i in range(n) if str(i) not in tg]
        if missing:
            raise DatasetError(f"target MPS tensors are missing or misnumbered ({missing[0]})")
        state = MPS(tuple(tg[str(i)][()] for i in range(n)), noise)
    elif kind in ("vector", "density_matrix"):
        state = DenseState(g["state"][()], noise)
    else:
        raise DatasetError(f"unknown target kind '{kind}'")
    ham = _json_attr(g, "hamiltonian")
    return Target(
        state,
        str(g.attrs.get("name", "custom")),
        _json_attr(g, "params") or {},
        Hamiltonian.from_dict(ham) if ham else None,
        _json_attr(g, "info") or {},
    )


@dataclass(frozen=True)
class DatasetHeader:
    """What a dataset file holds, without its strings: ``chunk_rows`` is the number of
    strings per HDF5 chunk of ``/outcomes`` (None if it is not chunked)."""

    path: Path
    n_samples: int
    n_qubits: int
    povm: POVM
    split: tuple[int, int, int]
    seed: int | None
    meta: dict
    chunk_rows: int | None

    def identity(self) -> dict:
        """What a model trained on these data must agree with (as ``Dataset.identity``)."""
        return {"n_qubits": self.n_qubits, "n_outcomes": self.povm.n_outcomes, "povm": self.povm.name}


@contextmanager
def _reading(path: Path) -> Iterator[h5py.File]:
    """The open file; any problem inside the block becomes a one-line DatasetError."""
    if not path.is_file():
        raise DatasetError(f"dataset file '{path}' not found")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise DatasetError(f"'{path}' is not a readable HDF5 file (truncated or corrupt?)") from None
    try:
        with f:
            yield f
    except DatasetError as e:
        raise DatasetError(str(e).replace("\n", " ")) from None
    except ResourceError:
        raise
    except (POVMError, ValueError, KeyError, OSError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetError(f"'{path}' is invalid: {msg}") from None


def _header(f: h5py.File, path: Path) -> DatasetHeader:
    """Check format, version, fields, shapes, dtype and POVM of an open dataset file."""
    if f.attrs.get("format") != FORMAT:
        raise DatasetError(f"'{path}' is not a qgen dataset (no format='{FORMAT}' attribute)")
    version = int(f.attrs.get("schema_version", -1))
    if version != SCHEMA_VERSION:
        raise DatasetError(f"'{path}' has schema version {version}; this qgen reads version {SCHEMA_VERSION}")
    for key in ("outcomes", "log_prob", "povm/elements"):
        if key not in f:
            raise DatasetError(f"'{path}' lacks the '{key}' field")
        if not isinstance(f[key], h5py.Dataset):
            raise DatasetError(f"'{path}': '{key}' is a {type(f[key]).__name__}, not a dataset")
    outcomes = f["outcomes"]
    if outcomes.dtype != np.uint8 or outcomes.ndim != 2:
        raise DatasetError(f"'{path}': outcomes must be uint8 (n, N), got {outcomes.dtype} {outcomes.shape}")
    if int(f.attrs.get("n_qubits", -1)) != outcomes.shape[1]:
        raise DatasetError(f"'{path}': n_qubits attribute disagrees with the outcomes' shape")
    povm = POVM(str(f["povm"].attrs.get("name", "custom")), f["povm/elements"][()])
    if int(f.attrs.get("n_outcomes", -1)) != povm.n_outcomes:
        raise DatasetError(f"'{path}': n_outcomes attribute disagrees with the POVM")
    seed = int(f.attrs.get("seed", -1))
    meta = _json_attr(f, "meta") or {}
    if not isinstance(meta, dict):
        raise DatasetError(f"'{path}': attribute 'meta' must be a JSON object, got {type(meta).__name__}")
    return DatasetHeader(path, outcomes.shape[0], outcomes.shape[1], povm,
                         tuple(np.asarray(f.attrs.get("split", [])).tolist()), None if seed < 0 else seed,
                         meta, outcomes.chunks[0] if outcomes.chunks else None)


def read_header(path: str | os.PathLike) -> DatasetHeader:
    """The validated header of a dataset file (its strings are not read); raises
    :class:`DatasetError` with one line."""
    path = Path(path)
    with _reading(path) as f:
        head = _header(f, path)
        return replace(head, split=_check_split(head.split, head.n_samples))


def read_dataset(path: str | os.PathLike, *, load_target: bool = True) -> Dataset:
    """Read and validate a dataset file; raises :class:`DatasetError` with one line."""
    path = Path(path)
    with _reading(path) as f:
        head = _header(f, path)
        check_memory(head.n_samples * (head.n_qubits + 8), f"reading {head.n_samples:,} strings × {head.n_qubits} "
                     f"qubits from '{path}'", "outcomes + ln P")
        target = _read_target(f["target"]) if (load_target and "target" in f) else None
        return Dataset(f["outcomes"][()], head.povm, head.split, f["log_prob"][()], target, head.seed, head.meta)


SAMPLES_FORMAT = "qgen-samples"


def write_samples(path: str | os.PathLike, outcomes: np.ndarray, log_q: np.ndarray | None, povm: POVM,
                  meta: dict) -> Path:
    """Write model samples and their model ln q (NaN if the model has none) atomically:
    attrs format = "qgen-samples", schema_version, n_qubits, meta (JSON); /outcomes
    uint8; /log_prob float64; /povm as in datasets."""
    outcomes = np.asarray(outcomes, dtype=np.uint8)
    lq = np.full(len(outcomes), np.nan) if log_q is None else np.asarray(log_q, dtype=np.float64)

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(format=SAMPLES_FORMAT, schema_version=SCHEMA_VERSION, n_qubits=outcomes.shape[1],
                           created=_now(), meta=json.dumps(meta))
            f.create_dataset("outcomes", data=outcomes, compression="gzip", shuffle=True)
            f.create_dataset("log_prob", data=lq, compression="gzip")
            g = f.create_group("povm")
            g.attrs["name"] = povm.name
            g.create_dataset("elements", data=povm.elements)

    try:
        return atomic_write(path, write)
    except OSError as e:
        raise DatasetError(str(e)) from None


def read_samples(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    """(outcomes, model ln q, meta) from a :func:`write_samples` file."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != SAMPLES_FORMAT:
                raise DatasetError(f"'{path}' is not a qgen samples file")
            return f["outcomes"][()], f["log_prob"][()], json.loads(f.attrs["meta"])
    except (OSError, KeyError, json.JSONDecodeError) as e:
        raise DatasetError(f"'{path}' is not a readable samples file: {str(e).splitlines()[0]}") from None


_IMPORTER_NAMES = {"import_records", "read_outcome_indices", "read_onehot", "read_pauli_records",
                   "pauli_records_to_outcomes", "parse_target", "FormatError", "RECORD_FORMATS"}


def __getattr__(name: str) -> Any:
    """The record importers of :mod:`qgen.importers` (``import_records``,
    ``read_outcome_indices``, ``read_onehot``, ``read_pauli_records``,
    ``pauli_records_to_outcomes``, ``parse_target``, ``FormatError``, ``RECORD_FORMATS``),
    re-exported here lazily: that module builds on this one, so importing it at load
    time would be circular."""
    if name in _IMPORTER_NAMES:
        from . import importers

        return getattr(importers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
