"""Parent links must cost no more than about the rows themselves (SPEC §12.4).

    python benchmarks/parents.py [--rows 100000] [--repeat 1] [--shapes none,cycle,chain]
        [--keep-data DIR]

Imports N accounts into a fresh SQLite database in three shapes and compares each
with the first:

- none:  no parent_account values at all (the reference);
- cycle: row i's parent is row i+1's account, the last row's is the first's: one
  N-account cycle, so every row must fail ("would make a cycle of parent accounts");
- chain: row i's parent is row i+1's account, the last row has none: a forward chain
  N deep, every row waiting for the one after it.

Target: cycle and chain each within 2x the wall time of none. The issue measured the
cycle at 5 s for 5,000 rows, 87 s for 20,000, and over 17 minutes for 100,000.
Every run is checked (exit status, the JSON report's counts, accounts and parent links
counted with raw SQL), as benchmarks/run.py does: a fast wrong import is not a result.
Exit status: 0 every target met, 1 a target missed, 2 a run failed or miscounted.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import machine
from accounts_data import BUSINESS_GROUPS, GROUPS
from checks import Expected, check_import
from databases import Counts, sqlite_url
from measure import BenchmarkError, Measurement, run_measured, run_setup

SHAPES = ("none", "cycle", "chain")
TARGET_RATIO = 2.0  # wall time of a shape / wall time of "none"
COLUMNS = ("account_number", "name", "customer_group", "parent_account", "website")


def number(i: int) -> str:
    return f"P-{i:08d}"


def parent_of(i: int, rows: int, shape: str) -> str:
    if shape == "none" or (shape == "chain" and i == rows - 1):
        return ""
    return number((i + 1) % rows)


def write_accounts(path: Path, rows: int, shape: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            group = BUSINESS_GROUPS[i % len(BUSINESS_GROUPS)]
            website = f"www.company-{i}.example.com"
            writer.writerow([number(i), f"Company {i}", group, parent_of(i, rows, shape), website])


def expected(rows: int, shape: str) -> Expected:
    counts = dict.fromkeys(("created", "updated", "unchanged", "skipped", "failed"), 0)
    if shape == "cycle":
        return Expected(1, {**counts, "read": rows, "failed": rows}, Counts(0, 0, 0))
    links = rows - 1 if shape == "chain" else 0
    return Expected(0, {**counts, "read": rows, "created": rows}, Counts(rows, links, 0))


def custimport_command() -> tuple[str, ...]:
    """The console script beside the interpreter running us (the venv's), else `python -m`."""
    script = Path(sys.executable).with_name("custimport")
    return (str(script),) if script.is_file() else (sys.executable, "-m", "custimport")


class Bench:
    def __init__(self, workdir: Path, rows: int) -> None:
        self.workdir = workdir
        self.rows = rows
        self.custimport = custimport_command()
        self.groups = workdir / "groups.csv"
        with self.groups.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([("name", "group_type"), *GROUPS])

    def files(self, shapes: list[str]) -> Iterator[tuple[str, Path]]:
        for shape in shapes:
            path = self.workdir / f"{shape}-{self.rows}.csv"
            if not path.exists():
                write_accounts(path, self.rows, shape)
            yield shape, path

    def measure(self, shape: str, path: Path, repetition: int) -> Measurement:
        database = self.workdir / f"{shape}-{repetition}.db"
        database.unlink(missing_ok=True)
        url = sqlite_url(database)
        run_setup([*self.custimport, "db", "upgrade", "--db", url], self.workdir)
        groups = [*self.custimport, str(self.groups), "--model", "CustomerGroup", "--db", url]
        run_setup([*groups, "--quiet"], self.workdir)
        command = [*self.custimport, str(path), "--model", "Account", "--db", url]
        run = run_measured(shape, [*command, "--quiet", "--json"], self.workdir, self.rows)
        check_import(run, expected(self.rows, shape), url)
        return run


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    shapes = ["none", *[s for s in args.shapes if s != "none"]]
    workdir = args.keep_data or Path(tempfile.mkdtemp(prefix="custimport-parents-"))
    workdir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[Measurement]] = {shape: [] for shape in shapes}
    load_at_start = machine.load_average()
    try:
        bench = Bench(workdir, args.rows)
        for repetition in range(1, args.repeat + 1):  # shapes alternate: noise hits all alike
            for shape, path in bench.files(shapes):
                run = bench.measure(shape, path, repetition)
                runs[shape].append(run)
                print(
                    f"  {shape:<6} {run.seconds:8.2f} s {run.rows_per_s:>10,.0f} rows/s"
                    f" {run.peak_rss_mb:8.1f} MiB",
                    flush=True,
                )
    except BenchmarkError as error:
        print(f"\nBENCHMARK ABORTED: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep_data is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"\nload average: {_load(load_at_start)} at start, {_load(machine.load_average())} at end"
    )
    return _table(args.rows, runs)


def _table(rows: int, runs: dict[str, list[Measurement]]) -> int:
    median = {shape: statistics.median(run.seconds for run in done) for shape, done in runs.items()}
    print(f"\n{rows:,} accounts, median wall time of {len(runs['none'])} run(s)\n")
    print("| shape | seconds | rows/s | time / none | peak RSS MiB | target | result |")
    print("|---|---:|---:|---:|---:|---|---|")
    passed = True
    for shape, seconds in median.items():
        ratio = seconds / median["none"]
        ok = shape == "none" or ratio <= TARGET_RATIO
        passed = passed and ok
        target = "-" if shape == "none" else f"<= {TARGET_RATIO:.1f}x"
        result = "-" if shape == "none" else ("PASS" if ok else "FAIL")
        peak = max(run.peak_rss_mb for run in runs[shape])
        print(
            f"| {shape} | {seconds:.2f} | {rows / seconds:,.0f} | {ratio:.2f}x | {peak:.0f} "
            f"| {target} | {result} |"
        )
    return 0 if passed else 1


def _load(value: float | None) -> str:
    """Above the number of CPUs, something else competed for them: rates are not to trust."""
    return "unknown" if value is None else f"{value:.2f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="accounts per file")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions; medians are reported")
    parser.add_argument(
        "--shapes", type=lambda text: text.split(","), default=list(SHAPES), help="none,cycle,chain"
    )
    parser.add_argument("--keep-data", type=Path, help="keep files and databases here")
    return parser


if __name__ == "__main__":
    sys.exit(main())
