"""Dense N-qubit density matrices (N ≲ 10): projection onto the states, fidelities and
partial traces — the exact references that tomography is scored with.  The maps between
ρ and outcome probabilities are in :mod:`qgen.measurements.frames`.

Example
-------
>>> bell = np.array([1, 0, 0, 1]) / np.sqrt(2)
>>> rho = np.outer(bell, bell) + 0.1 * np.diag([1, -1, -1, 1])    # unit trace, not positive
>>> sigma = project_to_density_matrix(rho)                        # = the Bell state
>>> [round(f, 12) for f in (fidelity_pure(rho, bell), fidelity_pure(sigma, bell), state_fidelity(sigma, sigma))]
[1.1, 1.0, 1.0]
>>> (reduced(sigma, [1]).real.round(12) + 0).tolist()            # maximally mixed
[[0.5, 0.0], [0.0, 0.5]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg

from qgen.measurements.frames import _n_qubits

__all__ = ["project_to_density_matrix", "fidelity_pure", "state_fidelity", "reduced"]


def _dagger(a: np.ndarray) -> np.ndarray:
    return a.conj().swapaxes(-1, -2)


def _hermitian(a: np.ndarray, what: str) -> np.ndarray:
    """``a`` (…, 2^N, 2^N), any leading batch axes, checked Hermitian and symmetrised."""
    a = np.asarray(a, dtype=complex)
    _n_qubits(a[(0,) * (a.ndim - 2)] if a.ndim > 2 and a.size else a)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} has NaN or infinite entries")
    err = np.abs(a - _dagger(a)).max()
    if err > 1e-8 * max(1.0, np.abs(a).max()):
        raise ValueError(f"{what} is not Hermitian (error {err:.2e})")
    return (a + _dagger(a)) / 2


def project_to_density_matrix(rho: np.ndarray, rank: int | None = None) -> np.ndarray:
    """The density matrix closest to a Hermitian ρ in the 2-norm: eigenvectors kept,
    eigenvalues λ replaced by max(λ − τ, 0) with τ such that they sum to 1, i.e. the
    Euclidean projection of the spectrum onto the probability simplex (Duchi et al., ICML
    2008, Fig. 1).  For Tr ρ = 1 this is the algorithm of Smolin, Gambetta & Smith, PRL
    108, 070502 (2012).

    ``rank``: a guess of the result's rank.  Then only the top 2·rank + 2 eigenpairs are
    computed (LAPACK's MRRR, 2–4× faster than all at 2^N ≥ 256), and more until the
    smallest of them is ≤ τ — the result is exact whatever the guess.  Without ``rank``,
    ``rho`` may carry leading batch axes (…, 2^N, 2^N), each matrix projected.

    >>> project_to_density_matrix(np.diag([1.2, -0.2])).real.tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    return _projection(rho, rank)[0]


def _projection(rho: np.ndarray, rank: int | None) -> tuple[np.ndarray, int]:
    """:func:`project_to_density_matrix` and the rank of the result."""
    h = _hermitian(rho, "the matrix to project")
    d = h.shape[-1]
    if h.ndim > 2 or rank is None:
        if rank is not None:
            raise ValueError("a rank guess projects one matrix, not a batch")
        w, v = np.linalg.eigh(h)
        u = w[..., ::-1]
        c = (np.cumsum(u, axis=-1) - 1) / np.arange(1, d + 1)
        k = np.sum(u > c, axis=-1, keepdims=True)  # the kept eigenvalues are a prefix of u
        w = np.clip(w - np.take_along_axis(c, k - 1, axis=-1), 0, None)
        return (v * w[..., None, :]) @ _dagger(v), int(np.max(k))
    m = 2 * int(rank) + 2
    while True:
        if 2 * m >= d:
            m, (w, v) = d, np.linalg.eigh(h)
        else:
            w, v = scipy.linalg.eigh(h, subset_by_index=[d - m, d - 1], driver="evr")
        u = w[::-1]
        c = (np.cumsum(u) - 1) / np.arange(1, m + 1)
        tau = c[np.nonzero(u > c)[0][-1]]
        if m == d or w[0] <= tau:  # the eigenvalues not computed are ≤ w[0] ≤ τ: they are dropped
            break
        m *= 2
    keep = w > tau
    return (v[:, keep] * (w[keep] - tau)) @ v[:, keep].conj().T, int(keep.sum())


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
    """√ρ by eigendecomposition, for density matrices (…, d, d) (checked: PSD and unit
    trace to 1e-8).  Eigenvalues within rounding of zero (≤ d·ε·λ_max) are set to 0: √
    would turn their ~1e-17 of noise into ~1e-9 of fidelity."""
    w, v = np.linalg.eigh(_hermitian(rho, what))
    low, trace = w[..., 0].min(), w.sum(axis=-1)
    if low < -1e-8 or np.abs(trace - 1).max() > 1e-8:
        bad = trace.flat[np.abs(trace - 1).argmax()]
        raise ValueError(f"{what} is not a density matrix (smallest eigenvalue {low:.3g}, trace {bad:.10g})")
    w[w <= w.shape[-1] * np.finfo(float).eps * w[..., -1:]] = 0
    return (v * np.sqrt(w)[..., None, :]) @ _dagger(v)


def state_fidelity(rho: np.ndarray, sigma: np.ndarray) -> float | np.ndarray:
    """Uhlmann fidelity F = (Tr √(√ρ σ √ρ))² (Jozsa, J. Mod. Opt. 41, 2315 (1994); the
    squared convention, F = |⟨ψ|φ⟩|² for pure states), computed as the squared trace norm
    ‖√ρ √σ‖₁² (the sum of singular values), which stays accurate for rank-deficient ρ, σ.
    Leading batch axes broadcast (an array of fidelities comes back).

    >>> round(state_fidelity(np.diag([1.0, 0.0]), np.eye(2) / 2), 12)
    0.5
    """
    a, b = _sqrt_state(rho, "ρ"), _sqrt_state(sigma, "σ")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"ρ and σ have different shapes {a.shape} and {b.shape}")
    f = np.minimum(np.linalg.svd(a @ b, compute_uv=False).sum(axis=-1) ** 2, 1.0)
    return float(f) if f.ndim == 0 else f


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
