"""Targets, the first stage of the data path: the state to measure and what is known
about it.

* :mod:`~qgen.targets.hamiltonians` (``Hamiltonian``: sums of Pauli strings) and
  :mod:`~qgen.targets.lattices` (``tfim``, ``tfim_2d``, ``xxz``, ``heisenberg``, ``heisenberg_2d``);
* :mod:`~qgen.targets.states` (``MPS``, ``DenseState``, local depolarizing noise) and
  :mod:`~qgen.targets.builders` (``ghz``, ``w_state``, ``cluster``, ``product_state``);
* :mod:`~qgen.targets.groundstate` (exact or DMRG ground states, gaps) on top of
  :mod:`~qgen.targets.solvers`;
* :mod:`~qgen.targets.target` (``Target``: a state with its Hamiltonian and certificate),
  :mod:`~qgen.targets.recipes` (targets by name, or from text specifications) and
  :mod:`~qgen.targets.files` (MPS files of other programs).

Example
-------
>>> from qgen.targets import make_target
>>> make_target("ghz", n=4).describe()
'ghz n=4 (MPS, max bond 2)'
"""

from __future__ import annotations

from .builders import cluster, ghz, product_state, random_mps, w_state
from .files import read_mps_npz, read_povm_genmodel_mps
from .groundstate import (
    AUTO_EXACT_MAX_QUBITS,
    SpectralGap,
    excited_state,
    ground_state,
    spectral_gap,
)
from .hamiltonians import PAULI, Hamiltonian
from .lattices import heisenberg, heisenberg_2d, snake_sites, tfim, tfim_2d, xxz
from .recipes import (
    RECIPES,
    SOLVER_PARAMS,
    Param,
    Recipe,
    make_target,
    parse_hamiltonian,
    parse_target,
    register_recipe,
)
from .solvers import GroundState
from .states import MPS, DenseState, State, depolarize, depolarize_ops
from .target import Target, ground_state_info, target_from_hamiltonian

__all__ = [
    "PAULI", "Hamiltonian", "heisenberg", "heisenberg_2d", "snake_sites", "tfim", "tfim_2d", "xxz", "MPS",
    "DenseState", "State", "depolarize", "depolarize_ops", "ghz", "w_state", "product_state", "cluster", "random_mps",
    "GroundState", "SpectralGap", "excited_state", "ground_state", "spectral_gap", "AUTO_EXACT_MAX_QUBITS", "Target",
    "ground_state_info", "target_from_hamiltonian", "RECIPES", "SOLVER_PARAMS", "Param", "Recipe", "register_recipe",
    "make_target", "parse_target", "parse_hamiltonian", "read_povm_genmodel_mps", "read_mps_npz"
]
