"""The documentation works: the site's code examples run, its generated pages resolve, and
the README's test command is the one CI runs.

Every ```python block of ``docs/**/*.md`` runs, page by page in one namespace, in a fresh
directory; a ```bash block runs (each ``qgen …`` line, through click's test runner) when
an HTML comment on the line before it says ``<!-- docs-test: run -->``. The comment can
also say ``skip REASON``, ``slow`` (only with ``-m slow``), ``needs MODULE`` (skipped
without it) and ``replace "A" => "B", …`` (smaller sizes for the test; each A must occur
in the block, as in tests/test_custom_api.py)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"(?:<!--\s*docs-test:(?P<opts>.*?)-->\n)?```(?P<lang>\w*)[^\n]*\n(?P<code>.*?)^```", re.M | re.S)
PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*=>\s*"((?:[^"\\]|\\.)*)"')


@dataclass
class Block:
    lang: str
    code: str
    line: int
    run: bool = False
    slow: bool = False
    skip: str = ""
    needs: list[str] = field(default_factory=list)


def parse(text: str) -> list[Block]:
    """The fenced code blocks of a page with their ``docs-test`` options."""
    blocks = []
    for m in FENCE.finditer(text):
        lang, code, opts = m.group("lang"), m.group("code"), (m.group("opts") or "").strip()
        b = Block(lang, code, text[: m.start("code")].count("\n") + 1, run=lang == "python")
        for opt in filter(None, (o.strip() for o in re.split(r";\s*(?=[a-z]+\b)", opts))):
            word, _, rest = opt.partition(" ")
            if word == "run":
                b.run = True
            elif word == "slow":
                b.slow = True
            elif word == "skip":
                b.skip = rest or "skipped"
            elif word == "needs":
                b.needs += rest.split()
            elif word == "replace":
                for old, new in PAIR.findall(rest):
                    assert b.code.count(old) == 1, f"line {b.line}: {old!r} must occur once in the block"
                    b.code = b.code.replace(old, new)
            else:
                raise AssertionError(f"line {b.line}: unknown docs-test option {opt!r}")
        blocks.append(b)
    return blocks


PAGES = sorted(DOCS.rglob("*.md"))
RUNNABLE = {p: [b for b in parse(p.read_text(encoding="utf-8")) if b.run and not b.skip] for p in PAGES}


def _cases():
    for page, blocks in RUNNABLE.items():
        name = str(page.relative_to(DOCS))
        if any(not b.slow for b in blocks):
            yield pytest.param(page, False, id=name)
        if any(b.slow for b in blocks):
            yield pytest.param(page, True, id=f"{name}[slow]", marks=pytest.mark.slow)


def _shell_lines(code: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def run_block(block: Block, ns: dict, where: str) -> None:
    for module in block.needs:
        pytest.importorskip(module, reason=f"{where} needs {module}")
    if block.lang == "python":
        exec(compile(block.code, where, "exec"), ns)  # noqa: S102 - the documented example itself
        return
    from qgen.cli import cli

    for line in _shell_lines(block.code):
        args = shlex.split(line, comments=True)
        assert args[0] == "qgen", f"{where}: only qgen commands run here, got {line!r}"
        result = CliRunner().invoke(cli, args[1:])
        assert result.exit_code == 0, f"{where}: {line}\n{result.output}"


def test_docs_pages_have_examples():
    assert sum(len(b) for b in RUNNABLE.values()) >= 5


@pytest.mark.parametrize(("page", "slow"), list(_cases()))
def test_docs_examples_run(page, slow, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__docs__"}
    for b in RUNNABLE[page]:
        if b.slow and not slow:
            continue
        run_block(b, ns, f"{page.relative_to(ROOT)}:{b.line}")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_docs_python_blocks_compile(page):
    """Skipped blocks too: every Python example is at least valid Python."""
    for b in parse(page.read_text(encoding="utf-8")):
        if b.lang == "python":
            compile(b.code, f"{page.name}:{b.line}", "exec")


def test_parse_options():
    text = '<!-- docs-test: run; replace "n 8" => "n 4", "1m" => "2s"; needs h5py -->\n```bash\nqgen x --n 8 1m\n```\n'
    (b,) = parse(text)
    assert b.run and b.code == "qgen x --n 4 2s\n" and b.needs == ["h5py"] and not b.slow
    with pytest.raises(AssertionError, match="must occur once"):
        parse('<!-- docs-test: replace "zz" => "y" -->\n```python\nx = 1\n```\n')
    assert parse("```text\nout\n```\n")[0].run is False


# --- the README and CI ---------------------------------------------------------------

def _readme_block(after: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8").split(after, 1)[1]
    return text.split("```bash\n", 1)[1].split("```", 1)[0].strip()


def test_readme_test_command_is_what_ci_runs():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.startswith(("#", "set ", "cd ", "rm ", "export "))]
    readme = _readme_block("Run the tests")
    assert readme == " && ".join(ci), (readme, ci)
    assert "mkdocs build --strict" in readme
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    assert readme in page


def test_readme_fits_on_a_screen():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 150


# --- the generated pages -------------------------------------------------------------

@pytest.fixture(scope="module")
def gen():
    sys.path.insert(0, str(DOCS))
    try:
        import gen_benchmarks
    finally:
        sys.path.remove(str(DOCS))
    return gen_benchmarks


def test_every_benchmark_directive_resolves(gen):
    """The benchmark pages' tables and values come from benchmarks/results/*.json."""
    pages = sorted((DOCS / "benchmarks").glob("*.md"))
    filled = {p.name: gen.fill(p.read_text(encoding="utf-8"), where=p.name) for p in pages}
    assert all("{{" not in text for text in filled.values())
    scale = gen.load("scale")
    rate = scale["sections"]["mps"]["rows"][0]["cpu"]
    assert rate in filled["scale.md"]  # a number shown on the page is the JSON's
    assert "Source: `scale.json`" in filled["scale.md"]


def test_benchmark_directives(gen, monkeypatch, tmp_path):
    (tmp_path / "a.json").write_text('{"rows": [{"n": 6, "F": {"mean": 0.98765, "stderr": 0.00123}, "load_average": '
                                     '[1.5, 1, 1]}, {"n": 8, "F": {"mean": null, "stderr": null, "note": "too big"}}]}')
    monkeypatch.setattr(gen, "RESULTS", tmp_path)
    text = gen.fill("{{ table a rows | n as N; F }}")
    assert "| 6 | 0.9877 ± 0.0012 |" in text and "| 8 | n/a (too big) |" in text
    assert "machine not recorded, date not recorded" in text and "load average 1.5–1.5" in text
    assert gen.fill("F = {{ value a rows.0.F.mean:.2f }}") == "F = 0.99"
    assert "| 8 |" not in gen.fill("{{ table a rows where n=6 | n }}")
    for bad, message in [("{{ value a rows.5.F }}", "no '5'"), ("{{ table a rows | nope }}", "no column 'nope'"),
                         ("{{ value b x }}", "b.json not found")]:
        with pytest.raises(ValueError, match=message):
            gen.fill(bad)


def test_results_page_lists_every_file(gen):
    page = gen.results_page()
    for path in (ROOT / "benchmarks" / "results").glob("*.json"):
        assert f"## {path.stem}\n" in page


def test_reference_covers_every_subpackage():
    pytest.importorskip("mkdocs", reason="docs tools not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    pages, nav = hooks.reference_pages()
    for sub in ("targets", "measurements", "datasets", "models", "training", "scores", "workflows"):
        assert f"reference/{sub}/index.md" in pages
        for mod in (ROOT / "qgen" / sub).glob("[!_]*.py"):
            assert f"::: qgen.{sub}.{mod.stem}\n" in pages[f"reference/{sub}/{mod.stem}.md"]
    for top in ("stats", "errors"):
        assert f"reference/{top}.md" in pages
    assert "## qgen train" in pages["reference/cli.md"]


def test_gen_benchmarks_doctests(gen):
    import doctest

    assert doctest.testmod(gen).failed == 0


def test_hdf5_page_is_the_module_docstring():
    """The schema page shows hdf5.py's docstring (not a hand copy), its literal block fenced."""
    pytest.importorskip("mkdocs", reason="docs tools not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = (DOCS / "hdf5.md").read_text(encoding="utf-8")
    assert "{{ docstring qgen.datasets.hdf5 }}" in page and "schema_version" not in page
    text = hooks.module_docstring("qgen.datasets.hdf5")
    from qgen.datasets import hdf5

    assert text.splitlines()[0] == hdf5.__doc__.splitlines()[0]
    assert "```text\n/                  attrs  format = \"qgen-dataset\"" in text and ">>>" not in text
    with pytest.raises(ValueError, match="no module file"):
        hooks.module_docstring("qgen.nope")
