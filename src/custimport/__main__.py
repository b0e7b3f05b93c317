"""`python -m custimport` runs the command line."""

from custimport.cli import main

main()
