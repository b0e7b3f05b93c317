"""Row schemas (pydantic v2): per model, the importable fields, their limits and rules.

A row arrives as {field: stripped text or None}; `BatchValidator` returns, for each row
of a batch, its clean values or every error of the row, each with its field (SPEC §4).
Required-ness is checked here only for columns present in the file: whether a missing
column matters depends on create versus update, which the row handlers decide. The same
holds for one row: a JSON object without a key leaves that field out of its record
(SPEC §3), and only the fields that find the row (a group's name, a contact's
account) fail it here, because no mode can do without them.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

from custimport.errors import FieldError

# A host name is ASCII labels, or Unicode labels as typed (bücher.de, пример.рф, 例え.jp). The
# patterns take the shape of a host with labels of letters of any script; a non-ASCII host
# is then checked by IDNA 2008 (`_unicode_host_ok`), which refuses what the class lets by:
# symbols, invisible, ignored or bidirectional characters, a leading combining mark.
_HOST_UNICODE = "\u00a1-\ud7ff\uf900-\ufffd\U00010000-\U0010fffd"
_LETTER = f"[A-Za-z0-9{_HOST_UNICODE}]"
_LABEL = f"{_LETTER}(?:[A-Za-z0-9{_HOST_UNICODE}-]{{0,61}}{_LETTER})?"
_ASCII_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TOP_LABEL = "(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9](?:[A-Za-z0-9-]{0,57}[A-Za-z0-9])?)"
_HOST = f"(?:{_LABEL}\\.)+(?:{_TOP_LABEL}|[{_HOST_UNICODE}]{{2,63}})"
_ASCII_HOST = re.compile(f"(?:{_ASCII_LABEL}\\.)+{_TOP_LABEL}")
_EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@" + _HOST + "$"
)
_WEBSITE_PATTERN = (
    r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?" + _HOST + r"(?::[0-9]{1,5})?(?:[/?#][^\s]*)?$"
)
_WEBSITE_HOST = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?([^:/?#]+)")
NOT_A_WEBSITE = "is not a valid website (a domain or URL without spaces)"
NOT_AN_EMAIL = "is not a valid email address"


def _unicode_host_ok(host: str) -> bool:
    """An internationalised host name is one when IDNA 2008 (RFC 5891, with UTS #46's
    mapping) takes it as typed: no character mapped or ignored but for case (a soft
    hyphen, a full-width at sign or full stop, a joiner out of place), and an ASCII form that is a
    host. Python's own codec is IDNA 2003 without these checks."""
    import idna  # loaded only for the rare non-ASCII host

    if unicodedata.normalize("NFC", host) != host:  # the Kelvin sign U+212A, say: a k
        return False
    try:
        if idna.uts46_remap(host, std3_rules=True, transitional=False) != host.lower():
            return False
        ascii_form = idna.encode(host.lower()).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return False
    return _ASCII_HOST.fullmatch(ascii_form) is not None


def _website(value: str) -> str:
    if not value.isascii():
        found = _WEBSITE_HOST.match(value)
        if found is None or not _unicode_host_ok(found.group(1)):
            raise ValueError(NOT_A_WEBSITE)
    return value


def _email(value: str) -> str:
    if not value.isascii() and not _unicode_host_ok(value.rpartition("@")[2]):
        raise ValueError(NOT_AN_EMAIL)
    return value


class GroupType(StrEnum):
    """A customer group's type: the one list the schema's check, validation and the row
    rules are built from (models.py imports it; this module stays free of SQLAlchemy)."""

    INDIVIDUAL = "INDIVIDUAL"
    BUSINESS = "BUSINESS"


TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def _parse_flag(value: object) -> object:
    """is_primary: true/yes/1/false/no/0 in any case; anything else fails the row."""
    if value is None or isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("must be one of true/yes/1/false/no/0")


Text40 = Annotated[str, StringConstraints(max_length=40)] | None
Text64 = Annotated[str, StringConstraints(max_length=64)] | None
Text100 = Annotated[str, StringConstraints(max_length=100)] | None
Text128 = Annotated[str, StringConstraints(max_length=128)] | None
Text255 = Annotated[str, StringConstraints(max_length=255)] | None
Text10k = Annotated[str, StringConstraints(max_length=10_000)] | None
Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=_EMAIL_PATTERN, to_lower=True),
    AfterValidator(_email),
]
Website = Annotated[
    str, StringConstraints(max_length=255, pattern=_WEBSITE_PATTERN), AfterValidator(_website)
]
GroupTypeText = Annotated[
    str,
    StringConstraints(pattern=f"^(?:{'|'.join(GroupType)})$"),
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]
Flag = Annotated[bool | None, BeforeValidator(_parse_flag)]


class GroupRow(TypedDict, total=False):
    name: Text100
    group_type: GroupTypeText | None


class AccountRow(TypedDict, total=False):
    account_number: Text64
    name: Text255
    legal_name: Text255
    customer_group: Text100
    parent_account: Text64
    website: Website | None
    industry: Text128
    description: Text10k
    primary_contact_first_name: Text100
    primary_contact_last_name: Text100
    primary_contact_email: Email | None
    primary_contact_phone: Text40


class ContactRow(TypedDict, total=False):
    account: Text64
    first_name: Text100
    last_name: Text100
    email: Email | None
    phone: Text40
    job_title: Text128
    department: Text128
    is_primary: Flag


@dataclass(frozen=True)
class ModelSpec:
    """What the importer needs to know about one importable model."""

    name: str
    fields: tuple[str, ...]
    required_on_create: tuple[str, ...]
    # the columns that find a stored record: each entry is a set of alternatives (which
    # of these a mode requires is rows/modes.py's `required_columns`)
    update_key_columns: tuple[tuple[str, ...], ...]
    row_type: Any  # the TypedDict of the row's fields, with their constraints


CUSTOMER_GROUP = ModelSpec(
    name="CustomerGroup",
    fields=("name", "group_type"),
    required_on_create=("name", "group_type"),
    update_key_columns=(("name",),),
    row_type=GroupRow,
)
ACCOUNT = ModelSpec(
    name="Account",
    fields=tuple(AccountRow.__annotations__),
    required_on_create=("name", "customer_group"),
    update_key_columns=(("account_number",),),
    row_type=AccountRow,
)
CONTACT = ModelSpec(
    name="Contact",
    fields=tuple(ContactRow.__annotations__),
    required_on_create=("account", "first_name", "last_name"),
    update_key_columns=(("account",), ("email", "first_name")),
    row_type=ContactRow,
)
MODELS = {spec.name.lower(): spec for spec in (CUSTOMER_GROUP, ACCOUNT, CONTACT)}
# Fields that must not be empty when their column is present (SPEC §4: a present
# empty cell fails the row for a required field).
NOT_EMPTY = {
    "CustomerGroup": ("name", "group_type"),
    "Account": ("name", "customer_group"),
    "Contact": ("account", "first_name", "last_name"),
}
# Fields without which a row cannot even be looked up: a row that lacks the key (a JSON
# object; a CSV file without the column stops before the first row) fails validation.
NEEDED_IN_EVERY_ROW = {"CustomerGroup": ("name",), "Account": (), "Contact": ("account",)}
PRIMARY_CONTACT_FIELDS = (
    "primary_contact_first_name",
    "primary_contact_last_name",
    "primary_contact_email",
    "primary_contact_phone",
)


def absent_message(field_name: str) -> str:
    """The error of a row that lacks a field it needs (its file has the column)."""
    return f"required column '{field_name}' is missing from this row"


def absent_errors(data: Mapping[str, Any], needed: Iterable[str]) -> list[FieldError]:
    """One error for each needed field that this row (a JSON object) does not have."""
    return [(f, absent_message(f)) for f in needed if f not in data]


def model_spec(name: str) -> ModelSpec | None:
    """Account, Contact or CustomerGroup, in any case."""
    return MODELS.get(name.replace("_", "").replace("-", "").lower())


class BatchValidator:
    """Validates a whole batch with one pydantic call (a third of the per-row cost).

    Required fields whose column is present are made non-optional, so an empty cell
    fails in the same call. A batch with invalid rows is validated again without
    them, to get the clean values of the others.
    """

    def __init__(
        self, spec: ModelSpec, present: frozenset[str], may_be_empty: frozenset[str] = frozenset()
    ) -> None:
        """`may_be_empty`: required fields whose empty cell a default fills or (empty cells
        `keep`) leaves alone; the handler fails it if the row creates (rows/change_rules)."""
        self.spec = spec
        self.width = len(present)  # a record with fewer fields is a JSON object without a key
        self.needed = tuple(f for f in NEEDED_IN_EVERY_ROW[spec.name] if f in present)
        self.adapter: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(
            list[_row_type(spec, present - may_be_empty)]  # type: ignore[misc,arg-type]
        )

    def validate(
        self, records: list[dict[str, str | None]]
    ) -> list[tuple[dict[str, Any], list[FieldError]]]:
        """(clean values, errors) for each record, in order; all of a row's errors together."""
        try:
            clean = self.adapter.validate_python(records)
            bad: dict[int, list[FieldError]] = {}
        except ValidationError as exc:
            bad = _errors_by_row(exc)
            good = [i for i in range(len(records)) if i not in bad]
            clean_good = self.adapter.validate_python([records[i] for i in good])
            clean = [{} for _ in records]
            for i, values in zip(good, clean_good, strict=True):
                clean[i] = values
        check_parent = self.spec is ACCOUNT
        results = [
            (values, bad.get(i) or (_account_rules(values) if check_parent else []))
            for i, values in enumerate(clean)
        ]
        # one C-level pass finds a batch with a short record; CSV and XLSX never have one
        if self.needed and records and min(map(len, records)) < self.width:
            self._fail_absent(records, results)
        return results

    def _fail_absent(
        self,
        records: list[dict[str, str | None]],
        results: list[tuple[dict[str, Any], list[FieldError]]],
    ) -> None:
        """Add an error for each needed field a record lacks, beside its other errors."""
        for i, record in enumerate(records):
            absent = absent_errors(record, self.needed)
            if absent:
                values, errors = results[i]
                results[i] = (values, [*errors, *absent])


def _row_type(spec: ModelSpec, present: frozenset[str]) -> Any:
    """The model's row TypedDict, with present required fields made non-optional."""
    annotations = dict(spec.row_type.__annotations__)
    for name in NOT_EMPTY[spec.name]:
        if name in present:
            annotations[name] = get_args(annotations[name])[0]  # drop "| None"
    return TypedDict(f"{spec.name}BatchRow", annotations, total=False)  # type: ignore[operator]


def _account_rules(clean: Mapping[str, Any]) -> list[FieldError]:
    number = clean.get("account_number")
    if number is not None and clean.get("parent_account") == number:
        return [("parent_account", "an account cannot be its own parent")]
    return []


def _errors_by_row(exc: ValidationError) -> dict[int, list[FieldError]]:
    """pydantic's errors for a list, grouped by row position, as (field, message)."""
    by_row: dict[int, list[FieldError]] = {}
    for error in exc.errors(include_url=False):
        position, *path = error["loc"]
        field = ".".join(str(part) for part in path) or "row"
        by_row.setdefault(int(position), []).append((field, _message(field, error)))
    return by_row


def _message(field: str, error: Any) -> str:
    kind = error["type"]
    if kind == "string_type" and error["input"] is None:
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {error['ctx']['max_length']} characters"
    if kind == "string_pattern_mismatch":
        if "email" in field:
            return NOT_AN_EMAIL
        if field == "website":
            return NOT_A_WEBSITE
        if field == "group_type":
            return f"must be {' or '.join(GroupType)}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return str(error["msg"])
