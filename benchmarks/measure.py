"""Run one command and measure its wall time and peak resident memory.

Peak RSS is the larger of two numbers. One is `os.wait4`'s rusage for the child's
pid: the kernel's exact maximum for that process and its reaped descendants (what
`/usr/bin/time -v` prints as "Maximum resident set size"), unlike
`getrusage(RUSAGE_CHILDREN)`, whose maximum covers every child this process ever
reaped. But rusage gives the largest single process, and custimport may run a
worker process beside itself, so the other number is the summed RSS of the whole
tree, sampled from /proc while it runs (rss.py). Output goes to temporary files
rather than pipes, so waiting for the child cannot deadlock on a full pipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rss import TreeRssSampler


class BenchmarkError(Exception):
    """The benchmark cannot produce a trustworthy number (a command failed or miscounted)."""


@dataclass(frozen=True)
class Measurement:
    """One measured command run."""

    label: str
    command: tuple[str, ...]
    returncode: int
    seconds: float
    peak_rss_mb: float  # the whole process tree (sampled sum), at least the largest process
    largest_process_rss_mb: float  # from the kernel's rusage: the largest single process
    rows: int
    stdout: str
    stderr: str

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "command": list(self.command),
            "returncode": self.returncode,
            "seconds": round(self.seconds, 4),
            "rows": self.rows,
            "rows_per_s": round(self.rows_per_s, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "largest_process_rss_mb": round(self.largest_process_rss_mb, 1),
            "self_reported_seconds": self.self_reported_seconds,
        }

    @property
    def self_reported_seconds(self) -> float | None:
        """The program's own timing (custimport's duration_s, the baseline's seconds).

        It leaves out interpreter start-up and imports, which the wall time includes.
        """
        try:
            output = json.loads(self.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            return None
        value = (
            output.get("duration_s", output.get("seconds")) if isinstance(output, dict) else None
        )
        return float(value) if isinstance(value, int | float) else None

    def describe(self) -> str:
        """Everything needed to reproduce and diagnose a bad run, for BenchmarkError."""
        return (
            f"command: {' '.join(self.command)}\nexit status: {self.returncode}\n"
            f"stdout: {_tail(self.stdout)}\nstderr: {_tail(self.stderr)}"
        )


def run_measured(label: str, command: Sequence[str], cwd: Path, rows: int) -> Measurement:
    """Run `command` to completion; `rows` is what it is expected to process (for rows/s).

    The disk is synced first, untimed: otherwise a run pays for writing back the pages the
    run before it left dirty (after a million-row import, up to a gigabyte), and which
    scenario came first decides the figures (an unchanged re-import measured right after
    the journaled create: 0.81x; the same files after a sync: 1.2-1.3x)."""
    os.sync()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        with TreeRssSampler(process.pid) as sampler:
            _wait_for_exit(process)
        status, usage = _reap(process)
        seconds = time.perf_counter() - started
        largest_process_mb = _maxrss_mb(usage.ru_maxrss)
        return Measurement(
            label=label,
            command=tuple(command),
            returncode=status,
            seconds=seconds,
            peak_rss_mb=max(largest_process_mb, sampler.peak_kib / 1024),
            largest_process_rss_mb=largest_process_mb,
            rows=rows,
            stdout=_read(out),
            stderr=_read(err),
        )


def run_setup(command: Sequence[str], cwd: Path) -> None:
    """An untimed preparation step (schema, groups); any failure aborts the benchmark."""
    result = subprocess.run(
        list(command), cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BenchmarkError(
            f"setup step failed\ncommand: {' '.join(command)}\nexit status: "
            f"{result.returncode}\nstdout: {_tail(result.stdout)}\nstderr: {_tail(result.stderr)}"
        )


def _wait_for_exit(process: subprocess.Popen[bytes]) -> None:
    """Block until the child exits, without reaping it.

    Until it is reaped its pid cannot be reused, so the sampler never measures a stranger.
    """
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    except BaseException:
        process.kill()  # Ctrl-C: do not leave an import running behind us
        process.wait()
        raise


def _reap(process: subprocess.Popen[bytes]) -> tuple[int, Any]:
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def _maxrss_mb(maxrss: int) -> float:
    """ru_maxrss is kilobytes on Linux, bytes on macOS."""
    divisor = 1024 * 1024 if sys.platform == "darwin" else 1024
    return maxrss / divisor


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", errors="replace")


def _tail(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]
