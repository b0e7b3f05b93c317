"""Fixtures of the fault-injection suite: real tmpfs mounts, and databases that live on them.

A full disk is made, not mocked: the `tmpfs` fixture mounts a small tmpfs (root only; CI
runs as root) and always unmounts it, even when the test fails. Without root the tests
that need one are skipped with the reason; as root in CI a mount that fails is an error,
because a green run that skipped its full-disk tests proves nothing.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from fault_support import mount_tmpfs, unmount
from psycopg import sql

from pg_server import PostgresServer

Mount = Callable[..., Path]


@pytest.fixture
def tmpfs() -> Iterator[Mount]:
    """`tmpfs(size_kib)` mounts a fresh tmpfs of that size and returns its folder."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is a real tmpfs here, and mounting one needs root (CI has it)")
    mounted: list[Path] = []

    def mount(size_kib: int, *options: str) -> Path:
        try:
            point = mount_tmpfs(size_kib, options)
        except OSError as exc:
            if os.environ.get("CI"):
                pytest.fail(str(exc), pytrace=False)
            pytest.skip(f"{exc} (this machine does not let root mount a tmpfs)")
        mounted.append(point)
        return point

    try:
        yield mount
    finally:
        for point in reversed(mounted):
            unmount(point)
            with suppress(OSError):  # the folder is ours; a leftover is harmless
                point.rmdir()


@pytest.fixture
def postgres_on_tmpfs(
    tmpfs: Mount, pg_server: PostgresServer
) -> Iterator[Callable[[int], tuple[str, Path]]]:
    """`make(size_kib)`: a fresh PostgreSQL database whose tablespace is a tmpfs of that size.

    Its tables live on the tmpfs (the WAL does not), so filling the tmpfs is a full disk for
    every write to them. Returns the database URL and the tmpfs folder.
    """
    made: list[str] = []  # each database and its tablespace share one name

    def make(size_kib: int) -> tuple[str, Path]:
        point = tmpfs(size_kib)
        location = point / "tablespace"
        location.mkdir()
        os.chown(location, *_owner_of(pg_server.data_dir))
        name = f"full_{uuid.uuid4().hex[:12]}"
        pg_server.admin_execute(
            sql.SQL("CREATE TABLESPACE {} OWNER {} LOCATION {}").format(
                sql.Identifier(name), sql.Identifier(pg_server.user), sql.Literal(str(location))
            )
        )
        made.append(name)
        pg_server.admin_execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TABLESPACE {}").format(
                sql.Identifier(name), sql.Identifier(pg_server.user), sql.Identifier(name)
            )
        )
        return pg_server.app_url(name), point

    try:
        yield make
    finally:
        for name in made:
            pg_server.drop_database(name)
            pg_server.admin_execute(
                sql.SQL("DROP TABLESPACE IF EXISTS {}").format(sql.Identifier(name))
            )


def _owner_of(path: Path) -> tuple[int, int]:
    """The uid/gid the server runs as (the owner of its data folder; `postgres` as root)."""
    stat = path.stat()
    return stat.st_uid, stat.st_gid
