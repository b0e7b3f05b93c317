"""Normalised keys that say two records are probably one (SPEC §10).

Names are compared case-folded after Unicode NFKC (full-width letters become ASCII,
`ß` folds to `ss`, Turkish `İ` to `i`), with every run of spaces and punctuation one
space (accents are kept: `Müller` and `Muller` are two names); websites by
host only (no scheme, user, `www.`, port, path, trailing dot or case; international
names in their ASCII form, so `bücher.example` and `xn--bcher-kva.example` are one);
phones by their digits; emails case-folded. Pure functions: `duplicates` uses them now,
and matching rows on them (`--match-on`) will.
"""

import re
import unicodedata

# neither a letter, digit nor combining mark (`é` written as e + U+0301 stays one word)
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
_PUNCTUATION_AND_SPACE = re.compile(rf"[^\w{_MARKS}]+|_+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
MIN_PHONE_DIGITS = 7  # fewer digits say too little to call two records one


def name_key(text: str | None) -> str:
    """`  ACME  Corp., Inc ` and `acme corp inc` are one name; empty for no name."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Turkish İ folds to i + a combining dot: the dot is dropped, so İstanbul is istanbul
    folded = folded.replace("i\u0307", "i")
    return _PUNCTUATION_AND_SPACE.sub(" ", folded).strip()


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
