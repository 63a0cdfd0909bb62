"""Targets: a state to measure together with what is known about it (its Hamiltonian,
the ground-state certificate), built from a short recipe or from your own Hamiltonian
(:func:`target_from_hamiltonian`).

Example
-------
>>> from qgen.targets import make_target
>>> t = make_target("ghz", n=4, noise=0.1)
>>> t.describe()
'ghz n=4 noise=0.1 (MPS, max bond 2)'
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qgen.resources import check_memory, estimate_dmrg, estimate_exact_ground_state
from qgen.targets.groundstate import AUTO_EXACT_MAX_QUBITS, ground_state
from qgen.targets.hamiltonians import Hamiltonian
from qgen.targets.solvers import GroundState
from qgen.targets.states import MPS, DenseState, Noise, State, noise_text

__all__ = ["Target", "ground_state_info", "target_from_hamiltonian"]


@dataclass(frozen=True, eq=False)
class Target:
    """A target state and its provenance.

    Attributes
    ----------
    state : the state measured (MPS or DenseState, noise included).
    name : recipe name (``"tfim"``, ``"ghz"``, …, or ``"custom"``).
    params : the recipe's parameters (JSON-serialisable).
    hamiltonian : the parent Hamiltonian of a ground state, else None.
    info : ground-state certificate (method, energy, variance, bond_dim,
        truncation_error, n_sweeps, converged), empty for named states; ``info["gap"]``
        (:meth:`qgen.groundstate.SpectralGap.to_dict`) once :mod:`qgen.certificate` has
        computed the first excited energy.
    """

    state: State
    name: str = "custom"
    params: dict = field(default_factory=dict)
    hamiltonian: Hamiltonian | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse what no measurement can come from: another type of state, a zero or
        non-finite norm, metadata that is not JSON, a Hamiltonian on other qubits."""
        if not isinstance(self.state, (MPS, DenseState)):
            raise ValueError(f"a target's state must be an MPS or a DenseState, got {type(self.state).__name__}")
        if isinstance(self.state, MPS):
            _check_mps_norm(self.state)
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a target's name must be a non-empty string, got {self.name!r}")
        for key in ("params", "info"):
            value = getattr(self, key)
            if not isinstance(value, dict):
                raise ValueError(f"target {key} must be a dict, got {type(value).__name__}")
            try:
                json.dumps(value, allow_nan=True)
            except (TypeError, ValueError) as e:
                raise ValueError(f"target {key} are not JSON-serialisable: {e}") from None
        h = self.hamiltonian
        if h is not None and (not isinstance(h, Hamiltonian) or h.n_qubits != self.state.n_qubits):
            what = f"{h.n_qubits} qubits" if isinstance(h, Hamiltonian) else type(h).__name__
            raise ValueError(f"the target's Hamiltonian acts on {what}, the state on {self.state.n_qubits} qubits")

    @property
    def n_qubits(self) -> int:
        return self.state.n_qubits

    @property
    def noise(self) -> Noise:
        return self.state.noise

    def describe(self) -> str:
        kind = f"MPS, max bond {self.state.max_bond}" if isinstance(self.state, MPS) else (
            "dense vector" if self.state.data.ndim == 1 else "density matrix")
        noise = f" noise={noise_text(self.noise)}" if np.any(self.noise) else ""
        return f"{self.name} n={self.n_qubits}{noise} ({kind})"


def _check_mps_norm(mps: MPS) -> None:
    """⟨ψ|ψ⟩ must be positive and finite: a transfer-matrix sweep that rescales the
    environment at every site (so long chains neither underflow nor overflow)."""
    env = np.ones((1, 1))
    for i, a in enumerate(mps.tensors):
        env = np.einsum("ab,asc,bsd->cd", env, a.conj(), a, optimize=True)
        scale = float(np.abs(env).max())
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError(f"the MPS has zero or non-finite norm (its contraction vanishes at site {i})")
        env = env / scale


def _mpo_bond(H: Hamiltonian) -> int:
    """Bond dimension of :meth:`Hamiltonian.to_mpo`: 2 + the most terms spanning one bond."""
    spanning = np.zeros(H.n_qubits + 1, dtype=np.int64)
    for _, _, sites in H.terms:
        if len(sites) > 1:
            spanning[sites[0] + 1] += 1
            spanning[sites[-1] + 1] -= 1
    return 2 + int(np.cumsum(spanning).max(initial=0))


def _check_solver(H: Hamiltonian, method: str, bond_dims: int | Sequence[int], cutoff: float) -> None:
    """Refuse a bad cutoff, and a ground-state computation that cannot fit in memory."""
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and 0 <= cutoff < 1):
        raise ValueError(f"cutoff must be a number in [0, 1), got {cutoff!r}")
    if method == "exact" or (method == "auto" and H.n_qubits <= AUTO_EXACT_MAX_QUBITS):
        check_memory(estimate_exact_ground_state(H), f"exact diagonalisation of {H.n_qubits} qubits")
    elif method in ("auto", "dmrg"):
        dims = [b for b in np.atleast_1d(bond_dims).tolist() if isinstance(b, int) and b > 0]
        chi = max(dims, default=1)
        check_memory(estimate_dmrg(H.n_qubits, chi, _mpo_bond(H)),
                     f"DMRG on {H.n_qubits:,} qubits at bond dimension {chi}")


def ground_state_info(gs: GroundState) -> dict:
    """The JSON certificate of a :class:`qgen.groundstate.GroundState` kept in
    :attr:`Target.info` (method, energy, variance, bond_dim, truncation_error, n_sweeps,
    converged)."""
    return {
        "method": gs.method,
        "energy": gs.energy,
        "variance": gs.variance,
        "bond_dim": gs.bond_dim,
        "truncation_error": gs.truncation_error,
        "n_sweeps": gs.n_sweeps,
        "converged": gs.converged,
    }


def target_from_hamiltonian(
    H: Hamiltonian,
    name: str | None = None,
    *,
    method: str = "auto",
    bond_dims: tuple[int, ...] = (8, 16, 32, 64),
    cutoff: float = 1e-11,
    seed: int | None = 0,
    ground: GroundState | None = None,
) -> Target:
    """The ground state of your own Hamiltonian as a target, with the same certificate in
    ``info`` and the same ``params`` as the named recipes: ``H`` is solved with
    :func:`qgen.groundstate.ground_state` (``method`` = auto | exact | dmrg) unless a
    ``ground`` state of it is given.  ``name`` defaults to ``H.name``.

    >>> from qgen.targets import Hamiltonian
    >>> H = Hamiltonian.from_terms([(-1.0, "ZZ", (i, i + 1)) for i in range(3)]
    ...                            + [(-1.0, "X", (i,)) for i in range(4)], name="my-ising")
    >>> t = target_from_hamiltonian(H)
    >>> t.describe(), round(t.info["energy"], 6)
    ('my-ising n=4 (dense vector)', -4.75877)
    """
    if not isinstance(H, Hamiltonian):
        raise ValueError(f"expected a qgen Hamiltonian, got {type(H).__name__}")
    if ground is None:
        _check_solver(H, method, bond_dims, cutoff)
        ground = ground_state(H, method=method, bond_dims=tuple(bond_dims), cutoff=cutoff, seed=seed)
    elif not isinstance(ground, GroundState) or ground.state.n_qubits != H.n_qubits:
        raise ValueError(f"ground must be a GroundState of {H.n_qubits} qubits")
    return Target(ground.state, name or H.name, dict(H.params), H, ground_state_info(ground))
