"""Dense N-qubit density matrices (N ≲ 10): the POVM frame maps, projection onto states,
fidelities and partial traces — the exact references that tomography is scored with.

Every map between ρ (2^N × 2^N) and a table over K^N outcome strings is a chain of
site-by-site mode products in the real Pauli basis, never a Kronecker product:
ρ = 2^−N Σ_P r_P σ_{P_1}⊗…⊗σ_{P_N} with r_P = Tr(σ_P ρ) real, so

    P(a)        = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] = Σ_P r_P Π_i ½ Tr(M^{a_i} σ_{P_i}),
    Σ_a w(a) M^{a_1}⊗…⊗M^{a_N}              has Pauli coefficients Σ_a w(a) Π_i Tr(M^{a_i} σ_{P_i}),
    ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N}        has Pauli coefficients Σ_a q(a) Π_i Tr(D^{a_i} σ_{P_i}),

with one real (K × 4) or (4 × K) matrix per site: cost ~ N·K^N·4 (Carrasquilla et al.,
Nat. Mach. Intell. 1, 155 (2019), eqs. 1–3 for the dual frame D).  The site's matrices
come from that site's POVM, so every map takes one POVM for all qubits or one per qubit
(e.g. readout-corrected POVMs, elements of shape (N, K, 2, 2)).  Tables are flat, in
lexicographic string order (qubit 0 slowest, as :func:`qgen.metrics.enumerate_strings`);
qubit 0 is the most significant bit of ρ's indices.

Example
-------
>>> from qgen.povm import pauli6
>>> psi = np.array([1, 0, 0, 1]) / np.sqrt(2)                   # Bell state
>>> p = outcome_probabilities(np.outer(psi, psi), pauli6())     # 36 outcome probabilities
>>> rho = reconstruct_from_table(p, pauli6())                   # exact: ρ = Σ_a P(a) D^a
>>> round(fidelity_pure(rho, psi), 12), round(float(reduced(rho, [1])[0, 0].real), 12)
(1.0, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

from .povm import PAULI, POVM

__all__ = [
    "POVMSpec", "site_povms", "pauli_coefficients", "density_from_pauli", "outcome_probabilities",
    "weighted_elements", "reconstruct_from_table", "project_to_density_matrix", "fidelity_pure", "fidelity",
    "reduced",
]

POVMSpec = Union[POVM, Sequence[POVM], np.ndarray]
"""One POVM for every qubit, or one per qubit: a sequence of N POVMs or elements of shape
(N, K, 2, 2) (each validated as a POVM); all with the same number of outcomes K."""

_TO_PAULI = PAULI.transpose(0, 2, 1).reshape(4, 4)  # [k, (s, t)] = σ_k[t, s]: r_k = Σ σ_k[t,s] ρ[s,t]
_FROM_PAULI = PAULI.reshape(4, 4).T / 2  # [(s, t), k] = σ_k[s, t] / 2


def site_povms(povm: POVMSpec, n: int) -> tuple[POVM, ...]:
    """The N per-qubit POVMs of ``povm`` (one POVM repeated, or one per qubit).

    >>> from qgen.povm import pauli4, tetra
    >>> [p.name for p in site_povms([pauli4(), tetra()], 2)], len(site_povms(pauli4(), 3))
    (['pauli4', 'tetra'], 3)
    """
    if isinstance(povm, POVM):
        sites: tuple[POVM, ...] = (povm,) * n
    elif isinstance(povm, Sequence) and povm and all(isinstance(p, POVM) for p in povm):
        sites = tuple(povm)
    else:
        m = np.asarray(povm)
        if m.ndim == 3:
            sites = (POVM("custom", m),) * n
        elif m.ndim == 4:
            sites = tuple(POVM(f"site {i}", e) for i, e in enumerate(m))
        else:
            raise ValueError(f"a POVM must be a POVM, a sequence of N POVMs or elements of shape (K, 2, 2) or "
                             f"(N, K, 2, 2), got {type(povm).__name__} of shape {m.shape}")
    if len(sites) != n:
        raise ValueError(f"{len(sites)} per-qubit POVMs for {n} qubits")
    ks = {p.n_outcomes for p in sites}
    if len(ks) > 1:
        raise ValueError(f"per-qubit POVMs must have the same number of outcomes, got {sorted(ks)}")
    return sites


def _n_sites(povm: POVMSpec, size: int, what: str) -> int:
    """N such that K^N = size (K from ``povm``), or N = len(povm) for per-qubit POVMs."""
    if isinstance(povm, POVM) or np.ndim(povm) == 3:
        k = povm.n_outcomes if isinstance(povm, POVM) else len(povm)
        n = max(1, round(np.log(max(size, 1)) / np.log(k)))
    else:
        n, k = len(povm), site_povms(povm, len(povm))[0].n_outcomes
    if k**n != size:
        raise ValueError(f"{what} has {size} entries, not K^N for K = {k} outcomes" + (
            "" if isinstance(povm, POVM) or np.ndim(povm) == 3 else f" and N = {n} qubits"))
    return n


def _n_qubits(rho: np.ndarray) -> int:
    if rho.ndim != 2 or rho.shape[0] != rho.shape[1] or rho.shape[0] < 2 or rho.shape[0] & (rho.shape[0] - 1):
        raise ValueError(f"need a 2^N × 2^N matrix (N ≥ 1), got shape {rho.shape}")
    return rho.shape[0].bit_length() - 1


def _mode_products(t: np.ndarray, mats: Sequence[np.ndarray]) -> np.ndarray:
    """t[i_1…i_N] ↦ Σ_i Π_s mats[s][o_s, i_s] t[i_1…i_N], flat in and out.  Site s is the
    leading axis when its matrix acts, and the new index goes last (one GEMM per site)."""
    for m in mats:
        t = t.reshape(m.shape[1], -1).T @ m.T
    return t.reshape(-1)


def _interleave(n: int) -> list[int]:
    """Axes (s_1 … s_N, t_1 … t_N) → (s_1, t_1, …, s_N, t_N); the inverse is its argsort."""
    return [a for i in range(n) for a in (i, n + i)]


def pauli_coefficients(rho: np.ndarray) -> np.ndarray:
    """r_P = Tr(σ_{P_1}⊗…⊗σ_{P_N} ρ) for all 4^N Pauli strings (I, X, Y, Z = 0…3, qubit 0
    slowest); real for Hermitian ρ (the real part is returned).

    >>> pauli_coefficients(np.diag([1.0, 0.0])).tolist()   # |0⟩⟨0| = (I + Z)/2
    [1.0, 0.0, 0.0, 1.0]
    """
    rho = np.asarray(rho, dtype=complex)
    n = _n_qubits(rho)
    x = rho.reshape((2,) * 2 * n).transpose(_interleave(n))
    return _mode_products(x, [_TO_PAULI] * n).real


def density_from_pauli(r: np.ndarray) -> np.ndarray:
    """ρ = 2^−N Σ_P r_P σ_{P_1}⊗…⊗σ_{P_N}, the inverse of :func:`pauli_coefficients`.

    >>> density_from_pauli(np.array([1.0, 1.0, 0.0, 0.0])).real.tolist()   # (I + X)/2 = |+⟩⟨+|
    [[0.5, 0.5], [0.5, 0.5]]
    """
    r = np.asarray(r, dtype=np.float64).ravel()
    n = (r.size.bit_length() - 1) // 2
    if r.size < 4 or 4**n != r.size:
        raise ValueError(f"need 4^N Pauli coefficients (N ≥ 1), got {r.size}")
    x = _mode_products(r.astype(complex), [_FROM_PAULI] * n).reshape((2,) * 2 * n)
    return x.transpose(np.argsort(_interleave(n))).reshape(2**n, 2**n)


def _tables(sites: Sequence[POVM], duals: bool) -> list[np.ndarray]:
    """Per site, T[a, k] = Tr(σ_k X^a) (K, 4), X = the duals D or the elements M."""
    return [p.pauli_table if duals else np.einsum("kij,aji->ak", PAULI, p.elements).real for p in sites]


def outcome_probabilities(rho: np.ndarray, povm: POVMSpec) -> np.ndarray:
    """P(a) = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] for all K^N strings, flat (lexicographic); for a
    Hermitian, not necessarily positive ρ (negative "probabilities" are kept).

    >>> from qgen.povm import pauli4
    >>> outcome_probabilities(np.eye(2) / 2, pauli4()).round(4).tolist()
    [0.1667, 0.1667, 0.1667, 0.5]
    """
    rho = np.asarray(rho, dtype=complex)
    n = _n_qubits(rho)
    return _mode_products(pauli_coefficients(rho), [t / 2 for t in _tables(site_povms(povm, n), False)])


def weighted_elements(w: np.ndarray, povm: POVMSpec) -> np.ndarray:
    """Σ_a w(a) M^{a_1}⊗…⊗M^{a_N} for a table w over all K^N strings: the adjoint of
    :func:`outcome_probabilities` (Tr[X† A(ρ)] = Σ_a w(a) P_ρ(a)); with w = f/P it is the
    R operator of maximum-likelihood tomography.

    >>> from qgen.povm import tetra
    >>> np.allclose(weighted_elements(np.ones(16), tetra()), np.eye(4))   # Σ_a M^a = I
    True
    """
    w = np.asarray(w, dtype=np.float64).ravel()
    sites = site_povms(povm, _n_sites(povm, w.size, "the weight table"))
    return density_from_pauli(_mode_products(w, [t.T for t in _tables(sites, False)]))


def reconstruct_from_table(q: np.ndarray, povm: POVMSpec) -> np.ndarray:
    """ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} from a table q over all K^N strings (lexicographic),
    D the dual frame of each site's POVM.  With q = P exact and IC POVMs it returns ρ; an
    unconstrained q (a model, or frequencies) can give negative eigenvalues; for a non-IC
    POVM it is the projection of ρ onto the span of the elements.

    >>> from qgen.povm import tetra
    >>> np.allclose(reconstruct_from_table(np.full(16, 1 / 16), tetra()), np.eye(4) / 4)
    True
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    sites = site_povms(povm, _n_sites(povm, q.size, "the probability table"))
    return density_from_pauli(_mode_products(q, [t.T for t in _tables(sites, True)]))


def _hermitian(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=complex)
    _n_qubits(a)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} has NaN or infinite entries")
    err = np.abs(a - a.conj().T).max()
    if err > 1e-8 * max(1.0, np.abs(a).max()):
        raise ValueError(f"{what} is not Hermitian (error {err:.2e})")
    return (a + a.conj().T) / 2


def project_to_density_matrix(rho: np.ndarray) -> np.ndarray:
    """The density matrix closest to a Hermitian ρ in the 2-norm: eigenvectors kept,
    eigenvalues λ replaced by max(λ − τ, 0) with τ such that they sum to 1, i.e. the
    Euclidean projection of the spectrum onto the probability simplex (Duchi et al., ICML
    2008, Fig. 1).  For Tr ρ = 1 this is the algorithm of Smolin, Gambetta & Smith, PRL
    108, 070502 (2012).

    >>> project_to_density_matrix(np.diag([1.2, -0.2])).real.tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    w, v = np.linalg.eigh(_hermitian(rho, "the matrix to project"))
    u = w[::-1]
    c = (np.cumsum(u) - 1) / np.arange(1, u.size + 1)
    tau = c[np.nonzero(u > c)[0][-1]]
    return (v * np.clip(w - tau, 0, None)) @ v.conj().T


def fidelity_pure(rho: np.ndarray, psi: np.ndarray) -> float:
    """⟨ψ|ρ|ψ⟩ with ψ normalised, for any Hermitian ρ (also an unphysical reconstruction,
    where it can leave [0, 1]).

    >>> round(fidelity_pure(np.eye(4) / 4, np.array([1, 0, 0, 1])), 12)
    0.25
    """
    rho = _hermitian(rho, "ρ")
    psi = np.asarray(psi, dtype=complex).ravel()
    nrm = np.linalg.norm(psi)
    if psi.size != rho.shape[0] or not nrm > 0 or not np.isfinite(nrm):
        raise ValueError(f"ψ must be a non-zero finite vector of length {rho.shape[0]}, got {psi.size} entries")
    psi = psi / nrm
    return float((psi.conj() @ rho @ psi).real)


def _sqrt_state(rho: np.ndarray, what: str) -> np.ndarray:
    """√ρ by eigendecomposition, for a density matrix (checked: PSD and unit trace to 1e-8).
    Eigenvalues within rounding of zero (≤ d·ε·λ_max) are set to 0: √ would turn their
    ~1e-17 of noise into ~1e-9 of fidelity."""
    w, v = np.linalg.eigh(_hermitian(rho, what))
    if w[0] < -1e-8 or abs(w.sum() - 1) > 1e-8:
        raise ValueError(f"{what} is not a density matrix (smallest eigenvalue {w[0]:.3g}, trace {w.sum():.10g})")
    w[w <= len(w) * np.finfo(float).eps * w[-1]] = 0
    return (v * np.sqrt(w)) @ v.conj().T


def fidelity(rho: np.ndarray, sigma: np.ndarray) -> float:
    """Uhlmann fidelity F = (Tr √(√ρ σ √ρ))² (Jozsa, J. Mod. Opt. 41, 2315 (1994); the
    squared convention, F = |⟨ψ|φ⟩|² for pure states), computed as the squared trace norm
    ‖√ρ √σ‖₁² (the sum of singular values), which stays accurate for rank-deficient ρ, σ.

    >>> round(fidelity(np.diag([1.0, 0.0]), np.eye(2) / 2), 12)
    0.5
    """
    a, b = _sqrt_state(rho, "ρ"), _sqrt_state(sigma, "σ")
    if a.shape != b.shape:
        raise ValueError(f"ρ and σ have different shapes {a.shape} and {b.shape}")
    return float(min(np.linalg.svd(a @ b, compute_uv=False).sum() ** 2, 1.0))


def reduced(rho: np.ndarray, sites: Sequence[int]) -> np.ndarray:
    """Partial trace keeping ``sites`` in the order given (the first of them becomes the
    most significant qubit of the result): ρ_S = Tr_{not S} ρ.

    >>> ghz3 = np.zeros((8, 8)); ghz3[0, 0] = ghz3[0, 7] = ghz3[7, 0] = ghz3[7, 7] = 0.5
    >>> reduced(ghz3, [2, 0]).real.diagonal().tolist()     # (|00⟩⟨00| + |11⟩⟨11|)/2
    [0.5, 0.0, 0.0, 0.5]
    """
    rho = np.asarray(rho)
    n = _n_qubits(rho)
    keep = [int(s) for s in sites]
    if not keep or len(set(keep)) != len(keep) or not all(0 <= s < n for s in keep):
        raise ValueError(f"sites must be distinct qubits in 0…{n - 1}, got {list(sites)}")
    row = list(range(n))
    col = [n + s if s in keep else s for s in range(n)]  # traced qubits share their row index
    out = keep + [n + s for s in keep]
    m = 2 ** len(keep)
    return np.einsum(rho.reshape((2,) * 2 * n), row + col, out).reshape(m, m)
