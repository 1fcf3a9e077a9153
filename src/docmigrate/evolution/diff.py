"""The compatibility diff of two schemas: each change, its verdict per role, a counterexample.

Roles, as in schema registries:

* **reader** (deserializer): the new schema must accept every document the old one did; a
  reader-breaking change means old files need an upgrade step.
* **writer** (serializer): the old schema must accept every document the new one does; a
  writer-breaking change means old readers cannot read new files.

A verdict is ``compatible`` only when proved (:mod:`docmigrate.evolution.compare`),
``breaking`` only with a counterexample document confirmed by both validators
(:mod:`docmigrate.evolution.search`), and ``undecided`` otherwise: never a false "compatible".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from docmigrate import jsonio
from docmigrate.evolution.compare import Change, Comparison
from docmigrate.evolution.search import NOT_FOUND, IncomparableError, Sides, find_counterexample
from docmigrate.family import Family

Verdict = Literal["compatible", "breaking", "undecided"]
ROLES = ("reader", "writer")
DEFAULT_EXAMPLES = {"dev": 60, "ci": 300}
"""Documents drawn per change and role, by ``DOCMIGRATE_PROFILE`` (``dev`` when unset)."""


def default_examples() -> int:
    """The search budget of the active profile (``DOCMIGRATE_PROFILE``)."""
    return DEFAULT_EXAMPLES.get(os.environ.get("DOCMIGRATE_PROFILE", "dev"), 60)


@dataclass(frozen=True)
class Finding:
    """One change with its verdict for each role and, when breaking, a counterexample."""

    change: Change
    verdicts: Mapping[str, Verdict]
    examples: Mapping[str, Any] = field(default_factory=dict)
    """Counterexample documents by role (only for ``breaking`` verdicts)."""

    def explain(self, role: str) -> str:
        """Say in words what the verdict means for ``role``."""
        verdict = self.verdicts[role]
        if verdict == "compatible":
            return "proved compatible"
        if verdict == "undecided":
            return "undecided: not proved compatible, and no counterexample found"
        if role == "reader":
            return "breaks readers: a document valid under the old version is invalid under the new"
        return "breaks writers: a document valid under the new version is invalid under the old"


@dataclass(frozen=True)
class Diff:
    """Every change between two schemas, and the verdict for each role."""

    old: str
    new: str
    findings: tuple[Finding, ...]
    verdicts: Mapping[str, Verdict]
    examples: Mapping[str, Any] = field(default_factory=dict)
    """A counterexample per breaking role (the first finding's, or a whole-document one)."""
    reason: str = ""
    """Why everything is undecided, when the schemas could not be compared at all."""

    def breaking(self, role: str) -> bool:
        """Tell whether ``role`` (reader, writer or any) is broken."""
        roles = ROLES if role == "any" else (role,)
        return any(self.verdicts[r] == "breaking" for r in roles)

    def reader_breaking(self) -> list[Finding]:
        """The changes that break readers (each with its counterexample)."""
        return [f for f in self.findings if f.verdicts["reader"] == "breaking"]


def diff_schemas(
    old: Mapping[str, Any] | bool,
    new: Mapping[str, Any] | bool,
    *,
    old_label: str = "old",
    new_label: str = "new",
    examples: int | None = None,
    resources: Mapping[str, Mapping[str, Any]] | None = None,
) -> Diff:
    """Compare two schemas; never raises for schemas that cannot be compared (all undecided).

    ``resources`` are the schema documents their ``$ref``s may reach (a family's schema
    resources, by retrieval URI): both sides are compared after following them.
    """
    budget = default_examples() if examples is None else examples
    try:
        sides = Sides.of(old, new, resources)
    except IncomparableError as error:
        return _undecided(old_label, new_label, str(error))
    try:
        changes = Comparison(
            sides.old, sides.new, sides.old_resources, sides.new_resources
        ).changes()
    except RecursionError:
        return _undecided(old_label, new_label, "the schemas nest too deeply to compare")
    findings = tuple(_judge(sides, change, budget) for change in changes)
    verdicts: dict[str, Verdict] = {}
    examples_found: dict[str, Any] = {}
    for role in ROLES:
        breaking = [f for f in findings if f.verdicts[role] == "breaking"]
        if breaking:
            verdicts[role], examples_found[role] = "breaking", breaking[0].examples[role]
        elif all(f.verdicts[role] == "compatible" for f in findings):
            verdicts[role] = "compatible"
        else:
            found = find_counterexample(sides, None, role, examples=budget)
            verdicts[role] = "undecided" if found is NOT_FOUND else "breaking"
            if found is not NOT_FOUND:
                examples_found[role] = found
    return Diff(old_label, new_label, findings, verdicts, examples_found)


def diff_versions(family: Family, old: str, new: str, *, examples: int | None = None) -> Diff:
    """Compare two versions of ``family`` (UnknownVersionError for a version it lacks)."""
    return diff_schemas(
        family.schema(old),
        family.schema(new),
        old_label=old,
        new_label=new,
        examples=examples,
        resources=family.resources,
    )


def _undecided(old: str, new: str, reason: str) -> Diff:
    return Diff(old, new, (), {"reader": "undecided", "writer": "undecided"}, reason=reason)


def _judge(sides: Sides, change: Change, examples: int) -> Finding:
    verdicts: dict[str, Verdict] = {}
    found: dict[str, Any] = {}
    for role in ROLES:
        if _proved(change, role):
            verdicts[role] = "compatible"
            continue
        example = find_counterexample(sides, change, role, examples=examples)
        if example is NOT_FOUND:
            verdicts[role] = "undecided"
        else:
            verdicts[role], found[role] = "breaking", example
    return Finding(change, verdicts, found)


def _proved(change: Change, role: str) -> bool:
    """A local proof counts where the place is reached monotonically (or anti-monotonically)."""
    if change.polarity == "?":
        return False
    direct = change.widens if role == "reader" else change.narrows
    inverted = change.narrows if role == "reader" else change.widens
    return bool(direct if change.polarity == "+" else inverted)


# -- rendering ------------------------------------------------------------------------------------


def as_json(diff: Diff) -> dict[str, Any]:
    """The diff as a JSON-ready object (counterexamples as exact JSON values)."""
    return {
        "old": diff.old,
        "new": diff.new,
        "verdicts": dict(diff.verdicts),
        "reason": diff.reason or None,
        "counterexamples": {role: _plain(value) for role, value in diff.examples.items()},
        "changes": [
            {
                "kind": f.change.kind,
                "summary": f.change.summary,
                "instance_path": f.change.instance_path,
                "old_location": f.change.old_location,
                "new_location": f.change.new_location,
                "reader": f.verdicts["reader"],
                "writer": f.verdicts["writer"],
                "counterexamples": {role: _plain(v) for role, v in f.examples.items()},
            }
            for f in diff.findings
        ],
    }


def render(diff: Diff, output_format: str = "text", *, family: str = "") -> str:
    """Render ``diff`` as ``text``, ``json`` or ``markdown``."""
    if output_format == "json":
        return json.dumps({"family": family or None, **as_json(diff)}, indent=2) + "\n"
    if output_format == "markdown":
        return _markdown(diff, family)
    return _text(diff, family)


def _text(diff: Diff, family: str) -> str:
    title = f"{family} {diff.old} -> {diff.new}" if family else f"{diff.old} -> {diff.new}"
    lines = [f"{title}: reader {diff.verdicts['reader']}, writer {diff.verdicts['writer']}"]
    if diff.reason:
        lines.append(f"  undecided: {diff.reason}")
    for finding in diff.findings:
        change = finding.change
        lines.append(f"  {change.instance_path}: {change.summary}")
        lines.append(f"    schema: old {change.old_location}, new {change.new_location}")
        for role in ROLES:
            lines.append(f"    {role:6}  {finding.verdicts[role]:10}  {finding.explain(role)}")
            if role in finding.examples:
                lines.append(f"            e.g. {_compact(finding.examples[role])}")
    for role, example in diff.examples.items():
        if not any(role in f.examples for f in diff.findings):
            lines.append(f"  whole document, {role} breaking, e.g. {_compact(example)}")
    lines.append(f"{len(diff.findings)} change(s)")
    return "\n".join(lines) + "\n"


def _markdown(diff: Diff, family: str) -> str:
    title = f"{family} {diff.old} → {diff.new}" if family else f"{diff.old} → {diff.new}"
    lines = [
        f"### {title}",
        "",
        f"Reader (old files): **{diff.verdicts['reader']}**; "
        f"writer (old readers): **{diff.verdicts['writer']}**.",
        "",
    ]
    if diff.reason:
        lines += [f"Undecided: {diff.reason}", ""]
    lines += ["| where | change | reader | writer |", "| --- | --- | --- | --- |"]
    for f in diff.findings:
        cells = [
            f"`{f.change.instance_path}`",
            f.change.summary.replace("|", "\\|"),
            *(
                f.verdicts[r] + (f" `{_compact(f.examples[r])}`" if r in f.examples else "")
                for r in ROLES
            ),
        ]
        lines.append("| " + " | ".join(c.replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    return json.loads(jsonio.dumps(value, indent=None))


def _compact(value: Any, limit: int = 300) -> str:
    text = jsonio.dumps(value, indent=None)
    return text if len(text) <= limit else text[: limit - 3] + "..."
