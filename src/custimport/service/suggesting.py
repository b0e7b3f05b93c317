"""`inspect --suggest-mapping OUT.json`: a mapping file proposed for a header (SPEC §11).

The only file `inspect` writes. Its place is checked before the input is read, with the
house rules of every output (io/export_output.py: a missing folder, a folder, a symbolic
link, an existing file are exit 2), except that it is never replaced: a mapping file is
edited by hand, and there is no --force. It is written to a private temporary file
renamed into place when complete, so a full disk leaves no half a mapping behind.
"""

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from custimport.errors import UsageError, visible
from custimport.io.export_output import check_output, destination, output_path, reason
from custimport.rows.change_rules import ChangeRules
from custimport.rows.mapping import ColumnMap
from custimport.rows.modes import Mode, required_columns
from custimport.rows.suggestions import ProposedMapping, propose_mapping
from custimport.schemas import ModelSpec, model_spec
from custimport.signals import StopFlag

MODE = Mode.CREATE_UPDATE  # as inspect: the import's default mode decides what is required


@dataclass(frozen=True)
class Suggestion:
    """The mapping `--suggest-mapping` wrote: for which model, and to which file."""

    path: Path
    mapping: ProposedMapping
    missing_required: list[str]  # still missing once the suggested columns are mapped


def suggestion_path(given: str | None) -> Path | None:
    """--suggest-mapping's file, refused (UsageError) before anything is read."""
    if given is None:
        return None
    path = output_path(given, "--suggest-mapping")
    check_output(path, force=False, option="--suggest-mapping", can_force=False)
    return path


def write_suggestion(
    path: Path,
    header: Sequence[str],
    mapping: Mapping[str, str | None],
    candidates: Sequence[tuple[str, ColumnMap | None]],
    rules: Mapping[str, ChangeRules | None],
) -> Suggestion:
    """Propose a mapping for the model of `candidates` (model, its column map) whose
    proposal is surest (inspect gives one, the model shown, unless no column matched any
    model) and write it; the policies and defaults given to inspect go into the file
    too, so that it imports as it is."""
    proposals = [
        propose_mapping(header, column_map, mapping, _spec(model).fields, model)
        for model, column_map in candidates
        if column_map is not None  # a model the mapping file does not fit
    ]
    proposal = max(proposals, key=lambda p: p.confidence)
    model_rules = rules.get(proposal.model)
    data: dict[str, object] = dict(proposal.as_file())
    if model_rules is not None and model_rules.given:
        data.update(model_rules.recorded())
    _write_json(path, data)
    return Suggestion(path, proposal, _still_missing(proposal, model_rules))


def _spec(model: str) -> ModelSpec:
    spec = model_spec(model)
    assert spec is not None
    return spec


def _still_missing(proposal: ProposedMapping, rules: ChangeRules | None) -> list[str]:
    """The required columns an import with the suggested mapping would still lack."""
    required = required_columns(_spec(proposal.model), MODE)
    if rules is not None:
        required = rules.still_required(required)
    present = {p.field for p in proposal.columns.values()}
    return [" or ".join(alts) for alts in required if not present.intersection(alts)]


def _write_json(path: Path, data: dict[str, object]) -> None:
    """A full disk, or a file that appeared meanwhile, is one line and leaves nothing."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    try:
        with destination(path, False, sys.stdout.buffer, StopFlag()) as out:
            out.write(text.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {visible(str(path))}: {reason(exc)}") from None
