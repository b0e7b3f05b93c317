"""Shared fixtures: database URLs for both engines SPEC §7 supports.

Tests that take `db_url` run twice, once on SQLite and once on a real PostgreSQL
(see `pg_server.py`), so "the same import gives the same contents on both" is
checked rather than assumed. Select one engine with `-k sqlite`, or leave
PostgreSQL out with `-m "not postgres"`.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import NoReturn

import pytest

from pg_server import MISSING_MESSAGE, PostgresServer, PostgresStartError, find_bindir
from pg_server import running_server as _running_server

# A suite started under `nohup` (or by a runner that ignores hang-ups) inherits SIGHUP
# ignored, and so does every command it starts; custimport keeps an ignored SIGHUP
# ignored, as nohup asks, so the tests that hang up on a command would see it carry on.
# The commands the tests start get the default disposition back.
if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _postgres_unavailable(message: str) -> NoReturn:
    """Skip locally, but fail in CI: a green run that silently skipped PostgreSQL proves nothing."""
    if os.environ.get("CUSTIMPORT_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a CI timeout, `kill`) like Ctrl-C, so fixture teardown still stops the server.

    By default SIGTERM ends Python without running `finally` blocks or atexit hooks,
    which would leave an orphan postgres behind. Someone else's handler is left alone,
    and the default comes back when the server is gone.
    """
    in_charge = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if in_charge:
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        if in_charge:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


# No test takes a minute on these machines; one that runs for this long is stuck (a
# command left frozen by SIGSTOP, a wait on a process that never ends). Without a
# deadline one stuck test would hold the whole run until CI's own limit ends it.
TEST_DEADLINE_S = int(os.environ.get("CUSTIMPORT_TEST_DEADLINE_S", "240"))


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """Fail a test that runs over TEST_DEADLINE_S, after killing the commands it started,
    so that a `with Popen(...)` waiting on a frozen command lets go and the run goes on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    started_before = set(_children_of_this_process())

    def expired(signum: int, frame: FrameType | None) -> None:
        for pid in set(_children_of_this_process()) - started_before:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"stuck: ran over {TEST_DEADLINE_S} s; the commands it started were killed")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_DEADLINE_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _children_of_this_process() -> Iterator[int]:
    """The processes this test run started, except the session's PostgreSQL server (which
    a test may start lazily, after the deadline's snapshot)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError):
            if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                continue
            command = (stat.parent / "cmdline").read_bytes()
            if b"/usr/lib/postgresql/" not in command and b"runuser" not in command:
                yield int(stat.parent.name)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"received signal {signum}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL for the whole run (one initdb), on 127.0.0.1 and a free port.

    Offers `host`, `port`, `user`, `password`, `superuser_url(dbname)` and
    `create_database(name=None) -> url`. Stopped and deleted at session end.
    """
    bindir = find_bindir()
    if bindir is None:
        _postgres_unavailable(MISSING_MESSAGE)
    try:
        with _sigterm_as_interrupt(), _running_server(bindir) as server:
            yield server
    except PostgresStartError as error:
        message = f"could not start the test PostgreSQL server:\n{error}"
        raise pytest.fail.Exception(message, pytrace=False) from None


@pytest.fixture
def postgres_url(pg_server: PostgresServer) -> Iterator[str]:
    """URL (application role, with password) of a fresh empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file that does not exist yet, in the test's own temp directory."""
    return f"sqlite:///{tmp_path / 'custimport.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh empty database on each engine in turn; the test runs once per engine."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Error logs go to the current directory by default: keep them out of the repository."""
    monkeypatch.chdir(tmp_path)
