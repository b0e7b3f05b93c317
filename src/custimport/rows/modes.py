"""Import modes (SPEC §2, §4): the one place that says what a mode does with a row.

A row either finds a stored record by its key or not; the mode turns that into one
`Decision`. Every handler takes its two decisions from `decide` once, when it is made
(a mode holds for the whole import), and keeps each as its skip reason or None, so a
row costs one test of a value it already holds: asking a function, or reading an enum
member off its class (70 ns against 12 for a string comparison, Python 3.11), on every
row of a million would be the very per-row cost the handlers avoid. Which columns a
file needs before its first row is read also depends on the mode, and is decided here
too.

No SQLAlchemy here: the mode is parsed and checked before any database is opened.
"""

from enum import Enum, StrEnum

from custimport.errors import UsageError
from custimport.schemas import ModelSpec


class Mode(StrEnum):
    """--mode; its value is what the user typed and what the report shows."""

    CREATE_ONLY = "create_only"
    UPDATE_ONLY = "update_only"
    CREATE_UPDATE = "create_update"

    @classmethod
    def parse(cls, text: str) -> "Mode":
        """The mode the user named, or a UsageError that lists them all."""
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(cls)
            raise UsageError(f"unknown mode {text!r}; use one of {names}") from None


class Decision(Enum):
    """What becomes of a row once it is known whether its record exists; a skip's value
    is its reason in the report."""

    CREATE = "create"
    UPDATE = "update"
    SKIP_EXISTING = "already exists"
    SKIP_MISSING = "not found"

    @property
    def skip_reason(self) -> str | None:
        """Why the row is skipped, as the report counts it; None: the row is written."""
        return self.value if self in (Decision.SKIP_EXISTING, Decision.SKIP_MISSING) else None


_DECISIONS: dict[tuple[Mode, bool], Decision] = {
    (Mode.CREATE_ONLY, True): Decision.SKIP_EXISTING,
    (Mode.CREATE_ONLY, False): Decision.CREATE,
    (Mode.UPDATE_ONLY, True): Decision.UPDATE,
    (Mode.UPDATE_ONLY, False): Decision.SKIP_MISSING,
    (Mode.CREATE_UPDATE, True): Decision.UPDATE,
    (Mode.CREATE_UPDATE, False): Decision.CREATE,
}


def decide(mode: Mode, exists: bool) -> Decision:
    """What a row does in `mode` when its record `exists` (or does not)."""
    return _DECISIONS[mode, exists]


def creates(mode: Mode) -> bool:
    return decide(mode, exists=False) is Decision.CREATE


def updates(mode: Mode) -> bool:
    return decide(mode, exists=True) is Decision.UPDATE


def key_required(mode: Mode) -> str:
    """The error of a row without the key that would find its record, in a mode that
    cannot create one (an account without account_number in update_only)."""
    return f"is required in {mode} mode"


def required_columns(spec: ModelSpec, mode: Mode) -> tuple[tuple[str, ...], ...]:
    """The columns a file must have (each entry: one of these alternatives): the ones
    that find a record in a mode that only updates, else the ones a create needs."""
    if not creates(mode):
        return spec.update_key_columns
    return tuple((f,) for f in spec.required_on_create)
