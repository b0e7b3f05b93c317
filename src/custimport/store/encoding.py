"""The Python codec of what a database can store as text, when it is narrower than Unicode.

A PostgreSQL database in LATIN1 (or WIN1252, EUC_JP, …) cannot hold every character a
file may bring. The import talks UTF-8 to it (db.SERVER_TEXT), so the server refuses such
a value; in a field the server only stores, that refusal fails the row, but in a key it is
looked up by, the look-up itself was refused and the import ended with no row written.
So each row's text is checked against this codec before it reaches SQL, and a value the
database cannot hold fails its row, whichever field it is in. UTF8 and SQL_ASCII (which
stores bytes as given) and SQLite (always Unicode) need no check: None.
"""

import codecs

from sqlalchemy import text
from sqlalchemy.engine import Connection

_LATIN_ISO_PARTS = (1, 2, 3, 4, 9, 10, 13, 14, 15, 16)  # LATIN1..LATIN10 are ISO 8859-n

# PostgreSQL's names that Python's codec registry does not know by the same name
_PYTHON_NAMES = {
    **{
        f"WIN{n}": f"cp{n}"
        for n in (866, 874, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258)
    },
    **{
        f"LATIN{n}": f"iso8859_{iso}"
        for n, iso in zip(range(1, 11), (1, 2, 3, 4, 9, 10, 13, 14, 15, 16), strict=True)
    },
    **{f"ISO_8859_{n}": f"iso8859_{n}" for n in (5, 6, 7, 8)},
    "KOI8R": "koi8_r",
    "KOI8U": "koi8_u",
    "EUC_JIS_2004": "euc_jis_2004",
    "EUC_CN": "gb2312",
    "EUC_KR": "euc_kr",
    "EUC_TW": "big5",  # the nearest Python has; a miss fails rows the server would take
}
_UNRESTRICTED = {"UTF8", "SQL_ASCII"}


def text_encoding(conn: Connection) -> tuple[str, str] | None:
    """(the database's name for its encoding, the Python codec of it), or None when any
    text can be stored."""
    if conn.dialect.name != "postgresql":
        return None
    name = str(conn.execute(text("SHOW server_encoding")).scalar_one()).upper()
    if name in _UNRESTRICTED:
        return None
    candidate = _PYTHON_NAMES.get(name, name.lower())
    try:
        return name, codecs.lookup(candidate).name
    except LookupError:  # an encoding Python lacks: the server's own refusal stays the check
        return None
