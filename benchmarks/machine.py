"""The machine a result was measured on; rows/s mean little without it."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path


def load_average() -> float | None:
    """The 1-minute load average: above nproc, other work competed with the benchmark."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def describe(
    custimport: tuple[str, ...], postgres_version: str | None, load_at_start: float | None
) -> dict[str, str]:
    info = {
        "nproc": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "cpu": _cpu_model(),
        "memory": _total_memory(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "custimport": _custimport_version(custimport),
    }
    if postgres_version:
        info["postgresql"] = postgres_version
    load_at_end = load_average()
    if load_at_start is not None and load_at_end is not None:
        info["load average (1 min)"] = f"{load_at_start:.2f} at start, {load_at_end:.2f} at end"
    return info


def markdown(info: dict[str, str]) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in info.items())


def _cpu_model() -> str:
    for line in _read_lines(Path("/proc/cpuinfo")):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _total_memory() -> str:
    for line in _read_lines(Path("/proc/meminfo")):
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _custimport_version(custimport: tuple[str, ...]) -> str:
    result = subprocess.run([*custimport, "--version"], capture_output=True, text=True)
    return result.stdout.strip() or f"unknown (exit {result.returncode})"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
