"""qgen: quantum state tomography with generative models.

The data flow, one subpackage per stage: :mod:`qgen.targets` (what state) →
:mod:`qgen.measurements` (POVMs, exact sampling and ln P) → :mod:`qgen.datasets` (HDF5,
simulation, lab records) → :mod:`qgen.models` (generative backends) → :mod:`qgen.training`
(the loop) → :mod:`qgen.scores` (fidelities, observables, certificate) →
:mod:`qgen.workflows` (evaluate, compare, sweep, reports).  Torch-based modules are
imported on demand.

>>> import qgen
>>> ds = qgen.simulate(qgen.make_target("ghz", n=4), qgen.get_povm("pauli4"), 100, seed=0)
>>> ds.outcomes.shape
(100, 4)
"""

import os as _os

# Spinning OpenMP workers make torch 10–20× slower whenever the cores are shared with other
# processes (measured on 2 cores: 0.3 s → 1–5 s per RNN step); passive waiting costs little.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import importlib as _importlib  # noqa: E402
import importlib.util as _importlib_util  # noqa: E402

from . import _moved  # noqa: E402,F401  (old import paths of moved modules)
from ._version import __version__  # noqa: E402

# Public names, imported from their module on first use (PEP 562), so that ``import qgen``
# and the ``qgen`` command's start stay light.
_EXPORTS = {
    "datasets": ["Dataset", "DatasetError", "read_dataset", "simulate", "write_dataset"],
    "targets": ["GroundState", "SpectralGap", "excited_state", "ground_state", "spectral_gap", "Hamiltonian",
                "heisenberg", "heisenberg_2d", "tfim", "tfim_2d", "xxz", "MPS", "DenseState",
                "cluster", "depolarize", "ghz",
                "product_state", "w_state", "Target", "make_target", "target_from_hamiltonian"],
    "measurements": ["POVM", "get_povm", "pauli4", "pauli6", "tetra", "trine", "log_prob", "sample"],
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(_importlib.import_module(f".{_HOME[name]}", __name__), name)
    elif _importlib_util.find_spec(f"{__name__}.{name}") is not None:  # a submodule: qgen.scores
        value = _importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'qgen' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})


__all__ = [
    "__version__", "Dataset", "DatasetError", "read_dataset", "simulate", "write_dataset", "GroundState",
    "ground_state", "excited_state", "SpectralGap", "spectral_gap", "Hamiltonian", "heisenberg", "heisenberg_2d",
    "tfim", "tfim_2d", "xxz", "POVM", "get_povm", "pauli4", "pauli6", "tetra", "trine", "log_prob", "sample", "MPS",
    "DenseState", "cluster", "depolarize", "ghz", "product_state", "w_state", "Target", "make_target",
    "target_from_hamiltonian",
]
