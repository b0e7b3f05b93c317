"""Binary COPY needs each column's PostgreSQL type; they come from the models."""

import pytest
from sqlalchemy import Float

from custimport.models import Base
from custimport.store.pg_copy import _binary_type, binary_types


@pytest.mark.parametrize("table", ["account", "contact"])
def test_every_column_of_the_copied_tables_has_a_binary_type(table: str) -> None:
    columns = tuple(column.name for column in Base.metadata.tables[table].c)
    assert len(binary_types(table, columns)) == len(columns)


def test_types_follow_the_columns_asked_for() -> None:
    columns = ("account_id", "is_primary", "created_at", "email", "department")
    assert binary_types("contact", columns) == ["int4", "bool", "timestamptz", "text", "text"]


def test_a_column_type_without_a_mapping_is_refused() -> None:
    """A new kind of column must be mapped on purpose, not copied in a guessed format."""
    with pytest.raises(TypeError, match="no binary COPY type"):
        _binary_type(Float())
