"""Word lists for plausible synthetic values that always pass custimport's validation.

Person names stay ASCII because they also make up email addresses (SPEC §4's
email syntax is ASCII); company names and descriptions carry some non-ASCII
letters, commas and quotes so the CSV reader does real decoding and unquoting.
"""

from __future__ import annotations

import random

FIRST_NAMES = (
    "Ada", "Alan", "Barbara", "Carlos", "Chen", "Dana", "Elena", "Farid", "Grace", "Hana",
    "Ivan", "Jane", "Jonas", "Kemal", "Lena", "Maria", "Noah", "Olga", "Pedro", "Priya",
    "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor", "Wei", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abbott", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
    "Jensen", "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist",
    "Rossi", "Schmidt", "Tanaka", "Urban", "Vargas", "Weber", "Xu", "Yilmaz", "Zimmer",
)  # fmt: skip
INDUSTRIES = (
    "Manufacturing", "Software", "Retail", "Energy", "Healthcare", "Finance", "Logistics",
    "Education", "Hospitality", "Construction", "Agriculture", "Media", "Telecommunications",
)  # fmt: skip
_ADJECTIVES = (
    "Blue", "Northern", "Golden", "Rapid", "Silver", "Bright", "Grand", "Müller", "Café",
    "Nordic", "Atlantic", "Summit", "Crescent", "Pioneer", "Evergreen", "Zenith",
)  # fmt: skip
_NOUNS = (
    "Harbor", "Forge", "Valley", "Bridge", "Systems", "Works", "Partners", "Labs",
    "Foods", "Motors", "Textiles", "Dynamics", "Analytics", "Logistics", "Studios",
)  # fmt: skip
LEGAL_FORMS = ("Ltd.", "GmbH", "Inc.", "S.A.", "B.V.", "plc", "LLC", "AB")
_SENTENCE_WORDS = (
    "supplier", "of", "industrial", "parts", "for", "the", "regional", "market", "with",
    "a", "focus", "on", "quality", "and", "service", "since", "founded", "in", "Zürich",
    "long-term", "customer", "key", "account", "\"premium\"", "tier", "north", "south",
)  # fmt: skip


def company(rng: random.Random) -> str:
    """A company name such as "Golden Forge 42"."""
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.randrange(1, 1000)}"


def sentence(rng: random.Random) -> str:
    """A description of 0-24 words; a sixth are empty, some contain a comma or quotes."""
    length = rng.randrange(-4, 25)
    if length <= 0:
        return ""
    chosen = [rng.choice(_SENTENCE_WORDS) for _ in range(length)]
    if length > 6:
        chosen[length // 2] += ","
    text = " ".join(chosen)
    return text[0].upper() + text[1:] + "."


def next_industry(industry: str) -> str:
    """A different industry, so the update variant always changes the value."""
    return INDUSTRIES[(INDUSTRIES.index(industry) + 1) % len(INDUSTRIES)]
