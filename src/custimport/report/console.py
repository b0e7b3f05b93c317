"""The terminal: every line custimport prints goes through here (the core never prints).

stdout carries results (a summary, a JSON report, exported data); stderr carries
errors, warnings and the progress bar, so that `--json` and `export` to stdout stay
machine-readable.
"""

from rich.console import Console

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def error(message: str, hint: str | None = None) -> None:
    """One line on stderr: `Error: …` (and a hint line when there is one)."""
    stderr.print(f"Error: {message}", markup=False, highlight=False, soft_wrap=True)
    if hint:
        stderr.print(hint, markup=False, highlight=False, soft_wrap=True)


def line(text: str) -> None:
    stdout.print(text, markup=False, highlight=False, soft_wrap=True)
