"""Independent references for tests: free-fermion solution of the open transverse-field
Ising chain H = −J Σ_{i<N-1} σz_i σz_{i+1} − h Σ_i σx_i (no qgen code is used here).

Derivation (Lieb, Schultz & Mattis, Ann. Phys. 16, 407 (1961); Pfeuty, Ann. Phys. 57, 79
(1970)).  A Hadamard on every qubit maps H to H' = −J Σ X_i X_{i+1} − h Σ Z_i.  With the
Jordan–Wigner Majoranas a_{2i} = (Π_{k<i} Z_k) X_i and a_{2i+1} = (Π_{k<i} Z_k) Y_i one has
Z_i = −i a_{2i} a_{2i+1} and X_i X_{i+1} = −i a_{2i+1} a_{2i+2}, so H' = (i/4) aᵀ A a with A
real antisymmetric and, in the (even, odd) Majorana ordering, A = [[0, B], [−Bᵀ, 0]],
B = 2h·I − 2J·(subdiagonal) (B_ii = 2h, B_{i+1,i} = −2J).  With the SVD B = U diag(ε) Vᵀ the
single-particle energies are ε and E0 = −½ Σ ε.  In the ground state ⟨a a ᵀ⟩ = I + sign(iA),
i.e. ⟨a_{2i} a_{2j+1}⟩ = i W_ij with W = U Vᵀ, and odd–odd / even–even pairs vanish.  Back in
the original frame (σx ↔ Z', σz ↔ X'):

* ⟨σx_i⟩ = W_ii;
* ⟨σz_i σz_j⟩ (i < j) = ⟨Π_{k=i}^{j-1} (−i a_{2k+1} a_{2k+2})⟩ = (−1)^{j−i} det W[i+1:j+1, i:j]
  by Wick's theorem (the Pfaffian reduces to a determinant because only odd–even
  contractions are non-zero).

Both formulas are checked against exact diagonalisation in the tests.
"""

from __future__ import annotations

import numpy as np


def _bidiagonal(n: int, J: float, h: float) -> np.ndarray:
    return 2 * h * np.eye(n) - 2 * J * np.eye(n, k=-1)


def tfim_open_energy(n: int, J: float = 1.0, h: float = 1.0) -> float:
    """Ground-state energy E0 = −½ Σ_k ε_k of the open chain."""
    return -0.5 * float(np.linalg.svd(_bidiagonal(n, J, h), compute_uv=False).sum())


def tfim_open_w(n: int, J: float = 1.0, h: float = 1.0) -> np.ndarray:
    """The matrix W = U Vᵀ (polar factor of B) with ⟨a_{2i} a_{2j+1}⟩ = i W_ij."""
    u, _, vt = np.linalg.svd(_bidiagonal(n, J, h))
    return u @ vt


def tfim_open_sx(n: int, J: float = 1.0, h: float = 1.0) -> np.ndarray:
    """⟨σx_i⟩ for all i."""
    return np.diag(tfim_open_w(n, J, h)).copy()


def tfim_open_zz(n: int, i: int, j: int, J: float = 1.0, h: float = 1.0) -> float:
    """⟨σz_i σz_j⟩ for i ≠ j."""
    i, j = min(i, j), max(i, j)
    w = tfim_open_w(n, J, h)
    return float((-1) ** (j - i) * np.linalg.det(w[i + 1 : j + 1, i:j]))


def tfim_open_gap(n: int, J: float = 1.0, h: float = 1.0) -> float:
    """First excitation E1 − E0 of the open chain: the many-body spectrum is
    E0 + Σ_k n_k ε_k with n_k ∈ {0, 1} and every ε_k ≥ 0 (both fermion-parity sectors,
    no boundary term for open chains), so E1 adds the cheapest quasiparticle, ε_min.
    For h < J, ε_min ≈ 2J (1 − h²/J²)(h/J)^N (the edge zero mode) falls below the SVD's
    absolute precision (~1e-15 × ‖B‖) once N ≳ 45 at h = J/2."""
    return float(np.linalg.svd(_bidiagonal(n, J, h), compute_uv=False).min())
