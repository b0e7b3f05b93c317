"""Importing a bundle (SPEC §11): a folder or zip that `export --all` wrote, with its manifest.

`manifest.json` names each file, its model and its SHA-256. Every file is checked against
its digest before anything is imported: a bundle with a file missing, changed or damaged is
exit 2 with nothing written. The files are then imported as several files in one command
(service/several.py), each with the model the manifest gives it. A zip's members are taken
out, in bounded chunks (a member that expands implausibly is refused as a bomb, as for any
zip: io/archives.py), into a private temporary folder deleted afterwards; the reports and
run records call them `backup.zip/accounts.csv`. A zip without a manifest is not a bundle:
it is read as a single-file zip, as before.
"""

import hashlib
import json
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from custimport.errors import InputFileError, visible
from custimport.io.archives import ZIP_MAGICS
from custimport.io.xlsx_archive import RATIO, RATIO_FLOOR
from custimport.schemas import model_spec
from custimport.service.several_job import GivenFile

MANIFEST = "manifest.json"
MANIFEST_LIMIT = 1 << 20  # bytes: a manifest names three files
CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    name: str
    model: str
    sha256: str


def is_bundle(path: Path) -> bool:
    """A folder (a bundle, or refused as one without a manifest), or a zip with a manifest."""
    if path.is_dir():
        return True
    if not path.is_file():  # standard input, a named pipe: never read twice
        return False
    try:
        with path.open("rb") as stream:
            if not stream.read(4).startswith(ZIP_MAGICS):
                return False
        with zipfile.ZipFile(path) as archive:
            return MANIFEST in archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


@contextmanager
def opened_bundle(path: Path) -> Iterator[list[GivenFile]]:
    """The bundle's files, each checked against the manifest, with their models."""
    if path.is_dir():
        yield _folder_files(path)
        return
    folder = Path(tempfile.mkdtemp(prefix="custimport-bundle-"))  # mode 0700
    try:
        yield _zip_files(path, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _folder_files(folder: Path) -> list[GivenFile]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise InputFileError(
            f"{visible(str(folder))} is a folder without {MANIFEST}: not a bundle "
            "(`custimport export --all -o DIR` writes one); name the files to import instead"
        )
    entries = _entries(manifest.read_bytes()[:MANIFEST_LIMIT], folder)
    files = []
    for entry in entries:
        file = folder / entry.name
        if not file.is_file():
            raise InputFileError(_missing(folder, entry))
        with file.open("rb") as stream:
            _check_digest(folder, entry, _digest(stream, None, folder, entry))
        files.append(GivenFile(file, model_spec(entry.model)))
    return files


def _zip_files(path: Path, folder: Path) -> list[GivenFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(MANIFEST)
            if info.file_size > MANIFEST_LIMIT:
                raise InputFileError(f"{visible(str(path))}: its {MANIFEST} is implausibly large")
            entries = _entries(archive.read(info), path)
            files = []
            for entry in entries:
                files.append(_taken_out(path, archive, entry, folder))
            return files
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise InputFileError(f"{visible(str(path))}: the bundle is damaged ({exc})") from None


def _taken_out(path: Path, archive: zipfile.ZipFile, entry: Entry, folder: Path) -> GivenFile:
    """The member written to `folder`, in bounded chunks, checked against its digest."""
    try:
        info = archive.getinfo(entry.name)
    except KeyError:
        raise InputFileError(_missing(path, entry)) from None
    limit = max(RATIO_FLOOR, RATIO * info.compress_size)
    target = folder / entry.name
    with archive.open(info) as member, target.open("wb") as out:
        _check_digest(path, entry, _digest(member, out, path, entry, limit))
    return GivenFile(target, model_spec(entry.model), shown_as=Path(f"{path}/{entry.name}"))


def _digest(
    stream: IO[bytes], out: IO[bytes] | None, bundle: Path, entry: Entry, limit: int | None = None
) -> str:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            raise InputFileError(
                f"{visible(str(bundle))}: {entry.name} refused as a likely compression bomb "
                f"(it expands over {RATIO} times its compressed size)"
            )
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest()


def _check_digest(bundle: Path, entry: Entry, found: str) -> None:
    if found != entry.sha256:
        raise InputFileError(
            f"{visible(str(bundle))}: {entry.name} does not match the bundle's {MANIFEST} "
            "(its SHA-256 differs: changed or damaged since the export); nothing was imported"
        )


def _missing(bundle: Path, entry: Entry) -> str:
    return (
        f"{visible(str(bundle))}: {entry.name}, named in its {MANIFEST}, is missing; "
        "nothing was imported"
    )


def _entries(data: bytes, bundle: Path) -> list[Entry]:
    """The manifest's files, each a plain name (never a path: nothing is written outside
    the bundle's folder), a known model and a SHA-256."""
    shown = visible(str(bundle))
    try:
        manifest = json.loads(data.decode("utf-8"))
        entries = [_entry(item) for item in manifest["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputFileError(
            f"{shown}: its {MANIFEST} is not a bundle's manifest ({exc})"
        ) from None
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        raise InputFileError(f"{shown}: its {MANIFEST} names a file twice")
    return entries


def _entry(item: Any) -> Entry:
    name, model, sha256 = str(item["name"]), str(item["model"]), str(item["sha256"])
    if not name or "/" in name or "\\" in name or name.startswith(".") or name == MANIFEST:
        raise ValueError(f"{name!r} is not a plain file name")
    if model_spec(model) is None:
        raise ValueError(f"unknown model {model!r}")
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"{sha256!r} is not a SHA-256")
    return Entry(name, model, sha256)
