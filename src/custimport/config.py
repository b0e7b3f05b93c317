"""Settings: the version, which database to use and how many rows go into one write batch."""

import os
from pathlib import Path

from platformdirs import user_data_dir

__version__ = "0.1.0"  # the package's version: pyproject.toml reads it from here
DATABASE_URL_ENV = "CUSTIMPORT_DATABASE_URL"
DEFAULT_BATCH_SIZE = 2000


def default_database_path() -> Path:
    """The embedded SQLite file in the user's data directory (created on first use)."""
    return Path(user_data_dir("custimport", appauthor=False)) / "custimport.db"


def resolve_database_url(flag_value: str | None) -> str:
    """`--db` wins, then `CUSTIMPORT_DATABASE_URL`, then the embedded default."""
    if flag_value:
        return flag_value
    from_env = os.environ.get(DATABASE_URL_ENV)
    if from_env:
        return from_env
    return f"sqlite:///{default_database_path()}"


def masked_url(url: str) -> str:
    """The URL as it may be shown to a person: any password replaced by ***, including a
    `password` query parameter (which libpq and psycopg accept too), and whatever stands
    before the last `@` of a URL whose password holds an unencoded `@`."""
    if raw_password(url) is not None and _at_signs(url) > 1:
        scheme, _, rest = url.partition("://")
        authority, _, tail = rest.partition("?")
        user = authority[: authority.rindex("@")].split(":", 1)[0]
        url = f"{scheme}://{user}:***@{authority[authority.rindex('@') + 1 :]}"
        url += f"?{tail}" if tail else ""
    from sqlalchemy.engine import make_url  # here: the report package must not load SQLAlchemy

    try:
        parsed = make_url(url)
        if "password" in parsed.query:
            parsed = parsed.update_query_dict({"password": "***"})
        return parsed.render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing that might be a secret
        return "<unparsable database URL>"


def url_secrets(url: str) -> list[str]:
    """Every password the URL holds, so that messages can be scrubbed of them; for a
    password with an unencoded `@`, also its pieces (a driver names one as a host)."""
    found: list[str] = []
    raw = raw_password(url)
    if raw:
        found += [raw, *(piece for piece in raw.split("@") if len(piece) >= 3)]
    from sqlalchemy.engine import make_url  # here: the report package must not load SQLAlchemy

    try:
        parsed = make_url(url)
    except Exception:
        return found
    if parsed.password:
        found.append(str(parsed.password))
    query_password = parsed.query.get("password")
    if isinstance(query_password, str) and query_password:
        found.append(query_password)
    return sorted(set(found), key=len, reverse=True)  # longest first: no piece left behind


def raw_password(url: str) -> str | None:
    """The password as written between `user:` and the LAST `@` of the authority, or None.

    SQLAlchemy splits at the first `@`, so `app:Sup3r@Secret@host` would show `Secret`
    as part of the host; read this way, all of `Sup3r@Secret` counts as the secret.
    """
    _, separator, rest = url.partition("://")
    authority = rest.partition("?")[0]
    if not separator or "@" not in authority:
        return None
    userinfo = authority[: authority.rindex("@")]
    if "/" in userinfo.partition(":")[0] or ":" not in userinfo:
        return None  # an `@` in a path (sqlite:///a@b.db), or no password
    return userinfo.split(":", 1)[1]


def _at_signs(url: str) -> int:
    return url.partition("://")[2].partition("?")[0].count("@")


def has_unencoded_at(url: str) -> bool:
    """A password holding a raw `@`: the URL cannot mean what its writer meant."""
    return raw_password(url) is not None and _at_signs(url) > 1
