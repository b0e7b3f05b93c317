"""Benchmark custimport against raw-driver baselines on the same generated files, same run.

    python benchmarks/run.py --rows 100000 [--repeat 3] [--postgres-url URL]
        [--scenarios create,unchanged,update,invalid,contacts,memory,create_no_undo,
                     update_no_undo,update_rules,update_changes,undo_create,undo_update,
                     postgres,match_name]
        [--keep-data DIR] [--json-out FILE] [--seed S] [--data-dir DIR]

Prints the machine and a markdown table (median rows/s, ratio to the baseline,
target, peak RSS, PASS/FAIL or info). Exit status: 0 every target met, 1 a target
missed, 2 no trustworthy result (a run failed or miscounted; details on stderr).
The PostgreSQL database named by --postgres-url has its custimport tables
dropped before every run: give it a scratch database.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import machine
import report
import rules_scenarios
import table
from databases import postgres_version
from datasets import DataCache
from generate import DEFAULT_SEED
from measure import BenchmarkError
from scenarios import Inputs, Repetition, Results, Tools

HERE = Path(__file__).resolve().parent
SCENARIOS = (
    "create",
    "unchanged",
    "update",
    "invalid",
    "contacts",
    "memory",
    "create_no_undo",
    "update_no_undo",
    "update_rules",
    "update_changes",
    "undo_create",
    "undo_update",
    "postgres",
    "match_name",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    load_at_start = machine.load_average()
    scenarios = _scenarios(args)
    tools = Tools(sys.executable, _custimport_command())
    inputs = _inputs(
        # absolute: the runs it hands the files to work in folders of their own
        DataCache(args.data_dir.resolve(), args.seed),
        args.rows,
        args.invalid_fraction,
        scenarios,
    )
    results = Results()
    try:
        _run(tools, inputs, scenarios, args, results)
    except BenchmarkError as error:
        print(f"\nBENCHMARK ABORTED: {_redact(str(error), args.postgres_url)}", file=sys.stderr)
        return 2
    rows = report.summarise(results, scenarios)
    pg_version = postgres_version(args.postgres_url) if args.postgres_url else None
    info = machine.describe(tools.custimport, pg_version, load_at_start)
    print(f"\n{machine.markdown(info)}\n- rows: {args.rows:,}, repetitions: {args.repeat}\n")
    print(table.markdown(rows))
    notes = report.notes(results)
    print("", *notes, sep="\n")
    if args.json_out:
        _write_json(args, info, rows, results, notes)
    return 0 if table.passed(rows) else 1


def _run(
    tools: Tools, inputs: Inputs, scenarios: list[str], args: argparse.Namespace, results: Results
) -> None:
    """Each repetition in its own directory: fresh databases, so runs cannot help each other."""
    with _workspace(args.keep_data) as root:
        for number in range(1, args.repeat + 1):
            print(f"repetition {number}/{args.repeat}", flush=True)
            workdir = root / f"rep{number}"
            workdir.mkdir(parents=True, exist_ok=True)
            repetition = Repetition(tools, inputs, workdir, results)
            if set(scenarios) - {"postgres"}:
                repetition.run_sqlite(scenarios)
            if "postgres" in scenarios:
                repetition.run_postgres(args.postgres_url)
            if args.keep_data is None:
                shutil.rmtree(workdir)


def _inputs(cache: DataCache, rows: int, invalid: float, scenarios: list[str]) -> Inputs:
    """Generate (or reuse) only the files the selected scenarios need."""
    accounts, chosen, tenth = cache.accounts(rows), set(scenarios), max(rows // 10, 1)
    undo = bool(chosen & {"undo_create", "undo_update"})
    updates = bool(chosen & {"update", "update_no_undo", "undo_update", *rules_scenarios.RULES})
    return Inputs(
        groups=cache.groups(),
        accounts=accounts,
        update=cache.accounts(rows, "update") if updates else None,
        invalid=cache.accounts(rows, invalid=invalid) if "invalid" in chosen else None,
        contacts=cache.contacts(rows, accounts) if "contacts" in chosen else None,
        small=cache.accounts(tenth) if "memory" in chosen or undo else None,
        small_update=cache.accounts(tenth, "update") if "undo_update" in chosen else None,
    )


@contextmanager
def _workspace(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="custimport-bench-") as root:
        yield Path(root)


def _custimport_command() -> tuple[str, ...]:
    """The console script of the interpreter running us (the venv's), else `python -m`."""
    script = Path(sys.executable).with_name("custimport")
    if script.is_file():
        return (str(script),)
    found = shutil.which("custimport")
    return (found,) if found else (sys.executable, "-m", "custimport")


def _scenarios(args: argparse.Namespace) -> list[str]:
    chosen = args.scenarios or [s for s in SCENARIOS if s != "postgres" or args.postgres_url]
    if "postgres" in chosen and not args.postgres_url:
        raise SystemExit("error: the postgres scenario needs --postgres-url")
    return chosen


def _write_json(
    args: argparse.Namespace,
    info: dict[str, str],
    rows: list[table.Row],
    results: Results,
    notes: list[str],
) -> None:
    document: dict[str, Any] = {
        "machine": info,
        "settings": {"rows": args.rows, "repeat": args.repeat, "seed": args.seed},
        "table": [row.as_json() for row in rows],
        "notes": notes,
        "runs": {
            f"{scenario}/{side}": [run.as_json() for run in runs]
            for (scenario, side), runs in results.runs.items()
        },
    }
    text = _redact(json.dumps(document, indent=2, ensure_ascii=False), args.postgres_url)
    args.json_out.write_text(text + "\n", encoding="utf-8")
    print(f"\nresults written to {args.json_out}")


def _redact(text: str, url: str | None) -> str:
    """Never write the PostgreSQL password into a results file or an error message."""
    password = re.search(r"://[^:/@]+:([^@]+)@", url or "")
    return text.replace(password.group(1), "***") if password else text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=_positive, default=100_000, help="account rows (and contact rows)"
    )
    parser.add_argument(
        "--repeat", type=_positive, default=3, help="repetitions; medians are reported"
    )
    parser.add_argument(
        "--scenarios", type=_scenario_list, help=f"comma-separated, of {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--postgres-url",
        help="postgresql+psycopg:// URL of a scratch database (its tables are dropped)",
    )
    parser.add_argument("--keep-data", type=Path, help="keep databases and error logs here")
    parser.add_argument("--data-dir", type=Path, default=HERE / "data", help="generated-file cache")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    parser.add_argument(
        "--invalid-fraction", type=float, default=0.01, help="broken rows in the invalid file"
    )
    parser.add_argument("--json-out", type=Path, help="also save every measurement as JSON")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _scenario_list(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SCENARIOS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SCENARIOS)}")
    return chosen


if __name__ == "__main__":
    sys.exit(main())
