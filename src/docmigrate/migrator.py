"""Planning and running steps: validate the input, run each step, validate after each one.

The caller's document is never changed: the migrator copies it once and every step works on
that copy (so a step may change what it receives). Per-record steps are applied to each item
of the array they name; per-document steps to the whole document. After each step the
migrator writes the step's target version into the document's version label and validates the
result against the target schema.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docmigrate import jsonio
from docmigrate.deadline import Expired, time_limit
from docmigrate.exceptions import (
    DataLossError,
    StepFailedError,
    StepOutputInvalidError,
    StepTimeoutError,
)
from docmigrate.family import Family, Step
from docmigrate.json_values import find_non_json
from docmigrate.pointers import format_pointer, json_path, parse_pointer, resolve
from docmigrate.schema_walk import Documents, schema_at
from docmigrate.steps import StepContext, describe_exit, takes_context
from docmigrate.validation import is_valid, iter_errors, sort_errors, validate

_ABSENT: Any = object()


@dataclass(frozen=True)
class MigrationResult:
    """The outcome of :func:`migrate`: the new document and how it was made."""

    document: Any
    family: Family
    source: str
    target: str
    plan: tuple[Step, ...]

    @property
    def changed(self) -> bool:
        """Tell whether any step ran (False when the document was already at the target)."""
        return bool(self.plan)


def migrate(
    document: Any,
    family: Family,
    *,
    to: str | None = None,
    allow_loss: bool = False,
    step_timeout: float | None = None,
) -> MigrationResult:
    """Bring ``document`` of ``family`` to version ``to`` (default: current).

    Raises :class:`~docmigrate.exceptions.UnknownVersionError` for an unknown label,
    :class:`~docmigrate.exceptions.DocumentInvalidError` when the input fails its own
    version's schema, :class:`~docmigrate.exceptions.NoPathError`,
    :class:`~docmigrate.exceptions.StepFailedError`,
    :class:`~docmigrate.exceptions.StepOutputInvalidError`, and
    :class:`~docmigrate.exceptions.DataLossError` for a downgrade that would drop data
    unless ``allow_loss`` is true. With ``step_timeout`` (seconds), steps that together run
    longer raise :class:`~docmigrate.exceptions.StepTimeoutError` (see
    :mod:`docmigrate.deadline` for what can be interrupted). The input is never modified.
    """
    source = family.version_of(document)
    target = family.current if to is None else to
    validate(document, family, source)
    plan = family.plan(source, target)
    work = jsonio.clone(document)
    ends = None if step_timeout is None else time.monotonic() + step_timeout
    for step in plan:
        left = None if ends is None else max(ends - time.monotonic(), 0.0)
        try:
            with time_limit(left):
                work = run_step(work, family, step, allow_loss=allow_loss)
        except Expired:
            raise StepTimeoutError(step.info, step_timeout or 0.0) from None
    return MigrationResult(document=work, family=family, source=source, target=target, plan=plan)


def step_context(family: Family, step: Step) -> StepContext:
    """The context a step function may ask for: its family, versions, schemas and scope."""
    return StepContext(
        family=family.name,
        source=step.source,
        target=step.target,
        source_schema=family.schema(step.source),
        target_schema=family.schema(step.target),
        each=step.spec.each,
        source_documents=Documents(family.schema_uris[step.source], family.resources),
        target_documents=Documents(family.schema_uris[step.target], family.resources),
    )


def run_step(work: Any, family: Family, step: Step, *, allow_loss: bool = False) -> Any:
    """Apply one step to ``work`` (which it may change), label and validate the result."""
    context = step_context(family, step)
    if step.spec.direction == "downgrade" and not allow_loss:
        lost = data_dropped(work, step, context)
        if lost:
            raise DataLossError(step.info, lost)
    call = step_caller(step, context)
    if step.spec.each is None:
        work = checked_output(call(work), step, ())
    else:
        tokens = parse_pointer(step.spec.each)
        records = resolve(work, tokens, _ABSENT)
        if not isinstance(records, list):
            raise StepFailedError(
                step.info, "the records it applies to are not an array", json_path=json_path(tokens)
            )
        for index, record in enumerate(records):
            where: tuple[str | int, ...] = (*tokens, index)
            records[index] = checked_output(call(record, where=where), step, where)
    set_label(work, family.version_pointer, step.target)
    if not is_valid(work, family, step.target):
        raise StepOutputInvalidError(step.info, sort_errors(iter_errors(work, family, step.target)))
    return work


def step_caller(step: Step, context: StepContext) -> Any:
    """Wrap the step function so that a failure becomes a StepFailedError with a location.

    Whatever the step raises becomes a StepFailedError for this document, ``sys.exit`` and
    other ``BaseException`` subclasses included, so one step cannot end a run over many files
    with a success code. A ``KeyboardInterrupt`` is the exception: it is taken for a real
    Ctrl-C and propagates unchanged, so the whole run stops (the command line exits 2). So
    does the time limit's :class:`~docmigrate.deadline.Expired`, which ``migrate`` reports.
    """
    with_context = takes_context(step.function)

    def call(value: Any, where: tuple[str | int, ...] = ()) -> Any:
        try:
            return step.function(value, context) if with_context else step.function(value)
        except (KeyboardInterrupt, Expired):
            raise
        except BaseException as error:
            message = _failure(error) + _raised_at(error, step)
            raise StepFailedError(step.info, message, json_path=json_path(where)) from error

    return call


def _failure(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"the step called {describe_exit(error)}"
    return f"{type(error).__name__}: {error}"


def _raised_at(error: BaseException, step: Step) -> str:
    """Return `` (at steps.py:LINE)``: the last line of the step's own file the error passed.

    The innermost frame is often in a library the step called (``decimal``, ``re``); the
    author needs the line of their own code that led there.
    """
    import traceback  # only a failing step needs it (it imports textwrap, regexes and all)

    code = getattr(step.function, "__code__", None)
    if code is None:
        return ""
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if f.filename == code.co_filename
    ]
    if not frames:
        return ""
    return f" (at {frames[-1].filename}:{frames[-1].lineno})"


def checked_output(value: Any, step: Step, where: tuple[str | int, ...]) -> Any:
    """Refuse a step result that is None or not exact JSON, naming the step and the place."""
    if value is None:
        raise StepFailedError(
            step.info,
            "the step returned None (return the changed value)",
            json_path=json_path(where),
        )
    found = find_non_json(value)
    if found is not None:
        inner, problem = found
        raise StepFailedError(
            step.info, f"the step returned {problem}", json_path=json_path((*where, *inner))
        )
    return value


def data_dropped(work: Any, step: Step, context: StepContext) -> list[str]:
    """List the JSON paths whose values the downgrade would drop that differ from defaults."""
    drops = [parse_pointer(p) for p in step.spec.drops]
    if step.spec.each is None:
        owners: list[tuple[tuple[str | int, ...], Any]] = [((), work)]
        prefix = ""
    else:
        tokens = parse_pointer(step.spec.each)
        records = resolve(work, tokens, [])
        owners = [
            ((*tokens, i), r) for i, r in enumerate(records if isinstance(records, list) else [])
        ]
        prefix = f"{step.spec.each}/-"
    lost = []
    for drop in drops:
        declared = schema_at(
            context.source_schema, prefix + format_pointer(drop), context.source_documents
        )
        default = declared.get("default", _ABSENT) if isinstance(declared, Mapping) else _ABSENT
        for where, owner in owners:
            value = resolve(owner, drop, _ABSENT)
            if value is not _ABSENT and not _same(value, default):
                lost.append(json_path((*where, *drop)))
    return lost


def _same(value: Any, default: Any) -> bool:
    return default is not _ABSENT and type(value) is type(default) and value == default


def set_label(document: Any, tokens: tuple[str, ...], label: str) -> None:
    """Write ``label`` at ``tokens``; a new top-level key goes first, as files usually have it."""
    if not tokens:
        return
    parent = resolve(document, tokens[:-1], _ABSENT)
    if not isinstance(parent, dict):
        return
    key = tokens[-1]
    if key in parent:
        parent[key] = label
    else:
        rest = dict(parent)
        parent.clear()
        parent[key] = label
        parent.update(rest)
