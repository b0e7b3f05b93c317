"""Peak memory of a process *tree*, sampled from /proc while it runs.

custimport may prepare batches in a worker process. The kernel's rusage
(`os.wait4`, `/usr/bin/time -v`) reports the largest single process of a tree,
not what the tree occupies at once, so a parent and a worker of 150 MiB each
would pass as 150 MiB. This sampler sums the resident set of the process and all
its descendants every SAMPLE_INTERVAL_S and keeps the maximum. Summed RSS counts
pages shared between the processes twice: it errs on the side of too much, which
is the right side for a ceiling. Without /proc (macOS) it reports 0 and the
caller falls back on rusage alone.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

SAMPLE_INTERVAL_S = 0.05
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
_PROC = Path("/proc")
_HAS_CHILDREN_FILES = (_PROC / str(os.getpid()) / "task" / str(os.getpid()) / "children").exists()


class TreeRssSampler:
    """Background thread: `peak_kib` is the largest summed RSS seen for `pid`'s tree."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name=f"rss-{pid}", daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        if not _PROC.is_dir():
            return
        while True:
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
            if self._stop.wait(SAMPLE_INTERVAL_S):
                return


def tree_rss_kib(root: int) -> int:
    """Resident KiB of `root` and every descendant still running."""
    total, pending, seen = 0, [root], set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            total += int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE_KIB
            pending.extend(_children(pid))
        except (OSError, ValueError, IndexError):
            continue  # it exited between two reads
    return total


def _children(pid: int) -> list[int]:
    """Child pids from /proc/PID/task/*/children (one file per thread that forked).

    Kernels built without CONFIG_PROC_CHILDREN lack those files: scan every
    process's parent pid instead (slower, so only then).
    """
    if not _HAS_CHILDREN_FILES:
        return _children_by_scan(pid)
    children: list[int] = []
    for task in (_PROC / str(pid) / "task").iterdir():
        children.extend(int(child) for child in (task / "children").read_text().split())
    return children


def _children_by_scan(pid: int) -> list[int]:
    children: list[int] = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the fields after the parenthesised command name: state, ppid, ...
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children
