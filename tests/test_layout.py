"""The shape of the package: modules of readable size, imports that follow the data path
(targets → measurements → datasets → models → training → scores → workflows) without
cycles, no library module importing the CLI, and the old flat import paths still working
with a warning."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import qgen
from qgen._moved import MOVED

PACKAGE = Path(qgen.__file__).parent
MAX_LINES = 400
STAGES = ("targets", "measurements", "datasets", "models", "training", "scores", "workflows")
# top-level modules every stage may use; they import no stage themselves
UTILITIES = {"qgen.stats", "qgen.resources", "qgen.errors", "qgen._io", "qgen._chunks", "qgen._version"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _runtime_imports(node: ast.AST):
    """Import statements that run: everything but ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _runtime_imports(child)


def _imports(name: str) -> set[str]:
    """qgen modules that module ``name`` imports, at module level or inside functions."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _runtime_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from pkg import submodule` imports the submodule
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for t in targets:
            if t == "qgen.cli" or t.startswith("qgen.cli."):  # cli/ is installed as qgen.cli
                found.add("qgen.cli")
                continue
            while t and t not in MODULES:  # qgen.cli.x and other non-package paths
                t = t.rpartition(".")[0]
            if t.startswith("qgen") and t != name:
                found.add(t)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _stage(name: str) -> int | None:
    parts = name.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None


def test_no_module_is_over_the_size_limit():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph are all single modules."""
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v] & GRAPH.keys():
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_cycle_check_finds_a_cycle(monkeypatch):
    """The check above can fail: a planted back edge makes a cycle it reports."""
    monkeypatch.setitem(GRAPH, "qgen.targets.states", GRAPH["qgen.targets.states"] | {"qgen.targets.builders"})
    with pytest.raises(AssertionError):
        test_no_import_cycles()


def test_imports_follow_the_data_path():
    """A stage imports only earlier stages (and itself); utilities import no stage."""
    backwards = []
    for name, deps in GRAPH.items():
        s = _stage(name)
        for d in deps:
            t = _stage(d)
            if name in UTILITIES and t is not None:
                backwards.append((name, d))
            elif s is not None and t is not None and t > s:
                backwards.append((name, d))
    assert backwards == []


def test_the_library_never_imports_the_cli():
    """Only the console entry point knows the CLI."""
    users = sorted(n for n, deps in GRAPH.items() if any(d.startswith("qgen.cli") for d in deps))
    assert users == ["qgen._entry"]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_paths_forward_with_a_warning(old):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert [w.category for w in caught] == [FutureWarning]
    assert all(home in str(caught[0].message) for home in MOVED[old])
    assert module.__all__, "the stand-in lists its public names"
    for name in module.__all__:  # every public name resolves to the object of its new home
        homes = [importlib.import_module(h) for h in MOVED[old]]
        assert any(getattr(h, name, None) is getattr(module, name) for h in homes)


def test_old_paths_work_in_a_fresh_process():
    code = ("import warnings; warnings.simplefilter('error', FutureWarning)\n"
            "try:\n    from qgen.metrics import classical_fidelity\nexcept FutureWarning as w:\n    print(w)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "qgen.scores.distribution" in out
