"""Settings: which database to use and how many rows go into one write batch."""

import os
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy.engine import make_url

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
    `password` query parameter (which libpq and psycopg accept too)."""
    try:
        parsed = make_url(url)
        if "password" in parsed.query:
            parsed = parsed.update_query_dict({"password": "***"})
        return parsed.render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing that might be a secret
        return "<unparsable database URL>"


def url_secrets(url: str) -> list[str]:
    """Every password the URL holds, so that messages can be scrubbed of them."""
    try:
        parsed = make_url(url)
    except Exception:
        return []
    found = [parsed.password] if parsed.password else []
    query_password = parsed.query.get("password")
    if isinstance(query_password, str) and query_password:
        found.append(query_password)
    return [str(secret) for secret in found]
