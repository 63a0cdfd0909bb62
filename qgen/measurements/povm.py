"""Single-qubit POVMs, their overlap matrix and dual frame.

A POVM is a set of K positive operators M^a on one qubit with Σ_a M^a = I; measuring
every qubit gives outcome strings a = (a_1 … a_N) with probability
P(a) = Tr[(M^{a_1} ⊗ … ⊗ M^{a_N}) ρ].  For an informationally complete (IC) POVM the
overlap matrix T_ab = Tr(M^a M^b) has rank 4 and ρ = Σ_a P(a) D^{a_1} ⊗ … ⊗ D^{a_N}
with the dual operators D^a = Σ_b (T⁺)_ab M^b (Carrasquilla et al., Nat. Mach. Intell.
1, 155 (2019), eqs. 1–3; T⁺ is the pseudo-inverse, the canonical dual frame when K > 4).

Example
-------
>>> p = pauli4()
>>> p.n_outcomes, p.is_ic
(4, True)
>>> rho = np.array([[0.7, 0.1j], [-0.1j, 0.3]])
>>> probs = p.probabilities(rho)
>>> np.allclose(np.einsum("a,aij->ij", probs, p.duals), rho)
True
>>> POVM.from_dict(p.to_dict()).name
'pauli4'
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike

from qgen.targets.hamiltonians import PAULI

__all__ = ["POVM", "POVMError", "pauli4", "tetra", "pauli6", "trine", "get_povm", "POVM_NAMES"]

class POVMError(ValueError):
    """A set of matrices that is not a valid POVM."""


def _proj(v: ArrayLike) -> np.ndarray:
    v = np.asarray(v, dtype=complex)
    v = v / np.linalg.norm(v)
    return np.outer(v, v.conj())


@dataclass(frozen=True, eq=False)
class POVM:
    """A validated single-qubit POVM, the same on every qubit or one per qubit.

    Parameters
    ----------
    name : label stored with datasets (``"pauli4"``, ``"tetra"``, … or any custom name).
    elements : array ``(K, 2, 2)`` (every qubit measured alike) or ``(N, K, 2, 2)`` (qubit
        i measured with ``elements[i]``: a device's readout-corrected POVMs, see
        :mod:`qgen.measurements.readout`); each element Hermitian, positive semidefinite,
        summing to I on every qubit.
    atol : tolerance of the checks.

    The derived arrays (``overlap``, ``duals``, ``pauli_table``) carry the same leading
    qubit axis as ``elements`` when there is one.
    """

    name: str
    elements: np.ndarray
    atol: float = 1e-8

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise POVMError(f"a POVM's name must be a non-empty string, got {self.name!r}")
        atol = self.atol
        if isinstance(atol, bool) or not isinstance(atol, numbers.Real) or not 0 <= atol < 1:
            raise POVMError(f"POVM '{self.name}': tolerance atol must be a number in [0, 1), got {atol!r}")
        try:
            m = np.asarray(self.elements, dtype=complex)
        except (TypeError, ValueError) as e:
            raise POVMError(f"POVM '{self.name}': elements are not an array of numbers "
                            f"({str(e).splitlines()[0]})") from None
        if m.ndim not in (3, 4) or m.shape[-2:] != (2, 2) or m.shape[-3] < 2 or (m.ndim == 4 and not len(m)):
            raise POVMError(f"POVM '{self.name}': elements must have shape (K≥2, 2, 2) or (N≥1, K≥2, 2, 2), "
                            f"got {m.shape}")
        if m.shape[-3] > 255:
            raise POVMError(f"POVM '{self.name}': at most 255 outcomes (stored as uint8)")
        if not np.all(np.isfinite(m)):
            raise POVMError(f"POVM '{self.name}': elements contain NaN or infinite entries")
        where = (lambda idx: f"qubit {idx[0]}, element {idx[1]}") if m.ndim == 4 else (lambda idx: f"element {idx[0]}")
        herm_err = np.abs(m - m.conj().swapaxes(-1, -2)).max()
        if herm_err > self.atol:
            raise POVMError(f"POVM '{self.name}': element(s) not Hermitian (error {herm_err:.2e})")
        m = (m + m.conj().swapaxes(-1, -2)) / 2
        min_eig = np.linalg.eigvalsh(m)[..., 0]
        if min_eig.min() < -self.atol:
            bad = np.unravel_index(np.argmin(min_eig), min_eig.shape)
            raise POVMError(f"POVM '{self.name}': {where(bad)} is not positive semidefinite "
                            f"(eigenvalue {min_eig[bad]:.3g})")
        sum_err = np.abs(m.sum(axis=-3) - np.eye(2)).max()
        if sum_err > self.atol:
            raise POVMError(f"POVM '{self.name}': elements do not sum to the identity (error {sum_err:.2e})")
        object.__setattr__(self, "elements", m)

    @property
    def n_outcomes(self) -> int:
        return self.elements.shape[-3]

    @property
    def per_qubit(self) -> bool:
        """True when each qubit has its own POVM (``elements`` of shape (N, K, 2, 2))."""
        return self.elements.ndim == 4

    @property
    def n_sites(self) -> int | None:
        """N for a per-qubit POVM, None for one that fits any number of qubits."""
        return len(self.elements) if self.per_qubit else None

    def check_sites(self, n_qubits: int) -> None:
        """A one-line error unless this POVM can measure ``n_qubits`` qubits."""
        if self.per_qubit and self.n_sites != n_qubits:
            raise POVMError(f"POVM '{self.name}' has elements for {self.n_sites} qubits, not {n_qubits}")

    def site_elements(self, n_qubits: int) -> np.ndarray:
        """The elements of every qubit, (N, K, 2, 2)."""
        self.check_sites(n_qubits)
        return self.elements if self.per_qubit else np.broadcast_to(self.elements, (n_qubits, *self.elements.shape))

    def site(self, i: int) -> POVM:
        """The POVM of qubit i (itself when the same on every qubit)."""
        return POVM(f"{self.name}[{i}]", self.elements[i], self.atol) if self.per_qubit else self

    @cached_property
    def overlap(self) -> np.ndarray:
        """T_ab = Tr(M^a M^b), real symmetric (K, K) (per qubit: (N, K, K))."""
        return np.einsum("...aij,...bji->...ab", self.elements, self.elements).real

    @cached_property
    def is_ic(self) -> bool:
        """Informationally complete: rank T = 4 (the operators span all 2×2 matrices) on every qubit."""
        return bool(np.all(np.linalg.matrix_rank(self.overlap, tol=1e-10) == 4))

    @cached_property
    def duals(self) -> np.ndarray:
        """Dual operators D^a = Σ_b (T⁺)_ab M^b, shape (K, 2, 2) (per qubit: (N, K, 2, 2)).

        For an IC POVM, ρ = Σ_a Tr(M^a ρ) D^a exactly; otherwise this reconstructs only
        the projection of ρ onto the span of the M^a.
        """
        return np.einsum("...ab,...bij->...aij", np.linalg.pinv(self.overlap, rcond=1e-12), self.elements)

    @cached_property
    def pauli_table(self) -> np.ndarray:
        """Q[a, k] = Tr(σ_k D^a), real (K, 4) (per qubit: (N, K, 4)): the single-site
        dual-frame estimator of Pauli k = I, X, Y, Z from outcome a.  E_a[Q[a, k]] =
        Tr(σ_k ρ) for IC POVMs."""
        return np.einsum("kij,...aji->...ak", PAULI, self.duals).real

    def probabilities(self, rho: np.ndarray) -> np.ndarray:
        """P(a) = Tr(M^a ρ) for a single-qubit density matrix (per qubit: (N, K), each
        qubit's POVM on the same ρ)."""
        return np.einsum("...aij,ji->...a", self.elements, np.asarray(rho)).real

    def to_dict(self) -> dict:
        """JSON form: the name and the real and imaginary parts of the elements."""
        return {"name": self.name, "real": self.elements.real.tolist(), "imag": self.elements.imag.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> POVM:
        """Inverse of :meth:`to_dict`, validated like any POVM (a :class:`POVMError` if not one)."""
        try:
            elements = np.asarray(d["real"], dtype=float) + 1j * np.asarray(d["imag"], dtype=float)
        except (KeyError, TypeError, ValueError) as e:
            raise POVMError(f"not a stored POVM ({type(e).__name__}: {str(e)[:80]})") from None
        return cls(str(d.get("name", "custom")), elements)

    def describe(self) -> str:
        ic = "informationally complete" if self.is_ic else "NOT informationally complete"
        sites = f", one per qubit ({self.n_sites} qubits)" if self.per_qubit else ""
        return f"{self.name}: {self.n_outcomes} outcomes{sites}, {ic}"


def pauli4() -> POVM:
    """M0 = ⅓|0⟩⟨0|, M1 = ⅓|+⟩⟨+|, M2 = ⅓|+i⟩⟨+i|, M3 = I − M0 − M1 − M2
    (the 'Pauli-4' POVM of Carrasquilla et al. 2019)."""
    m = np.array([_proj([1, 0]), _proj([1, 1]), _proj([1, 1j])]) / 3
    return POVM("pauli4", np.concatenate([m, (np.eye(2) - m.sum(0))[None]]))


def tetra() -> POVM:
    """Symmetric IC tetrahedral POVM M^a = ¼(I + s_a·σ), with s_0 = (0, 0, 1) and
    s_k = (2√2/3 cos φ_k, 2√2/3 sin φ_k, −1/3), φ_k = 0, 2π/3, 4π/3."""
    phis = [0, 2 * np.pi / 3, 4 * np.pi / 3]
    s = [(0.0, 0.0, 1.0)] + [(2 * np.sqrt(2) / 3 * np.cos(p), 2 * np.sqrt(2) / 3 * np.sin(p), -1 / 3) for p in phis]
    m = np.array([(PAULI[0] + np.einsum("k,kij->ij", v, PAULI[1:])) / 4 for v in s])
    return POVM("tetra", m)


def pauli6() -> POVM:
    """Random Pauli-basis measurement: basis Z, X or Y with probability ⅓ each, then its
    eigenstates.  Outcomes 0…5 = ⅓ × (|0⟩⟨0|, |1⟩⟨1|, |+⟩⟨+|, |−⟩⟨−|, |+i⟩⟨+i|, |−i⟩⟨−i|),
    i.e. outcome = 2·basis + bit with basis Z=0, X=1, Y=2 and bit 0 for eigenvalue +1."""
    vecs = [[1, 0], [0, 1], [1, 1], [1, -1], [1, 1j], [1, -1j]]
    return POVM("pauli6", np.array([_proj(v) for v in vecs]) / 3)


def trine() -> POVM:
    """Trine POVM M^k = ⅔|ψ_k⟩⟨ψ_k|, ψ_k = cos(2πk/3)|0⟩ + sin(2πk/3)|1⟩.  Real, rank-3
    overlap: NOT informationally complete for states with complex amplitudes
    (``is_ic`` is False); it determines only the real part of ρ."""
    m = np.array([_proj([np.cos(2 * np.pi * k / 3), np.sin(2 * np.pi * k / 3)]) for k in range(3)])
    return POVM("trine", 2 * m / 3)


_REGISTRY = {"pauli4": pauli4, "tetra": tetra, "pauli6": pauli6, "trine": trine}
_ALIASES = {"tetrahedral": "tetra", "sic": "tetra", "pauli-4": "pauli4", "pauli-6": "pauli6"}
POVM_NAMES = tuple(_REGISTRY)


def get_povm(name: str) -> POVM:
    """The named POVM: one of ``pauli4``, ``tetra`` (alias ``tetrahedral``, ``sic``),
    ``pauli6``, ``trine``."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _REGISTRY:
        raise POVMError(f"unknown POVM '{name}'; choose one of {', '.join(POVM_NAMES)}")
    return _REGISTRY[key]()
