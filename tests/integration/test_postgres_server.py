"""The throwaway PostgreSQL server behaves as the rest of the suite assumes.

If these fail, every PostgreSQL result elsewhere is suspect, so they check the
server with raw SQL and plain sockets rather than with custimport's own code.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from pg_server import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on the test's database, disposed so the database can be dropped cleanly."""
    engine = create_engine(postgres_url)
    yield engine
    engine.dispose()


def test_a_fresh_database_is_reachable_with_the_password_url(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("select 1")).scalar_one() == 1
        assert conn.execute(text("select current_user")).scalar_one() == "custimport"
        version = conn.execute(text("show server_version_num")).scalar_one()
    assert int(version) >= 130000


def test_a_fresh_database_is_empty(engine: Engine) -> None:
    query = text(
        "select count(*) from information_schema.tables "
        "where table_schema not in ('pg_catalog', 'information_schema')"
    )
    with engine.connect() as conn:
        assert conn.execute(query).scalar_one() == 0


def test_the_application_role_owns_its_database_and_can_create_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("create table probe (id integer primary key)"))
        owner = conn.execute(
            text(
                "select pg_get_userbyid(datdba) from pg_database where datname = current_database()"
            )
        ).scalar_one()
    assert owner == "custimport"


def test_each_call_gives_a_distinct_database(postgres_url: str, pg_server: PostgresServer) -> None:
    other_url = pg_server.create_database()
    other_name = make_url(other_url).database
    assert other_name is not None
    try:
        assert make_url(postgres_url).database != other_name
        _create_table(postgres_url, "only_in_first")
        assert _table_names(other_url) == set()
    finally:
        pg_server.drop_database(other_name)


def test_the_server_listens_only_on_loopback(engine: Engine, pg_server: PostgresServer) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("show listen_addresses")).scalar_one() == "127.0.0.1"
        assert str(conn.execute(text("select inet_server_addr()")).scalar_one()) == "127.0.0.1"
    # 127.0.0.2 is loopback too on Linux: a server bound to 0.0.0.0 would answer there.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", pg_server.port), timeout=1).close()


def test_a_wrong_password_is_refused(pg_server: PostgresServer, postgres_url: str) -> None:
    url = make_url(postgres_url)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=pg_server.host,
            port=pg_server.port,
            user=url.username,
            password="not-the-password",
            dbname=url.database,
        )


def _create_table(url: str, name: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"create table {name} (id integer)"))
    finally:
        engine.dispose()


def _table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select table_name from information_schema.tables where table_schema = 'public'"
                )
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()
