"""The decorators that tag step functions in a family's ``steps.py``.

A decorator records what the step does on the function itself and returns the function
unchanged; the family loader collects tagged functions from the module. There is no
module-level registry, so importing a ``steps.py`` twice, or testing a step directly, is harmless.

A step receives its own copy of the data (the migrator copies the caller's document once),
so it may change what it is given and return it. Its signature is either ``fn(value)`` or
``fn(value, context)`` where ``context`` is a :class:`StepContext`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from docmigrate import jsonio
from docmigrate.pointers import parse_pointer
from docmigrate.schema_walk import Documents, property_defaults

F = TypeVar("F", bound=Callable[..., Any])

STEP_ATTRIBUTE = "__docmigrate_step__"


@dataclass(frozen=True)
class StepSpec:
    """What a decorator declares about a step."""

    source: str
    target: str
    direction: Literal["upgrade", "downgrade"]
    each: str | None = None
    """JSON Pointer of an array: the step is applied to each item (a per-record step)."""
    drops: tuple[str, ...] = ()
    """For downgrades: JSON Pointers (relative to each record for per-record steps) it removes."""


@dataclass(frozen=True)
class StepContext:
    """What a running step may know: its edge and the schemas on both sides of it."""

    family: str
    source: str
    target: str
    source_schema: Mapping[str, Any]
    target_schema: Mapping[str, Any]
    each: str | None = None
    source_documents: Documents = field(default_factory=Documents)
    """The source schema's URI and the family's schema resources its ``$ref``s may reach."""
    target_documents: Documents = field(default_factory=Documents)
    """The target schema's URI and the family's schema resources its ``$ref``s may reach."""
    _defaults: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def defaults(self, pointer: str | None = None) -> dict[str, Any]:
        """Return ``{property: default}`` declared by the target schema for an object.

        ``pointer`` names the object's place in a document (``""`` for the root); array
        items are addressed with ``-`` (``/production_runs/-``). For a per-record step it
        defaults to the records the step is applied to. Returned values are fresh copies.
        """
        if pointer is None:
            pointer = f"{self.each}/-" if self.each is not None else ""
        if pointer not in self._defaults:
            self._defaults[pointer] = property_defaults(
                self.target_schema, pointer, self.target_documents
            )
        copy: dict[str, Any] = jsonio.clone(self._defaults[pointer])  # type: ignore[assignment]
        return copy


def _tag(spec: StepSpec) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        if not callable(function):
            raise TypeError("a step must be a function")
        name = getattr(function, "__qualname__", repr(function))
        problem = spec_problem(spec)
        if problem:
            raise ValueError(f"step {name}: {problem}")
        setattr(function, STEP_ATTRIBUTE, spec)
        return function

    return decorate


def spec_problem(spec: StepSpec) -> str | None:
    """Say what is wrong with the pointers a step declares (``each``, ``drops``), or None."""
    places = [("each", spec.each)] if spec.each is not None else []
    places += [("drops", pointer) for pointer in spec.drops]
    for keyword, pointer in places:
        if not isinstance(pointer, str):
            return f"{keyword}={pointer!r} is not a JSON Pointer string"
        try:
            parse_pointer(pointer)
        except ValueError as error:
            return f"{keyword}={pointer!r} is not a JSON Pointer: {error}"
    return None


def describe_exit(stop: SystemExit) -> str:
    """Show how user code stopped the interpreter: ``sys.exit(3)``, ``sys.exit()``..."""
    return "sys.exit()" if stop.code is None else f"sys.exit({stop.code!r})"


def upgrade(source: str, target: str, *, each: str | None = None) -> Callable[[F], F]:
    """Tag a function as the upgrade from version ``source`` to ``target``.

    With ``each="/production_runs"`` the function is called once per item of that array
    (a per-record step) instead of once with the whole document. The migrator sets the
    document's version label after the step, so a step only changes the data.
    """
    return _tag(StepSpec(str(source), str(target), "upgrade", each=each))


def downgrade(
    source: str, target: str, *, drops: Sequence[str], each: str | None = None
) -> Callable[[F], F]:
    """Tag a function as the downgrade from ``source`` to the older ``target``.

    ``drops`` lists the JSON Pointers whose values the downgrade removes (relative to each
    record when ``each`` is given). A value there that differs from the ``default`` the source
    schema declares for it is data: the migrator refuses to drop it unless loss is allowed.
    """
    if isinstance(drops, str):  # tuple("abc") would silently be three one-letter pointers
        raise TypeError(f"drops={drops!r}: give a list of JSON Pointers, not a string")
    return _tag(StepSpec(str(source), str(target), "downgrade", each=each, drops=tuple(drops)))


def takes_context(function: Callable[..., Any]) -> bool:
    """Tell whether a step function accepts a second, ``context`` argument."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in positional)
