"""From file rows to batches of valid rows: map, validate, find duplicate keys. No database.

Validation runs once per batch (one pydantic call for the whole list, about a
third of the per-row cost); the rare batch with invalid rows is validated again
without them. A key seen twice in one file fails the later row. Stopping (a
signal, --max-errors) is checked between rows, so no row past the stop is read.
"""

import math
from collections.abc import Callable, Generator, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from custimport.errors import FieldError
from custimport.io.formats import open_source, reopen_arguments
from custimport.io.source import RawRow, RowSource, SourceInfo
from custimport.rows.mapping import cell_positions, record_at, record_from
from custimport.rows.outcomes import FailedRow, PendingRow
from custimport.rows.phones import normalise_phones
from custimport.run.primary_claims import ContestedAccounts, HeldClaims, LastClaims, mark_superseded
from custimport.run.seen_keys import SeenKeys
from custimport.schemas import BatchValidator, ModelSpec

KEY_FIELDS = {"Account": "account_number", "Contact": "email", "CustomerGroup": "name"}


@dataclass
class PreparedBatch:
    rows: list[PendingRow] = field(default_factory=list)
    failures: list[FailedRow] = field(default_factory=list)
    rows_read: int = 0  # from the start of the file, at the end of this batch
    bytes_read: int = 0
    wire: bytes | None = None  # as it came from the worker: a third of its size in memory
    held_from: int | None = None  # the first line of a row held back to the end, if any
    phones_as_given: int = 0  # --phone-region: phone values that are no valid number

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle rows as plain tuples: unpickling dataclasses field by field cost more
        than preparing them (measured: 2.0 versus 0.9 µs a row)."""
        rows = [r.packed() for r in self.rows]
        failures = [(f.line_no, f.errors, f.cells, f.data) for f in self.failures]
        return _rebuild_batch, (
            rows,
            failures,
            self.rows_read,
            self.bytes_read,
            self.held_from,
            self.phones_as_given,
        )


def _rebuild_batch(
    rows: list[tuple[Any, ...]],
    failures: list[tuple[Any, ...]],
    rows_read: int,
    bytes_read: int,
    held_from: int | None,
    phones_as_given: int,
) -> PreparedBatch:
    return PreparedBatch(
        [PendingRow(*row) for row in rows],
        [FailedRow(*failure) for failure in failures],
        rows_read,
        bytes_read,
        held_from=held_from,
        phones_as_given=phones_as_given,
    )


@dataclass(frozen=True)
class PreparerSettings:
    """Everything a Preparer needs; plain values, so a worker process can receive them."""

    spec: ModelSpec
    columns_by_field: dict[str, str]
    key_of: Callable[[dict[str, Any]], Hashable | None]
    batch_size: int
    max_failures: int | None
    source_options: dict[str, Any]  # open_source's arguments, as the importer detected them
    # (name, Python codec) of the database's text encoding, if narrower (store.encoding)
    text_encoding: tuple[str, str] | None = None
    # --resume: lines an earlier run committed, never read again (SPEC §8): every line
    # up to `resume_after`, and the lines after it that the earlier run wrote
    resume_after: int = 0
    resume_skip: frozenset[int] = frozenset()
    # required fields an empty cell may reach the handler in (rows/change_rules.py)
    may_be_empty: frozenset[str] = frozenset()
    phone_region: str | None = None  # --phone-region: phones stored in E.164 (rows/phones.py)
    key_field: str | None = None  # the field "duplicate of line N" names (--match-on's)

    @property
    def primary_claim_columns(self) -> tuple[str, str] | None:
        """(account column, is_primary column) of a Contact file that has both."""
        columns = self.columns_by_field
        if self.spec.name == "Contact" and "is_primary" in columns and "account" in columns:
            return columns["account"], columns["is_primary"]
        return None


def source_options(info: SourceInfo, sheet: str | None) -> dict[str, Any]:
    """open_source's arguments for reading the file again exactly as it was read (from
    standard input's copy, say: io/formats.py)."""
    return {**reopen_arguments(info), "sheet": sheet}


def _storable(
    validated: tuple[dict[str, Any], list[FieldError]], encoding: str, codec: str
) -> tuple[dict[str, Any], list[FieldError]]:
    """A valid row whose text the database's encoding cannot hold fails here, before any
    SQL: in a key, the server would refuse the look-up itself and end the import."""
    data, errors = validated
    if errors:
        return validated
    for name, value in data.items():
        if isinstance(value, str) and (char := _unencodable(value, codec)) is not None:
            message = f"holds the character {char!r}, which this database cannot store"
            return data, [(name, f"{message} (encoding {encoding})")]
    return validated


def _unencodable(value: str, codec: str) -> str | None:
    """The first character of `value` that `codec` cannot encode, or None."""
    try:
        value.encode(codec)
    except UnicodeEncodeError as exc:
        return value[exc.start]
    return None


class Preparer:
    """Reads the source and hands out prepared batches; stops early when asked to."""

    def __init__(self, settings: PreparerSettings, *, first_pass: bool = False) -> None:
        self.settings = settings
        self.spec = settings.spec
        self.columns_by_field = settings.columns_by_field
        self.key_of = settings.key_of
        self.key_field = settings.key_field or KEY_FIELDS[settings.spec.name]
        self.batch_size = settings.batch_size
        self.max_failures = settings.max_failures
        self.validator = BatchValidator(
            settings.spec, frozenset(settings.columns_by_field), settings.may_be_empty
        )
        claims = not first_pass and settings.primary_claim_columns is not None
        # Primary claims of contested accounts wait for the end of the file (see
        # primary_claims), except under --max-errors, which needs every claim decided
        # before the first write: a first pass.
        one_pass = claims and self.max_failures is None
        self.contested = ContestedAccounts() if one_pass else None
        self.held_claims = HeldClaims() if one_pass else None
        self.two_passes = claims and self.max_failures is not None
        self.last_claims: LastClaims | None = None
        self.seen = SeenKeys()
        self.failures = 0  # failed rows handed out so far
        self.rows_read = 0
        self.unread = False  # rows were left unread (a stop, or --max-errors)
        self.stopped: str | None = None  # the reader could not go on: where and why
        self.held_from: int | None = None  # the first line held back to the end (claims)
        self._iterator: Iterator[RawRow] = iter(())
        self._positions: list[tuple[str, int]] = []  # of the mapped columns, once reading

    def batches(
        self, source: RowSource, interrupted: Callable[[], bool], other_failures: Callable[[], int]
    ) -> Generator[PreparedBatch, None, None]:
        """Batches of up to batch_size rows, until the file ends, a signal, or the error limit.

        `other_failures` counts rows that failed later, in the database, towards --max-errors.
        """
        if self.two_passes:
            self.last_claims = self._last_primary_claims(interrupted)
        if self.contested is not None and self.settings.primary_claim_columns is not None:
            columns = self.settings.primary_claim_columns
            self.contested.scan(self.settings.source_options, *columns, interrupted)
        self._iterator = iter(source)
        self._positions = cell_positions(source.info.header, self.columns_by_field)
        # a batch's rows are taken in one C-level call; a stop is noticed between batches
        # (a test per row was 5% of the background reader's time)
        while raws := list(islice(self._iterator, self.batch_size)):
            if interrupted():
                self.unread = True
                return
            yield self._prepare(raws, source.bytes_read(), other_failures())
            if self.unread or self._limit_reached(other_failures()):
                self.unread = self.unread or self.more_rows()
                return
        self.stopped = source.stopped
        if self.held_claims is not None:
            yield from self._released_claims(source.bytes_read(), interrupted)

    def _released_claims(
        self, bytes_read: int, interrupted: Callable[[], bool]
    ) -> Iterator[PreparedBatch]:
        """After the last row: the rows that claim a primary flag, decided now."""
        assert self.held_claims is not None
        for rows in self.held_claims.released(self.batch_size):
            if interrupted():
                self.unread = True  # read, but never handed out
                return
            yield PreparedBatch(rows, rows_read=self.rows_read, bytes_read=bytes_read)

    def _last_primary_claims(self, interrupted: Callable[[], bool]) -> LastClaims:
        """The line of the last valid row of each account whose is_primary is true.

        Under --max-errors a Contact file with an is_primary column is prepared twice:
        first for this alone, with the same validation and duplicate rules, so an
        invalid last claim does not count.
        """
        first = Preparer(self.settings, first_pass=True)
        claims = LastClaims()
        try:
            with open_source(**self.settings.source_options) as source:
                for batch in first.batches(source, interrupted, lambda: 0):
                    claims.record(
                        [
                            (r.data["account"], r.line_no)
                            for r in batch.rows
                            if r.data.get("is_primary")
                        ]
                    )
        finally:
            first.close()
        claims.done_recording()
        return claims

    def close(self) -> None:
        self.seen.close()
        for claims in (self.last_claims, self.held_claims, self.contested):
            if claims is not None:
                claims.close()

    def more_rows(self) -> bool:
        """Whether the source still has rows (reads one, so call it only when stopping)."""
        return next(self._iterator, None) is not None

    def _limit_reached(self, other_failures: int) -> bool:
        if self.max_failures is None:
            return False
        return self.failures + other_failures >= self.max_failures

    def _prepare(
        self, raws: Sequence[RawRow], bytes_read: int, other_failures: int
    ) -> PreparedBatch:
        batch = PreparedBatch(bytes_read=bytes_read)
        if self.settings.resume_after or self.settings.resume_skip:
            raws = self._not_committed(raws)
        readable = [raw for raw in raws if raw.error is None]
        for raw in raws:
            if raw.error is not None:
                batch.failures.append(FailedRow(raw.line_no, [("row", raw.error)], raw.cells))
        positions, columns = self._positions, self.columns_by_field
        records = [  # a CSV row's cells are in header order: picked by position
            record_at(raw.cells, positions)
            if raw.by_column is None
            else record_from(raw.by_column, columns)
            for raw in readable
        ]
        validated = self.validator.validate(records)
        as_given: list[int] = []  # lines with a phone value that is no valid number
        if self.settings.phone_region is not None:
            as_given = self._phones_in_e164(readable, validated, self.settings.phone_region)
        if self.settings.text_encoding is not None:
            validated = [_storable(v, *self.settings.text_encoding) for v in validated]
        keyed = [
            (key, raw.line_no)
            for raw, (data, errors) in zip(readable, validated, strict=True)
            if not errors and (key := self.key_of(data)) is not None
        ]
        duplicates = self.seen.first_lines(keyed)
        claiming: list[PendingRow] = []
        decides_claims = self.held_claims is not None or self.last_claims is not None
        for raw, record, (data, errors) in zip(readable, records, validated, strict=True):
            if errors:
                batch.failures.append(FailedRow(raw.line_no, errors, raw.cells, record))
            elif raw.line_no in duplicates:
                message = [(self.key_field, f"duplicate of line {duplicates[raw.line_no]}")]
                batch.failures.append(FailedRow(raw.line_no, message, raw.cells, data))
            elif decides_claims and data.get("is_primary"):
                claiming.append(PendingRow(raw.line_no, data, raw.cells))
            else:
                batch.rows.append(PendingRow(raw.line_no, data, raw.cells))
        held = self._route_claims(claiming, batch)
        batch.failures.sort(key=lambda failure: failure.line_no)
        kept_through = self._cut_at_limit(batch, raws, other_failures)
        batch.phones_as_given = sum(line <= kept_through for line in as_given)
        self.failures += len(batch.failures)
        self.rows_read += len(batch.rows) + len(batch.failures) + held
        batch.rows_read = self.rows_read
        batch.held_from = self.held_from
        return batch

    def _not_committed(self, raws: Sequence[RawRow]) -> list[RawRow]:
        """--resume: the rows the earlier run did not commit."""
        after, skip = self.settings.resume_after, self.settings.resume_skip
        return [raw for raw in raws if raw.line_no > after and raw.line_no not in skip]

    def _route_claims(self, claiming: list[PendingRow], batch: PreparedBatch) -> int:
        """Claims decided now join the batch; a contested account's wait for the end of
        the file. Returns how many were held."""
        if not claiming:
            return 0
        if self.held_claims is not None and self.contested is not None:
            contested = self.contested.contested({row.data["account"] for row in claiming})
            held = [row for row in claiming if row.data["account"] in contested]
            self.held_claims.hold(held)
            if held and self.held_from is None:
                self.held_from = held[0].line_no
            claiming = [row for row in claiming if row.data["account"] not in contested]
        else:
            assert self.last_claims is not None, "claims are routed only when decided"
            mark_superseded(claiming, self.last_claims.winners([r.line_no for r in claiming]))
            held = []
        batch.rows = sorted(batch.rows + claiming, key=lambda row: row.line_no)
        return len(held)

    @staticmethod
    def _phones_in_e164(
        readable: Sequence[RawRow],
        validated: list[tuple[dict[str, Any], list[FieldError]]],
        region: str,
    ) -> list[int]:
        """Valid rows' phone numbers in E.164 (rows/phones.py); the lines of the rows
        with one left as given, counted once their rows are known to be read."""
        lines = []
        for raw, (data, errors) in zip(readable, validated, strict=True):
            if not errors and normalise_phones((data,), region):
                lines.append(raw.line_no)
        return lines

    def _cut_at_limit(
        self, batch: PreparedBatch, raws: Sequence[RawRow], other_failures: int
    ) -> float:
        """--max-errors N: nothing after the Nth failed row counts as read. Returns the
        last line that does (infinity: every line of the batch)."""
        if self.max_failures is None:
            return math.inf
        allowed = max(self.max_failures - self.failures - other_failures, 0)
        if len(batch.failures) < allowed or not batch.failures:
            return math.inf
        last_line = batch.failures[allowed - 1].line_no if allowed else 0
        batch.failures = batch.failures[:allowed]
        batch.rows = [row for row in batch.rows if row.line_no <= last_line]
        self.unread = self.unread or any(raw.line_no > last_line for raw in raws)
        return last_line
