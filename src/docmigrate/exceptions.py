"""The error tree of docmigrate.

Every failure is a typed exception that carries data; only the command line turns them into
messages and exit codes::

    DocmigrateError
    ├── JSONReadError              a document could not be read as exact JSON (file, line, column)
    ├── FamilyError                a family folder is broken (family, file, schema pointer, why)
    │   └── RemoteReferenceError   a schema names a `$ref` outside the family (no network, ever)
    ├── ConfigurationError         family paths, pyproject settings or entry points are unusable
    ├── DetectionError             a document's family or version cannot be told
    │   ├── UnknownFamilyError     no family or several families match
    │   └── UnknownVersionError    the version label is absent or not one the family knows
    ├── DocumentInvalidError       a document fails its version's schema (all errors attached)
    ├── MigrationError             a plan cannot be made or run
    │   ├── NoPathError            no chain of steps leads to the target version
    │   ├── StepFailedError        a step raised, called sys.exit, or returned non-JSON values
    │   │   └── StepTimeoutError   a step ran longer than the time limit (--step-timeout)
    │   ├── StepOutputInvalidError a step's output fails its target schema
    │   └── DataLossError          a downgrade would drop data the caller did not agree to lose
    ├── WriteError                 an output file could not be written (the original is untouched)
    ├── UsageError                 arguments that cannot be honoured (an output inside an input)
    ├── GenerationError            no documents can be drawn from a schema (an unknown construct)
    └── StoreError                 a store could not write or read (nothing was written)
        ├── StoreURLError          the database URL does not parse or its driver is not installed
        ├── StoreNotFoundError     the database to read does not exist (reading creates nothing)
        ├── NothingStoredError     the database holds nothing of the family asked for
        ├── DuplicateRecordError   records already stored, with --on-duplicate error
        ├── RecordConflictError    a record's unique key is used twice (in the file or stored)
        ├── StoreBusyError         another writer holds the database longer than the busy timeout
        ├── StoreLayoutError       the database's tables were made by an unknown layout version
        ├── RecordsPointerError    a document has no array where a records pointer points
        └── UnstorableValueError   a value the store's typed columns cannot keep exactly
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docmigrate.pointers import json_path

if TYPE_CHECKING:
    from docmigrate.validation import SchemaError

RecordPath = tuple[str | int, ...]
"""Where a record is in the written document: object keys and array indexes from the root."""


class DocmigrateError(Exception):
    """Base class of every error docmigrate raises on purpose."""


class JSONReadError(DocmigrateError):
    """A document is not JSON that docmigrate accepts (malformed, hostile or ambiguous).

    ``line`` and ``column`` are 1-based; ``column`` counts characters, not bytes.
    """

    def __init__(self, message: str, *, line: int, column: int, source: str = "<string>") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        super().__init__(f"{source}:{line}:{column}: {message}")


def _one_line(message: str) -> str:
    """Join a message's lines: a library's multi-line text must still read as one line."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


class FamilyError(DocmigrateError):
    """A family folder cannot be loaded: names the family (or folder) and the reason.

    ``file`` is the file at fault (``family.toml``, a schema file, ``steps.py``) or the folder,
    and ``pointer`` the JSON Pointer of the place in a schema file, when there is one.
    """

    def __init__(
        self, family: str, message: str, *, file: str | None = None, pointer: str | None = None
    ) -> None:
        self.family = family
        self.message = _one_line(message)
        self.file = file
        self.pointer = pointer
        super().__init__(f"family {family!r}: {self.message}")


class RemoteReferenceError(FamilyError):
    """A schema refers to a resource outside its family; docmigrate never fetches one."""


class ConfigurationError(DocmigrateError):
    """Family paths, ``[tool.docmigrate]`` settings or entry points are unusable."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


class DetectionError(DocmigrateError):
    """The family or the version of a document cannot be determined."""


class UnknownFamilyError(DetectionError):
    """No family, or more than one family, matches a document."""

    def __init__(self, message: str, *, candidates: Sequence[str] = ()) -> None:
        self.candidates = tuple(candidates)
        super().__init__(message)


class UnknownVersionError(DetectionError):
    """A document's version label is absent or unknown to its family."""

    def __init__(self, message: str, *, family: str, label: object, known: Sequence[str]) -> None:
        self.family = family
        self.label = label
        self.known = tuple(known)
        super().__init__(message)


class DocumentInvalidError(DocmigrateError):
    """A document fails the schema of the version it claims; ``errors`` holds every problem."""

    def __init__(self, family: str, version: str, errors: Sequence[SchemaError]) -> None:
        self.family = family
        self.version = version
        self.errors = tuple(errors)
        best = self.errors[0] if self.errors else None
        where = f" at {best.json_path}: {best.message}" if best else ""
        super().__init__(
            f"not a valid {family} {version} document ({len(self.errors)} error(s)){where}"
        )


class MigrationError(DocmigrateError):
    """A plan cannot be made or run."""


class NoPathError(MigrationError):
    """No chain of registered steps leads from one version to another."""

    def __init__(self, family: str, source: str, target: str) -> None:
        self.family = family
        self.source = source
        self.target = target
        super().__init__(f"family {family!r}: no steps lead from version {source} to {target}")


@dataclass(frozen=True)
class StepInfo:
    """What an error needs to know about a step: its function name and edge."""

    function: str
    source: str
    target: str

    def __str__(self) -> str:
        return f"{self.function} ({self.source} -> {self.target})"


class StepFailedError(MigrationError):
    """A step raised an exception; the original exception is chained as ``__cause__``."""

    def __init__(self, step: StepInfo, message: str, *, json_path: str = "$") -> None:
        self.step = step
        self.json_path = json_path
        super().__init__(f"step {step} failed at {json_path}: {message}")


class StepTimeoutError(StepFailedError):
    """A step (with those before it on the same document) ran longer than the time limit."""

    def __init__(self, step: StepInfo, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            step,
            f"did not finish within {seconds:g} s (--step-timeout); does it loop forever?",
        )


SHOWN_ERRORS = 10
"""How many schema errors a message lists before it says "and N more"."""


class StepOutputInvalidError(MigrationError):
    """A step produced a document that its target version's schema rejects.

    ``errors`` holds every error; the message lists the first ten.
    """

    def __init__(self, step: StepInfo, errors: Sequence[SchemaError]) -> None:
        self.step = step
        self.errors = tuple(errors)
        best = self.errors[0]
        self.json_path = best.json_path
        shown = "; ".join(f"{e.json_path}: {e.message}" for e in self.errors[:SHOWN_ERRORS])
        more = len(self.errors) - SHOWN_ERRORS
        super().__init__(
            f"step {step} produced an invalid {step.target} document "
            f"({len(self.errors)} error(s)): {shown}" + (f"; and {more} more" if more > 0 else "")
        )


class DataLossError(MigrationError):
    """A downgrade would drop data present in the document and loss was not allowed."""

    def __init__(self, step: StepInfo, json_paths: Sequence[str]) -> None:
        self.step = step
        self.json_paths = tuple(json_paths)
        shown = ", ".join(self.json_paths[:5]) + (" ..." if len(self.json_paths) > 5 else "")
        super().__init__(
            f"step {step} would drop data present at {shown}; "
            "pass --allow-loss (allow_loss=True in Python) to downgrade anyway"
        )


class WriteError(DocmigrateError):
    """An output file could not be written; the file that was there is left as it was."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class UsageError(DocmigrateError):
    """The command's arguments cannot be honoured as given; nothing was read or written."""


class GenerationError(DocmigrateError):
    """Documents cannot be drawn from a schema: a construct the generator cannot honour.

    ``pattern`` is the regular expression at fault, when one is.
    """

    def __init__(self, message: str, *, pattern: str | None = None) -> None:
        self.pattern = pattern
        super().__init__(message)


class StoreError(DocmigrateError):
    """A store could not complete a write or a read; a failed write leaves nothing behind.

    ``path`` locates the record at fault in the document being written (``()``: no one record).
    """

    path: RecordPath = ()


class StoreURLError(StoreError):
    """The database URL does not parse, has an option of a bad value, or names a missing driver."""


class StoreNotFoundError(StoreError):
    """The database to read from does not exist; only writing (import) creates databases."""


class NothingStoredError(StoreError):
    """The database holds no import of the family asked for (or no docmigrate tables at all)."""

    def __init__(self, family: str, message: str) -> None:
        self.family = family
        super().__init__(message)


class DuplicateRecordError(StoreError):
    """Records with these keys are already stored and duplicates were declared an error.

    ``path`` is where the first of them is in the document.
    """

    def __init__(self, family: str, keys: Sequence[str], *, path: RecordPath = ()) -> None:
        self.family = family
        self.keys = tuple(keys)
        self.path = path
        shown = ", ".join(self.keys[:5]) + (" ..." if len(self.keys) > 5 else "")
        super().__init__(
            f"{len(self.keys)} {family} record(s) already stored: {shown} "
            "(use --on-duplicate skip or replace)"
        )


class RecordConflictError(StoreError):
    """A record's unique key is used twice in the document, or by a different stored record.

    ``path`` and ``json_path`` locate the record (the later one, for a key used twice).
    """

    def __init__(self, path: RecordPath, message: str) -> None:
        self.path = path
        self.json_path = json_path(path)
        super().__init__(f"{self.json_path}: {message}")


class StoreBusyError(StoreError):
    """Another writer kept the database locked for longer than the busy timeout."""


class StoreLayoutError(StoreError):
    """The database holds docmigrate tables of a layout this version does not know."""


class RecordsPointerError(StoreError):
    """A records pointer (or ``newest_by``) finds nothing usable in a document: nothing is stored.

    ``pointer`` is the pointer as family.toml writes it; ``path`` the deepest place that exists.
    """

    def __init__(self, pointer: str, message: str, *, path: RecordPath = ()) -> None:
        self.pointer = pointer
        self.path = path
        super().__init__(f"{pointer}: {message}")


class UnstorableValueError(StoreError):
    """A value cannot be kept exactly by the store's typed columns (e.g. ``2.0`` as an integer)."""

    def __init__(self, json_path: str, message: str, *, path: RecordPath = ()) -> None:
        self.json_path = json_path
        self.path = path
        super().__init__(f"{json_path}: {message}")
