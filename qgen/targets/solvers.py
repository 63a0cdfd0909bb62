"""The eigensolvers behind :mod:`qgen.targets.groundstate`, and their result type.

* exact: the lowest eigenvector of the sparse matrix of H (``scipy.sparse.linalg.eigsh``,
  dense ``eigh`` below 512 states), optionally with a projector penalty;
* DMRG: quimb's two-site DMRG on the exact MPO of H, with recorded discarded weights and
  projector penalties for excited states.

Both return a :class:`GroundState` whose energy and variance are recomputed from the
returned state.

Example
-------
>>> from qgen.targets import tfim
>>> gs = exact_ground_state(tfim(6, h=1.0), seed=0)
>>> gs.method, round(gs.energy, 6)
('exact', -7.29623)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
from scipy import sparse

from qgen.targets.builders import random_mps
from qgen.targets.hamiltonians import Hamiltonian
from qgen.targets.states import MPS, DenseState

__all__ = [
    "GroundState", "QUIMB_DMRG_HOOKS", "dmrg", "exact_ground_state", "exact_result", "lowest_eigenvector",
    "mps_energy_variance", "sparse_matrix",
]


_DENSE_EIGH_MAX_DIM = 512


@dataclass(frozen=True, eq=False)
class GroundState:
    """Result of :func:`ground_state`.

    Attributes
    ----------
    state : ``DenseState`` (exact) or right-canonical ``MPS`` (dmrg).
    energy : ⟨ψ|H|ψ⟩ recomputed from ``state``.
    variance : ⟨ψ|H²|ψ⟩ − ⟨ψ|H|ψ⟩² ≥ 0, the convergence certificate (0 for an eigenstate).
    method : ``"exact"`` or ``"dmrg"``.
    bond_dim : largest MPS bond dimension for dmrg; ``None`` for exact (no MPS).
    truncation_error : largest discarded weight Σ s²_discarded / Σ s² over the two-site
        updates of the final DMRG sweep (resolution ~1e-15); 0.0 for exact.
    n_sweeps : DMRG sweeps performed (0 for exact).
    converged : DMRG energy change of the last sweep below ``tol``; always True for exact.
    """

    state: MPS | DenseState
    energy: float
    variance: float
    method: str
    bond_dim: int | None
    truncation_error: float
    n_sweeps: int
    converged: bool

    def summary(self) -> str:
        """One line, e.g. ``dmrg: E = -63.3011891535 var = 1.4e-08 chi = 19 trunc = 9.6e-12
        sweeps = 8 converged``."""
        chi = "" if self.bond_dim is None else f" chi = {self.bond_dim}"
        status = "converged" if self.converged else "NOT converged"
        return (
            f"{self.method}: E = {self.energy:.12g} var = {self.variance:.2g}{chi}"
            f" trunc = {self.truncation_error:.2g} sweeps = {self.n_sweeps} {status}"
        )


def sparse_matrix(H: Hamiltonian) -> sparse.csr_matrix:
    mat = H.to_qobj().data_as("csr_matrix")
    return mat.real.tocsr() if H.is_real else mat


def lowest_eigenvector(mat: sparse.spmatrix, seed: int, penalty: np.ndarray | None = None,
                       weight: float = 0.0) -> np.ndarray:
    """Lowest eigenvector of the sparse Hermitian ``mat`` (+ ``weight`` |p⟩⟨p| with p =
    ``penalty``): dense ``eigh`` up to 512 states, else ARPACK ``eigsh(which="SA")`` from
    a seeded start vector (it raises ArpackNoConvergence rather than returning an
    unconverged vector)."""
    dim = mat.shape[0]
    if dim <= _DENSE_EIGH_MAX_DIM:
        dense = mat.toarray()
        if penalty is not None:
            dense = dense + weight * np.outer(penalty, penalty.conj())
        return np.linalg.eigh(dense)[1][:, 0]
    op = mat
    if penalty is not None:
        op = spla.LinearOperator(mat.shape, dtype=np.result_type(mat.dtype, penalty.dtype),
                                 matvec=lambda x: mat @ x + weight * penalty * np.vdot(penalty, x))
    v0 = np.random.default_rng(seed).normal(size=dim).astype(op.dtype)
    return spla.eigsh(op, k=1, which="SA", v0=v0)[1][:, 0]


def exact_result(mat: sparse.spmatrix, psi: np.ndarray) -> GroundState:
    psi = psi / np.linalg.norm(psi)
    h_psi = mat @ psi
    energy = float(np.vdot(psi, h_psi).real)
    variance = float(np.linalg.norm(h_psi - energy * psi) ** 2)
    return GroundState(DenseState(psi), energy, variance, "exact", None, 0.0, 0, True)


def exact_ground_state(H: Hamiltonian, seed: int) -> GroundState:
    mat = sparse_matrix(H)
    return exact_result(mat, lowest_eigenvector(mat, seed))


QUIMB_DMRG_HOOKS = {
    "_update_local_state": ("self", "i", "update_opts"),
    "_update_local_state_2site": ("self", "i", "direction", "compress_opts"),
    "form_local_ops": ("self", "i", "dims", "lix", "uix"),
    "sweep": ("self", "direction", "canonize", "verbosity", "update_opts"),
}
"""The methods of ``quimb.tensor.DMRG2`` that :func:`dmrg` overrides, with their parameter
names; besides them it reads the solver's ``_k`` (ket), ``_b`` (bra), ``ham``,
``energies`` and ``opts``."""


def dmrg(
    H: Hamiltonian,
    bond_dims: tuple[int, ...],
    cutoff: float,
    tol: float,
    max_sweeps: int,
    seed: int,
    penalty: tuple[MPS, ...] = (),
    weight: float = 0.0,
) -> GroundState:
    """Two-site DMRG of H + weight Σ_p |p⟩⟨p| (``penalty``: states to stay orthogonal
    to); the returned energy and variance are those of H alone."""
    import quimb.tensor as qtn

    class _DMRG2(qtn.DMRG2):
        """quimb's DMRG2 recording the discarded weight of every two-site update (the
        local ground state has unit norm, so 1 − ‖A_i A_{i+1}‖² after the truncated
        split), with optional projector penalties: the two-site effective Hamiltonian
        gets + w |φ⟩⟨φ| with φ the projection of a penalty state |p⟩ onto the current
        two-site space, ⟨ψ|p⟩ contracted through overlap environments that move with
        the sweep like the energy environments.

        What this relies on beyond quimb's public API is exactly :data:`QUIMB_DMRG_HOOKS`:
        the solver's ket and bra (``_k``, ``_b``) and the per-site update
        ``_update_local_state[_2site]``; tests/test_groundstate.py checks that quimb still
        has them with these signatures."""

        def sweep(self, direction: str, canonize: bool = True, verbosity: int = 0, **update_opts: Any) -> Any:
            self.discarded = []
            if penalty:
                if canonize:  # the overlap environments must see the canonized state
                    {"R": self._k.right_canonize, "L": self._k.left_canonize}[direction](bra=self._b)
                    canonize = False
                begin = "left" if direction == "R" else "right"
                self.overlaps = [qtn.MovingEnvironment(self._b | p, begin=begin, bsz=2) for p in kets]
            return super().sweep(direction, canonize, verbosity, **update_opts)

        def _update_local_state(self, i: int, **update_opts: Any) -> Any:
            for env in self.overlaps if penalty else ():
                env.move_to(i)
            return super()._update_local_state(i, **update_opts)

        def form_local_ops(self, i: int, dims: Any, lix: Any, uix: Any) -> tuple[Any, Any]:
            heff, neff = super().form_local_ops(i, dims, lix, uix)
            if not penalty:
                return heff, neff
            phis = [(env().select("_PENALTY") ^ all).to_dense(lix) for env in self.overlaps]
            if isinstance(heff, np.ndarray):
                return heff + weight * sum(np.outer(f, f.conj()) for f in phis), neff
            dtype = np.result_type(heff.dtype, *phis)

            def matvec(x: np.ndarray) -> np.ndarray:
                x = np.asarray(x).reshape(-1)
                return weight * sum(f * np.vdot(f, x) for f in phis)

            return heff + spla.LinearOperator(heff.shape, matvec=matvec, dtype=dtype), neff

        def _update_local_state_2site(self, i: int, direction: str, **compress_opts: Any) -> Any:
            out = super()._update_local_state_2site(i, direction, **compress_opts)
            kept = qtn.tensor_contract(self._k[i], self._k[i + 1]).norm() ** 2
            self.discarded.append(max(0.0, 1.0 - kept))
            return out

    p0 = random_mps(H.n_qubits, bond_dims[0], seed=seed, real=H.is_real).to_quimb()
    # quimb's DMRG contracts the ket with the MPO's upper (row) index, i.e. minimises
    # ⟨ψ|Mᵀ|ψ⟩; Mᵀ = H needs M = conj(H) (a no-op for real H)
    mpo = H.to_mpo().conj()
    solver = _DMRG2(mpo, bond_dims=list(bond_dims), cutoffs=cutoff, p0=p0)
    kets = []
    for p in penalty:
        ket = p.to_quimb().reindex_sites(solver.ham.lower_ind_id)  # the bra's indices
        ket.add_tag("_PENALTY")
        kets.append(ket)
    if penalty:
        solver.opts["local_eig_tol"] = 1e-9
    converged = solver.solve(tol=tol, max_sweeps=max_sweeps, sweep_sequence="RL")
    state = MPS.from_quimb(solver.state).right_canonical()
    discarded, n_sweeps = float(max(solver.discarded, default=0.0)), len(solver.energies)
    del solver  # free the environments before the variance's own (χ, D, D, χ) ones
    energy, variance = mps_energy_variance(H, state)
    return GroundState(state, energy, variance, "dmrg", state.max_bond, discarded, n_sweeps, bool(converged))


def mps_energy_variance(H: Hamiltonian, state: MPS) -> tuple[float, float]:
    """E = ⟨ψ|H|ψ⟩ and ⟨ψ|(H − E)²|ψ⟩ − ⟨ψ|H − E|ψ⟩² for a normalised MPS, by contracting
    ψ*, the exact MPO of H − E (twice) and ψ site by site (a "zipper": the environment
    has shape (χ, D, D, χ), memory 8 D²χ² complex numbers at most, χ³D² operations per
    site).  The square of H − E rather than ⟨H²⟩ − E² avoids cancellation and resolves
    variances down to ~1e-12 for N = 50; H|ψ⟩ is never formed (its bond dimension Dχ
    would need N (Dχ)² amplitudes: 56 GB at N = 64, χ = 256, D = 29)."""
    energy = _sandwich(state, [_mpo_arrays(H)])
    shifted = _mpo_arrays(H + Hamiltonian(H.n_qubits, ((-energy, "", ()),)))
    residual = _sandwich(state, [shifted])  # ⟨H⟩ − E, ~1e-14
    variance = _sandwich(state, [shifted, shifted]) - residual**2
    return energy, max(variance, 0.0)


def _mpo_arrays(H: Hamiltonian) -> list[np.ndarray]:
    """The site arrays (left, right, row, column) of :meth:`Hamiltonian.to_mpo`, with
    size-1 outer bonds."""
    mpo = H.to_mpo()
    n, out = mpo.L, []
    for i in range(n):
        left = [mpo.bond(i - 1, i)] if i > 0 else []
        right = [mpo.bond(i, i + 1)] if i < n - 1 else []
        a = mpo[i].transpose(*left, *right, mpo.upper_ind(i), mpo.lower_ind(i)).data
        out.append(a.reshape((a.shape[0] if left else 1, a.shape[len(left)] if right else 1, 2, 2)))
    return out


def _sandwich(state: MPS, layers: list[list[np.ndarray]]) -> float:
    """Re ⟨ψ|W_1 ⋯ W_k|ψ⟩ for MPOs W_j (arrays of :func:`_mpo_arrays`, W_1 next to the
    bra), one site at a time: env[a, w_1..w_k, b] absorbs the ket tensor, each MPO from
    the ket side up, then the conjugate bra tensor."""
    k = len(layers)
    env = np.ones((1,) * (k + 2))
    for i, a in enumerate(state.tensors):
        t = np.tensordot(env, a, axes=(k + 1, 0))  # (a, w_1..w_k, s, b')
        for j in range(k - 1, -1, -1):  # W_k acts first; its row index becomes the next s
            w = layers[j][i]  # (w, w', row, col)
            t = np.tensordot(t, w, axes=([1 + j, k + 1], [0, 3]))  # (a, w.., s.., b', w', row)
            t = np.moveaxis(t, [-2, -1], [1 + j, k + 1])  # back to (a, w_1..w_k, s, b')
        env = np.tensordot(a.conj(), t, axes=([0, 1], [0, k + 1]))  # (a', w_1..w_k, b')
    return float(np.real(env.reshape(-1)[0]))
