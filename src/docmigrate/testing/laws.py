"""Ready-made laws for a family, each a plain function that runs a Hypothesis test.

Call one from any test (or let :func:`check_family` call them all). A broken law fails with
an ``AssertionError`` whose message says which step or version broke it and how; Hypothesis
shrinks the document to a minimal example and prints it ("Falsifying example").

A law cannot pass without testing anything: each returns an :class:`Exercise` counting what
it exercised (documents, records, step calls on documents with records, downgrade pairs,
broken rules by kind; each also a Hypothesis event), and raises :class:`VacuousLawError` (an
AssertionError) when it exercised nothing, e.g. a step never called on a record because every
drawn record array was empty.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.api import FamilyLike, resolve_family
from docmigrate.exceptions import (
    DocmigrateError,
    DocumentInvalidError,
    MigrationError,
    StoreError,
)
from docmigrate.family import Family, Step
from docmigrate.migrator import migrate, run_step
from docmigrate.pointers import format_pointer, parse_pointer, resolve
from docmigrate.testing.invalid import invalid_documents
from docmigrate.testing.strategies import documents
from docmigrate.validation import iter_errors

Law = Callable[..., "Exercise"]
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.filter_too_much]
_ABSENT: Any = object()


class VacuousLawError(AssertionError):
    """A law ran but exercised nothing (no record ever reached a step, no document drawn)."""


@dataclass
class Exercise:
    """What a law exercised, counted over the examples Hypothesis ran.

    ``counts`` maps what was counted (``documents``, ``records``, ``step calls on records``,
    ``downgrade pairs``, ``rule enum``...) to how many; ``note`` says why a law had nothing
    to check (``no downgrades``), in which case it neither passed nor failed.
    """

    law: str
    counts: Counter[str] = field(default_factory=Counter)
    note: str = ""

    def add(self, what: str, amount: int = 1) -> None:
        """Count ``amount`` more of ``what`` (and tell Hypothesis' statistics)."""
        self.counts[what] += amount
        if amount:
            event(what)

    def summary(self) -> str:
        """``12 documents, 31 records, ...`` (or the note)."""
        if self.note:
            return self.note
        return ", ".join(f"{n} {what}" for what, n in self.counts.items())

    def require(self, what: str, why: str) -> None:
        """Fail with :class:`VacuousLawError` unless something of ``what`` was counted."""
        if not self.counts.get(what):
            raise VacuousLawError(
                f"exercised nothing: {why} ({self.summary() or 'nothing counted'})"
            )


def _run(test: Callable[..., None], strategy: st.SearchStrategy[Any], examples: int | None) -> None:
    """Run ``test`` under Hypothesis, with ``examples`` overriding the active profile.

    A docmigrate error the law did not expect (a step failing where the law is about
    something else) fails the law too, as an AssertionError that names it.
    """

    def guarded(value: Any) -> None:
        try:
            test(value)
        except DocmigrateError as error:
            raise AssertionError(f"{type(error).__name__}: {error}") from error

    # Built now, so that the profile active at call time (not at import) is the parent.
    chosen = settings(suppress_health_check=_SLOW_IS_FINE)
    if examples is not None:
        chosen = settings(chosen, max_examples=examples)
    chosen(given(strategy)(guarded))()


def _describe(errors: list[Any]) -> str:
    return "; ".join(f"{e.json_path}: {e.message}" for e in errors[:3])


def _records(document: Any, pointer: tuple[str, ...] | None) -> int | None:
    """How many records ``document`` holds at ``pointer`` (None when there is no array there).

    Without a pointer, the items of every top-level array are counted.
    """
    if pointer is None:
        if not isinstance(document, dict):
            return None
        arrays = [v for v in document.values() if isinstance(v, list)]
        return sum(map(len, arrays)) if arrays else None
    found = resolve(document, pointer, None)
    return len(found) if isinstance(found, list) else None


def _count_records(exercise: Exercise, family: Family, document: Any) -> None:
    exercise.add("documents")
    exercise.add("records", _records(document, family.records_pointer) or 0)


def _require_records(exercise: Exercise, family: Family) -> None:
    exercise.require("documents", "no document was drawn")
    if family.records_pointer is not None:
        where = format_pointer(family.records_pointer)
        exercise.require("records", f"every drawn document had no record at {where!r}")


def steps_produce_valid_output(family: FamilyLike, *, examples: int | None = None) -> Exercise:
    """Every step's output is valid under its target schema, for inputs drawn from its source.

    Fails as vacuous when a step was never called on a document holding records.
    """
    family = resolve_family(family)
    exercise = Exercise("steps produce valid output")
    for step in family.steps:
        _run(_step_law(family, step, exercise), documents(family, step.source), examples)
    for step in family.steps:
        exercise.require(
            _calls_on_records(step),
            f"step {step.info} was never called on a document with records",
        )
    return exercise


def _calls_on_records(step: Step) -> str:
    return f"calls of {step.source}->{step.target} on records"


def _step_law(family: Family, step: Step, exercise: Exercise) -> Callable[[Any], None]:
    pointer = (
        parse_pointer(step.spec.each) if step.spec.each is not None else family.records_pointer
    )

    def law(document: Any) -> None:
        work = jsonio.clone(document)
        records = _records(document, pointer)
        try:
            run_step(work, family, step, allow_loss=True)
        except MigrationError as error:
            raise AssertionError(
                f"step {step.info} broke on a valid {step.source} document: {error}"
            ) from error
        exercise.add("step calls")
        exercise.add("records", records or 0)
        # A document without the array at all (an optional one) still exercises a step
        # that is not per-record; one with an empty array exercises nothing.
        if records or (records is None and step.spec.each is None):
            exercise.add(_calls_on_records(step))

    return law


def chain_lands_valid_at_current(family: FamilyLike, *, examples: int | None = None) -> Exercise:
    """From every version, the plan to current runs and ends valid at current."""
    family = resolve_family(family)
    exercise = Exercise("chain lands valid at current")

    def law(drawn: tuple[str, Any]) -> None:
        version, document = drawn
        try:
            result = migrate(document, family)
        except MigrationError as error:
            raise AssertionError(f"upgrading a valid {version} document failed: {error}") from error
        errors = list(iter_errors(result.document, family, family.current))
        assert not errors, f"{version} -> {family.current} ended invalid: {_describe(errors)}"
        _count_records(exercise, family, result.document)
        exercise.add("steps run", len(result.plan))

    strategy = st.sampled_from(family.versions).flatmap(
        lambda v: documents(family, v).map(lambda d: (v, d))
    )
    _run(law, strategy, examples)
    _require_records(exercise, family)
    if family.upgrades:
        exercise.require("steps run", "every drawn document was already current")
    return exercise


def upgrade_at_current_is_identity(family: FamilyLike, *, examples: int | None = None) -> Exercise:
    """Upgrading a current document runs no step and returns an equal document."""
    family = resolve_family(family)
    exercise = Exercise("upgrade at current is the identity")

    def law(document: Any) -> None:
        result = migrate(document, family)
        assert result.plan == (), f"a current document got a plan: {[s.name for s in result.plan]}"
        assert result.document == document, "upgrading a current document changed it"
        _count_records(exercise, family, document)

    _run(law, documents(family), examples)
    _require_records(exercise, family)
    return exercise


def upgrades_never_mutate_input(family: FamilyLike, *, examples: int | None = None) -> Exercise:
    """The caller's document is unchanged after an upgrade from any version."""
    family = resolve_family(family)
    exercise = Exercise("upgrades never mutate their input")

    def law(document: Any) -> None:
        snapshot = jsonio.clone(document)
        with contextlib.suppress(MigrationError):  # a failing step is another law's business
            exercise.add("steps run", len(migrate(document, family).plan))
        assert document == snapshot, "migrate changed the caller's document"
        exercise.add("documents")
        exercise.add("records", _records(document, family.records_pointer) or 0)

    strategy = st.sampled_from(family.versions).flatmap(lambda v: documents(family, v))
    _run(law, strategy, examples)
    exercise.require("documents", "no document was drawn")
    return exercise


def downgrades_invert_upgrades(family: FamilyLike, *, examples: int | None = None) -> Exercise:
    """down(up(x)) == x for x at the older version; up(down(y)) == y outside declared drops.

    A family without downgrades has nothing to check: the result says "no downgrades".
    """
    family = resolve_family(family)
    exercise = Exercise("downgrades invert upgrades")
    if not family.downgrades:
        exercise.note = "no downgrades"
        return exercise
    for down in family.downgrades:
        older, newer = down.target, down.source
        _run(_back_and_forth(family, down, exercise), documents(family, older), examples)
        _run(_forth_and_back(family, down, exercise), documents(family, newer), examples)
    exercise.require("downgrade pairs", "no document went down and back up")
    _require_records(exercise, family)
    return exercise


def _back_and_forth(family: Family, down: Step, exercise: Exercise) -> Callable[[Any], None]:
    older, newer = down.target, down.source

    def law(document: Any) -> None:
        there = migrate(document, family, to=newer).document
        back = migrate(there, family, to=older).document
        assert _labelled(back, family) == _labelled(document, family, older), (
            f"{older} -> {newer} -> {older} through {down.info} did not give the document back"
        )
        exercise.add("downgrade pairs")
        _count_records(exercise, family, there)

    return law


def _forth_and_back(family: Family, down: Step, exercise: Exercise) -> Callable[[Any], None]:
    older, newer = down.target, down.source

    def law(document: Any) -> None:
        lowered = migrate(document, family, to=older, allow_loss=True).document
        again = migrate(lowered, family, to=newer).document
        assert _without_drops(again, down) == _without_drops(document, down), (
            f"{newer} -> {older} -> {newer} through {down.info} changed more than the "
            f"declared drops {list(down.spec.drops)}"
        )
        exercise.add("downgrade pairs")
        _count_records(exercise, family, document)

    return law


def invalid_documents_are_refused(family: FamilyLike, *, examples: int | None = None) -> Exercise:
    """A document breaking one rule is reported for that rule, and the migrator refuses it."""
    family = resolve_family(family)
    exercise = Exercise("invalid documents are refused")

    def law(drawn: tuple[str, Any]) -> None:
        version, broken = drawn
        found = {(e.path, e.keyword) for e in iter_errors(broken.document, family, version)}
        assert (broken.path, broken.rule) in found, (
            f"{broken.description} at {broken.json_path} was not reported as {broken.rule!r} "
            f"(reported: {sorted(found, key=str)})"
        )
        try:
            migrate(broken.document, family)
        except DocumentInvalidError:
            exercise.add("documents")
            exercise.add(f"rule {broken.rule}")
            return
        raise AssertionError(f"the migrator accepted a document with {broken.description}")

    strategy = st.sampled_from(family.versions).flatmap(
        lambda v: invalid_documents(family, v).map(lambda d: (v, d))
    )
    _run(law, strategy, examples)
    exercise.require("documents", "no invalid document could be made")
    return exercise


def store_round_trip(
    family: FamilyLike, store_url: str, *, examples: int | None = None
) -> Exercise:
    """Export -> import into an empty store -> export gives the same document.

    A drawn document is imported first, so that what is compared is a store's export; drawn
    documents the store refuses (repeated keys) are skipped. ``store_url`` names a database
    the law may empty (its docmigrate tables are dropped before each example). Both exports
    carry the same ``exported_at`` stamp.
    """
    family = resolve_family(family)
    from docmigrate.store import Provenance

    stamp = "2000-01-01T00:00:00+00:00"

    def law(document: Any) -> None:
        provenance = Provenance("drawn.json", "0" * 64, family.current)
        with _empty_store(store_url) as store:
            try:
                store.write(document, family, provenance)
            except StoreError:
                # Drawn documents may repeat keys (two losses with one uuid): the store refuses
                # them, rightly, and such a document is not something a store ever exported.
                assume(False)
            first = store.read(family, exported_at=stamp)
        with _empty_store(store_url) as store:
            store.write(first, family, provenance)
            second = store.read(family, exported_at=stamp)
        assert second == first, "export -> import -> export changed the document"
        _count_records(exercise, family, first)

    exercise = Exercise("store round trip")
    _run(law, documents(family), examples)
    _require_records(exercise, family)
    return exercise


@contextlib.contextmanager
def _empty_store(url: str) -> Iterator[Any]:
    from docmigrate.store import SQLStore
    from docmigrate.store.tables import metadata

    store = SQLStore(url)
    try:
        with store.engine.begin() as conn:
            metadata.drop_all(conn)
        store.close()
        store = SQLStore(url)
        yield store
    finally:
        store.close()


def _labelled(document: Any, family: Family, version: str | None = None) -> Any:
    """The document with its version label written out (a default version made explicit)."""
    copy = jsonio.clone(document)
    tokens = family.version_pointer
    if version is not None and resolve(copy, tokens, _ABSENT) is _ABSENT and tokens:
        parent = resolve(copy, tokens[:-1])
        if isinstance(parent, dict):
            parent[tokens[-1]] = version
    return copy


def _without_drops(document: Any, step: Step) -> Any:
    """The document with every pointer the downgrade declares dropped removed."""
    copy = jsonio.clone(document)
    owners = [copy]
    if step.spec.each is not None:
        records = resolve(copy, parse_pointer(step.spec.each), [])
        owners = records if isinstance(records, list) else []
    for owner in owners:
        for pointer in step.spec.drops:
            tokens = parse_pointer(pointer)
            parent = resolve(owner, tokens[:-1], None)
            if isinstance(parent, dict):
                parent.pop(tokens[-1], None)
    return copy


LAWS: dict[str, Law] = {
    "steps produce valid output": steps_produce_valid_output,
    "chain lands valid at current": chain_lands_valid_at_current,
    "upgrade at current is the identity": upgrade_at_current_is_identity,
    "upgrades never mutate their input": upgrades_never_mutate_input,
    "downgrades invert upgrades": downgrades_invert_upgrades,
    "invalid documents are refused": invalid_documents_are_refused,
}
"""The laws every family must satisfy, by name (the store round trip needs a database)."""


def check_family(
    family: FamilyLike, *, store_url: str | None = None, examples: int | None = None
) -> list[Exercise]:
    """Check every law on ``family`` (and the store round trip when ``store_url`` is given).

    Returns what each law exercised; a law that exercised nothing raises VacuousLawError.
    """
    family = resolve_family(family)
    done = [law(family, examples=examples) for law in LAWS.values()]
    if store_url is not None:
        done.append(store_round_trip(family, store_url, examples=examples))
    return done
