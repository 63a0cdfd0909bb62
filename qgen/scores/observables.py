"""Pauli observables, exact and estimated from outcome strings.

Observables are given as ``(coefs (T,), ops (T, N))`` with ops in 0..3 = I, X, Y, Z.
Dual-frame (classical-shadow-like) estimators :func:`pauli_estimator`,
:func:`observable`, :func:`observables`, :func:`pauli_expectations` apply to model
samples, or to the measured data themselves for the raw-data baseline; the exact values
come from :func:`exact_pauli_expectations`, :func:`exact_observable`,
:func:`exact_observables`.  Per string the estimator is Π_i Tr(σ_{ops_i} D^{a_i}), whose
mean over a ∼ P is Tr(σ_ops ρ) (Carrasquilla et al., Nat. Mach. Intell. 1, 155 (2019)).

Example
-------
>>> from qgen.targets import ghz
>>> from qgen.measurements import tetra
>>> from qgen.measurements import sample
>>> x = sample(ghz(4), tetra(), 20000, seed=0)
>>> e = observable(x, tetra(), np.ones(3), correlation_ops(4, 0, "z"))  # Σ_r ⟨σz_0 σz_r⟩
>>> abs(e.mean - 3) < 4 * e.stderr
True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from qgen.measurements.contract import expect_products
from qgen.measurements.povm import POVM
from qgen.stats import Estimate, mean_estimates
from qgen.targets.hamiltonians import PAULI, check_pauli_strings
from qgen.targets.states import State

if TYPE_CHECKING:
    pass

__all__ = [
    "correlation_average", "correlation_ops", "exact_observable", "exact_observables", "exact_pauli_expectations",
    "magnetization_ops", "observable", "observables", "pauli_estimator", "pauli_expectations",
]


_AXES = {"x": 1, "y": 2, "z": 3}


# -- Pauli observables ----------------------------------------------------------------


def _check_observables(coefs: list[np.ndarray], ops: list[np.ndarray], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Observables O_j = Σ_t coefs[j]_t σ_{ops[j]_t} on n qubits as checked (coefs, ops) pairs."""
    if len(coefs) != len(ops):
        raise ValueError(f"{len(coefs)} coefficient arrays for {len(ops)} sets of Pauli strings")
    out = []
    for c, o in zip(coefs, ops):
        o, c = check_pauli_strings(o, n), np.asarray(c, dtype=np.float64)
        if c.shape != (len(o),):
            raise ValueError(f"need one coefficient per Pauli string: {c.shape} vs {len(o)} strings")
        out.append((c, o))
    return out


def _estimable_paulis(povm: POVM) -> np.ndarray:
    """Bool (4,) (per qubit: (N, 4)): σ_k lies in the span of the POVM elements, i.e.
    Σ_a Q[a, k] M^a = σ_k.  Only then is E_P[Q[a, k]] = Tr(σ_k ρ) (dual-frame estimator
    unbiased)."""
    back = np.einsum("...ak,...aij->...kij", povm.pauli_table, povm.elements)
    return np.all(np.abs(back - PAULI) < 1e-8, axis=(-2, -1))


def _bad_terms(povm: POVM, ops: np.ndarray) -> np.ndarray:
    """Bool (T,): terms containing a Pauli the POVM cannot estimate (on that qubit)."""
    ok = _estimable_paulis(povm)
    return np.any(~(ok[ops] if ok.ndim == 1 else ok[np.arange(ops.shape[1]), ops]), axis=1)


def _term_values(cols: np.ndarray, povm: POVM, ops: np.ndarray) -> Iterator[np.ndarray]:
    """Per term t, the (B,) values v_bt = Π_{i: ops_ti ≠ I} Q_i[a_bi, ops_ti], from the
    outcomes as site columns ``cols`` (N, B) (see :func:`_columns`); Q_i is qubit i's
    ``pauli_table``."""
    q = np.ascontiguousarray(np.swapaxes(povm.pauli_table, -1, -2))  # q[(i,) k] = Q_i[:, k]
    for term in ops:
        v = np.ones(cols.shape[1])
        for i in np.flatnonzero(term):
            v *= np.take(q[term[i]] if q.ndim == 2 else q[i, term[i]], cols[i])
        yield v


def _check_samples(samples: np.ndarray, povm: POVM) -> np.ndarray:
    """Samples as an array (B, N) of ``povm``'s outcomes, or a one-line ``ValueError``."""
    samples = np.asarray(samples)
    if samples.ndim != 2:
        raise ValueError(f"samples must have shape (B, N), got {samples.shape}")
    povm.check_sites(samples.shape[1])
    if samples.size and (samples.min() < 0 or samples.max() >= povm.n_outcomes):
        raise ValueError(f"outcomes must lie in [0, {povm.n_outcomes - 1}] for POVM '{povm.name}'")
    return samples


def _columns(samples: np.ndarray) -> np.ndarray:
    """Checked samples (B, N) as contiguous site columns (N, B) of indices."""
    return np.ascontiguousarray(samples.T, dtype=np.intp)


def _prepare(samples: np.ndarray, povm: POVM, ops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Site columns of the checked samples and the checked Pauli strings."""
    samples = _check_samples(samples, povm)
    return _columns(samples), check_pauli_strings(ops, samples.shape[1])


def pauli_estimator(samples: np.ndarray, povm: POVM, ops: np.ndarray) -> np.ndarray:
    """Per-sample dual-frame values v_bt = Π_i Q[a_bi, ops_ti], Q = ``povm.pauli_table``
    (Q[a, k] = Tr(σ_k D^a)), shape (B, T): E_{a~P}[v_bt] = Tr[(σ_{ops_t1}⊗…⊗σ_{ops_tN}) ρ]
    for IC POVMs (the classical-shadow-type estimator; Carrasquilla et al. 2019).

    Only each term's support (ops ≠ I) is touched: cost B × Σ_t |supp_t|.  Raises
    ``ValueError`` if a term uses a Pauli outside the span of the POVM elements (e.g. σy
    for the real trine POVM), where these values would be biased.

    >>> from qgen.measurements import pauli6
    >>> x = np.array([[0, 2], [1, 3]])  # outcomes |0⟩,|+⟩ and |1⟩,|−⟩
    >>> np.round(pauli_estimator(x, pauli6(), np.array([[3, 0], [3, 1]])), 9)  # σz_0, σz_0 σx_1
    array([[ 3.,  9.],
           [-3.,  9.]])
    """
    cols, ops = _prepare(samples, povm, ops)
    if _bad_terms(povm, ops).any():
        raise ValueError(f"POVM '{povm.name}' cannot estimate some of these Pauli strings (not in its span)")
    out = np.empty((ops.shape[0], cols.shape[1]))
    for t, v in enumerate(_term_values(cols, povm, ops)):
        out[t] = v
    return out.T


def observable(samples: np.ndarray, povm: POVM, coefs: np.ndarray, ops: np.ndarray) -> Estimate:
    """⟨O⟩ for O = Σ_t c_t σ_{ops_t}: mean ± stderr of the per-sample sums Σ_t c_t v_bt
    (so correlations between terms enter the error bar correctly).

    Apply it to model samples, or to the measured data for the raw-data baseline.

    >>> from qgen.measurements import pauli6
    >>> e = observable(np.array([[0, 2], [1, 3]]), pauli6(), np.array([0.5, 1.0]), np.array([[3, 0], [3, 1]]))
    >>> print(e)  # per sample 0.5·(±3) + 9
    9.0 ± 1.5
    """
    return observables(samples, povm, [coefs], [ops])[0]


def observables(
    samples: np.ndarray, povm: POVM, coefs: list[np.ndarray], ops: list[np.ndarray], chunk_size: int = 16384
) -> list[Estimate]:
    """:func:`observable` for many observables O_j = (coefs[j], ops[j]) on the same samples
    (a family such as ⟨σz_i⟩ for every i, or C(r) for every r), in one pass over the
    samples, ``chunk_size`` strings at a time: memory stays bounded by the chunk, whatever
    the number of samples (:func:`qgen.stats.mean_estimates` merges the chunks' moments).

    >>> from qgen.measurements import pauli6
    >>> x = np.array([[0, 2], [0, 3]])  # outcomes |0⟩,|+⟩ and |0⟩,|−⟩
    >>> zx = np.array([[3, 0], [0, 1]])  # σz_0, σx_1
    >>> [str(e) for e in observables(x, pauli6(), [np.ones(1), np.array([0.5, 1.0])], [zx[:1], zx])]
    ['3', '1.5 ± 3.0']
    """
    samples = _check_samples(samples, povm)
    out: list[Estimate | None] = [None] * len(ops)
    live = []  # (j, coefs, ops) of the observables the POVM can estimate
    for j, (c, o) in enumerate(_check_observables(coefs, ops, samples.shape[1])):
        bad = _bad_terms(povm, o) & (c != 0)
        if bad.any():
            out[j] = Estimate.unavailable(
                f"POVM '{povm.name}' cannot estimate {int(bad.sum())} of the Pauli strings (not in its span)")
        else:
            live.append((j, c, o))

    def totals() -> Iterator[np.ndarray]:  # per chunk of samples, the per-sample sums Σ_t c_t v_bt
        for start in range(0, len(samples), chunk_size):
            cols = _columns(samples[start : start + chunk_size])
            chunk = np.zeros((len(live), cols.shape[1]))
            for row, (_, c, o) in zip(chunk, live):
                for ct, v in zip(c, _term_values(cols, povm, o)):
                    row += ct * v
            yield chunk

    for (j, _, _), e in zip(live, mean_estimates(totals(), len(live))):
        out[j] = e
    return out


def pauli_expectations(samples: np.ndarray, povm: POVM, ops: np.ndarray) -> list[Estimate]:
    """One :class:`Estimate` of ⟨σ_{ops_t}⟩ per Pauli string (e.g. ⟨σz_i⟩ for all i);
    unavailable for strings the POVM cannot estimate.

    >>> from qgen.measurements import pauli6
    >>> [str(e) for e in pauli_expectations(np.array([[0, 2], [0, 3]]), pauli6(), np.array([[3, 0], [0, 1]]))]
    ['3', '0.0 ± 3.0']
    """
    ops = check_pauli_strings(ops, _check_samples(samples, povm).shape[1])
    return observables(samples, povm, [np.ones(1)] * len(ops), [o[None] for o in ops])


def exact_pauli_expectations(state: State, ops: np.ndarray) -> np.ndarray:
    """Exact Tr[(σ_{ops_t1}⊗…⊗σ_{ops_tN}) ρ] for each string, shape (T,), for any qgen
    state (MPS of any N, dense, noisy) via :func:`qgen.contract.expect_products`.

    >>> from qgen.targets import ghz
    >>> exact_pauli_expectations(ghz(3), np.array([[1, 1, 1], [3, 0, 0]]))
    array([1., 0.])
    """
    ops = check_pauli_strings(ops, state.n_qubits)
    return expect_products(state, PAULI, ops).real


def exact_observable(state: State, coefs: np.ndarray, ops: np.ndarray) -> float:
    """Exact ⟨O⟩ = Σ_t c_t Tr[σ_{ops_t} ρ].

    >>> from qgen.targets import ghz
    >>> exact_observable(ghz(3), np.array([-1.0, -1.0]), np.array([[3, 3, 0], [0, 3, 3]]))
    -2.0
    """
    return float(exact_observables(state, [coefs], [ops])[0])


def exact_observables(state: State, coefs: list[np.ndarray], ops: list[np.ndarray]) -> np.ndarray:
    """Exact ⟨O_j⟩ = Σ_t c_jt Tr[σ_{ops_jt} ρ] for many observables O_j = (coefs[j], ops[j])
    at once: all their Pauli strings go through one batched contraction, so a family of
    many small observables (⟨σz_i⟩ for every i) costs one sweep of the MPS, not one each.

    >>> from qgen.targets import ghz
    >>> exact_observables(ghz(2), [np.ones(1), np.ones(2)], [np.array([[3, 3]]), np.array([[1, 1], [3, 0]])])
    array([1., 1.])
    """
    checked = _check_observables(coefs, ops, state.n_qubits)
    if not checked:
        return np.zeros(0)
    coefs, ops = zip(*checked)
    weighted = np.concatenate(coefs) * exact_pauli_expectations(state, np.concatenate(ops))
    return np.bincount(np.repeat(np.arange(len(ops)), [len(o) for o in ops]), weighted, len(ops))


def magnetization_ops(n: int, axis: str = "z") -> np.ndarray:
    """The n single-site strings σ^axis_i, i = 0…n−1, as ops ``int8 (n, n)``.

    >>> magnetization_ops(3, "x").tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    ops = np.zeros((n, n), dtype=np.int8)
    ops[np.arange(n), np.arange(n)] = _AXES[axis]
    return ops


def correlation_ops(n: int, i0: int = 0, axis: str = "z") -> np.ndarray:
    """Two-point strings σ^axis_{i0} σ^axis_{i0+r} for r = 1 … n−1−i0, ops ``int8 (n−1−i0, n)``.

    >>> correlation_ops(4, 1).tolist()
    [[0, 3, 3, 0], [0, 3, 0, 3]]
    """
    if not 0 <= i0 < n:
        raise ValueError(f"reference site {i0} outside 0..{n - 1}")
    ops = np.zeros((n - 1 - i0, n), dtype=np.int8)
    ops[:, i0] = _AXES[axis]
    ops[np.arange(n - 1 - i0), np.arange(i0 + 1, n)] = _AXES[axis]
    return ops


def correlation_average(n: int, r: int, axis: str = "z") -> tuple[np.ndarray, np.ndarray]:
    """(coefs, ops) of C(r) = (1/(n−r)) Σ_{i=0}^{n−1−r} σ^axis_i σ^axis_{i+r} (open chain).

    >>> c, o = correlation_average(3, 1)
    >>> c.tolist(), o.tolist()
    ([0.5, 0.5], [[3, 3, 0], [0, 3, 3]])
    """
    if not 1 <= r < n:
        raise ValueError(f"distance r must lie in 1..{n - 1}, got {r}")
    ops = np.zeros((n - r, n), dtype=np.int8)
    ops[np.arange(n - r), np.arange(n - r)] = _AXES[axis]
    ops[np.arange(n - r), np.arange(r, n)] = _AXES[axis]
    return np.full(n - r, 1.0 / (n - r)), ops
