"""States stored in other programs' formats.

* :func:`read_povm_genmodel_mps`: the text format of the MPS published with
  Carrasquilla et al. 2019 (repository POVM_GENMODEL): ``index.txt`` gives per site the
  rank, the number of non-zero entries and the dimensions; ``tensor.txt`` lists the
  non-zero entries (1-based indices, then the value) site by site, blocks separated by
  blank lines.  Index order: first tensor (right bond, physical), bulk tensors (right
  bond, physical, left bond), last tensor (physical, left bond).  The published 50-qubit
  Ising state is the ground state of H = +Σ σzσz + Σ σx, i.e. ``tfim(50, J=-1, h=-1)`` in
  qgen's convention (⟨H⟩ = −63.2936 against the exact −63.3012; entries are stored
  to ~6 digits).
* :func:`read_mps_npz`: an ``.npz`` of arrays ``0 … N−1`` (or ``arr_0 …``), each
  (left, physical, right), the ends optionally without their outer bond.

Example
-------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "index.txt").write_text("2 2 2 2\\n2 2 2 2\\n")
>>> _ = (d / "tensor.txt").write_text("1 1 0.7071\\n2 2 0.7071\\n\\n1 1 1\\n2 2 1\\n")
>>> mps = read_povm_genmodel_mps(d / "index.txt", d / "tensor.txt")   # a Bell pair
>>> np.round(mps.to_dense(), 4).tolist()
[0.7071, 0.0, 0.0, 0.7071]
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from qgen.errors import FormatError
from qgen.resources import ResourceError, check_memory
from qgen.targets.states import MPS

__all__ = ["read_povm_genmodel_mps", "read_mps_npz"]


# -- MPS files --------------------------------------------------------------------------


def _floats(line: str, where: str) -> list[float]:
    try:
        values = [float(v) for v in line.split()]
    except ValueError:
        raise FormatError(f"{where}: not a list of numbers: '{line.strip()[:60]}'") from None
    if not all(math.isfinite(v) for v in values):
        raise FormatError(f"{where}: NaN or infinite value in '{line.strip()[:60]}'")
    return values


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not a text file") from None
    except OSError as e:
        raise FormatError(f"{path}: cannot read ({e.strerror or e})") from None


def _counts(values: list[float], where: str, least: int) -> tuple[int, ...]:
    """Integral entries ≥ ``least`` (ranks, counts, dimensions) of a header line."""
    if not all(v == int(v) and v >= least for v in values):
        raise FormatError(f"{where}: expected integers ≥ {least} (rank, entries, dimensions), got {values}")
    return tuple(int(v) for v in values)


def read_povm_genmodel_mps(index_path: str | Path, tensor_path: str | Path) -> MPS:
    """Read the POVM_GENMODEL ``index.txt`` / ``tensor.txt`` pair into an :class:`MPS`;
    the dimensions it declares are checked against the available memory before any
    tensor is allocated."""
    index_path, tensor_path = Path(index_path), Path(tensor_path)
    for p in (index_path, tensor_path):
        if not p.is_file():
            raise FormatError(f"'{p}' not found")
    heads = [_floats(line, f"{index_path}:{i + 1}") for i, line in enumerate(_lines(index_path)) if line.strip()]
    blocks, current = [], []
    for i, line in enumerate(_lines(tensor_path)):
        if line.strip():
            current.append(_floats(line, f"{tensor_path}:{i + 1}"))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    n = len(heads)
    if n < 2 or len(blocks) != n:
        raise FormatError(f"{index_path} describes {n} tensors but {tensor_path} holds {len(blocks)} blocks")
    shapes = []
    for site, head in enumerate(heads):
        if len(head) < 2:
            raise FormatError(f"{index_path}:{site + 1}: expected rank, number of entries and dimensions")
        rank, nnz = _counts(head[:2], f"{index_path}:{site + 1}", 0)
        dims = _counts(head[2:], f"{index_path}:{site + 1}", 1)
        expected_rank = 2 if site in (0, n - 1) else 3
        if rank != expected_rank or len(dims) != rank:
            raise FormatError(f"site {site + 1}: rank {rank} with dimensions {dims}, expected rank {expected_rank}")
        shapes.append((nnz, dims))
    check_memory(8 * sum(math.prod(dims) for _, dims in shapes), f"the MPS in {index_path}")
    tensors = []
    for site, ((nnz, dims), rows) in enumerate(zip(shapes, blocks)):
        rank = len(dims)
        if len(rows) != nnz or any(len(r) != rank + 1 for r in rows):
            raise FormatError(f"site {site + 1}: expected {nnz} rows of {rank} indices and a value")
        data = np.asarray(rows, dtype=np.float64).reshape(nnz, rank + 1)
        idx = data[:, :rank] - 1
        if np.any(idx != np.round(idx)) or idx.min(initial=0) < 0 or np.any(idx >= np.array(dims)):
            raise FormatError(f"site {site + 1}: index out of range (or not an integer) for dimensions {dims}")
        a = np.zeros(dims)
        a[tuple(idx.astype(np.int64).T)] = data[:, rank]
        if site == 0:  # (right, phys) → (1, phys, right)
            a = a.T[None]
        elif site == n - 1:  # (phys, left) → (left, phys, 1)
            a = a.T[:, :, None]
        else:  # (right, phys, left) → (left, phys, right)
            a = a.transpose(2, 1, 0)
        tensors.append(a)
    try:
        return MPS(tuple(tensors))
    except ValueError as e:
        raise FormatError(f"{index_path}: {e}") from None


def _npz_order(keys: list[str], path: Path) -> list[str]:
    """The arrays' names in site order: ``0 … N−1`` or ``arr_0 … arr_{N−1}``."""
    sites = [k.removeprefix("arr_") for k in keys]
    if not keys or not all(k.isdigit() for k in sites) or sorted(int(k) for k in sites) != list(range(len(keys))):
        raise FormatError(f"'{path}' is not an MPS .npz: its arrays must be named 0 … N−1 (or arr_0 …), "
                          f"got {', '.join(keys[:5]) or 'none'}")
    return [k for _, k in sorted(zip((int(k) for k in sites), keys))]


def _npz_header(z: np.lib.npyio.NpzFile, key: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one array of an open .npz, read from its header alone."""
    with z.zip.open(f"{key}.npy") as fp:
        version = np.lib.format.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise FormatError(f"'{path}' is not an MPS .npz: array {key} has .npy version {version}")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fp)
    if dtype.hasobject or dtype.kind not in "biufc":
        raise FormatError(f"'{path}' is not an MPS .npz: array {key} has dtype {dtype}; expected numbers (pickled "
                          "objects are never loaded)")
    return shape, dtype


def read_mps_npz(path: str | Path) -> MPS:
    """An MPS from an ``.npz`` of per-site arrays (left, physical, right); the arrays'
    sizes are read from their headers and checked against the available memory first,
    and nothing pickled is ever loaded."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = _npz_order(list(z.files), path)
            headers = [_npz_header(z, k, path) for k in keys]
            check_memory(sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers), f"the MPS in {path}")
            return MPS.from_arrays([z[k] for k in keys])
    except (FormatError, ResourceError):
        raise
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as e:  # TypeError: a bare .npy
        raise FormatError(f"'{path}' is not an MPS .npz: {str(e).splitlines()[0] or type(e).__name__}") from None
