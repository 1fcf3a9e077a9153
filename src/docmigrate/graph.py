"""A family's version graph as Mermaid or Graphviz dot text, for docs."""

from __future__ import annotations

import re

from docmigrate.family import Family


def version_graph(family: Family, fmt: str) -> str:
    """Return the version graph of ``family`` in ``fmt`` (``mermaid`` or ``dot``).

    Versions are nodes (current highlighted); steps are edges labelled with their function,
    upgrades solid and downgrades dashed.
    """
    if fmt == "dot":
        return _dot(family)
    if fmt == "mermaid":
        return _mermaid(family)
    raise ValueError(f"unknown graph format {fmt!r} (mermaid, dot)")


def _node(version: str) -> str:
    return "v_" + re.sub(r"\W", "_", version)


def _mermaid(family: Family) -> str:
    lines = ["flowchart LR"]
    for version in family.versions:
        label = f"{version} (current)" if version == family.current else version
        lines.append(f'    {_node(version)}["{label}"]')
    for step in family.steps:
        arrow = "-->" if step.spec.direction == "upgrade" else "-.->"
        lines.append(f"    {_node(step.source)} {arrow}|{step.name}| {_node(step.target)}")
    lines.append("    classDef current stroke-width:3px")
    lines.append(f"    class {_node(family.current)} current")
    return "\n".join(lines) + "\n"


def _dot(family: Family) -> str:
    lines = [f'digraph "{family.name}" {{', "    rankdir=LR;"]
    for version in family.versions:
        extra = ", style=bold, peripheries=2" if version == family.current else ""
        label = f"{version} (current)" if version == family.current else version
        lines.append(f'    "{version}" [label="{label}"{extra}];')
    for step in family.steps:
        style = "" if step.spec.direction == "upgrade" else ", style=dashed"
        lines.append(f'    "{step.source}" -> "{step.target}" [label="{step.name}"{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"
