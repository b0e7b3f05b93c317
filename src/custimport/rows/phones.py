"""Phone numbers in E.164 (SPEC §11, `--phone-region CC`), with Google's libphonenumber rules.

A number is stored as `+<country><number>` when it parses as a valid number: for the
region given (a national number, `020 7946 0018` in GB) or for the country its own `+`
prefix names (`+49 30 901820`). Anything else (`555-0100`, a number too short for its
country, and a number with an extension or letters, which E.164 cannot hold: `020 7946
0018 x 55`, `1-800-FLOWERS`) is stored as given and counted, so the report can say how
many were left alone: a phone column never loses a digit or a letter.

Applied to the clean values of a validated row, in the process that prepares batches
(maybe a worker): no database here, and nothing done when no region is given.
"""

from collections.abc import Iterable
from typing import Any

# phonenumbers is imported where it is used: it takes 66 ms to load, which every command
# would otherwise pay at start-up (only imports with --phone-region use it)
PHONE_FIELDS = ("phone", "primary_contact_phone")


def check_region(text: str) -> str:
    """The region as libphonenumber names it (upper case), or ValueError with the reason."""
    import phonenumbers

    region = text.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"unknown phone region {text!r}: give a two-letter ISO country code (GB, US, DE, …)"
        )
    return region


def e164(value: str, region: str) -> str | None:
    """The number in E.164, or None when it is not a valid number."""
    import phonenumbers  # a dictionary look-up once loaded

    if any(ch.isalpha() for ch in value):
        return None  # an extension (`ext. 12`) or a vanity number: E.164 would drop letters
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None  # E.164 has no room for an extension (`;ext=99`, `x 55`)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_phones(rows: Iterable[dict[str, Any]], region: str) -> int:
    """Rewrite the phone fields of these clean rows in E.164 where they are valid numbers;
    how many phone values were left as given."""
    left = 0
    for data in rows:
        for name in PHONE_FIELDS:
            value = data.get(name)
            if value:
                formatted = e164(value, region)
                if formatted is None:
                    left += 1
                else:
                    data[name] = formatted
    return left
