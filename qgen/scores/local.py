"""Local fidelities: which qubits went wrong.

For every small set S of qubits — each qubit, each contiguous window of 2 and 3, and every
pair — the fidelity F(ρ_S, ψ_S) = (Tr √(√ρ_S σ_S √ρ_S))² of a reduced state ρ_S with the
target's, σ_S = Tr_{not S} |ψ⟩⟨ψ| of the ideal (pure) target (Jozsa, J. Mod. Opt. 41, 2315
(1994)).  ρ_S comes from

* the raw data, by the dual-frame estimate ρ̂_S = (1/S) Σ_shots ⊗_{i∈S} D_i^{a_i}, made
  positive by :func:`qgen.scores.densities.project_to_density_matrix`; its error bar is
  the spread over multinomial resamplings of the shots' outcome counts on S (the
  bootstrap over the shots);
* the model, exactly when the model holds its state (tensor networks) or its whole
  distribution was enumerated (then ρ_S is a partial trace of ρ_q), else by the same
  estimate from model samples (its error bar then is the sampling error).

A drop of F on the sets that contain qubit i and nowhere else points at qubit i.  σ_S of
an MPS target (and ρ_S of a tensor-network model) is contracted exactly with shared
environments (:func:`qgen.targets.reduced.reduced_states`): all sets together cost O(N²)
transfer steps of O(χ³) at any N.

Example
-------
>>> from qgen.measurements import pauli6, sample
>>> from qgen.targets import depolarize, product_state
>>> target = product_state("+", 4)
>>> x = sample(depolarize(target, (0.0, 0.0, 0.6, 0.0)), pauli6(), 6000, seed=0)
>>> m = data_fidelities(target, pauli6(), x, windows(4, 1), seed=0)
>>> [round(e.mean, 1) for e in m]     # qubit 2 was depolarized
[1.0, 1.0, 0.7, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from qgen.measurements.povm import POVM
from qgen.scores.densities import project_to_density_matrix, reduced, state_fidelity
from qgen.stats import Estimate
from qgen.targets.reduced import reduced_states
from qgen.targets.states import MPS, DenseState, State

__all__ = ["windows", "pairs", "target_reduced_states", "data_fidelities", "exact_fidelities", "SiteSet"]

SiteSet = tuple[int, ...]


def windows(n: int, k: int) -> list[SiteSet]:
    """The contiguous windows of k of n qubits."""
    return [tuple(range(i, i + k)) for i in range(n - k + 1)]


def pairs(n: int) -> list[SiteSet]:
    """Every pair of n qubits."""
    return list(combinations(range(n), 2))


def target_reduced_states(state: State, sets: Sequence[SiteSet]) -> list[np.ndarray]:
    """σ_S of the ideal (noise-free) target for every set S (sites ascending), exact."""
    if isinstance(state, DenseState) and state.data.ndim == 2:
        rho = state.data
        return [reduced(rho / np.trace(rho), s) for s in sets]
    mps = MPS.from_dense(state.data) if isinstance(state, DenseState) else state.with_noise(0.0)
    return reduced_states([np.asarray(a)[:, None] for a in mps.tensors], sets)


def _set_duals(povm: POVM, sites: SiteSet) -> np.ndarray:
    """D^{a_S} = ⊗_{i∈S} D_i^{a_i} for every outcome string on S, (K^|S|, 2^|S|, 2^|S|)."""
    duals = [povm.site(i).duals if povm.per_qubit else povm.duals for i in sites]
    out = duals[0]
    for d in duals[1:]:
        k, m = out.shape[0] * d.shape[0], out.shape[1] * 2
        out = np.einsum("aij,bkl->abikjl", out, d).reshape(k, m, m)
    return out


def data_fidelities(target: State, povm: POVM, samples: np.ndarray, sets: Sequence[SiteSet], *,
                    n_boot: int = 100, seed: int = 0, note: str = "",
                    sigmas: Sequence[np.ndarray] | None = None) -> list[Estimate]:
    """F(ρ̂_S, σ_S) per set from the dual-frame estimate of ``samples`` (data or model
    strings), error bar by a multinomial bootstrap of the outcome counts on S (all
    resamplings reconstructed, projected and scored as one batch).  ``sigmas``: the
    target's reduced states when already computed (:func:`target_reduced_states`)."""
    x = np.asarray(samples)
    k, rng = povm.n_outcomes, np.random.default_rng(seed)
    out = []
    for s, sigma in zip(sets, sigmas if sigmas is not None else target_reduced_states(target, sets)):
        codes = x[:, list(s)].astype(np.int64) @ (k ** np.arange(len(s) - 1, -1, -1))
        freq = np.bincount(codes, minlength=k ** len(s)) / len(x)
        table = np.vstack([freq, rng.multinomial(len(x), freq, size=n_boot) / len(x)])
        rho = np.einsum("ba,aij->bij", table, _set_duals(povm, s))
        f = state_fidelity(project_to_density_matrix(rho), sigma)
        out.append(Estimate(float(f[0]), float(np.std(f[1:], ddof=1)), len(x),
                            note or "dual-frame estimate, projected to a state; bootstrap over the strings"))
    return out


def exact_fidelities(rhos: Sequence[np.ndarray], target: State, sets: Sequence[SiteSet], note: str,
                     sigmas: Sequence[np.ndarray] | None = None) -> list[Estimate]:
    """F(ρ_S, σ_S) per set for the exact reduced states ``rhos`` (one per set, made positive
    when a reconstruction is not), with no sampling error; ``sigmas`` as in
    :func:`data_fidelities`."""
    sigmas = sigmas if sigmas is not None else target_reduced_states(target, sets)
    return [Estimate(state_fidelity(project_to_density_matrix(rho), sigma), 0.0, 0, note)
            for rho, sigma in zip(rhos, sigmas)]
