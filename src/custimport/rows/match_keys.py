"""Normalised keys that say two records are probably one (SPEC §10).

Names are compared case-folded after Unicode NFKC (full-width letters become ASCII,
`ß` folds to `ss`, Turkish `İ` to `i`), with every run of spaces and punctuation one
space (accents are kept: `Müller` and `Muller` are two names); websites by
host only (no scheme, user, `www.`, port, path, trailing dot or case; international
names in their ASCII form, so `bücher.example` and `xn--bcher-kva.example` are one);
phones by their digits; emails case-folded. Pure functions: `duplicates` uses them, and
so does matching rows (`--match-on`, `--account-ref`: rows/matching.py), whose stored keys
(the *_match columns, store/match_store.py) are filled from here.
"""

import re
import sys
import unicodedata
from functools import cache

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_ASCII_PUNCTUATION_AND_SPACE = re.compile(r"[^a-z0-9]+")  # ASCII's \w without _, lower case
MIN_PHONE_DIGITS = 7  # fewer digits say too little to call two records one


def name_key(text: str | None) -> str:
    """`  ACME  Corp., Inc ` and `acme corp inc` are one name; empty for no name."""
    if not text:
        return ""
    if text.isascii():  # most names: NFKC leaves ASCII alone, and casefold is lower
        return _ASCII_PUNCTUATION_AND_SPACE.sub(" ", text.lower()).strip()
    return unicode_name_key(text)


def unicode_name_key(text: str) -> str:
    """`name_key` of any text (`name_key` takes a shortcut for ASCII, tested equal)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Turkish İ folds to i + a combining dot: the dot is dropped, so İstanbul is istanbul
    folded = folded.replace("i\u0307", "i")
    return _punctuation_and_space().sub(" ", folded).strip()


@cache
def _punctuation_and_space() -> re.Pattern[str]:
    """Runs of what is neither a letter, a digit nor a combining mark of any script (`é`
    written as e + U+0301, Devanagari and Thai vowel signs: कमल and कमला are two names),
    and underscores. Python's \\w has no marks, so the class lists them all: built
    on first use (about 0.1 s), not when every command starts."""
    marks = [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M"]
    ranges: list[tuple[int, int]] = []
    for code in marks:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    listed = "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges)
    return re.compile(rf"(?:[^\w{listed}]|_)+")  # marks need no escaping in a class


# Legal forms at the end of a company name, which say nothing about which company it is
# ("Acme Corp" and "Acme Corporation" are one): left out when names are compared.
LEGAL_FORMS = frozenset(
    [
        "ag",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "limited",
        "llc",
        "llp",
        "ltd",
        "nv",
        "oy",
        "plc",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
    ]
)


def company_key(text: str | None) -> str:
    """The name without the legal forms it ends with (`acme corp inc` → `acme`); the whole
    name when that would leave nothing."""
    words = name_key(text).split()
    while len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    return " ".join(words)


def fingerprint(text: str | None) -> str:
    """The name's words, each once, in order (OpenRefine's fingerprint): `Acme Corp` and
    `Corp Acme` share one."""
    return " ".join(sorted(set(name_key(text).split())))


def website_host(text: str | None) -> str:
    """`https://WWW.Example.com:8080/about` → `example.com`; empty when there is no host."""
    if not text:
        return ""
    value = unicodedata.normalize("NFKC", text.strip()).casefold()
    value = _SCHEME.sub("", value)
    host = re.split(r"[/?#]", value, maxsplit=1)[0]
    host = host.rpartition("@")[2]  # user:password@
    host = host.split(":", 1)[0].rstrip(".")  # port, trailing dot
    if host.startswith("www."):
        host = host[4:]
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not a name the IDNA rules accept: compare it as it is
        return host


def phone_digits(text: str | None) -> str:
    """The digits of a phone number, or empty when there are too few to compare."""
    if not text:
        return ""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def email_key(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip() if text else ""


def person_key(first: str | None, last: str | None) -> str:
    """A contact's first and last name as one name key (`Ann  O'Neil` = `ann o neil`)."""
    return name_key(f"{first or ''} {last or ''}")


def phone_key(text: str | None) -> str:
    """A phone number's key: its digits (an import with --phone-region has stored it in
    E.164 already, so `+44 20 7946 0018` and `020 7946 0018` read for GB are one)."""
    return phone_digits(text)


def phone_keys(text: str | None, region: str | None) -> tuple[str, ...]:
    """The keys a row's phone matches stored phones by: its digits and, with a region
    (--phone-region, which has put the row's number in E.164), also the digits of its
    national form, so `+442079460018` finds a stored `020 7946 0018`. No key: ()."""
    key = phone_key(text)
    if not key:
        return ()
    if region is None or not text or not text.startswith("+"):
        return (key,)
    import phonenumbers  # loaded only under --phone-region, which has loaded it already

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return (key,)
    national = phone_key(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    )
    return (key, national) if national and national != key else (key,)
