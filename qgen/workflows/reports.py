"""Evaluation reports on screen and on disk: the short table printed by ``qgen evaluate``,
``report.json`` (the typed :class:`~qgen.scores.report.Report` in its JSON form) and the
observable plots.

Example
-------
>>> from qgen.stats import Estimate
>>> print(format_estimate(Estimate(0.99512, 0.0003, 100)))
0.9951 ± 0.0003
>>> short_cell(Estimate.unavailable("no target"))
'n/a'
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from qgen._io import atomic_write, atomic_write_text
from qgen.scores.report import LocalMap, ObservableFamily, Report
from qgen.stats import Estimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["write_report", "read_report", "format_table", "format_verdict", "format_estimate", "format_columns",
           "short_cell", "observable_summary", "plot_observables", "plot_local_map", "is_unresolved"]


def format_estimate(e: Estimate | float | None, digits: int = 4) -> str:
    """'mean ± stderr', 'n/a (reason)' or a plain number."""
    if e is None:
        return "n/a"
    if not isinstance(e, Estimate):
        return f"{e:.{digits}f}" if isinstance(e, float) else str(e)
    if not e.available:
        return f"n/a ({e.note or 'unavailable'})"
    mean, err = e.mean, e.stderr

    def shown(x: float) -> str:
        return f"{x:.{max(1, digits - 3)}g}" if x < 1e-3 else f"{x:.{digits}f}"

    if e.note.startswith("exact"):  # no sampling error; the finite data's may remain
        data = f" ± {shown(e.data_stderr)} (data)" if math.isfinite(e.data_stderr) else ""
        return f"{mean:.{digits}f}{data} (exact)"
    if math.isnan(err):
        return f"{mean:.{digits}f} (no error bar)"
    if math.isfinite(e.data_stderr):
        return f"{mean:.{digits}f} ± {shown(e.data_stderr)} (data) ± {shown(err)} (samples)"
    return f"{mean:.{digits}f} ± {shown(err)}"


def is_unresolved(e: Estimate) -> bool:
    """True for an estimate whose error bar exceeds its useful range (see
    :data:`qgen.scores.FIDELITY_STDERR_MAX`)."""
    return e.available and "useful range" in e.note


def short_cell(e: Estimate) -> str:
    """A table cell: 'mean ± stderr', 'n/a', or 'unresolved (±err)' for a useless error bar."""
    if is_unresolved(e):
        return f"unresolved (±{e.stderr:.2g})"
    return "n/a" if not e.available else format_estimate(e)


def format_columns(head: list[str], body: list[list[str]]) -> str:
    """A plain-text table: header, a rule, and left-aligned columns two spaces apart.

    >>> print(format_columns(["n", "F_c"], [["1000", "0.91 ± 0.01"]]))
    n     F_c
    ----  -----------
    1000  0.91 ± 0.01
    """
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)


def _score_cell(e: Estimate) -> str:
    """A score, or a plain statement when its error bar makes the number meaningless."""
    if is_unresolved(e):
        return f"unresolved: ±{e.stderr:.2g} error bar (estimator variance grows exponentially with N)"
    note = e.note.partition("; ")[2] if e.note.startswith("exact") else e.note  # "exact" is shown already
    return format_estimate(e) + (f"   [{note}]" if note and e.available else "")


def observable_summary(obs: dict[str, ObservableFamily]) -> list[tuple[str, ObservableFamily]]:
    """(label, one-observable view) of the observables a table shows: the energy (when
    known), the middle site's ⟨σx⟩ and ⟨σz⟩, and C_zz(r=1)."""
    out = []
    if "energy" in obs:
        out.append(("energy", obs["energy"]))
    for fam, label in (("magnetization_x", "⟨σx⟩ (site {})"), ("magnetization_z", "⟨σz⟩ (site {})"),
                       ("correlation_zz", "C_zz(r={})")):
        row = obs[fam]
        k = len(row.axis) // 2 if fam != "correlation_zz" else 0
        out.append((label.format(row.axis[k]), row.view(k)))
    return out


def format_verdict(report: Report) -> list[str]:
    """The verdict block that opens :func:`format_table` (empty without a verdict)."""
    v, w = report.verdict, 40
    if v is None:
        return []
    rows = [("fidelity ⟨ψ|ρ|ψ⟩ of the reconstruction", v.fidelity),
            ("  of the nearest density matrix", v.physical_fidelity),
            ("  smallest eigenvalue of ρ", v.min_eigenvalue),
            ("  bias-corrected (bootstrap refits)", v.corrected if v.corrected is not None
             else Estimate.unavailable("")),
            ("raw data (dual-frame estimate)", v.data_fidelity),
            ("true value (simulated noisy state)", v.true_fidelity),
            ("energy–gap certificate F ≥ (model)", v.certificate.bound),
            ("energy–gap certificate F ≥ (raw data)", report.certificate.data.bound)]
    lines = ["verdict on the prepared state, against the ideal target ψ:"]
    if report.refits:
        lines.append(f"  (± … (data): the finite shots, from {report.refits} bootstrap refits of the model on "
                     "resampled shots; (samples): drawing model samples)")
    for name, e in rows:
        if e.available or name.startswith("fidelity"):
            lines.append(f"  {name:<{w}}{_score_cell(e)}")
    if v.impossible is not None:
        lines.append(f"  {'strings impossible under ψ':<{w}}{v.impossible:,} of {v.n_strings:,} "
                     f"({v.impossible / v.n_strings:.1%}): the noise being measured")
    if v.local is not None:
        for size, label in ((1, "qubit"), (2, "pair"), (3, "window of 3")):
            worst = v.local.worst(size)
            if worst is not None:
                sites, model, data = worst
                lines.append(f"  {'lowest local fidelity, ' + label:<{w}}{','.join(map(str, sites))}: raw data "
                             f"{format_estimate(data, 3)}, model {format_estimate(model, 3)}")
    return lines


def format_table(report: Report) -> str:
    """The short table: the verdict (:func:`format_verdict`) first, then the scores and
    observables.  Without a target the fidelities are one "n/a" line and the observables
    compare the model with the data (model − held-out test data) instead of an exact
    column."""
    sc = report.scores
    has_target = report.dataset.target is not None
    lines = format_verdict(report)
    lines.append(f"model {report.model.name} ({report.model.parameters:,} parameters), "
                 f"{report.n_model_samples:,} model samples")
    w = 26
    if has_target:
        rows = [
            ("classical fidelity F_c", sc.classical_fidelity),
            ("KL(P_target‖q_model)", sc.kl_target_model),
            ("KL(q_model‖P_target)", sc.kl_model_target),
            ("test NLL (nats)", sc.test_nll),
        ]
        if report.verdict is None:  # else the verdict's first line
            rows.append(("quantum fidelity", sc.quantum_fidelity))
        for name, e in rows:
            lines.append(f"  {name:<{w}}{_score_cell(e)}")
    else:
        lines.append(f"  {'test NLL (nats)':<{w}}{_score_cell(sc.test_nll)}")
        lines.append(f"  {'fidelities, KL':<{w}}n/a (no target attached)")
    if report.exact is not None:
        ex = report.exact
        lines.append("  exact by enumeration:")
        for key in ("classical_fidelity", "kl_target_model", "quantum_fidelity"):
            lines.append(f"    {key:<{w - 2}}{format_estimate(getattr(ex, key), 6)}")
    obs = observable_summary(report.observables)
    if has_target:
        lines.append(f"  {'observable':<{w}}{'exact':<14}{'model':<24}{'raw data (shadow)':<24}")
        for label, v in obs:
            digits = 8 if label == "energy" else 5
            lines.append(f"  {label:<{w}}{format_estimate(v.exact[0], digits):<14}"
                         f"{format_estimate(v.model[0]):<24}{format_estimate(v.data[0])}")
    else:
        lines.append(f"  {'observable':<{w}}{'model':<24}{'raw data (shadow)':<24}{'model − test data':<24}")
        for label, v in obs:
            lines.append(f"  {label:<{w}}{format_estimate(v.model[0]):<24}{format_estimate(v.data[0]):<24}"
                         f"{format_estimate(v.model_minus_test[0])}")
    cert = report.certificate
    if cert.model.gap is not None:
        lines.append(f"  ground-state fidelity F ≥ 1 − (⟨H⟩ − E0)/Δ, Δ = {cert.model.gap:.6g} "
                     "(assumes a physical state):")
        for c, label in ((cert.model, "from model energy"), (cert.data, "from raw-data energy")):
            b = c.bound
            lines.append(f"    {label:<{w - 2}}{format_estimate(b) if b.available else 'n/a'}"
                         + (f"   [{b.note}]" if b.note else ""))
    return "\n".join(lines)


def plot_observables(report: Report, out_dir: str | Path) -> list[Path]:
    """Save ``correlation.png`` (C_zz(r)) and ``magnetization.png`` (⟨σx_i⟩, ⟨σz_i⟩):
    exact vs model vs raw data, with error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    obs = report.observables
    paths = []

    def draw(ax: Axes, row: ObservableFamily, title: str) -> None:
        x = row.axis
        if row.exact is not None:
            ax.plot(x, row.exact, "k-", lw=1.5, label="exact")
        for label, style, values in (("model samples", "o", row.model), ("raw data (dual frame)", "s", row.data)):
            m = [e.mean for e in values]
            s = [0 if math.isnan(e.stderr) else e.stderr for e in values]
            ax.errorbar(x, m, yerr=s, fmt=style, ms=3, capsize=2, alpha=0.8, label=label)
        ax.set_title(title)
        ax.legend(fontsize=8)

    for name, fams in (("correlation", [("correlation_zz", "C_zz(r) = mean_i ⟨σz_i σz_{i+r}⟩", "distance r")]),
                       ("magnetization", [("magnetization_x", "⟨σx_i⟩", "site i"),
                                          ("magnetization_z", "⟨σz_i⟩", "site i")])):
        fig, axes = plt.subplots(1, len(fams), figsize=(5.5 * len(fams), 4), squeeze=False)
        for ax, (fam, title, xlabel) in zip(axes[0], fams):
            draw(ax, obs[fam], title)
            ax.set_xlabel(xlabel)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        paths.append(path)
    return paths


def plot_local_map(local: LocalMap, n_qubits: int, path: str | Path) -> Path:
    """Save the local fidelity map: F per qubit and per window of 3 (model and raw data,
    with error bars) beside the matrix of pair fidelities of the raw data (upper
    triangle) and of the model (lower triangle) — a qubit that went wrong is a dip in the
    curves and a dark cross in the matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    for size, marker in ((1, "o"), (3, "^")):
        rows = [(s, m, d) for s, m, d in zip(local.sets, local.model, local.data) if len(s) == size]
        centre = [np.mean(s) for s, _, _ in rows]
        for k, (label, style) in enumerate((("raw data", "-"), ("model", "--"))):
            e = [r[2 - k] for r in rows]
            ax.errorbar(centre, [x.mean for x in e], yerr=[0 if math.isnan(x.stderr) else x.stderr for x in e],
                        fmt=marker + style, ms=4, capsize=2, label=f"{label}, {'qubit' if size == 1 else '3 qubits'}")
    ax.set_xlabel("qubit (centre of the set)")
    ax.set_ylabel("local fidelity F(ρ_S, ψ_S)")
    ax.legend(fontsize=8)
    grid = np.full((n_qubits, n_qubits), np.nan)
    for s, m, d in zip(local.sets, local.model, local.data):
        if len(s) == 2:
            grid[s[0], s[1]], grid[s[1], s[0]] = d.mean, m.mean
    im = bx.imshow(grid, vmin=np.nanmin(grid) if np.isfinite(grid).any() else 0, vmax=1, cmap="viridis")
    bx.set_title("pairs: raw data (upper), model (lower)", fontsize=9)
    bx.set_xlabel("qubit j")
    bx.set_ylabel("qubit i")
    fig.colorbar(im, ax=bx, shrink=0.85)
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return path


def write_report(report: Report, out_dir: str | Path) -> list[Path]:
    """Write ``report.json`` and the plots into ``out_dir`` (atomically): the observables
    and, with a verdict, the local fidelity map ``local_fidelity.png``."""
    out_dir = Path(out_dir)
    path = atomic_write_text(out_dir / "report.json", json.dumps(report.to_dict(), indent=2, allow_nan=False))
    paths = [path, *plot_observables(report, out_dir)]
    if report.verdict is not None and report.verdict.local is not None:
        paths.append(plot_local_map(report.verdict.local, report.dataset.n_qubits, out_dir / "local_fidelity.png"))
    return paths


def read_report(path: str | Path) -> Report:
    """The :class:`Report` in a ``report.json`` (a directory holding one, or the file);
    a one-line ``ValueError`` for anything else."""
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        return Report.from_dict(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a readable qgen report ({type(err).__name__}: {err})") from None
