"""What an update may change (SPEC §9): field policies, empty cells and defaults.

The rules are settled once, before any row is read (every wrong entry is a usage error
naming the valid choices), and then applied to one row at a time when its handler knows
whether the row creates a record or updates a stored one. Applying them only narrows or
fills the row's data: a field an update may not write leaves the row's data, exactly as
if its column were absent (SPEC §4: an update writes only the fields the row has), so
the handlers' own rules — compare, write, journal, count — stay the single place where
a row is decided. A row whose only differences are held back is therefore `unchanged`.

No database here: a stored value is asked for through a function the handler passes.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

from custimport.errors import MappingError, UsageError, visible
from custimport.rows.mapping import MappingFile, normalise
from custimport.rows.outcomes import PendingRow, RowFailure
from custimport.schemas import NEEDED_IN_EVERY_ROW, NOT_EMPTY, BatchValidator, ModelSpec


class Policy(StrEnum):
    """When an update may write a field (a create always writes it)."""

    OVERWRITE = "overwrite"  # the file's value wins (the default)
    IF_EMPTY = "if_empty"  # only where the stored value is empty
    ON_CREATE = "on_create"  # never on update


class EmptyCells(StrEnum):
    CLEAR = "clear"  # an empty cell sets NULL (SPEC §4)
    KEEP = "keep"  # an empty cell never changes a stored value


# The fields that find a record: a policy or default on them would change which record
# a row is, not what it writes.
KEY_FIELDS = {
    "CustomerGroup": ("name",),
    "Account": ("account_number",),
    "Contact": ("account", "email"),
}
# Fields that are not a stored value an update overwrites: a Contact's is_primary moves
# the account's primary flag between contacts (an empty one already changes nothing).
NOT_A_VALUE = {"Contact": ("is_primary",)}
# Fields that find a Contact without email: a default would change which contact a row
# is (they are looked up before a row is known to create or update), so none is taken.
NO_DEFAULT = {"Contact": ("first_name", "last_name")}
# A default parent is not given to the account it names (it would be its own parent).
SELF_REFERENCE = {"parent_account": "account_number"}
# What a row's record holds for a field it creates along with an update (an Account
# row that gives an INDIVIDUAL account its first primary contact): policies let it in.
NEW_RECORD = object()
_EMPTY_REQUIRED = "must not be empty"


def rule_fields(spec: ModelSpec, defaults: bool = False) -> tuple[str, ...]:
    """The fields that take a policy (or, `defaults`, a default)."""
    excluded = (*KEY_FIELDS[spec.name], *NOT_A_VALUE.get(spec.name, ()))
    if defaults:
        excluded += NO_DEFAULT.get(spec.name, ())
    return tuple(f for f in spec.fields if f not in excluded)


@dataclass(frozen=True)
class ChangeRules:
    """The rules in effect for one import, after the mapping file and the options."""

    spec: ModelSpec
    policies: dict[str, Policy] = field(default_factory=dict)  # as given, overwrite included
    default_texts: dict[str, str] = field(default_factory=dict)  # as given, for the record
    defaults: dict[str, Any] = field(default_factory=dict)  # validated like a cell
    empty_cells: EmptyCells = EmptyCells.CLEAR
    no_column: frozenset[str] = frozenset()  # defaulted fields the file has no column for

    @property
    def active(self) -> bool:
        """Whether any row can come out different: the handlers skip the rules otherwise."""
        held = any(p is not Policy.OVERWRITE for p in self.policies.values())
        return held or bool(self.defaults) or self.empty_cells is EmptyCells.KEEP

    @property
    def given(self) -> bool:
        """Whether anything was said at all (the run record and `inspect` show it)."""
        return bool(self.policies or self.defaults) or self.empty_cells is EmptyCells.KEEP

    def for_columns(self, present: frozenset[str]) -> "ChangeRules":
        """These rules for a file whose mapped columns are `present`."""
        return replace(self, no_column=frozenset(self.defaults) - present)

    @cached_property
    def may_be_empty(self) -> frozenset[str]:
        """Required fields whose empty cell validation must let through: a default fills
        it, or (keep) it leaves the stored value, and only a create needs it (checked by
        `for_create`). The fields that find a record must never be empty."""
        lookup = {*NEEDED_IN_EVERY_ROW[self.spec.name], *KEY_FIELDS[self.spec.name]}
        required = set(NOT_EMPTY[self.spec.name]) - lookup
        if self.empty_cells is EmptyCells.KEEP:
            return frozenset(required)
        return frozenset(required & self.defaults.keys())

    def still_required(self, required: Iterable[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
        """The required columns a file must still have: a default stands in for one."""
        return tuple(alts for alts in required if not any(f in self.defaults for f in alts))

    def applied(self, row: PendingRow, stored: Callable[[str], Any] | None) -> PendingRow:
        """The row as its create (`stored` None) or its update of the record whose stored
        values `stored` gives may write it; RowFailure if a create lacks a required value."""
        data = self.for_create(row.data) if stored is None else self.for_update(row.data, stored)
        return row if data is row.data else PendingRow(row.line_no, data, row.packed_cells)

    def for_create(self, data: dict[str, Any]) -> dict[str, Any]:
        """Defaults fill missing columns and empty cells; a required field still empty
        (keep let it through validation) fails the row as validation would have."""
        if self.defaults:
            data = {**data, **{f: v for f, v in self.defaults.items() if _fills(data, f, v)}}
        for name in self.may_be_empty:
            if name in data and data[name] is None:
                raise RowFailure(name, _EMPTY_REQUIRED)
        return data

    def for_update(self, data: dict[str, Any], stored: Callable[[str], Any]) -> dict[str, Any]:
        """Empty cells: under keep they leave the stored value (the row's data drops them;
        "never changes a stored value" wins over a default, which then serves creates),
        else a default fills them (a field without a column is not written on update).
        Then policies drop the fields they hold back."""
        if self.empty_cells is EmptyCells.KEEP:
            out = {name: value for name, value in data.items() if value is not None}
        else:
            out = dict(data)
            for name, value in self.defaults.items():
                if name in out and _fills(out, name, value):
                    out[name] = value
        for name, policy in self.policies.items():
            if name in out and _held(policy, stored, name):
                del out[name]
        return out

    def recorded(self) -> dict[str, Any]:
        """The rules as the run record and `inspect --json` show them."""
        return {
            "policies": {name: str(policy) for name, policy in self.policies.items()},
            "defaults": dict(self.default_texts),
            "empty_cells": str(self.empty_cells),
        }


def _fills(data: dict[str, Any], name: str, value: Any) -> bool:
    """Whether a default fills this row's field: it is empty, and the default does not
    name the row's own record (a default parent for the parent itself)."""
    if data.get(name) is not None:
        return False
    own = SELF_REFERENCE.get(name)
    return own is None or data.get(own) != value


def _held(policy: Policy, stored: Callable[[str], Any], name: str) -> bool:
    if policy is Policy.OVERWRITE:
        return False
    value = stored(name)
    if value is NEW_RECORD:  # the row creates this field's record: nothing to hold back
        return False
    return policy is Policy.ON_CREATE or (value is not None and value != "")


def settle_rules(
    spec: ModelSpec,
    mapping: MappingFile | None,
    policies: Iterable[str] = (),
    defaults: Iterable[str] = (),
    empty_cells: str | None = None,
) -> ChangeRules:
    """The rules from the mapping file, overridden entry by entry by --policy FIELD=POLICY,
    --default FIELD=VALUE and --empty-cells; every wrong entry is a usage error."""
    mapping = mapping or MappingFile()
    named_policies = {
        **_checked_fields(spec, mapping.policies, "the mapping file's policies"),
        **_checked_fields(spec, _pairs(policies, "--policy", "POLICY"), "--policy"),
    }
    named_defaults = {
        **_checked_fields(spec, mapping.defaults, "the mapping file's defaults", defaults=True),
        **_checked_fields(spec, _pairs(defaults, "--default", "VALUE"), "--default", defaults=True),
    }
    return ChangeRules(
        spec,
        policies={name: _policy(name, text) for name, text in named_policies.items()},
        default_texts=named_defaults,
        defaults=_validated_defaults(spec, named_defaults),
        empty_cells=_empty_cells(empty_cells or mapping.empty_cells),
    )


def _pairs(entries: Iterable[str], option: str, what: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for entry in entries:
        name, equals, value = entry.partition("=")
        if not equals or not name.strip():
            raise UsageError(f"{option} {_shown(entry)}: write it as FIELD={what}")
        pairs.append((name.strip(), value))
    return pairs


def _checked_fields(
    spec: ModelSpec,
    entries: Mapping[str, str] | list[tuple[str, str]],
    where: str,
    defaults: bool = False,
) -> dict[str, str]:
    """Field names as the model spells them (any case and separator, as in headers); one
    field named twice (`Website=…` and `website=…`) is an error, not a silent choice."""
    allowed = rule_fields(spec, defaults)
    by_normalised = {normalise(f): f for f in spec.fields}
    checked: dict[str, str] = {}
    for name, value in entries.items() if isinstance(entries, Mapping) else entries:
        found = by_normalised.get(normalise(name))
        if found is None:
            raise MappingError(
                f"{where}: {spec.name} has no field {_shown(name)}; fields: {', '.join(allowed)}"
            )
        if found not in allowed:
            raise MappingError(f"{where}: {_why_not(spec, found)}; fields: {', '.join(allowed)}")
        if found in checked:
            raise MappingError(f"{where}: {found} is given twice; give it once")
        checked[found] = value
    return checked


def _why_not(spec: ModelSpec, name: str) -> str:
    if name in KEY_FIELDS[spec.name]:
        return f"{name} finds the record, so it takes no policy or default"
    if name in NO_DEFAULT.get(spec.name, ()):
        return f"{name} finds a contact that has no email, so it takes no default"
    return f"{name} moves the primary flag between contacts; an empty one already changes nothing"


def _shown(text: str, limit: int = 40) -> str:
    """A value as a message quotes it: in quotes, control characters visible, and cut
    short (a 10,000-character default need not fill the terminal)."""
    cut = text if len(text) <= limit else f"{text[:limit]}…"
    return repr(visible(cut))


def _policy(name: str, text: str) -> Policy:
    try:
        return Policy(text.strip().lower())
    except ValueError:
        raise MappingError(
            f"unknown policy {_shown(text)} for {name}; use one of {', '.join(Policy)}"
        ) from None


def _empty_cells(text: str | None) -> EmptyCells:
    if text is None:
        return EmptyCells.CLEAR
    try:
        return EmptyCells(text.strip().lower())
    except ValueError:
        raise MappingError(
            f"unknown empty_cells {_shown(text)}; use one of {', '.join(EmptyCells)}"
        ) from None


def _validated_defaults(spec: ModelSpec, texts: Mapping[str, str]) -> dict[str, Any]:
    """Each default validated like a cell of its column (trimmed, lengths, email, website,
    group type…); one failing is a usage error with the cell's own message."""
    for name, text in texts.items():
        if not text.strip():
            raise MappingError(f"the default for {name} is empty; give a value or leave it out")
    if not texts:
        return {}
    record: dict[str, str | None] = {name: text.strip() for name, text in texts.items()}
    [(clean, errors)] = BatchValidator(spec, frozenset(record)).validate([record])
    if errors:
        name, message = errors[0]
        raise MappingError(f"the default for {name} ({_shown(texts[name])}) {message}")
    return clean


def recorded_mapping(mapping: MappingFile | None, rules: ChangeRules) -> dict[str, Any] | None:
    """The mapping as the run record keeps it (SPEC §8: --resume needs the same mapping):
    a flat mapping file as it was, and with any rule in effect the extended form, with
    the options' entries merged in, so that a run with other rules is another import."""
    if not rules.given and (mapping is None or not mapping.extended):
        return dict(mapping.columns) if mapping else None
    return {"columns": mapping.columns if mapping else {}, **rules.recorded()}
