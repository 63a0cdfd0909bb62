"""POVM frame maps between an N-qubit density matrix ρ (2^N × 2^N) and tables over
outcome strings, as site-by-site mode products in the real Pauli basis, never Kronecker
products: with ρ = 2^−N Σ_P r_P σ_{P_1}⊗…⊗σ_{P_N}, r_P = Tr(σ_P ρ) real,

    P(a)  = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] = Σ_P r_P Π_i ½ T_i[a_i, P_i],   T_i[a, k] = Tr(M_i^a σ_k),
    Σ_a w(a) M^{a_1}⊗…⊗M^{a_N}         has Pauli coefficients Σ_a w(a) Π_i T_i[a_i, P_i],
    ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N}   has Pauli coefficients Σ_a q(a) Π_i Q_i[a_i, P_i],

Q_i[a, k] = Tr(D_i^a σ_k) for the dual frame D (Carrasquilla et al., Nat. Mach. Intell. 1,
155 (2019), eqs. 1–3): one real (K × 4) or (4 × K) matrix per site.  The site's matrices
come from that site's POVM, so every map takes a POVM the same on all qubits or one per
qubit (e.g. readout-corrected POVMs, elements of shape (N, K, 2, 2)).

* Full tables over all K^N strings (flat, lexicographic: qubit 0 slowest, as
  :func:`qgen.scores.enumeration.enumerate_strings`): :func:`outcome_probabilities`,
  :func:`reconstruct_density_matrix`; cost ~ N·4·K^N.
* A fixed set of U strings (the observed ones): :class:`StringFrame`, dense over the
  first L sites (K^L ≈ U) and string by string over the rest, so that neither time nor
  memory grows like K^N.

Qubit 0 is the most significant bit of ρ's indices.

Example
-------
>>> from qgen.measurements import pauli6
>>> psi = np.array([1, 0, 0, 1]) / np.sqrt(2)                   # Bell state
>>> p = outcome_probabilities(np.outer(psi, psi), pauli6())     # 36 outcome probabilities
>>> np.allclose(reconstruct_density_matrix(p, pauli6()), np.outer(psi, psi))   # ρ = Σ_a P(a) D^a
True
>>> frame = StringFrame(np.array([[0, 0], [0, 1], [2, 2]]), pauli6())
>>> frame.probabilities(np.outer(psi, psi)).round(4).tolist()   # P(|00⟩), P(|01⟩), P(|++⟩) on the bases ZZ, XX
[0.0556, 0.0, 0.0556]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse

from qgen.measurements.povm import POVM
from qgen.targets.hamiltonians import PAULI

__all__ = ["pauli_coefficients", "density_from_pauli", "outcome_probabilities", "reconstruct_density_matrix",
           "StringFrame"]

_TO_PAULI = PAULI.transpose(0, 2, 1).reshape(4, 4)  # [k, (s, t)] = σ_k[t, s]: r_k = Σ σ_k[t,s] ρ[s,t]
_FROM_PAULI = PAULI.reshape(4, 4).T / 2  # [(s, t), k] = σ_k[s, t] / 2


def _table_sites(povm: POVM, size: int, what: str) -> int:
    """N such that K^N = size; a per-qubit POVM's own N must match."""
    k = povm.n_outcomes
    n = povm.n_sites if povm.per_qubit else max(1, round(np.log(max(size, 1)) / np.log(k)))
    if k**n != size:
        raise ValueError(f"{what} has {size} entries, not K^N for K = {k} outcomes"
                         + (f" and N = {n} qubits" if povm.per_qubit else ""))
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


def _tables(povm: POVM, n: int, duals: bool) -> list[np.ndarray]:
    """Per site, T[a, k] = Tr(σ_k X^a) (K, 4), X = the duals D or the elements M of that
    site's POVM."""
    povm.check_sites(n)
    t = povm.pauli_table if duals else np.einsum("kij,...aji->...ak", PAULI, povm.elements).real
    return list(t) if povm.per_qubit else [t] * n


def outcome_probabilities(rho: np.ndarray, povm: POVM) -> np.ndarray:
    """P(a) = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] for all K^N strings, flat (lexicographic); for a
    Hermitian, not necessarily positive ρ (negative "probabilities" are kept).

    >>> from qgen.measurements import pauli4
    >>> outcome_probabilities(np.eye(2) / 2, pauli4()).round(4).tolist()
    [0.1667, 0.1667, 0.1667, 0.5]
    """
    rho = np.asarray(rho, dtype=complex)
    n = _n_qubits(rho)
    return _mode_products(pauli_coefficients(rho), [t / 2 for t in _tables(povm, n, False)])


def reconstruct_density_matrix(q: np.ndarray, povm: POVM) -> np.ndarray:
    """ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} from a table q over all K^N strings (lexicographic),
    D the dual frame of each site's POVM.  With q = P exact and IC POVMs it returns ρ; an
    unconstrained q (a model, or frequencies) can give negative eigenvalues; for a non-IC
    POVM it is the projection of ρ onto the span of the elements.

    >>> from qgen.measurements import tetra
    >>> np.allclose(reconstruct_density_matrix(np.full(16, 1 / 16), tetra()), np.eye(4) / 4)
    True
    """
    q = np.asarray(q, dtype=np.float64).ravel()
    n = _table_sites(povm, q.size, "the probability table")
    return density_from_pauli(_mode_products(q, [t.T for t in _tables(povm, n, True)]))


def _dense_sites(k: int, n: int, u: int) -> int:
    """L minimising K^L·4^(N−L) (the dense table after L sites) + U·4^(N−L) (per string)."""
    return int(np.argmin([(k**s + u) * 4 ** (n - s) for s in range(n + 1)]))


class StringFrame:
    """The frame maps on a fixed set of U outcome strings a_u (the observed ones):

        probabilities(ρ)[u] = Tr[(X_1^{a_u1}⊗…⊗X_N^{a_uN}) ρ],
        weighted_sum(w)     = Σ_u w_u X_1^{a_u1}⊗…⊗X_N^{a_uN},

    X = the POVM elements M, or with ``duals=True`` the dual frame D (then
    ``weighted_sum`` of the frequencies is linear inversion).  The first L sites are
    contracted densely over all K^L outcomes, the other N − L string by string, L
    minimising (K^L + U)·4^(N−L): time and memory ~ (K^L + U)·4^(N−L) + 4^N, not K^N.

    >>> from qgen.measurements import tetra
    >>> frame = StringFrame(np.indices((4, 4)).reshape(2, -1).T, tetra())   # all 16 strings
    >>> np.allclose(frame.weighted_sum(np.ones(16)), np.eye(4))              # Σ_a M^a = I
    True
    """

    def __init__(self, strings: np.ndarray, povm: POVM, *, duals: bool = False) -> None:
        x = np.asarray(strings)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0 or not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"strings must be a non-empty integer (U, N) array, got {x.dtype} of shape {x.shape}")
        n, u = x.shape[1], x.shape[0]
        k = povm.n_outcomes
        if x.min() < 0 or x.max() >= k:
            raise ValueError(f"outcomes must lie in [0, {k - 1}] for a {k}-outcome POVM")
        tables = _tables(povm, n, duals)
        L = _dense_sites(k, n, u)
        self.n_qubits, self.n_strings, self._k, self._dense = n, u, k, tables[:L]
        self._rows = [t[x[:, j]] for j, t in enumerate(tables) if j >= L]  # (U, 4) per string-by-string site
        self._prefix = x[:, :L].astype(np.int64) @ (k ** np.arange(L - 1, -1, -1, dtype=np.int64))
        self._scatter = scipy.sparse.csr_array((np.ones(u), (self._prefix, np.arange(u))), shape=(k**L, u))

    @staticmethod
    def nbytes(n_strings: int, n_qubits: int, n_outcomes: int) -> int:
        """Peak memory of the maps (and of ~10 matrices 2^N × 2^N of their callers), bytes.

        >>> StringFrame.nbytes(30_000, 8, 6) < 2**26
        True
        """
        k, n, u = n_outcomes, n_qubits, n_strings
        s = _dense_sites(k, n, u)
        widest = max(k**i * 4 ** (n - i) for i in range(s + 1))
        return 16 * widest + 24 * (k**s + u) * 4 ** (n - s) + 160 * 4**n

    def probabilities(self, rho: np.ndarray) -> np.ndarray:
        """Tr[(X^{a_u1}⊗…⊗X^{a_uN}) ρ] for every string, (U,); real part, for Hermitian ρ."""
        rho = np.asarray(rho)
        if rho.shape != (2**self.n_qubits,) * 2:
            raise ValueError(f"ρ must be {2**self.n_qubits} × {2**self.n_qubits}, got shape {rho.shape}")
        t = _mode_products(pauli_coefficients(rho), [m / 2 for m in self._dense])  # (P_L…P_N−1, a_0…a_L−1)
        g = t.reshape(-1, self._k ** len(self._dense))[:, self._prefix]  # (4^(N−L), U)
        for row in self._rows:
            g = np.einsum("kru,uk->ru", g.reshape(4, -1, self.n_strings), row / 2)
        return g[0]

    def weighted_sum(self, w: np.ndarray) -> np.ndarray:
        """Σ_u w_u X^{a_u1}⊗…⊗X^{a_uN}, a 2^N × 2^N matrix (the adjoint of
        :meth:`probabilities`)."""
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.n_strings,):
            raise ValueError(f"need one weight per string, shape ({self.n_strings},), got {w.shape}")
        e = w[None, :]
        for row in reversed(self._rows):  # e[(P_L…P_N−1), u] = w_u Π_{j ≥ L} X_j[a_uj, P_j]
            e = (row.T[:, None, :] * e[None]).reshape(-1, self.n_strings)
        table = self._scatter @ e.T  # summed over the strings of each prefix: (a_0…a_L−1, P_L…P_N−1)
        t = _mode_products(table, [m.T for m in self._dense])  # (P_L…P_N−1, P_0…P_L−1)
        return density_from_pauli(t.reshape(e.shape[0], -1).T)
