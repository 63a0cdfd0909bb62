"""Readout errors folded into a dataset's measurement: the data stay as recorded, the POVM
they are outcomes of becomes the device's effective one, so every model and score learns
and judges the state before readout.

With per-qubit confusion matrices C^{(i)}[observed, prepared] (columns sum to 1), an
outcome recorded as a on qubit i has the effective POVM element
M'^{(i)}_a = Σ_b C^{(i)}_{ab} M_b (:func:`qgen.measurements.readout.readout_povm`), so
P(a) = Tr[(M'^{(0)}_{a_0} ⊗ … ⊗ M'^{(N−1)}_{a_{N−1}}) ρ] is the distribution of the recorded
strings when the state before readout is ρ.  The matrices come from calibration circuits
(``qgen measure --calibrate``), a backend's reported readout errors, or the user.

Example
-------
>>> from qgen.datasets import simulate
>>> from qgen.measurements import pauli6
>>> from qgen.measurements.readout import confusion_matrices
>>> from qgen.targets import make_target
>>> ds = simulate(make_target("ghz", n=3), pauli6(), 600, seed=0)
>>> fixed = correct_readout(ds, confusion_matrices([0.02, 0.05, 0.01], [0.04, 0.03, 0.02]))
>>> fixed.povm.name, fixed.povm.elements.shape, fixed.meta["readout"]["applied"]
('pauli6+readout', (3, 6, 2, 2), 'given')
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qgen.datasets.dataset import Dataset, DatasetError
from qgen.datasets.simulation import attach_target
from qgen.measurements.povm import POVM
from qgen.measurements.readout import readout_povm

__all__ = ["correct_readout", "stored_confusions"]


def stored_confusions(ds: Dataset, which: str) -> np.ndarray:
    """The confusion matrices stored with a device dataset (``meta["readout"]``):
    ``"calibrated"`` (from calibration circuits) or ``"reported"`` (the backend's)."""
    readout = ds.meta.get("readout") or {}
    entry = readout if which == "calibrated" else readout.get(which)
    if not isinstance(entry, dict) or "confusion" not in entry:
        raise DatasetError(f"the dataset stores no {which} readout confusion matrices")
    return np.asarray(entry["confusion"], dtype=float)


def correct_readout(ds: Dataset, confusions: np.ndarray, *, source: str = "given") -> Dataset:
    """``ds`` with its POVM replaced by the per-qubit effective POVM under readout errors
    ``confusions`` (N, 2, 2), and the exact ln P of its strings recomputed when a target is
    attached.  The POVM must be the ideal Pauli-6 or Pauli-4 one (a one-line error for a
    dataset already corrected)."""
    if ds.povm.per_qubit:
        raise DatasetError(f"the dataset's POVM '{ds.povm.name}' is already per qubit (readout already folded in?)")
    c = np.asarray(confusions, dtype=float)
    if c.shape != (ds.n_qubits, 2, 2):
        raise DatasetError(f"need one 2×2 confusion matrix per qubit, ({ds.n_qubits}, 2, 2), got {c.shape}")
    povm = POVM(f"{ds.povm.name}+readout", readout_povm(ds.povm, c))
    readout = dict(ds.meta.get("readout") or {}) | {"applied": source, "ideal_povm": ds.povm.name,
                                                   "applied_confusion": c.tolist()}
    out = replace(ds, povm=povm, log_prob=None, meta=ds.meta | {"readout": readout})
    return out if ds.target is None else attach_target(out, ds.target)
