"""A bundle's `manifest.json` (SPEC §11): read, and checked against the bundle's files.

The manifest lists every data file with its model, its record count and its SHA-256. A
bundle is imported only as a whole: a data file the manifest does not list (it would be
left out silently), a manifest that lists none, a count that disagrees with the file, or
a schema revision newer than this custimport's is exit 2 before anything is written.
Data files are those the import reads (.csv, .tsv, .xlsx, .json, .jsonl, .gz, .zip);
anything else beside them (README.txt, a hidden file such as .DS_Store, a zip's
__MACOSX/ folder, sub-folders) is not the bundle's and is ignored.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from custimport.errors import InputFileError
from custimport.io.formats import open_source
from custimport.schemas import MODELS, model_spec
from custimport.store.db import SCHEMA_HEAD

MANIFEST = "manifest.json"
MANIFEST_LIMIT = 1 << 20  # bytes: a manifest names three files
DATA_SUFFIXES = frozenset({".csv", ".tsv", ".xlsx", ".json", ".jsonl", ".gz", ".zip"})
FOREIGN_FOLDERS = ("__MACOSX/",)  # what a Mac's zip adds beside the files


@dataclass(frozen=True)
class Entry:
    name: str
    model: str
    sha256: str
    rows: int


def is_data_file(name: str) -> bool:
    """A file at the bundle's top that the import could read, other than the manifest."""
    path = PurePosixPath(name)
    if name.startswith(FOREIGN_FOLDERS) or path.name.startswith(".") or name == MANIFEST:
        return False
    return path.suffix.lower() in DATA_SUFFIXES


def read_entries(data: bytes, shown: str) -> list[Entry]:
    """The manifest's files; whatever is wrong with it is said in words, naming the entry."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _not_a_manifest(shown, "it is not valid JSON") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        raise _not_a_manifest(shown, 'it has no "files" list')
    _check_revision(manifest.get("schema_revision"), shown)
    if not files:
        raise InputFileError(f"{shown}: its {MANIFEST} lists no files; nothing to import")
    entries = [_entry(item, number, shown) for number, item in enumerate(files, start=1)]
    names = [entry.name for entry in entries]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise _not_a_manifest(shown, f"it lists {twice[0]} twice")
    return entries


def check_listing(entries: list[Entry], present: Iterable[str], shown: str) -> None:
    """Every data file in the bundle is in the manifest (it would be left out otherwise)."""
    listed = {entry.name for entry in entries}
    unlisted = sorted(name for name in present if is_data_file(name) and name not in listed)
    if unlisted:
        raise InputFileError(
            f"{shown}: {unlisted[0]} is in the bundle but not in its {MANIFEST}, so it would "
            "not be imported; nothing was imported (add it to the manifest, or move it out)"
        )


def check_rows(entry: Entry, path: Path, shown: str) -> None:
    """The file holds as many records as the manifest says (read as the import reads it)."""
    with open_source(path, name=Path(f"{shown}/{entry.name}")) as source:
        found = sum(1 for _ in source)
    if found != entry.rows:
        raise InputFileError(
            f"{shown}: {entry.name} holds {found:,} records, its {MANIFEST} says "
            f"{entry.rows:,}; nothing was imported"
        )


def _check_revision(revision: Any, shown: str) -> None:
    """A bundle of a newer schema may hold what this custimport cannot store."""
    if revision is None:
        return
    if not isinstance(revision, str):
        raise _not_a_manifest(shown, 'its "schema_revision" is not text')
    if revision.isdigit() and SCHEMA_HEAD.isdigit() and int(revision) > int(SCHEMA_HEAD):
        raise InputFileError(
            f"{shown} was made by a newer custimport (schema revision {revision}; this one "
            f"knows up to {SCHEMA_HEAD}): upgrade custimport to import it"
        )


def _entry(item: Any, number: int, shown: str) -> Entry:
    where = f'entry {number} of "files"'
    if not isinstance(item, dict):
        raise _not_a_manifest(shown, f"{where} is not an object")
    for key, kind in (("name", str), ("model", str), ("sha256", str), ("rows", int)):
        if key not in item:
            raise _not_a_manifest(shown, f'{where} has no "{key}"')
        if not isinstance(item[key], kind) or isinstance(item[key], bool):
            what = "a whole number" if kind is int else "text"
            raise _not_a_manifest(shown, f'the "{key}" of {where} is not {what}')
    name, model, sha256, rows = item["name"], item["model"], item["sha256"], item["rows"]
    where = f"{where} ({name})"
    if not name or "/" in name or "\\" in name or name.startswith(".") or name == MANIFEST:
        raise _not_a_manifest(shown, f'the "name" of {where} is not a plain file name')
    spec = model_spec(model)
    if spec is None:
        known = ", ".join(each.name for each in MODELS.values())
        raise _not_a_manifest(shown, f'{where} names the model "{model}", not one of {known}')
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise _not_a_manifest(shown, f'the "sha256" of {where} is not a SHA-256 in hex')
    if rows < 0:
        raise _not_a_manifest(shown, f'the "rows" of {where} is negative')
    return Entry(name, spec.name, sha256, rows)


def _not_a_manifest(shown: str, why: str) -> InputFileError:
    return InputFileError(f"{shown}: its {MANIFEST} is not a bundle's manifest: {why}")
