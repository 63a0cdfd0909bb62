"""Qiskit results as qgen datasets: counts, per-shot memory, saved ``Result`` JSON and
qiskit-experiments ``StateTomography`` data become Pauli-6 strings (or Pauli-4 by the
exact coarse-graining of :mod:`qgen.readout`).

Conventions (Qiskit's and qgen's qubit orders differ; each input is read in its own):

* a **basis string** names one basis per qubit in qgen order, qubit 0 first: ``"XZY"``
  measures qubit 0 in X, qubit 1 in Z and qubit 2 in Y;
* a **bitstring** (a counts key or a memory entry) is Qiskit's: its rightmost character is
  classical bit 0, the result of qubit 0; spaces between registers are dropped;
  ``"0x…"`` keys are the integer Σ_i b_i 2^i; bit 0 means eigenvalue +1;
* a setting's shots are all outcomes of the basis named; measuring a uniformly random
  basis per qubit is the Pauli-6 POVM, so the settings must be balanced (every qubit in
  X, Y and Z equally often): :func:`qgen.importers.basis_balance` warns otherwise (in
  ``meta["warnings"]``).

Counts become per-shot strings in setting order and are then shuffled with ``seed``
(the train / validation / test split follows the order).  Every problem is a one-line
:class:`qgen.importers.FormatError`.  Only :func:`from_tomography` touches Qiskit
objects, and only through their attributes: nothing here imports Qiskit.

Example
-------
>>> ds = from_counts({"ZZ": {"00": 3, "11": 1}, "XX": {"0x0": 2, "0x3": 2}, "YY": {"01": 2, "10": 2}}, seed=0)
>>> ds.n_samples, ds.povm.name, sorted(map(tuple, ds.outcomes.tolist()))[:3]
(12, 'pauli6', [(0, 0), (0, 0), (0, 0)])
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qgen._version import __version__
from qgen.datasets.dataset import Dataset, split_counts
from qgen.datasets.hdf5 import timestamp
from qgen.datasets.records import basis_balance
from qgen.datasets.simulation import attach_target
from qgen.errors import FormatError
from qgen.measurements.povm import get_povm, pauli6
from qgen.measurements.readout import BASES, pauli_outcomes
from qgen.resources import check_memory
from qgen.targets.target import Target

__all__ = ["QISKIT_FORMATS", "pauli_dataset", "from_counts", "from_memory", "from_result", "from_tomography",
           "import_qiskit", "read_confusions"]

QISKIT_FORMATS = ("qiskit-counts", "qiskit-memory", "qiskit-result")


def pauli_dataset(bases: np.ndarray, bits: np.ndarray, *, povm: str = "pauli6", source: dict | None = None,
                  seed: int = 0, shuffle: bool = True, val_fraction: float = 0.1, test_fraction: float = 0.1,
                  target: Target | None = None, meta: dict | None = None) -> Dataset:
    """A dataset of Pauli measurements: ``bases`` (S, N) codes 0, 1, 2 = Z, X, Y and
    ``bits`` (S, N), mapped to ``povm`` outcomes (``pauli6`` or ``pauli4``,
    :func:`qgen.readout.pauli_outcomes`), shuffled with ``seed`` and split;
    ``meta["source"]`` is ``source`` and a basis-balance warning goes to
    ``meta["warnings"]``; ``target`` is attached with the exact ln P of every string."""
    if povm not in ("pauli6", "pauli4"):
        raise FormatError(f"Pauli measurements give pauli6 or pauli4 outcomes, not '{povm}'")
    x6 = pauli_outcomes(bases, bits, "pauli6")
    if not len(x6):
        raise FormatError("no shots to import")
    warning = basis_balance(x6, pauli6())
    x = x6 if povm == "pauli6" else pauli_outcomes(bases, bits, povm)
    split = split_counts(len(x), (val_fraction, test_fraction))
    if shuffle:
        x = x[np.random.default_rng(seed).permutation(len(x))]
    full = {"qgen_version": __version__, "created": timestamp(),
            "source": {"shots": len(x), **(source or {}), "shuffled": shuffle}}
    full |= meta or {}
    if warning:
        full["warnings"] = [warning]
    ds = Dataset(x, get_povm(povm), split, np.full(len(x), np.nan), None, seed if shuffle else None, full)
    return ds if target is None else attach_target(ds, target)


def _basis_codes(basis: str, n: int | None, where: str) -> np.ndarray:
    codes = np.array([BASES.find(c) for c in str(basis).upper()])
    if not len(codes) or (codes < 0).any():
        raise FormatError(f"{where}: basis string '{str(basis)[:40]}' must be letters X, Y, Z (qubit 0 first)")
    if n is not None and len(codes) != n:
        raise FormatError(f"{where}: basis string '{basis}' names {len(codes)} qubits, others {n}")
    return codes


def _key_bits(keys: Sequence[str], n_bits: int, where: str) -> np.ndarray:
    """Bits (len(keys), n_bits) of Qiskit bitstrings or hex keys, column i = classical bit i."""
    out = np.zeros((len(keys), n_bits), dtype=np.uint8)
    for row, key in enumerate(keys):
        k = str(key).replace(" ", "")
        if k[:2].lower() == "0x":
            try:
                v = int(k, 16)
            except ValueError:
                v = -1
            if not 0 <= v < 2**n_bits:
                raise FormatError(f"{where}: key '{key}' is not a hex value of {n_bits} bits")
            out[row] = [(v >> i) & 1 for i in range(n_bits)]
        elif len(k) == n_bits and set(k) <= {"0", "1"}:
            out[row] = np.frombuffer(k[::-1].encode(), dtype=np.uint8) - ord("0")
        else:
            raise FormatError(f"{where}: key '{str(key)[:40]}' is not a bitstring of {n_bits} bits "
                              "or a hex '0x…' value")
    return out


def _setting_shots(keys: Sequence[str], counts: Sequence, n_bits: int, clbits: Sequence[int] | None,
                   where: str) -> np.ndarray:
    """Per-shot bits (S, N) of one setting's distinct keys and their counts, restricted to ``clbits``."""
    c = np.asarray(counts)
    if c.ndim != 1 or (c.size and (c.dtype.kind not in "iu" or c.min() < 0)):
        raise FormatError(f"{where}: counts must be non-negative integers")
    check_memory(4 * int(c.sum()) * n_bits, f"{where}: {int(c.sum()):,} shots × {n_bits} bits")
    bits = _key_bits(keys, n_bits, where)
    if clbits is not None:
        bits = bits[:, list(clbits)]
    return np.repeat(bits, c, axis=0)


def _assemble(settings: list[tuple[np.ndarray, np.ndarray]], source: dict, **options: Any) -> Dataset:
    """One dataset from (basis codes (N,), bits (S_j, N)) per setting."""
    total = sum(len(b) for _, b in settings)
    n = len(settings[0][0])
    check_memory(4 * total * n, f"importing {total:,} shots × {n} qubits")
    bases = np.concatenate([np.broadcast_to(code, bits.shape) for code, bits in settings])
    bits = np.concatenate([b for _, b in settings])
    return pauli_dataset(bases, bits, source={**source, "shots": int(total), "settings": len(settings)}, **options)


def _settings_of(mapping: object, what: str) -> list:
    if not isinstance(mapping, Mapping) or not mapping:
        raise FormatError(f"{what} must be a non-empty mapping {{basis string: …}}")
    return list(mapping.items())


def from_counts(counts: Mapping[str, Mapping[str, int]], *, source: dict | None = None, **options: Any) -> Dataset:
    """A dataset from counts per setting, ``{basis string: {bitstring: count}}`` (module
    docstring); ``options`` as in :func:`pauli_dataset` (povm, seed, shuffle,
    val_fraction, test_fraction, target)."""
    n = None
    settings = []
    for basis, table in _settings_of(counts, "counts"):
        code = _basis_codes(basis, n, "counts")
        n = len(code)
        if not isinstance(table, Mapping):
            raise FormatError(f"counts of setting '{basis}' must be a mapping {{bitstring: count}}")
        settings.append((code, _setting_shots(list(table), list(table.values()), n, None, f"setting '{basis}'")))
    return _assemble(settings, {"format": "qiskit-counts", **(source or {})}, **options)


def from_memory(memory: Mapping[str, Sequence[str]], *, source: dict | None = None, **options: Any) -> Dataset:
    """A dataset from per-shot memory per setting, ``{basis string: [bitstring, …]}``
    (Qiskit's ``memory=True`` results; binary or hex entries); as :func:`from_counts`."""
    n = None
    settings = []
    for basis, shots in _settings_of(memory, "memory"):
        code = _basis_codes(basis, n, "memory")
        n = len(code)
        if isinstance(shots, (str, bytes)) or not isinstance(shots, Sequence):
            raise FormatError(f"memory of setting '{basis}' must be a list of bitstrings")
        keys, inverse = np.unique(np.asarray(shots, dtype=str), return_inverse=True)
        settings.append((code, _key_bits(list(keys), n, f"setting '{basis}'")[inverse.ravel()]))
    return _assemble(settings, {"format": "qiskit-memory", **(source or {})}, **options)


def _experiment_basis(meta: dict, given: Sequence[str] | None, j: int, where: str) -> str:
    if given is not None:
        return given[j]
    if isinstance(meta.get("basis"), str):
        return meta["basis"]
    if isinstance(meta.get("m_idx"), list):  # qiskit-experiments: PauliMeasurementBasis indices 0, 1, 2 = Z, X, Y
        if not all(isinstance(i, int) and 0 <= i <= 2 for i in meta["m_idx"]):
            raise FormatError(f"{where}: metadata m_idx {meta['m_idx']} is not a list of Pauli basis indices 0–2")
        return "".join(BASES[i] for i in meta["m_idx"])
    raise FormatError(f"{where}: no basis in its metadata ('basis' or 'm_idx'); give the bases")


def from_result(result: Mapping | str | os.PathLike, *, bases: Sequence[str] | None = None,
                **options: Any) -> Dataset:
    """A dataset from a Qiskit ``Result`` (``Result.to_dict()``, or a JSON file of it):
    each experiment is one setting, its basis taken from ``header.metadata`` (``basis``:
    a basis string, or qiskit-experiments' ``m_idx``) unless ``bases`` gives one per
    experiment; per-shot ``memory`` is used when present, else ``counts``.  The
    metadata's ``clbits`` (qiskit-experiments) pick the measured bits; otherwise every
    memory slot is a qubit."""
    where = "result"
    if isinstance(result, (str, os.PathLike)):
        where = str(result)
        result = _load_json(result)
    runs = result.get("results") if isinstance(result, Mapping) else None
    if not isinstance(runs, list) or not runs:
        raise FormatError(f"{where}: not a Qiskit Result (no 'results' list)")
    if bases is not None and len(bases) != len(runs):
        raise FormatError(f"{where}: {len(bases)} bases given for {len(runs)} experiments")
    settings, n = [], None
    for j, exp in enumerate(runs):
        at = f"{where}, experiment {j}"
        header = exp.get("header") or {} if isinstance(exp, Mapping) else None
        data = exp.get("data") if isinstance(exp, Mapping) else None
        if not isinstance(header, Mapping) or not isinstance(data, Mapping):
            raise FormatError(f"{at}: no 'header' and 'data'")
        meta = header.get("metadata") or {}
        code = _basis_codes(_experiment_basis(meta, bases, j, at), n, at)
        n = len(code)
        slots = header.get("memory_slots") or sum(s for _, s in header.get("creg_sizes", [])) or n
        clbits = meta.get("clbits")
        if clbits is None and slots != n:
            raise FormatError(f"{at}: {slots} memory slots for {n} measured qubits (no 'clbits' metadata)")
        if "memory" in data:
            keys, inverse = np.unique(np.asarray(data["memory"], dtype=str), return_inverse=True)
            bits = _setting_shots(list(keys), np.ones(len(keys), int), slots, clbits, at)[inverse.ravel()]
        elif isinstance(data.get("counts"), Mapping):
            bits = _setting_shots(list(data["counts"]), list(data["counts"].values()), slots, clbits, at)
        else:
            raise FormatError(f"{at}: no 'counts' or 'memory' data")
        settings.append((code, bits))
    return _assemble(settings, {"format": "qiskit-result", "file": where}, **options)


def from_tomography(expdata: Any, **options: Any) -> Dataset:  # a qiskit_experiments ExperimentData
    """A dataset from qiskit-experiments ``StateTomography`` data (an
    ``ExperimentData``): per circuit, its counts and its measurement-basis metadata
    (``m_idx``, Pauli basis indices 0, 1, 2 = Z, X, Y of the measured qubits in order;
    ``clbits``, the tomography bits).  Qubit k of the dataset is the k-th measured qubit
    (``measurement_indices``, all qubits by default).  Preparation bases (process
    tomography) are refused."""
    try:
        records = expdata.data()
    except AttributeError:
        raise FormatError(f"expected a qiskit-experiments ExperimentData, got {type(expdata).__name__}") from None
    if not records:
        raise FormatError("the experiment data hold no circuit results (did the job finish?)")
    settings, n = [], None
    for j, rec in enumerate(records):
        at = f"tomography circuit {j}"
        meta = rec.get("metadata") or {}
        if "p_idx" in meta:
            raise FormatError(f"{at}: has preparation bases (process tomography); only state tomography is read")
        code = _basis_codes(_experiment_basis(meta, None, j, at), n, at)
        n = len(code)
        counts = rec.get("counts")
        if not isinstance(counts, Mapping) or not counts:
            raise FormatError(f"{at}: no counts")
        first, clbits = str(next(iter(counts))).replace(" ", ""), meta.get("clbits")
        width = len(first) if first[:2] != "0x" else max(clbits or [n - 1]) + 1
        settings.append((code, _setting_shots(list(counts), list(counts.values()), width, clbits, at)))
    source = {"format": "qiskit-experiments StateTomography", "experiment_id": getattr(expdata, "experiment_id", None),
              "measured_qubits": (getattr(expdata, "metadata", None) or {}).get("m_qubits")}
    return _assemble(settings, source, **options)


def _load_json(path: str | os.PathLike):
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"'{path}' not found")
    check_memory(20 * path.stat().st_size, f"reading the JSON file '{path}'")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: not a readable JSON file ({str(e).splitlines()[0]})") from None


def import_qiskit(path: str | os.PathLike, format: str, **options: Any) -> Dataset:
    """A dataset from a JSON file: ``qiskit-counts`` (``{basis string: {bitstring:
    count}}``), ``qiskit-memory`` (``{basis string: [bitstring, …]}``) or
    ``qiskit-result`` (``Result.to_dict()``, see :func:`from_result`); ``options`` as in
    :func:`pauli_dataset` (and ``bases`` for results)."""
    if format not in QISKIT_FORMATS:
        raise FormatError(f"unknown Qiskit format '{format}'; choose one of {', '.join(QISKIT_FORMATS)}")
    if format == "qiskit-result":
        return from_result(path, **options)
    source = {"file": str(Path(path).resolve())}
    read = from_counts if format == "qiskit-counts" else from_memory
    return read(_load_json(path), source=source, **options)


def read_confusions(path: str | os.PathLike) -> np.ndarray:
    """Per-qubit readout confusion matrices from a JSON file: a list, qubit 0 first, of
    [[p(0|0), p(0|1)], [p(1|0), p(1|1)]] (rows: the bit read, columns: the bit prepared)."""
    try:
        c = np.asarray(_load_json(path), dtype=float)
    except (TypeError, ValueError):
        raise FormatError(f"{path}: expected a list of 2×2 confusion matrices of numbers") from None
    if c.ndim != 3 or c.shape[1:] != (2, 2) or not np.all(np.isfinite(c)) or np.any(c < 0) \
            or not np.allclose(c.sum(axis=1), 1, atol=1e-6):
        raise FormatError(f"{path}: expected a list of 2×2 confusion matrices whose columns sum to 1")
    return c
