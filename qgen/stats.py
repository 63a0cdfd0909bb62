"""The statistics type returned by every qgen estimator: a mean with its standard error.

Every score is an :class:`Estimate` (NetKet-style ``mean ± stderr`` with the number of
samples ``n`` and a free-text ``note``).  A number that cannot be computed is
:meth:`Estimate.unavailable` — mean and error NaN, the reason kept in ``note`` — never a
made-up value.  Exact values (by enumeration) carry ``stderr = 0``.

Example
-------
>>> e = mean_estimate(np.array([0.99, 1.0, 0.98, 1.01]))
>>> str(e)
'0.9950 ± 0.0065'
>>> Estimate.from_dict(e.to_dict()) == e
True
>>> str(Estimate.unavailable("target is mixed"))
'n/a (target is mixed)'

Estimates of independent quantities add and subtract with their errors in quadrature; an
exact number carries none:

>>> str(Estimate(0.98, 0.01, 100) - Estimate(0.95, 0.02, 400))
'0.030 ± 0.022'
>>> str(Estimate(0.98, 0.01, 100) - 1.0)
'-0.020 ± 0.010'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Estimate", "mean_estimate", "mean_estimates"]


def _join(*notes: str) -> str:
    return "; ".join(s for s in notes if s)


def _json_float(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(frozen=True, eq=False)
class Estimate:
    """A Monte-Carlo (or exact) estimate of one number, with the errors it carries.

    Parameters
    ----------
    mean : the estimate (NaN when unavailable; ±inf allowed, e.g. an infinite KL).
    stderr : its standard error over the n samples it averages (0 for exact values, NaN
        when there is none) — for a score of a model, the Monte-Carlo error of drawing
        model samples; for a raw-data estimate, the finite-data error itself.
    n : number of samples it rests on (number of terms for exact sums).
    note : anything the reader must know (why it is unavailable, why the error bar
        is useless, "exact", …).
    data_stderr : for a score of a model fitted to measured data, the spread of the score
        over refits on resampled data (the bootstrap over the shots): the uncertainty
        that the finite number of measurements leaves; NaN when not estimated.

    ``total_stderr`` combines the two in quadrature.  ``a − b`` and ``a + b`` of two
    estimates of independent quantities add each kind of error in quadrature (n is the
    smaller of the two); with a plain number (an exact value) the errors are unchanged.
    Anything combined with an unavailable estimate is unavailable, for the same reason.
    """

    mean: float
    stderr: float
    n: int
    note: str = ""
    data_stderr: float = math.nan

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", float(self.mean))
        object.__setattr__(self, "stderr", float(self.stderr))
        object.__setattr__(self, "n", int(self.n))
        object.__setattr__(self, "note", str(self.note))
        object.__setattr__(self, "data_stderr", float(self.data_stderr))

    def __eq__(self, other: object) -> bool:
        """Field equality with NaN == NaN, so that JSON round trips compare equal."""
        if not isinstance(other, Estimate):
            return NotImplemented
        return (_same(self.mean, other.mean) and _same(self.stderr, other.stderr)
                and _same(self.data_stderr, other.data_stderr) and (self.n, self.note) == (other.n, other.note))

    def __hash__(self) -> int:
        return hash((self.n, self.note))  # consistent with the NaN-aware equality

    def _combine(self, other: Estimate | float, sign: float) -> Estimate:
        if isinstance(other, Estimate):
            for e in (self, other):
                if not e.available:
                    return Estimate.unavailable(e.note)
            data = (math.nan if math.isnan(self.data_stderr) and math.isnan(other.data_stderr)
                    else math.hypot(*(0.0 if math.isnan(d) else d for d in (self.data_stderr, other.data_stderr))))
            return Estimate(self.mean + sign * other.mean, math.hypot(self.stderr, other.stderr),
                            min(self.n, other.n), _join(self.note, other.note), data)
        if not isinstance(other, (int, float)) or isinstance(other, bool):
            return NotImplemented
        return Estimate(self.mean + sign * float(other), self.stderr, self.n, self.note, self.data_stderr)

    def __add__(self, other: Estimate | float) -> Estimate:
        return self._combine(other, 1.0)

    def __sub__(self, other: Estimate | float) -> Estimate:
        return self._combine(other, -1.0)

    def __neg__(self) -> Estimate:
        return Estimate(-self.mean, self.stderr, self.n, self.note, self.data_stderr)

    def __radd__(self, other: float) -> Estimate:
        return self._combine(other, 1.0)

    def __rsub__(self, other: float) -> Estimate:
        return (-self)._combine(other, 1.0)

    @classmethod
    def unavailable(cls, reason: str) -> Estimate:
        """A number that cannot be computed: mean and stderr NaN, ``note = reason``."""
        return cls(math.nan, math.nan, 0, reason)

    @property
    def available(self) -> bool:
        return not math.isnan(self.mean)

    @property
    def total_stderr(self) -> float:
        """The sampling and the finite-data errors in quadrature (the sampling error alone
        when the other was not estimated)."""
        return self.stderr if math.isnan(self.data_stderr) else math.hypot(self.stderr, self.data_stderr)

    def __str__(self) -> str:
        """``0.9934 ± 0.0012`` (two significant digits of the error), ``1 (exact)``,
        ``n/a (reason)``; with a finite-data error, ``0.962 ± 0.014 (data) ± 0.002
        (samples)``; a note is appended in parentheses.

        >>> str(Estimate(0.9617, 0.0021, 5000, data_stderr=0.0143))
        '0.962 ± 0.014 (data) ± 0.002 (samples)'
        """
        if not self.available:
            return f"n/a ({self.note})" if self.note else "n/a"
        errors = [e for e in (self.data_stderr, self.stderr) if math.isfinite(e) and e > 0]
        if math.isfinite(self.mean) and errors:
            d = min(12, max(0, 1 - math.floor(math.log10(max(errors)))))
            if math.isfinite(self.data_stderr):
                sampling = self.stderr if math.isfinite(self.stderr) else 0.0
                text = f"{self.mean:.{d}f} ± {self.data_stderr:.{d}f} (data) ± {sampling:.{d}f} (samples)"
            else:
                text = f"{self.mean:.{d}f} ± {self.stderr:.{d}f}"
        else:
            text = f"{self.mean:.6g}"
        return f"{text} ({self.note})" if self.note else text

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; non-finite numbers (NaN, and ±inf) become ``None`` — an
        infinite value's note says so.  ``data_stderr`` appears when it was estimated."""
        out = {"mean": _json_float(self.mean), "stderr": _json_float(self.stderr), "n": self.n, "note": self.note}
        return out | ({"data_stderr": self.data_stderr} if math.isfinite(self.data_stderr) else {})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        """Inverse of :meth:`to_dict` (``None`` → NaN)."""
        mean, stderr, data = d.get("mean"), d.get("stderr"), d.get("data_stderr")
        return cls(math.nan if mean is None else mean, math.nan if stderr is None else stderr,
                   d.get("n", 0), d.get("note", ""), math.nan if data is None else data)


def mean_estimate(values: np.ndarray, note: str = "") -> Estimate:
    """Sample mean of ``values`` with standard error s/√n (s with ddof = 1).

    n = 1 gives stderr NaN with a note saying there is no error bar; NaN values make
    the estimate unavailable; infinite values give an infinite mean (stderr NaN).

    >>> mean_estimate(np.array([1.0, 3.0]))
    Estimate(mean=2.0, stderr=1.0, n=2, note='', data_stderr=nan)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n == 0:
        return Estimate.unavailable(_join(note, "no samples"))
    n_nan = int(np.isnan(v).sum())
    if n_nan:
        return Estimate.unavailable(_join(note, f"NaN in {n_nan} of {n} values"))
    n_inf = int(np.isinf(v).sum())
    if n_inf:
        signs = np.unique(np.sign(v[np.isinf(v)]))
        if signs.size > 1:
            return Estimate.unavailable(_join(note, f"both +inf and -inf among {n} values"))
        return Estimate(math.inf * signs[0], math.nan, n, _join(note, f"infinite in {n_inf} of {n} values"))
    if n == 1:
        return Estimate(float(v[0]), math.nan, 1, _join(note, "single sample: no error bar"))
    return Estimate(float(v.mean()), float(v.std(ddof=1) / math.sqrt(n)), n, note)


def mean_estimates(chunks: Iterable[np.ndarray], rows: int, note: str = "") -> list[Estimate]:
    """Row-wise :func:`mean_estimate` of finite values that arrive in column chunks
    (``rows``, S_c), without holding them all: the chunks' means and squared deviations
    are merged one by one (Chan, Golub & LeVeque, Am. Stat. 37, 242 (1983), eq. 2.1).

    >>> v = np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 2.0]])
    >>> [str(e) for e in mean_estimates([v[:, :2], v[:, 2:]], 2)]  # as mean_estimate(v[0]), (v[1])
    ['3.0 ± 1.2', '2']
    """
    n, mean, m2 = 0, np.zeros(rows), np.zeros(rows)
    for c in chunks:
        c = np.asarray(c, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] != rows:
            raise ValueError(f"chunks must have shape ({rows}, S), got {c.shape}")
        if not np.isfinite(c).all():
            raise ValueError("mean_estimates needs finite values (mean_estimate handles NaN and inf)")
        if c.shape[1] == 0:
            continue
        nb, mb = c.shape[1], c.mean(axis=1)
        delta, total = mb - mean, n + nb
        m2 = m2 + ((c - mb[:, None]) ** 2).sum(axis=1) + delta**2 * (n * nb / total)
        mean = mean + delta * (nb / total)
        n = total
    if n < 2:  # no samples, or one: mean_estimate says so
        return [mean_estimate(np.array([m])[:n], note) for m in mean]
    return [Estimate(float(m), float(math.sqrt(s / (n - 1) / n)), n, note) for m, s in zip(mean, m2)]

