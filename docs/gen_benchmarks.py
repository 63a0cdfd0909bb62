"""Benchmark tables for the documentation, read from ``benchmarks/results/*.json``.

The benchmark pages are hand-written prose with directives on lines of their own, which
this module replaces by what the JSON files hold, so no number is copied by hand:

* ``{{ table FILE PATH [where K=V; …] [| COL; COL as Header; COL:.3f; …] }}`` — the list
  of rows at ``PATH`` in ``FILE.json`` as a Markdown table, followed by where and when it
  was measured (:func:`source`);
* ``{{ value FILE PATH[:FORMAT] }}`` — one value, inline;
* ``{{ source FILE [PATH] }}`` — the machine, date and load average of a result.

``PATH`` is dot-separated keys (``sections.train.rows``), list indices (``rows.0.F_c``)
or ``-1`` for the last item.  An estimate (a dict with ``mean`` and ``stderr``) prints as
``mean ± stderr``.  A missing machine, date or load average is printed as "not recorded".
Any directive that names a missing file, key or column stops the build with a one-line
error (``ValueError``).

Example
-------
>>> data = {"machine": {"cores": 2, "date": "2026-11-24"}, "rows": [{"n": 6, "F": {"mean": 0.99, "stderr": 0.01}}]}
>>> print(table_md(data, "rows", columns=[("n", "N", ""), ("F", "F_c", "")]))
| N | F_c |
|---|---|
| 6 | 0.990 ± 0.010 |
>>> source_line(data, "rows", "x")
'`x` (`rows`): 2 cores, date 2026-11-24, load average not recorded'
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "load", "lookup", "fmt", "table_md", "source_line", "fill", "results_page"]

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
DIRECTIVE = re.compile(r"\{\{\s*(table|value|source)\s+(.*?)\s*\}\}")
LOAD_KEYS = ("load_average", "loadavg", "loadavg_before", "load_average_start")


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"benchmark result {path.name} not found in {RESULTS}")
    return json.loads(path.read_text(encoding="utf-8"))


def _steps(path: str) -> list[str]:
    return [s for s in path.split(".") if s] if path else []


def lookup(data: Any, path: str, what: str = "") -> Any:
    """The value at dot-separated ``path`` (keys, or list indices) in ``data``."""
    if isinstance(data, dict) and path in data:  # a key with dots in it: "E0 free ferm."
        return data[path]
    node = data
    for step in _steps(path):
        if isinstance(node, list) and re.fullmatch(r"-?\d+", step) and -len(node) <= int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            raise ValueError(f"{what or 'benchmark result'}: no {step!r} in {path!r}")
    return node


def _is_estimate(v: Any) -> bool:
    return isinstance(v, dict) and "mean" in v and "stderr" in v


def _number(x: float, spec: str = "") -> str:
    if spec:
        return format(x, spec)
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "NaN")
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _estimate(v: dict, spec: str = "") -> str:
    mean, err, note = v.get("mean"), v.get("stderr"), v.get("note") or ""
    if mean is None:
        return f"n/a ({note})" if note else "n/a"
    if spec:
        return f"{format(mean, spec)} ± {format(err, spec)}" if err else format(mean, spec)
    if not err or not math.isfinite(err):
        return _number(mean)
    digits = max(0, 1 - math.floor(math.log10(abs(err))))  # two significant digits in the error
    return f"{mean:.{digits}f} ± {err:.{digits}f}"


def fmt(v: Any, spec: str = "") -> str:
    """One value as a table cell."""
    if v is None:
        return "—"
    if _is_estimate(v):
        return _estimate(v, spec)
    if isinstance(v, (bool, int, float)):
        return _number(v, spec)
    if isinstance(v, list):
        if v and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            return " ".join(f"{x:.2f}" if isinstance(x, float) else str(x) for x in v)
        return "; ".join(fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    return _text(str(v))


def _text(s: str) -> str:
    """Plain text in a table cell: no column break, no HTML tag (``<H>``)."""
    return s.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _columns(rows: list[dict]) -> list[tuple[str, str, str]]:
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return [(k, k, "") for k in keys]


def table_md(data: Any, path: str, columns: list[tuple[str, str, str]] | None = None,
             where: dict[str, str] | None = None, what: str = "") -> str:
    """The rows at ``path`` as a Markdown table; ``columns`` are (path, header, format)."""
    rows = lookup(data, path, what)
    if not (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)):
        raise ValueError(f"{what}: {path!r} is not a list of rows")
    for key, value in (where or {}).items():
        rows = [r for r in rows if fmt(lookup(r, key, what)) == value or str(lookup(r, key, what)) == value]
    if not rows:
        raise ValueError(f"{what}: no row of {path!r} matches {where}")
    columns = columns or _columns(rows)
    for col, _, _ in columns:
        if not any(_has(r, col) for r in rows):
            raise ValueError(f"{what}: no column {col!r} in {path!r}")
    lines = ["| " + " | ".join(_text(h) for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [fmt(lookup(r, c), spec) if _has(r, c) else "" for c, _, spec in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _has(row: dict, path: str) -> bool:
    try:
        lookup(row, path)
    except ValueError:
        return False
    return True


def source_line(data: dict, path: str, name: str) -> str:
    """Where and when the result at ``path`` was measured: the nearest ``machine`` and load
    average on the way from the file's root to ``path``, or the range over its rows."""
    machine, load, node = data.get("machine"), None, data
    for key in LOAD_KEYS:
        load = data.get(key, load)
    for step in _steps(path):
        node = lookup(node, step)
        if isinstance(node, dict):
            machine = node.get("machine", machine)
            load = next((node[k] for k in LOAD_KEYS if k in node), load)
    parts = []
    if machine:
        desc = [f"{machine['cores']} cores" if "cores" in machine else "",
                machine.get("cpu", ""), f"torch {machine['torch']}" if machine.get("torch") else "",
                f"GPU {machine['cuda']}" if machine.get("cuda") else ("no GPU" if "cuda" in machine else "")]
        parts.append(", ".join(d for d in desc if d) or "machine not recorded")
        parts.append(f"date {machine['date']}" if machine.get("date") else "date not recorded")
    else:
        parts += ["machine not recorded", "date not recorded"]
    if load is None and isinstance(node, list):  # per-row load averages: their range
        ones = [_first_load(r) for r in node if isinstance(r, dict)]
        ones = [x for x in ones if x is not None]
        if ones:
            load = f"{min(ones):.1f}–{max(ones):.1f} (1 min, over the rows)"
    if isinstance(load, list) and load and isinstance(load[0], list):  # [start, end]
        load = f"{load[0][0]:.1f} at the start, {load[-1][0]:.1f} at the end (1 min)"
    parts.append(f"load average {fmt(load)}" if load is not None else "load average not recorded")
    where = f"`{name}` (`{path}`)" if path else f"`{name}`"
    return f"{where}: " + ", ".join(parts)


def _first_load(row: dict) -> float | None:
    for key in LOAD_KEYS:
        v = row.get(key)
        if isinstance(v, str):
            v = [float(x) for x in v.split()]
        if isinstance(v, list) and v and isinstance(v[0], (int, float)):
            return float(v[0])
    return None


def _column_spec(text: str) -> tuple[str, str, str]:
    col, _, header = (s.strip() for s in text.partition(" as "))
    col, _, spec = col.partition(":")
    return col, header or col, spec


def _directive(kind: str, args: str, where: str) -> str:
    what = f"{where}: {{{{ {kind} {args} }}}}"
    head, _, cols = args.partition("|")
    head, _, cond = head.partition(" where ")
    words = head.split()
    if not words or len(words) > 2:
        raise ValueError(f"{what}: expected FILE [PATH]")
    name, path = words[0], words[1] if len(words) > 1 else ""
    data = load(name)
    label = f"{name}.json"
    if kind == "value":
        path, _, spec = path.partition(":")
        return fmt(lookup(data, path, what), spec)
    if kind == "source":
        if path:
            lookup(data, path, what)
        return source_line(data, path, label)
    conditions = dict(c.strip().split("=", 1) for c in cond.split(";") if c.strip())
    columns = [_column_spec(c) for c in cols.split(";") if c.strip()] or None
    table = table_md(data, path, columns, conditions, what)
    return f"{table}\n\n<small>Source: {source_line(data, path, label)}.</small>"


def fill(markdown: str, where: str = "page") -> str:
    """``markdown`` with every directive replaced (see the module docstring)."""
    return DIRECTIVE.sub(lambda m: _directive(m.group(1), m.group(2), where), markdown)


def _tables(node: Any, path: str = ""):
    """Every list of rows in a result, with its path."""
    if isinstance(node, list) and node and all(isinstance(r, dict) for r in node):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k != "machine":
                yield from _tables(v, f"{path}.{k}" if path else k)


def results_page() -> str:
    """One page with every recorded result: each file's tables in full, with their source."""
    out = ["# All recorded results\n",
           "Every file in `benchmarks/results/`, each list of rows as a table, generated when the site "
           "is built. The script that wrote a file is named after it (`benchmarks/bench_*.py`); the "
           "pages before this one explain what the numbers mean.\n"]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(f"## {path.stem}\n\n{source_line(data, '', path.name)}.\n")
        notes = [f"{k}: {v}" for k, v in data.items() if isinstance(v, (str, int, float)) and k != "machine"]
        if notes:
            out.append("Settings: " + "; ".join(fmt(n) for n in notes) + ".\n")
        for tpath, rows in _tables(data):
            body = table_md(data, tpath, what=path.name).replace("\n", "\n    ")
            src = source_line(data, tpath, path.name)
            out.append(f'??? note "`{tpath}` ({len(rows)} rows)"\n\n    {body}\n\n    <small>{src}.</small>\n')
    return "\n".join(out)
