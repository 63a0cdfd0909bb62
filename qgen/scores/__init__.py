"""Scores, the sixth stage of the data path: how close a model is to the target.

* :mod:`~qgen.scores.distribution`: classical fidelity and KL divergences from samples;
* :mod:`~qgen.scores.fidelity`: the quantum fidelity estimated from model samples;
* :mod:`~qgen.scores.observables`: Pauli observables, exact and estimated;
* :mod:`~qgen.scores.enumeration`: everything exactly, by enumerating all strings;
* :mod:`~qgen.scores.certificates`: the energy–gap fidelity bound.

Every estimate is a :class:`qgen.stats.Estimate`.

Example
-------
>>> import numpy as np
>>> from qgen.scores import classical_fidelity
>>> lp = np.log(np.full(10, 0.5))
>>> classical_fidelity(lp, lp).mean
1.0
"""

from __future__ import annotations

from .bootstrap import bootstrap, bootstrap_estimate
from .certificates import ASSUMPTION, FORMULA, UNPHYSICAL_SIGMAS, certificate, fidelity_lower_bound
from .densities import fidelity_pure, project_to_density_matrix, reduced, state_fidelity
from .distribution import classical_fidelity, kl_divergence
from .enumeration import enumerate_strings, exact_scores
from .fidelity import FIDELITY_STDERR_MAX, fidelity_moment_base, quantum_fidelity
from .observables import (
    correlation_average,
    correlation_ops,
    exact_observable,
    exact_observables,
    exact_pauli_expectations,
    magnetization_ops,
    observable,
    observables,
    pauli_estimator,
    pauli_expectations,
)
from .tomography import MLEResult, linear_inversion, log_likelihood, mle, outcome_counts

__all__ = [
    "bootstrap", "bootstrap_estimate", "fidelity_pure", "project_to_density_matrix", "reduced", "state_fidelity",
    "MLEResult", "linear_inversion", "log_likelihood", "mle", "outcome_counts", "classical_fidelity",
    "kl_divergence", "FIDELITY_STDERR_MAX", "fidelity_moment_base", "quantum_fidelity", "correlation_average",
    "correlation_ops", "exact_observable", "exact_observables", "exact_pauli_expectations", "magnetization_ops",
    "observable", "observables", "pauli_estimator", "pauli_expectations", "enumerate_strings", "exact_scores",
    "ASSUMPTION", "FORMULA", "UNPHYSICAL_SIGMAS", "certificate", "fidelity_lower_bound",
]
