"""Old import paths of modules that moved into subpackages, kept working with a warning.

Until version 0.x qgen was flat (``qgen.metrics``, ``qgen.povm``, …); its modules now live
along the data path (:mod:`qgen.targets`, :mod:`qgen.measurements`, :mod:`qgen.datasets`,
:mod:`qgen.models`, :mod:`qgen.training`, :mod:`qgen.scores`, :mod:`qgen.workflows`).
Importing an old path gives a module that forwards every attribute to the new home(s)
and warns once (``FutureWarning``), as quimb did when its 1-D tensor modules moved into
``tn1d/``.  The table :data:`MOVED` is the only record of the old layout.

Example
-------
>>> import sys, warnings
>>> _ = sys.modules.pop("qgen.metrics", None)   # as on a first import
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     from qgen.metrics import classical_fidelity
>>> classical_fidelity.__module__, caught[0].category.__name__
('qgen.scores.distribution', 'FutureWarning')
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from typing import Any

__all__ = ["MOVED"]

MOVED: dict[str, tuple[str, ...]] = {
    "qgen.hamiltonians": ("qgen.targets.hamiltonians", "qgen.targets.lattices"),
    "qgen.states": ("qgen.targets.states", "qgen.targets.builders"),
    "qgen.groundstate": ("qgen.targets.groundstate", "qgen.targets.solvers"),
    "qgen.povm": ("qgen.measurements.povm", "qgen.targets.hamiltonians"),
    "qgen.contract": ("qgen.measurements.contract",),
    "qgen.sampling": ("qgen.measurements.sampling",),
    "qgen.importers": ("qgen.datasets.records", "qgen.datasets.rows", "qgen.targets.recipes",
                       "qgen.targets.files", "qgen.errors"),
    "qgen.metrics": ("qgen.scores.distribution", "qgen.scores.fidelity", "qgen.scores.observables",
                     "qgen.scores.enumeration", "qgen.measurements.frames"),
    "qgen.certificate": ("qgen.scores.certificates",),
    "qgen.streaming": ("qgen.training.streaming",),
    "qgen.distributed": ("qgen.training.distributed",),
    "qgen.threads": ("qgen.training.threads",),
    "qgen.evaluation": ("qgen.workflows.evaluation",),
    "qgen.compare": ("qgen.workflows.comparison",),
    "qgen.sweep": ("qgen.workflows.sweeps",),
    "qgen.reports": ("qgen.workflows.reports",),
}
"""Old module path → the modules that now hold its public names, searched in order."""


class _Forward(types.ModuleType):
    """A stand-in for a moved module: attribute look-ups go to the new homes."""

    def __getattr__(self, name: str) -> Any:
        for home in MOVED[self.__name__]:
            module = importlib.import_module(home)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} (moved to {', '.join(MOVED[self.__name__])}) "
                             f"has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({n for home in MOVED[self.__name__] for n in dir(importlib.import_module(home))})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        module = _Forward(spec.name, f"Moved: see {', '.join(MOVED[spec.name])}.")
        module.__all__ = [n for home in MOVED[spec.name] for n in getattr(importlib.import_module(home), "__all__", ())]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        warnings.warn(f"'{module.__name__}' has moved to {' and '.join(MOVED[module.__name__])}; "
                      "import from there (the old path will be removed in a future release)",
                      FutureWarning, stacklevel=2)


if not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.append(_Finder())
