"""docmigrate: schema-first migrations for versioned JSON documents.

Families of documents live in folders of versioned JSON Schema files next to the step
functions that upgrade one version to the next; the migrator detects a document's family and
version, validates it, and chains the steps to the version asked for.

Every public name is loaded on first use (PEP 562): ``python -m docmigrate`` and the command
line import only the modules their command needs.
"""

from importlib import import_module

# typing itself costs more than the rest of this module: mypy reads this name as
# typing.TYPE_CHECKING (so it sees every public name's type), Python skips the block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from docmigrate.api import Document, load, resolve_family
    from docmigrate.exceptions import (
        ClusterError,
        ConfigurationError,
        DataLossError,
        DetectionError,
        DocmigrateError,
        DocumentInvalidError,
        FamilyError,
        JSONReadError,
        MigrationError,
        NoPathError,
        RemoteReferenceError,
        StepFailedError,
        StepOutputInvalidError,
        StepTimeoutError,
        UnknownFamilyError,
        UnknownVersionError,
        UsageError,
        WriteError,
    )
    from docmigrate.family import Family, Step
    from docmigrate.loader import load_family
    from docmigrate.migrator import MigrationResult, migrate
    from docmigrate.registry import Registry
    from docmigrate.steps import StepContext, downgrade, upgrade
    from docmigrate.validation import SchemaError, best_match, is_valid, iter_errors, validate

__version__ = "0.1.0.dev0"

# Where each public name lives; the TYPE_CHECKING imports above give mypy the same names.
_HOMES = {
    "docmigrate.api": ("Document", "load", "resolve_family"),
    "docmigrate.exceptions": (
        "ClusterError", "ConfigurationError", "DataLossError", "DetectionError",
        "DocmigrateError", "DocumentInvalidError", "FamilyError", "JSONReadError",
        "MigrationError", "NoPathError", "RemoteReferenceError", "StepFailedError",
        "StepOutputInvalidError", "StepTimeoutError", "UnknownFamilyError",
        "UnknownVersionError", "UsageError", "WriteError",
    ),
    "docmigrate.family": ("Family", "Step"),
    "docmigrate.loader": ("load_family",),
    "docmigrate.migrator": ("MigrationResult", "migrate"),
    "docmigrate.registry": ("Registry",),
    "docmigrate.steps": ("StepContext", "downgrade", "upgrade"),
    "docmigrate.validation": ("SchemaError", "best_match", "is_valid", "iter_errors", "validate"),
}  # fmt: skip
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ClusterError",
    "ConfigurationError",
    "DataLossError",
    "DetectionError",
    "DocmigrateError",
    "Document",
    "DocumentInvalidError",
    "Family",
    "FamilyError",
    "JSONReadError",
    "MigrationError",
    "MigrationResult",
    "NoPathError",
    "Registry",
    "RemoteReferenceError",
    "SchemaError",
    "Step",
    "StepContext",
    "StepFailedError",
    "StepOutputInvalidError",
    "StepTimeoutError",
    "UnknownFamilyError",
    "UnknownVersionError",
    "UsageError",
    "WriteError",
    "__version__",
    "best_match",
    "downgrade",
    "is_valid",
    "iter_errors",
    "load",
    "load_family",
    "migrate",
    "resolve_family",
    "upgrade",
    "validate",
]


def __getattr__(name: str) -> "Any":
    """Import a public name's module on first use (later look-ups find it in the globals)."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'docmigrate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's globals and every public name, loaded or not (for completion)."""
    return sorted({*globals(), *__all__})
