"""Standard quantum state tomography from POVM outcome strings: linear inversion and
maximum likelihood, on dense 2^N × 2^N matrices (N ≲ 10) — the references that the
generative models' reconstructions are compared with.

Both work on the counts n(a) of the distinct observed strings with the site-by-site maps
of :class:`qgen.measurements.frames.StringFrame` (no per-shot Kronecker products, no table of all K^N
strings).  With S = Σ_a n(a) and frequencies f = n/S:

* linear inversion: ρ_LI = Σ_a f(a) D^{a_1}⊗…⊗D^{a_N} (D: the dual frame), unbiased but
  not positive in general;
* maximum likelihood: ρ_ML = argmax over density matrices of L(ρ) = Σ_a n(a) ln P_ρ(a),
  P_ρ(a) = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ] (Hradil, PRA 55, R1561 (1997)), found by accelerated
  projected gradient ascent with adaptive restart (Shang, Zhang & Ng, PRA 95, 062336
  (2017), "APG"): σ + t R(σ) is projected onto the density matrices
  (:func:`qgen.scores.densities.project_to_density_matrix`), R(ρ) = Σ_a f(a)/P_ρ(a) M^a being the
  gradient of L/S, the step t found by backtracking.

Convergence criterion (Glancy, Knill & Girard, New J. Phys. 14, 095017 (2012)): L is
concave, so for every density matrix σ, L(σ) ≤ L(ρ) + S·Tr[R(ρ)(σ − ρ)] ≤ L(ρ) +
S·(λ_max(R(ρ)) − 1) (Tr R(ρ)ρ = 1).  The iteration stops when this certified bound on
L(ρ_ML) − L(ρ), ``gap``, is at most ``tol`` nats.

Every estimator takes a :class:`~qgen.measurements.POVM`, the same on all qubits or one per
qubit (elements (N, K, 2, 2)), and optional per-string ``weights`` (counts or frequencies)
in place of repeated strings.

Example
-------
>>> from qgen.scores.densities import fidelity_pure
>>> from qgen.measurements.frames import outcome_probabilities
>>> from qgen.measurements import pauli6
>>> psi = np.zeros(8); psi[[0, 7]] = 2**-0.5                        # GHZ-3
>>> p = outcome_probabilities(np.outer(psi, psi), pauli6()).clip(0)  # all 6^3 P(a)
>>> x = np.array(np.unravel_index(np.random.default_rng(0).choice(216, 3000, p=p), (6,) * 3)).T
>>> fit = mle(x, pauli6())
>>> fit.note   # doctest: +ELLIPSIS
'converged: gap ... ≤ tol 0.01 nats'
>>> round(fidelity_pure(fit.rho, psi), 3), round(fidelity_pure(linear_inversion(x, pauli6()), psi), 3)
(0.998, 1.027)

(ρ_LI is not positive: its "fidelity" exceeds 1.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qgen.measurements.frames import StringFrame
from qgen.measurements.povm import POVM
from qgen.resources import check_memory
from qgen.scores.densities import _projection, project_to_density_matrix

__all__ = ["outcome_counts", "log_likelihood", "linear_inversion", "MLEResult", "mle"]

_BACKTRACKS = 60  # halvings of the step before giving up on an ascent step (t shrinks by 1e-18)
_GROW = 1.1  # the step grows by this factor after every accepted step, so one early backtrack is not forever


def _check_outcomes(outcomes: np.ndarray, k: int) -> np.ndarray:
    x = np.asarray(outcomes)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"outcomes must be a non-empty (shots, qubits) array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"outcomes must be integers, got {x.dtype}")
    if x.min() < 0 or x.max() >= k:
        raise ValueError(f"outcomes must lie in [0, {k - 1}] for a {k}-outcome POVM")
    return x


def _check_weights(weights: np.ndarray | None, s: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (s,):
        raise ValueError(f"weights must have shape ({s},) (one per outcome string), got {w.shape}")
    if not np.all(np.isfinite(w)) or w.min() < 0 or not w.sum() > 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return w


def outcome_counts(outcomes: np.ndarray, povm_or_k: POVM | int, *, weights: np.ndarray | None = None,
                   dense: bool = False) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """Counts of the distinct outcome strings: ``(strings (U, N) uint8, counts (U,))`` in
    lexicographic order, or with ``dense=True`` the flat table of all K^N counts (the
    order of :func:`qgen.scores.enumeration.enumerate_strings`).  Counts are int64, or float64 sums
    of ``weights`` (one per string) when given.

    >>> x = np.array([[1, 0], [0, 2], [1, 0]])
    >>> s, c = outcome_counts(x, 3)
    >>> s.tolist(), c.tolist(), outcome_counts(x, 3, dense=True).tolist()
    ([[0, 2], [1, 0]], [1, 2], [0, 0, 1, 2, 0, 0, 0, 0, 0])
    """
    if isinstance(povm_or_k, (int, np.integer)) and not isinstance(povm_or_k, bool):
        k = int(povm_or_k)
    else:
        k = povm_or_k.n_outcomes
    if not 2 <= k <= 255:
        raise ValueError(f"the number of outcomes K must be in 2…255, got {k}")
    x = _check_outcomes(outcomes, k)
    w = _check_weights(weights, x.shape[0])
    n, size = x.shape[1], k ** x.shape[1]
    if dense:
        check_memory(8 * size, f"a table of all {k}^{n} outcome counts")
    if size >= 2**63:  # no flat index: sort the rows themselves
        strings, inverse = np.unique(x, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), w)
        return strings.astype(np.uint8), counts if w is not None else counts.astype(np.int64)
    flat = x.astype(np.int64) @ (k ** np.arange(n - 1, -1, -1, dtype=np.int64))
    if dense:
        counts = np.bincount(flat, w, minlength=size)
        return counts if w is not None else counts.astype(np.int64)
    uniq, inverse = np.unique(flat, return_inverse=True)
    counts = np.bincount(inverse, w)
    strings = (uniq[:, None] // k ** np.arange(n - 1, -1, -1, dtype=np.int64)) % k
    return strings.astype(np.uint8), counts if w is not None else counts.astype(np.int64)


def _observed(outcomes: np.ndarray, povm: POVM, weights: np.ndarray | None, what: str, duals: bool = False
              ) -> tuple[StringFrame, np.ndarray]:
    """The frame maps on the distinct observed strings and their counts (> 0), after
    checking that the work fits in memory."""
    x = np.asarray(outcomes)
    povm.check_sites(x.shape[1] if x.ndim == 2 else 0)
    strings, counts = outcome_counts(x, povm, weights=weights)
    keep = counts > 0
    n, k = x.shape[1], povm.n_outcomes
    check_memory(StringFrame.nbytes(int(keep.sum()), n, k), f"{what} of {n} qubits with {k} outcomes per qubit",
                 f"{int(keep.sum())} distinct strings, {2**n} × {2**n} matrices")
    return StringFrame(strings[keep], povm, duals=duals), counts[keep].astype(np.float64)


def log_likelihood(rho: np.ndarray, outcomes: np.ndarray, povm: POVM, *,
                   weights: np.ndarray | None = None) -> float:
    """L(ρ) = Σ_s w_s ln Tr[(M^{a_s1}⊗…⊗M^{a_sN}) ρ] over the strings a_s (w_s = 1 without
    ``weights``); −inf if ρ gives an observed string probability ≤ 0.

    >>> from qgen.measurements import pauli4
    >>> round(log_likelihood(np.eye(2) / 2, np.array([[0], [3]]), pauli4()), 6)  # ln(1/6) + ln(1/2)
    -2.484907
    """
    frame, counts = _observed(outcomes, povm, weights, "the log-likelihood")
    p = frame.probabilities(rho)
    return float(counts @ np.log(p)) if p.min() > 0 else -math.inf


def linear_inversion(outcomes: np.ndarray, povm: POVM, *, weights: np.ndarray | None = None) -> np.ndarray:
    """ρ_LI = (1/S) Σ_s D^{a_s1}⊗…⊗D^{a_sN}: the dual frame summed over the shots (weighted
    by ``weights``), from the distinct strings' counts (:class:`qgen.measurements.frames.StringFrame`).
    Unit trace and unbiased, but not positive semidefinite in general (project it with
    :func:`qgen.scores.densities.project_to_density_matrix`).  Needs IC POVMs.

    >>> from qgen.measurements import pauli6
    >>> x = np.array([[0], [0], [0], [1], [2], [2], [3], [3], [4], [5]])  # Z: +++−, X: ++−−, Y: +−
    >>> (linear_inversion(x, pauli6()).real.round(6) + 0).tolist()   # D^{Z±} = I/2 ± 3σz/2: ⟨σz⟩ = 3·2/10
    [[0.8, 0.0], [0.0, 0.2]]
    """
    if not povm.is_ic:
        raise ValueError(f"POVM '{povm.name}' is not informationally complete: ρ is not determined by the "
                         "outcome frequencies")
    frame, counts = _observed(outcomes, povm, weights, "linear inversion", duals=True)
    return frame.weighted_sum(counts / counts.sum())


@dataclass(frozen=True, eq=False)
class MLEResult:
    """A maximum-likelihood fit.

    Attributes
    ----------
    rho : the estimate, a 2^N × 2^N density matrix (PSD, unit trace).
    log_likelihood : L(ρ) = Σ_a n(a) ln P_ρ(a), nats (n: counts, or the weights given).
    iterations : projected-gradient steps taken (restarts included).
    converged : ``gap ≤ tol`` was reached within ``max_iter`` steps.
    gap : certified bound on L(ρ_ML) − L(ρ), S·(λ_max(R(ρ)) − 1) (nats).
    note : how it stopped (converged, ``max_iter`` reached, or stalled at the rounding floor).
    """

    rho: np.ndarray = field(repr=False)
    log_likelihood: float
    iterations: int
    converged: bool
    gap: float
    note: str


def mle(outcomes: np.ndarray, povm: POVM, *, weights: np.ndarray | None = None, tol: float = 1e-2,
        max_iter: int = 2000, rho0: np.ndarray | None = None) -> MLEResult:
    """Maximum-likelihood state: argmax over density matrices ρ of L(ρ) = Σ_s w_s ln P_ρ(a_s),
    by accelerated projected gradient with restart (module docstring).

    Stops converged when the certified gap (≥ L(ρ_ML) − L(ρ)) is ≤ ``tol`` nats; stops
    unconverged after ``max_iter`` steps, or when no ascent step is resolved in floating
    point.  The gap bound is linear in the distance to the optimum (the true shortfall is
    quadratic), so that rounding floor lies near S × 1e-9 … 4e-8 nats (measured); the
    default 0.01 nats is far below the statistical resolution, likelihood-ratio regions
    being ~4^N/2 nats wide.  Changes of L are computed as Σ_a f(a) ln(1 + ΔP(a)/P(a)),
    ΔP the (linear) outcome probabilities of the step itself, which keeps the floor 10×
    lower than differences of L would.

    ``rho0``: starting density matrix (default I/2^N); it must give every observed string
    a positive probability (to warm-start from another fit, mix it with some I/2^N).

    >>> from qgen.measurements import pauli6
    >>> x = np.array([[0], [0], [0], [1], [2], [2], [3], [3], [4], [5]])  # Z: +++−, X: ++−−, Y: +−
    >>> fit = mle(x, pauli6(), tol=1e-6)           # the Bloch vector (0, 0, ½) of the frequencies
    >>> fit.converged, np.round(fit.rho, 6).real.tolist()
    (True, [[0.75, 0.0], [0.0, 0.25]])
    """
    frame, counts = _observed(outcomes, povm, weights, "maximum-likelihood tomography")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"tol must be a positive number of nats, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer ≥ 1, got {max_iter!r}")
    d, total = 2**frame.n_qubits, float(counts.sum())
    f = counts / total
    probs = frame.probabilities  # Tr[M^a x] on the observed strings, linear in x

    def gain(p: np.ndarray, dp: np.ndarray) -> float:  # L(x + Δx)/S − L(x)/S from P_x and P_Δx
        q = dp / p
        return float(f @ np.log1p(q)) if q.min() > -1 else -math.inf

    def grad(p: np.ndarray) -> np.ndarray:  # R = Σ_a f(a)/P(a) M^a, the gradient of L/S
        return frame.weighted_sum(f / p)

    rho = np.eye(d, dtype=complex) / d if rho0 is None else project_to_density_matrix(rho0)
    if rho0 is not None and np.abs(rho - rho0).max() > 1e-8:
        raise ValueError("rho0 is not a density matrix (Hermitian, PSD, unit trace)")
    p_rho = probs(rho)
    if not p_rho.min() > 0:
        raise ValueError("rho0 gives an observed outcome string probability 0")
    r_rho = grad(p_rho)  # R(ρ); None until needed (a restart, a gap check)
    sigma, p_sig, r_sig, d_sig = rho, p_rho, r_rho, 0.0  # extrapolated point: P, R and L(σ)/S − L(ρ)/S
    theta, t, gap, it, stalled, rank = 1.0, 4 / d, math.inf, 0, False, None  # steps settle near 2/d (measured)
    while it < max_iter and gap > tol:
        it += 1
        for _ in range(_BACKTRACKS):  # ascent condition of a 1/t-smooth step from σ (Beck & Teboulle 2009)
            new, rank_new = _projection(sigma + t * r_sig, rank)
            step = new - sigma
            dp = probs(step)
            d_new = gain(p_sig, dp)
            if d_new >= np.vdot(r_sig, step).real - np.vdot(step, step).real / (2 * t):
                break
            t /= 2
        else:
            d_new = -math.inf
        if not d_sig + d_new > 0:  # no ascent from ρ: restart the momentum (O'Donoghue & Candès 2015)
            if sigma is rho:  # stalled at ρ itself: the optimum to rounding, or no step found
                stalled = True
                break
            r_rho = grad(p_rho) if r_rho is None else r_rho
            sigma, p_sig, r_sig, d_sig, theta = rho, p_rho, r_rho, 0.0, 1.0
            continue
        p_new, r_new, rank = p_sig + dp, None, rank_new
        if total * (d_sig + d_new) <= tol and it % 4 == 0:  # a step gaining more than tol is not the last
            r_new = grad(p_new)
            gap = total * (np.linalg.eigvalsh(r_new)[-1] - 1)
        theta_new = (1 + math.sqrt(1 + 4 * theta**2)) / 2
        m = (theta - 1) / theta_new
        sigma, p_sig = new + m * (new - rho), p_new + m * (p_new - p_rho)
        d_sig = gain(p_new, p_sig - p_new) if m else -math.inf
        rho, p_rho, r_rho, theta, t = new, p_new, r_new, theta_new, t * _GROW
        if math.isfinite(d_sig):
            r_sig = grad(p_sig)
        else:  # no momentum yet, or the extrapolation gives an observed string P ≤ 0: step from ρ
            r_rho = grad(p_rho) if r_rho is None else r_rho
            sigma, p_sig, r_sig, d_sig = rho, p_rho, r_rho, 0.0
    r_rho = grad(p_rho) if r_rho is None else r_rho
    gap = float(total * (np.linalg.eigvalsh(r_rho)[-1] - 1))
    if gap <= tol:
        note = f"converged: gap {gap:.2g} ≤ tol {tol:g} nats"
    elif stalled:
        note = (f"not converged: no ascent step at floating-point precision after {it} steps, gap {gap:.2g} > "
                f"tol {tol:g} nats (the rounding floor is near {total:.3g} × 1e-8)")
    else:
        note = f"not converged: max_iter = {max_iter} steps reached, gap {gap:.2g} > tol {tol:g} nats"
    return MLEResult(rho, total * float(f @ np.log(probs(rho))), it, gap <= tol, gap, note)
