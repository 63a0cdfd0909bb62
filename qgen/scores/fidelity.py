"""The quantum fidelity ⟨ψ|ρ_q|ψ⟩ of a model's reconstruction ρ_q = Σ_a q(a) D^a with a
pure target, estimated from model samples: the mean of ⟨ψ|D^{a_1}⊗…⊗D^{a_N}|ψ⟩ over
a ∼ q, by MPS contraction.  The estimator's variance grows like s^N
(:func:`fidelity_moment_base`), so results whose error bar exceeds
``FIDELITY_STDERR_MAX`` are flagged unresolved.

Example
-------
>>> from qgen.targets import ghz
>>> from qgen.measurements import tetra
>>> from qgen.measurements import sample
>>> f = quantum_fidelity(ghz(3), tetra(), sample(ghz(3), tetra(), 20000, seed=0))
>>> abs(f.mean - 1) < 4 * f.stderr
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qgen.measurements.contract import expect_products
from qgen.measurements.povm import POVM
from qgen.stats import Estimate, mean_estimate
from qgen.targets.hamiltonians import PAULI
from qgen.targets.states import DenseState, State, noise_text

if TYPE_CHECKING:
    import torch

__all__ = ["FIDELITY_STDERR_MAX", "PILOT_STRINGS", "fidelity_moment_base", "quantum_fidelity"]


FIDELITY_STDERR_MAX = 0.1
"""Standard error above which a sampled quantum fidelity is flagged as useless.  The
dual-frame estimator's variance grows exponentially with N (second moment 3^N for
|0…0⟩ with Pauli-4), so beyond ~10 qubits its error bar covers the whole range [0, 1].
The flag is raised when either the sample standard error or the predicted one,
√((s^N − 1)/n) with s = :func:`fidelity_moment_base`, exceeds it: the estimator is
heavy-tailed (for |0…0⟩ and Pauli-4 it is 3^N with probability 3^−N, else 0), so with
too few samples the *sample* error bar is itself wrong, typically far too small."""

PILOT_STRINGS = 2_000
"""Strings :func:`quantum_fidelity` evaluates first, drawn at random, when it is given more
than twice as many: if their standard error, scaled to all the strings, is still above
10 × :data:`FIDELITY_STDERR_MAX` (an error bar over the whole range [0, 1]), the rest are
not evaluated.  Each string costs one contraction with the target, about N·χ³·K operations
(minutes for 20,000 strings of an 8 × 8 lattice at χ = 128), for a number that would
stay unresolved.  Heavy tails make the pilot's error bar too small rather than too large,
so the stop is conservative."""


# -- quantum fidelity from samples ----------------------------------------------------


def quantum_fidelity(state: State, povm: POVM, samples: np.ndarray, device: str | torch.device | None = None
                     ) -> Estimate:
    """F = ⟨ψ|ρ_q|ψ⟩ = E_{a~q}[⟨ψ|D^{a_1}⊗…⊗D^{a_N}|ψ⟩] for a pure target |ψ⟩, from
    model samples (ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N}, Carrasquilla et al. 2019); the
    MPS sweep runs on ``device`` as in :func:`qgen.contract.expect_products`.

    Unavailable for mixed targets (noisy or a density matrix) and non-IC POVMs.  The
    estimator's variance grows exponentially with N; when the standard error exceeds
    :data:`FIDELITY_STDERR_MAX` the numbers are kept but the note says the error bar
    exceeds the useful range.  Beyond 2 × :data:`PILOT_STRINGS` strings a random pilot of
    that many is evaluated first, and the estimate stops there when all the strings could
    not bring the error bar below 10 × :data:`FIDELITY_STDERR_MAX`.

    >>> from qgen.targets import ghz
    >>> from qgen.measurements import pauli4
    >>> from qgen.measurements import sample
    >>> e = quantum_fidelity(ghz(3), pauli4(), sample(ghz(3), pauli4(), 5000, seed=1))
    >>> abs(e.mean - 1) < 4 * e.stderr
    True
    """
    if not state.is_pure:
        kind = "a density matrix" if isinstance(state, DenseState) and state.data.ndim == 2 else "mixed"
        return Estimate.unavailable(
            f"target is {kind} (noise p={noise_text(state.noise)}): ⟨ψ|ρ_q|ψ⟩ needs a pure target"
        )
    if not povm.is_ic:
        return Estimate.unavailable(f"POVM '{povm.name}' is not informationally complete: ρ_q is not determined")
    samples, n_q = np.asarray(samples), state.n_qubits
    pilot = np.zeros(len(samples), dtype=bool)
    values = np.zeros(0)
    if len(samples) > 2 * PILOT_STRINGS:
        pilot[np.random.default_rng(0).choice(len(samples), PILOT_STRINGS, replace=False)] = True
        values = expect_products(state, povm.duals, samples[pilot], device=device).real
        first = mean_estimate(values)
        projected = first.stderr * np.sqrt(PILOT_STRINGS / len(samples))
        if projected > 10 * FIDELITY_STDERR_MAX:
            return Estimate(first.mean, first.stderr, first.n,
                            f"from a random {PILOT_STRINGS:,} of the {len(samples):,} strings: with all of them the "
                            f"error bar would still be ≈ {projected:.2g}, beyond the useful range (> "
                            f"{FIDELITY_STDERR_MAX}; the dual-frame estimator's variance grows exponentially with "
                            f"N = {n_q}), so the rest were not evaluated")
    rest = expect_products(state, povm.duals, samples[~pilot], device=device).real  # the pilot's are kept
    est = mean_estimate(np.concatenate([values, rest]))
    second_moment = float(np.prod(np.broadcast_to(fidelity_moment_base(povm), (n_q,))))
    predicted = np.sqrt(max(second_moment - 1, 0.0) / max(est.n, 1))
    if est.stderr > FIDELITY_STDERR_MAX:
        note = (f"error bar {est.stderr:.2g} exceeds the useful range (> {FIDELITY_STDERR_MAX}): the "
                f"dual-frame fidelity estimator's variance grows exponentially with N = {n_q}")
    elif predicted > FIDELITY_STDERR_MAX:
        note = (f"error bar not trustworthy: the estimator is heavy-tailed and with N = {n_q}, "
                f"{est.n} samples its standard error can reach ≈ {predicted:.2g} (worst case over "
                f"product targets), beyond the useful range (> {FIDELITY_STDERR_MAX})")
    else:
        return est
    return Estimate(est.mean, est.stderr, est.n, "; ".join(s for s in (est.note, note) if s))


def fidelity_moment_base(povm: POVM, n_grid: int = 20000) -> float | np.ndarray:
    """s = max over single-qubit pure states φ of E_{a~P_φ}[⟨φ|D^a|φ⟩²]
    = Σ_a Tr(M^a φ) Tr(D^a φ)²: for a product target (and a model close to it) the
    second moment of the fidelity estimator of :func:`quantum_fidelity` is at most s^N
    (Π_i s_i for a per-qubit POVM, whose s is one per qubit).

    Maximised on a Fibonacci grid of ``n_grid`` Bloch vectors (relative accuracy
    ~1e−3).  Pauli-4: s ≈ 3.19; tetra: 2; Pauli-6: 1.5.  Exact enumeration of GHZ, W,
    cluster and random MPS targets (N ≤ 6) stays below s^N as well (see the tests);
    the rigorous bound over all states, ‖Σ_a M^a⊗D^a⊗D^a‖^N, is looser.

    >>> from qgen.measurements import tetra
    >>> round(fidelity_moment_base(tetra()), 3)
    2.0
    """
    k = np.arange(n_grid) + 0.5
    z = 1 - 2 * k / n_grid
    phi = np.pi * (1 + 5**0.5) * k
    r = np.stack([np.ones(n_grid), np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z])
    m_pauli = np.einsum("...aij,kji->...ak", povm.elements, PAULI).real  # Tr(M^a σ_k)
    prob, dual = m_pauli @ r / 2, povm.pauli_table @ r / 2  # Tr(M^a ρ_r), Tr(D^a ρ_r)
    s = np.max(np.sum(prob * dual**2, axis=-2), axis=-1)
    return float(s) if s.ndim == 0 else s
