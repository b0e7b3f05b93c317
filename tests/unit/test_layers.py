"""The package's layers, checked from its source: dependencies run one way, without cycles.

cli → report → service → run → rows → {store, io}, and every layer may use the base
modules (models, schemas, config, errors, signals), which use no layer. io and store
never meet: reading a file knows nothing of the database, and the reverse.
"""

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import custimport.cli

PACKAGE = Path(custimport.cli.__file__).resolve().parent
BASE = {"models", "schemas", "config", "errors", "signals"}
RANK = {"store": 1, "io": 1, "rows": 2, "run": 3, "service": 4, "report": 5, "cli": 6}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(("custimport", *parts)).removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(path: Path) -> Iterator[str]:
    """Every custimport module `path` imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("custimport"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("custimport"):
            for alias in node.names:  # `from custimport.store import db` names a module
                candidate = f"{node.module}.{alias.name}"
                yield candidate if candidate in modules() else str(node.module)


def layer(module: str) -> str:
    """`custimport.run.pipeline` -> run; `custimport.cli` -> cli; `custimport` -> package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "package"


def allowed(source: str, target: str) -> bool:
    here, there = layer(source), layer(target)
    if here == there or there in BASE:
        return here not in BASE or there in BASE
    if here == "__main__":
        return there == "cli"
    return there in RANK and here in RANK and RANK[there] < RANK[here]


def test_every_module_belongs_to_a_layer() -> None:
    strays = [m for m in modules() if layer(m) not in {*RANK, *BASE, "__main__", "package"}]
    assert strays == []


def test_imports_run_one_way_down_the_layers() -> None:
    backwards = [
        f"{source} imports {target}"
        for source, path in modules().items()
        for target in imported(path)
        if not allowed(source, target)
    ]
    assert backwards == []


def test_no_two_modules_import_each_other_even_indirectly() -> None:
    graph = {m: set(imported(p)) & modules().keys() for m, p in modules().items()}
    cycles = [m for m in graph if m in _reachable(graph, graph[m])]
    assert cycles == []


def _reachable(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def test_every_init_file_is_empty() -> None:
    """An `__init__` that imports would load its package's neighbours into every process
    that needs one module of it (the background reader must stay free of SQLAlchemy)."""
    assert [p for p in PACKAGE.rglob("__init__.py") if p.read_text().strip()] == []


@pytest.mark.parametrize("package", ["report", "io", "rows.outcomes", "rows.mapping", "rows.modes"])
def test_reporting_and_reading_never_load_the_database_layer(package: str) -> None:
    names = [m for m in modules() if m.startswith(f"custimport.{package}")]
    code = f"import sys; import {', '.join(names)}; print('sqlalchemy' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert shown.stdout.strip() == "False", shown.stderr


def test_the_check_sees_a_backward_import() -> None:
    """The check itself: a store module importing the pipeline, or io importing store."""
    assert not allowed("custimport.store.repository", "custimport.run.pipeline")
    assert not allowed("custimport.io.formats", "custimport.store.db")
    assert not allowed("custimport.schemas", "custimport.rows.keys")
    assert allowed("custimport.run.pipeline", "custimport.rows.contract")
    assert allowed("custimport.rows.accounts", "custimport.schemas")
