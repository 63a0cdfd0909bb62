"""Nonparametric bootstrap over the measured shots: error bars that cover the finite data.

Any estimator that maps outcome strings to numbers (a fidelity from a maximum-likelihood
fit, a trained generative model's score, …) is refitted on k resamples of the S shots,
each drawn with replacement; the standard deviation of the k values estimates the
standard error of the estimator on S shots (Efron & Tibshirani, *An Introduction to the
Bootstrap*, Chapman & Hall 1993, ch. 6).  It covers the statistical fluctuation of the
data, not the estimator's bias (e.g. the downward bias of a maximum-likelihood fidelity
at few shots).

Resample j uses the indices ``rng.integers(0, S, S)`` drawn j-th from
``numpy.random.default_rng(seed)``: the same seed gives the same resamples.

Example
-------
>>> x = np.random.default_rng(1).integers(0, 2, size=(400, 1))         # 400 fair coin flips
>>> e = bootstrap_estimate(x, lambda y: float(y.mean()), k=400, seed=0)
>>> round(e.stderr, 3), 0.5 / 20                             # binomial √(p(1−p)/S)
(0.025, 0.025)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from qgen.stats import Estimate

__all__ = ["bootstrap", "bootstrap_estimate", "resamples"]


def resamples(s: int, k: int, seed: int | None = 0) -> Iterator[np.ndarray]:
    """The row indices of k bootstrap resamples of s shots, each ``rng.integers(0, s, s)``
    from ``numpy.random.default_rng(seed)`` in turn.

    >>> [i.tolist() for i in resamples(3, 2, seed=0)]
    [[2, 1, 1], [0, 0, 0]]
    """
    if s < 2:
        raise ValueError(f"need at least 2 shots (rows) to resample, got {s}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"the number of resamples k must be a positive integer, got {k!r}")
    rng = np.random.default_rng(seed)
    for _ in range(k):
        yield rng.integers(0, s, s)


def _replicates(outcomes: np.ndarray, estimator: Callable[[np.ndarray], Any], k: int, seed: int | None
                ) -> Iterator[Any]:
    x = np.asarray(outcomes)
    if x.ndim < 1:
        raise ValueError(f"need at least 2 shots (rows) to resample, got shape {x.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"the number of resamples k must be an integer ≥ 2, got {k!r}")
    for idx in resamples(x.shape[0], k, seed):
        yield estimator(x[idx])


def bootstrap(outcomes: np.ndarray, estimator: Callable[[np.ndarray], Any], k: int = 20, seed: int | None = 0
              ) -> np.ndarray:
    """``values[j] = estimator(outcomes[idx_j])`` for k resamples idx_j of the shots (rows)
    drawn with replacement; ``(k, …)`` for estimators returning numbers or arrays (a ρ).

    >>> bootstrap(np.arange(5)[:, None], lambda y: y.sum(), k=3, seed=0).tolist()
    [11, 4, 16]
    """
    return np.stack([np.asarray(v) for v in _replicates(outcomes, estimator, k, seed)])


def _estimate(point: float, values: np.ndarray, s: int, k: int) -> Estimate:
    if not math.isfinite(point) or not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        return Estimate.unavailable(f"non-finite value on all shots ({point})" if not math.isfinite(point) else
                                    f"non-finite value on {bad} of {k} bootstrap resamples")
    return Estimate(point, float(np.std(values, ddof=1)), s,
                    f"value on all {s} shots; error: bootstrap, std over {k} refits on resampled shots")


def bootstrap_estimate(outcomes: np.ndarray, estimator: Callable[[np.ndarray], float | Mapping[str, float]],
                       k: int = 20, seed: int | None = 0, *, point: float | Mapping[str, float] | None = None
                       ) -> Estimate | dict[str, Estimate]:
    """The estimator's value on all S shots with its bootstrap standard error:
    ``Estimate(mean=point, stderr=std of the k refits (ddof 1), n=S, note)``.

    ``estimator`` returns a number, or a dict of numbers (several scores of one refit:
    a dict of Estimates is returned).  ``point``: its value on all shots when already
    computed (default: ``estimator(outcomes)``).  A non-finite value makes the estimate
    unavailable, with the reason.

    >>> x = np.arange(100)[:, None] % 2
    >>> e = bootstrap_estimate(x, lambda y: {"mean": y.mean(), "var": y.var()}, k=50, seed=1)
    >>> str(e["mean"]).split(" (")[0]                     # binomial: 0.050
    '0.500 ± 0.048'
    """
    x = np.asarray(outcomes)
    values = list(_replicates(x, estimator, k, seed))
    point = estimator(x) if point is None else point
    if isinstance(point, Mapping):
        if not all(isinstance(v, Mapping) and v.keys() == point.keys() for v in values):
            raise ValueError(f"the estimator must return the same keys on every resample: {sorted(point)}")
        return {key: _estimate(float(point[key]), np.array([v[key] for v in values], dtype=float), len(x), k)
                for key in point}
    return _estimate(float(point), np.array(values, dtype=float), len(x), k)
