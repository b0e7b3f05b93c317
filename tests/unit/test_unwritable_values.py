"""The writers refuse, naming row and column, every value they cannot write so that it reads
back as written (SPEC §12.6); given the import's limits, also what import would change."""

import io
import re
import tempfile
from pathlib import Path

import pytest

from custimport.io.formats import open_source
from custimport.io.writers import FORMATS, XLSX_MAX_CHARS, UnwritableValueError, write_rows

COLUMNS = ("number", "name", "note")


def write(fmt: str, rows: list[tuple[str | None, ...]], **limits: object) -> bytes:
    out = io.BytesIO()
    write_rows(fmt, out, COLUMNS, rows, **limits)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("value", "why"),
    [("a\x00b", "a NUL character"), ("half \ud800 pair", "U+D800, half of a UTF-16 pair")],
)
def test_no_format_writes_a_nul_or_a_lone_surrogate(fmt: str, value: str, why: str) -> None:
    with pytest.raises(
        UnwritableValueError, match="^" + re.escape(f"row 3, column 'note': the value holds {why}")
    ):
        write(fmt, [("1", "ok", None), ("2", "ok", value)])


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@pytest.mark.parametrize("value", ["a\x00b", "Zürich \udc80", "\ud800"])
def test_csv_and_tsv_refuse_a_value_deep_in_a_later_block_and_write_nothing_of_its_block(
    fmt: str, value: str
) -> None:
    """CSV and TSV test a block of rows at a time (writers._write_delimited): the refusal
    names the row and column as a test of each value did, rows with other non-ASCII text
    around it included, and no row of its block reaches the output."""
    rows: list[tuple[str | None, ...]] = [(str(n), f"Zürich {n}", None) for n in range(2500)]
    rows[1733] = ("1733", "ok", value)
    out = io.BytesIO()
    with pytest.raises(UnwritableValueError, match=r"^row 1735, column 'note': the value holds"):
        write_rows(fmt, out, COLUMNS, rows)
    written = out.getvalue().decode("utf-8").splitlines()
    assert len(written) == 1 + 1000  # the header and the first block only
    assert written[-1].startswith("999")


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_csv_and_tsv_write_every_other_non_ascii_text_as_it_is(fmt: str) -> None:
    rows = [(str(n), f"名前 {n} ẞ \U0001f600", "\u00e9\u0301") for n in range(2100)]
    text = write(fmt, rows).decode("utf-8")
    assert text.count("\U0001f600") == 2100 and len(text.splitlines()) == 2101


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("x" * (XLSX_MAX_CHARS + 1), "32,768 characters and an XLSX cell holds at most 32,767"),
        ("a\ufffeb", "U+FFFE, which XLSX cannot store"),
        ("a\uffffb", "U+FFFF, which XLSX cannot store"),
        ("a\x1bb", "a control character (U+001B)"),
        ("a\rb", "a carriage return, which XLSX reads back as a line feed"),
    ],
)
def test_xlsx_refuses_what_it_cannot_hold_and_says_which_format_can(value: str, why: str) -> None:
    with pytest.raises(
        UnwritableValueError, match="^row 2, column 'name': the value [a-z]+ " + re.escape(why)
    ):
        write("xlsx", [("1", value, None)])
    with pytest.raises(UnwritableValueError, match="export as csv, tsv, json or jsonl instead"):
        write("xlsx", [("1", value, None)])


def test_xlsx_keeps_a_value_of_exactly_the_most_characters_a_cell_holds() -> None:
    value = "x" * XLSX_MAX_CHARS
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.xlsx"
        path.write_bytes(write("xlsx", [("1", value, None)]))
        with open_source(path) as source:
            assert [row.cells for row in source] == [["1", value, ""]]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is an empty string, which import reads as no value"),
        (" lead", "starts or ends with white space"),
        ("trail\n", "starts or ends with white space"),
        ("x" * 11, "has 11 characters and import accepts at most 10 in this column"),
    ],
)
def test_with_the_import_limits_a_value_import_would_change_is_refused(
    fmt: str, value: str, why: str
) -> None:
    limits = {"max_lengths": [None, 10, None]}
    assert write("csv", [("1", "fits", None)], **limits)
    with pytest.raises(
        UnwritableValueError, match="^" + re.escape(f"row 2, column 'name': the value {why}")
    ):
        write(fmt, [("1", value, None)], **limits)


def test_a_failed_xlsx_export_leaves_no_sheet_file_of_openpyxl_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # so the new TMPDIR is read again
    with pytest.raises(UnwritableValueError):
        write("xlsx", [(str(n), "ok", None) for n in range(500)] + [("x", "bad\x07", None)])
    assert list(tmp_path.iterdir()) == []
