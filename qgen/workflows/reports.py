"""Evaluation reports: JSON file, plots, and the short table printed by ``qgen evaluate``.

Example
-------
>>> print(format_estimate({"mean": 0.99512, "stderr": 0.0003, "n": 100, "note": ""}))
0.9951 ± 0.0003
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from qgen._io import atomic_write, atomic_write_text

__all__ = ["write_report", "format_table", "format_estimate", "format_columns", "short_cell", "observable_summary",
           "plot_observables", "is_unresolved"]


def format_estimate(e: dict[str, Any] | float | None, digits: int = 4) -> str:
    """'mean ± stderr', 'n/a (reason)' or a plain number."""
    if e is None:
        return "n/a"
    if not isinstance(e, dict):
        return f"{e:.{digits}f}" if isinstance(e, float) else str(e)
    if e.get("mean") is None:
        return f"n/a ({e.get('note') or 'unavailable'})"
    mean, err = e["mean"], e.get("stderr")
    if (e.get("note") or "").startswith("exact"):
        return f"{mean:.{digits}f} (exact)"
    if err is None or (isinstance(err, float) and math.isnan(err)):
        return f"{mean:.{digits}f} (no error bar)"
    return f"{mean:.{digits}f} ± {err:.{max(1, digits - 3)}g}" if err < 1e-3 else f"{mean:.{digits}f} ± {err:.{digits}f}"


def is_unresolved(e: dict[str, Any]) -> bool:
    """True for an estimate whose error bar exceeds its useful range (see
    :data:`qgen.metrics.FIDELITY_STDERR_MAX`)."""
    return e.get("mean") is not None and "useful range" in (e.get("note") or "")


def short_cell(e: dict[str, Any]) -> str:
    """A table cell: 'mean ± stderr', 'n/a', or 'unresolved (±err)' for a useless error bar."""
    if is_unresolved(e):
        return f"unresolved (±{e['stderr']:.2g})"
    return "n/a" if e.get("mean") is None else format_estimate(e)


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


def _score_cell(e: dict[str, Any]) -> str:
    """A score, or a plain statement when its error bar makes the number meaningless."""
    note = e.get("note") or ""
    if is_unresolved(e):
        return f"unresolved: ±{e['stderr']:.2g} error bar (estimator variance grows exponentially with N)"
    return format_estimate(e) + (f"   [{note}]" if note and e.get("mean") is not None and not note.startswith("exact") else "")


def observable_summary(obs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, one-observable view) of the observables a table shows: the energy (when
    known), the middle site's ⟨σx⟩ and ⟨σz⟩, and C_zz(r=1); each view has the keys of
    the report's observable rows (exact or None, model, data, test, model_minus_test)."""
    out = []
    if "energy" in obs:
        out.append(("energy", obs["energy"]))
    for fam, label in (("magnetization_x", "⟨σx⟩ (site {})"), ("magnetization_z", "⟨σz⟩ (site {})"),
                       ("correlation_zz", "C_zz(r={})")):
        row = obs[fam]
        k = len(row["axis"]) // 2 if fam != "correlation_zz" else 0
        view = {key: (v[k] if isinstance(v, list) else v) for key, v in row.items() if key != "axis"}
        out.append((label.format(row["axis"][k]), view))
    return out


def format_table(report: dict[str, Any]) -> str:
    """The short table of scores and observables.  Without a target the fidelities are
    one "n/a" line and the observables compare the model with the data (model − held-out
    test data) instead of an exact column."""
    sc = report["scores"]
    has_target = report["dataset"].get("target") is not None
    lines = [(f"model {report['model']['name']} ({report['model']['parameters']:,} parameters), "
              f"{report['n_model_samples']:,} model samples")]
    w = 26
    if has_target:
        rows = [
            ("classical fidelity F_c", sc["classical_fidelity"]),
            ("KL(P_target‖q_model)", sc["kl_target_model"]),
            ("KL(q_model‖P_target)", sc["kl_model_target"]),
            ("test NLL (nats)", sc["test_nll"]),
            ("quantum fidelity", sc["quantum_fidelity"]),
        ]
        for name, e in rows:
            lines.append(f"  {name:<{w}}{_score_cell(e)}")
    else:
        lines.append(f"  {'test NLL (nats)':<{w}}{_score_cell(sc['test_nll'])}")
        lines.append(f"  {'fidelities, KL':<{w}}n/a (no target attached: qgen attach DATA --target SPEC)")
    if report.get("exact"):
        ex = report["exact"]
        lines.append("  exact by enumeration:")
        for key in ("classical_fidelity", "kl_target_model", "quantum_fidelity"):
            if key in ex:
                lines.append(f"    {key:<{w - 2}}{format_estimate(ex[key], 6)}")
    obs = observable_summary(report["observables"])
    if has_target:
        lines.append(f"  {'observable':<{w}}{'exact':<14}{'model':<24}{'raw data (shadow)':<24}")
        for label, v in obs:
            digits = 8 if label == "energy" else 5
            lines.append(f"  {label:<{w}}{format_estimate(v['exact'], digits):<14}"
                         f"{format_estimate(v['model']):<24}{format_estimate(v['data'])}")
    else:
        lines.append(f"  {'observable':<{w}}{'model':<24}{'raw data (shadow)':<24}{'model − test data':<24}")
        for label, v in obs:
            diff = v.get("model_minus_test")
            lines.append(f"  {label:<{w}}{format_estimate(v['model']):<24}{format_estimate(v['data']):<24}"
                         f"{format_estimate(diff) if diff else 'n/a'}")
    cert = report.get("certificate")
    if cert and cert["model"].get("gap") is not None:
        lines.append(f"  ground-state fidelity F ≥ 1 − (⟨H⟩ − E0)/Δ, Δ = {cert['model']['gap']:.6g} "
                     "(assumes a physical state):")
        for src, label in (("model", "from model energy"), ("data", "from raw-data energy")):
            b = cert[src]["bound"]
            lines.append(f"    {label:<{w - 2}}{format_estimate(b) if b.get('mean') is not None else 'n/a'}"
                         + (f"   [{b['note']}]" if b.get("note") else ""))
    return "\n".join(lines)


def plot_observables(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Save ``correlation.png`` (C_zz(r)) and ``magnetization.png`` (⟨σx_i⟩, ⟨σz_i⟩):
    exact vs model vs raw data, with error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    obs = report["observables"]
    paths = []

    def draw(ax, row, title):
        x = row["axis"]
        if row["exact"] is not None:
            ax.plot(x, row["exact"], "k-", lw=1.5, label="exact")
        for label, style in (("model", "o"), ("data", "s")):
            m = [e["mean"] for e in row[label]]
            s = [e["stderr"] or 0 for e in row[label]]
            ax.errorbar(x, m, yerr=s, fmt=style, ms=3, capsize=2, alpha=0.8,
                        label="model samples" if label == "model" else "raw data (dual frame)")
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
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``report.json`` and the plots into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir)
    path = atomic_write_text(out_dir / "report.json", json.dumps(report, indent=2, allow_nan=False))
    return [path, *plot_observables(report, out_dir)]
