"""The in-memory dataset: POVM outcome strings with their train/validation/test split,
exact ln P where known, the target (if any), provenance, and which readouts are missing
or imputed.

A readout that failed (a qubit not measured on some shot) is marked in ``missing``, a
bool (n_samples, N) array, True where the outcome is unknown; the outcome stored there
is 0 and means nothing (every consumer must read the mask).  ``missing`` is None when
every readout is present.  Exact ln P of an incomplete string is the marginal over its
missing qubits (:func:`qgen.datasets.attach_target`).  ``imputed`` (same layout) marks
outcomes that a model drew to fill missing readouts (:mod:`qgen.workflows.imputation`):
they are present but were not measured.

Example
-------
>>> from qgen.measurements import pauli4
>>> ds = Dataset(np.zeros((10, 3), np.uint8), pauli4(), split_counts(10, (0.2, 0.1)))
>>> ds.split, ds.train.shape
((7, 2, 1), (7, 3))
>>> holes = np.zeros((10, 3), bool); holes[0, 1] = holes[4, 1] = True
>>> Dataset(ds.outcomes, ds.povm, ds.split, missing=holes).missing_per_qubit().tolist()
[0, 2, 0]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from qgen.measurements.povm import POVM
from qgen.targets.target import Target

__all__ = ["Dataset", "DatasetError", "split_counts"]


class DatasetError(ValueError):
    """A dataset file or request that cannot be used; the message is one line."""


@dataclass(eq=False)
class Dataset:
    """POVM outcome strings with their provenance.

    ``outcomes[:n_train]`` is the training split, then validation, then test.
    ``log_prob`` holds the exact ln P(a) (NaN where not computed; the marginal over the
    missing qubits of an incomplete string); ``target`` is None for measured data whose
    state is not known; ``missing`` marks the missing readouts (see the module doc).
    """

    outcomes: np.ndarray
    povm: POVM
    split: tuple[int, int, int]
    log_prob: np.ndarray | None = None
    target: Target | None = None
    seed: int | None = None
    meta: dict = field(default_factory=dict)
    missing: np.ndarray | None = None
    imputed: np.ndarray | None = None

    def __post_init__(self) -> None:
        o = np.asarray(self.outcomes)
        if o.ndim != 2 or o.shape[0] == 0 or o.shape[1] == 0:
            raise DatasetError(f"outcomes must be a non-empty (n_samples, n_qubits) array, got shape {o.shape}")
        if not np.issubdtype(o.dtype, np.integer):
            raise DatasetError(f"outcomes must be integers, got {o.dtype}")
        if self.missing is not None:
            m = np.asarray(self.missing)
            if m.dtype != bool or m.shape != o.shape:
                raise DatasetError(f"missing must be a bool array of the outcomes' shape {o.shape}, got {m.dtype} "
                                   f"{m.shape}")
            if np.any(o[m] != 0):  # the value under a missing readout means nothing: stored as 0
                o = np.where(m, 0, o)
            self.missing = m if m.any() else None
        if self.imputed is not None:
            m = np.asarray(self.imputed)
            if m.dtype != bool or m.shape != o.shape:
                raise DatasetError(f"imputed must be a bool array of the outcomes' shape {o.shape}, got {m.dtype} "
                                   f"{m.shape}")
            if self.missing is not None and np.any(m & self.missing):
                raise DatasetError("a readout cannot be both missing and imputed")
            self.imputed = m if m.any() else None
        if o.min() < 0 or o.max() >= self.povm.n_outcomes:
            raise DatasetError(f"outcomes must lie in [0, {self.povm.n_outcomes - 1}] for POVM '{self.povm.name}'")
        if self.povm.per_qubit and self.povm.n_sites != o.shape[1]:
            raise DatasetError(f"POVM '{self.povm.name}' has elements for {self.povm.n_sites} qubits, the outcomes "
                               f"{o.shape[1]}")
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
    def measured(self) -> bool:
        """True when the outcomes were recorded (imported or measured on a device:
        ``meta["source"]`` says from where), not simulated from the target: strings the
        target cannot produce are then the noise being measured."""
        return "source" in self.meta

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

    def split_missing(self, name: str) -> np.ndarray | None:
        """The missing-readout mask of the 'train', 'val' or 'test' split (None if complete)."""
        if self.missing is None:
            return None
        m = self.missing[self._part(("train", "val", "test").index(name))]
        return m if m.any() else None

    def masked(self, name: str) -> np.ndarray:
        """The 'train', 'val' or 'test' strings, a ``numpy.ma.MaskedArray`` masked at the
        missing readouts when the split has any (what ``qgen.training.train`` takes)."""
        x = self.outcomes[self._part(("train", "val", "test").index(name))]
        m = self.split_missing(name)
        return x if m is None else np.ma.MaskedArray(x, m)

    def missing_per_qubit(self) -> np.ndarray:
        """Missing readouts of each qubit, int64 (N,)."""
        return np.zeros(self.n_qubits, np.int64) if self.missing is None else self.missing.sum(axis=0)

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
        if self.missing is not None:
            per = self.missing_per_qubit()
            lines.append(f"missing   {per.sum():,} readouts ({per.sum() / self.missing.size:.2%}) in "
                         f"{int(self.missing.any(axis=1).sum()):,} shots; per qubit "
                         + ", ".join(f"{int(c):,}" for c in per))
        if self.imputed is not None:
            lines.append(f"imputed   {int(self.imputed.sum()):,} readouts are model draws, not measurements "
                         f"(meta 'imputed')")
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
            i = t.info
            if "energy" in i:  # a ground state's certificate
                lines.append(
                    f"energy    {i['energy']:.12g} (variance {i['variance']:.2g}, {i['method']}"
                    + (f", bond {i['bond_dim']}, truncation {i['truncation_error']:.2g}" if i.get("bond_dim") else "")
                    + ")"
                )
            elif i:  # e.g. a circuit's simulation
                shown = (f"{k}={v}" for k, v in i.items() if not isinstance(v, (dict, list)))
                lines.append("info      " + ", ".join(shown))
            if t.hamiltonian is not None and not t.info:
                h = t.hamiltonian
                lines.append(f"hamilt.   {h.name} " + ", ".join(f"{k}={v}" for k, v in h.params.items()))
        lines.append(f"seed      {self.seed}" if self.seed is not None else "seed      none")
        for k in ("qgen_version", "created", "source"):
            if k in self.meta:
                v = self.meta[k]
                if isinstance(v, dict) and "file" in v:  # an import's provenance
                    v = (f"{v.get('file')} ({v.get('format')}, {v.get('shots')} shots, "
                         f"{'shuffled' if v.get('shuffled') else 'file order'})")
                elif isinstance(v, dict):  # a device run's
                    v = ", ".join(f"{key}={val}" for key, val in v.items() if not isinstance(val, (dict, list)))
                lines.append(f"{k:<9} {v}")
        lines += [f"warning   {w}" for w in self.meta.get("warnings", [])]
        return "\n".join(lines)


def _check_split(split: Iterable[int], n: int) -> tuple[int, int, int]:
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
