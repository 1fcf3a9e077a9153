"""The immutable description of one family: versions, schemas, steps and detection rules."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from docmigrate.exceptions import NoPathError, StepInfo, UnknownVersionError
from docmigrate.pointers import format_pointer, resolve
from docmigrate.steps import StepSpec

_ABSENT: Any = object()


@dataclass(frozen=True)
class Step:
    """A registered step function and what its decorator declared."""

    function: Callable[..., Any]
    spec: StepSpec

    @property
    def source(self) -> str:
        """The version the step reads."""
        return self.spec.source

    @property
    def target(self) -> str:
        """The version the step produces."""
        return self.spec.target

    @property
    def name(self) -> str:
        """The step function's qualified name."""
        return str(getattr(self.function, "__qualname__", repr(self.function)))

    @property
    def info(self) -> StepInfo:
        """The step as errors report it."""
        return StepInfo(self.name, self.source, self.target)


@dataclass(frozen=True)
class DetectRules:
    """How to recognise a document of a family, besides a known version label."""

    required: tuple[tuple[str, ...], ...] = ()
    """Pointers (as tokens) that must exist in the document."""
    equals: tuple[tuple[tuple[str, ...], Any], ...] = ()
    """Pointers whose value must equal the given one."""
    absent: tuple[tuple[str, ...], ...] = ()
    """Pointers that must not exist (what tells another kind of document apart)."""

    def hold_for(self, document: Any) -> bool:
        """Tell whether ``document`` satisfies every rule."""
        return self.broken_by(document) is None

    def broken_by(self, document: Any) -> str | None:
        """Say which rule ``document`` breaks first, or None when every rule holds."""
        for tokens in self.required:
            if resolve(document, tokens, _ABSENT) is _ABSENT:
                return f"[detect] requires {format_pointer(tokens)}, which the document lacks"
        for tokens in self.absent:
            if resolve(document, tokens, _ABSENT) is not _ABSENT:
                return f"[detect] forbids {format_pointer(tokens)}, which the document has"
        for tokens, value in self.equals:
            found = resolve(document, tokens, _ABSENT)
            # type-strict: true is not 1, "1" is not 1
            if found is _ABSENT or type(found) is not type(value) or found != value:
                shown = "nothing" if found is _ABSENT else _show(found)
                return (
                    f"[detect] requires {format_pointer(tokens)} = {_show(value)}, "
                    f"the document has {shown}"
                )
        return None


ImportMode = Literal["merge", "snapshot"]
"""How the store treats successive imports of a family (see the README's store section)."""


@dataclass(frozen=True)
class Collection:
    """One array of records the store keeps record by record: ``[records.NAME]`` in family.toml."""

    name: str
    pointer: tuple[str, ...]
    """Where the array is in a current-version document (tokens of a JSON Pointer)."""
    key: str | None = None
    """The member whose value keys a record; None keys records by their content."""

    @property
    def pointer_text(self) -> str:
        """The pointer as family.toml writes it (``/ingredients``)."""
        return format_pointer(self.pointer)


@dataclass(frozen=True, eq=False)
class Family:
    """One family as loaded from its folder; build it with :func:`docmigrate.loader.load_family`."""

    name: str
    location: str
    version_pointer: tuple[str, ...]
    default_version: str | None
    detect: DetectRules
    schemas: Mapping[str, Mapping[str, Any]]
    schema_uris: Mapping[str, str]
    steps: tuple[Step, ...]
    versions: tuple[str, ...]
    """Oldest first along the upgrade graph; the last one is current."""
    description: str = ""
    collections: tuple[Collection, ...] = ()
    """The arrays of records the store writes, in family.toml order (none: not storable)."""
    mode: ImportMode = "merge"
    """``merge``: records accumulate across imports; ``snapshot``: each import is a whole state."""
    newest_by: tuple[str, ...] | None = None
    """Pointer to the value (a timestamp) that orders imports; None: the last import is newest."""
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The schema documents (family.toml ``[resources]``, metaschemas) the versions refer to,
    by retrieval URI: only those some version reaches."""
    _validators: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def current(self) -> str:
        """The version documents are upgraded to by default."""
        return self.versions[-1]

    @property
    def records_pointer(self) -> tuple[str, ...] | None:
        """The first collection's pointer (the single ``[records]`` form of family.toml)."""
        return self.collections[0].pointer if self.collections else None

    @property
    def records_key(self) -> str | None:
        """The first collection's key (the single ``[records]`` form of family.toml)."""
        return self.collections[0].key if self.collections else None

    @property
    def upgrades(self) -> tuple[Step, ...]:
        """The upgrade steps, in version order."""
        return tuple(s for s in self.steps if s.spec.direction == "upgrade")

    @property
    def downgrades(self) -> tuple[Step, ...]:
        """The downgrade steps, in version order."""
        return tuple(s for s in self.steps if s.spec.direction == "downgrade")

    def schema(self, version: str) -> Mapping[str, Any]:
        """Return the schema of ``version`` (UnknownVersionError if there is none)."""
        self._require_known(version)
        return self.schemas[version]

    def validator(self, version: str) -> Any:
        """Return the compiled validator of ``version``, built once."""
        from docmigrate.validation import compile_schema

        self._require_known(version)
        if version not in self._validators:
            self._validators[version] = compile_schema(
                self.schemas[version], self.schema_uris[version], self.resources
            )
        return self._validators[version]

    def version_of(self, document: Any) -> str:
        """Return the version of ``document`` from its label (or the default version).

        Raises :class:`UnknownVersionError` when the label is absent without a default, or is
        not one of this family's versions: a label is never guessed or relabelled.
        """
        label = resolve(document, self.version_pointer, _ABSENT)
        if label is _ABSENT:
            if self.default_version is None:
                raise UnknownVersionError(
                    f"family {self.name!r}: the document has no version label at "
                    f"{format_pointer(self.version_pointer)!r}; known versions: "
                    f"{', '.join(self.versions)}",
                    family=self.name,
                    label=None,
                    known=self.versions,
                )
            return self.default_version
        if not isinstance(label, str) or label not in self.schemas:
            raise UnknownVersionError(
                f"family {self.name!r}: version {_show(label)} is not a known version "
                f"(known: {', '.join(self.versions)})",
                family=self.name,
                label=label,
                known=self.versions,
            )
        return label

    def knows_version_of(self, document: Any) -> bool:
        """Tell whether ``document`` carries a known label (or none, with a default version)."""
        label = resolve(document, self.version_pointer, _ABSENT)
        if label is _ABSENT:
            return self.default_version is not None
        return isinstance(label, str) and label in self.schemas

    def plan(self, source: str, target: str | None = None) -> tuple[Step, ...]:
        """Return the shortest chain of steps from ``source`` to ``target`` (default current)."""
        target = self.current if target is None else target
        self._require_known(source)
        self._require_known(target)
        previous: dict[str, Step | None] = {source: None}
        queue = deque([source])
        while queue:
            version = queue.popleft()
            if version == target:
                break
            for step in self.steps:
                if step.source == version and step.target not in previous:
                    previous[step.target] = step
                    queue.append(step.target)
        if target not in previous:
            raise NoPathError(self.name, source, target)
        chain: list[Step] = []
        version = target
        while (edge := previous[version]) is not None:
            chain.append(edge)
            version = edge.source
        return tuple(reversed(chain))

    def _require_known(self, version: str) -> None:
        if version not in self.schemas:
            raise UnknownVersionError(
                f"family {self.name!r}: version {_show(version)} is not a known version "
                f"(known: {', '.join(self.versions)})",
                family=self.name,
                label=version,
                known=self.versions,
            )


def _show(label: object) -> str:
    return repr(label) if isinstance(label, str) else f"{label!r} ({type(label).__name__})"
