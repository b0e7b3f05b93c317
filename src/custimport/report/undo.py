"""How an undo ended, for people (a short summary) and for programs (SPEC §8's JSON).

The summary lists at most SHOWN conflicts: a run of a million rows can leave a million,
and the screen is for the gist; `--json` lists every one.

The undo's own run counts as an import's do, so that read = created + updated +
unchanged + skipped + failed + deleted holds for every run: deleted (rows_deleted) the
rows it deleted, updated the rows it restored, skipped the conflicts it left, read their
sum. An undo that left conflicts (--skip-conflicts) leaves the run partly undone: undo
it again once they are resolved and it reverses the rest.
"""

from typing import TYPE_CHECKING, Any

from custimport.report.console import line
from custimport.report.summary import print_json

if TYPE_CHECKING:  # the service loads SQLAlchemy; reporting must not (tests/unit/test_layers)
    from custimport.service.undoing import UndoReport

SHOWN = 20


def undo_json(report: "UndoReport") -> dict[str, Any]:
    """SPEC §8's keys first, then a few more."""
    return {
        "run": report.run,
        "undoes": report.request.run_id,
        "dry_run": report.request.dry_run,
        "deleted": report.deleted,
        "restored": report.restored,
        "conflicts": [
            {"table": c.table, "key": c.key, "reason": c.reason} for c in report.conflicts
        ],
        "model": report.model,
        "applied": report.applied,
        "skip_conflicts": report.request.skip_conflicts,
        "duration_s": round(report.duration_s, 3),
    }


def print_undo(report: "UndoReport", *, as_json: bool) -> None:
    if as_json:
        print_json(undo_json(report))
        return
    for text in summary_lines(report):
        line(text)


def summary_lines(report: "UndoReport") -> list[str]:
    request = report.request
    stopped = bool(report.conflicts) and (not request.skip_conflicts or report.whole)
    would = "would delete" if request.dry_run else "deleted"
    what = "merge" if report.mode == "merge" else "import"
    lines = [f"Undo of run {request.run_id} ({report.model} {what})"]
    if not stopped:
        restored = "would restore" if request.dry_run else "restored"
        lines.append(f"  {would} {report.deleted:,} rows, {restored} {report.restored:,}")
    if report.conflicts:
        count = len(report.conflicts)
        lines.append(f"{count:,} conflict{'' if count == 1 else 's'}:")
        lines += [f"  {c.table} {c.key}: {c.reason}" for c in report.conflicts[:SHOWN]]
        if len(report.conflicts) > SHOWN:
            lines.append(f"  and {len(report.conflicts) - SHOWN:,} more; --json lists all")
    lines.append(_outcome(report, stopped))
    return lines


def _outcome(report: "UndoReport", stopped: bool) -> str:
    request = report.request
    if stopped and report.whole:
        return "Nothing was changed: a merge is undone whole or not at all."
    if stopped:
        return (
            "Nothing was changed: an undo is all or nothing. "
            "--skip-conflicts reverses the rest and leaves these rows as they are."
        )
    if request.dry_run:
        return "Dry run: nothing was changed."
    if report.conflicts:
        return (
            f"Recorded as run {report.run}; run {request.run_id} is partly undone: the "
            f"conflicts were left as they are, `custimport undo {request.run_id}` "
            "reverses them once they are resolved."
        )
    return f"Recorded as run {report.run}; run {request.run_id} is now undone."
