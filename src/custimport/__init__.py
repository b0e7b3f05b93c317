"""custimport: import customer data from spreadsheets into a SQL database (SPEC.md)."""

__version__ = "0.1.0"
