"""`custimport export --all -o backup.zip | -o DIR` (SPEC §11): every model, one bundle.

One CSV per model, in the form `export --model` writes, and a `manifest.json` with each
file's model, row count and SHA-256 (checked before a bundle is imported:
service/bundles.py), the custimport version and the schema revision. The three models are
read in one transaction (REPEATABLE READ on PostgreSQL; on SQLite a read transaction is a
snapshot), so a bundle taken while another import writes never holds a contact whose
account it lacks. The files are written in a private temporary folder beside the output;
the folder is renamed into place, or zipped into a temporary file renamed into place, only
when complete: a bundle is complete or absent, whatever stops the export.
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from custimport.errors import UsageError, visible
from custimport.io.export_output import check_output, destination, heed, reason
from custimport.schemas import MODELS
from custimport.service.bundle_manifest import MANIFEST
from custimport.service.export_job import BundleResult, ExportRequest
from custimport.service.exporting import export_on
from custimport.signals import StopFlag, interrupts_ignored, trapped_hangup, trapped_signals
from custimport.store import db

FILE_NAMES = {
    "CustomerGroup": "customer_groups.csv",
    "Account": "accounts.csv",
    "Contact": "contacts.csv",
}


def check_bundle_output(output: Path, force: bool) -> None:
    """Before the database is read: a .zip file as export checks any -o file, or a folder
    that does not exist yet or is empty (a bundle never mixes with other files)."""
    if output.suffix.lower() == ".zip":
        check_output(output, force)
        return
    shown = visible(str(output))
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise UsageError(f"{shown} exists and is not a folder; -o names a .zip file or a folder")
    if not output.parent.is_dir():
        raise UsageError(f"{shown}: the folder {visible(str(output.parent))} does not exist")
    if output.is_dir() and any(output.iterdir()):
        raise UsageError(f"{shown} is a folder that is not empty; name a new or empty folder")


def export_bundle(url: str, output: Path, force: bool, version: str) -> BundleResult:
    """Write the bundle (checked with check_bundle_output first)."""
    check_bundle_output(output, force)
    with trapped_signals() as stop, trapped_hangup(stop):
        engine = db.make_engine(url)
        work: Path | None = None
        try:
            work = _work_folder(output)
            with db.translated_errors(url):
                db.ensure_schema(engine)
                with engine.connect() as conn:
                    if conn.dialect.name == "postgresql":
                        conn = conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        files = _write_files(conn, url, work, stop, output)
                        manifest = _manifest(conn, files, version)
            _write_private(work / MANIFEST, json.dumps(manifest, indent=2) + "\n")
            heed(stop, output)
            _publish(work, output, force, stop)
        except OSError as exc:
            raise UsageError(f"cannot write {visible(str(output))}: {reason(exc)}") from None
        finally:
            with interrupts_ignored():
                if work is not None:
                    shutil.rmtree(work, ignore_errors=True)
                engine.dispose()
    return BundleResult(output, files)


def _work_folder(output: Path) -> Path:
    """The private folder (0700) beside the output where the bundle is made; a folder that
    cannot take it is said naming the output, not this internal name."""
    try:
        return Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part"))
    except OSError as exc:
        raise UsageError(f"cannot write {visible(str(output))}: {reason(exc)}") from None


def _write_private(path: Path, text: str) -> None:
    """Readable by its owner only, like the data files (and any `export -o FILE`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _write_files(
    conn: Connection, url: str, work: Path, stop: StopFlag, output: Path
) -> list[dict[str, Any]]:
    files = []
    for spec in MODELS.values():
        name = FILE_NAMES[spec.name]
        heed(stop, output)
        request = ExportRequest(spec, url, work / name, "csv", by_key=True)
        written = export_on(conn, request, "csv", sys.stdout.buffer, stop)
        files.append(
            {"name": name, "model": spec.name, "rows": written.rows, "sha256": _sha256(work / name)}
        )
    return files


def _manifest(conn: Connection, files: list[dict[str, Any]], version: str) -> dict[str, Any]:
    return {
        "custimport_version": version,
        "schema_revision": db.current_revision(conn),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": files,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _publish(work: Path, output: Path, force: bool, stop: StopFlag) -> None:
    """The finished folder renamed into place (over an empty folder only), or zipped into
    a temporary file that `destination` renames into place once complete."""
    if output.suffix.lower() != ".zip":
        try:
            os.rename(work, output)
        except OSError as exc:
            raise UsageError(f"cannot create {visible(str(output))}: {reason(exc)}") from None
        return
    with (
        destination(output, force, sys.stdout.buffer, stop) as out,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for name in [*FILE_NAMES.values(), MANIFEST]:
            archive.write(work / name, name)
