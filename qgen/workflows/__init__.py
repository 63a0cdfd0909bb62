"""Workflows, the last stage of the data path: what the ``qgen`` commands run, as
library functions — evaluate a model (:mod:`~qgen.workflows.evaluation`), compare
backends (:mod:`~qgen.workflows.comparison`), sweep the number of measurements
(:mod:`~qgen.workflows.sweeps`), and write reports (:mod:`~qgen.workflows.reports`).
"""

from __future__ import annotations

from .comparison import compare, fit_and_evaluate, format_comparison, plot_comparison
from .evaluation import (
    ENUMERATE_MAX,
    SAMPLE_CHUNK,
    check_sampling_fits,
    evaluate,
    model_log_prob,
    model_sample,
)
from .reports import (
    format_columns,
    format_estimate,
    format_table,
    is_unresolved,
    observable_summary,
    plot_observables,
    short_cell,
    write_report,
)
from .sweeps import format_sweep, nested_subset, observable_errors, plot_sweep, sweep

__all__ = ["evaluate", "model_log_prob", "model_sample", "check_sampling_fits", "ENUMERATE_MAX",
    "SAMPLE_CHUNK", "compare", "fit_and_evaluate", "format_comparison", "plot_comparison", "nested_subset",
    "sweep", "format_sweep", "plot_sweep", "observable_errors", "write_report", "format_table",
    "format_estimate", "format_columns", "short_cell", "observable_summary", "plot_observables",
    "is_unresolved"]
