"""Why rows failed, counted by kind for the summary and the JSON report (SPEC §11).

A user whose 503 rows all failed needs the one reason behind them on the screen, not in
a 164 KB error log. Messages name the values that failed (`unknown customer group
'Retail' (did you mean 'retail'?)`), so they are grouped by kind: the field, and the
message with its quoted values as `…`, its numbers as `N` and its parenthesised hints
left out. Only a count, the first line and one full message are kept per kind, and the
kinds themselves are capped, so a million failed rows cost a few counters, not a
million objects; counting took 0.7 µs a row here when messages repeat (unknown groups)
and 2.2 µs when each names its own line (duplicates). A row counts once for each
distinct reason it has: a row with an empty name and a bad website is in both counts,
so the counts may add up to more than the failed rows.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from custimport.errors import FieldError

TOP = 5  # reasons shown on screen and in the JSON report
MAX_KINDS = 1000  # a database's messages may hold values unquoted: past this, one bucket
OTHER = "other reasons"
CACHED = 4096  # messages whose reasons are kept for the rows that repeat them
MAX_LENGTH = 200  # characters of a reason or its example

# a value in quotes, as repr() and the database write them ('it''s' aside); an apostrophe
# inside a word ("account's") opens nothing
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?!\w)""")
_PARENTHESISED = re.compile(r"\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?(?!\w)")


def reason_of(field_name: str, message: str) -> str:
    """`customer_group: unknown customer group …` for every unknown group, whatever its
    name and whatever close name it suggests."""
    kind = _QUOTED.sub("…", message) if "'" in message or '"' in message else message
    while "(" in kind:  # innermost parentheses first: "(did you mean (a)?)" goes whole
        shorter = _PARENTHESISED.sub("", kind)
        if shorter == kind:
            break
        kind = shorter
    kind = " ".join(_NUMBER.sub("N", kind).split())
    return _shortened(f"{field_name}: {kind}" if field_name else kind)


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


@dataclass(slots=True)
class Reason:
    """One kind of failure: how many rows had it, the first line and its full message."""

    reason: str
    count: int
    first_line: int
    example: str  # the message of `first_line` in full, without its field

    def as_json(self) -> dict[str, str | int]:
        return {"reason": self.reason, "count": self.count, "first_line": self.first_line}


class FailureReasons:
    """Counts per reason of the rows that failed, fed as each failed row is handed out."""

    def __init__(self) -> None:
        self._by_reason: dict[str, Reason] = {}
        # most failed rows repeat a message (503 rows, 11 unknown groups): look it up
        self._seen: dict[tuple[str, str], str] = {}

    def add(self, line_no: int, errors: Iterable[FieldError]) -> None:
        """A failed row: each distinct reason among its errors counts it once."""
        seen: set[str] = set()
        for field_name, message in errors:
            reason = self._reason(field_name, message)
            if reason not in self._by_reason and len(self._by_reason) >= MAX_KINDS:
                reason = OTHER
            if reason in seen:
                continue
            seen.add(reason)
            self._count(reason, line_no, message)

    def _reason(self, field_name: str, message: str) -> str:
        seen = self._seen
        reason = seen.get((field_name, message))
        if reason is None:
            if len(seen) >= CACHED:  # messages that name their line never repeat
                seen.clear()
            reason = seen[field_name, message] = reason_of(field_name, message)
        return reason

    def _count(self, reason: str, line_no: int, message: str) -> None:
        known = self._by_reason.get(reason)
        if known is None:
            self._by_reason[reason] = Reason(reason, 1, line_no, _shortened(message))
            return
        known.count += 1
        if line_no < known.first_line:  # rows that waited for a parent fail late
            known.first_line = line_no
            known.example = _shortened(message)

    def top(self, n: int = TOP) -> list[Reason]:
        """The `n` most frequent reasons; among equals, the one seen on an earlier line."""
        ranked = sorted(self._by_reason.values(), key=lambda r: (-r.count, r.first_line))
        return ranked[:n]

    def __contains__(self, reason: object) -> bool:
        return reason in self._by_reason

    def __len__(self) -> int:
        return len(self._by_reason)
