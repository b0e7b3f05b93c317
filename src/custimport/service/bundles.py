"""Importing a bundle (SPEC §11): a folder or zip that `export --all` wrote, with its manifest.

`manifest.json` names each file, its model, its record count and its SHA-256
(service/bundle_manifest.py). Every file is checked against it before anything is
imported: a bundle with a file missing, changed, damaged or not listed is exit 2 with
nothing written. The files are then imported as several files in one command
(service/several.py), each with the model the manifest gives it. A zip's members are
taken out, in bounded chunks (a member that expands implausibly is refused as a bomb, as
for any zip: io/archives.py), into a private temporary folder deleted afterwards; the
reports and run records call them `backup.zip/accounts.csv`. The bundle's files may also
all be in one top-level folder of the zip (`zip -r backup.zip DIR/` of an exported
folder). A zip without a manifest is not a bundle: it is read as a single-file zip.
"""

import errno
import hashlib
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from custimport.errors import InputFileError, visible
from custimport.io.archives import ZIP_MAGICS
from custimport.io.xlsx_archive import RATIO, RATIO_FLOOR
from custimport.schemas import model_spec
from custimport.service.bundle_manifest import (
    FOREIGN_FOLDERS,
    MANIFEST,
    MANIFEST_LIMIT,
    Entry,
    check_listing,
    check_rows,
    read_entries,
)
from custimport.service.several_job import GivenFile

CHUNK = 1 << 20
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


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
            return _root(archive.namelist()) is not None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False


def has_manifest(path: Path) -> bool:
    """A folder with a manifest, or a zip with one (`is_bundle` takes any folder)."""
    return (path / MANIFEST).is_file() if path.is_dir() else is_bundle(path)


def _root(names: list[str]) -> str | None:
    """Where the bundle's files are in the zip: at its top (""), or all in one top-level
    folder that holds the manifest ("DIR/"); None: no manifest, not a bundle."""
    if MANIFEST in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names if not name.startswith(FOREIGN_FOLDERS)}
    tops -= {name for name in tops if name.startswith(".")}
    if len(tops) == 1 and f"{next(iter(tops))}/{MANIFEST}" in names:
        return f"{next(iter(tops))}/"
    return None


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
    shown = visible(str(folder))
    with manifest.open("rb") as stream:
        entries = read_entries(stream.read(MANIFEST_LIMIT), shown)
    check_listing(entries, [item.name for item in folder.iterdir() if item.is_file()], shown)
    files = []
    for entry in entries:
        file = folder / entry.name
        if not file.is_file():
            raise InputFileError(_missing(folder, entry))
        with file.open("rb") as stream:
            _check_digest(folder, entry, _digest(stream, None, folder, entry))
        check_rows(entry, file, shown)
        files.append(_given(file, entry))
    return files


def _given(file: Path, entry: Entry, shown_as: Path | None = None) -> GivenFile:
    return GivenFile(file, model_spec(entry.model), shown_as=shown_as, in_bundle=True)


def _zip_files(path: Path, folder: Path) -> list[GivenFile]:
    shown = visible(str(path))
    try:
        with zipfile.ZipFile(path) as archive:
            root = _root(archive.namelist()) or ""
            info = archive.getinfo(root + MANIFEST)
            if info.file_size > MANIFEST_LIMIT:
                raise InputFileError(f"{shown}: its {MANIFEST} is implausibly large")
            entries = read_entries(archive.read(info), shown)
            members = [n.removeprefix(root) for n in archive.namelist() if n.startswith(root)]
            check_listing(entries, [n for n in members if n and "/" not in n], shown)
            files = []
            for entry in entries:
                files.append(_taken_out(path, archive, root, entry, folder))
            return files
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise InputFileError(f"{shown}: the bundle is damaged ({exc})") from None


def _taken_out(
    path: Path, archive: zipfile.ZipFile, root: str, entry: Entry, folder: Path
) -> GivenFile:
    """The member written to `folder`, in bounded chunks, checked against the manifest."""
    try:
        info = archive.getinfo(root + entry.name)
    except KeyError:
        raise InputFileError(_missing(path, entry)) from None
    limit = max(RATIO_FLOOR, RATIO * info.compress_size)
    target = folder / entry.name
    try:
        out = target.open("wb", buffering=0)  # unbuffered: a full disk fails the write itself
    except OSError as exc:
        raise _cannot_unpack(path, target, exc) from None
    with archive.open(info) as member, out:
        write = _writer(out, path, target)
        _check_digest(path, entry, _digest(member, write, path, entry, limit))
    check_rows(entry, target, visible(str(path)))
    return _given(target, entry, shown_as=Path(f"{path}/{entry.name}"))


def _writer(out: IO[bytes], bundle: Path, target: Path) -> Callable[[bytes], None]:
    def write(chunk: bytes) -> None:
        """All of it: an unbuffered write to a disk nearly full writes only a part."""
        left = memoryview(chunk)
        try:
            while left:
                written = out.write(left)
                if not written:
                    raise OSError(errno.ENOSPC, "nothing written")
                left = left[written:]
        except OSError as exc:
            raise _cannot_unpack(bundle, target, exc) from None

    return write


def _cannot_unpack(bundle: Path, target: Path, exc: OSError) -> InputFileError:
    """A temporary folder that cannot take a member (full, over a quota) is said as such,
    naming where (TMPDIR decides), never as damage to the bundle."""
    where = visible(str(target.parent.parent))
    why = "no space" if exc.errno in NO_ROOM else f"cannot write ({exc.strerror or exc})"
    return InputFileError(
        f"{visible(str(bundle))}: {why} to unpack {target.name} in {where}, the temporary "
        "folder (set TMPDIR to one with room); nothing was imported"
    )


def _digest(
    stream: IO[bytes],
    write: Callable[[bytes], None] | None,
    bundle: Path,
    entry: Entry,
    limit: int | None = None,
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
        if write is not None:
            write(chunk)
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
