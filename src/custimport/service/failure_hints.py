"""What to do when rows fail for a reason the user can fix at once (SPEC §11).

Two mistakes make every row fail and are plain from outside the rows: importing accounts
before any customer group exists, and importing a file as the wrong model. The first is
told by the database (no group at all), the second by the header, judged by the same
model fit `inspect` uses (service/inspecting.py), so the two never disagree.
"""

from collections.abc import Mapping

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from custimport.rows.modes import Mode, required_columns
from custimport.rows.reasons import reason_of
from custimport.run.job import ImportReport
from custimport.schemas import ModelSpec, model_spec
from custimport.service.inspecting import ModelFit, best_fitting, fits_of_models
from custimport.store import repository

# the kind of rows/accounts.py's "unknown customer group 'X' (did you mean 'Y'?)"
UNKNOWN_GROUP = reason_of("customer_group", "unknown customer group 'X'")
NO_GROUPS = (
    "no customer group exists yet: import your groups first "
    "(custimport groups.csv --model CustomerGroup)"
)
MOSTLY = 0.9  # the share of failed rows that makes a better fitting model worth naming


def looks_like(
    spec: ModelSpec, header: list[str], mapping: Mapping[str, str | None] | None
) -> str | None:
    """For a header without `spec`'s required columns: the model whose required
    columns it has, as advice to end the one-line error with (None: no such model)."""
    fits = [fit for fit in fits_of_models(header, mapping) if fit.model != spec.name]
    other = best_fitting(fits)
    if other is None:
        return None
    return (
        f"this looks like {_a(other.model)} file (it has {', '.join(_required_present(other))})"
        f": use --model {other.model}"
    )


def add_group_hint(conn: Connection, report: ImportReport, shared: bool = False) -> None:
    """Rows failed for an unknown group, and there is no group at all: say what comes first.
    `shared`: the connection's transaction holds the rows of several files, not yet
    committed (service/one_transaction.py): the read stays in it."""
    if report.aborted or UNKNOWN_GROUP not in report.reasons:
        return
    try:
        none_yet = not repository.all_groups(conn)
        if not shared:
            conn.rollback()  # the read's transaction, on SQLite a lock
    except SQLAlchemyError:  # the import ended already; the hint is not worth an error
        return
    if none_yet:
        report.warnings.append(NO_GROUPS)


def add_model_hint(
    report: ImportReport, header: list[str], mapping: Mapping[str, str | None] | None
) -> None:
    """Most rows failed, and another model's required columns are in the header, which
    it uses more of than the model imported: name it."""
    read, failed = report.counts.read, report.counts.failed
    if not read or failed < MOSTLY * read:
        return
    spec = report.request.spec
    fits = fits_of_models(header, mapping)
    matched = next((fit.matched for fit in fits if fit.model == spec.name), 0)
    other = best_fitting([fit for fit in fits if fit.model != spec.name and fit.matched > matched])
    if other is None:
        return
    report.warnings.append(
        f"{failed:,} of {read:,} rows failed, and the file fits {other.model} better than "
        f"{spec.name} (it has {', '.join(_required_present(other))}): "
        f"was --model {other.model} meant?"
    )


def _required_present(fit: ModelFit) -> list[str]:
    """The fields the model needs to create a record, which the header has."""
    spec = model_spec(fit.model)
    assert spec is not None, "a fit is for a known model"
    present = set(fit.columns.values())
    required = [f for alts in required_columns(spec, Mode.CREATE_UPDATE) for f in alts]
    return [f for f in required if f in present]


def _a(model: str) -> str:
    return f"an {model}" if model[0] in "AEIOU" else f"a {model}"
