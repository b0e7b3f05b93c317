"""The background reader process imports only what preparing batches needs.

Every megabyte of it counts twice against the import's memory ceiling (it runs
beside the writer), and the command line's imports (Typer, rich, SQLAlchemy) are
about 24 MB of it.
"""

import subprocess
import sys
import types
from multiprocessing import spawn
from pathlib import Path

import pytest

from custimport.run.background import _bare_main


def test_a_spawned_worker_is_not_told_to_import_the_parents_main_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent's __main__ is a script (as the installed command's is), whatever runs the
    test (pytest's own __main__, or an xdist worker's, which is not a file)."""
    script = tmp_path / "tool.py"
    script.write_text("", encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert {"init_main_from_path", "init_main_from_name"} & set(
        spawn.get_preparation_data("worker")
    ), "a script's __main__ is announced without the guard"
    with _bare_main():
        data = spawn.get_preparation_data("worker")
    assert "init_main_from_path" not in data and "init_main_from_name" not in data
    assert sys.modules["__main__"] is main


def test_what_the_worker_imports_leaves_out_the_database_and_the_command_line() -> None:
    code = (
        "import sys, pickle\n"
        "import custimport.run.background, custimport.rows.keys\n"
        "heavy = {'sqlalchemy', 'typer', 'rich', 'psycopg'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
