"""docmigrate: schema-first migrations for versioned JSON documents.

Families of documents live in folders of versioned JSON Schema files next to the step
functions that upgrade one version to the next; the migrator detects a document's family and
version, validates it, and chains the steps to the version asked for.
"""

from typing import TYPE_CHECKING, Any

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
from docmigrate.registry import Registry
from docmigrate.steps import StepContext, downgrade, upgrade
from docmigrate.validation import SchemaError, best_match, is_valid, iter_errors, validate

if TYPE_CHECKING:
    from docmigrate.migrator import MigrationResult, migrate

__version__ = "0.1.0.dev0"

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


def __getattr__(name: str) -> Any:
    """Import the migrator on first use: `validate` never needs it."""
    if name not in ("MigrationResult", "migrate"):
        raise AttributeError(f"module 'docmigrate' has no attribute {name!r}")
    from docmigrate import migrator

    value = getattr(migrator, name)
    globals()[name] = value
    return value
