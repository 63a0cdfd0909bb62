"""Scores of a generative model q(a) of POVM outcome strings against the target state.

All functions are pure functions on arrays and return :class:`qgen.stats.Estimate`
(mean ± standard error) or plain arrays; a number that cannot be computed is
``Estimate.unavailable(reason)``.  Notation: P(a) = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] is the
target's outcome distribution, q(a) the model's, D^a the POVM's dual operators, so that
ρ = Σ_a P(a) D^{a_1}⊗…⊗D^{a_N} (Carrasquilla et al., Nat. Mach. Intell. 1, 155 (2019),
eqs. 1–3).

* Distribution scores from samples: :func:`classical_fidelity` (eq. 19) and
  :func:`kl_divergence`.
* :func:`quantum_fidelity`: ⟨ψ|ρ_q|ψ⟩ from model samples (pure targets).
* Pauli observables given as ``(coefs (T,), ops (T, N))`` with ops in 0..3 = I, X, Y, Z:
  dual-frame (classical-shadow-like) estimators :func:`pauli_estimator`,
  :func:`observable`, :func:`observables`, :func:`pauli_expectations` — applied to model
  samples, or to the measured data themselves for the raw-data baseline — and the exact
  values :func:`exact_pauli_expectations`, :func:`exact_observable`,
  :func:`exact_observables`.
* :func:`exact_scores`: everything exactly by enumerating all K^N strings (N ≤ 8).

Example
-------
>>> from qgen.states import ghz
>>> from qgen.povm import tetra
>>> from qgen.sampling import sample
>>> x = sample(ghz(4), tetra(), 20000, seed=0)
>>> e = observable(x, tetra(), np.ones(3), correlation_ops(4, 0, "z"))  # Σ_r ⟨σz_0 σz_r⟩
>>> abs(e.mean - 3) < 4 * e.stderr
True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from .contract import DENSE_TABLE_MAX, expect_products
from .povm import PAULI, POVM
from .sampling import probabilities
from .states import MPS, DenseState, State
from .stats import Estimate, mean_estimate, mean_estimates

if TYPE_CHECKING:
    import torch

__all__ = [
    "FIDELITY_STDERR_MAX",
    "classical_fidelity",
    "correlation_average",
    "correlation_ops",
    "enumerate_strings",
    "exact_observable",
    "exact_observables",
    "exact_pauli_expectations",
    "exact_scores",
    "fidelity_moment_base",
    "kl_divergence",
    "magnetization_ops",
    "observable",
    "observables",
    "pauli_estimator",
    "pauli_expectations",
    "quantum_fidelity",
    "reconstruct_density_matrix",
]

FIDELITY_STDERR_MAX = 0.1
"""Standard error above which a sampled quantum fidelity is flagged as useless.  The
dual-frame estimator's variance grows exponentially with N (second moment 3^N for
|0…0⟩ with Pauli-4), so beyond ~10 qubits its error bar covers the whole range [0, 1].
The flag is raised when either the sample standard error or the predicted one,
√((s^N − 1)/n) with s = :func:`fidelity_moment_base`, exceeds it: the estimator is
heavy-tailed (for |0…0⟩ and Pauli-4 it is 3^N with probability 3^−N, else 0), so with
too few samples the *sample* error bar is itself wrong, typically far too small."""

_AXES = {"x": 1, "y": 2, "z": 3}


# -- distribution scores from samples -------------------------------------------------


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"need two 1-D arrays of equal length, got shapes {a.shape} and {b.shape}")
    return a, b


def _impossible(logp: np.ndarray, who: str) -> Estimate | None:
    """Unavailable if the sampling distribution gives its own samples probability 0 or NaN."""
    bad = int(np.sum(~np.isfinite(logp)))
    if bad:
        return Estimate.unavailable(
            f"{who} gives {bad} of {logp.size} of its own samples a non-finite log-probability: "
            "its sampler and likelihood disagree"
        )
    return None


def classical_fidelity(model_logp: np.ndarray, target_logp: np.ndarray) -> Estimate:
    """Classical fidelity F_c = Σ_a √(q(a) P(a)) = E_{a~q}[√(P(a)/q(a))]
    (Carrasquilla et al. 2019, eq. 19), from samples of the model q.

    ``model_logp`` = ln q(a_b) and ``target_logp`` = ln P(a_b) on the same model samples
    a_b.  It is a Monte-Carlo mean: it can exceed 1 by noise and is not clipped.

    >>> classical_fidelity(np.log([0.5, 0.25]), np.log([0.5, 0.25])).mean
    1.0
    """
    lq, lp = _check_pair(model_logp, target_logp)
    bad = _impossible(lq, "the model")
    if bad is not None:
        return bad
    return mean_estimate(np.exp(0.5 * (lp - lq)))


def kl_divergence(logp_p: np.ndarray, logp_q: np.ndarray) -> Estimate:
    """KL(p‖q) = E_{a~p}[ln p(a) − ln q(a)] (nats) from samples a_b of p.

    Use it both ways: KL(P_target‖q) with held-out data (their stored exact ln P and the
    model's ln q), KL(q‖P_target) with model samples (ln q, exact ln P).  If q = 0 on a
    sample of p the divergence is infinite: mean inf, stderr NaN, and a note.

    >>> kl_divergence(np.log([0.5, 0.5]), np.log([0.25, 0.25])).mean  # ln 2
    0.6931471805599453
    """
    lp, lq = _check_pair(logp_p, logp_q)
    bad = _impossible(lp, "p")
    if bad is not None:
        return bad
    if np.isnan(lq).any():
        return Estimate.unavailable(f"ln q is NaN on {int(np.isnan(lq).sum())} of {lq.size} samples")
    n_zero = int(np.sum(lq == -np.inf))
    if n_zero:
        return Estimate(np.inf, np.nan, lp.size, f"KL is infinite: q = 0 on {n_zero} of {lp.size} samples of p")
    return mean_estimate(lp - lq)


# -- quantum fidelity from samples ----------------------------------------------------


def quantum_fidelity(state: State, povm: POVM, samples: np.ndarray, device: str | torch.device | None = None
                     ) -> Estimate:
    """F = ⟨ψ|ρ_q|ψ⟩ = E_{a~q}[⟨ψ|D^{a_1}⊗…⊗D^{a_N}|ψ⟩] for a pure target |ψ⟩, from
    model samples (ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N}, Carrasquilla et al. 2019); the
    MPS sweep runs on ``device`` as in :func:`qgen.contract.expect_products`.

    Unavailable for mixed targets (noisy or a density matrix) and non-IC POVMs.  The
    estimator's variance grows exponentially with N; when the standard error exceeds
    :data:`FIDELITY_STDERR_MAX` the numbers are kept but the note says the error bar
    exceeds the useful range.

    >>> from qgen.states import ghz
    >>> from qgen.povm import pauli4
    >>> from qgen.sampling import sample
    >>> e = quantum_fidelity(ghz(3), pauli4(), sample(ghz(3), pauli4(), 5000, seed=1))
    >>> abs(e.mean - 1) < 4 * e.stderr
    True
    """
    if not state.is_pure:
        kind = "a density matrix" if isinstance(state, DenseState) and state.data.ndim == 2 else "mixed"
        return Estimate.unavailable(
            f"target is {kind} (noise p={state.noise:g}): ⟨ψ|ρ_q|ψ⟩ needs a pure target"
        )
    if not povm.is_ic:
        return Estimate.unavailable(f"POVM '{povm.name}' is not informationally complete: ρ_q is not determined")
    values = expect_products(state, povm.duals, np.asarray(samples), device=device).real
    est = mean_estimate(values)
    n_q = state.n_qubits
    predicted = np.sqrt(max(fidelity_moment_base(povm) ** n_q - 1, 0.0) / max(est.n, 1))
    if est.stderr > FIDELITY_STDERR_MAX:
        note = (f"error bar {est.stderr:.2g} exceeds the useful range (> {FIDELITY_STDERR_MAX}): the "
                f"dual-frame fidelity estimator's variance grows exponentially with N = {n_q}")
    elif predicted > FIDELITY_STDERR_MAX:
        note = (f"error bar not trustworthy: the estimator is heavy-tailed and with N = {n_q}, "
                f"{est.n} samples its standard error can reach ≈ {predicted:.2g} (worst case over "
                f"product targets), beyond the useful range (> {FIDELITY_STDERR_MAX})")
    else:
        return est
    return Estimate(est.mean, est.stderr, est.n, "; ".join(s for s in (est.note, note) if s))


def fidelity_moment_base(povm: POVM, n_grid: int = 20000) -> float:
    """s = max over single-qubit pure states φ of E_{a~P_φ}[⟨φ|D^a|φ⟩²]
    = Σ_a Tr(M^a φ) Tr(D^a φ)²: for a product target (and a model close to it) the
    second moment of the fidelity estimator of :func:`quantum_fidelity` is at most s^N.

    Maximised on a Fibonacci grid of ``n_grid`` Bloch vectors (relative accuracy
    ~1e−3).  Pauli-4: s ≈ 3.19; tetra: 2; Pauli-6: 1.5.  Exact enumeration of GHZ, W,
    cluster and random MPS targets (N ≤ 6) stays below s^N as well (see the tests);
    the rigorous bound over all states, ‖Σ_a M^a⊗D^a⊗D^a‖^N, is looser.

    >>> from qgen.povm import tetra
    >>> round(fidelity_moment_base(tetra()), 3)
    2.0
    """
    k = np.arange(n_grid) + 0.5
    z = 1 - 2 * k / n_grid
    phi = np.pi * (1 + 5**0.5) * k
    r = np.stack([np.ones(n_grid), np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z])
    m_pauli = np.einsum("aij,kji->ak", povm.elements, PAULI).real  # Tr(M^a σ_k)
    prob, dual = m_pauli @ r / 2, povm.pauli_table @ r / 2  # Tr(M^a ρ_r), Tr(D^a ρ_r)
    return float(np.max(np.sum(prob * dual**2, axis=0)))


# -- Pauli observables ----------------------------------------------------------------


def _check_ops(ops: np.ndarray, n: int) -> np.ndarray:
    ops = np.asarray(ops)
    if ops.ndim != 2 or ops.shape[1] != n:
        raise ValueError(f"Pauli strings must have shape (T, {n}), got {ops.shape}")
    if ops.size and (ops.min() < 0 or ops.max() > 3):
        raise ValueError("Pauli string entries must lie in 0..3 (I, X, Y, Z)")
    return ops.astype(np.int64)


def _check_observables(coefs: list[np.ndarray], ops: list[np.ndarray], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Observables O_j = Σ_t coefs[j]_t σ_{ops[j]_t} on n qubits as checked (coefs, ops) pairs."""
    if len(coefs) != len(ops):
        raise ValueError(f"{len(coefs)} coefficient arrays for {len(ops)} sets of Pauli strings")
    out = []
    for c, o in zip(coefs, ops):
        o, c = _check_ops(o, n), np.asarray(c, dtype=np.float64)
        if c.shape != (len(o),):
            raise ValueError(f"need one coefficient per Pauli string: {c.shape} vs {len(o)} strings")
        out.append((c, o))
    return out


def _estimable_paulis(povm: POVM) -> np.ndarray:
    """Bool (4,): σ_k lies in the span of the POVM elements, i.e. Σ_a Q[a, k] M^a = σ_k.
    Only then is E_P[Q[a, k]] = Tr(σ_k ρ) (dual-frame estimator unbiased)."""
    back = np.einsum("ak,aij->kij", povm.pauli_table, povm.elements)
    return np.all(np.abs(back - PAULI) < 1e-8, axis=(1, 2))


def _bad_terms(povm: POVM, ops: np.ndarray) -> np.ndarray:
    """Bool (T,): terms containing a Pauli the POVM cannot estimate."""
    return np.any(~_estimable_paulis(povm)[ops], axis=1)


def _term_values(cols: np.ndarray, povm: POVM, ops: np.ndarray) -> Iterator[np.ndarray]:
    """Per term t, the (B,) values v_bt = Π_{i: ops_ti ≠ I} Q[a_bi, ops_ti], from the
    outcomes as site columns ``cols`` (N, B) (see :func:`_columns`)."""
    q = np.ascontiguousarray(povm.pauli_table.T)  # q[k] = Q[:, k]
    for term in ops:
        v = np.ones(cols.shape[1])
        for i in np.flatnonzero(term):
            v *= np.take(q[term[i]], cols[i])
        yield v


def _check_samples(samples: np.ndarray, povm: POVM) -> np.ndarray:
    """Samples as an array (B, N) of ``povm``'s outcomes, or a one-line ``ValueError``."""
    samples = np.asarray(samples)
    if samples.ndim != 2:
        raise ValueError(f"samples must have shape (B, N), got {samples.shape}")
    if samples.size and (samples.min() < 0 or samples.max() >= povm.n_outcomes):
        raise ValueError(f"outcomes must lie in [0, {povm.n_outcomes - 1}] for POVM '{povm.name}'")
    return samples


def _columns(samples: np.ndarray) -> np.ndarray:
    """Checked samples (B, N) as contiguous site columns (N, B) of indices."""
    return np.ascontiguousarray(samples.T, dtype=np.intp)


def _prepare(samples: np.ndarray, povm: POVM, ops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Site columns of the checked samples and the checked Pauli strings."""
    samples = _check_samples(samples, povm)
    return _columns(samples), _check_ops(ops, samples.shape[1])


def pauli_estimator(samples: np.ndarray, povm: POVM, ops: np.ndarray) -> np.ndarray:
    """Per-sample dual-frame values v_bt = Π_i Q[a_bi, ops_ti], Q = ``povm.pauli_table``
    (Q[a, k] = Tr(σ_k D^a)), shape (B, T): E_{a~P}[v_bt] = Tr[(σ_{ops_t1}⊗…⊗σ_{ops_tN}) ρ]
    for IC POVMs (the classical-shadow-type estimator; Carrasquilla et al. 2019).

    Only each term's support (ops ≠ I) is touched: cost B × Σ_t |supp_t|.  Raises
    ``ValueError`` if a term uses a Pauli outside the span of the POVM elements (e.g. σy
    for the real trine POVM), where these values would be biased.

    >>> from qgen.povm import pauli6
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

    >>> from qgen.povm import pauli6
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

    >>> from qgen.povm import pauli6
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

    >>> from qgen.povm import pauli6
    >>> [str(e) for e in pauli_expectations(np.array([[0, 2], [0, 3]]), pauli6(), np.array([[3, 0], [0, 1]]))]
    ['3', '0.0 ± 3.0']
    """
    ops = _check_ops(ops, _check_samples(samples, povm).shape[1])
    return observables(samples, povm, [np.ones(1)] * len(ops), [o[None] for o in ops])


def exact_pauli_expectations(state: State, ops: np.ndarray) -> np.ndarray:
    """Exact Tr[(σ_{ops_t1}⊗…⊗σ_{ops_tN}) ρ] for each string, shape (T,), for any qgen
    state (MPS of any N, dense, noisy) via :func:`qgen.contract.expect_products`.

    >>> from qgen.states import ghz
    >>> exact_pauli_expectations(ghz(3), np.array([[1, 1, 1], [3, 0, 0]]))
    array([1., 0.])
    """
    ops = _check_ops(ops, state.n_qubits)
    return expect_products(state, PAULI, ops).real


def exact_observable(state: State, coefs: np.ndarray, ops: np.ndarray) -> float:
    """Exact ⟨O⟩ = Σ_t c_t Tr[σ_{ops_t} ρ].

    >>> from qgen.states import ghz
    >>> exact_observable(ghz(3), np.array([-1.0, -1.0]), np.array([[3, 3, 0], [0, 3, 3]]))
    -2.0
    """
    return float(exact_observables(state, [coefs], [ops])[0])


def exact_observables(state: State, coefs: list[np.ndarray], ops: list[np.ndarray]) -> np.ndarray:
    """Exact ⟨O_j⟩ = Σ_t c_jt Tr[σ_{ops_jt} ρ] for many observables O_j = (coefs[j], ops[j])
    at once: all their Pauli strings go through one batched contraction, so a family of
    many small observables (⟨σz_i⟩ for every i) costs one sweep of the MPS, not one each.

    >>> from qgen.states import ghz
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


def reconstruct_density_matrix(q_all: np.ndarray, povm: POVM) -> np.ndarray:
    """ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} from the probabilities of all K^N strings
    (lexicographic order), by contracting one site at a time (cost ~ N·K·4^N).

    An unconstrained q can give an unphysical ρ_q (negative eigenvalues).

    >>> from qgen.povm import tetra
    >>> np.allclose(reconstruct_density_matrix(np.full(16, 1 / 16), tetra()), np.eye(4) / 4)
    True
    """
    q_all = np.asarray(q_all, dtype=np.float64).ravel()
    k = povm.n_outcomes
    n = round(np.log(q_all.size) / np.log(k))
    if k**n != q_all.size:
        raise ValueError(f"{q_all.size} probabilities is not a power of K = {k}")
    # t[(outcomes not yet contracted), row, col]: the last sites are contracted first
    t = q_all.reshape(-1, 1, 1).astype(complex)
    for m in range(n):
        d = 2**m
        t = t.reshape(-1, k, d, d)
        t = np.einsum("xaIJ,aij->xiIjJ", t, povm.duals, optimize=True).reshape(-1, 2 * d, 2 * d)
    return t[0]


def _target_rho(state: State) -> np.ndarray:
    if isinstance(state, MPS):
        state = DenseState(state.to_dense(), noise=state.noise)
    return state.density_matrix()


def _psd_sqrt(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.conj().T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.conj().T


def _exact(value: float, n: int, note: str = "exact") -> Estimate:
    return Estimate(value, 0.0, n, note)


def _exact_kl(lp: np.ndarray, lq: np.ndarray, n: int) -> Estimate:
    """Σ_{p>0} p (ln p − ln q); infinite if q = 0 somewhere p > 0."""
    support = lp > -np.inf
    if np.any(lq[support] == -np.inf):
        zeros = int(np.sum(lq[support] == -np.inf))
        return _exact(np.inf, n, f"exact; infinite: q = 0 on {zeros} strings where p > 0")
    return _exact(float(np.sum(np.exp(lp[support]) * (lp[support] - lq[support]))), n)


def exact_scores(model_logp_all: np.ndarray, state: State, povm: POVM) -> dict[str, Estimate]:
    """Exact scores by enumeration of all K^N strings (N ≤ 8 or so).

    ``model_logp_all`` is ln q over all strings in lexicographic order (see
    :func:`enumerate_strings`); P comes from :func:`qgen.sampling.probabilities`.
    Returns exact :class:`Estimate` values (stderr 0, note "exact") under the keys

    * ``classical_fidelity``: F_c = Σ_a √(q(a) P(a));
    * ``kl_target_model``: KL(P‖q) = Σ P ln(P/q); ``kl_model_target``: KL(q‖P);
    * ``quantum_fidelity`` of ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} with the target: ⟨ψ|ρ_q|ψ⟩
      for a pure target (no projection, matching the sampled estimator); for a mixed
      target the Uhlmann fidelity (Tr√(√ρ σ √ρ))² (Jozsa 1994) with σ = ρ_q projected
      onto PSD matrices (negative eigenvalues set to 0, trace renormalised), the square
      roots taken by Hermitian eigendecomposition — the note says which;
      unavailable for non-IC POVMs;
    * ``trace``: Tr ρ_q (= Σ_a q(a), 1 for a normalised model);
    * ``min_eigenvalue``: smallest eigenvalue of ρ_q (negative: unphysical reconstruction).

    >>> from qgen.states import ghz
    >>> from qgen.povm import tetra
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
    rho_q = reconstruct_density_matrix(q, povm)
    if not povm.is_ic:
        out["quantum_fidelity"] = Estimate.unavailable(
            f"POVM '{povm.name}' is not informationally complete: ρ_q is only a projection")
    elif state.is_pure:
        psi = state.to_dense() if isinstance(state, MPS) else state.data
        psi = psi / np.linalg.norm(psi)
        out["quantum_fidelity"] = _exact(float((psi.conj() @ rho_q @ psi).real), size, "exact; ⟨ψ|ρ_q|ψ⟩ (pure target)")
    else:
        w, v = np.linalg.eigh((rho_q + rho_q.conj().T) / 2)
        w = np.clip(w, 0, None)
        if w.sum() <= 0:
            out["quantum_fidelity"] = Estimate.unavailable("ρ_q has no positive eigenvalue")
        else:
            sigma = (v * (w / w.sum())) @ v.conj().T
            s = _psd_sqrt(_target_rho(state))
            f = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(s @ sigma @ s), 0, None))) ** 2
            out["quantum_fidelity"] = _exact(float(f), size, "exact; Uhlmann (Tr√(√ρ σ √ρ))², σ = PSD-projected ρ_q")
    out["trace"] = _exact(float(np.trace(rho_q).real), size)
    out["min_eigenvalue"] = _exact(float(np.linalg.eigvalsh((rho_q + rho_q.conj().T) / 2)[0]), size)
    return out
