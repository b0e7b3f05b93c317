"""Where the error log, the rejects file and an export may go besides a new regular file:
a folder, a character device, a named pipe (SPEC §2, §12.3).

Renaming a finished export over `-o /dev/null`, as root, replaced the device with a
regular file of customer data; `--rejects .` was an internal error after the import had
run. The devices here are private ones made in tmp_path (as root), never /dev's own.
"""

import os
import stat
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from custimport.report.files import default_error_log_name
from helpers import GROUPS_HEADER, cli, run_import, write_csv

NULL_DEVICE = os.makedev(1, 3)


def mixed_groups(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "g.csv", GROUPS_HEADER, [["Good", "BUSINESS"], ["Bad", "NOPE"]])


@pytest.fixture
def null_device(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root (CI runs as root)")
    path = tmp_path / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, NULL_DEVICE)
    return path


def is_null_device(path: Path) -> bool:
    info = path.lstat()
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == NULL_DEVICE


def read_fifo_in_background(path: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(path.read_bytes()), daemon=True)
    reader.start()
    return reader, got


def test_rejects_given_a_folder_get_a_default_name_inside_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    (tmp_path / "out").mkdir()
    run = run_import(
        mixed_groups(tmp_path), "CustomerGroup", sqlite_url, "--rejects", tmp_path / "out"
    )
    assert run.exit_code == 1, run.stderr
    rejects = Path(run.report["rejects"])
    assert rejects.parent == tmp_path / "out"
    assert rejects.name.startswith("import_rejects_CustomerGroup_") and rejects.suffix == ".csv"
    assert rejects.read_text(encoding="utf-8").splitlines()[1].startswith("Bad,NOPE,")
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600


def test_an_error_log_and_rejects_named_as_a_device_are_written_into_it(
    tmp_path: Path, sqlite_url: str, null_device: Path
) -> None:
    extra = ("--error-log", null_device, "--rejects", null_device)
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url, *extra)
    assert run.exit_code == 1, run.stderr
    assert run.report["error_log"] == run.report["rejects"] == str(null_device)
    assert is_null_device(null_device)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("null")) == ["null"]


def test_an_error_log_named_as_a_pipe_streams_into_it(tmp_path: Path, sqlite_url: str) -> None:
    pipe = tmp_path / "log.pipe"
    os.mkfifo(pipe)
    reader, got = read_fifo_in_background(pipe)
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url, "--error-log", pipe)
    reader.join(timeout=30)
    assert run.exit_code == 1, run.stderr
    assert b"line 3" in got[0] and b"NOPE" in got[0]
    assert stat.S_ISFIFO(pipe.lstat().st_mode)


def test_a_device_at_the_default_error_log_name_is_never_written_into(
    tmp_path: Path, sqlite_url: str, null_device: Path
) -> None:
    """Only a path the user named: one merely found at the name custimport picks may have
    been put there by someone else, so the log goes beside it as usual. Devices are
    planted at the default names of the next minute, so the run meets one."""
    logs = tmp_path / "logs"
    logs.mkdir()
    now = datetime.now()
    planted = [
        logs / default_error_log_name("CustomerGroup", now + timedelta(seconds=s))
        for s in range(-1, 60)
    ]
    for path in planted:
        os.mknod(path, 0o666 | stat.S_IFCHR, NULL_DEVICE)
    run = run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url, "--error-log", logs)
    log = Path(run.report["error_log"])
    assert log.name.endswith("-2.log") and log.is_file() and not log.is_symlink()
    assert b"NOPE" in log.read_bytes()
    assert all(is_null_device(path) for path in planted)


def test_an_export_to_a_device_writes_into_it_without_force(
    tmp_path: Path, sqlite_url: str, null_device: Path
) -> None:
    assert run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url).exit_code == 1
    for fmt in ("csv", "xlsx"):
        run = cli(
            "export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", null_device, "--format", fmt
        )
        assert run.exit_code == 0, run.stderr
        assert is_null_device(null_device)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".null")] == []


def test_an_export_never_replaces_a_symbolic_link_even_with_force(
    tmp_path: Path, sqlite_url: str
) -> None:
    """`export -o /dev/stdout --force`, as root, replaced the link /dev/stdout itself with
    a regular file holding the export; a link planted where -o points is never replaced."""
    assert run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url).exit_code == 1
    target = tmp_path / "target.csv"
    target.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    refused = cli("export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", link)
    assert refused.exit_code == 2 and "is a symbolic link" in refused.stderr, refused.stderr
    forced = cli("export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", link, "--force")
    assert forced.exit_code == 2 and "is a symbolic link" in forced.stderr, forced.stderr
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".link")) == []


def test_an_export_to_a_named_pipe_streams_into_it(tmp_path: Path, sqlite_url: str) -> None:
    assert run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url).exit_code == 1
    pipe = tmp_path / "export.pipe"
    os.mkfifo(pipe)
    reader, got = read_fifo_in_background(pipe)
    run = cli("export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", pipe)
    reader.join(timeout=30)
    assert run.exit_code == 0, run.stderr
    assert got == [b"name,group_type\r\nGood,BUSINESS\r\n"] or got[0].splitlines() == [
        b"name,group_type",
        b"Good,BUSINESS",
    ]


def test_a_symlink_to_a_device_is_neither_followed_nor_replaced_by_an_export(
    tmp_path: Path, sqlite_url: str, null_device: Path
) -> None:
    assert run_import(mixed_groups(tmp_path), "CustomerGroup", sqlite_url).exit_code == 1
    link = tmp_path / "out.csv"
    link.symlink_to(null_device)
    refused = cli("export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", link)
    assert refused.exit_code == 2 and "is a symbolic link" in refused.stderr
    forced = cli("export", "-m", "CustomerGroup", "--db", sqlite_url, "-o", link, "--force")
    assert forced.exit_code == 2 and "is a symbolic link" in forced.stderr
    assert link.is_symlink() and is_null_device(null_device)
