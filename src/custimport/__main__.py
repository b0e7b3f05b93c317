"""`python -m custimport` runs the command line."""

from custimport.cli import main

if __name__ == "__main__":  # a spawned worker imports this module too, and must not run it
    main()
