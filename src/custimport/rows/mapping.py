"""Header → field matching and mapping files (pure functions, SPEC §3).

Header names match fields after normalisation: case, surrounding space and
space/-/. versus _ do not matter. A mapping file overrides the columns it names;
the other columns are still matched by their normalised names, and then by the
synonyms of CRM exports (rows/synonyms.py, SPEC §11), which are reported.
"""

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from custimport.errors import MappingError, MissingColumnsError
from custimport.rows.synonyms import SYNONYMS

_SEPARATORS = re.compile(r"[\s\-.]+")
_UNDERSCORES = re.compile(r"_+")


@dataclass(frozen=True)
class ColumnMap:
    """Which column feeds which field, and what was left over."""

    columns_by_field: dict[str, str]
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    unused_mapping_keys: list[str] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # column → field, by synonym

    @property
    def present_fields(self) -> frozenset[str]:
        return frozenset(self.columns_by_field)


def normalise(name: str) -> str:
    """`  Account-Number ` and `account.number` both become `account_number`."""
    spaced = _SEPARATORS.sub("_", name.strip().lower())
    return _UNDERSCORES.sub("_", spaced).strip("_")


EXTENDED_KEYS = ("columns", "policies", "defaults", "empty_cells")


@dataclass(frozen=True)
class MappingFile:
    """A mapping file: the flat form of SPEC §2 (column → field) fills `columns` only;
    the extended form of §9 may also give field policies, defaults and `empty_cells`.
    Which names and values are valid depends on the model: rows/change_rules.py checks
    those, before any row is read."""

    columns: dict[str, str | None] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    empty_cells: str | None = None
    extended: bool = False  # written in the extended form (kept so for the run record)


def load_mapping_file(path: Path) -> MappingFile:
    """A JSON object of column name → field name (or null to ignore the column), or the
    extended form {"columns", "policies", "defaults", "empty_cells"}."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read the mapping file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(
            f"the mapping file {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None
    except ValueError:  # Python refuses integers of more than 4,300 digits
        raise MappingError(
            f"the mapping file {path} holds a number of more than 4,300 digits"
        ) from None
    if not isinstance(data, dict):
        raise MappingError(
            f"the mapping file {path} must hold a JSON object of column name → field name"
        )
    if _is_extended(data):
        return _extended(path, data)
    return MappingFile(columns=_column_entries(path, data, "maps"))


def _is_extended(data: dict[str, Any]) -> bool:
    """The extended form: an object for `columns`, `policies` or `defaults`, or an
    `empty_cells` entry. A flat mapping's values are field names or null, never objects,
    and no field is called "clear" or "keep"."""
    return "empty_cells" in data or any(isinstance(value, dict) for value in data.values())


def _extended(path: Path, data: dict[str, Any]) -> MappingFile:
    unknown = [key for key in data if key not in EXTENDED_KEYS]
    if unknown:
        raise MappingError(
            f"the mapping file {path} has the unknown key {unknown[0]!r}; "
            f"the extended form's keys are {', '.join(EXTENDED_KEYS)}"
        )
    for key in ("columns", "policies", "defaults"):
        if not isinstance(data.get(key, {}), dict):
            raise MappingError(f"the mapping file {path}: {key!r} must be a JSON object")
    empty_cells = data.get("empty_cells")
    if empty_cells is not None and not isinstance(empty_cells, str):
        raise MappingError(f'the mapping file {path}: \'empty_cells\' must be "clear" or "keep"')
    return MappingFile(
        columns=_column_entries(path, data.get("columns", {}), "maps"),
        policies=_text_entries(path, data.get("policies", {}), "policies", "a policy name"),
        defaults=_text_entries(path, data.get("defaults", {}), "defaults", "a text value"),
        empty_cells=empty_cells,
        extended=True,
    )


def _column_entries(path: Path, data: dict[str, Any], verb: str) -> dict[str, str | None]:
    for column, target in data.items():
        if target is not None and not isinstance(target, str):
            raise MappingError(
                f"the mapping file {path} {verb} {column!r} to {target!r}: "
                "each value must be a field name or null"
            )
    return data


def _text_entries(path: Path, data: dict[str, Any], key: str, what: str) -> dict[str, str]:
    """A field → text object. In `defaults` a whole number or a boolean is taken as its
    text (7 as "7", true as "true"); any other number must be written as text, because
    the JSON parser has already rounded it (1e3 reads as 1000.0, 9007199254740993.0 as
    ...992.0, 1e400 as infinity) and the default would not be the value written."""
    entries: dict[str, str] = {}
    for name, value in data.items():
        if key == "defaults" and isinstance(value, bool):
            value = "true" if value else "false"
        elif key == "defaults" and isinstance(value, int):
            value = str(value)
        elif key == "defaults" and isinstance(value, float):
            raise MappingError(
                f"the mapping file {path}: defaults[{name!r}] is a number with a fraction or "
                "exponent; write it as text (in quotes), exactly as it should be stored"
            )
        if not isinstance(value, str):
            raise MappingError(
                f"the mapping file {path}: {key}[{name!r}] is {json.dumps(value)}; "
                f"it must be {what}"
            )
        entries[name] = value
    return entries


class Synonym(NamedTuple):
    field: str
    rank: int  # the header's place in its field's list of synonyms: lower wins


@cache
def synonyms_of(model: str) -> dict[str, Synonym]:
    """Normalised header → the field it means for `model` (Account, Contact, ...)."""
    return {
        normalise(header): Synonym(field_name, rank)
        for field_name, headers in SYNONYMS.get(model, {}).items()
        for rank, header in enumerate(headers)
    }


def build_column_map(
    header: Sequence[str],
    importable_fields: Sequence[str],
    mapping: Mapping[str, str | None] | None = None,
    model: str | None = None,
) -> ColumnMap:
    """Match each header column to at most one field; two columns for one field is an error.

    The mapping's entries come first, then exact normalised names, then (given `model`)
    the model's synonyms for the columns still unknown: a synonym takes only a field no
    other column has, so it never makes an error, and its column otherwise stays unknown."""
    mapping = mapping or {}
    _check_mapping_targets(mapping, importable_fields)
    by_normalised = {normalise(f): f for f in importable_fields}
    columns_by_field: dict[str, str] = {}
    unknown: list[str] = []
    ignored: list[str] = []
    for column in header:
        if column in mapping:
            target = mapping[column]
            if target is None:
                ignored.append(column)
                continue
            field_name = by_normalised[normalise(target)]
        else:
            matched = by_normalised.get(normalise(column))
            if matched is None:
                unknown.append(column)
                continue
            field_name = matched
        if field_name in columns_by_field:
            raise MappingError(
                f"columns {columns_by_field[field_name]!r} and {column!r} both map to "
                f"the field {field_name!r}; map one of them to null in the mapping file"
            )
        columns_by_field[field_name] = column
    unused = [key for key in mapping if key not in header]
    synonyms = _synonym_matches(unknown, columns_by_field, synonyms_of(model) if model else {})
    if synonyms:
        field_of = {c: f for f, c in columns_by_field.items()} | synonyms
        columns_by_field = {field_of[c]: c for c in header if c in field_of}
        unknown = [c for c in unknown if c not in synonyms]
    return ColumnMap(columns_by_field, unknown, ignored, unused, synonyms)


def _synonym_matches(
    candidates: Sequence[str], taken: Mapping[str, str], synonyms: Mapping[str, Synonym]
) -> dict[str, str]:
    """Column → field for the `candidates` that are synonyms of a field no column has
    yet; of two for one field, the higher-ranked synonym wins (then the first column)."""
    best: dict[str, tuple[int, str]] = {}  # field → (rank, column)
    for column in candidates:
        synonym = synonyms.get(normalise(column))
        if synonym is None or synonym.field in taken:
            continue
        if synonym.field not in best or synonym.rank < best[synonym.field][0]:
            best[synonym.field] = (synonym.rank, column)
    chosen = {column: field_name for field_name, (_, column) in best.items()}
    return {c: chosen[c] for c in candidates if c in chosen}


def _check_mapping_targets(
    mapping: Mapping[str, str | None], importable_fields: Sequence[str]
) -> None:
    valid = {normalise(f) for f in importable_fields}
    for column, target in mapping.items():
        if target is not None and normalise(target) not in valid:
            raise MappingError(
                f"the mapping sends {column!r} to {target!r}, which is not an importable field; "
                f"valid fields: {', '.join(importable_fields)}"
            )


def require_columns(
    column_map: ColumnMap,
    required: Sequence[Sequence[str]],
    header: Sequence[str],
    looks_like: Callable[[], str | None] | None = None,
) -> None:
    """Each entry of `required` is a set of alternatives; stop before any row is written.
    `looks_like`, asked only then, may say which other model the file is for: that
    replaces the close matches, which are misleading in another model's file."""
    missing = [alts for alts in required if not any(f in column_map.columns_by_field for f in alts)]
    if not missing:
        return
    described = [" or ".join(alts) for alts in missing]
    message = f"required columns missing: {', '.join(described)}"
    other_model = looks_like() if looks_like is not None else None
    if other_model:
        raise MissingColumnsError(f"{message}; {other_model}")
    hints = _suggestions([f for alts in missing for f in alts], column_map.unknown_columns)
    if hints:
        message += f" (did you mean {hints}?)"
    raise MissingColumnsError(message)


def _suggestions(fields: Sequence[str], candidates: Sequence[str]) -> str:
    by_normalised = {normalise(c): c for c in candidates}
    pairs = []
    for field_name in fields:
        close = get_close_matches(field_name, list(by_normalised), n=1, cutoff=0.6)
        if close:
            pairs.append(f"{by_normalised[close[0]]!r} for {field_name}")
    return ", ".join(pairs)


def record_from(
    values: Mapping[str, str], columns_by_field: Mapping[str, str]
) -> dict[str, str | None]:
    """{field: trimmed text, or None for an empty cell} for the mapped columns of one row.

    A JSON object without one of the file's keys is a row without that column (SPEC §3):
    its field is left out of the record, not set to None, so an update leaves the stored
    value alone (the handlers see a record shorter than the file's mapped fields). Every
    other reader gives every readable row every column, and pays nothing for the check.
    """
    try:
        return {f: values[c].strip() or None for f, c in columns_by_field.items()}
    except KeyError:
        return {f: values[c].strip() or None for f, c in columns_by_field.items() if c in values}


def cell_positions(
    header: Sequence[str], columns_by_field: Mapping[str, str]
) -> list[tuple[str, int]]:
    """(field, index of its column in `header`), for `record_at`."""
    return [(f, header.index(c)) for f, c in columns_by_field.items()]


def record_at(cells: Sequence[str], positions: Sequence[tuple[str, int]]) -> dict[str, str | None]:
    """`record_from` for a row whose cells are in header order (no column → text dict).

    Picking cells by position cost 1.3 µs a row where building the row's dict and then
    `record_from` cost 2.3 (12 columns)."""
    return {f: cells[i].strip() or None for f, i in positions}
