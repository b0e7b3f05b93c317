"""`custimport inspect`: how a file would be read and mapped, without any database.

One full pass with the same reader the import uses counts the rows and the rows it cannot
read; the header is matched to fields with the import's own mapping rules, for the model
asked for or, without one, for each model (the best fit is shown). With
--suggest-mapping it also writes a mapping file for the model shown (service/suggesting.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from custimport.errors import MappingError, MissingColumnsError
from custimport.io.formats import open_source
from custimport.io.source import RawRow, RowSource, SourceInfo
from custimport.rows.change_rules import ChangeRules, settle_rules
from custimport.rows.mapping import (
    ColumnMap,
    MappingFile,
    build_column_map,
    load_mapping_file,
    normalise,
    require_columns,
)
from custimport.rows.modes import Mode, required_columns
from custimport.schemas import MODELS, ModelSpec, model_spec
from custimport.service.suggesting import Suggestion, suggestion_path, write_suggestion

SAMPLE_ROWS = 5
MODE = Mode.CREATE_UPDATE  # the import's default mode decides which columns are required
UNKNOWN, IGNORED = "unknown", "ignored"


@dataclass(frozen=True)
class InspectRequest:
    path: Path
    spec: ModelSpec | None = None
    mapping_path: Path | None = None
    format: str = "auto"
    encoding: str = "auto"
    delimiter: str | None = None
    sheet: str | None = None
    policies: tuple[str, ...] = ()  # --policy, --default, --empty-cells: as for an import
    defaults: tuple[str, ...] = ()
    empty_cells: str | None = None
    suggest_mapping: str | None = None  # --suggest-mapping OUT.json: write a mapping there
    header_row: int | None = None  # --header-row: the header's line or sheet row (1-based)


@dataclass(frozen=True)
class ModelFit:
    """How the header serves one model: its column map, or why it has none."""

    model: str
    columns: dict[str, str]  # column → field, "unknown" or "ignored", in header order
    missing_required: list[str]
    problem: str | None  # the import's message: missing columns (did you mean …) or mapping
    bad_mapping: bool = False  # the mapping names a field this model does not have
    column_map: ColumnMap | None = None  # None with bad_mapping

    @property
    def synonyms(self) -> dict[str, str]:
        """Column → field for the columns matched by a synonym of a CRM export."""
        return self.column_map.synonyms if self.column_map else {}

    @property
    def fits(self) -> bool:
        return self.problem is None

    @property
    def matched(self) -> int:
        return sum(f not in (UNKNOWN, IGNORED) for f in self.columns.values())


@dataclass
class RowStats:
    rows: int = 0
    rows_with_errors: int = 0
    sample: list[RawRow] = field(default_factory=list)
    first_errors: list[RawRow] = field(default_factory=list)
    # where and why reading ended before the end of the file (RowSource.stopped), or None
    stopped: str | None = None


@dataclass(frozen=True)
class ModelGuess:
    """The model a header is taken to hold without --model (`guess_model`)."""

    best: ModelFit | None  # None: no column matches any model, or a tie
    tied: list[ModelFit] = field(default_factory=list)  # models that fit equally well


@dataclass(frozen=True)
class Inspection:
    source: SourceInfo
    fit: ModelFit | None  # the model asked for, else the best fit (None: none, or a tie)
    guessed: bool  # True when no --model was given
    fits: list[ModelFit]  # every model, for "which models could this file be"
    unused_mapping_keys: list[str]
    stats: RowStats
    rules: ChangeRules | None = None  # policies, defaults, empty cells for the model (SPEC §9)
    suggestion: Suggestion | None = None  # --suggest-mapping: what was written, and where
    tied: list[str] = field(default_factory=list)  # without --model: models equally fit

    def sample_values(self, row: RawRow) -> dict[str, str]:
        """A sample row as column → text (a row that failed to read keeps what it had)."""
        return row.values or dict(zip(self.source.header, row.cells, strict=False))


def inspect_file(request: InspectRequest) -> Inspection:
    """Read the whole file once; usage problems (unreadable file, bad mapping, an output
    file that exists) raise before it is read."""
    suggest_path = suggestion_path(request.suggest_mapping)
    mapping = load_mapping_file(request.mapping_path) if request.mapping_path else None
    columns = mapping.columns if mapping else None
    with open_source(
        request.path,
        format=request.format,
        encoding=request.encoding,
        delimiter=request.delimiter,
        sheet=request.sheet,
        header_row=request.header_row,
    ) as source:
        header = source.info.header
        specs = [request.spec] if request.spec else list(MODELS.values())
        strict = request.spec is not None
        rules = {spec.name: _rules(spec, mapping, request, strict) for spec in specs}
        fits = [_fit(spec, header, columns, rules[spec.name], strict) for spec in specs]
        if all(fit.bad_mapping for fit in fits):
            raise _no_model_takes(columns or {}, fits)
        guess = None if request.spec else guess_model(fits)
        chosen = guess.best if guess else fits[0]
        chosen_rules = rules[chosen.model] if chosen else None
        if chosen and chosen_rules is None and (mapping or request.policies or request.defaults):
            chosen_spec = model_spec(chosen.model)
            assert chosen_spec is not None
            _rules(chosen_spec, mapping, request, strict=True)  # raises: says why
        stats = _read_all(source)
    unused = [key for key in columns or {} if key not in header]
    suggestion = None
    if suggest_path is not None:
        candidates = [(f.model, f.column_map) for f in ([chosen] if chosen else fits)]
        suggestion = write_suggestion(suggest_path, header, columns or {}, candidates, rules)
    tied = [fit.model for fit in guess.tied] if guess else []
    return Inspection(
        source.info, chosen, not strict, fits, unused, stats, chosen_rules, suggestion, tied
    )


def _rules(
    spec: ModelSpec, mapping: MappingFile | None, request: InspectRequest, strict: bool
) -> ChangeRules | None:
    """The rules an import as `spec` would apply; without --model, None for a model they
    do not fit (only the model finally shown must take them)."""
    try:
        return settle_rules(spec, mapping, request.policies, request.defaults, request.empty_cells)
    except MappingError:
        if strict:
            raise
        return None


def _fit(
    spec: ModelSpec,
    header: list[str],
    mapping: Mapping[str, str | None] | None,
    rules: ChangeRules | None,
    strict: bool,
) -> ModelFit:
    """The column map for one model; a mapping it cannot take is an error only if asked for."""
    try:
        column_map = build_column_map(header, spec.fields, mapping, spec.name)
    except MappingError as exc:
        if strict:
            raise
        return ModelFit(spec.name, {c: UNKNOWN for c in header}, [], str(exc), bad_mapping=True)
    required = required_columns(spec, MODE)
    if rules is not None:  # a default stands in for a required column
        required = rules.still_required(required)
    missing = [alts for alts in required if not any(f in column_map.columns_by_field for f in alts)]
    problem = None
    try:
        require_columns(column_map, required, header)
    except MissingColumnsError as exc:
        problem = str(exc)
    return ModelFit(
        spec.name,
        _columns(header, column_map),
        [" or ".join(alts) for alts in missing],
        problem,
        column_map=column_map,
    )


def fits_of_models(header: list[str], mapping: Mapping[str, str | None] | None) -> list[ModelFit]:
    """How the header serves each model, as `inspect` without --model judges it: the
    import names the model a file looks like when it fails as another (SPEC §11)."""
    return [_fit(spec, header, mapping, None, strict=False) for spec in MODELS.values()]


def best_fitting(fits: list[ModelFit]) -> ModelFit | None:
    """Of `fits`, the one whose required columns are present and that uses most columns."""
    fitting = [fit for fit in fits if fit.fits]
    return _best(fitting) if fitting else None


def _no_model_takes(mapping: Mapping[str, str | None], fits: list[ModelFit]) -> MappingError:
    """Without --model a mapping is wrong only if every model refuses it; say why once."""
    fields = {normalise(f) for spec in MODELS.values() for f in spec.fields}
    for column, target in mapping.items():
        if target is not None and normalise(target) not in fields:
            return MappingError(
                f"the mapping sends {column!r} to {target!r}, which is not a field of any model "
                "(--model shows a model's fields)"
            )
    return MappingError(f"no model can take this mapping: {fits[0].problem}")


def _columns(header: list[str], column_map: ColumnMap) -> dict[str, str]:
    field_of = {column: f for f, column in column_map.columns_by_field.items()}
    ignored = set(column_map.ignored_columns)
    return {c: field_of.get(c, IGNORED if c in ignored else UNKNOWN) for c in header}


def guess_model(fits: list[ModelFit]) -> ModelGuess:
    """The one rule by which `inspect` shows, and the import of several files takes
    (SPEC §11), the model a header holds: the model whose required columns are present
    and that uses most columns (if none has its required columns, the one that uses most,
    whose import then says which are missing); none when no column matches. Two models
    ranked equal are a tie that only --model settles: their order says nothing."""
    rank = max((_rank(fit) for fit in fits), default=(False, 0))
    if not rank[1]:
        return ModelGuess(None)
    tied = [fit for fit in fits if _rank(fit) == rank]
    return ModelGuess(tied[0]) if len(tied) == 1 else ModelGuess(None, tied)


def _rank(fit: ModelFit) -> tuple[bool, int]:
    return fit.fits, fit.matched


def _best(fits: list[ModelFit]) -> ModelFit | None:
    """The model whose required columns are present and that uses most columns."""
    best = max(fits, key=_rank)
    return best if best.matched else None


def _read_all(source: RowSource) -> RowStats:
    """Count and sample the rows; a reader that stopped early has ended normally and says
    where in `stopped`, which `inspect` shows as it shows rows that cannot be read."""
    stats = RowStats()
    for row in source:
        stats.rows += 1
        if len(stats.sample) < SAMPLE_ROWS:
            stats.sample.append(row)
        if row.error is not None:
            stats.rows_with_errors += 1
            if len(stats.first_errors) < SAMPLE_ROWS:
                stats.first_errors.append(row)
    stats.stopped = source.stopped
    return stats
