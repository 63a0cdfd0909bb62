"""Datasets, the third stage of the data path: outcome strings with their split, exact
ln P, target and provenance (:mod:`~qgen.datasets.dataset`), simulated
(:mod:`~qgen.datasets.simulation`), stored in self-describing HDF5
(:mod:`~qgen.datasets.hdf5`), or imported from lab records (:mod:`~qgen.datasets.records`,
on top of :mod:`~qgen.datasets.rows`).

Example
-------
>>> from qgen.datasets import simulate
>>> from qgen.measurements import pauli4
>>> from qgen.targets import make_target
>>> simulate(make_target("ghz", n=3), pauli4(), 100, seed=0).split
(80, 10, 10)
"""

from __future__ import annotations

from qgen.errors import FormatError

from .corrections import correct_readout, stored_confusions
from .dataset import Dataset, DatasetError, split_counts
from .hdf5 import (
    FORMAT,
    SCHEMA_VERSION,
    DatasetHeader,
    default_chunk_rows,
    read_dataset,
    read_header,
    read_samples,
    timestamp,
    write_dataset,
    write_parts,
    write_samples,
)
from .records import (
    RECORD_FORMATS,
    RESULT_VALUES,
    basis_balance,
    import_records,
    pauli_records_to_outcomes,
    read_onehot,
    read_outcome_indices,
    read_pauli_records,
)
from .simulation import attach_target, simulate, simulate_to_file

__all__ = [
    "correct_readout", "stored_confusions", "Dataset", "DatasetError", "split_counts", "simulate",
    "simulate_to_file", "attach_target", "DatasetHeader", "write_dataset", "read_dataset", "read_header",
    "write_samples", "read_samples", "write_parts", "default_chunk_rows", "timestamp", "SCHEMA_VERSION", "FORMAT",
    "RECORD_FORMATS", "RESULT_VALUES", "import_records", "read_outcome_indices", "read_onehot",
    "read_pauli_records", "pauli_records_to_outcomes", "basis_balance", "FormatError",
]
