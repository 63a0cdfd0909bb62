"""Readers for states stored in other programs' formats.

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

from pathlib import Path

import numpy as np

from .states import MPS

__all__ = ["read_povm_genmodel_mps", "read_mps_npz", "FormatError"]


class FormatError(ValueError):
    """A file that cannot be read as the stated format; the message is one line."""


def _floats(line: str, where: str) -> list[float]:
    try:
        return [float(v) for v in line.split()]
    except ValueError:
        raise FormatError(f"{where}: not a list of numbers: '{line.strip()[:60]}'") from None


def read_povm_genmodel_mps(index_path: str | Path, tensor_path: str | Path) -> MPS:
    """Read the POVM_GENMODEL ``index.txt`` / ``tensor.txt`` pair into an :class:`MPS`."""
    index_path, tensor_path = Path(index_path), Path(tensor_path)
    for p in (index_path, tensor_path):
        if not p.is_file():
            raise FormatError(f"'{p}' not found")
    heads = [_floats(l, f"{index_path}:{i + 1}") for i, l in enumerate(index_path.read_text().splitlines())
             if l.strip()]
    blocks, current = [], []
    for i, line in enumerate(tensor_path.read_text().splitlines()):
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
    tensors = []
    for site, (head, rows) in enumerate(zip(heads, blocks)):
        rank, nnz, dims = int(head[0]), int(head[1]), tuple(int(d) for d in head[2:])
        expected_rank = 2 if site in (0, n - 1) else 3
        if rank != expected_rank or len(dims) != rank:
            raise FormatError(f"site {site + 1}: rank {rank} with dimensions {dims}, expected rank {expected_rank}")
        if len(rows) != nnz or any(len(r) != rank + 1 for r in rows):
            raise FormatError(f"site {site + 1}: expected {nnz} rows of {rank} indices and a value")
        data = np.asarray(rows)
        idx = data[:, :rank].astype(int) - 1
        if idx.min() < 0 or np.any(idx >= np.array(dims)):
            raise FormatError(f"site {site + 1}: index out of range for dimensions {dims}")
        a = np.zeros(dims)
        a[tuple(idx.T)] = data[:, rank]
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


def read_mps_npz(path: str | Path) -> MPS:
    """An MPS from an ``.npz`` of per-site arrays (left, physical, right)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = sorted(z.files, key=lambda k: int(k.removeprefix("arr_")))
            return MPS.from_arrays([z[k] for k in keys])
    except (OSError, ValueError) as e:
        raise FormatError(f"'{path}' is not an MPS .npz: {str(e).splitlines()[0]}") from None
