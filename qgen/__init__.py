"""qgen: quantum state tomography with generative models.

The data flow: targets (:mod:`qgen.hamiltonians`, :mod:`qgen.groundstate`,
:mod:`qgen.states`, :mod:`qgen.targets`) → measurements (:mod:`qgen.povm`,
:mod:`qgen.sampling`) → datasets (:mod:`qgen.datasets`) → models (:mod:`qgen.models`,
:mod:`qgen.training`) → scores (:mod:`qgen.metrics`, :mod:`qgen.evaluation`,
:mod:`qgen.certificate`, :mod:`qgen.reports`).  Torch-based modules are imported on demand.

>>> import qgen
>>> ds = qgen.simulate(qgen.make_target("ghz", n=4), qgen.get_povm("pauli4"), 100, seed=0)
>>> ds.outcomes.shape
(100, 4)
"""

import os as _os

# Spinning OpenMP workers make torch 10–20× slower whenever the cores are shared with other
# processes (measured on 2 cores: 0.3 s → 1–5 s per RNN step); passive waiting costs little.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._version import __version__  # noqa: E402
from .datasets import Dataset, DatasetError, read_dataset, simulate, write_dataset  # noqa: E402
from .groundstate import GroundState, SpectralGap, excited_state, ground_state, spectral_gap  # noqa: E402
from .hamiltonians import Hamiltonian, heisenberg, tfim, tfim_2d, xxz  # noqa: E402
from .povm import POVM, get_povm, pauli4, pauli6, tetra, trine  # noqa: E402
from .sampling import log_prob, sample  # noqa: E402
from .states import MPS, DenseState, cluster, depolarize, ghz, product_state, w_state  # noqa: E402
from .targets import Target, make_target, target_from_hamiltonian  # noqa: E402

__all__ = [
    "__version__", "Dataset", "DatasetError", "read_dataset", "simulate", "write_dataset", "GroundState",
    "ground_state", "excited_state", "SpectralGap", "spectral_gap", "Hamiltonian", "heisenberg", "tfim",
    "tfim_2d", "xxz", "POVM", "get_povm", "pauli4", "pauli6", "tetra", "trine", "log_prob", "sample", "MPS",
    "DenseState", "cluster", "depolarize", "ghz", "product_state", "w_state", "Target", "make_target",
    "target_from_hamiltonian",
]
