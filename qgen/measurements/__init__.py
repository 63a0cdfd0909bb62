"""Measurements, the second stage of the data path: single-qubit POVMs
(:mod:`~qgen.measurements.povm`), exact contractions of products of local operators with a
state (:mod:`~qgen.measurements.contract`), and exact POVM sampling and ln P
(:mod:`~qgen.measurements.sampling`).

Example
-------
>>> from qgen.measurements import pauli4
>>> pauli4().n_outcomes
4
"""

from __future__ import annotations

from .contract import DENSE_TABLE_MAX, expect_products, operator_table
from .povm import POVM, POVM_NAMES, POVMError, get_povm, pauli4, pauli6, tetra, trine
from .sampling import BLOCK, BlockSampler, log_prob, probabilities, rank_one_pieces, sample

__all__ = ["POVM", "POVMError", "pauli4", "tetra", "pauli6", "trine", "get_povm", "POVM_NAMES",
    "expect_products", "operator_table", "DENSE_TABLE_MAX", "sample", "log_prob", "probabilities",
    "rank_one_pieces", "BlockSampler", "BLOCK"]
