"""Real PostgreSQL servers for the tests: find the server CI started, make throwaway databases.

CI (``.ci/run``) starts a private cluster with ``bash .ci/postgres.sh start`` and exports its URL
as ``DOCMIGRATE_TEST_POSTGRES_URL`` together with ``DOCMIGRATE_REQUIRE_POSTGRES=1``. Tests call
:func:`postgres_server_url`, which skips them when no server is configured or reachable (or fails
them when one is required), then use :func:`fresh_postgres_database` for an empty database of their
own that is dropped afterwards.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import sqlalchemy

POSTGRES_URL_VARIABLE = "DOCMIGRATE_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "DOCMIGRATE_REQUIRE_POSTGRES"
CONNECT_TIMEOUT_SECONDS = 5
DATABASE_PREFIX = "docmigrate_"
_HINT = f"set {POSTGRES_URL_VARIABLE} (bash .ci/postgres.sh start prints one)"


def postgres_server_url() -> str:
    """Return the URL of the test PostgreSQL server, or skip (or fail) the calling test.

    The URL comes from ``DOCMIGRATE_TEST_POSTGRES_URL``. When it is unset, when SQLAlchemy or
    psycopg is missing, or when no connection can be made within 5 seconds, the test is skipped
    with a one-line reason, or fails with it when ``DOCMIGRATE_REQUIRE_POSTGRES=1``. The
    connection attempt is made once per URL and process.
    """
    url = os.environ.get(POSTGRES_URL_VARIABLE, "").strip()
    problem = _server_problem(url)
    if problem is None:
        return url
    if os.environ.get(REQUIRE_VARIABLE, "").strip() == "1":
        pytest.fail(
            f"PostgreSQL is required ({REQUIRE_VARIABLE}=1) but unavailable: {problem}",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL tests skipped: {problem}; {_HINT}")


@functools.cache
def _server_problem(url: str) -> str | None:
    """Return why the server at ``url`` cannot be used (one line), or None if it answers."""
    if not url:
        return f"{POSTGRES_URL_VARIABLE} is not set"
    try:
        import sqlalchemy
        from sqlalchemy.pool import NullPool
    except ImportError as error:
        return f"SQLAlchemy is not installed ({_one_line(error)})"
    try:
        import psycopg  # noqa: F401  (the driver the URLs name)
    except ImportError as error:
        return f"psycopg is not installed ({_one_line(error)}); pip install 'psycopg[binary]>=3.1'"
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError as error:
        return f"{POSTGRES_URL_VARIABLE} is not a valid SQLAlchemy URL ({_one_line(error)})"
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() != "postgresql":
        return f"{POSTGRES_URL_VARIABLE} is not a PostgreSQL URL: {shown}"
    try:
        engine = sqlalchemy.create_engine(
            parsed,
            poolclass=NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as error:  # any failure means "unusable"; the reason is reported
        cause = getattr(error, "orig", None) or error  # the driver's error, for DBAPIError
        return f"cannot connect to {shown}: {_one_line(cause)}"
    return None


def _one_line(error: BaseException) -> str:
    """Return an exception's message on one line (libpq's messages span several)."""
    return " ".join(str(error).split()) or type(error).__name__


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server of ``server_url``; yield its URL; drop it after.

    The database is named ``docmigrate_<random hex>`` and copied from ``template0``, so it holds
    nothing but the default schema. The yielded URL is ``server_url`` with only the database name
    replaced (password included). The database is dropped even when the body raises, with
    ``WITH (FORCE)`` so that connections still open on it do not prevent it; callers should still
    dispose of their engines.
    """
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    server = sqlalchemy.engine.make_url(server_url)
    name = f"{DATABASE_PREFIX}{secrets.token_hex(8)}"
    admin = sqlalchemy.create_engine(
        server,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                _drop_database(connection, name)
    finally:
        admin.dispose()


def _drop_database(connection: sqlalchemy.Connection, name: str) -> None:
    """Drop database ``name``, ending other sessions on it first (an autocommit connection)."""
    import sqlalchemy

    version = connection.dialect.server_version_info or (0,)
    if version >= (13,):
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    # PostgreSQL 12 and older have no FORCE option: end the other sessions by hand.
    connection.execute(
        sqlalchemy.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )
    connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))


def count_rows(url: str, table: str) -> int:
    """How many rows ``table`` holds in the database at ``url`` (SQLite or PostgreSQL)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sqlalchemy.text(f"SELECT COUNT(*) FROM {table}")
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()
