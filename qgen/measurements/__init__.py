"""Measurements, the second stage of the data path: single-qubit POVMs, the same on every
qubit or one per qubit (:mod:`~qgen.measurements.povm`), a device's readout errors folded
into them (:mod:`~qgen.measurements.readout`), exact contractions of products of local
operators with a state (:mod:`~qgen.measurements.contract`), exact POVM sampling and ln P
(:mod:`~qgen.measurements.sampling`), and the frame maps between density matrices and
outcome tables (:mod:`~qgen.measurements.frames`).

Example
-------
>>> from qgen.measurements import pauli4
>>> pauli4().n_outcomes
4
"""

from __future__ import annotations

from .contract import DENSE_TABLE_MAX, expect_products, operator_table
from .frames import (
    StringFrame,
    density_from_pauli,
    outcome_probabilities,
    pauli_coefficients,
    reconstruct_density_matrix,
)
from .povm import POVM, POVM_NAMES, POVMError, get_povm, pauli4, pauli6, tetra, trine
from .readout import confusion_matrices, readout_povm
from .sampling import BLOCK, BlockSampler, log_prob, probabilities, rank_one_pieces, sample

__all__ = [
    "POVM", "POVMError", "pauli4", "tetra", "pauli6", "trine", "get_povm", "POVM_NAMES", "expect_products",
    "operator_table", "DENSE_TABLE_MAX", "sample", "log_prob", "probabilities", "rank_one_pieces", "BlockSampler",
    "BLOCK", "StringFrame", "density_from_pauli", "outcome_probabilities", "pauli_coefficients",
    "reconstruct_density_matrix", "confusion_matrices", "readout_povm",
]
