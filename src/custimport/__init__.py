"""custimport: import customer groups, accounts and contacts from spreadsheets into SQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("custimport")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
