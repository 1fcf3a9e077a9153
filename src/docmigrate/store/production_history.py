"""The relational mapping of production-history runs: runs, consumptions and losses tables."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, delete, select

from docmigrate.exceptions import RecordConflictError, UnstorableValueError
from docmigrate.pointers import json_path
from docmigrate.store.mapping import bulk_insert, chunks
from docmigrate.store.tables import consumptions, losses, runs

RUN_FIELDS = (
    "uuid",
    "recipe_name",
    "finished_unit_slug",
    "num_batches",
    "expected_yield",
    "actual_yield",
    "produced_at",
    "notes",
    "total_ingredient_cost",
    "per_unit_cost",
)
RUN_TAIL = ("production_status", "loss_quantity")
CONSUMPTION_FIELDS = ("uuid", "ingredient_slug", "quantity_consumed", "unit", "total_cost")
LOSS_FIELDS = (
    "uuid",
    "loss_category",
    "loss_quantity",
    "per_unit_cost",
    "total_loss_cost",
    "notes",
)
INTEGER_FIELDS = frozenset({"num_batches", "expected_yield", "actual_yield", "loss_quantity"})
BIGINT_MAX = 2**63 - 1


def utc_sort_key(timestamp: str) -> str:
    """Return ``timestamp`` in UTC as fixed-width text (a naive time is taken as UTC).

    A timestamp the calendar does not have (the schema checks its shape, not its date) sorts
    by its own text.
    """
    try:
        moment = datetime.fromisoformat(timestamp)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return timestamp
    return moment.isoformat(timespec="microseconds")


def _integer(value: Any, where: tuple[str | int, ...]) -> int:
    """Accept only JSON integers written as integers: ``2.0`` would come back as ``2``."""
    if type(value) is not int:
        raise UnstorableValueError(
            json_path(where),
            f"{value} is not written as an integer; the store keeps integers in integer "
            "columns and would give back different text",
            path=where,
        )
    if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
        raise UnstorableValueError(
            json_path(where), f"{value} does not fit a 64-bit integer", path=where
        )
    return value


class _Columns:
    """Turns records into row tuples at C speed, then checks their integer columns at once.

    Checking column by column with ``map`` keeps the per-row work in C; only when a column holds
    something other than 64-bit integers is each record looked at, to name the first culprit.
    """

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.get = itemgetter(*fields)
        self._integers = [(i, f) for i, f in enumerate(fields) if f in INTEGER_FIELDS]

    def check(
        self, rows: list[tuple[Any, ...]], where: Callable[[int], tuple[str | int, ...]]
    ) -> None:
        """Raise UnstorableValueError for the first misfit integer; ``where(n)`` locates row n."""
        for index, field in self._integers:
            column = list(map(itemgetter(index), rows))
            if not column:
                return
            if (
                set(map(type, column)) == {int}
                and min(column) >= -BIGINT_MAX - 1
                and max(column) <= BIGINT_MAX
            ):
                continue
            for number, value in enumerate(column):
                _integer(value, (*where(number), field))


def _child_place(
    records: Sequence[tuple[int, str, Any]], name: str, n: int
) -> tuple[str | int, ...]:
    """Return the document path of the n-th child called ``name`` across ``records``."""
    for position, _, run in records:
        if n < len(run[name]):
            return ("production_runs", position, name, n)
        n -= len(run[name])
    raise IndexError(n)


def _refuse_child_conflicts(
    conn: Connection,
    table: Table,
    uuids: Sequence[str],
    where: Callable[[int], tuple[str | int, ...]],
) -> None:
    """Raise RecordConflictError at the first child whose uuid is taken (``where(n)`` locates it).

    The database's unique key would refuse the same rows, but its error names a table, not the
    record; checking here points the user at the child in the file.
    """
    if len(set(uuids)) != len(uuids):
        first_at: dict[str, int] = {}
        for n, uuid in enumerate(uuids):
            first = first_at.setdefault(uuid, n)
            if first != n:
                earlier = json_path(where(first))
                raise RecordConflictError(
                    where(n),
                    f"uuid {uuid!r} is used twice in the file (first at {earlier}); "
                    f"{table.name}.uuid must be unique",
                )
    if not uuids or conn.execute(select(table.c.uuid).limit(1)).first() is None:
        return  # nothing stored yet: nothing to clash with
    for part in chunks(uuids):
        query = select(table.c.uuid, table.c.run_uuid).where(table.c.uuid.in_(part)).limit(1)
        clash = conn.execute(query).first()
        if clash is not None:
            raise RecordConflictError(
                where(uuids.index(clash[0])),
                f"uuid {clash[0]!r} is already stored for run {clash[1]!r}; "
                f"{table.name}.uuid must be unique",
            )


_RUN = _Columns(RUN_FIELDS + RUN_TAIL)
_CONSUMPTION = _Columns(CONSUMPTION_FIELDS)
_LOSS = _Columns(LOSS_FIELDS)


class ProductionHistoryMapping:
    """Runs keyed by ``uuid``; consumptions and losses keyed by their own ``uuid``."""

    family = "production-history"
    version = "1.1"
    """The version whose records these tables hold: used only while it is current."""

    def key_of(self, record: Any, index: int) -> str:
        """Return the run's uuid (the schema makes it a non-empty string)."""
        return str(record["uuid"])

    def existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, Any]:
        """Return the stored runs among ``keys`` (a cheap key lookup first: usually none)."""
        if conn.execute(select(runs.c.uuid).limit(1)).first() is None:
            return {}  # an empty store: nothing to look up
        stored = [
            uuid
            for part in chunks(keys)
            for (uuid,) in conn.execute(select(runs.c.uuid).where(runs.c.uuid.in_(part)))
        ]
        found: dict[str, Any] = {}
        for part in chunks(stored):
            found.update((run["uuid"], run) for run in self._read(conn, list(part)))
        return found

    def delete(self, conn: Connection, keys: Sequence[str]) -> None:
        """Delete runs and their children (children first: no reliance on ON DELETE CASCADE)."""
        for part in chunks(keys):
            conn.execute(delete(consumptions).where(consumptions.c.run_uuid.in_(part)))
            conn.execute(delete(losses).where(losses.c.run_uuid.in_(part)))
            conn.execute(delete(runs).where(runs.c.uuid.in_(part)))

    def insert(
        self,
        conn: Connection,
        import_id: int,
        records: Sequence[tuple[int, str, Any]],
        *,
        name_conflicts: bool = True,
    ) -> None:
        """Insert runs, then all their consumptions, then all their losses (three executemany).

        With ``name_conflicts`` a child uuid used twice or already stored raises
        RecordConflictError naming it; without, the database's unique keys refuse it (cheaper,
        for callers that then find the culprit another way).
        """
        get_run = _RUN.get
        run_rows = [
            (*get_run(run), import_id, position, utc_sort_key(run["produced_at"]))
            for position, _, run in records
        ]
        _RUN.check(run_rows, lambda n: ("production_runs", records[n][0]))
        extra = ("import_id", "position", "produced_at_utc")
        bulk_insert(conn, runs, RUN_FIELDS + RUN_TAIL + extra, run_rows)
        for name, columns, table in (
            ("consumptions", _CONSUMPTION, consumptions),
            ("losses", _LOSS, losses),
        ):
            get = columns.get
            rows = [
                (*get(item), uuid, index)
                for _, uuid, run in records
                for index, item in enumerate(run[name])
            ]
            place = functools.partial(_child_place, records, name)
            columns.check(rows, place)
            # A child's own uuid is the first field of its row (CONSUMPTION_FIELDS, LOSS_FIELDS).
            if name_conflicts:
                _refuse_child_conflicts(conn, table, [row[0] for row in rows], place)
            bulk_insert(conn, table, (*columns.fields, "run_uuid", "position"), rows)

    def read(self, conn: Connection) -> list[Any]:
        """Return every run, newest first (by produced_at in UTC, then document order)."""
        return self._read(conn, None)

    def _read(self, conn: Connection, keys: list[str] | None) -> list[dict[str, Any]]:
        run_query = select(*(runs.c[f] for f in RUN_FIELDS + RUN_TAIL)).order_by(
            runs.c.produced_at_utc.desc(), runs.c.import_id, runs.c.position
        )
        children: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
            lambda: {"consumptions": [], "losses": []}
        )
        for name, table, fields in (
            ("consumptions", consumptions, CONSUMPTION_FIELDS),
            ("losses", losses, LOSS_FIELDS),
        ):
            query = select(table.c.run_uuid, *(table.c[f] for f in fields)).order_by(
                table.c.run_uuid, table.c.position
            )
            if keys is not None:
                query = query.where(table.c.run_uuid.in_(keys))
            for row in conn.execute(query):
                children[row[0]][name].append(dict(zip(fields, row[1:], strict=True)))
        if keys is not None:
            run_query = run_query.where(runs.c.uuid.in_(keys))
        result = []
        for row in conn.execute(run_query):
            values = dict(zip(RUN_FIELDS + RUN_TAIL, row, strict=True))
            mine = children.get(values["uuid"], {"consumptions": [], "losses": []})
            run = {f: values[f] for f in RUN_FIELDS}
            run["consumptions"] = mine["consumptions"]
            run.update((f, values[f]) for f in RUN_TAIL)
            run["losses"] = mine["losses"]
            result.append(run)
        return result
