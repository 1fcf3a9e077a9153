"""Ready-made laws for a family, each a plain function that runs a Hypothesis test.

Call one from any test (or let :func:`check_family` call them all). A broken law fails with
an ``AssertionError`` whose message says which step or version broke it and how; Hypothesis
shrinks the document to a minimal example and prints it ("Falsifying example").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from docmigrate import jsonio
from docmigrate.exceptions import (
    DocmigrateError,
    DocumentInvalidError,
    MigrationError,
    StoreError,
)
from docmigrate.family import Family, Step
from docmigrate.migrator import migrate, run_step
from docmigrate.pointers import parse_pointer, resolve
from docmigrate.testing.invalid import invalid_documents
from docmigrate.testing.strategies import documents
from docmigrate.validation import iter_errors

Law = Callable[..., None]
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.filter_too_much]
_ABSENT: Any = object()


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


def steps_produce_valid_output(family: Family, *, examples: int | None = None) -> None:
    """Every step's output is valid under its target schema, for inputs drawn from its source."""
    for step in family.steps:
        _run(_step_law(family, step), documents(family, step.source), examples)


def _step_law(family: Family, step: Step) -> Callable[[Any], None]:
    def law(document: Any) -> None:
        work = jsonio.clone(document)
        try:
            run_step(work, family, step, allow_loss=True)
        except MigrationError as error:
            raise AssertionError(
                f"step {step.info} broke on a valid {step.source} document: {error}"
            ) from error

    return law


def chain_lands_valid_at_current(family: Family, *, examples: int | None = None) -> None:
    """From every version, the plan to current runs and ends valid at current."""

    def law(drawn: tuple[str, Any]) -> None:
        version, document = drawn
        try:
            result = migrate(document, family)
        except MigrationError as error:
            raise AssertionError(f"upgrading a valid {version} document failed: {error}") from error
        errors = list(iter_errors(result.document, family, family.current))
        assert not errors, f"{version} -> {family.current} ended invalid: {_describe(errors)}"

    strategy = st.sampled_from(family.versions).flatmap(
        lambda v: documents(family, v).map(lambda d: (v, d))
    )
    _run(law, strategy, examples)


def upgrade_at_current_is_identity(family: Family, *, examples: int | None = None) -> None:
    """Upgrading a current document runs no step and returns an equal document."""

    def law(document: Any) -> None:
        result = migrate(document, family)
        assert result.plan == (), f"a current document got a plan: {[s.name for s in result.plan]}"
        assert result.document == document, "upgrading a current document changed it"

    _run(law, documents(family), examples)


def upgrades_never_mutate_input(family: Family, *, examples: int | None = None) -> None:
    """The caller's document is unchanged after an upgrade from any version."""

    def law(document: Any) -> None:
        snapshot = jsonio.clone(document)
        with contextlib.suppress(MigrationError):  # a failing step is another law's business
            migrate(document, family)
        assert document == snapshot, "migrate changed the caller's document"

    strategy = st.sampled_from(family.versions).flatmap(lambda v: documents(family, v))
    _run(law, strategy, examples)


def downgrades_invert_upgrades(family: Family, *, examples: int | None = None) -> None:
    """down(up(x)) == x for x at the older version; up(down(y)) == y outside declared drops."""
    for down in family.downgrades:
        older, newer = down.target, down.source
        _run(_back_and_forth(family, down), documents(family, older), examples)
        _run(_forth_and_back(family, down), documents(family, newer), examples)


def _back_and_forth(family: Family, down: Step) -> Callable[[Any], None]:
    older, newer = down.target, down.source

    def law(document: Any) -> None:
        there = migrate(document, family, to=newer).document
        back = migrate(there, family, to=older).document
        assert _labelled(back, family) == _labelled(document, family, older), (
            f"{older} -> {newer} -> {older} through {down.info} did not give the document back"
        )

    return law


def _forth_and_back(family: Family, down: Step) -> Callable[[Any], None]:
    older, newer = down.target, down.source

    def law(document: Any) -> None:
        lowered = migrate(document, family, to=older, allow_loss=True).document
        again = migrate(lowered, family, to=newer).document
        assert _without_drops(again, down) == _without_drops(document, down), (
            f"{newer} -> {older} -> {newer} through {down.info} changed more than the "
            f"declared drops {list(down.spec.drops)}"
        )

    return law


def invalid_documents_are_refused(family: Family, *, examples: int | None = None) -> None:
    """A document breaking one rule is reported for that rule, and the migrator refuses it."""

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
            return
        raise AssertionError(f"the migrator accepted a document with {broken.description}")

    strategy = st.sampled_from(family.versions).flatmap(
        lambda v: invalid_documents(family, v).map(lambda d: (v, d))
    )
    _run(law, strategy, examples)


def store_round_trip(family: Family, store_url: str, *, examples: int | None = None) -> None:
    """Export -> import into an empty store -> export gives the same document.

    A drawn document is imported first, so that what is compared is a store's export; drawn
    documents the store refuses (repeated keys) are skipped. ``store_url`` names a database
    the law may empty (its docmigrate tables are dropped before each example). Both exports
    carry the same ``exported_at`` stamp.
    """
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

    _run(law, documents(family), examples)


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
    family: Family, *, store_url: str | None = None, examples: int | None = None
) -> None:
    """Check every law on ``family`` (and the store round trip when ``store_url`` is given)."""
    for law in LAWS.values():
        law(family, examples=examples)
    if store_url is not None:
        store_round_trip(family, store_url, examples=examples)
