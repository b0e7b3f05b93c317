"""Parent-account links: cycle detection over links old (database) and new (file).

Pure logic: the caller supplies how to step from an account to its parent, so
the same walk covers accounts being created (named by number) and accounts in
the database (named by id).
"""

from collections.abc import Callable, Hashable

MAX_DEPTH = 100_000


def leads_back(
    own: Hashable, start: Hashable | None, parent_of: Callable[[Hashable], Hashable | None]
) -> bool:
    """True when following parents from `start` reaches `own` (setting the link makes a cycle)."""
    current = start
    seen: set[Hashable] = set()
    while current is not None and len(seen) < MAX_DEPTH:
        if current == own:
            return True
        if current in seen:  # a cycle that does not include `own`: not ours to report
            return False
        seen.add(current)
        current = parent_of(current)
    return False
