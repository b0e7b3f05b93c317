"""Fields proposed for columns nothing matched (`inspect --suggest-mapping`, SPEC §11).

A column is compared with each free field's name and synonyms (rows/synonyms.py), word
by word: `Acct Nm` is `account_name`'s words abbreviated, which a character ratio over
the whole name misses (difflib gives `acct_nm`/`account_name` 0.74 but also
`account_owner`/`account_number` 0.81, a wrong match it would rank higher). Words count
when equal (1), when one abbreviates the other (0.8: same first letter, its letters in
order, at least 40% of the length: `cust`, `grp`, `web`, but not `id` for `industry`),
or when a typo apart (their difflib ratio, from 0.8). Names written as one word
(`FirstName`) are compared without separators too, from 0.9. A hint (an ambiguous
header such as `Title`) scores HINT_CONFIDENCE. Each field is proposed at most once,
best score first, so the suggested mapping never maps two columns to one field.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache

from custimport.rows.mapping import ColumnMap, normalise
from custimport.rows.synonyms import HINT_CONFIDENCE, HINTS, SYNONYMS

# below this, one shared word of two is enough (`Account Owner` for `account`: 0.67)
CUTOFF = 0.7
ABBREVIATION = 0.8
TYPO_FROM = 0.8
JOINED_FROM = 0.9
MIN_ABBREVIATED = 0.4  # an abbreviation keeps at least this share of the word's letters


@dataclass(frozen=True)
class Guess:
    """A field proposed for a column, and how sure the guess is."""

    field: str
    confidence: float  # 0 to 1


def suggest_fields(
    columns: Sequence[str], free_fields: Sequence[str], model: str
) -> dict[str, Guess]:
    """Column → the free field it most likely feeds, for the columns scoring CUTOFF or more
    (in `columns`' order); a field goes to its best-scoring column only."""
    scored = [
        (score, position, column, field_name)
        for position, column in enumerate(columns)
        for field_name in free_fields
        if (score := field_score(column, field_name, model)) >= CUTOFF
    ]
    chosen: dict[str, Guess] = {}
    taken: set[str] = set()
    for score, _, column, field_name in sorted(scored, key=lambda s: (-s[0], s[1])):
        if column not in chosen and field_name not in taken:
            chosen[column] = Guess(field_name, round(score, 2))
            taken.add(field_name)
    return {c: chosen[c] for c in columns if c in chosen}


def field_score(column: str, field_name: str, model: str) -> float:
    """How likely `column` means `field_name` of `model`, from 0 to 1."""
    name = normalise(column)
    hint = HINT_CONFIDENCE if hints_of(model).get(name) == field_name else 0.0
    return max(hint, *(similarity(name, known) for known in _names_of(model, field_name)))


@cache
def _names_of(model: str, field_name: str) -> tuple[str, ...]:
    """The field's own name and its synonyms, normalised."""
    synonyms = SYNONYMS.get(model, {}).get(field_name, ())
    return (field_name, *(normalise(header) for header in synonyms))


@cache
def hints_of(model: str) -> dict[str, str]:
    """Normalised header → the field it may mean (a suggestion to confirm)."""
    return {
        normalise(header): field_name
        for field_name, headers in HINTS.get(model, {}).items()
        for header in headers
    }


def similarity(name: str, known: str) -> float:
    """Two normalised names: word by word, or as one word when written joined."""
    joined = SequenceMatcher(None, name.replace("_", ""), known.replace("_", "")).ratio()
    words = _words_score(name.split("_"), known.split("_"))
    return max(words, joined if joined >= JOINED_FROM else 0.0)


def _words_score(words: Sequence[str], known: Sequence[str]) -> float:
    """Twice the matched words' scores over all words (Dice), each known word matched once."""
    free = list(known)
    total = 0.0
    for word in words:
        best, at = max(((_word_score(word, k), i) for i, k in enumerate(free)), default=(0.0, -1))
        if best > 0:
            total += best
            free.pop(at)
    return 2 * total / (len(words) + len(known))


def _word_score(word: str, known: str) -> float:
    if word == known:
        return 1.0
    if _abbreviates(word, known) or _abbreviates(known, word):
        return ABBREVIATION
    ratio = SequenceMatcher(None, word, known).ratio()
    return ratio if ratio >= TYPO_FROM else 0.0


def _abbreviates(short: str, long: str) -> bool:
    """`acct` for `account`: the same first letter, the letters in order, long enough."""
    if len(short) < 2 or len(short) >= len(long) or short[0] != long[0]:
        return False
    if len(short) < MIN_ABBREVIATED * len(long):
        return False
    rest = iter(long)
    return all(letter in rest for letter in short)


@dataclass(frozen=True)
class ProposedColumn:
    """What the suggested mapping says for one column, and why."""

    field: str | None
    how: str  # one of HOW
    confidence: float | None = None  # for "suggested"


HOW = ("mapping", "name", "synonym", "suggested", "ignored", "none")


@dataclass(frozen=True)
class ProposedMapping:
    """A mapping file for every column of a header (SPEC §11: matched, suggested, null)."""

    model: str
    columns: dict[str, ProposedColumn]  # in header order

    def as_file(self) -> dict[str, dict[str, str | None]]:
        """The extended form of SPEC §9, which `--mapping` reads as it is."""
        return {"columns": {column: p.field for column, p in self.columns.items()}}

    @property
    def confidence(self) -> float:
        """Summed over the columns: which model the header suits best, when none matched."""
        return sum(p.confidence or 0.0 for p in self.columns.values())


def propose_mapping(
    header: Sequence[str],
    column_map: ColumnMap,
    mapped: Collection[str],
    fields: Sequence[str],
    model: str,
) -> ProposedMapping:
    """Every column of `header`: its field as `column_map` matched it (`mapped`: the columns
    a mapping file named), else a suggested free field, else None."""
    field_of = {column: f for f, column in column_map.columns_by_field.items()}
    free = [f for f in fields if f not in column_map.columns_by_field]
    suggested = suggest_fields(column_map.unknown_columns, free, model)
    columns: dict[str, ProposedColumn] = {}
    for column in header:
        if column in field_of:
            how = "mapping" if column in mapped else "name"
            how = "synonym" if column in column_map.synonyms else how
            columns[column] = ProposedColumn(field_of[column], how)
        elif column in suggested:
            best = suggested[column]
            columns[column] = ProposedColumn(best.field, "suggested", best.confidence)
        else:
            ignored = column in column_map.ignored_columns
            columns[column] = ProposedColumn(None, "ignored" if ignored else "none")
    return ProposedMapping(model, columns)
