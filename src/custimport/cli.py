"""The command line: options → one service call → reporting; errors → exit codes (SPEC §2).

`custimport FILE --model M` is the import command without its name: the group
class below routes any first argument that is not a command to `import`.
"""

import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from custimport.config import DEFAULT_BATCH_SIZE, __version__, masked_url, resolve_database_url
from custimport.errors import SchemaBehindError, UsageError, visible
from custimport.io import export_output
from custimport.report import console, files, progress, summary
from custimport.report import duplicates as duplicates_report
from custimport.report import history as history_report
from custimport.report import inspection as inspection_report
from custimport.report import merge as merge_report
from custimport.report import several as several_report
from custimport.report import undo as undo_report
from custimport.rows.matching import in_effect
from custimport.rows.modes import Mode
from custimport.rows.phones import check_region
from custimport.schemas import MODELS, ModelSpec, model_spec
from custimport.service import bundles, history, several
from custimport.service.bundle_export import check_bundle_output, export_bundle
from custimport.service.duplicates import check_request as check_duplicates_request
from custimport.service.duplicates import find_duplicates
from custimport.service.duplicates_job import DEFAULT_THRESHOLD, DuplicatesRequest
from custimport.service.export_job import ExportRequest
from custimport.service.exporting import ExportInterrupted, OutputClosedError, run_export
from custimport.service.importing import ImportRequest, run_import
from custimport.service.inspecting import InspectRequest, inspect_file
from custimport.service.merge_job import MergeRequest
from custimport.service.merging import merge_records
from custimport.service.one_transaction import run_as_one
from custimport.service.several_job import GivenFile
from custimport.service.undoing import UndoInterrupted, UndoRequest, undo_run
from custimport.signals import interrupts_ignored
from custimport.store import db

EXIT_USAGE = 2
EXIT_SIGPIPE = 141  # what a shell reports for a writer whose reader went away
GROUP_OPTIONS = {"--help", "-h", "--version", "--install-completion", "--show-completion"}


# Typer's own (private) copy of click raises these for option errors; its public
# BadParameter derives from them, which is how they are reached without importing it.
_USAGE_ERROR_BASES = {"ClickException", "Abort"}
_TYPER_ERRORS = tuple(c for c in typer.BadParameter.__mro__ if c.__name__ in _USAGE_ERROR_BASES)


class DefaultImportGroup(TyperGroup):
    """Make `import` the default command: `custimport FILE …` means `custimport import FILE …`.

    It also prints option errors (a missing `--model`, `--batch-size 0`) as one
    `Error:` line with exit 2, like every other usage problem (SPEC §12.8), instead
    of Typer's usage text and boxed message.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in GROUP_OPTIONS:
            args = ["import", *args]
        return super().parse_args(ctx, args)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except typer.Abort:
            console.error("aborted")
            sys.exit(1)
        except Exception as exc:
            if not isinstance(exc, _TYPER_ERRORS):
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help was shown: no error
                sys.stderr.write(exc.format_message() if hasattr(exc, "format_message") else "")
            else:
                console.error(_option_error_text(exc))
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _option_error_text(exc: Exception) -> str:
    """Typer's message, with a pointer to the help of the command it concerns."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    context = getattr(exc, "ctx", None)
    where = f"; see `{context.command_path} --help`" if context is not None else ""
    return f"{message.rstrip('.')}{where}"


app = typer.Typer(
    cls=DefaultImportGroup,
    pretty_exceptions_show_locals=False,  # locals would show a database URL with its password
    no_args_is_help=True,
    add_completion=False,
    help="Import customer groups, accounts and contacts from spreadsheet files into SQL.",
)
db_app = typer.Typer(
    pretty_exceptions_show_locals=False, no_args_is_help=True, help="Manage the database schema."
)
app.add_typer(db_app, name="db")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy URL; else $CUSTIMPORT_DATABASE_URL; else the embedded SQLite file.",
        show_default=False,
    ),
]


MappingOption = Annotated[
    Path | None,
    typer.Option(help="JSON file: column name → field name (null ignores a column)."),
]
PolicyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--policy",
        metavar="FIELD=POLICY",
        help="When an update may write FIELD: overwrite, if_empty or on_create (repeatable).",
        show_default=False,
    ),
]
DefaultOption = Annotated[
    list[str] | None,
    typer.Option(
        "--default",
        metavar="FIELD=VALUE",
        help="VALUE where FIELD has no column (creates) or an empty cell (repeatable).",
        show_default=False,
    ),
]
EmptyCellsOption = Annotated[
    str | None,
    typer.Option(
        "--empty-cells",
        metavar="clear|keep",
        help="clear (default): an empty cell sets NULL; keep: it leaves the stored value.",
        show_default=False,
    ),
]
FormatOption = Annotated[str, typer.Option("--format", help="auto, csv, tsv, xlsx, json or jsonl.")]
EncodingOption = Annotated[str, typer.Option(help="auto, or a codec name such as utf-8 or cp1252.")]
DelimiterOption = Annotated[
    str | None, typer.Option(help="CSV delimiter; sniffed by default.", show_default=False)
]
SheetOption = Annotated[
    str | None, typer.Option(help="XLSX sheet name (default: the first).", show_default=False)
]
HeaderRowOption = Annotated[
    int | None,
    typer.Option(
        "--header-row",
        min=1,
        metavar="N",
        help="The header is line N (CSV/TSV) or sheet row N (XLSX); rows above are ignored.",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"custimport {installed_version()}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Import customer data from CSV, TSV, XLSX, JSON and JSONL files.

    Example: custimport accounts.csv --model Account
    """


def installed_version() -> str:
    """The package's version (pyproject.toml reads it from config.py):
    a constant, not importlib.metadata, which cost every command ~0.1 s to start."""
    return __version__


def _given_files(positional: list[Path] | None, options: list[str] | None) -> list[Path]:
    """FILE …, given as arguments or as `--file PATH` (the seed command's spelling)."""
    given = [str(path) for path in positional or []] + list(options or [])
    if not given:
        raise UsageError("no file given: name the file to import (or give --file PATH)")
    if "" in given:
        raise UsageError("--file needs a file name")
    return [Path(name) for name in given]


def _import_several(
    paths: list[Path],
    spec: ModelSpec | None,
    options: ImportRequest,
    error_log: Path | None,
    rejects: Path | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Several files, or a bundle (SPEC §11): every file planned and checked, then each
    imported in order; the exit status is the worst of the files'."""
    _check_several(paths, options)
    with ExitStack() as stack:
        given: list[GivenFile] = []
        for path in paths:
            if not bundles.is_bundle(path):
                given.append(GivenFile(path, spec))
                continue
            if spec is not None and not bundles.has_manifest(path):
                given.append(GivenFile(path, spec))  # a folder given as a file: said so
                continue
            if spec is not None:
                raise UsageError(
                    f"{visible(str(path))} is a bundle: its manifest gives each file's model; "
                    "leave --model out"
                )
            given += stack.enter_context(bundles.opened_bundle(path))
        requests = several.plan(given, options)
        sinks = several_report.SeveralSinks(requests, error_log, rejects, datetime.now())
        sinks.check_locations()
        show = not quiet and not as_json
        run = run_as_one if options.atomic or options.dry_run else several.run_several
        result = run(requests, lambda request: sinks.observer(request, show))
    with interrupts_ignored():
        several_report.print_several(result, sinks, as_json=as_json, quiet=quiet)
    return result.exit_code


def _check_several(paths: list[Path], options: ImportRequest) -> None:
    """What one command does not do with several files, or not yet."""
    if any(str(path) == "-" for path in paths) and len(paths) > 1:
        raise UsageError("standard input (-) cannot be one of several files: save it to a file")
    if options.resume:
        raise UsageError("--resume goes on with one file: name that file alone (with --model)")
    if options.changes_path is not None:
        raise UsageError("--changes writes one file's changes: import the files one by one")


def _phone_region(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return check_region(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _no_model(path: Path) -> None:
    """One file without --model: first whether it is there at all (as with --model)."""
    if str(path) != "-" and not path.exists() and not path.is_symlink():
        raise UsageError(f"{visible(str(path))}: no such file")
    raise UsageError("Missing option '--model' / '-m'; see `custimport import --help`")


def _model(value: str) -> ModelSpec:
    spec = model_spec(value)
    if spec is None:
        names = ", ".join(s.name for s in MODELS.values())
        raise UsageError(f"unknown model {value!r}; use one of {names}")
    return spec


@app.command("import")
def import_command(
    file: Annotated[
        list[Path] | None,
        typer.Argument(
            help="The files to import (- reads standard input; .gz and .zip are read inside; "
            "a bundle's .zip or folder imports its files).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Account, Contact or CustomerGroup (any case)."),
    ] = None,
    mode: Annotated[str, typer.Option(help=f"One of {', '.join(Mode)}.")] = "create_update",
    mapping: MappingOption = None,
    database: DbOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do everything, then roll back.")
    ] = False,
    atomic: Annotated[
        bool, typer.Option("--atomic", help="All or nothing: any failed row rolls back the import.")
    ] = False,
    max_errors: Annotated[
        int | None, typer.Option(min=1, help="Stop reading after N failed rows.")
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows per write batch.")
    ] = DEFAULT_BATCH_SIZE,
    format: FormatOption = "auto",
    encoding: EncodingOption = "auto",
    delimiter: DelimiterOption = None,
    sheet: SheetOption = None,
    header_row: HeaderRowOption = None,
    error_log: Annotated[
        Path | None,
        typer.Option(help="Where the error log goes (file or folder).", show_default=False),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Also write failed rows as a CSV with an error column.", show_default=False
        ),
    ] = None,
    json_report: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")
    ] = False,
    no_undo: Annotated[
        bool,
        typer.Option("--no-undo", help="Record the run but not its changes (it cannot be undone)."),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Go on after the last line an interrupted run of this file committed.",
        ),
    ] = False,
    changes_file: Annotated[
        str | None,
        typer.Option(
            "--changes",
            metavar="FILE",
            help="Write every change it makes (with --dry-run: would make) as CSV.",
            show_default=False,
        ),
    ] = None,
    policy: PolicyOption = None,
    default: DefaultOption = None,
    empty_cells: EmptyCellsOption = None,
    allow_new_keys: Annotated[
        bool,
        typer.Option(
            "--allow-new-keys",
            help="Create accounts whose number looks like a stored one a spreadsheet damaged.",
        ),
    ] = False,
    phone_region: Annotated[
        str | None,
        typer.Option(
            "--phone-region",
            metavar="CC",
            help="Store valid phone numbers in E.164, read as numbers of this country (GB, US…).",
            show_default=False,
        ),
    ] = None,
    file_option: Annotated[
        list[str] | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="The file to import, as the Django command this tool replaces took it.",
            show_default=False,
        ),
    ] = None,
    match_on: Annotated[
        str | None,
        typer.Option(
            "--match-on",
            metavar="FIELDS",
            help="What rows find their record by: Account account_number (default), name, "
            "website or name,website; Contact email (default), name or phone.",
            show_default=False,
        ),
    ] = None,
    account_ref: Annotated[
        str | None,
        typer.Option(
            "--account-ref",
            metavar="FIELD",
            help="What parent_account (Account) and account (Contact) name: "
            "account_number (default), name or website.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import FILE into the database; several files (or a bundle) in the order
    CustomerGroup, Account, Contact, each file's model guessed from its header.

    Example: custimport import accounts.csv --model Account --mode create_only
    Example: custimport contacts.csv accounts.csv groups.csv
    """
    paths: list[Path] = _guarded(lambda: _given_files(file, file_option))
    given_spec: ModelSpec | None = _guarded(lambda: _model(model)) if model is not None else None
    several_files = len(paths) > 1 or bundles.is_bundle(paths[0])
    if given_spec is None and not several_files:
        _guarded(lambda: _no_model(paths[0]))
    spec: ModelSpec = given_spec or MODELS["customergroup"]  # several: each file's, once planned
    url = resolve_database_url(database)
    sinks = files.FileSinks(spec.name, error_log, rejects, datetime.now())
    own_files = {
        "file imported": paths[0],
        "error log": sinks.log_target,
        "rejects file": sinks.rejects_target,
        "database": _sqlite_path(url),
    }
    if json_report:  # the JSON report goes to stdout
        own_files["standard output, where --json prints the report"] = Path("/dev/stdout")
    changes_path = _guarded(lambda: _change_file_path(changes_file, own_files))
    request = ImportRequest(
        path=paths[0],
        spec=spec,
        database_url=url,
        mode=mode.lower(),
        mapping_path=mapping,
        dry_run=dry_run,
        atomic=atomic,
        max_errors=max_errors,
        batch_size=batch_size,
        format=format.lower(),
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        header_row=header_row,
        journal=not no_undo,
        resume=resume,
        version=installed_version(),
        changes_path=changes_path,
        policies=tuple(policy or ()),
        defaults=tuple(default or ()),
        empty_cells=empty_cells,
        phone_region=_guarded(lambda: _phone_region(phone_region)),
        allow_new_keys=allow_new_keys,
        match_on=match_on,
        account_ref=account_ref,
    )
    if several_files:
        outputs = (error_log, rejects, json_report, quiet)
        raise typer.Exit(_guarded(lambda: _import_several(paths, given_spec, request, *outputs)))
    _guarded(lambda: in_effect(spec.name, match_on, account_ref))
    _guarded(sinks.check_locations)
    reporter = progress.Reporter(sinks, show_progress=not quiet and not json_report)
    try:
        report = _guarded(lambda: run_import(request, reporter))
    finally:
        reporter.close()
    with interrupts_ignored():
        summary.print_outcome(report, sinks, as_json=json_report, quiet=quiet)
    raise typer.Exit(report.exit_code)


def _change_file_path(given: str | None, others: dict[str, Path | None]) -> Path | None:
    """--changes FILE, checked before anything is read: a new file (never one that exists),
    a device, a named pipe, or a link in /dev or /proc; never one of the import's own
    files (`others`: the input, the error log, …), even through a /dev/fd link."""
    if given is None:
        return None
    path = export_output.output_path(given, "--changes")
    for what, other in others.items():
        if export_output.same_file(path, other):
            raise UsageError(f"--changes {visible(given)} is the {what}; name another file")
    export_output.check_output(path, force=False, option="--changes", can_force=False)
    return path


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another engine or an in-memory database)."""
    if not url.startswith("sqlite:///") or url in ("sqlite://", "sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


@app.command("undo")
def undo_command(
    run: Annotated[int, typer.Argument(help="The run to reverse (see `custimport runs`).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what undo would do; change nothing.")
    ] = False,
    skip_conflicts: Annotated[
        bool,
        typer.Option("--skip-conflicts", help="Reverse all but the conflicts, and list those."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    database: DbOption = None,
) -> None:
    """Reverse a run: delete the rows it created, restore the fields it updated.

    All or nothing: a row changed since the run is a conflict, and then nothing is changed.
    Example: custimport undo 12 --dry-run
    """
    url = resolve_database_url(database)
    request = UndoRequest(run, url, dry_run, skip_conflicts, installed_version())
    try:
        report = _guarded(lambda: undo_run(request))
    except UndoInterrupted as exc:
        console.error("interrupted: nothing was changed")
        raise typer.Exit(exc.exit_code) from None
    with interrupts_ignored():
        undo_report.print_undo(report, as_json=json_output)
    raise typer.Exit(report.exit_code)


@app.command("export")
def export_command(
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Account, Contact or CustomerGroup (any case)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: stdout).", show_default=False),
    ] = None,
    format: Annotated[
        str,
        typer.Option("--format", help="csv, tsv, xlsx, json or jsonl; auto: by -o's extension."),
    ] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o file.")] = False,
    database: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No count on stderr.")] = False,
    every_model: Annotated[
        bool,
        typer.Option(
            "--all", help="Every model as a bundle: -o backup.zip or -o DIR (a new folder)."
        ),
    ] = False,
) -> None:
    """Write every record of a model in the columns and form the import reads back unchanged.

    Example: custimport export --model Account -o accounts.xlsx
    Example: custimport export --all -o backup.zip
    """
    if every_model:
        _export_bundle(model, output, format, force, database, quiet)
        return
    if model is None:
        _guarded(_no_export_model)
    assert model is not None
    spec: ModelSpec = _guarded(lambda: _model(model))
    request = ExportRequest(spec, resolve_database_url(database), output, format, force)
    try:
        result = _guarded(lambda: run_export(request, sys.stdout.buffer))
    except OutputClosedError:
        _silence_stdout()
        raise typer.Exit(EXIT_SIGPIPE) from None
    except ExportInterrupted as exc:
        console.error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    if not quiet:
        summary.print_export_done(result)


def _no_export_model() -> None:
    raise UsageError("Missing option '--model' / '-m' (or --all for every model as a bundle)")


def _export_bundle(
    model: str | None,
    output: Path | None,
    format: str,
    force: bool,
    database: str | None,
    quiet: bool,
) -> None:
    """`export --all`: the bundle of SPEC §11, in one snapshot of the database."""
    if model is not None or output is None or format.lower() not in ("auto", "csv"):
        _guarded(_bundle_usage)
    assert output is not None
    _guarded(lambda: check_bundle_output(output, force))
    url = resolve_database_url(database)
    try:
        result = _guarded(lambda: export_bundle(url, output, force, installed_version()))
    except ExportInterrupted as exc:
        console.error(f"export interrupted: nothing was written to {output}")
        raise typer.Exit(exc.exit_code) from None
    if not quiet:
        several_report.print_bundle_done(result)


def _bundle_usage() -> None:
    raise UsageError(
        "--all writes every model as a bundle of CSV files: give -o backup.zip or -o DIR, "
        "and neither --model nor --format"
    )


def _silence_stdout() -> None:
    """After a closed pipe, send what is still buffered nowhere instead of into a traceback."""
    with suppress(OSError, ValueError):  # not a real file descriptor (tests)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# --- import history (SPEC §8): `runs`, `runs show`, `runs prune` ---------------------------

runs_app = typer.Typer(
    pretty_exceptions_show_locals=False,
    help="The import history: list runs, show one with its changes, prune old changes.",
)
app.add_typer(runs_app, name="runs")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


@runs_app.callback(invoke_without_command=True)
def runs_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many runs to list.")] = 20,
    json_output: JsonOption = False,
    database: DbOption = None,
) -> None:
    """List the latest imports, newest first: counts, status, duration, user.

    Example: custimport runs --limit 5
    """
    if ctx.invoked_subcommand is not None:  # `runs --db URL show 3`: the command's defaults
        ctx.obj = {"db": database, "json": json_output}
        return
    url = resolve_database_url(database)
    _history_output(lambda: _list_runs(url, limit, json_output))


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="The run's number (see `custimport runs`).")],
    changes: Annotated[bool, typer.Option("--changes", help="Add its field changes.")] = False,
    output_name: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write its field changes as CSV.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o file.")] = False,
    json_output: JsonOption = False,
    database: DbOption = None,
) -> None:
    """Show one run; --changes lists every field it wrote, before and after.

    Example: custimport runs show 12 --changes -o run12.csv
    """
    defaults = ctx.obj or {}
    url = resolve_database_url(database or defaults.get("db"))
    as_json = json_output or bool(defaults.get("json"))
    _guarded(lambda: history.check_run_number(run))
    output = None
    if output_name is not None:
        output = _guarded(lambda: export_output.output_path(output_name))
        _guarded(lambda: export_output.check_output(output, force))
    _history_output(lambda: _show_run(url, run, changes, output, force, as_json), output)


@runs_app.command("prune")
def runs_prune(
    ctx: typer.Context,
    older_than: Annotated[
        int,
        typer.Option(
            "--older-than",
            min=0,
            max=history.MAX_DAYS,
            help="Prune runs started more than DAYS ago.",
        ),
    ],
    database: DbOption = None,
) -> None:
    """Delete the recorded changes (personal data) of old runs; their summaries stay.

    A pruned run can no longer be undone. Ctrl-C stops it after the chunk in flight; the
    next prune finishes. Example: custimport runs prune --older-than 90
    """
    url = resolve_database_url(database or (ctx.obj or {}).get("db"))
    result = _guarded(lambda: _prune(url, older_than))
    history_report.print_pruned(result, older_than)
    if result.interrupted is not None:
        raise typer.Exit(result.interrupted)


def _prune(url: str, days: int) -> history.PruneResult:
    with history.opened(url) as found:
        return found.prune(days)


def _list_runs(url: str, limit: int, as_json: bool) -> None:
    with history.opened(url) as found:
        if as_json:
            history_report.print_runs_json(found.runs(limit))
        else:
            history_report.print_runs(found.runs(limit), masked_url(url))


def _show_run(
    url: str, number: int, changes: bool, output: Path | None, force: bool, as_json: bool
) -> None:
    with history.opened(url) as found:
        run = found.run(number)
        written = None
        if output is not None:
            written = history_report.write_changes_csv(found.change_values(number), output, force)
        if as_json:
            history_report.print_run_json(run, found.changes(number) if changes else None)
        else:
            changed_rows = found.changed_rows(number)
            history_report.print_run(run, changed_rows)
            if changes:
                history_report.print_changes(run, found.changes(number), changed_rows)
    if output is not None and written is not None:
        history_report.print_written(output, written)


def _history_output(call: Any, output: Path | None = None) -> None:
    """`call` under _guarded, with a reader of stdout gone (`runs --json | head`) as export
    has it (exit 141), and a signal that stopped `-o` as one line with its exit status."""

    def closed_pipe_as_error() -> None:
        try:
            call()
        except BrokenPipeError:
            raise OutputClosedError() from None

    try:
        _guarded(closed_pipe_as_error)
    except OutputClosedError:
        _silence_stdout()
        raise typer.Exit(EXIT_SIGPIPE) from None
    except ExportInterrupted as exc:
        history_report.print_output_interrupted(output)
        raise typer.Exit(exc.exit_code) from None


@app.command("duplicates")
def duplicates_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Account or Contact (any case).")],
    threshold: Annotated[
        float,
        typer.Option(help="How alike two names must be to be reported, above 0 and up to 1."),
    ] = DEFAULT_THRESHOLD,
    output_name: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the pairs as CSV.", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing -o file.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the pairs as JSON.")] = False,
    database: DbOption = None,
) -> None:
    """List likely duplicate records as scored pairs with their reasons; changes nothing.

    Example: custimport duplicates --model Account --threshold 0.92 -o pairs.csv
    """
    spec = _guarded(lambda: _duplicates_model(model))
    _guarded(lambda: check_duplicates_request(spec, threshold))
    if output_name is not None and json_output:
        _guarded(_json_or_output)
    output = _guarded(lambda: _checked_output(output_name, force)) if output_name else None
    request = DuplicatesRequest(spec, resolve_database_url(database), threshold, output, force)
    result = _guarded(lambda: find_duplicates(request))

    def report() -> None:
        if output is not None:
            duplicates_report.write_pairs_csv(result, output, force)
        if json_output:
            duplicates_report.print_json(result)
        else:
            duplicates_report.print_pairs(result, output)

    _history_output(report, output)


@app.command("merge")
def merge_command(
    keep: Annotated[
        str,
        typer.Argument(
            metavar="KEEP",
            help="The record kept: an account_number, or ACCOUNT_NUMBER/EMAIL or "
            "ACCOUNT_NUMBER/First Last for a contact (as `duplicates` prints them).",
            show_default=False,
        ),
    ],
    duplicate: Annotated[
        str,
        typer.Argument(
            metavar="DUPLICATE",
            help="The record merged into KEEP, then deleted.",
            show_default=False,
        ),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Account or Contact (any case).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what the merge would do; change nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    database: DbOption = None,
) -> None:
    """Merge DUPLICATE into KEEP: move its contacts and child accounts, fill KEEP's empty
    fields, delete it. Recorded as a run: `custimport undo RUN` reverses it.

    Example: custimport merge --model Account ACME-1 ACME-2 --dry-run
    """
    spec = _guarded(lambda: _duplicates_model(model))
    url = resolve_database_url(database)
    request = MergeRequest(spec, keep, duplicate, url, dry_run, installed_version())
    report = _guarded(lambda: merge_records(request))
    with interrupts_ignored():
        merge_report.print_merge(report, as_json=json_output)
    raise typer.Exit(report.exit_code)


def _duplicates_model(value: str) -> ModelSpec:
    spec = model_spec(value)
    if spec is None:
        raise UsageError(f"unknown model {value!r}; use Account or Contact")
    return spec


def _json_or_output() -> None:
    raise UsageError("give -o FILE or --json, not both: the pairs go to one of them")


def _checked_output(given: str, force: bool) -> Path:
    path = export_output.output_path(given)
    export_output.check_output(path, force)
    return path


@app.command("inspect")
def inspect_command(
    file: Annotated[
        Path,
        typer.Argument(help="The file to inspect (- reads standard input).", show_default=False),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Check against this model (default: try each).",
            show_default=False,
        ),
    ] = None,
    mapping: MappingOption = None,
    format: FormatOption = "auto",
    encoding: EncodingOption = "auto",
    delimiter: DelimiterOption = None,
    sheet: SheetOption = None,
    header_row: HeaderRowOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    policy: PolicyOption = None,
    default: DefaultOption = None,
    empty_cells: EmptyCellsOption = None,
    suggest_mapping: Annotated[
        str | None,
        typer.Option(
            "--suggest-mapping",
            metavar="OUT.json",
            help="Write a mapping file with every column: matched, suggested or null "
            "(a new file; never replaced).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show how FILE would be read and mapped: format, encoding, rows, columns, first rows.

    Reads the whole file once and opens no database; writes nothing but --suggest-mapping.
    Example: custimport inspect crm_export.csv --model Account --mapping mapping.json
    Example: custimport inspect hubspot.csv --suggest-mapping mapping.json
    """
    spec = _guarded(lambda: _model(model)) if model else None
    request = InspectRequest(
        file,
        spec,
        mapping,
        format,
        encoding,
        delimiter,
        sheet,
        tuple(policy or ()),
        tuple(default or ()),
        empty_cells,
        suggest_mapping,
        header_row=header_row,
    )
    inspection = _guarded(lambda: inspect_file(request))
    if json_output:
        summary.print_json(inspection_report.inspection_json(inspection))
    else:
        inspection_report.print_inspection(inspection)


@db_app.command("upgrade")
def db_upgrade(database: DbOption = None) -> None:
    """Create or migrate the database schema to the latest revision.

    Example: custimport db upgrade --db postgresql+psycopg://user@host/crm
    """
    url = resolve_database_url(database)
    before, after = _guarded(lambda: _upgrade(url))
    if before == after:
        typer.echo(f"{masked_url(url)}: already at revision {after}")
    else:
        typer.echo(f"{masked_url(url)}: upgraded from {before or 'an empty database'} to {after}")


@db_app.command("current")
def db_current(database: DbOption = None) -> None:
    """Show the schema revision of the database and whether it is up to date.

    Example: custimport db current
    """
    url = resolve_database_url(database)
    revision, head = _guarded(lambda: _current(url))
    state = "up to date" if revision == head else "behind: run `custimport db upgrade`"
    typer.echo(f"{masked_url(url)}: revision {revision or 'none'} (latest {head}, {state})")


def _upgrade(url: str) -> tuple[str | None, str | None]:
    engine = db.make_engine(url)
    try:
        with db.translated_errors(url):
            return db.upgrade(engine)
    finally:
        engine.dispose()


def _current(url: str) -> tuple[str | None, str | None]:
    engine = db.make_engine(url)
    try:
        with db.translated_errors(url), engine.connect() as connection:
            return db.current_revision(connection), db.head_revision()
    finally:
        engine.dispose()


def _guarded(call: Any) -> Any:
    """Usage and input problems become one line on stderr and exit 2."""
    try:
        return call()
    except SchemaBehindError as exc:
        console.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except UsageError as exc:
        console.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        console.error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        raise typer.Exit(EXIT_USAGE) from None


def main() -> None:
    """Console-script entry point: whatever goes wrong, one line and no traceback."""
    try:
        app(prog_name="custimport")
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, without locals or secrets
        console.error(f"internal error ({type(exc).__name__}): {exc}; please report it")
        sys.exit(1)
