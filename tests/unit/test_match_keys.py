"""rows/match_keys.py: the normalisation rules of SPEC §10."""

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custimport.rows.match_keys import (
    company_key,
    email_key,
    fingerprint,
    name_key,
    phone_digits,
    unicode_name_key,
    website_host,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ACME Corp", "acme corp"),
        ("Straße GmbH", "STRASSE GMBH"),  # ß case-folds to ss
        ("İstanbul Ticaret", "istanbul ticaret"),  # Turkish dotted capital I
        ("\uff21\uff23\uff2d\uff25 \uff23\uff4f\uff52\uff50", "acme corp"),  # full-width (NFKC)
        ("Acme,  Corp.", "acme corp"),  # punctuation and space runs are one space
        ("  Acme\t-\tCorp  ", "acme corp"),
        ("Café", "Cafe\u0301"),  # composed and combining accents are one
    ],
)
def test_names_that_are_one(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Müller", "Muller"),
        ("Acme", "Acme 2"),
        ("कमल", "कमला"),  # Devanagari vowel signs are marks, part of the word
        ("कमल", "कमली"),
        ("กิน", "กัน"),  # Thai vowels above the consonant
        ("كتب", "كُتب"),  # an Arabic vowel mark
    ],
)
def test_names_that_stay_two(a: str, b: str) -> None:
    assert name_key(a) != name_key(b)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_ascii_shortcut_gives_the_key_of_the_full_rules(text: str) -> None:
    assert name_key(text) == (unicode_name_key(text) if text else "")


def test_a_run_of_punctuation_and_underscores_is_one_space() -> None:
    assert name_key("a-_-b") == "a b"
    assert name_key("ä-_-b") == "ä b"


def test_every_combining_mark_of_any_script_stays_in_its_word() -> None:
    marks = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M"]
    for mark in marks:
        kept = name_key(f"a{mark}b")
        assert " " not in kept and kept != "ab", (hex(ord(mark)), kept)


def test_legal_forms_and_word_order() -> None:
    assert company_key("Acme Corp., Inc.") == "acme"
    assert company_key("Acme Corporation") == company_key("ACME corp")
    assert company_key("Limited") == "limited"  # nothing else left: the name stays
    assert fingerprint("Corp Acme acme") == "acme corp"


@pytest.mark.parametrize(
    "form",
    [
        "example.com",
        "EXAMPLE.COM",
        "www.example.com",
        "https://www.example.com",
        "http://example.com:8080/about?x=1#top",
        "https://user:pw@example.com/",
        "example.com.",  # a trailing dot
        "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # full-width letters
    ],
)
def test_website_forms_are_one_host(form: str) -> None:
    assert website_host(form) == "example.com"


def test_international_hosts_in_their_ascii_form() -> None:
    assert website_host("https://www.bücher.example/") == "xn--bcher-kva.example"
    assert website_host("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert website_host("") == "" and website_host(None) == ""


def test_phones_and_emails() -> None:
    assert phone_digits("+44 (20) 7946-0018") == phone_digits("442079460018")
    assert phone_digits("123") == ""  # too few digits to say two records are one
    assert email_key("Ann@Example.COM") == "ann@example.com"


def test_a_contact_name_is_first_and_last_as_one_name() -> None:
    from custimport.rows.match_keys import person_key

    assert person_key("Ann", "O'Neil") == person_key("  ANN ", "o neil") == "ann o neil"
    assert person_key(None, None) == ""


@pytest.mark.parametrize(
    ("phone", "region", "keys"),
    [
        ("+44 20 7946 0018", None, ("442079460018",)),
        ("+442079460018", "GB", ("442079460018", "02079460018")),  # E.164 and national
        ("020 7946 0018", None, ("02079460018",)),
        ("555-01", "GB", ()),  # too few digits to say two records are one
        ("", "GB", ()),
    ],
)
def test_phone_keys_with_and_without_a_region(
    phone: str, region: str | None, keys: tuple[str, ...]
) -> None:
    from custimport.rows.match_keys import phone_keys

    assert phone_keys(phone, region) == keys
