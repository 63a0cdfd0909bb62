"""Distribution scores of a model q(a) against the target's P(a), from samples.

* :func:`classical_fidelity`: F_c = Σ_a √(q(a) P(a)) = E_{a∼q}[√(P(a)/q(a))]
  (Carrasquilla et al., Nat. Mach. Intell. 1, 155 (2019), eq. 19);
* :func:`kl_divergence`: KL(p‖q) = E_{a∼p}[ln p(a) − ln q(a)].

Both return :class:`qgen.stats.Estimate` (mean ± standard error of the mean).

Example
-------
>>> lp = np.log(np.full(1000, 0.25))
>>> classical_fidelity(lp, lp).mean
1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qgen.stats import Estimate, mean_estimate

if TYPE_CHECKING:
    pass

__all__ = ["classical_fidelity", "kl_divergence"]


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
