"""Exact scores by enumerating all K^N outcome strings (K^N ≤ 4^12): F_c, both KL
divergences, and the reconstruction ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} with its fidelity,
trace and smallest eigenvalue.

Example
-------
>>> from qgen.targets import ghz
>>> from qgen.measurements import tetra
>>> from qgen.measurements import probabilities
>>> p = probabilities(ghz(2), tetra()).ravel()
>>> s = exact_scores(np.log(p), ghz(2), tetra())
>>> round(s["classical_fidelity"].mean, 12), round(s["quantum_fidelity"].mean, 12)
(1.0, 1.0)
"""

from __future__ import annotations

import numpy as np

from qgen.measurements.contract import DENSE_TABLE_MAX
from qgen.measurements.frames import reconstruct_density_matrix
from qgen.measurements.povm import POVM
from qgen.measurements.sampling import probabilities
from qgen.scores.densities import project_to_density_matrix, state_fidelity
from qgen.stats import Estimate
from qgen.targets.states import DENSE_MAX_QUBITS, MPS, DenseState, State

__all__ = ["enumerate_strings", "exact_scores", "EIGEN_MAX_QUBITS", "DENSE_MAX_QUBITS"]


EIGEN_MAX_QUBITS = 10
"""Largest N for which the 2^N × 2^N reconstruction is diagonalised (its smallest
eigenvalue, the projection onto the density matrices)."""


# -- exact scores by enumeration ------------------------------------------------------


def enumerate_strings(k: int, n: int) -> np.ndarray:
    """All K^N outcome strings in lexicographic order (as ``itertools.product(range(k),
    repeat=n)``), ``uint8 (K^N, N)``.

    >>> enumerate_strings(2, 2).tolist()
    [[0, 0], [0, 1], [1, 0], [1, 1]]
    """
    if not 2 <= k <= 255 or k**n > DENSE_TABLE_MAX:
        raise ValueError(f"cannot enumerate {k}^{n} strings (K ≤ 255, K^N ≤ {DENSE_TABLE_MAX})")
    return np.indices((k,) * n, dtype=np.uint8).reshape(n, -1).T


def _target_rho(state: State) -> np.ndarray:
    if isinstance(state, MPS):
        state = DenseState(state.to_dense(), noise=state.noise)
    return state.density_matrix()


def _exact(value: float, n: int, note: str = "exact") -> Estimate:
    return Estimate(value, 0.0, n, note)


def _exact_kl(lp: np.ndarray, lq: np.ndarray, n: int) -> Estimate:
    """Σ_{p>0} p (ln p − ln q); infinite if q = 0 somewhere p > 0."""
    support = lp > -np.inf
    if np.any(lq[support] == -np.inf):
        zeros = int(np.sum(lq[support] == -np.inf))
        return _exact(np.inf, n, f"exact; infinite: q = 0 on {zeros} strings where p > 0")
    return _exact(float(np.sum(np.exp(lp[support]) * (lp[support] - lq[support]))), n)


def exact_scores(model_logp_all: np.ndarray, state: State, povm: POVM,
                 rho_q: np.ndarray | None = None) -> dict[str, Estimate]:
    """Exact scores by enumeration of all K^N strings (K^N ≤ 4^12).

    ``model_logp_all`` is ln q over all strings in lexicographic order (see
    :func:`enumerate_strings`); P comes from :func:`qgen.measurements.probabilities`;
    ``rho_q`` is the reconstruction when the caller already has it.
    Returns exact :class:`Estimate` values (stderr 0, note "exact") under the keys

    * ``classical_fidelity``: F_c = Σ_a √(q(a) P(a));
    * ``kl_target_model``: KL(P‖q) = Σ P ln(P/q); ``kl_model_target``: KL(q‖P);
    * ``quantum_fidelity`` of ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} with the target: ⟨ψ|ρ_q|ψ⟩
      for a pure target (no projection, matching the sampled estimator); for a mixed
      target the Uhlmann fidelity (Tr√(√ρ σ √ρ))² (Jozsa 1994) with σ = ρ_q projected
      onto the density matrices (:func:`qgen.scores.project_to_density_matrix`) — the
      note says which;
      unavailable for non-IC POVMs;
    * ``trace``: Tr ρ_q (= Σ_a q(a), 1 for a normalised model);
    * ``min_eigenvalue``: smallest eigenvalue of ρ_q (negative: unphysical reconstruction), for
      N ≤ :data:`EIGEN_MAX_QUBITS`.

    >>> from qgen.targets import ghz
    >>> from qgen.measurements import tetra
    >>> p = probabilities(ghz(2), tetra()).ravel()
    >>> s = exact_scores(np.log(p), ghz(2), tetra())
    >>> round(s["classical_fidelity"].mean, 12), round(s["quantum_fidelity"].mean, 12)
    (1.0, 1.0)
    """
    lq = np.asarray(model_logp_all, dtype=np.float64).ravel()
    k, n_q = povm.n_outcomes, state.n_qubits
    size = k**n_q
    if lq.size != size:
        raise ValueError(f"need ln q of all {k}^{n_q} = {size} strings, got {lq.size}")
    if np.isnan(lq).any():
        reason = f"ln q is NaN on {int(np.isnan(lq).sum())} strings"
        return {key: Estimate.unavailable(reason) for key in
                ("classical_fidelity", "kl_target_model", "kl_model_target", "quantum_fidelity", "trace",
                 "min_eigenvalue")}
    p = probabilities(state, povm).ravel()
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    q = np.exp(lq)
    out = {
        "classical_fidelity": _exact(float(np.sum(np.sqrt(q * p))), size),
        "kl_target_model": _exact_kl(lp, lq, size),
        "kl_model_target": _exact_kl(lq, lp, size),
    }
    if n_q > DENSE_MAX_QUBITS:
        why = f"N = {n_q} > {DENSE_MAX_QUBITS}: ρ_q is not built"
        return out | {"quantum_fidelity": Estimate.unavailable(why), "trace": _exact(float(q.sum()), size),
                      "min_eigenvalue": Estimate.unavailable(why)}
    if rho_q is None:
        rho_q = reconstruct_density_matrix(q, povm)
    if not povm.is_ic:
        out["quantum_fidelity"] = Estimate.unavailable(
            f"POVM '{povm.name}' is not informationally complete: ρ_q is only a projection")
    elif state.is_pure:
        psi = state.to_dense()
        psi = psi / np.linalg.norm(psi)
        out["quantum_fidelity"] = _exact(float((psi.conj() @ rho_q @ psi).real), size, "exact; ⟨ψ|ρ_q|ψ⟩ (pure target)")
    elif n_q > EIGEN_MAX_QUBITS:
        out["quantum_fidelity"] = Estimate.unavailable(
            f"mixed target at N = {n_q} > {EIGEN_MAX_QUBITS}: the Uhlmann fidelity needs an eigendecomposition")
    else:
        f = state_fidelity(_target_rho(state), project_to_density_matrix(rho_q))
        out["quantum_fidelity"] = _exact(f, size, "exact; Uhlmann (Tr√(√ρ σ √ρ))², σ = ρ_q projected onto the states")
    out["trace"] = _exact(float(np.trace(rho_q).real), size)
    out["min_eigenvalue"] = (
        _exact(float(np.linalg.eigvalsh((rho_q + rho_q.conj().T) / 2)[0]), size) if n_q <= EIGEN_MAX_QUBITS
        else Estimate.unavailable(f"N = {n_q} > {EIGEN_MAX_QUBITS}: ρ_q is not diagonalised"))
    return out
