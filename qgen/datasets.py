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
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ._io import atomic_write
from ._version import __version__
from .hamiltonians import Hamiltonian
from .povm import POVM, POVMError
from .sampling import log_prob as exact_log_prob
from .sampling import sample
from .states import MPS, DenseState
from .targets import Target

__all__ = [
    "Dataset", "DatasetError", "simulate", "attach_target", "write_dataset", "read_dataset", "write_samples",
    "read_samples", "SCHEMA_VERSION",
    # re-exported from qgen.importers (loaded on first use, see __getattr__)
    "import_records", "read_outcome_indices", "read_onehot", "read_pauli_records", "pauli_records_to_outcomes",
    "parse_target", "FormatError", "RECORD_FORMATS",
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
        split = tuple(int(s) for s in self.split)
        if len(split) != 3 or min(split) < 0 or sum(split) != o.shape[0] or split[0] == 0:
            raise DatasetError(f"split {split} must be 3 non-negative counts (train > 0) summing to {o.shape[0]}")
        self.split = split
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
    χ ≈ 19).
    """
    n_samples = int(n_samples)
    if n_samples < 1:
        raise DatasetError(f"number of samples must be ≥ 1, got {n_samples}")
    split = split_counts(n_samples, (val_fraction, test_fraction))
    outcomes = sample(target.state, povm, n_samples, seed=seed, workers=workers, progress=progress)
    lp = np.full(n_samples, np.nan)
    start = 0 if train_log_prob else split[0]
    lp[start:] = exact_log_prob(target.state, povm, outcomes[start:], workers=workers, progress=progress)
    return Dataset(outcomes, povm, split, lp, target, seed, {"qgen_version": __version__, "created": _now()})


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


def write_dataset(ds: Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to an HDF5 file atomically (schema above)."""

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(
                format=FORMAT,
                schema_version=SCHEMA_VERSION,
                qgen_version=ds.meta.get("qgen_version", __version__),
                created=ds.meta.get("created", _now()),
                seed=-1 if ds.seed is None else int(ds.seed),
                n_qubits=ds.n_qubits,
                n_outcomes=ds.povm.n_outcomes,
                split=np.array(ds.split, dtype=np.int64),
                meta=json.dumps(ds.meta),
            )
            chunk = (min(ds.n_samples, max(1, 2**20 // ds.n_qubits)), ds.n_qubits)
            f.create_dataset("outcomes", data=ds.outcomes, chunks=chunk, compression="gzip", shuffle=True)
            lp = ds.log_prob if ds.log_prob is not None else np.full(ds.n_samples, np.nan)
            f.create_dataset("log_prob", data=lp, chunks=(chunk[0],), compression="gzip")
            g = f.create_group("povm")
            g.attrs["name"] = ds.povm.name
            g.create_dataset("elements", data=ds.povm.elements)
            if ds.target is not None:
                _write_target(f.create_group("target"), ds.target)

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


def read_dataset(path: str | os.PathLike, *, load_target: bool = True) -> Dataset:
    """Read and validate a dataset file; raises :class:`DatasetError` with one line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset file '{path}' not found")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise DatasetError(f"'{path}' is not a readable HDF5 file (truncated or corrupt?)") from None
    try:
        with f:
            if f.attrs.get("format") != FORMAT:
                raise DatasetError(f"'{path}' is not a qgen dataset (no format='{FORMAT}' attribute)")
            version = int(f.attrs.get("schema_version", -1))
            if version != SCHEMA_VERSION:
                raise DatasetError(f"'{path}' has schema version {version}; this qgen reads version {SCHEMA_VERSION}")
            for key in ("outcomes", "log_prob", "povm/elements"):
                if key not in f:
                    raise DatasetError(f"'{path}' lacks the '{key}' field")
            outcomes = f["outcomes"]
            if outcomes.dtype != np.uint8 or outcomes.ndim != 2:
                raise DatasetError(f"'{path}': outcomes must be uint8 (n, N), got {outcomes.dtype} {outcomes.shape}")
            if int(f.attrs.get("n_qubits", -1)) != outcomes.shape[1]:
                raise DatasetError(f"'{path}': n_qubits attribute disagrees with the outcomes' shape")
            povm = POVM(str(f["povm"].attrs.get("name", "custom")), f["povm/elements"][()])
            if int(f.attrs.get("n_outcomes", -1)) != povm.n_outcomes:
                raise DatasetError(f"'{path}': n_outcomes attribute disagrees with the POVM")
            seed = int(f.attrs.get("seed", -1))
            target = _read_target(f["target"]) if (load_target and "target" in f) else None
            return Dataset(
                outcomes[()],
                povm,
                tuple(np.asarray(f.attrs.get("split", [])).tolist()),
                f["log_prob"][()],
                target,
                None if seed < 0 else seed,
                _json_attr(f, "meta") or {},
            )
    except DatasetError as e:
        raise DatasetError(str(e).replace("\n", " ")) from None
    except (POVMError, ValueError, KeyError, OSError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DatasetError(f"'{path}' is invalid: {msg}") from None


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
    """The record importers of :mod:`qgen.importers`, re-exported here lazily (that
    module builds on this one, so importing it at load time would be circular)."""
    if name in _IMPORTER_NAMES:
        from . import importers

        return getattr(importers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
