"""The migrations are found from a wheel and from an editable install, at any module depth.

The wheel is built from this tree and unpacked into a folder of its own that comes first
on the path, so the child imports it and not the editable install; the command runs in
another directory, so nothing can be found relative to the current one.
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from custimport.store import db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    [wheel] = out.glob("custimport-*.whl")
    target = out / "site"
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target"]
    done = subprocess.run([*install, str(target), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return target


def run_from(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_an_editable_install_finds_the_repository_migrations() -> None:
    assert db.migrations_path() == ROOT / "migrations"


def test_a_wheel_carries_its_migrations_and_runs_them_from_anywhere(
    wheel_dir: Path, tmp_path: Path
) -> None:
    where = run_from(
        wheel_dir,
        tmp_path,
        "-c",
        "import custimport.store.db as d; print(d.__file__); print(d.migrations_path())",
    )
    module_file, migrations = where.stdout.split()
    assert Path(module_file).is_relative_to(wheel_dir), where.stderr
    assert Path(migrations) == wheel_dir / "custimport" / "migrations"

    database = tmp_path / "wheel.db"
    upgrade = run_from(
        wheel_dir, tmp_path, "-m", "custimport", "db", "upgrade", "--db", f"sqlite:///{database}"
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    (tmp_path / "groups.csv").write_text("name,group_type\nWheel Group,BUSINESS\n")
    imported = run_from(
        wheel_dir,
        tmp_path,
        "-m",
        "custimport",
        "groups.csv",
        "-m",
        "CustomerGroup",
        "--db",
        f"sqlite:///{database}",
        "--json",
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT name FROM customer_group").fetchall() == [("Wheel Group",)]
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
            db.SCHEMA_HEAD,
        )
