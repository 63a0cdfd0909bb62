"""Effective sample size and R̂ of Markov chains run in parallel (Vehtari, Gelman, Simpson,
Carpenter & Bürkner, Bayesian Anal. 16, 667 (2021); Gelman et al., *Bayesian Data Analysis*,
3rd ed., §11.4–11.5; Geyer, Stat. Sci. 7, 473 (1992)).

For a scalar statistic traced along C chains of T draws each, with W the mean within-chain
variance, B/T the variance of the chain means and var⁺ = (T−1)/T · W + B/T,

    ρ̂_t = 1 − (W − mean_c γ̂_{c,t}) / var⁺,        γ̂_{c,t} the lag-t autocovariance of chain c,
    τ = −1 + 2 Σ_{k=0}^{m} (ρ̂_{2k} + ρ̂_{2k+1}),   ESS = C T / τ,   R̂ = √(var⁺ / W),

where the sum stops before the first negative pair and the pairs are made non-increasing
(Geyer's initial monotone sequence).  Because var⁺ includes the spread of the chain means,
chains stuck in different modes shrink the ESS and push R̂ above 1 — which a per-chain
autocorrelation time would miss.  ESS > C T (antithetic chains) is allowed up to
C T log₁₀(C T), Stan's cap.

Example
-------
An AR(1) chain x_t = φ x_{t−1} + ε_t has τ = (1 + φ)/(1 − φ), here 3:

>>> from scipy.signal import lfilter
>>> x = lfilter([1.0], [1.0, -0.5], np.random.default_rng(0).normal(size=(20_000, 4, 1)), axis=0)
>>> ess, tau, rhat = effective_sample_size(x)
>>> bool(abs(tau[0] - 3) < 0.2), round(float(rhat[0]), 2)
(True, 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["effective_sample_size"]


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Biased (divided by T) autocovariance along axis 0 of (T, …), by FFT."""
    t = len(x)
    centred = x - x.mean(axis=0)
    size = 1 << (2 * t - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=0)
    return np.fft.irfft(spectrum * spectrum.conj(), n=size, axis=0)[:t] / t


def effective_sample_size(trace: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ESS, τ, R̂), each of shape (S,), for ``trace`` (T draws, C chains, S statistics).

    Needs T ≥ 4.  A statistic that is constant over all draws has nothing to correlate:
    its ESS is C T, τ = 1 and R̂ = 1.
    """
    trace = np.asarray(trace, dtype=np.float64)
    if trace.ndim != 3 or trace.shape[0] < 4 or trace.shape[1] < 1:
        raise ValueError(f"need a trace of shape (draws ≥ 4, chains ≥ 1, statistics), got {trace.shape}")
    t, c, _ = trace.shape
    within = trace.var(axis=0, ddof=1).mean(axis=0)  # W, (S,)
    between = trace.mean(axis=0).var(axis=0, ddof=1) if c > 1 else np.zeros_like(within)  # B / T
    var_plus = (t - 1) / t * within + between
    flat = var_plus <= 1e-300
    stuck = within <= 1e-300  # every chain constant (but not all equal: R̂ = ∞)
    safe_var, safe_within = np.where(flat, 1.0, var_plus), np.where(stuck, 1.0, within)
    rho = 1 - (within - _autocovariance(trace).mean(axis=1)) / safe_var  # (T, S)
    pairs = rho[: 2 * (t // 2)].reshape(t // 2, 2, -1).sum(axis=1)  # P_k = ρ_2k + ρ_2k+1
    positive = np.cumprod(pairs > 0, axis=0).astype(bool)  # up to the first non-positive pair
    monotone = np.minimum.accumulate(np.where(positive, pairs, np.inf), axis=0)
    tau = np.maximum(-1 + 2 * np.where(positive, monotone, 0.0).sum(axis=0), 1 / np.log10(max(t * c, 10)))
    tau = np.where(flat, 1.0, tau)
    rhat = np.where(flat, 1.0, np.where(stuck, np.inf, np.sqrt(var_plus / safe_within)))
    return t * c / tau, tau, rhat
