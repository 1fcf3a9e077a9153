"""The streaming pipeline: validate and upgrade a document one record at a time.

When a family has a ``[records]`` array, the schemas involved constrain that array only
through ``items`` (see :func:`records_problem`) and every step of the plan is per-record on
that array, a file is read with :class:`~docmigrate.jsonio.streaming.RecordReader`: its
header (the document with the array empty) is validated once, and each record is validated,
upgraded step by step, checked and written before the next is read. Memory stays flat
whatever the number of records.

The result is the in-memory path's, byte for byte. Whatever the streaming path cannot settle
alone raises :class:`NotStreamable`, and the caller runs the in-memory path instead: text that
is not JSON docmigrate reads (the exact parser places the problem), a step that fails on a
record (the migrator reports exactly which), a family or version that the whole header
contradicts, and so on. Two things are told only at the end of a file: its version label, when
it comes after the records, and whether it escapes non-ASCII characters (``ensure_ascii``). If
what was assumed turns out wrong and mattered, the pass is run again knowing the answer.
"""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from docmigrate import jsonio
from docmigrate.deadline import Expired, time_limit
from docmigrate.exceptions import DocmigrateError, StepTimeoutError
from docmigrate.family import Family, Step
from docmigrate.jsonio.fast import _deeper_than
from docmigrate.jsonio.streaming import Header, NotStreamable, Record, RecordReader
from docmigrate.jsonio.values import MAX_DEPTH, gc_paused
from docmigrate.jsonio.writing import (
    _NON_ASCII_UTF8,
    _checked_layout,
    _escaped_utf8_run,
    _orjson_bytes,
    _python_write,
)
from docmigrate.migrator import (
    checked_output,
    data_dropped,
    set_label,
    step_caller,
    step_context,
)
from docmigrate.pointers import format_pointer, parse_pointer
from docmigrate.registry import Registry
from docmigrate.reports import Problem
from docmigrate.steps import StepContext
from docmigrate.style import TextStyle, _escapes_non_ascii, detect_style
from docmigrate.validation import (
    SchemaError,
    compile_reference,
    error_message,
    is_valid,
    relevance,
    schema_registry,
)

__all__ = [
    "NotStreamable",
    "StreamedUpgrade",
    "StreamedValidation",
    "records_problem",
    "upgrade_stream",
    "validate_stream",
]

# Keywords that, on the objects leading to the records array, never look inside it.
_HEADER_KEYWORDS = frozenset(
    {
        "$schema", "$id", "$defs", "definitions", "$comment", "$anchor", "title",
        "description", "type", "properties", "required", "additionalProperties",
        "minProperties", "maxProperties", "propertyNames", "dependentRequired", "default",
        "examples", "deprecated", "readOnly", "writeOnly",
    }
)  # fmt: skip
# Keywords of the records array that one record at a time can check: "items" and annotations.
_ARRAY_KEYWORDS = frozenset(
    {
        "$comment", "$anchor", "title", "description", "type", "items", "default", "examples",
        "deprecated", "readOnly", "writeOnly",
    }
)  # fmt: skip
# A string no header holds: the header is written with it in place of the records array.
RECORDS_MARK = "\x00docmigrate-records\x00"
_MARK_BYTES = b'"\\u0000docmigrate-records\\u0000"'


# --- when streaming applies --------------------------------------------------------------------


def records_problem(schema: Mapping[str, Any], pointer: tuple[str, ...]) -> str | None:
    """Say why ``schema`` cannot be checked one record at a time, or None when it can.

    The objects on the way to the array at ``pointer`` may use only keywords that never look
    inside it (``properties``, ``required``, ...), and the array only ``type``, ``items`` and
    annotations: ``uniqueItems``, ``maxItems``, ``contains``, ``unevaluatedItems``,
    ``allOf``... span records and need the whole array.
    """
    try:
        _items_location(schema, pointer)
    except NotStreamable as reason:
        return str(reason)
    return None


def _items_location(schema: Mapping[str, Any], pointer: tuple[str, ...]) -> str | None:
    """The schema pointer of the records' schema (None: anything goes); NotStreamable if none."""
    node, where = _followed(schema, schema, "")
    for token in pointer:
        _only(node, _HEADER_KEYWORDS, where)
        properties = node.get("properties")
        if not isinstance(properties, Mapping) or token not in properties:
            raise NotStreamable(f"the schema does not describe {format_pointer(pointer)}")
        node, where = _followed(schema, properties[token], f"{where}/properties/{_escape(token)}")
    _only(node, _ARRAY_KEYWORDS, where)
    items = node.get("items", True)
    if items is True:
        return None
    if not isinstance(items, Mapping | bool):
        raise NotStreamable(f"the schema at {where or '/'} gives items as a list")
    return f"{where}/items"


def _followed(root: Mapping[str, Any], node: Any, where: str) -> tuple[Mapping[str, Any], str]:
    """Follow a node that is only a same-document ``$ref``; True is the empty schema."""
    for _ in range(50):
        if node is True:
            return {}, where
        if not isinstance(node, Mapping):
            raise NotStreamable(f"the schema at {where or '/'} is not an object")
        reference = node.get("$ref")
        if reference is None:
            return node, where
        if isinstance(reference, str) and not reference.startswith("#"):
            # A schema resource: its subschemas are not addressable in this file's schema.
            raise NotStreamable(
                f"the schema at {where or '/'} refers to another schema document ({reference})"
            )
        if set(node) - {"$ref", "$comment", "description", "title"} or not isinstance(
            reference, str
        ):
            raise NotStreamable(f"the schema at {where or '/'} combines $ref with other keywords")
        where = reference[1:]
        node = _schema_at(root, where)
    raise NotStreamable("$ref chain too long")


def _schema_at(root: Mapping[str, Any], pointer: str) -> Any:
    """Return the subschema at a JSON Pointer of ``root``; NotStreamable when there is none."""
    node: Any = root
    for token in parse_pointer(pointer):
        if not isinstance(node, Mapping) or token not in node:
            raise NotStreamable(f"$ref #{pointer} does not resolve in the schema")
        node = node[token]
    return node


def _only(node: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(node) - allowed)
    if extra:
        raise NotStreamable(
            f"the schema at {where or '/'} uses {', '.join(extra)}, which span records"
        )


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


_record_validators: weakref.WeakKeyDictionary[Family, dict[str, Any]] = weakref.WeakKeyDictionary()


def record_validator(family: Family, version: str, pointer: tuple[str, ...]) -> Any:
    """The validator of one record of ``version`` (None: any record is valid), built once."""
    built = _record_validators.setdefault(family, {})
    if version not in built:
        schema = family.schema(version)
        location = _items_location(schema, pointer)
        uri = family.schema_uris[version]
        built[version] = (
            None
            if location is None
            else compile_reference(
                f"{uri}#{location}", schema_registry(schema, uri, family.resources)
            )
        )
    return built[version]


def _pointers(registry: Registry, family_name: str | None) -> set[tuple[str, ...]]:
    families = [registry.get(family_name)] if family_name else list(registry)
    return {f.records_pointer for f in families if f.records_pointer}


def _decide(registry: Registry, family_name: str | None, header: Any) -> tuple[Family, str]:
    """The family and version of a document with this header; NotStreamable when unclear."""
    try:
        family = registry.get(family_name) if family_name else registry.detect(header)
        version = family.version_of(header)
    except DocmigrateError as error:
        raise NotStreamable(f"the header does not settle family and version ({error})") from None
    return family, version


# --- validation --------------------------------------------------------------------------------


@dataclass
class StreamedValidation:
    """What :func:`validate_stream` found in one file."""

    family: Family
    version: str
    problems: list[Problem]
    header: Header
    """The document without its records (to place more paths, e.g. the version label)."""
    pointer: tuple[str, ...]


class RecordErrors:
    """Schema errors gathered from the header and the records, each with its place."""

    def __init__(self) -> None:
        self.found: list[tuple[SchemaError, tuple[int, int]]] = []

    def add_record(self, validator: Any, record: Record, pointer: tuple[str, ...]) -> bool:
        """Check one record; keep its errors (with paths from the root). True when valid."""
        if validator is None or validator.is_valid(record.value):
            return True
        errors = list(validator.iter_errors(record.value))
        places = record.positions([tuple(error.instance_path) for error in errors])
        prefix = (*pointer, record.index)
        for error, place in zip(errors, places, strict=True):
            path = (*prefix, *error.instance_path)
            self.found.append(
                (SchemaError(path, tuple(error.schema_path), error_message(error)), place)
            )
        return False

    def add_header(self, family: Family, version: str, header: Header) -> None:
        errors = list(family.validator(version).iter_errors(header.value))
        places = header.positions([tuple(error.instance_path) for error in errors])
        for error, place in zip(errors, places, strict=True):
            schema_error = SchemaError(
                tuple(error.instance_path), tuple(error.schema_path), error_message(error)
            )
            self.found.append((schema_error, place))

    def problems(self) -> list[Problem]:
        """The problems, best first as :func:`~docmigrate.validation.sort_errors` orders them."""
        ordered = sorted(self.found, key=lambda pair: relevance(pair[0]))
        return [
            Problem(line, column, error.json_path, error.message, error.keyword)
            for error, (line, column) in ordered
        ]


def validate_stream(
    path: Path,
    registry: Registry,
    family_name: str | None = None,
    *,
    max_file_size: int | None = None,
) -> StreamedValidation:
    """Validate the file at ``path`` record by record; NotStreamable when it cannot be.

    Raises ``FileTooLargeError`` (an OSError) past ``max_file_size`` bytes and OSError when
    the file cannot be read.
    """
    return with_retries(
        lambda known, _: _validate_pass(path, registry, family_name, max_file_size, known)
    )


class Retry(Exception):
    """The pass assumed something the end of the file contradicts: run it again."""

    def __init__(self, header: Any, ensure_ascii: bool | None = None) -> None:
        super().__init__("run the pass again")
        self.header = header
        self.ensure_ascii = ensure_ascii


_Passed = TypeVar("_Passed")


def with_retries(
    one_pass: Callable[[Any, bool | None], _Passed],
    *,
    attempts: int = 2,
    ensure_ascii: bool | None = None,
) -> _Passed:
    """Run ``one_pass(known, ensure_ascii)``, again with what each :class:`Retry` taught.

    ``known`` is the whole header once a pass has read it (None at first); ``ensure_ascii``
    starts as given and follows the last retry that decided it. NotStreamable after
    ``attempts`` passes that each had to start again.
    """
    known: Any = None
    for _attempt in range(attempts):
        try:
            return one_pass(known, ensure_ascii)
        except Retry as retry:
            known = retry.header
            if retry.ensure_ascii is not None:
                ensure_ascii = retry.ensure_ascii
    raise NotStreamable("the header kept changing what was assumed")


def open_limited(path: Path, max_file_size: int | None) -> BinaryIO:
    """Open ``path`` for reading bytes; FileTooLargeError when it exceeds ``max_file_size``."""
    from docmigrate.files import FileTooLargeError

    stream = open(path, "rb")  # noqa: SIM115 - closed by the caller's with block
    size = os.fstat(stream.fileno()).st_size
    if max_file_size is not None and size > max_file_size:
        stream.close()
        raise FileTooLargeError(size, max_file_size)
    return stream


def start_pass(
    path: Path,
    stream: BinaryIO,
    registry: Registry,
    family_name: str | None,
    max_file_size: int | None,
    known: Any,
    on_bytes: Callable[[bytes], None] | None = None,
) -> tuple[RecordReader, Family, str, Any]:
    """Open the records of ``stream``: the reader, the family and version, the header so far."""
    pointers = _pointers(registry, family_name)
    if not pointers:
        raise NotStreamable("no family has a [records] array")
    reader = RecordReader(
        stream, pointers, source=str(path), limit=max_file_size, on_bytes=on_bytes
    )
    head = reader.open()
    if known is None:
        try:
            family, version = _decide(registry, family_name, head)
        except NotStreamable:
            # Maybe the label (or what detection needs) comes after the records.
            known = _skim(path, registry, family_name, max_file_size)
    if known is not None:
        family, version = _decide(registry, family_name, known)
    if family.records_pointer != reader.pointer:
        raise NotStreamable("the array found is not this family's records")
    inside = len(reader.pointer)
    if any(t[:inside] == reader.pointer and len(t) > inside for t in _detect_pointers(family)):
        raise NotStreamable("the family's detection rules look into its records")
    return reader, family, version, head


def _detect_pointers(family: Family) -> list[tuple[str, ...]]:
    rules = family.detect
    return [*rules.required, *(tokens for tokens, _ in rules.equals)]


def _skim(
    path: Path, registry: Registry, family_name: str | None, max_file_size: int | None
) -> Any:
    """Read the whole header (records parsed and dropped): the cheap first pass."""
    with open_limited(path, max_file_size) as stream:
        reader = RecordReader(
            stream, _pointers(registry, family_name), source=str(path), limit=max_file_size
        )
        reader.open()
        for _record in reader.records():
            pass
        return reader.finish().value


def _validate_pass(
    path: Path,
    registry: Registry,
    family_name: str | None,
    max_file_size: int | None,
    known: Any,
) -> StreamedValidation:
    with open_limited(path, max_file_size) as stream:
        reader, family, version, _head = start_pass(
            path, stream, registry, family_name, max_file_size, known
        )
        pointer = reader.pointer
        validator = record_validator(family, version, pointer)
        errors = RecordErrors()
        with gc_paused():  # records are acyclic and freed one by one: no collection needed
            if validator is not None:
                valid = validator.is_valid
                for record in reader.records():
                    if not valid(record.value):  # only invalid records cost more
                        errors.add_record(validator, record, pointer)
            else:
                for _record in reader.records():
                    pass
        header = reader.finish()
    if _decide(registry, family_name, header.value) != (family, version):
        raise Retry(header.value)
    errors.add_header(family, version, header)
    return StreamedValidation(family, version, errors.problems(), header, pointer)


def streaming_reason(family: Family, versions: tuple[str, ...]) -> str | None:
    """Say why documents of ``family`` at these versions cannot be streamed, or None."""
    if family.records_pointer is None:
        return "the family has no [records] array"
    for version in versions:
        problem = records_problem(family.schema(version), family.records_pointer)
        if problem is not None:
            return f"version {version}: {problem}"
    return None


# --- upgrade -----------------------------------------------------------------------------------


@dataclass
class StreamedUpgrade:
    """What :func:`upgrade_stream` did with one file."""

    family: Family
    version: str
    target: str
    plan: tuple[Step, ...]
    problems: list[Problem] = field(default_factory=list)
    """Schema errors of the input (nothing was written when there are any)."""
    written: bool = False


@dataclass(frozen=True)
class UpgradeSettings:
    """How to upgrade: the command line's options that the streaming pass needs."""

    family_name: str | None = None
    to: str | None = None
    allow_loss: bool = False
    step_timeout: float | None = None
    indent: int | None = None
    ensure_ascii: bool | None = None
    max_file_size: int | None = None


Output = Callable[[], contextlib.AbstractContextManager[BinaryIO]]
"""Opens where the upgraded text goes; a body that raises must leave nothing behind."""


def upgrade_stream(
    path: Path, registry: Registry, settings: UpgradeSettings, output: Output
) -> StreamedUpgrade:
    """Upgrade the file at ``path`` record by record into ``output()``.

    ``output`` is entered only when there is something to write (a plan that is not empty,
    an input that is valid). Raises NotStreamable when the file must go the in-memory way,
    :class:`~docmigrate.exceptions.StepTimeoutError`, and OSError for reading problems.
    """
    return with_retries(
        lambda known, ensure_ascii: _upgrade_pass(
            path, registry, settings, output, known, ensure_ascii
        ),
        attempts=3,
        ensure_ascii=settings.ensure_ascii,
    )


class _Invalid(Exception):
    """The input has schema errors: leave the output unwritten."""


def _upgrade_pass(
    path: Path,
    registry: Registry,
    settings: UpgradeSettings,
    output: Output,
    known: Any,
    ensure_ascii: bool | None,
) -> StreamedUpgrade:
    with open_limited(path, settings.max_file_size) as stream:
        tail = _tail(stream)
        reader, family, version, head = start_pass(
            path, stream, registry, settings.family_name, settings.max_file_size, known
        )
        target = family.current if settings.to is None else settings.to
        try:
            plan = family.plan(version, target)
        except DocmigrateError as error:
            raise NotStreamable(str(error)) from None
        pointer = reader.pointer
        reason = plan_reason(family, plan, pointer)
        if reason is not None:
            raise NotStreamable(reason)
        result = StreamedUpgrade(family, version, target, plan)
        validator = record_validator(family, version, pointer)
        errors = RecordErrors()
        if not plan:
            for record in reader.records():
                errors.add_record(validator, record, pointer)
            header = reader.finish()
            check_header(registry, settings, header, family, version, errors)
            result.problems = errors.problems()
            return result
        style = _style(reader.style_text, tail, settings, ensure_ascii)
        steps = RecordSteps(family, plan, pointer, settings)
        writer = _Writer(style, pointer, ensure_ascii is None)
        writer.escapes = _escapes_non_ascii(reader.style_text)
        assumed = steps.header(head if known is None else known, check=False)
        opening = writer.header_parts(assumed)[0]
        try:
            with output() as sink, gc_paused():
                sink.write(opening)
                write, valid = sink.write, _is_valid(validator)
                for record in reader.records():
                    if not valid(record.value) and not errors.add_record(
                        validator, record, pointer
                    ):
                        continue
                    if not errors.found:
                        if not writer.escapes:  # once True, it stays True
                            writer.escapes = _has_escape(reader, record)
                        write(writer.record(steps.apply(record)))
                header = reader.finish()
                check_header(registry, settings, header, family, version, errors)
                if errors.found:
                    raise _Invalid
                finished = steps.header(header.value)
                start, end = writer.header_parts(finished)
                writer.escapes |= _escapes_non_ascii(header.text) and reader.all_ascii
                if start != opening:
                    raise Retry(header.value)
                decided = reader.all_ascii and writer.escapes
                if writer.guessing and decided != style.ensure_ascii and writer.sensitive:
                    raise Retry(header.value, ensure_ascii=decided)
                sink.write(writer.close() + end)
        except _Invalid:
            result.problems = errors.problems()
            return result
    result.written = True
    return result


def check_header(
    registry: Registry,
    settings: UpgradeSettings,
    header: Header,
    family: Family,
    version: str,
    errors: RecordErrors,
) -> None:
    """Check the whole header: Retry if it changes the family or version, else add its errors."""
    if _decide(registry, settings.family_name, header.value) != (family, version):
        raise Retry(header.value)
    errors.add_header(family, version, header)


def plan_reason(family: Family, plan: tuple[Step, ...], pointer: tuple[str, ...]) -> str | None:
    """Why this plan cannot run one record at a time, or None."""
    for step in plan:
        if step.spec.each is None or parse_pointer(step.spec.each) != pointer:
            return f"step {step.name} works on the whole document"
    versions = (plan[0].source, *(step.target for step in plan)) if plan else ()
    return streaming_reason(family, versions)


def _is_valid(validator: Any) -> Callable[[Any], bool]:
    """The validator's ``is_valid`` (None, no schema: every record is valid)."""
    if validator is None:
        return lambda _value: True
    is_valid: Callable[[Any], bool] = validator.is_valid
    return is_valid


def _has_escape(reader: RecordReader, record: Record) -> bool:
    """Whether the record's text holds an escape only ``ensure_ascii`` writes (ASCII texts)."""
    if not reader.all_ascii or not record.has_text("\\u"):
        return False
    return _escapes_non_ascii(record.text)


def _tail(stream: BinaryIO) -> bytes:
    """The last two bytes of the file (its line ends), the stream left at its start."""
    size = os.fstat(stream.fileno()).st_size
    stream.seek(max(size - 2, 0))
    tail = stream.read(2)
    stream.seek(0)
    return tail


def _style(
    start: str, tail: bytes, settings: UpgradeSettings, ensure_ascii: bool | None
) -> TextStyle:
    """The file's layout from the start of its text and its last bytes, as options override."""
    style = detect_style(start)
    if "\n" not in start[:65536]:
        style = replace(style, newline="\r\n" if tail.endswith(b"\r\n") else "\n")
    style = replace(style, trailing_newline=tail.endswith(b"\n"))
    return style.overridden(indent=settings.indent, ensure_ascii=ensure_ascii)


class RecordSteps:
    """The plan's steps applied to one record, and the header's label set as they would."""

    def __init__(
        self,
        family: Family,
        plan: tuple[Step, ...],
        pointer: tuple[str, ...],
        settings: UpgradeSettings,
    ) -> None:
        self.family = family
        self.plan = plan
        self.pointer = pointer
        self.settings = settings
        self.checked = checked_output
        self.calls: list[tuple[Step, StepContext, Callable[..., Any]]] = []
        for step in plan:
            context = step_context(family, step)
            self.calls.append((step, context, step_caller(step, context)))
        self.validators = [record_validator(family, step.target, pointer) for step in plan]
        self.spent = 0.0

    def header(self, header: Any, *, check: bool = True) -> Any:
        """The header after every step, labelled with each target (and valid at each)."""
        work = jsonio.clone(header)
        for step in self.plan:
            set_label(work, self.family.version_pointer, step.target)
            if check and not is_valid(work, self.family, step.target):
                raise NotStreamable("a step leaves the header invalid")
        return work

    def apply(self, record: Record) -> Any:
        """Run every step on the record, checking each result as the migrator does."""
        timeout = self.settings.step_timeout
        if timeout is None:
            return self._run(record)
        started = time.monotonic()
        running: list[Step] = []
        try:
            with time_limit(max(timeout - self.spent, 0.0)):
                return self._run(record, running)
        except Expired:
            raise StepTimeoutError(running[-1].info, timeout) from None
        finally:
            self.spent += time.monotonic() - started

    def _run(self, record: Record, running: list[Step] | None = None) -> Any:
        value = record.value
        where: tuple[str | int, ...] = (*self.pointer, record.index)
        last = len(self.calls) - 1
        for number, ((step, context, call), validator) in enumerate(
            zip(self.calls, self.validators, strict=True)
        ):
            if running is not None:
                running.append(step)
            downgrade = step.spec.direction == "downgrade" and not self.settings.allow_loss
            if downgrade and data_dropped(_wrapped(value, self.pointer), step, context):
                raise NotStreamable("a downgrade would drop data")
            try:
                value = call(value, where=where)
                # The last output is checked by the writer, which refuses what is not
                # exact JSON; the others here, before the next step sees them.
                if value is None or number < last:
                    value = self.checked(value, step, where)
                valid = validator is None or validator.is_valid(value)
            except (DocmigrateError, ValueError, TypeError):
                raise NotStreamable(f"step {step.name} fails on record {record.index}") from None
            if not valid:
                raise NotStreamable(f"step {step.name} leaves record {record.index} invalid")
        return value


def _wrapped(record: Any, pointer: tuple[str, ...]) -> Any:
    """A document holding only ``record`` in its records array (for per-record checks)."""
    document: Any = [record]
    for token in reversed(pointer):
        document = {token: document}
    return document


class _Writer:
    """Writes the upgraded document in the file's layout: header, records one by one, rest."""

    def __init__(self, style: TextStyle, pointer: tuple[str, ...], guessing: bool) -> None:
        self.style = style
        self.layout = _checked_layout(
            style.indent, (style.item_separator, style.key_separator), style.newline
        )
        self.pointer = pointer
        self.guessing = guessing
        """Whether ensure_ascii is a guess made from the start of the text."""
        self.escapes = False
        self.sensitive = False
        """Whether some text written depends on ensure_ascii."""
        self.count = 0
        level = len(pointer) + 1
        unit, newline = style.indent, style.newline
        breaks = ["" if unit is None else newline + unit * k for k in range(level + 1)]
        # A record is written at level 0, then its line breaks are indented to its level:
        # neither writer puts a raw line break inside a string.
        self.shift = (newline.encode(), breaks[level].encode()) if unit is not None else None
        self.depth_left = MAX_DEPTH - level
        self.first = ("[" + breaks[level]).encode()
        self.between = (style.item_separator + breaks[level]).encode()
        self.last = (breaks[level - 1] + "]").encode()

    def _dump(self, value: Any, *, trailing: bool) -> bytes:
        """``dump_bytes`` in the file's layout, noting whether ``ensure_ascii`` changes it."""
        end = self.style.newline if trailing and self.style.trailing_newline else ""
        try:
            data = _orjson_bytes(value, self.layout, end)
            if data is None:
                data = (_python_write(value, self.layout, False) + end).encode("utf-8")
        except (TypeError, ValueError):  # the in-memory path says what and where
            raise NotStreamable("a step returned a value that is not exact JSON") from None
        if not data.isascii() or b"\x7f" in data:
            self.sensitive = True
            if self.style.ensure_ascii:
                data = _NON_ASCII_UTF8.sub(_escaped_utf8_run, data)
        return data

    def header_parts(self, header: Any) -> tuple[bytes, bytes]:
        """The header's text before the records array and after it."""
        marked: Any = jsonio.clone(header)
        parent = marked
        for token in self.pointer[:-1]:
            parent = parent[token]
        parent[self.pointer[-1]] = RECORDS_MARK
        data = self._dump(marked, trailing=True)
        if data.count(_MARK_BYTES) != 1:
            raise NotStreamable("the header holds the records placeholder")
        start, end = data.split(_MARK_BYTES)
        return start, end

    def record(self, value: Any) -> bytes:
        """One record's text, with what comes before it."""
        text = self._dump(value, trailing=False)
        if text.count(b"[") + text.count(b"{") > self.depth_left and _deeper_than(
            text.replace(b"\\\\", b"_"), self.depth_left
        ):
            raise NotStreamable("a step made a record nest too deep")
        if self.shift is not None:
            text = text.replace(*self.shift)
        before = self.between if self.count else self.first
        self.count += 1
        return before + text

    def close(self) -> bytes:
        """What ends the records array."""
        return self.last if self.count else b"[]"


@contextlib.contextmanager
def discarding() -> Iterator[BinaryIO]:
    """An output that keeps nothing (for dry runs)."""
    with open(os.devnull, "wb") as sink:
        yield sink
