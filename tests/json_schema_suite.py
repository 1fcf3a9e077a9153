"""The JSON-Schema-Test-Suite as families: load each group's schema, draw from it, check.

Each group ``{description, schema, tests}`` that has at least one valid test is *attempted*:
its schema is written as the one version of a family and loaded (*built* when the loader
accepts it: a boolean schema, a custom metaschema or a ``default`` its own schema rejects
are refused, as for any family). The suite's ``remotes/`` folder is the family's schema
resources, under the URI the suite serves it at (``http://localhost:1234/``). Documents
are then drawn with :func:`documents`; the group *drew valid* when at least one was
drawn, and *all drawn valid* when every drawn document is accepted by jsonschema-rs and by
python-jsonschema (formats asserted by both).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings

from docmigrate import jsonio
from docmigrate.exceptions import DocmigrateError
from docmigrate.family import Family
from docmigrate.loader import load_family
from docmigrate.testing import documents

SUITE = Path(__file__).parent / "data" / "json-schema-test-suite" / "tests"
REMOTES = SUITE.parent / "remotes"
REMOTES_URI = "http://localhost:1234/"
DRAFTS = {
    "draft4": "http://json-schema.org/draft-04/schema#",
    "draft6": "http://json-schema.org/draft-06/schema#",
    "draft7": "http://json-schema.org/draft-07/schema#",
    "draft2019-09": "https://json-schema.org/draft/2019-09/schema",
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
}


@dataclass(frozen=True)
class Group:
    """One group of the suite: where it is, its schema and its draft folder."""

    draft: str
    file: str
    description: str
    schema: Any
    valid_examples: tuple[Any, ...] = ()
    """The suite's own documents that the group says are valid."""

    @property
    def name(self) -> str:
        """``draft/file: description``."""
        return f"{self.draft}/{self.file}: {self.description}"


@dataclass
class Outcome:
    """What happened to one group."""

    group: Group
    built: bool = False
    drawn: int = 0
    invalid: list[str] = field(default_factory=list)
    """Drawn documents a validator refused, with which one."""
    second_opinion: bool = True
    """Whether python-jsonschema was asked too (it agrees with the suite's valid tests)."""
    why: str = ""


def groups(draft: str) -> Iterator[Group]:
    """Yield each group of ``draft`` that has a valid test, in file order."""
    folder = SUITE / draft
    for path in sorted([*folder.glob("*.json"), *folder.glob("optional/**/*.json")]):
        for group in jsonio.loads(path.read_bytes()):
            if any(test["valid"] for test in group["tests"]):
                file = str(path.relative_to(folder))
                valid = tuple(test["data"] for test in group["tests"] if test["valid"])
                yield Group(draft, file, group["description"], group["schema"], valid)


def with_draft(group: Group) -> Any:
    """The group's schema with its draft declared (a suite schema often leaves it implied)."""
    schema = group.schema
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": DRAFTS[group.draft], **schema}
    return schema


def build(group: Group, folder: Path) -> Family:
    """Write the group's schema as the one version of a family in ``folder``; load it.

    The suite's remotes are the family's resources (linked, not copied: one folder for all).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "family.toml").write_text(
        'name = "suite"\nversion_pointer = "/~0version"\n'
        f'[resources]\n"{REMOTES_URI}" = "remotes/"\n'
    )
    (folder / "remotes").symlink_to(REMOTES, target_is_directory=True)
    (folder / "1.schema.json").write_bytes(jsonio.dumps(with_draft(group)).encode())
    return load_family(folder)


def python_jsonschema_accepts(schema: Any, document: Any) -> bool | None:
    """python-jsonschema's verdict (formats asserted), or None when it cannot decide."""
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        checker = cls(schema, format_checker=cls.FORMAT_CHECKER)
        return bool(checker.is_valid(json.loads(jsonio.dumps(document), parse_float=_decimal)))
    except Exception:  # unresolvable refs, regexes Python's re refuses, recursion: no verdict
        return None


def _decimal(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def attempt(group: Group, examples: int = 20) -> Outcome:
    """Build the group's family and draw ``examples`` documents from it."""
    outcome = Outcome(group)
    with tempfile.TemporaryDirectory() as folder:
        try:
            family = build(group, Path(folder) / "family")
        except DocmigrateError as error:
            outcome.why = str(error).split(": ", 1)[-1][:120]
            return outcome
    outcome.built = True
    schema = with_draft(group)
    # python-jsonschema is a second opinion only where it agrees with the suite itself: on
    # a group where it refuses one of the suite's own valid documents (a known bug of its,
    # e.g. draft 2019-09 unevaluatedProperties beside additionalProperties), it is not asked.
    trust_python = all(
        python_jsonschema_accepts(schema, example) is not False for example in group.valid_examples
    )
    outcome.second_opinion = trust_python

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def draw(document: Any) -> None:
        outcome.drawn += 1
        if not family.validator("1").is_valid(document):
            outcome.invalid.append(f"jsonschema-rs refused {jsonio.dumps(document)[:80]}")
        if trust_python and python_jsonschema_accepts(schema, document) is False:
            outcome.invalid.append(f"python-jsonschema refused {jsonio.dumps(document)[:80]}")

    try:
        given(documents(family, "1"))(draw)()
    except Exception as error:  # Unsatisfiable, a generation error: nothing drawn
        outcome.why = f"{type(error).__name__}: {str(error)[:120]}"
    return outcome
