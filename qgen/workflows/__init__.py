"""Workflows, the last stage of the data path: what the ``qgen`` commands run, as library
functions — fit a backend to data (:mod:`~qgen.workflows.fitting`), evaluate a model
(:mod:`~qgen.workflows.evaluation`) and give the verdict on the prepared state
(:mod:`~qgen.workflows.verdict`), compare backends (:mod:`~qgen.workflows.comparison`),
sweep the number of measurements (:mod:`~qgen.workflows.sweeps`), fill missing readouts
(:mod:`~qgen.workflows.imputation`), and write reports
(:mod:`~qgen.workflows.reports`).
"""

from __future__ import annotations

from .comparison import ComparisonRow, compare, format_comparison, plot_comparison
from .draws import SAMPLE_CHUNK, check_sampling_fits, model_log_prob, model_sample
from .evaluation import ENUMERATE_MAX, HISTOGRAM_MAX, NO_TARGET, evaluate, evaluate_run
from .fitting import RUN_FILE, Fit, fit, fit_and_evaluate
from .imputation import impute
from .reports import (
    format_columns,
    format_estimate,
    format_table,
    format_verdict,
    is_unresolved,
    observable_summary,
    plot_local_map,
    plot_observables,
    read_report,
    short_cell,
    write_report,
)
from .sweeps import SweepPoint, format_sweep, nested_subset, observable_errors, plot_sweep, sweep
from .verdict import impossible_strings, local_sets, resolve_certificate, true_fidelity, verdict

__all__ = [
    "Fit", "fit", "fit_and_evaluate", "RUN_FILE", "evaluate", "evaluate_run", "model_log_prob", "model_sample",
    "check_sampling_fits", "ENUMERATE_MAX", "HISTOGRAM_MAX", "verdict", "true_fidelity", "impossible_strings",
    "resolve_certificate", "local_sets", "NO_TARGET", "SAMPLE_CHUNK", "ComparisonRow", "compare",
    "format_comparison", "plot_comparison", "SweepPoint", "nested_subset", "sweep", "format_sweep", "plot_sweep",
    "observable_errors", "write_report", "read_report", "format_table", "format_verdict",
    "plot_local_map", "format_estimate", "format_columns",
    "short_cell", "observable_summary", "plot_observables", "is_unresolved", "impute",
]
