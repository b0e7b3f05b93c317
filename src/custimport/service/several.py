"""Several files in one command (SPEC §11): each imported as a run of its own, in order.

Every file's header is read, its model guessed as `inspect` guesses it
(service/inspecting.py) when --model is not given, and checked as its import will check
it, all before the first file is imported: a file whose model cannot be told apart, or that
lacks required columns, is exit 2 with nothing written. The files are then imported one by
one, CustomerGroup, then Account, then Contact (files of one model in the order given),
each as its own run (SPEC §8) with its own report.

A file that ends with nothing imported for a usage problem, or that was aborted (the
database failed) or interrupted, stops the rest: later files refer to its records (an
account to its group, a contact to its account), so importing them would only fail their
rows. They are reported as not imported. A file with failed rows does not stop the rest.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

from custimport.errors import MissingColumnsError, UsageError, visible
from custimport.io.formats import open_source
from custimport.rows.mapping import load_mapping_file
from custimport.run.job import ImportRequest, Observer
from custimport.schemas import MODELS, ModelSpec, model_spec
from custimport.service.importing import check_header, run_import
from custimport.service.inspecting import ModelFit, fits_of_models, guess_model
from custimport.service.several_job import FileOutcome, GivenFile, SeveralReport

MODEL_ORDER = [spec.name for spec in MODELS.values()]  # CustomerGroup, Account, Contact


def plan(given: Sequence[GivenFile], options: ImportRequest) -> list[ImportRequest]:
    """One request per file, in the order to import them; `options` are every file's (its
    path, model and name are each file's). Raises a UsageError naming the file for a
    file that cannot be imported, before anything is written."""
    mapping = load_mapping_file(options.mapping_path) if options.mapping_path else None
    if mapping is not None and any(file.spec is None for file in given):
        raise UsageError(
            "--mapping with several files needs --model: a mapping is one model's, and "
            "every file is then imported as that model"
        )
    models = {file.spec.name for file in given if file.spec is not None}
    if mapping is not None and len(models) > 1:
        names = ", ".join(sorted(models, key=MODEL_ORDER.index))
        raise UsageError(
            f"--mapping applies to every file, and these files are of {len(models)} models "
            f"({names}): import each model's files with its own mapping"
        )
    requests = []
    for file in given:
        shown = file.shown_as or file.path
        try:
            header = _header(file, options)
            spec = file.spec or _guessed(header)
            request = replace(
                options, path=file.path, spec=spec, shown_as=file.shown_as, alone=False
            )
            _check_header(request, header, guessed=file.spec is None, bundle=file.in_bundle)
        except UsageError as exc:
            raise UsageError(_naming(shown, str(exc))) from None
        requests.append(request)
    return sorted(requests, key=lambda r: MODEL_ORDER.index(r.spec.name))


def _check_header(request: ImportRequest, header: list[str], guessed: bool, bundle: bool) -> None:
    """The import's own check; for a model guessed from the header, or given by a bundle's
    manifest, saying where the model came from (--model is no remedy for either)."""
    try:
        check_header(request, header)
    except MissingColumnsError as exc:
        model = request.spec.name
        if bundle:
            raise UsageError(_not_the_manifests_model(request.spec, header)) from None
        if not guessed:
            raise
        raise UsageError(
            f"its header looks most like {model}'s (as `custimport inspect` shows), "
            f"but {exc}; give --model if it holds another model"
        ) from None


def _not_the_manifests_model(spec: ModelSpec, header: list[str]) -> str:
    fits = fits_of_models(header, None)
    missing = next(fit for fit in fits if fit.model == spec.name).missing_required
    message = (
        f"the bundle's manifest.json gives it the model {spec.name}, but it lacks "
        f"{spec.name}'s required columns ({', '.join(missing)})"
    )
    other = guess_model(fits).best
    if other is not None and other.fits and other.model != spec.name:
        message += f'; its header is {other.model}\'s: correct its "model" in the manifest'
    return f"{message}; nothing was imported"


def _naming(file: Path, message: str) -> str:
    """The message, saying which of the files it is about (most name it already)."""
    shown = visible(str(file))
    return message if shown in message else f"{shown}: {message}"


def _header(file: GivenFile, options: ImportRequest) -> list[str]:
    with open_source(
        file.path,
        format=options.format,
        encoding=options.encoding,
        delimiter=options.delimiter,
        sheet=options.sheet,
        header_row=options.header_row,
        name=file.shown_as,
    ) as source:
        return source.info.header


def _guessed(header: list[str]) -> ModelSpec:
    """The model `inspect` shows for this header (service/inspecting.py guess_model);
    no column of any model, or two models that fit equally well, cannot be told apart."""
    guess = guess_model(fits_of_models(header, None))
    if guess.tied:
        raise UsageError(
            f"cannot tell which model this file holds: its header fits {_names(guess.tied)} "
            "equally well; import it on its own with --model"
        )
    if guess.best is None:
        raise UsageError(
            "cannot tell which model this file holds: no column of its header is a field of "
            "any model (`custimport inspect FILE` shows why); give --model"
        )
    spec = model_spec(guess.best.model)
    assert spec is not None, "a fit is for a known model"
    return spec


def _names(fits: list[ModelFit]) -> str:
    names = [fit.model for fit in fits]
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def run_several(
    requests: Sequence[ImportRequest],
    observer_for: Callable[[ImportRequest], AbstractContextManager[Observer]],
) -> SeveralReport:
    """Import the files in order, each with its own observer, until one stops the rest.
    A first file refused with nothing written raises its UsageError (the one line of
    exit 2); a later one is reported with the files before it."""
    result = SeveralReport([FileOutcome(request) for request in requests])
    for outcome in result.outcomes:
        with observer_for(outcome.request) as observer:
            try:
                outcome.report = run_import(outcome.request, observer)
            except UsageError as exc:
                if not result.reports:
                    raise
                outcome.refused = _naming(outcome.request.shown_path, str(exc))
                break
        report = outcome.report
        if report.aborted or report.interrupted_exit is not None:
            break
    return result
