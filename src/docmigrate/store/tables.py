"""The store's tables (layout version 2), shared by SQLite and PostgreSQL.

Decimal strings and timestamps are TEXT so that their exact text comes back (``"3.2000"``
stays ``"3.2000"``, offsets stay as written); integers are BIGINT; enums are TEXT with a CHECK.
Children reference their run by its uuid and go when it goes. ``position`` keeps the order
records had in their document.

Families without a relational mapping keep each record of each collection as exact JSON text
in ``docmigrate_records`` (the current state), each import's document without its records in
``docmigrate_headers``, which import is current in ``docmigrate_heads`` and, for snapshot
families, each imported document whole in ``docmigrate_snapshots``.

Layout 2 (record collections, snapshots, document digests) replaced layout 1; a database of
layout 1 is refused (export it with the release that wrote it, import the export anew).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

LAYOUT_VERSION = 2

PRODUCTION_STATUSES = ("complete", "partial_loss", "total_loss")
LOSS_CATEGORIES = ("burnt", "broken", "contaminated", "dropped", "wrong_ingredients", "other")

metadata = MetaData()


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=f"ck_{column}_known")


def _run_reference() -> Column[str]:
    """The column by which a child row belongs to its run."""
    return Column(
        "run_uuid",
        Text,
        ForeignKey("production_runs.uuid", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


layout = Table(
    "docmigrate_layout",
    metadata,
    Column("version", Integer, primary_key=True),
)

imports = Table(
    "docmigrate_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("family", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("source_version", Text, nullable=False),
    Column("target_version", Text, nullable=False),
    Column("steps", Text, nullable=False),  # JSON array of "function (from -> to)"
    Column("imported", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("replaced", Integer, nullable=False, default=0),
    Column("removed", Integer, nullable=False, default=0),
    Column("imported_at", Text, nullable=False),
    # sha256 of the current-version document as stored (canonical JSON text): the same
    # document imported again is recognised and changes nothing.
    Column("document_sha256", Text, nullable=False),
    Column("newest_key", Text),  # the family's newest_by value (UTC when a timestamp)
    Index("ix_docmigrate_imports_digest", "family", "document_sha256"),
)

runs = Table(
    "production_runs",
    metadata,
    Column("uuid", Text, primary_key=True),
    Column("import_id", Integer, ForeignKey("docmigrate_imports.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("recipe_name", Text, nullable=False),
    Column("finished_unit_slug", Text, nullable=False),
    Column("num_batches", BigInteger, CheckConstraint("num_batches > 0"), nullable=False),
    Column("expected_yield", BigInteger, CheckConstraint("expected_yield >= 0"), nullable=False),
    Column("actual_yield", BigInteger, CheckConstraint("actual_yield >= 0"), nullable=False),
    Column("produced_at", Text, nullable=False),
    Column("produced_at_utc", Text, nullable=False),  # sort key: UTC, naive taken as UTC
    Column("notes", Text),
    Column("total_ingredient_cost", Text, nullable=False),
    Column("per_unit_cost", Text, nullable=False),
    Column("production_status", Text, nullable=False),
    Column("loss_quantity", BigInteger, CheckConstraint("loss_quantity >= 0"), nullable=False),
    _one_of("production_status", PRODUCTION_STATUSES),
)

consumptions = Table(
    "production_consumptions",
    metadata,
    Column("uuid", Text, primary_key=True),
    _run_reference(),
    Column("position", Integer, nullable=False),
    Column("ingredient_slug", Text, nullable=False),
    Column("quantity_consumed", Text, nullable=False),
    Column("unit", Text, nullable=False),
    Column("total_cost", Text, nullable=False),
)

losses = Table(
    "production_losses",
    metadata,
    Column("uuid", Text, primary_key=True),
    _run_reference(),
    Column("position", Integer, nullable=False),
    Column("loss_category", Text, nullable=False),
    Column("loss_quantity", BigInteger, CheckConstraint("loss_quantity > 0"), nullable=False),
    Column("per_unit_cost", Text, nullable=False),
    Column("total_loss_cost", Text, nullable=False),
    Column("notes", Text),
    _one_of("loss_category", LOSS_CATEGORIES),
)

records = Table(
    "docmigrate_records",
    metadata,
    Column("family", Text, nullable=False),
    Column("collection", Text, nullable=False),
    Column("record_key", Text, nullable=False),
    Column("key_source", Text, nullable=False),  # "field" or "content" (sha256 of the JSON)
    Column("import_id", Integer, ForeignKey("docmigrate_imports.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("data", Text, nullable=False),  # the record's exact JSON
    PrimaryKeyConstraint("family", "collection", "record_key"),
)

headers = Table(
    "docmigrate_headers",
    metadata,
    Column("import_id", Integer, ForeignKey("docmigrate_imports.id"), primary_key=True),
    Column("family", Text, nullable=False),
    Column("header", Text, nullable=False),  # the document with its collections emptied
)

heads = Table(
    "docmigrate_heads",
    metadata,
    Column("family", Text, primary_key=True),
    # the import whose header (and, for snapshot families, whose records) export gives
    Column("import_id", Integer, ForeignKey("docmigrate_imports.id"), nullable=False),
)

snapshots = Table(
    "docmigrate_snapshots",
    metadata,
    Column("import_id", Integer, ForeignKey("docmigrate_imports.id"), primary_key=True),
    Column("family", Text, nullable=False),
    Column("document", Text, nullable=False),  # the whole current-version document
)
