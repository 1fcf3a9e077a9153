"""The PostgreSQL test helpers: finding the server, skipping or failing, throwaway databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import (
    DATABASE_PREFIX,
    POSTGRES_URL_VARIABLE,
    REQUIRE_VARIABLE,
    fresh_postgres_database,
    postgres_server_url,
)

SKIPPED = pytest.skip.Exception
FAILED = pytest.fail.Exception


@pytest.fixture
def server_url() -> str:
    """The test server's URL (skips or fails the test without one)."""
    return postgres_server_url()


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Point the helper at a socket directory where no server runs; yield that URL."""
    url = f"postgresql+psycopg://postgres@/docmigrate_test?host={tmp_path}&port=5432"
    monkeypatch.setenv(POSTGRES_URL_VARIABLE, url)
    monkeypatch.delenv(REQUIRE_VARIABLE, raising=False)
    yield url


def _user_tables(url: str) -> list[str]:
    """Names of the tables outside the system schemas of the database at ``url``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables"
                    " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                    " ORDER BY 1"
                )
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def _database_exists(server_url: str, name: str) -> bool:
    """Whether the server of ``server_url`` has a database called ``name``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url)
    try:
        with engine.connect() as connection:
            query = text("SELECT count(*) FROM pg_database WHERE datname = :name")
            return bool(connection.execute(query, {"name": name}).scalar_one())
    finally:
        engine.dispose()


def _create_table(url: str, name: str) -> None:
    """Create an empty table ``name`` in the database at ``url``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE {name} (id integer PRIMARY KEY)"))
    finally:
        engine.dispose()


def test_unset_variable_skips_with_one_line_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL the test is skipped, saying which variable to set and how to get one."""
    monkeypatch.delenv(POSTGRES_URL_VARIABLE, raising=False)
    monkeypatch.delenv(REQUIRE_VARIABLE, raising=False)
    with pytest.raises(SKIPPED) as caught:
        postgres_server_url()
    message = str(caught.value)
    assert message.startswith("PostgreSQL tests skipped: ")
    assert f"{POSTGRES_URL_VARIABLE} is not set" in message
    assert ".ci/postgres.sh start" in message
    assert "\n" not in message


def test_unreachable_server_skips(no_server: str) -> None:
    """A URL with no server behind it skips, with the connection error on one line."""
    with pytest.raises(SKIPPED) as caught:
        postgres_server_url()
    message = str(caught.value)
    assert message.startswith("PostgreSQL tests skipped: ")
    assert "\n" not in message


def test_unreachable_server_fails_when_required(
    no_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DOCMIGRATE_REQUIRE_POSTGRES=1 a missing server is a failure, not a skip."""
    monkeypatch.setenv(REQUIRE_VARIABLE, "1")
    with pytest.raises(FAILED) as caught:
        postgres_server_url()
    assert REQUIRE_VARIABLE in str(caught.value)


def test_unset_variable_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requiring PostgreSQL without giving a URL fails too."""
    monkeypatch.delenv(POSTGRES_URL_VARIABLE, raising=False)
    monkeypatch.setenv(REQUIRE_VARIABLE, "1")
    with pytest.raises(FAILED, match=f"{POSTGRES_URL_VARIABLE} is not set"):
        postgres_server_url()


def test_fresh_database_is_empty(server_url: str) -> None:
    """The fresh database is a new, empty database on the same server."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    with fresh_postgres_database(server_url) as url:
        parsed, server = make_url(url), make_url(server_url)
        assert parsed.database is not None
        assert parsed.database.startswith(DATABASE_PREFIX)
        assert parsed.database != server.database
        assert parsed.set(database=server.database) == server
        assert _user_tables(url) == []
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                current = connection.execute(text("SELECT current_database()")).scalar_one()
        finally:
            engine.dispose()
        assert current == parsed.database


def test_two_fresh_databases_are_distinct(server_url: str) -> None:
    """Two fresh databases are separate: a table made in one is not in the other."""
    with (
        fresh_postgres_database(server_url) as first,
        fresh_postgres_database(server_url) as second,
    ):
        assert first != second
        _create_table(first, "only_here")
        assert _user_tables(first) == ["public.only_here"]
        assert _user_tables(second) == []


def test_database_and_table_are_gone_afterwards(server_url: str) -> None:
    """After the context the database is dropped, with what was created in it."""
    from sqlalchemy.engine import make_url

    with fresh_postgres_database(server_url) as url:
        _create_table(url, "scratch")
        name = make_url(url).database
        assert name is not None
        assert _database_exists(server_url, name)
    assert not _database_exists(server_url, name)
    with fresh_postgres_database(server_url) as again:
        assert _user_tables(again) == []


def test_dropped_despite_open_connection_and_error(server_url: str) -> None:
    """The database is dropped even if the body raises while holding a connection to it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = None
    with pytest.raises(RuntimeError, match="boom"), fresh_postgres_database(server_url) as url:
        name = make_url(url).database
        engine = create_engine(url)
        connection = engine.connect()
        connection.execute(text("SELECT 1"))
        raise RuntimeError("boom")
    assert name is not None
    assert not _database_exists(server_url, name)
    connection.invalidate()  # the server ended it; do not try to roll it back
    connection.close()
    engine.dispose()
