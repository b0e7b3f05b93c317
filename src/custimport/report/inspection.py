"""What `inspect` found, as a table for people or JSON for programs."""

from typing import Any

from rich.table import Table
from rich.text import Text

from custimport.errors import visible
from custimport.report.console import line, stdout
from custimport.service.inspecting import Inspection
from custimport.service.suggesting import Suggestion

SAMPLE_WIDTH = 30
SAMPLE_MIN_WIDTH = 12


def inspection_json(inspection: Inspection) -> dict[str, Any]:
    source, fit, stats = inspection.source, inspection.fit, inspection.stats
    columns = fit.columns if fit else dict.fromkeys(source.header, "unknown")
    suggestion = inspection.suggestion
    return {
        "file": str(source.path),
        "format": source.format,
        "encoding": source.encoding,
        "delimiter": source.delimiter,
        "size_bytes": source.size_bytes,
        "rows": stats.rows,
        "rows_with_errors": stats.rows_with_errors,
        "model": fit.model if fit else None,
        "model_guessed": inspection.guessed,
        "models_tied": inspection.tied,
        "columns": [{"column": c, "field": f} for c, f in columns.items()],
        "missing_required": fit.missing_required if fit else [],
        "missing_required_message": fit.problem if fit else None,
        "unknown_columns": [c for c, f in columns.items() if f == "unknown"],
        "synonyms": fit.synonyms if fit else {},
        "unused_mapping_keys": inspection.unused_mapping_keys,
        "models": {
            f.model: {"fits": f.fits, "missing_required": f.missing_required, "problem": f.problem}
            for f in inspection.fits
        },
        "sample": [inspection.sample_values(row) for row in stats.sample],
        "read_errors": [{"line": row.line_no, "error": row.error} for row in stats.first_errors],
        "stopped_reading": stats.stopped,
        "rules": inspection.rules.recorded() if inspection.rules else None,
        **({"suggested_mapping": suggestion_json(suggestion)} if suggestion else {}),
    }


def suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    """What --suggest-mapping wrote, column by column with how each was found."""
    proposal = suggestion.mapping
    return {
        "file": str(suggestion.path),
        "model": proposal.model,
        "columns": [
            {"column": c, "field": p.field, "how": p.how, "confidence": p.confidence}
            for c, p in proposal.columns.items()
        ],
        "missing_required": suggestion.missing_required,
    }


def print_inspection(inspection: Inspection) -> None:
    source, stats = inspection.source, inspection.stats
    details = [source.format]
    if source.encoding:
        details.append(f"encoding {source.encoding}")
    if source.delimiter:
        details.append(f"delimiter {_delimiter_name(source.delimiter)}")
    line(f"File:    {source.path} ({source.size_bytes:,} bytes)")
    line(f"Read as: {', '.join(details)}")
    line(f"Rows:    {stats.rows:,} ({stats.rows_with_errors:,} cannot be read)")
    if inspection.guessed:
        line(f"Model:   {_guessed_model(inspection)}")
        for each in inspection.fits:
            line(f"  {each.model}: {each.problem or 'required columns present'}")
    else:
        line(f"Model:   {inspection.fits[0].model}")
    stdout.print(_columns_table(inspection))
    for note in _inspection_notes(inspection):
        line(note)
    if inspection.suggestion:
        for note in _suggestion_lines(inspection.suggestion, inspection.guessed):
            line(note)


def _guessed_model(inspection: Inspection) -> str:
    if inspection.fit is not None:
        return f"{inspection.fit.model} (best fit; choose with --model)"
    if inspection.tied:
        names = " and ".join(inspection.tied)
        return f"cannot tell: {names} fit equally well (choose with --model)"
    return "none matches a column"


def _suggestion_lines(suggestion: Suggestion, guessed: bool) -> list[str]:
    """Where the mapping went and for which model; then what to check: each similarity
    suggestion with its confidence, and the columns left out (null)."""
    proposal = suggestion.mapping
    which = f"{proposal.model} (best fit; choose with --model)" if guessed else proposal.model
    lines = [f"Suggested mapping for {which} written to {visible(str(suggestion.path))}"]
    for column, p in proposal.columns.items():
        if p.how == "suggested" and p.confidence is not None:
            confidence = f"{p.confidence:.0%}"
            lines.append(f"  {visible(column)} → {p.field} (suggested, {confidence})")
    unmatched = [visible(c) for c, p in proposal.columns.items() if p.field is None]
    if unmatched:
        lines.append(f"  null (not imported): {', '.join(unmatched)}")
    if suggestion.missing_required:
        missing = ", ".join(suggestion.missing_required)
        lines.append(f"  Still missing for an import as {proposal.model}: {missing}")
    return lines


def _inspection_notes(inspection: Inspection) -> list[str]:
    fit, stats = inspection.fit, inspection.stats
    notes = []
    if fit and fit.problem and not inspection.guessed:
        notes.append(f"Cannot import as {fit.model}: {fit.problem}")
    unknown = [c for c, f in fit.columns.items() if f == "unknown"] if fit else []
    if unknown:
        notes.append(f"Unknown columns (ignored on import): {', '.join(unknown)}")
    if inspection.unused_mapping_keys:
        keys = ", ".join(inspection.unused_mapping_keys)
        notes.append(f"The mapping names columns the file does not have: {keys}")
    notes += _rule_notes(inspection)
    if stats.stopped:
        notes.append(f"Not read to the end: {stats.stopped}")
    notes += [f"Line {row.line_no} cannot be read: {row.error}" for row in stats.first_errors]
    if stats.rows_with_errors > len(stats.first_errors):
        notes.append(f"… and {stats.rows_with_errors - len(stats.first_errors):,} more")
    return notes


def _columns_table(inspection: Inspection) -> Table:
    """Column, field, then the first rows' values: transposed, because files are wider (a
    dozen columns) than the sample is tall; as many sample rows as the terminal has room for."""
    fit = inspection.fit
    header = inspection.source.header
    targets = [fit.columns.get(c, "unknown") if fit else "unknown" for c in header]
    synonyms = fit.synonyms if fit else {}
    labels = [
        f"{t} (synonym)" if c in synonyms else t for c, t in zip(header, targets, strict=True)
    ]
    table = Table(header_style="bold")
    table.add_column("column", no_wrap=True, min_width=min(max(map(len, header), default=6), 40))
    table.add_column("field", no_wrap=True, min_width=max(map(len, labels), default=5))
    used = sum(col.min_width or 0 for col in table.columns) + 7
    room = max(1, (stdout.width - used) // (SAMPLE_MIN_WIDTH + 3))
    sample = inspection.stats.sample[:room]
    for row in sample:
        table.add_column(f"line {row.line_no}", min_width=SAMPLE_MIN_WIDTH, max_width=SAMPLE_WIDTH)
    values = [inspection.sample_values(row) for row in sample]
    for column, target, label in zip(header, targets, labels, strict=True):
        style = "yellow" if target == "unknown" else "dim" if target == "ignored" else ""
        cells = [_cell(v.get(column, "")) for v in values]
        table.add_row(Text(column), Text(label, style=style), *cells)
    return table


def _cell(value: str) -> Text:
    flat = value.replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
    return Text(flat, overflow="ellipsis", no_wrap=True)


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "',' (comma)", ";": "';' (semicolon)", "|": "'|' (pipe)"}.get(
        delimiter, repr(delimiter)
    )


def _rule_notes(inspection: Inspection) -> list[str]:
    """The policies, defaults and empty-cell rule an import would apply (SPEC §9)."""
    rules = inspection.rules
    if rules is None or not rules.given:
        return []
    notes = [f"Empty cells: {rules.empty_cells}"]
    if rules.policies:
        given = ", ".join(f"{name} {policy}" for name, policy in rules.policies.items())
        notes.append(f"Policies (others: overwrite): {given}")
    keep = rules.empty_cells == "keep"
    for name, text in rules.default_texts.items():
        column = inspection.fit is not None and name in inspection.fit.columns.values()
        where = "no column: rows it creates"
        if column:  # under keep an update's empty cell changes nothing, default or not
            where = "empty cells of rows it creates" if keep else "empty cells"
        notes.append(f"Default {name} = {text.strip()!r} ({where})")
    return notes
