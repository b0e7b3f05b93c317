"""The generated files a benchmark run needs, made once and cached (benchmarks/data/).

A million rows take a while to generate, so files are reused across runs. Each
file has a sidecar `.json` with its stats and a fingerprint of the generator's
source: edit the generator and the cache regenerates instead of serving stale rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import generate

HERE = Path(__file__).resolve().parent
_GENERATOR_SOURCES = ("generate.py", "accounts_data.py", "contacts_data.py", "words.py")


@dataclass(frozen=True)
class DataSet:
    """A generated CSV and what it contains (AccountStats / ContactStats as a dict)."""

    path: Path
    stats: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.stats["rows"])


class DataCache:
    """Generated files under one directory, keyed by their generation arguments."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.seed = seed
        self._fingerprint = _generator_fingerprint()

    def groups(self) -> Path:
        path = self.root / "groups.csv"
        self._cached(path, {"kind": "groups"}, lambda: {"rows": generate.generate_groups(path)})
        return path

    def accounts(self, rows: int, variant: str = "create", invalid: float = 0.0) -> DataSet:
        suffix = "" if variant == "create" else f"-{variant}"
        suffix += f"-invalid{invalid}" if invalid else ""
        path = self.root / f"accounts-{rows}-s{self.seed}{suffix}.csv"
        key = {"kind": "accounts", "rows": rows, "variant": variant, "invalid": invalid}

        def make() -> dict[str, Any]:
            return asdict(generate.generate_accounts(path, rows, self.seed, invalid, variant))

        return DataSet(path, self._cached(path, key, make))

    def contacts(self, rows: int, accounts: DataSet) -> DataSet:
        path = self.root / f"contacts-{rows}-of-{accounts.path.stem}.csv"
        key = {"kind": "contacts", "rows": rows, "accounts": accounts.path.name}

        def make() -> dict[str, Any]:
            return asdict(generate.generate_contacts(path, accounts.path, rows, self.seed))

        return DataSet(path, self._cached(path, key, make))

    def _cached(
        self, path: Path, key: dict[str, Any], make: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The sidecar's stats if it matches `key` and this generator, else regenerate."""
        sidecar = path.with_suffix(".json")
        wanted = {**key, "seed": self.seed, "generator": self._fingerprint}
        if path.is_file() and sidecar.is_file():
            recorded = json.loads(sidecar.read_text(encoding="utf-8"))
            if recorded.get("key") == wanted:
                stats: dict[str, Any] = recorded["stats"]
                return stats
        print(f"generating {path.name} …", flush=True)
        stats = make()
        sidecar.write_text(json.dumps({"key": wanted, "stats": stats}, indent=1), encoding="utf-8")
        return stats


def _generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in _GENERATOR_SOURCES:
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]
