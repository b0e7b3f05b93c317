"""Likely duplicate records, as scored pairs with their reasons (SPEC §10 `duplicates`).

Comparing every pair of 100,000 accounts is 5·10⁹ comparisons; so candidates are
blocked by sorting. Records with the same normalised website host, email, phone or
name fingerprint are runs of equal values once sorted by it; similar names are
compared with their neighbours only, in the order of the name and of the name read
backwards (so a difference at either end still leaves them near). Contacts are
compared by name within their account only: two people called John Smith at two
companies are not one person, but one email at two accounts is.

Sorting index arrays instead of grouping in dictionaries keeps memory to the records
themselves. A run of more than GROUP_LIMIT records sharing a value (a website host
used by a whole franchise) is reported as each record paired with the run's first,
not as every pair of it. Reasons never merge records: this only reports.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

GROUP_LIMIT = 10  # runs up to this size give every pair; larger ones a star
WINDOW = 8  # neighbours each name is compared with, in each order
# reason → (score, bit); a pair keeps its reasons as bits and its best score: about 150
# bytes a pair, where objects took 400 (100,000 generated accounts: 870,000 pairs)
EXACT = {
    "email": (1.0, 1, "same email"),
    "name": (1.0, 2, "same name"),
    "website": (0.95, 4, "same website host"),
    "phone": (0.9, 8, "same phone"),
}
SIMILAR = 16


@dataclass(frozen=True)
class Records:
    """The records compared, column by column (parallel lists: one object per value)."""

    keys: Sequence[str]
    names: Sequence[str]  # normalised (rows/match_keys.py); "" for none
    fingerprints: Sequence[str]
    exact: dict[str, Sequence[str]]  # reason → normalised values ("" for none)
    scopes: Sequence[str] | None = None  # names compared within one scope (contacts)


@dataclass(frozen=True)
class Pair:
    keys: tuple[str, str]
    score: float
    reason: str


class _Found:
    """The pairs found so far, as plain integers: a pair (a, b) of record positions, a < b
    by key, is `a * n + b`, and its value the best score in thousandths, shifted left by
    5 bits, or-ed with its reasons' bits. About 60 bytes a pair, where tuples took 150
    and objects 400 (100,000 generated accounts give 330,000 pairs)."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.n = len(records.keys)
        self.pairs: dict[int, int] = {}
        self.similarity: dict[int, float] = {}
        self.shared: dict[tuple[int, int], int] = {}  # (pair, bit) → run size, if starred

    def add(self, a: int, b: int, score: float, bit: int) -> int | None:
        if a == b:
            return None
        keys = self.records.keys
        pair = a * self.n + b if keys[a] <= keys[b] else b * self.n + a
        old = self.pairs.get(pair, 0)
        best = max(old >> 5, int(score * 1000))  # thousandths, cut (0.9995 is 0.999)
        self.pairs[pair] = best << 5 | (old & 31) | bit
        return pair

    def results(self) -> Iterator[Pair]:
        keys, n = self.records.keys, self.n
        by_key = sorted(range(n), key=keys.__getitem__)
        rank = [0] * n
        for position, record in enumerate(by_key):
            rank[record] = position
        # one integer per pair sorts best score first, then by the two keys
        order = sorted(
            (1000 - (value >> 5)) * n * n + rank[pair // n] * n + rank[pair % n]
            for pair, value in self.pairs.items()
        )
        del rank
        for code in order:
            a, b = by_key[code // n % n], by_key[code % n]
            pair = a * n + b
            value = self.pairs[pair]
            yield Pair((keys[a], keys[b]), (value >> 5) / 1000, self._reason(pair, value & 31))

    def _reason(self, pair: int, bits: int) -> str:
        parts = []
        for _, bit, text in EXACT.values():
            if bits & bit:
                size = self.shared.get((pair, bit))
                parts.append(f"{text} (shared by {size:,} records)" if size else text)
        if bits & SIMILAR:
            cut = min(int(self.similarity[pair] * 1000), 999) / 1000  # as the score: cut
            parts.append(f"similar names ({cut:.3f})")
        return "; ".join(parts)


@dataclass(frozen=True)
class FoundPairs:
    """How many pairs were found, and the pairs, made one at a time when read (a list of
    every pair as objects would double the memory of a large result)."""

    count: int
    pairs: Iterator[Pair]


def find_pairs(records: Records, threshold: float) -> FoundPairs:
    """Every likely duplicate pair, highest score first (then by keys)."""
    found = _Found(records)
    for kind, values in records.exact.items():
        _runs(found, values, EXACT[kind])
    _runs(found, _scoped(records.fingerprints, records.scopes), EXACT["name"])
    names, scopes = records.names, records.scopes or [""] * len(records.names)
    _neighbours(found, names, scopes, lambda i: (scopes[i], names[i]), threshold)
    _neighbours(found, names, scopes, lambda i: (scopes[i], names[i][::-1]), threshold)
    return FoundPairs(len(found.pairs), found.results())


def _scoped(values: Sequence[str], scopes: Sequence[str] | None) -> Sequence[str]:
    """Values prefixed by their scope (`\\x00` apart), so only a scope's values meet."""
    if scopes is None:
        return values
    return [
        f"{scope}\x00{value}" if value else "" for scope, value in zip(scopes, values, strict=True)
    ]


def _runs(found: _Found, values: Sequence[str], reason: tuple[float, int, str]) -> None:
    """Pairs of records with one value: sorted, equal values are runs."""
    score, bit, _ = reason
    order = sorted((i for i, value in enumerate(values) if value), key=values.__getitem__)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and values[order[end]] == values[order[start]]:
            end += 1
        run = order[start:end]
        if len(run) <= GROUP_LIMIT:
            for n, a in enumerate(run):
                for b in run[n + 1 :]:
                    found.add(a, b, score, bit)
        else:
            first = min(run, key=found.records.keys.__getitem__)
            for other in run:
                pair = found.add(first, other, score, bit)
                if pair is not None:
                    found.shared[(pair, bit)] = len(run)
        start = end


def _digits(name: str) -> str:
    return "".join(ch for ch in name if ch.isdigit())


def _neighbours(
    found: _Found,
    names: Sequence[str],
    scopes: Sequence[str],
    order_key: Callable[[int], tuple[str, str]],
    threshold: float,
) -> None:
    """Names compared with the next WINDOW names of their scope, in one sort order."""
    from rapidfuzz import fuzz  # here: loading it would slow every command's start

    order = sorted((i for i, name in enumerate(names) if name), key=order_key)
    cutoff = threshold * 100
    for n, a in enumerate(order):
        for b in order[n + 1 : n + 1 + WINDOW]:
            if scopes[a] != scopes[b]:
                break  # sorted by scope first: the rest of the window is another scope
            if names[a] == names[b] or _digits(names[a]) != _digits(names[b]):
                continue  # a fingerprint run already; or numbered branches (Store 12, 13)
            score = fuzz.ratio(names[a], names[b], score_cutoff=cutoff) / 100
            if score >= threshold:
                # never 1.0: that is a "same name"; a near-identical name shows 0.999
                pair = found.add(a, b, min(score, 0.999), SIMILAR)
                if pair is not None:
                    found.similarity[pair] = score
