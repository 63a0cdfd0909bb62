"""MkDocs hooks: the pages generated from the code and from the recorded benchmarks.

* ``reference/``: one page per public module of every qgen subpackage (mkdocstrings
  renders its docstrings), one index page per subpackage, and the CLI's ``--help`` texts,
  so the reference follows the code without anyone editing it;
* ``notebooks/``: the tutorials, every notebook of the repository's ``notebooks/`` with
  its navigation entry (rendered by mkdocs-jupyter without executing them:
  tests/test_notebooks.py executes them);
* ``benchmarks/``: ``{{ table … }}``, ``{{ value … }}`` and ``{{ source … }}`` directives
  filled from ``benchmarks/results/*.json`` (``docs/gen_benchmarks.py``), and a page of
  every recorded result;
* ``{{ docstring qgen.MODULE }}`` on any page: that module's docstring (the HDF5 schema).

Registered in mkdocs.yml under ``hooks``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

import gen_benchmarks  # noqa: E402

PACKAGE = ROOT / "qgen"
TOP_MODULES = ("stats", "errors", "resources")  # the public top-level modules


def _summary(path: Path) -> str:
    """First sentence of a module's docstring (one line), for the index tables."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n", 1)[0].split())
    return first.replace("|", "\\|")


def _public_modules(package: Path) -> list[Path]:
    return sorted(p for p in package.glob("*.py") if not p.name.startswith("_"))


def reference_pages() -> tuple[dict[str, str], list]:
    """Generated reference pages {src_uri: markdown} and their navigation."""
    pages: dict[str, str] = {}
    nav: list = [{"Overview": "reference/index.md"}]
    rows = []
    subpackages = sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))
    for sub in subpackages:
        name = f"qgen.{sub.name}"
        sub_nav: list = [f"reference/{sub.name}/index.md"]
        mods = []
        for mod in _public_modules(sub):
            full = f"{name}.{mod.stem}"
            uri = f"reference/{sub.name}/{mod.stem}.md"
            pages[uri] = f"# {full}\n\n::: {full}\n    options:\n      show_root_heading: false\n"
            sub_nav.append({mod.stem: uri})
            mods.append(f"| [`{mod.stem}`]({mod.stem}.md) | {_summary(mod)} |")
        pages[f"reference/{sub.name}/index.md"] = (
            f"# {name}\n\n::: {name}\n    options:\n      members: false\n      show_root_heading: false\n\n"
            "| module | |\n|---|---|\n" + "\n".join(mods) + "\n")
        nav.append({name: sub_nav})
        rows.append(f"| [`{name}`]({sub.name}/index.md) | {_summary(sub / '__init__.py')} |")
    for stem in TOP_MODULES:
        uri = f"reference/{stem}.md"
        pages[uri] = f"# qgen.{stem}\n\n::: qgen.{stem}\n    options:\n      show_root_heading: false\n"
        nav.append({f"qgen.{stem}": uri})
        rows.append(f"| [`qgen.{stem}`]({stem}.md) | {_summary(PACKAGE / f'{stem}.py')} |")
    pages["reference/cli.md"] = cli_page()
    nav.append({"Command line": "reference/cli.md"})
    rows.append("| [`qgen` commands](cli.md) | Every command's `--help`. |")
    pages["reference/index.md"] = (
        "# Reference\n\nGenerated from the docstrings of the code this site was built from. "
        "The subpackages follow the data path: targets → measurements → datasets → models → "
        "training → scores → workflows; imports go one way along it.\n\n"
        "| package | |\n|---|---|\n" + "\n".join(rows) + "\n")
    return pages, nav


def cli_page() -> str:
    """Every ``qgen`` command's help text, as click prints it."""
    import click

    from qgen.cli.main import cli

    out = ["# Command line\n", "Every command's `--help`, as `qgen COMMAND --help` prints it.\n"]
    root = click.Context(cli, info_name="qgen", terminal_width=100, max_content_width=100)
    out.append(f"```text\n{cli.get_help(root)}\n```\n")
    for name in cli.list_commands(root):
        cmd = cli.get_command(root, name)
        ctx = click.Context(cmd, info_name=f"qgen {name}", parent=None, terminal_width=100,
                            max_content_width=100)
        out.append(f"## qgen {name}\n\n```text\n{cmd.get_help(ctx)}\n```\n")
    return "\n".join(out)


_REFERENCE: dict[str, str] = {}


def notebook_nav() -> list:
    """The tutorials' navigation: every notebook in ``notebooks/``, titled by its first
    heading, so a new notebook appears without editing mkdocs.yml."""
    import json

    nav: list = ["tutorials.md"]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        text = next(("".join(c["source"]) for c in cells if c["cell_type"] == "markdown"), "")
        title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), nb.stem)
        nav.append({title: f"notebooks/{nb.name}"})
    return nav


def on_config(config, **kwargs):
    pages, nav = reference_pages()
    _REFERENCE.clear()
    _REFERENCE.update(pages)
    for i, entry in enumerate(config["nav"]):
        if isinstance(entry, dict) and "Reference" in entry:
            config["nav"][i] = {"Reference": nav}
        if isinstance(entry, dict) and "Tutorials" in entry:
            config["nav"][i] = {"Tutorials": notebook_nav()}
    return config


@event_priority(100)  # before mkdocs-jupyter wraps the notebooks
def on_files(files, config, **kwargs):
    for uri, text in _REFERENCE.items():
        files.append(File.generated(config, uri, content=text))
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        # a plain file under the repository root: mkdocs-jupyter reads it from its path
        files.append(File(f"notebooks/{nb.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    files.append(File.generated(config, "benchmarks/results.md", content=gen_benchmarks.results_page()))
    return files


DOCSTRING = re.compile(r"\{\{\s*docstring\s+(qgen(?:\.\w+)+)\s*\}\}")
ROLE = re.compile(r":(?:mod|class|func|meth|attr|data|exc|obj):`~?([^`]+)`")


def module_docstring(name: str) -> str:
    """A module's docstring up to its Example section, as Markdown: RST literal blocks
    (``::`` then indented lines) become fenced text blocks, Sphinx roles code. For pages
    that explain what a module's docstring specifies (the HDF5 schema) without a second
    anchor for the module, which its reference page already has."""
    path = ROOT.joinpath(*name.split(".")).with_suffix(".py")
    if not path.is_file():
        raise ValueError(f"{{{{ docstring {name} }}}}: no module file {path}")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    doc = re.split(r"^Example\n-+$", doc, flags=re.M)[0].rstrip()
    out, lines, i = [], doc.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.endswith("::"):
            out.append(line[:-1] if not line.endswith(" ::") else line[:-3])
            block, i = [], i + 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i][4:])
                i += 1
            out += ["", "```text", *"\n".join(block).strip("\n").split("\n"), "```", ""]
            continue
        out.append(ROLE.sub(lambda m: f"`{m.group(1)}`", line))
        i += 1
    return "\n".join(out)


def on_page_markdown(markdown, page, **kwargs):
    markdown = DOCSTRING.sub(lambda m: module_docstring(m.group(1)), markdown)
    if page.file.src_uri.startswith("benchmarks/"):
        return gen_benchmarks.fill(markdown, where=page.file.src_uri)
    return markdown
