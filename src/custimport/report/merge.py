"""How a merge ended, for people (a few lines) and for programs (`--json`, SPEC §10)."""

from typing import Any

from custimport.errors import visible
from custimport.report.console import line
from custimport.report.summary import print_json
from custimport.service.merge_job import MergeReport


def merge_json(report: MergeReport) -> dict[str, Any]:
    """The brief's keys first (`run` null for a dry run), then a few more."""
    return {
        "run": report.run,
        "model": report.request.spec.name,
        "kept": report.kept,
        "merged": report.merged,
        "moved_contacts": report.moved_contacts,
        "moved_children": report.moved_children,
        "filled": report.filled,
        "conflicts": [
            {"kind": c.kind, "table": c.table, "key": c.key, "resolution": c.resolution}
            for c in report.conflicts
        ],
        "merged_contacts": report.merged_contacts,
        "dropped": [
            {"table": d.table, "key": d.key, "field": d.field, "kept": d.kept, "dropped": d.dropped}
            for d in report.dropped
        ],
        "updated": report.updated,
        "deleted": report.deleted,
        "dry_run": report.request.dry_run,
        "duration_s": round(report.duration_s, 3),
    }


def print_merge(report: MergeReport, *, as_json: bool) -> None:
    if as_json:
        print_json(merge_json(report))
        return
    for text in summary_lines(report):
        line(visible(text))


def summary_lines(report: MergeReport) -> list[str]:
    dry = report.request.dry_run
    noun = report.request.spec.name.lower()
    lines = [f"{'Would merge' if dry else 'Merged'} {noun} {report.merged} into {report.kept}"]
    if report.request.spec.name == "Account":
        lines.append(
            f"  contacts moved {report.moved_contacts}, merged {report.merged_contacts}; "
            f"child accounts moved {report.moved_children}"
        )
    lines.append(f"  filled: {', '.join(report.filled) if report.filled else 'nothing'}")
    for dropped in report.dropped:
        lines.append(
            f"  kept {dropped.table} {dropped.key} {dropped.field} {dropped.kept!r}, "
            f"not {dropped.dropped!r}"
        )
    if report.conflicts:
        lines.append(f"Conflicts, settled by the import's rules ({len(report.conflicts)}):")
        lines += [f"  {c.table} {c.key}: {c.resolution}" for c in report.conflicts]
    if dry:
        lines.append("Dry run: nothing was changed.")
    else:
        lines.append(f"Recorded as run {report.run}; `custimport undo {report.run}` reverses it.")
    return lines
