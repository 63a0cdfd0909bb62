"""The self-describing HDF5 file format of qgen datasets.

Schema (version 2; every metadata value is HDF5 scalar/array data or a JSON string —
nothing is pickled or evaluated)::

    /                  attrs  format = "qgen-dataset", schema_version = 2, qgen_version,
                              created (ISO 8601, UTC), seed (−1 if none), n_qubits,
                              n_outcomes, split = [n_train, n_val, n_test] (contiguous, in
                              that order), meta (JSON)
    /outcomes          uint8 (n_samples, n_qubits), chunked + gzip
    /missing           (optional) bool (n_samples, n_qubits), chunked + gzip like
                              /outcomes: True where a readout is missing (the outcome
                              stored there is 0 and means nothing); attrs per_qubit
                              int64 (n_qubits,): the count of each column.  Present only
                              when some readout is missing.
    /imputed           (optional) bool (n_samples, n_qubits), the same layout: True where
                              the outcome is a model's draw filling a missing readout
                              (``qgen impute``), not a measurement.
    /log_prob          float64 (n_samples,): exact ln P(a), for an incomplete string the
                              marginal over its missing qubits; NaN where not computed
    /povm              attrs  name;  /povm/elements complex128 (K, 2, 2), or
                              (N, K, 2, 2): one POVM per qubit (a device's
                              readout-corrected POVMs, :mod:`qgen.measurements.readout`)
    /target            (optional) attrs name, params (JSON), info (JSON: ground-state
                              certificate), hamiltonian (JSON, "" if none), kind
                              ("mps" | "vector" | "density_matrix"), noise (a number, or
                              float64 (N,): one depolarizing strength per qubit)
    /target/tensors/0…N−1   MPS tensors (chi_l, 2, chi_r)     (kind "mps")
    /target/state            dense vector or density matrix    (other kinds)

Version 1 (qgen ≤ 0.1: one POVM for all qubits, one noise strength) reads unchanged, as
do version-2 files without ``/missing`` (complete data).  A qgen older than ``/missing``
would read such a file's zeros as outcomes: impute or drop the holes before giving a file
to one.

Files are written atomically (temporary file in the same directory, then rename) and
validated on reading; any problem is a :class:`DatasetError` with a one-line message.
A file qgen reads may come from anyone: links to other files (external links), soft
links, virtual datasets and datasets stored in external raw files are refused, so that
reading a dataset never opens another file on the machine.

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from qgen.datasets import simulate
>>> from qgen.measurements import pauli4
>>> from qgen.targets import make_target
>>> path = write_dataset(simulate(make_target("ghz", n=6), pauli4(), 1000, seed=1),
...                      Path(tempfile.mkdtemp()) / "ghz6.h5")
>>> ds = read_dataset(path)
>>> ds.split, ds.target.name
((800, 100, 100), 'ghz')
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from qgen._io import atomic_write
from qgen._version import __version__
from qgen.datasets.dataset import Dataset, DatasetError, _check_split
from qgen.measurements.povm import POVM, POVMError
from qgen.measurements.sampling import BLOCK
from qgen.resources import ResourceError, check_memory
from qgen.targets.hamiltonians import Hamiltonian
from qgen.targets.states import MPS, DenseState
from qgen.targets.target import Target

__all__ = [
    "DatasetHeader", "write_dataset", "read_dataset", "read_header", "write_samples", "read_samples", "write_parts",
    "default_chunk_rows", "timestamp", "SCHEMA_VERSION", "READABLE_VERSIONS", "FORMAT",
]


SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
FORMAT = "qgen-dataset"


def timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_dataset(ds: Dataset, path: str | os.PathLike, *, chunk_rows: int | None = None) -> Path:
    """Write ``ds`` to an HDF5 file atomically (schema above); ``chunk_rows`` strings per
    HDF5 chunk (default: a multiple of ``BLOCK`` near 1 MB; streaming reads whole chunks)."""
    lp = ds.log_prob if ds.log_prob is not None else np.full(ds.n_samples, np.nan)
    return write_parts(path, ds.n_samples, ds.n_qubits, ds.povm, ds.split, ds.seed, ds.meta, ds.target,
                       [(ds.outcomes, lp)], chunk_rows, missing=ds.missing, imputed=ds.imputed)


def default_chunk_rows(n_samples: int, n_qubits: int) -> int:
    """Strings per HDF5 chunk: a multiple of ``BLOCK`` close to 1 MB of outcomes (at
    least one block), at most ``n_samples``."""
    return max(1, min(n_samples, BLOCK * max(1, 2**20 // n_qubits // BLOCK)))


def write_parts(path: str | os.PathLike, n: int, n_qubits: int, povm: POVM, split: tuple[int, int, int],
                seed: int | None, meta: dict, target: Target | None,
                parts: Iterable[tuple[np.ndarray, np.ndarray]], chunk_rows: int | None,
                missing: np.ndarray | None = None, imputed: np.ndarray | None = None) -> Path:
    """Create the file and fill ``/outcomes`` and ``/log_prob`` from ``parts`` (consecutive
    row blocks of any sizes), one whole HDF5 chunk at a time; ``missing`` (bool (n, N), in
    memory) becomes ``/missing`` when it marks any readout, ``imputed`` ``/imputed`` alike."""
    rows = default_chunk_rows(n, n_qubits) if chunk_rows is None else min(int(chunk_rows), n)
    if rows < 1:
        raise DatasetError(f"chunk_rows must be ≥ 1, got {chunk_rows}")

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(
                format=FORMAT,
                schema_version=SCHEMA_VERSION,
                qgen_version=meta.get("qgen_version", __version__),
                created=meta.get("created", timestamp()),
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
            for name, m in (("missing", missing), ("imputed", imputed)):
                if m is not None and m.any():
                    mask = f.create_dataset(name, data=np.asarray(m, dtype=bool), chunks=(rows, n_qubits),
                                            compression="gzip", shuffle=True)
                    mask.attrs["per_qubit"] = m.sum(axis=0).astype(np.int64)
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
        noise=np.asarray(t.noise, dtype=float),
    )
    if isinstance(t.state, MPS):
        g.attrs["kind"] = "mps"
        tg = g.create_group("tensors")
        for i, a in enumerate(t.state.tensors):
            tg.create_dataset(str(i), data=a)
    else:
        g.attrs["kind"] = "vector" if t.state.data.ndim == 1 else "density_matrix"
        g.create_dataset("state", data=t.state.data, compression="gzip")


def _json_attr(node: h5py.HLObject, key: str):
    try:
        raw = node.attrs[key]
        return json.loads(raw) if raw != "" else None
    except KeyError:
        raise DatasetError(f"missing attribute '{key}' in {node.name}") from None
    except (TypeError, json.JSONDecodeError):
        raise DatasetError(f"attribute '{key}' in {node.name} is not valid JSON") from None


def _read_target(g: h5py.Group) -> Target:
    kind = str(g.attrs.get("kind", ""))
    noise = np.asarray(g.attrs.get("noise", 0.0), dtype=float)
    noise = float(noise) if noise.ndim == 0 else tuple(noise.tolist())
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
    strings per HDF5 chunk of ``/outcomes`` (None if it is not chunked);
    ``missing_per_qubit`` the missing readouts of each qubit (None for complete data)."""

    path: Path
    n_samples: int
    n_qubits: int
    povm: POVM
    split: tuple[int, int, int]
    seed: int | None
    meta: dict
    chunk_rows: int | None
    missing_per_qubit: tuple[int, ...] | None = None

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
            _refuse_outside_references(f, path)
            yield f
    except DatasetError as e:
        raise DatasetError(str(e).replace("\n", " ")) from None
    except ResourceError:
        raise
    except (POVMError, ValueError, KeyError, OSError, TypeError, RuntimeError) as e:
        # h5py raises RuntimeError for damaged link heaps, OSError for damaged chunks
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetError(f"'{path}' is invalid: {msg}") from None


def _refuse_outside_references(group: h5py.Group, path: Path) -> None:
    """Every object of the file must be stored in the file itself: no external or soft
    links, virtual datasets, or datasets whose data live in external raw files."""
    for name in group:
        link = group.get(name, getlink=True)
        where = f"{group.name.rstrip('/')}/{name}"
        if not isinstance(link, h5py.HardLink):
            raise DatasetError(f"'{path}': '{where}' is a {type(link).__name__}; qgen reads only objects stored in "
                               "the file itself")
        obj = group[name]
        if isinstance(obj, h5py.Group):
            _refuse_outside_references(obj, path)
        elif isinstance(obj, h5py.Dataset) and (obj.is_virtual or obj.external):
            raise DatasetError(f"'{path}': '{where}' is stored outside the file (virtual or external dataset); "
                               "qgen reads only data stored in the file itself")


def _header(f: h5py.File, path: Path) -> DatasetHeader:
    """Check format, version, fields, shapes, dtype and POVM of an open dataset file."""
    if f.attrs.get("format") != FORMAT:
        raise DatasetError(f"'{path}' is not a qgen dataset (no format='{FORMAT}' attribute)")
    version = int(f.attrs.get("schema_version", -1))
    if version not in READABLE_VERSIONS:
        raise DatasetError(f"'{path}' has schema version {version}; this qgen reads versions "
                           f"{', '.join(map(str, READABLE_VERSIONS))}")
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
    povm.check_sites(outcomes.shape[1])
    if int(f.attrs.get("n_outcomes", -1)) != povm.n_outcomes:
        raise DatasetError(f"'{path}': n_outcomes attribute disagrees with the POVM")
    seed = int(f.attrs.get("seed", -1))
    meta = _json_attr(f, "meta") or {}
    if not isinstance(meta, dict):
        raise DatasetError(f"'{path}': attribute 'meta' must be a JSON object, got {type(meta).__name__}")
    return DatasetHeader(path, outcomes.shape[0], outcomes.shape[1], povm,
                         tuple(np.asarray(f.attrs.get("split", [])).tolist()), None if seed < 0 else seed,
                         meta, outcomes.chunks[0] if outcomes.chunks else None, _mask_counts(f, "missing", path))


def _mask_counts(f: h5py.File, name: str, path: Path) -> tuple[int, ...] | None:
    """The per-qubit counts of the optional mask ``/name`` (validated), None if absent."""
    if name not in f:
        return None
    mask, shape = f[name], f["outcomes"].shape
    if not isinstance(mask, h5py.Dataset) or mask.dtype != bool or mask.shape != shape:
        raise DatasetError(f"'{path}': {name} must be a bool dataset of the outcomes' shape {shape}")
    per_qubit = tuple(int(c) for c in np.asarray(mask.attrs.get("per_qubit", [])).reshape(-1))
    if len(per_qubit) != shape[1] or min(per_qubit) < 0:
        raise DatasetError(f"'{path}': {name} lacks its per_qubit counts ({shape[1]} non-negative)")
    return per_qubit


def _read_mask(f: h5py.File, name: str, path: Path) -> np.ndarray | None:
    """The optional mask ``/name``, checked against its per-qubit counts."""
    counts = _mask_counts(f, name, path)
    if counts is None:
        return None
    mask = f[name][()]
    if tuple(mask.sum(axis=0).tolist()) != counts:
        raise DatasetError(f"'{path}': the {name} readouts disagree with their per_qubit counts")
    return mask


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
        masks = [name for name in ("missing", "imputed") if name in f]
        check_memory(head.n_samples * ((1 + len(masks)) * head.n_qubits + 8), f"reading {head.n_samples:,} strings "
                     f"× {head.n_qubits} qubits from '{path}'", " + ".join(["outcomes", "ln P", *masks]))
        target = _read_target(f["target"]) if (load_target and "target" in f) else None
        return Dataset(f["outcomes"][()], head.povm, head.split, f["log_prob"][()], target, head.seed, head.meta,
                       _read_mask(f, "missing", path), _read_mask(f, "imputed", path))


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
                           created=timestamp(), meta=json.dumps(meta))
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
    with _reading(Path(path)) as f:
        if f.attrs.get("format") != SAMPLES_FORMAT:
            raise DatasetError(f"'{path}' is not a qgen samples file")
        return f["outcomes"][()], f["log_prob"][()], _json_attr(f, "meta")
