"""Bootstrap refits: error bars on a model's scores that cover the finite data.

A model trained on S shots is one draw of an estimator: its fidelity, F_c, observables and
certificate move when the shots do.  :func:`qgen.workflows.fit` with ``bootstrap=K`` trains
K more models, refit j on S strings drawn with replacement from the training split
(:func:`qgen.scores.bootstrap.resamples`; the validation split, the settings and the
initial weights unchanged), into ``out_dir/bootstrap/<j>/``.
:func:`qgen.workflows.evaluate` with ``refits=`` scores every refit like the model and
gives each score that depends on the fit a finite-data error (``Estimate.data_stderr``):

    s_data² = max(Var_j[score_j] − mean_j[stderr_j²], 0),

the spread of the refits' values (Efron & Tibshirani, *An Introduction to the Bootstrap*,
1993, ch. 6) less the part their own Monte-Carlo error (drawing model samples) explains.
The Monte-Carlo error stays in ``stderr``; both add in quadrature in
``Estimate.total_stderr``.  Scores that do not depend on the fit (the raw data's
estimates, exact values of the target) are equal on every refit and keep their own error
bars.  Like every bootstrap, this covers the fluctuation of the data, not the estimator's bias;
for the fidelity of the reconstruction the verdict adds the bootstrap's bias-corrected
estimate of the prepared state's fidelity (:func:`bias_corrected`), whose error includes
the size of the correction.

``bootstrap="auto"`` (the default of ``qgen train``) refits :data:`AUTO_REFITS` times where
that is cheap: at most :data:`AUTO_MAX_SIZE` training strings × qubits, in memory (a few
thousand shots on a handful of qubits, where the refits cost minutes).

Example
-------
>>> from qgen.stats import Estimate
>>> refit_values = [Estimate(0.90, 0.0, 0), Estimate(0.94, 0.0, 0), Estimate(0.92, 0.0, 0)]
>>> round(data_error(refit_values), 3)                  # std of 0.90, 0.94, 0.92
0.02
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from qgen.errors import ArgumentError
from qgen.scores.report import Report
from qgen.stats import Estimate

__all__ = ["AUTO_REFITS", "AUTO_MAX_SIZE", "REFITS_DIR", "refit_count", "data_error", "bias_corrected",
           "attach_data_errors"]

AUTO_REFITS = 8
"""Refits of ``bootstrap="auto"`` where cheap: the relative error of a standard deviation
from K values is ≈ 1/√(2(K−1)), 27 % at K = 8."""
AUTO_MAX_SIZE = 20_000
"""``bootstrap="auto"`` refits up to this many training strings × qubits (each refit costs
what the fit costs)."""
REFITS_DIR = "bootstrap"
"""Sub-directory of a run that holds the refits, ``<run>/bootstrap/<j>/``."""


def refit_count(bootstrap: int | str, n_qubits: int, n_train: int, stream: bool = False) -> int:
    """The number of refits ``bootstrap`` asks for: an integer ≥ 0, or ``"auto"``
    (:data:`AUTO_REFITS` where cheap, else 0).

    >>> refit_count("auto", 6, 3_000), refit_count("auto", 50, 3_000), refit_count(3, 50, 10**6)
    (8, 0, 3)
    """
    if bootstrap == "auto":
        cheap = not stream and n_qubits * n_train <= AUTO_MAX_SIZE
        return AUTO_REFITS if cheap else 0
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0 or bootstrap == 1:
        raise ArgumentError("bootstrap", f"must be 0, an integer ≥ 2 or 'auto', got {bootstrap!r}")
    if bootstrap and stream:
        raise ArgumentError("bootstrap", "refits resample the training split in memory; not with streamed data")
    return int(bootstrap)


def data_error(values: Sequence[Estimate]) -> float:
    """s_data = √max(Var_j[mean_j] − mean_j[stderr_j²], 0) over the refits' estimates
    (NaN when fewer than 2 are available)."""
    ok = [v for v in values if v.available and math.isfinite(v.mean)]
    if len(ok) < 2:
        return math.nan
    means = np.array([v.mean for v in ok])
    mc = np.array([v.stderr if math.isfinite(v.stderr) else 0.0 for v in ok])
    return float(math.sqrt(max(np.var(means, ddof=1) - np.mean(mc**2), 0.0)))


def bias_corrected(point: Estimate, values: Sequence[Estimate]) -> Estimate:
    """The bootstrap bias-corrected estimate F_bc = 2F − mean_j F_j of a score F whose refits
    gave F_j (Efron & Tibshirani 1993, ch. 10), with error √(s_data² + b̂² + stderr²): the
    correction b̂ = mean_j F_j − F is itself uncertain by about its own size, so it enters
    the error in quadrature.  Unavailable with fewer than 2 refits.

    >>> e = bias_corrected(Estimate(0.80, 0.0, 0), [Estimate(0.78, 0.0, 0), Estimate(0.76, 0.0, 0)])
    >>> round(e.mean, 3), round(e.data_stderr, 4)            # b̂ = −0.03, s = 0.0141
    (0.83, 0.0332)
    """
    ok = [v.mean for v in values if v.available and math.isfinite(v.mean)]
    if len(ok) < 2 or not point.available:
        return Estimate.unavailable("needs at least 2 refits")
    b = float(np.mean(ok)) - point.mean
    s = data_error(values)
    return Estimate(point.mean - b, point.stderr, point.n,
                    f"bootstrap bias-corrected (bias {b:+.3g} from {len(ok)} refits; error includes it)",
                    data_stderr=math.hypot(s, b))


def _is_estimate(d: Any) -> bool:
    return isinstance(d, dict) and {"mean", "stderr", "n", "note"} <= d.keys()


def _attach(node: Any, others: list[Any]) -> None:
    if _is_estimate(node):
        values = [Estimate.from_dict(o) for o in others if _is_estimate(o)]
        if node["mean"] is not None and math.isfinite(node["mean"]) and len(values) >= 2 \
                and len({v.mean for v in values} | {node["mean"]}) > 1:  # a fit-independent score never moves
            node["data_stderr"] = data_error(values)
    elif isinstance(node, dict):
        for key, value in node.items():
            _attach(value, [o[key] for o in others if isinstance(o, dict) and key in o])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _attach(value, [o[i] for o in others if isinstance(o, list) and len(o) == len(node)])


def attach_data_errors(report: Report, refits: Sequence[Report]) -> Report:
    """``report`` with ``data_stderr`` on every estimate that varies over the ``refits``'
    reports (:func:`data_error`), ``report.refits`` set to their number, and the verdict's
    bias-corrected fidelity (:func:`bias_corrected`)."""
    if len(refits) < 2:
        raise ValueError(f"need at least 2 refits for a finite-data error, got {len(refits)}")
    d = report.to_dict()
    _attach(d, [r.to_dict() for r in refits])
    d["refits"] = len(refits)
    if report.verdict is not None:
        f = bias_corrected(report.verdict.fidelity, [r.verdict.fidelity for r in refits if r.verdict is not None])
        d["verdict"]["corrected"] = f.to_dict()
    return Report.from_dict(d)
