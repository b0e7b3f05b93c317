"""How rows find the record they update (`--match-on`) and the accounts they name
(`--account-ref`), SPEC §10: the choices, the row's key, and the messages.

Kept free of database imports: the key of a row (`RowKey`) is computed in the process
that prepares batches, maybe a worker, for "duplicate of line N" (rows/keys.py says
why). The stored side is store/match_store.py.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from custimport.errors import UsageError
from custimport.rows.match_keys import name_key, person_key, phone_key, website_host

# The stored keys (store/match_store.py fills and refreshes them): table → key column →
# (its source columns, the function computing it from their values)
STORED_KEYS: dict[str, dict[str, tuple[tuple[str, ...], Callable[..., str]]]] = {
    "account": {
        "name_match": (("name",), name_key),
        "website_match": (("website",), website_host),
    },
    "contact": {
        "name_match": (("first_name", "last_name"), person_key),
        "phone_match": (("phone",), phone_key),
    },
}


def stale_keys(table: str, values: dict[str, Any]) -> dict[str, None]:
    """The stored keys that writing `values` into a row of `table` makes stale, as NULL
    ("not computed": a matching import computes them again, store/match_store.py)."""
    return {
        key: None
        for key, (sources, _) in STORED_KEYS.get(table, {}).items()
        if any(source in values for source in sources)
    }


DEFAULT_MATCH = {"Account": "account_number", "Contact": "email", "CustomerGroup": "name"}
MATCH_CHOICES = {
    "Account": ("account_number", "name", "website", "name,website"),
    "Contact": ("email", "name", "phone"),
    "CustomerGroup": ("name",),
}
REF_CHOICES = ("account_number", "name", "website")
MAX_SHOWN = 5  # candidates named in an ambiguity message

# a matched field of a row → (the stored key column, the key of the row's value)
ACCOUNT_KEYS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "name": ("name_match", lambda data: name_key(data.get("name"))),
    "website": ("website_match", lambda data: website_host(data.get("website"))),
}
CONTACT_KEYS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "name": ("name_match", lambda data: person_key(data.get("first_name"), data.get("last_name"))),
    "phone": ("phone_match", lambda data: phone_key(data.get("phone"))),
}
# a way of naming an account → (its stored key column, the key of a reference's text)
REF_KEYS: dict[str, tuple[str, Callable[[str | None], str]]] = {
    "name": ("name_match", name_key),
    "website": ("website_match", website_host),
}
# what a field without a key lacks, for the row's message
WANTED = {
    "name": "a name with a letter or digit",
    "website": "a website with a host",
    "phone": f"a phone number of {7} digits or more",
}


def parse_match_on(model: str, text: str | None) -> str:
    """The --match-on choice in its canonical spelling (`website, Name` → `name,website`);
    exit 2 naming the model's choices for anything else."""
    if text is None:
        return DEFAULT_MATCH[model]
    parts = sorted({part.strip().lower() for part in text.split(",")})
    spelled = ",".join(parts)
    if spelled not in MATCH_CHOICES[model]:
        choices = ", ".join(MATCH_CHOICES[model])
        raise UsageError(f"--match-on {text!r} is not a choice for {model} rows: use {choices}")
    return spelled


def parse_account_ref(model: str, text: str | None) -> str | None:
    """The --account-ref choice (None for CustomerGroup files, which name no account)."""
    if model == "CustomerGroup":
        if text is not None:
            raise UsageError("--account-ref is for Account and Contact files only")
        return None
    if text is None:
        return "account_number"
    choice = text.strip().lower()
    if choice not in REF_CHOICES:
        raise UsageError(f"--account-ref {text!r} is not a choice: use {', '.join(REF_CHOICES)}")
    return choice


def in_effect(model: str, match_on: str | None, account_ref: str | None) -> tuple[str, str]:
    """(--match-on, --account-ref) as given, checked, in canonical spelling; the defaults
    for None (account_ref account_number for CustomerGroup files too: nothing refers)."""
    return parse_match_on(model, match_on), parse_account_ref(model, account_ref) or REF_CHOICES[0]


def columns_to_find(model: str, match_on: str) -> tuple[tuple[str, ...], ...] | None:
    """The columns an update_only file needs to find its records under --match-on (None:
    the model's own, SPEC §4)."""
    if match_on == DEFAULT_MATCH[model]:
        return None
    if model == "Account":
        return tuple((f,) for f in match_on.split(","))
    wanted = ("first_name", "last_name") if match_on == "name" else ("phone",)
    return (("account",), *((f,) for f in wanted))


def ref_key(how: str, text: str) -> str:
    """The key an account is named by in a reference (account_number: as given)."""
    return text if how == "account_number" else REF_KEYS[how][1](text)


@dataclass(frozen=True)
class RowKey:
    """A row's key for "duplicate of line N" under --match-on / --account-ref (a
    picklable callable, like the plain key functions of rows/keys.py)."""

    model: str
    match_on: str
    account_ref: str = "account_number"

    def __call__(self, data: dict[str, Any]) -> Hashable | None:
        if self.model == "Account":
            return account_key(self.match_on, data)
        account = data.get("account")
        if not account:
            return None
        ref = ref_key(self.account_ref, account)
        if self.match_on == "email":
            if data.get("email"):
                return (ref, data["email"])
            return (ref, person_key(data.get("first_name"), data.get("last_name")))
        key = CONTACT_KEYS[self.match_on][1](data)
        return (ref, key) if key else None


def account_key(match_on: str, data: dict[str, Any]) -> tuple[str, ...] | None:
    """The row's key values for `match_on` (name, website or both); None when one of them
    is empty (the row fails: see `missing_key`)."""
    keys = tuple(ACCOUNT_KEYS[f][1](data) for f in match_on.split(","))
    return keys if all(keys) else None


def missing_key(match_on: str, keys: Sequence[str]) -> tuple[str, str]:
    """(field, message) for a row that has no key to match on. Such a row is never
    created: an unmatchable row creating a record is the duplicate matching is for."""
    for f, key in zip(match_on.split(","), keys, strict=True):
        if not key:
            return f, f"--match-on {match_on} needs {WANTED[f]} to match on"
    raise AssertionError("a row with every key is matched")


def match_label(match_on: str) -> str:
    """How a message names the fields matched on: `name`, `name and website`."""
    return " and ".join(match_on.split(","))


def ambiguous(what: str, count: int, how: str, shown: str, keys: Sequence[str]) -> str:
    """`ambiguous: 3 accounts match name 'acme corp' (A-1, A-7, A-9)`: at most five named."""
    named = sorted(keys)[:MAX_SHOWN]
    more = ", …" if len(keys) > MAX_SHOWN else ""
    return f"ambiguous: {count} {what} match {how} {shown!r} ({', '.join(named)}{more})"
