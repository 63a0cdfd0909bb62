"""The verdict on the prepared state: how close the model's reconstruction is to the ideal
target ψ, and how that is known (:class:`qgen.scores.report.Verdict`).

The fidelity ⟨ψ|ρ|ψ⟩ of the reconstruction is computed

* exactly by tensor-network contraction at any N for models that hold their state
  (``exact_state``: the MPS and LPDO backends);
* exactly by enumerating all K^N strings when the model can (``log_prob_all`` up to its
  ``enumeration_limit``; 4^12 strings for autoregressive models) and ρ_q = Σ_a q(a) D^a
  fits as a dense 2^N × 2^N matrix (N ≤ 12); then also the fidelity of the nearest
  density matrix (N ≤ 10), since ρ_q need not be one;
* otherwise from model samples by the dual-frame estimator (unresolved at large N: the
  energy–gap certificate, resolved by drawing more model samples, is then the bound).

Beside it stand the raw data's own estimate, the exact value of the simulated state when
the data were simulated from a known noisy state, the number of measured strings the
target cannot produce (the noise being measured, not a failure of the sampler), and the
local fidelity map (:mod:`qgen.scores.local`).

Example
-------
>>> from qgen.datasets import simulate
>>> from qgen.measurements import pauli6
>>> from qgen.models import create_model
>>> from qgen.targets import make_target
>>> from qgen.workflows import evaluate
>>> ds = simulate(make_target("ghz", n=3, noise=0.1), pauli6(), 2000, seed=0)
>>> v = evaluate(create_model("rnn", 3, 6), ds, n_samples=200).verdict
>>> round(v.true_fidelity.mean, 4), v.fidelity.note
(0.7933, 'exact: all 6^3 strings enumerated, ⟨ψ|ρ_q|ψ⟩ of ρ_q = Σ_a q(a) D^a')
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from qgen.datasets import Dataset
from qgen.measurements.frames import pauli_coefficients
from qgen.measurements.sampling import log_prob as exact_log_prob
from qgen.models import GenerativeModel
from qgen.resources import ResourceError, check_memory
from qgen.scores.certificates import certificate
from qgen.scores.densities import fidelity_pure, project_to_density_matrix, reduced
from qgen.scores.enumeration import EIGEN_MAX_QUBITS
from qgen.scores.fidelity import quantum_fidelity
from qgen.scores.local import data_fidelities, exact_fidelities, pairs, target_reduced_states, windows
from qgen.scores.observables import observables
from qgen.scores.report import Certificate, LocalMap, Verdict
from qgen.stats import Estimate
from qgen.targets.states import DENSE_MAX_QUBITS, DenseState, State, site_noise
from qgen.workflows.draws import model_sample

__all__ = ["verdict", "true_fidelity", "impossible_strings", "resolve_certificate", "local_sets",
           "CERTIFICATE_STDERR", "CERTIFICATE_SAMPLES", "IMPOSSIBLE_BELOW", "TRUE_FIDELITY_MAX_COST"]

CERTIFICATE_STDERR = 0.01
"""Error bar on the certificate's bound at which :func:`resolve_certificate` stops drawing."""

CERTIFICATE_SAMPLES = 100_000
"""Most model samples :func:`resolve_certificate` draws in all (its budget)."""

TRUE_FIDELITY_MAX_COST = 2e11
"""Most complex multiply-adds :func:`true_fidelity` spends on a noisy MPS (about 4 minutes
on one core; a noisy χ = 32 target at N = 50 needs 4·10¹⁰)."""

IMPOSSIBLE_BELOW = 1e-12
"""A string a is impossible under the target when P(a) < this × K^−N (zero up to rounding)."""


def true_fidelity(state: State) -> Estimate:
    """⟨ψ|Λ(|ψ⟩⟨ψ|)|ψ⟩ of a target ψ under its local depolarizing noise Λ, exactly: 1 without
    noise; else densely for a state vector (N ≤ :data:`~qgen.targets.states.DENSE_MAX_QUBITS`),
    or by a four-layer transfer-matrix sweep for an MPS (any N; memory 7·16 χ⁴ bytes,
    ≈ 24 N χ⁵ complex multiply-adds).  Unavailable, with the reason, when that sweep needs
    more than :data:`TRUE_FIDELITY_MAX_COST` operations (a noisy χ = 128 MPS: hours) or more
    memory than is free."""
    if isinstance(state, DenseState) and state.data.ndim == 2:
        return Estimate.unavailable("the target is a density matrix: no pure state to compare with")
    noise = site_noise(state.noise, state.n_qubits)
    if not noise.any():
        return Estimate(1.0, 0.0, 0, "exact: the data were simulated from the noise-free target")
    if isinstance(state, DenseState) and state.n_qubits <= DENSE_MAX_QUBITS:
        psi = state.data / np.linalg.norm(state.data)
        return Estimate(float(np.vdot(psi, state.density_matrix() @ psi).real), 0.0, 0, "exact")
    if isinstance(state, DenseState):
        state = state.to_mps()
    chi = state.max_bond
    what = f"the exact four-layer contraction at bond dimension {chi}"
    cost = 24 * state.n_qubits * float(chi) ** 5
    if cost > TRUE_FIDELITY_MAX_COST:
        return Estimate.unavailable(f"not computed: {what} needs ~{cost:.1e} operations "
                                    f"(limit {TRUE_FIDELITY_MAX_COST:.0e})")
    try:
        check_memory(7 * 16 * float(chi) ** 4, what)
    except ResourceError as e:
        return Estimate.unavailable(f"not computed: {e}")
    env = np.ones((1, 1, 1, 1))  # (ρ ket, ρ bra, ψ bra, ψ ket) bonds
    log_scale = 0.0
    for a, p in zip(state.with_noise(0.0).tensors, noise):
        keep = np.einsum("wxyz,wsa,xtb,ysc,ztd->abcd", env, a, a.conj(), a.conj(), a, optimize=True)
        trace = np.einsum("wxyz,wsa,xsb,ytc,ztd->abcd", env, a, a.conj(), a.conj(), a, optimize=True)
        env = (1 - p) * keep + p / 2 * trace
        scale = np.abs(env).max()
        env, log_scale = env / scale, log_scale + np.log(scale)
    norm = state.with_noise(0.0).norm() ** 4
    return Estimate(float(np.real(env[0, 0, 0, 0]) * np.exp(log_scale) / norm), 0.0, 0, "exact")


def impossible_strings(ds: Dataset) -> int:
    """How many of the dataset's strings the ideal target cannot produce (P(a) = 0 up to
    rounding: below :data:`IMPOSSIBLE_BELOW` × K^−N)."""
    ideal = ds.target.state.with_noise(0.0)
    lp = exact_log_prob(ideal, ds.povm, ds.outcomes)
    floor = math.log(IMPOSSIBLE_BELOW) - ds.n_qubits * math.log(ds.povm.n_outcomes)
    return int(np.sum(~(lp >= floor)))


def local_sets(n: int) -> list[tuple[int, ...]]:
    """The sets of the local map: every qubit, every contiguous window of 2 and 3, every pair."""
    return windows(n, 1) + windows(n, 2) + windows(n, 3) + [p for p in pairs(n) if p[1] - p[0] > 1]


def resolve_certificate(model: GenerativeModel, ds: Dataset, cert: Certificate, x_model: np.ndarray, *,
                        seed: int = 0, max_samples: int = CERTIFICATE_SAMPLES) -> Certificate:
    """The model's certificate with its energy from enough model samples that the bound's
    error bar is ≤ :data:`CERTIFICATE_STDERR`, or from ``max_samples`` in all when that
    would take more (the note then says what precision the budget allowed and what the
    requested one needs).  The samples already drawn (``x_model``) are reused."""
    b = cert.bound
    if not b.available or not b.stderr > CERTIFICATE_STDERR:
        return cert
    need = math.ceil(len(x_model) * (b.stderr / CERTIFICATE_STDERR) ** 2)
    total = min(need, max(max_samples, len(x_model)))
    if total > len(x_model):
        extra, _ = model_sample(model, total - len(x_model), seed + 1)
        c, o = ds.target.hamiltonian.pauli_indices()
        energy = observables(np.concatenate([x_model, extra]), ds.povm, [c], [o])[0]
        cert = certificate(ds, energy)
    if cert.bound.available and cert.bound.stderr > CERTIFICATE_STDERR:
        note = (f"budget of {total:,} model samples allows ±{cert.bound.stderr:.2g}; "
                f"±{CERTIFICATE_STDERR} needs ≈ {need:,}")
    else:
        note = f"energy from {total:,} model samples"
    return replace(cert, bound=replace(cert.bound, note="; ".join(filter(None, (cert.bound.note, note)))))


def _exact_energy(model: GenerativeModel, ds: Dataset, rho_q: np.ndarray | None) -> Estimate | None:
    """⟨H⟩ of the model's state exactly, when it holds it or its ρ_q was enumerated."""
    c, o = ds.target.hamiltonian.pauli_indices()
    if model.exact_state:
        return Estimate(float(np.dot(c, model.expectation(o))), 0.0, 0, "exact energy of the model's state")
    if rho_q is not None:
        r = pauli_coefficients(rho_q)  # Tr(σ_P ρ_q) for every Pauli string, I X Y Z = 0…3
        place = 4 ** np.arange(ds.n_qubits - 1, -1, -1)
        return Estimate(float(np.dot(c, r[np.asarray(o, dtype=np.int64) @ place])), 0.0, 0, "exact energy of ρ_q")
    return None


def _model_certificate(model: GenerativeModel, ds: Dataset, cert: Certificate, x_model: np.ndarray,
                       rho_q: np.ndarray | None, low: Estimate, seed: int) -> Certificate:
    if cert.gap is None:  # no bound for this target at all
        return cert
    energy = _exact_energy(model, ds, rho_q)
    cert = certificate(ds, energy) if energy is not None else resolve_certificate(model, ds, cert, x_model, seed=seed)
    if low.available and low.mean < 0 and cert.bound.available:
        note = f"ρ_q is not positive (smallest eigenvalue {low.mean:.3g}): the bound need not hold"
        cert = replace(cert, bound=replace(cert.bound, note="; ".join(filter(None, (cert.bound.note, note)))))
    return cert


def verdict(model: GenerativeModel, ds: Dataset, x_model: np.ndarray, cert: Certificate, *,
            rho_q: np.ndarray | None = None, min_eigenvalue: Estimate | None = None, impossible: int | None = None,
            sampled: Estimate | None = None, seed: int = 0) -> Verdict:
    """The :class:`Verdict` of ``model`` (model samples ``x_model``) on dataset ``ds`` with a
    target; ``rho_q`` is its reconstruction when its distribution was enumerated (with its
    smallest eigenvalue), ``cert`` the certificate from the energy of its samples ``x_model``
    — replaced by the exact energy of the model's state when it is known, else resolved by
    :func:`resolve_certificate` — and ``impossible`` the count of :func:`impossible_strings`
    for measured data (counted here when not given); ``sampled`` is the dual-frame estimate of
    ⟨ψ|ρ_q|ψ⟩ from ``x_model`` when already computed for a pure target (evaluate's score),
    which the verdict reports when it has neither the state nor ρ_q."""
    target, povm, n = ds.target, ds.povm, ds.n_qubits
    ideal = target.state.with_noise(0.0)
    sets = local_sets(n)
    pure = ideal.is_pure
    if model.exact_state and pure:
        f = Estimate(model.fidelity(ideal), 0.0, 0, "exact: tensor-network contraction")
        physical = Estimate(f.mean, 0.0, 0, "exact; the model's state is positive by construction")
        low = Estimate.unavailable("positive by construction")
        reduced_all, exact_note = model.reduced_density_matrices, "exact reduced state of the model"
    elif rho_q is not None and pure:
        psi = ideal.to_dense()
        how = "exact" if model.likelihood == "exact" else "the model's estimated ln q"
        f = Estimate(fidelity_pure(rho_q, psi), 0.0, 0,
                     f"{how}: all {povm.n_outcomes}^{n} strings enumerated, ⟨ψ|ρ_q|ψ⟩ of ρ_q = Σ_a q(a) D^a")
        low = min_eigenvalue if min_eigenvalue is not None else Estimate.unavailable("not computed")
        if not low.available:
            physical = Estimate.unavailable(f"N = {n} > {EIGEN_MAX_QUBITS}: ρ_q is not diagonalised")
        elif low.mean < 0:
            physical = Estimate(fidelity_pure(project_to_density_matrix(rho_q), psi), 0.0, 0,
                                "exact; ρ_q projected onto the density matrices")
        else:
            physical = Estimate(f.mean, 0.0, 0, "exact; ρ_q is a density matrix")
        reduced_all, exact_note = (lambda sets: [reduced(rho_q, s) for s in sets]), "exact reduced state of ρ_q"
    else:
        f = sampled if sampled is not None and target.state.is_pure else quantum_fidelity(ideal, povm, x_model)
        physical = low = Estimate.unavailable("the reconstruction is not enumerated (estimated from model samples)")
        reduced_all = None
    measured = ds.outcomes
    data = quantum_fidelity(ideal, povm, measured)
    truth = (Estimate.unavailable("measured data: the prepared state is what is being estimated") if ds.measured
             else true_fidelity(target.state))
    if impossible is None and ds.measured:
        impossible = impossible_strings(ds)
    sigmas = target_reduced_states(ideal, sets)
    if reduced_all is not None:
        model_map = exact_fidelities(reduced_all(sets), ideal, sets, exact_note, sigmas)
    else:
        model_map = data_fidelities(ideal, povm, x_model, sets, seed=seed, sigmas=sigmas,
                                    note="dual-frame estimate from model samples, projected to a state")
    local = LocalMap(sets, model_map, data_fidelities(ideal, povm, measured, sets, seed=seed, sigmas=sigmas))
    cert = _model_certificate(model, ds, cert, x_model, rho_q, low, seed)
    return Verdict(f, physical, low, data, truth, cert, impossible, len(measured), local)
