"""A throwaway PostgreSQL server for the test suite.

SPEC §7 asks for PostgreSQL tested against a real engine, not a fake. One server
is initialised per pytest run in a private temporary directory, listens on
127.0.0.1 only, and is removed afterwards, so the suite never depends on (or
disturbs) a PostgreSQL the developer may already run.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
APP_USER = "custimport"
APP_PASSWORD = "s3cret-pw"  # deliberately recognisable, so tests can check it is masked
HOST = "127.0.0.1"
MISSING_MESSAGE = (
    "PostgreSQL binaries not found: install the `postgresql` package "
    "(e.g. apt-get install postgresql) or set CUSTIMPORT_PG_BINDIR"
)
_SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",  # durability is pointless for a server deleted at the end of the run
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
_START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it


class PostgresStartError(RuntimeError):
    """The server could not be initialised or started."""


def find_bindir() -> Path | None:
    """Return the directory holding `initdb` and `pg_ctl`, or None.

    Debian-style installs keep the server binaries off PATH, hence the search.
    """
    override = os.environ.get("CUSTIMPORT_PG_BINDIR")
    candidates = [Path(override)] if override else [*_debian_bindirs(), *_pg_config_bindir()]
    return next((path for path in candidates if _has_server_binaries(path)), None)


def _debian_bindirs() -> list[Path]:
    """`/usr/lib/postgresql/<version>/bin`, newest version first."""
    found = Path("/usr/lib/postgresql").glob("*/bin")
    return sorted(found, key=lambda path: _version_key(path.parent.name), reverse=True)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _pg_config_bindir() -> list[Path]:
    if shutil.which("pg_config") is None:
        return []
    result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    return [Path(result.stdout.strip())] if result.returncode == 0 else []


def _has_server_binaries(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


class PostgresServer:
    """One running server: its address, and helpers to hand out databases."""

    host = HOST
    user = APP_USER
    password = APP_PASSWORD

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "socket"
        self.log_file = root / "server.log"
        self.port = 0

    def superuser_url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for the superuser, over the private unix socket (trust auth)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def app_url(self, dbname: str) -> str:
        """SQLAlchemy URL for the application role, over TCP with its password."""
        return f"postgresql+psycopg://{APP_USER}:{APP_PASSWORD}@{HOST}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create a brand-new empty database owned by the application role; return its URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self.admin_execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(APP_USER)
            )
        )
        return self.app_url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even if a test left connections open to it."""
        self.admin_execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def admin_execute(self, statement: sql.Composed) -> None:
        """Run one statement as superuser, outside a transaction (CREATE DATABASE needs that)."""
        with psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(statement)

    def start(self) -> None:
        """Initialise the cluster, start it on a free port and create the application role."""
        self._initdb()
        for attempt in range(1, _START_ATTEMPTS + 1):
            self.port = _free_port()
            result = self._pg_ctl("-w", "-t", "60", "-l", str(self.log_file), "start")
            if result.returncode == 0:
                break
            if attempt == _START_ATTEMPTS or not self._port_was_taken():
                raise PostgresStartError(self._failure_report("pg_ctl start", result))
        self.admin_execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(APP_USER), sql.Literal(APP_PASSWORD)
            )
        )

    def stop(self) -> None:
        """Stop the server if it runs; safe to call twice (fixture teardown and atexit).

        The pid file, not a flag, decides: a start that timed out may still have a server.
        """
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("-w", "-m", "fast", "stop")

    def _port_was_taken(self) -> bool:
        return "already in use" in _tail(self.log_file, lines=5)

    def _initdb(self) -> None:
        result = self._run(
            self.bindir / "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        )
        if result.returncode != 0:
            raise PostgresStartError(self._failure_report("initdb", result))
        settings = {**_SETTINGS, "unix_socket_directories": str(self.socket_dir)}
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# custimport test suite\n")
            conf.writelines(f"{key} = '{value}'\n" for key, value in settings.items())

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        # The port goes on the command line so a retry needs no config rewrite.
        return self._run(
            self.bindir / "pg_ctl", "-D", str(self.data_dir), "-o", f"-p {self.port}", *args
        )

    def _run(self, program: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server program, as the `postgres` user when we are root (PostgreSQL refuses root).

        The working directory is ours, so it does not matter where pytest was started.
        """
        command = [str(program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        return subprocess.run(
            command,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def _failure_report(self, step: str, result: subprocess.CompletedProcess[str]) -> str:
        output = (result.stdout + result.stderr).strip()
        log_tail = _tail(self.log_file)
        return (
            f"{step} failed (exit {result.returncode}):\n{output}\n--- server log ---\n{log_tail}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _make_root() -> Path:
    """A fresh directory the server user can own, reachable from a traversable parent.

    As root, the `postgres` user must be able to walk to it, so a private $TMPDIR
    under /root would not do; /tmp always does.
    """
    parent = "/tmp" if os.geteuid() == 0 and os.path.isdir("/tmp") else None
    root = Path(tempfile.mkdtemp(prefix="custimport-pg-", dir=parent))
    (root / "socket").mkdir(mode=0o700)
    if os.geteuid() == 0:
        root.chmod(0o755)
        for path in (root, root / "socket"):
            shutil.chown(path, user=SUPERUSER, group=None)
    return root


@contextmanager
def running_server(bindir: Path) -> Iterator[PostgresServer]:
    """Start a server for the duration of the block; always stop it and delete its files.

    The atexit hook covers exits that skip the `finally` (e.g. a second Ctrl-C).
    """
    root = _make_root()
    server = PostgresServer(bindir, root)

    def cleanup() -> None:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(cleanup)
    try:
        server.start()
        yield server
    finally:
        cleanup()
        atexit.unregister(cleanup)
