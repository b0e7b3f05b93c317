"""`python -m custimport` and the `custimport` command.

The command line's libraries take a third of a second to load; a Ctrl-C meanwhile is
turned into the same one line and exit status as one during an import, not a traceback
from inside SQLAlchemy. A spawned worker process imports this module too: it must load
nothing and run nothing.
"""

import sys

EXIT_SIGINT = 130


def main() -> None:
    try:
        from custimport.cli import main as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("Error: interrupted\n")
        raise SystemExit(EXIT_SIGINT) from None
    run_command_line()


if __name__ == "__main__":
    main()
