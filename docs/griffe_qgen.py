"""A griffe extension that reads qgen's docstrings as they are written.

qgen writes numpy-style docstrings with three habits that griffe's numpy parser reads
otherwise, so this extension rewrites each docstring once, after the package is loaded:

* ``name : description`` items in a Parameters section (the description on the name's
  line, no type): the text after the colon is the description, not a type;
* ``Example`` section headers: read as ``Examples``, so doctests render as code;
* Sphinx roles (``:class:`~qgen.stats.Estimate```, ``:func:`fit```): a link to the
  object's reference entry when it resolves to a public qgen object, code otherwise;
  RST's ``::`` before a literal block becomes ``:``.

Loaded by mkdocstrings (``extensions`` in mkdocs.yml); the docstrings in the code stay
untouched.
"""

from __future__ import annotations

import re

import griffe

__all__ = ["QgenDocstrings", "rewrite"]

ROLE = re.compile(r":(?:mod|class|func|meth|attr|data|exc|obj):`([^`]+)`")
SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}$", re.M)
ITEM_SECTIONS = {"Parameters", "Other Parameters", "Attributes", "Raises", "Yields"}
ITEM = re.compile(r"^([A-Za-z_*][\w*]*(?:\s*,\s*[A-Za-z_*][\w*]*)*)\s+:\s+(\S.*)$")


def _items(text: str) -> str:
    """``name : description`` → ``name`` + indented description, in item sections; prose
    after the items (a paragraph at the margin after a blank line) becomes a Notes section,
    since a numpy section runs to the next header; doctests outside an Examples section
    become code blocks."""
    out, section = [], None
    lines = text.split("\n")
    doctest = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        prev = lines[i - 1] if i else ""
        if re.fullmatch(r"-{3,}", nxt) and line.strip():
            section = line.strip()
        if doctest and not line.strip():
            out.append("```")
            doctest = False
        if section != "Examples" and line.startswith(">>>") and not doctest:
            out.append("```pycon")
            doctest = True
        m = ITEM.match(line) if section in ITEM_SECTIONS else None
        if m:
            out += [m.group(1), "    " + m.group(2)]
            continue
        if section in ITEM_SECTIONS and not prev.strip() and line[:1].strip() and not re.fullmatch(r"-{3,}", nxt):
            out += ["Notes", "-----"]
            section = "Notes"
        out.append(line if doctest or line.startswith("    ") else _escape_brackets(line))
    if doctest:
        out.append("```")
    return "\n".join(out)


def _escape_brackets(line: str) -> str:
    """``a[0][1]`` in prose is not a Markdown reference link (code spans left alone)."""
    parts = line.split("`")
    return "`".join(p.replace("][", "]\\[") if i % 2 == 0 else p for i, p in enumerate(parts))


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """The canonical path of ``target`` seen from ``obj``, when it is a public qgen object."""
    head, _, rest = target.partition(".")
    try:
        if target.startswith("qgen."):
            found = obj.package
            for part in target.split(".")[1:]:
                found = found.members[part]
        else:
            found = obj.package[obj.resolve(head).removeprefix("qgen.")] if head else None
            for part in filter(None, rest.split(".")):
                found = found.members[part]
        if isinstance(found, griffe.Alias):
            found = found.final_target
    except (KeyError, ValueError, AttributeError, griffe.NameResolutionError, griffe.AliasResolutionError):
        return None
    if found is None or not found.path.startswith("qgen."):
        return None
    node = found
    while node is not None and not node.is_package:  # every level public, the module's own __all__ included
        if node.name.startswith("_") and not node.name.startswith("__") or not node.is_public:
            return None
        node = node.parent
    return found.path


def rewrite(obj: griffe.Object, text: str) -> str:
    """qgen's docstring ``text`` of ``obj`` in the form griffe's numpy parser reads."""
    text = re.sub(r"^Example\n-------$", "Examples\n--------", text, flags=re.M)
    text = _items(text)
    text = re.sub(r"::\n\n", ":\n\n", text)

    def role(m: re.Match) -> str:
        raw = m.group(1).strip()
        short = raw.startswith("~")
        target = raw.lstrip("~.").removesuffix("()")
        shown = target.rsplit(".", 1)[-1] if short else target
        path = _resolve(obj, target)
        return f"[`{shown}`][{path}]" if path else f"`{shown}`"

    return ROLE.sub(role, text)


class QgenDocstrings(griffe.Extension):
    """Rewrite every docstring of the loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        def walk(obj: griffe.Object) -> None:
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj, obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)

        walk(pkg)
