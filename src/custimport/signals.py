"""SIGINT and SIGTERM during an import: set a flag, so the batch in flight can finish.

A second Ctrl-C raises KeyboardInterrupt at once (the transaction in flight then
rolls back). Outside the main thread signals cannot be trapped and are left alone.
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class StopFlag:
    """Set by a signal handler; read between rows."""

    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.shielded = False  # a commit and its counting are under way
        self.hard_stop_pending = False

    @contextmanager
    def shield(self) -> Iterator[None]:
        """A second Ctrl-C waits until the commit and its counting are done, so the report
        always matches what the database holds."""
        self.shielded = True
        try:
            yield
        finally:
            self.shielded = False
        if self.hard_stop_pending:
            raise KeyboardInterrupt


@contextmanager
def trapped_signals() -> Iterator[StopFlag]:
    flag = StopFlag()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if flag.exit_code is not None and signum == signal.SIGINT:
            if flag.shielded:
                flag.hard_stop_pending = True
                return
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, the transaction rolls back
        flag.exit_code = EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM

    try:
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield flag
        return
    try:
        yield flag
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def interrupts_ignored() -> Iterator[None]:
    """While the report is printed: the import is over, a Ctrl-C must not cut its report."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


EXIT_SIGHUP = 129  # what a shell reports for a command ended by SIGHUP (128 + 1)


@contextmanager
def trapped_hangup(flag: StopFlag) -> Iterator[None]:
    """SIGHUP (the terminal or ssh session went away) sets `flag` like SIGTERM, exit 129.

    Use inside `trapped_signals()`: its default would end the process at once, leaving a
    half-written export file behind. A SIGHUP already ignored (`nohup`) stays ignored, and
    a stop already asked for keeps its exit status.
    """

    def on_hangup(_signum: int, _frame: FrameType | None) -> None:
        if flag.exit_code is None:
            flag.exit_code = EXIT_SIGHUP

    try:
        previous = signal.getsignal(signal.SIGHUP)
        trapped = previous not in (signal.SIG_IGN, None)  # None: set outside Python
        if trapped:
            signal.signal(signal.SIGHUP, on_hangup)
    except ValueError:  # not the main thread: leave signals alone
        trapped = False
    try:
        yield
    finally:
        if trapped:
            signal.signal(signal.SIGHUP, previous)
