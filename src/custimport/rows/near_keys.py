"""Keys a spreadsheet damaged (SPEC §10): never silently taken for new ones.

Excel strips the leading zeros of a number-looking cell (`00123` becomes `123`) and shows
a long one in scientific notation (`1.23457E+17`), which a CSV export then keeps. Such
a key, imported again, finds no record and would create a second account next to the
real one. So an account number that is not found, and is either a number equal to a
stored key but for leading zeros, or in scientific notation at all, fails its row
naming the stored keys it probably means (`--allow-new-keys` accepts it as new); and
"not found" messages for references name such keys too.

The text rules are pure; `damaged` and `near` look the stored keys up with
store/repository.py (`near_numbers` by an index on the number without its zeros, and
only when some stored number starts with a zero; `numbers_between` for scientific
notation), once per batch, for the keys that were not found.
"""

import re
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal

from sqlalchemy.engine import Connection

from custimport.store import repository

# How a spreadsheet shows a number of 12 digits or more in a narrow General cell: one
# digit, maybe decimals, and an exponent of 11 or more, maybe zero-padded (`E+017`);
# `1E5` stays an ordinary key
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE]\+?0*(?:1[1-9]|[2-9]\d|[1-9]\d{2,})")
MAX_DIGITS = 64  # the longest account number: no stored key stands for a larger number
SHOWN = 5  # stored keys named at most in one message


def unpadded(number: str) -> str | None:
    """An all-digit key without its leading zeros (`00123` → `123`; `000` → the empty text,
    as the database's ltrim makes it, so `0` and `000` meet); None for any other key
    (`ACME-001`: Excel leaves text alone)."""
    if not number.isascii() or not number.isdigit():
        return None
    return number.lstrip("0")


def scientific_range(number: str) -> list[tuple[str, str]]:
    """For a key in scientific notation, the all-digit keys a spreadsheet would show so, as
    ranges of equal length (`1.23457E+17`: 123456500000000000 to 123457499999999999);
    empty for any other key."""
    if not looks_scientific(number):
        return []
    mantissa, _, exponent = number.upper().replace(",", ".").partition("E")
    if int(exponent) >= MAX_DIGITS:
        return []  # refused all the same; no stored number is that long
    value = Decimal(mantissa) * Decimal(10) ** int(exponent)
    decimals = len(mantissa.partition(".")[2])
    half_step = Decimal(5) * Decimal(10) ** (int(exponent) - decimals - 1)
    low = int((value - half_step).to_integral_value(rounding=ROUND_CEILING))
    high = int((value + half_step).to_integral_value(rounding=ROUND_CEILING)) - 1
    ranges = []
    for digits in range(len(str(max(low, 0))), min(len(str(high)), MAX_DIGITS) + 1):
        first, last = max(low, 10 ** (digits - 1)), min(high, 10**digits - 1)
        if first <= last:
            ranges.append((str(first), str(last)))
    return ranges


def damaged(conn: Connection, new_numbers: Sequence[str]) -> dict[str, list[str]]:
    """Of these account numbers (not found in the database), those a spreadsheet probably
    damaged, each with the stored keys it may mean: a number in scientific notation
    always (with the stored numbers it may stand for, maybe none), an all-digit one
    when a stored number differs from it only by leading zeros."""
    found: dict[str, list[str]] = {}
    for number in new_numbers:
        if looks_scientific(number):
            found[number] = _stand_for(conn, number)
    bare = {number: b for number in new_numbers if (b := unpadded(number)) is not None}
    if not bare:
        return found
    padded_ones = any(number != b for number, b in bare.items())
    if not padded_ones and not repository.has_zero_padded(conn):
        return found  # no stored number starts with a zero, and no new one does
    stored = repository.near_numbers(conn, sorted(set(bare.values())))
    for number, b in bare.items():
        others = [key for key in stored.get(b, []) if key != number]
        if others:
            found[number] = others
    return found


def near(conn: Connection, number: str) -> list[str]:
    """The stored keys a reference that was not found may mean (for its message)."""
    if looks_scientific(number):
        return _stand_for(conn, number)
    bare = unpadded(number)
    if bare is None:
        return []
    return [key for key in repository.near_numbers(conn, [bare]).get(bare, []) if key != number]


def _stand_for(conn: Connection, number: str) -> list[str]:
    return [
        key
        for low, high in scientific_range(number)
        for key in repository.numbers_between(conn, low, high)
    ]


def looks_scientific(number: str) -> bool:
    return _SCIENTIFIC.fullmatch(number) is not None


def damaged_key_message(number: str, near: list[str]) -> str:
    """Why a new key is refused: the stored keys it probably means, and the way out."""
    if looks_scientific(number):
        what = "looks like a number a spreadsheet showed in scientific notation"
    else:
        what = "differs from a stored account number only by leading zeros"
    named = _named(near)
    means = f" (it probably means {named})" if named else ""
    return (
        f"{number!r} {what}{means}; format the column as text and export again, "
        "or give --allow-new-keys to create it as a new account"
    )


def near_hint(near: list[str]) -> str:
    """The end of a "not found" message: the stored keys a damaged reference may mean."""
    named = _named(near)
    return f" (did you mean {named}? a spreadsheet may have changed the number)" if named else ""


def _named(near: list[str]) -> str:
    shown = ", ".join(repr(key) for key in sorted(near)[:SHOWN])
    more = len(near) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
