"""The columns of a JSON or JSON Lines file are the keys of all its objects (SPEC §3).

Issue #12, finding F3: the header came from the first object only, so a later object with
a key the first one lacked failed with "unexpected key", and its value was missing from
the error log and the rejects file. The header is now the union of the keys of every
object the reader will read, in order of first appearance, found by a streamed pre-pass
that stops where the main pass stops.
"""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from custimport.errors import InputFileError
from custimport.io.formats import open_source
from custimport.io.source import RawRow, RowSource


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read_all(path: Path, **options: str) -> tuple[RowSource, list[RawRow]]:
    with open_source(path, **options) as source:
        rows = list(source)
    return source, rows


def as_file(name: str, objects: list[str]) -> str:
    """The objects as a JSON array (one per line) or as JSON Lines."""
    return "[\n" + ",\n".join(objects) + "\n]\n" if name.endswith(".json") else "\n".join(objects)


FIRST_LACKS_A_KEY = [
    '{"account_number": "P1", "name": "a", "customer_group": "Biz"}',
    '{"account_number": "P2", "name": "b", "customer_group": "Biz", "website": "b.com"}',
]


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_reads_a_key_the_first_object_lacks_as_a_column(tmp_path: Path, name: str) -> None:
    """The reported case: P2 failed with "unexpected key 'website'"."""
    source, rows = read_all(write(tmp_path, name, as_file(name, FIRST_LACKS_A_KEY)))
    assert source.info.header == ["account_number", "name", "customer_group", "website"]
    assert [(row.by_column, row.cells, row.error) for row in rows] == [
        (
            {"account_number": "P1", "name": "a", "customer_group": "Biz"},
            ["P1", "a", "Biz", ""],
            None,
        ),
        (
            {"account_number": "P2", "name": "b", "customer_group": "Biz", "website": "b.com"},
            ["P2", "b", "Biz", "b.com"],
            None,
        ),
    ]


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_orders_the_columns_by_first_appearance(tmp_path: Path, name: str) -> None:
    objects = ['{"b": 1, "a": 2}', '{"c": 3, "a": 4}', '{"d": 5, "b": 6, "e": 7}', '{"a": 8}']
    source, rows = read_all(write(tmp_path, name, as_file(name, objects)))
    assert source.info.header == ["b", "a", "c", "d", "e"]
    assert [row.cells for row in rows] == [
        ["1", "2", "", "", ""],
        ["", "4", "3", "", ""],
        ["6", "", "", "5", "7"],
        ["", "8", "", "", ""],
    ]
    assert rows[2].values == {"b": "6", "d": "5", "e": "7"}


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_a_failed_row_keeps_the_value_of_every_key(tmp_path: Path, name: str) -> None:
    """The error log and rejects write `cells` under the header: no value may be left out,
    or fixing and importing the rejects file would lose it."""
    objects = [
        '{"id": "A1"}',
        '{"id": "A2", "note": "kept", "size": NaN}',
        '{"id": "A3", "note": "twice", "note": "again"}',
    ]
    source, rows = read_all(write(tmp_path, name, as_file(name, objects)))
    assert source.info.header == ["id", "note", "size"]
    assert [(row.cells, row.error) for row in rows] == [
        (["A1", "", ""], None),
        (
            ["A2", "kept", "NaN"],
            "value in column 'size' is NaN, which JSON does not allow: write it as a string",
        ),
        (["A3", "again", ""], "key 'note' is given more than once"),
    ]


def test_takes_no_column_from_json_after_the_point_where_reading_stops(tmp_path: Path) -> None:
    """The header comes from what can be read: elements after a syntax error are never rows."""
    content = '[{"a": 1}, {"b": 2}, {"c" 3}, {"d": 4}]'
    source, rows = read_all(write(tmp_path, "a.json", content))
    assert source.info.header == ["a", "b"]
    assert [(row.line_no, row.cells) for row in rows] == [(1, ["1", ""]), (2, ["", "2"]), (3, [])]
    assert source.stopped == (
        "reading stopped at element 3 (line 1, column 27): invalid JSON: Expecting ':' "
        "delimiter; the rest of the file was not read"
    )


def test_takes_no_column_from_a_json_lines_line_that_is_not_one_object(tmp_path: Path) -> None:
    lines = [
        '{"a": 1}',
        '{"b": 2} {"c": 3}',  # two objects on a line: invalid, like a cut or joined line
        '{"d":',
        "4}",
        '[{"e": 5}]',
        '  {"f": 6}  ',
        "",
        '{"g": 7}\r{"h": 8}',  # a lone CR ends a line as well
    ]
    source, rows = read_all(write(tmp_path, "a.jsonl", "\n".join(lines) + "\n"))
    assert source.info.header == ["a", "f", "g", "h"]
    assert [row.line_no for row in rows if row.error is None] == [1, 6, 8, 9]


def test_fails_a_later_key_holding_a_bad_byte_without_making_it_a_column(tmp_path: Path) -> None:
    """A column no report could print: the row fails as before, the file is still read."""
    content = b'{"name": "M\xc3\xbcller"}\n{"name": "x", "n\xffme": "Bad"}\n{"city": "Z"}\n'
    source, rows = read_all(write(tmp_path, "a.jsonl", content))
    assert source.info.encoding == "utf-8"
    assert source.info.header == ["name", "city"]
    assert [row.error for row in rows] == [None, "unexpected key 'n\ufffdme'", None]


def test_refuses_keys_of_later_objects_that_clash_as_column_names(tmp_path: Path) -> None:
    """The union is the header, checked as every header is (no column named twice)."""
    path = write(tmp_path, "a.jsonl", '{"name": 1}\n{" name": 2}\n')
    with pytest.raises(InputFileError) as raised:
        open_source(path)
    assert str(raised.value) == (
        f"{path}: duplicate column names in the header: 'name' (columns 1, 2)"
    )


class _GivesUp(codecs.BufferedIncrementalDecoder):
    """UTF-8 for the first 300 KB, then it raises: a codec that fails part-way."""

    def __init__(self, errors: str = "strict") -> None:
        super().__init__(errors)
        self.seen = 0

    def _buffer_decode(self, data: bytes, errors: str, final: bool) -> tuple[str, int]:
        self.seen += len(data)
        if self.seen > 300_000:
            raise UnicodeError("the test codec gives up here")
        return codecs.utf_8_decode(data, errors, final)


def _search(name: str) -> codecs.CodecInfo | None:
    if name != "custimport_test_columns_give_up":
        return None
    utf8 = codecs.lookup("utf-8")
    return codecs.CodecInfo(utf8.encode, utf8.decode, name=name, incrementaldecoder=_GivesUp)


codecs.register(_search)


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_takes_no_column_from_text_after_a_decoder_gives_up(tmp_path: Path, name: str) -> None:
    objects = [json.dumps({"n": n, f"k{n // 1000}": "x" * 20}) for n in range(20_000)]
    path = write(tmp_path, name, as_file(name, objects))
    source, rows = read_all(path, encoding="custimport_test_columns_give_up")
    read = {key for row in rows for key in (row.by_column or {})}
    assert 1_000 < len(rows) < 20_000
    assert len(source.info.header) > 3  # columns from objects after the first
    assert source.info.header == ["n", *sorted(read - {"n"}, key=lambda k: int(k[1:]))]
    assert source.stopped is not None and "the test codec gives up here" in source.stopped


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_reads_objects_that_each_bring_their_own_keys(tmp_path: Path, name: str) -> None:
    objects = [json.dumps({"id": n, f"extra{n}": f"v{n}"}) for n in range(1_500)]
    source, rows = read_all(write(tmp_path, name, as_file(name, objects)))
    assert len(source.info.header) == 1_501
    assert rows[700].values == {"id": "700", "extra700": "v700"}
    assert rows[700].cells == ["700"] + [""] * 700 + ["v700"] + [""] * 799
    assert all(row.error is None for row in rows)


def test_refuses_objects_with_more_different_keys_than_records_have(tmp_path: Path) -> None:
    """Rows as wide as the file is long would take time and memory growing with its square."""
    objects = [json.dumps({"id": n, f"extra{n}": "v"}) for n in range(2_000)]
    path = write(tmp_path, "a.jsonl", as_file("a.jsonl", objects))
    with pytest.raises(InputFileError) as raised:
        open_source(path)
    assert str(raised.value) == (
        f"{path}: the objects hold more than 2,000 different keys, each a column: more than "
        "any file of records has"
    )
