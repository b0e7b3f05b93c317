"""Reading CSV/TSV/XLSX/JSON/JSONL into raw rows: line numbers, encodings, and what fails where."""

from __future__ import annotations

import codecs
import dataclasses
import json
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from custimport.errors import InputFileError
from custimport.io import csv_reader as readers_csv
from custimport.io.formats import open_source
from custimport.io.source import RawRow, SourceInfo


def write(tmp_path: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def read(path: Path, **options: str) -> tuple[SourceInfo, list[RawRow]]:
    with open_source(path, **options) as source:
        return source.info, list(source)


def numbered(rows: list[RawRow]) -> list[tuple[int, list[str], str | None]]:
    return [(row.line_no, row.cells, row.error) for row in rows]


def refusal(path: Path, **options: str) -> str:
    with pytest.raises(InputFileError) as raised:
        open_source(path, **options)
    return str(raised.value)


# --- line numbers -----------------------------------------------------------------------------


def test_counts_physical_lines_of_quoted_multiline_values(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'id,notes\n1,"two\nlines"\n2,"three\nshort\nlines"\n3,x\n')
    _, rows = read(path)
    assert numbered(rows) == [
        (2, ["1", "two\nlines"], None),
        (4, ["2", "three\nshort\nlines"], None),
        (7, ["3", "x"], None),
    ]


def test_skips_blank_lines_but_keeps_counting_them(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "\n\nid,name\n\n1,Ann\n   \n\n2,Bob\n\n")
    info, rows = read(path)
    assert info.header == ["id", "name"]
    assert [(row.line_no, row.values) for row in rows] == [
        (5, {"id": "1", "name": "Ann"}),
        (8, {"id": "2", "name": "Bob"}),
    ]


def test_counts_mixed_line_endings_each_as_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'id,name\r\n1,a\n2,b\r3,"c\r\nd"\r\n4,e')
    _, rows = read(path)
    assert numbered(rows) == [
        (2, ["1", "a"], None),
        (3, ["2", "b"], None),
        (4, ["3", "c\r\nd"], None),
        (6, ["4", "e"], None),
    ]


def test_skips_rows_whose_cells_are_all_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a;b;c\n1;2;3\n;;\n;;\n4;5;6\n")
    _, rows = read(path)
    assert [row.line_no for row in rows] == [2, 5]


# --- encodings --------------------------------------------------------------------------------


def test_reads_utf8_without_a_bom(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "name,city\nZoë,Zürich\n"))
    assert (info.encoding, rows[0].values) == ("utf-8", {"name": "Zoë", "city": "Zürich"})


def test_reads_utf8_with_a_bom_and_keeps_it_out_of_the_header(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "\ufeffname,city\nZoë,Zürich\n"))
    assert (info.encoding, info.header) == ("utf-8-sig", ["name", "city"])
    assert rows[0].values == {"name": "Zoë", "city": "Zürich"}


@pytest.mark.parametrize("name", ["a.csv", "a.json", "a.jsonl"])
def test_drops_a_bom_even_with_an_explicit_utf8_encoding(tmp_path: Path, name: str) -> None:
    content = "\ufeffname\nx\n" if name == "a.csv" else '\ufeff[{"name": "x"}]'
    if name == "a.jsonl":
        content = '\ufeff{"name": "x"}\n'
    info, rows = read(write(tmp_path, name, content), encoding="UTF8")
    assert (info.encoding, info.header, rows[0].cells) == ("utf-8-sig", ["name"], ["x"])


@pytest.mark.parametrize("name, delimiter", [("a.csv", ","), ("a.tsv", "\t")])
@pytest.mark.parametrize(
    "bom, codec", [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
)
def test_reads_utf16_with_a_bom_in_either_byte_order(
    tmp_path: Path, name: str, delimiter: str, bom: bytes, codec: str
) -> None:
    text = delimiter.join(["name", "city"]) + "\r\n" + delimiter.join(["Zoë", "Łódź €"]) + "\r\n"
    info, rows = read(write(tmp_path, name, bom + text.encode(codec)))
    assert (info.encoding, info.delimiter) == ("utf-16", delimiter)
    assert numbered(rows) == [(2, ["Zoë", "Łódź €"], None)]


def test_reads_an_excel_style_cp1252_file_with_semicolons(tmp_path: Path) -> None:
    text = "Nom;Montant;Société\r\nCafé crème;3,50 €;Crédit Agricole\r\n"
    info, rows = read(write(tmp_path, "export.csv", text, "cp1252"))
    assert (info.encoding, info.delimiter, info.header) == (
        "cp1252",
        ";",
        ["Nom", "Montant", "Société"],
    )
    assert rows[0].cells == ["Café crème", "3,50 €", "Crédit Agricole"]


def test_prefers_cp1252_for_a_very_short_western_file(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "nom\nCafé\n", "cp1252"))
    assert (info.encoding, rows[0].cells) == ("cp1252", ["Café"])


NON_WESTERN = {
    "cp1251": (
        ["Иван Петров", "Сергей Иванов", "Мария Смирнова", "Ольга Кузнецова", "Анна Лебедева"],
        ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань"],
    ),
    "cp1250": (
        ["Łukasz Wiśniewski", "Małgorzata Wójcik", "Paweł Kamiński", "Michał Zieliński"],
        ["Łódź", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Częstochowa", "Białystok"],
    ),
    "cp1253": (
        ["Γιάννης Παπαδόπουλος", "Μαρία Κωνσταντίνου", "Νίκος Γεωργίου", "Ελένη Δημητρίου"],
        ["Αθήνα", "Θεσσαλονίκη", "Πάτρα", "Ηράκλειο", "Λάρισα"],
    ),
    "shift_jis": (
        ["山田太郎", "鈴木花子", "佐藤一郎", "田中美咲", "高橋健太", "伊藤さくら", "中村あおい"],
        ["東京都新宿区", "大阪府大阪市", "愛知県名古屋市", "北海道札幌市", "福岡県福岡市"],
    ),
}


@pytest.mark.parametrize("codec", list(NON_WESTERN))
def test_detects_a_non_western_code_page_when_there_is_enough_text(
    tmp_path: Path, codec: str
) -> None:
    names, cities = NON_WESTERN[codec]
    records = [[str(n), names[n % len(names)], cities[n % len(cities)]] for n in range(12)]
    text = "\n".join(";".join(record) for record in [["id", "name", "city"], *records])
    _, rows = read(write(tmp_path, "a.csv", text + "\n", codec))
    assert [row.cells for row in rows] == records


def test_finds_a_late_accent_in_an_otherwise_ascii_cp1252_file(tmp_path: Path) -> None:
    lines = ["id,name"] + [f"{n},name {n}" for n in range(20_000)] + ["20000,Société"]
    info, rows = read(write(tmp_path, "a.csv", "\n".join(lines) + "\n", "cp1252"))
    assert info.encoding == "cp1252"
    assert rows[-1].cells == ["20000", "Société"]


def test_fails_only_the_rows_with_undecodable_bytes_late_in_a_utf8_file(tmp_path: Path) -> None:
    lines = [b"id,name"] + [b"%d,Zo\xc3\xab %d" % (n, n) for n in range(10_000)]
    lines += [b"10000,Caf\xe9", b"10001,Zo\xc3\xab"]
    info, rows = read(write(tmp_path, "a.csv", b"\n".join(lines) + b"\n"))
    assert info.encoding == "utf-8"
    assert len(rows) == 10_002
    assert all(row.error is None for row in rows[:10_000])
    assert numbered(rows[-2:]) == [
        (
            10_002,
            ["10000", "Caf\ufffd"],
            "value in column 'name' contains bytes that are not valid utf-8",
        ),
        (10_003, ["10001", "Zoë"], None),
    ]


def test_fails_a_row_with_bytes_cp1252_leaves_undefined(tmp_path: Path) -> None:
    content = "name;note\r\nCafé;ok\r\n".encode("cp1252") + b"Bad;\x81\x8d\r\nFin;ok\r\n"
    info, rows = read(write(tmp_path, "a.csv", content))
    assert info.encoding == "cp1252"
    assert numbered(rows) == [
        (2, ["Café", "ok"], None),
        (
            3,
            ["Bad", "\ufffd\ufffd"],
            "value in column 'note' contains bytes that are not valid cp1252",
        ),
        (4, ["Fin", "ok"], None),
    ]


def test_uses_an_explicit_encoding_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "name\nÆsir\n", "latin-1")
    info, rows = read(path, encoding="latin-1")
    assert (info.encoding, rows[0].cells) == ("latin-1", ["Æsir"])


@pytest.mark.parametrize(
    "encoding, message",
    [("klingon", "unknown encoding 'klingon'"), ("rot13", "'rot13' is not a text encoding")],
)
def test_refuses_an_encoding_python_cannot_decode_text_with(
    tmp_path: Path, encoding: str, message: str
) -> None:
    assert refusal(write(tmp_path, "a.csv", "a\n1\n"), encoding=encoding) == message


# --- files that are not usable ----------------------------------------------------------------


def test_refuses_binary_garbage(tmp_path: Path) -> None:
    path = write(tmp_path, "data.csv", bytes(range(256)) * 64)
    assert refusal(path) == f"{path} is not a text file (it contains binary data)"


def test_refuses_an_image_saying_what_it_is(tmp_path: Path) -> None:
    path = write(tmp_path, "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100))
    assert refusal(path) == f"{path} is not a text file (a PNG image)"


def test_refuses_an_old_xls_workbook_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    assert refusal(path) == (
        f"{path} is not a text file "
        "(an old .xls workbook or other Office file; save it as .xlsx or CSV)"
    )


@pytest.mark.parametrize("content", [b"", b"\n\n\n", b"  \r\n\t\n  ", b"\xef\xbb\xbf\n"])
def test_refuses_an_empty_or_blank_file(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, "a.csv", content)
    assert refusal(path) == f"{path}: file is empty: no header row"


def test_refuses_a_large_file_of_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "\n" * 200_000)
    assert refusal(path) == f"{path}: file is empty: no header row"


def test_refuses_a_directory(tmp_path: Path) -> None:
    assert refusal(tmp_path) == f"{tmp_path}: is a directory, not a file"


def test_refuses_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert refusal(path) == f"{path}: no such file"


def test_refuses_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "a.csv", "a\n1\n")

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)
    assert refusal(path) == f"{path}: permission denied"


def test_reads_the_one_file_of_a_zip_even_when_the_zip_is_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", "id,name\n1,Ann\n")
    info, rows = read(path)
    assert (info.format, info.compression, info.header) == ("csv", "zip", ["id", "name"])
    assert [row.values for row in rows] == [{"id": "1", "name": "Ann"}]


def test_refuses_a_zip_inside_a_zip_when_a_text_format_is_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("data.csv", "id,name\n1,Ann\n")
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(inner, "inner.zip")
    assert refusal(path, format="csv") == f"{path} is not a text file (a zip archive)"


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"format": "parquet"},
            "unknown format 'parquet' (choose from auto, csv, tsv, xlsx, json, jsonl)",
        ),
        ({"delimiter": ";;"}, "delimiter must be one character (not a quote), got ';;'"),
        ({"delimiter": '"'}, "delimiter must be one character (not a quote), got '\"'"),
    ],
)
def test_refuses_bad_options(tmp_path: Path, options: dict[str, str], message: str) -> None:
    assert refusal(write(tmp_path, "a.csv", "a\n1\n"), **options) == message


# --- delimiters -------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_sniffs_each_delimiter(tmp_path: Path, delimiter: str) -> None:
    text = "\n".join(delimiter.join(row) for row in [["id", "name", "city"], ["1", "Ann", "Oslo"]])
    info, rows = read(write(tmp_path, "a.csv", text + "\n"))
    assert (info.delimiter, info.header, rows[0].cells) == (
        delimiter,
        ["id", "name", "city"],
        ["1", "Ann", "Oslo"],
    )


def test_sniffs_semicolons_despite_decimal_commas_and_quoted_delimiters(tmp_path: Path) -> None:
    text = 'name;price;note\nTea;3,50;"a; b"\nCake;12,75;"x, y, z"\n'
    info, rows = read(write(tmp_path, "a.csv", text))
    assert info.delimiter == ";"
    assert rows[0].cells == ["Tea", "3,50", "a; b"]


def test_uses_the_given_delimiter_over_the_sniffed_one(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "a,b;c\n1,2;3\n"), delimiter=";")
    assert (info.delimiter, info.header, rows[0].cells) == (";", ["a,b", "c"], ["1,2", "3"])


def test_accepts_backslash_t_for_a_tab_delimiter(tmp_path: Path) -> None:
    info, _ = read(write(tmp_path, "a.txt", "a\tb\n1\t2\n"), delimiter="\\t")
    assert info.delimiter == "\t"


def test_reads_tsv_by_extension_and_keeps_commas_in_values(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.tab", "name\tnote\nAnn\thello, world\n"))
    assert (info.format, info.delimiter, rows[0].cells) == ("tsv", "\t", ["Ann", "hello, world"])


def test_reads_a_single_column_file(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "email\na@example.com\nb@example.com\n"))
    assert (info.delimiter, [row.cells for row in rows]) == (
        ",",
        [["a@example.com"], ["b@example.com"]],
    )


# --- rows and header --------------------------------------------------------------------------


def test_keeps_values_as_read_with_doubled_quotes_and_delimiters(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'name,note\n  Ann  ,"She said ""hi"", then left"\n')
    _, rows = read(path)
    assert rows[0].values == {"name": "  Ann  ", "note": 'She said "hi", then left'}


def test_fails_rows_with_too_few_or_too_many_fields(tmp_path: Path) -> None:
    _, rows = read(write(tmp_path, "a.csv", "a,b,c\n1,2\n1,2,3,4,5\n1,2,3\n"))
    assert numbered(rows) == [
        (2, ["1", "2"], "expected 3 fields, found 2"),
        (3, ["1", "2", "3", "4", "5"], "expected 3 fields, found 5"),
        (4, ["1", "2", "3"], None),
    ]
    assert rows[0].values == {}


def test_fails_a_row_with_a_nul_character(tmp_path: Path) -> None:
    _, rows = read(write(tmp_path, "a.csv", "id,name\n1,A\x00nn\n2,Bob\n"))
    assert numbered(rows) == [
        (2, ["1", "A\x00nn"], "value in column 'name' contains a NUL character"),
        (3, ["2", "Bob"], None),
    ]


def test_reports_an_unterminated_quote_at_end_of_file_as_a_row_error(tmp_path: Path) -> None:
    _, rows = read(write(tmp_path, "a.csv", 'id,note\n1,ok\n2,"never\nclosed\n'))
    assert numbered(rows) == [
        (2, ["1", "ok"], None),
        (3, ["2", "never\nclosed\n"], "unterminated quoted field starting at line 3"),
    ]


def test_reports_an_unterminated_quote_without_a_final_newline(tmp_path: Path) -> None:
    _, rows = read(write(tmp_path, "a.csv", 'id\n"open'))
    assert numbered(rows) == [(2, ["open"], "unterminated quoted field starting at line 2")]


def test_refuses_a_header_with_an_unterminated_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", 'id,"name\n1,2\n')
    assert refusal(path) == f"{path}: the header row has an unterminated quoted field"


def test_reads_a_ten_megabyte_field(tmp_path: Path) -> None:
    big = "x" * 10_000_000
    _, rows = read(write(tmp_path, "a.csv", f'id,description\n1,"{big}"\n2,short\n'))
    assert [(row.line_no, len(row.values["description"])) for row in rows] == [
        (2, 10_000_000),
        (3, 5),
    ]


def test_refuses_duplicate_header_names_saying_where(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "email,name,Email,email , name\n")
    assert refusal(path) == (
        f"{path}: duplicate column names in the header: "
        "'email' (columns 1, 4); 'name' (columns 2, 5)"
    )


def test_names_empty_header_cells_by_position(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "id,,name, \n1,x,Ann,y\n"))
    assert info.header == ["id", "(column 2)", "name", "(column 4)"]
    assert rows[0].values == {"id": "1", "(column 2)": "x", "name": "Ann", "(column 4)": "y"}


def test_reads_a_header_only_file_as_no_rows(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.csv", "id,name\n"))
    assert (info.header, rows) == (["id", "name"], [])


def test_builds_fast_rows_equal_to_ordinary_ones() -> None:
    fast = readers_csv._new_row(3, ["1", "2"], ["a", "b"])
    assert fast == RawRow(3, None, ["1", "2"], None, ["a", "b"])
    assert fast.values == RawRow(3, {"a": "1", "b": "2"}, ["1", "2"]).values == {"a": "1", "b": "2"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.line_no = 4  # type: ignore[misc]


def test_keeps_clean_csv_rows_positional_and_others_by_column(tmp_path: Path) -> None:
    """Clean rows carry no dict of their own (the header gives their cells' names); a row
    read the careful way, or from a format without a header order, keeps its dict."""
    info, rows = read(write(tmp_path, "a.csv", "id,name\n1,Ann\n2,Bob,extra\n"))
    assert rows[0].by_column is None and rows[0].header is info.header
    assert rows[0].values == {"id": "1", "name": "Ann"}
    assert rows[1].error is not None and rows[1].by_column == {}


# --- XLSX -------------------------------------------------------------------------------------


def save(workbook: Workbook, path: Path) -> Path:
    workbook.save(path)
    return path


def test_reads_xlsx_cells_as_the_text_a_user_typed(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["text", "padded", "whole", "fraction", "day", "moment", "flag", "empty"])
    sheet.append(["00123", 123, 42.0, 0.1, date(2024, 3, 1), datetime(2024, 3, 1, 10), True, None])
    sheet["B2"].number_format = "00000"
    info, rows = read(save(workbook, tmp_path / "a.xlsx"))
    assert (info.format, info.encoding, info.delimiter) == ("xlsx", None, None)
    assert [(row.line_no, row.values, row.error) for row in rows] == [
        (
            2,
            {
                "text": "00123",
                "padded": "00123",
                "whole": "42",
                "fraction": "0.1",
                "day": "2024-03-01",
                "moment": "2024-03-01T10:00:00",
                "flag": "true",
                "empty": "",
            },
            None,
        )
    ]


def test_numbers_xlsx_rows_by_sheet_row_and_skips_empty_rows(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet["A3"], sheet["B3"] = "id", "name"  # header after two empty rows
    sheet["A4"], sheet["B4"] = 1, "Ann"
    sheet["A7"], sheet["B7"] = 2, "Bob"
    sheet["B8"].number_format = "0.00"  # formatted but empty: still an empty row
    info, rows = read(save(workbook, tmp_path / "a.xlsx"))
    assert info.header == ["id", "name"]
    assert numbered(rows) == [(4, ["1", "Ann"], None), (7, ["2", "Bob"], None)]


def test_fails_an_xlsx_row_only_for_a_value_beyond_the_header(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", None, "name"])
    sheet.append([1])
    sheet.append([2, "x", "Bob", None, None])
    sheet.append([3, None, "Cy", None, "stray"])
    info, rows = read(save(workbook, tmp_path / "a.xlsx"))
    assert info.header == ["id", "(column 2)", "name"]
    assert numbered(rows) == [
        (2, ["1", "", ""], None),
        (3, ["2", "x", "Bob"], None),
        (4, ["3", "", "Cy", "", "stray"], "expected 3 fields, found 5"),
    ]


def test_reads_a_named_sheet_ignoring_case_when_unambiguous(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.append(["ignored"])
    second = workbook.create_sheet("Contacts")
    second.append(["email"])
    second.append(["a@example.com"])
    path = save(workbook, tmp_path / "a.xlsx")
    for name in ("Contacts", "contacts"):
        info, rows = read(path, sheet=name)
        assert (info.header, rows[0].cells) == (["email"], ["a@example.com"])


def test_refuses_an_unknown_sheet_listing_the_sheets(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.title = "Accounts"
    workbook.create_sheet("Contacts")
    path = save(workbook, tmp_path / "a.xlsx")
    assert refusal(path, sheet="People") == (
        f"{path}: no sheet named 'People'; the sheets are 'Accounts', 'Contacts'"
    )


def test_refuses_an_empty_sheet(tmp_path: Path) -> None:
    path = save(Workbook(), tmp_path / "a.xlsx")
    assert refusal(path) == f"{path}: sheet 'Sheet' is empty: no header row"


def test_opens_a_workbook_by_content_whatever_its_name(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.append(["id"])
    workbook.active.append([7])
    info, rows = read(save(workbook, tmp_path / "download.dat"))
    assert (info.format, rows[0].cells) == ("xlsx", ["7"])


def test_refuses_a_corrupt_workbook(tmp_path: Path) -> None:
    path = write(tmp_path, "a.xlsx", b"PK\x03\x04" + bytes(40))
    assert refusal(path) == f"{path}: not a readable xlsx workbook (File is not a zip file)"


def test_refuses_a_zip_named_xlsx_that_holds_no_workbook(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert refusal(path) == (
        f"{path}: not a readable xlsx workbook "
        "(There is no item named '[Content_Types].xml' in the archive)"
    )


def test_refuses_a_text_file_named_xlsx(tmp_path: Path) -> None:
    path = write(tmp_path, "a.xlsx", "id,name\n1,Ann\n")
    assert refusal(path) == f"{path}: not an xlsx workbook (use --format csv if it is text)"


def test_reports_xlsx_progress_up_to_the_file_size(tmp_path: Path) -> None:
    workbook = Workbook()
    for n in range(200):
        workbook.active.append([n])
    path = save(workbook, tmp_path / "a.xlsx")
    with open_source(path) as source:
        seen = [source.bytes_read() for _ in source]
        assert seen == sorted(seen) and 0 < seen[-1] < source.info.size_bytes
        assert source.bytes_read() == path.stat().st_size


# --- JSON and JSON Lines ----------------------------------------------------------------------


def test_reads_json_values_of_each_type(tmp_path: Path) -> None:
    record = {"s": " x ", "i": 42, "f": 2.5, "whole": 3.0, "t": True, "no": False, "n": None}
    record["big"] = 12345678901234567890
    info, rows = read(write(tmp_path, "a.json", json.dumps([record])))
    assert (info.format, info.encoding, info.header) == ("json", "utf-8", list(record))
    assert rows[0].cells == [" x ", "42", "2.5", "3", "true", "false", "", "12345678901234567890"]
    assert rows[0].line_no == 1


def test_fails_a_json_object_with_a_nested_value(tmp_path: Path) -> None:
    data = [{"id": 1, "tags": "a"}, {"id": 2, "tags": ["a", "b"]}, {"id": 3, "tags": {"k": 1}}]
    _, rows = read(write(tmp_path, "a.json", json.dumps(data)))
    assert numbered(rows) == [
        (1, ["1", "a"], None),
        (2, ["2", '["a", "b"]'], "nested value in column 'tags'"),
        (3, ["3", '{"k": 1}'], "nested value in column 'tags'"),
    ]


def test_fails_a_json_value_with_a_nul_character(tmp_path: Path) -> None:
    _, rows = read(write(tmp_path, "a.json", '[{"name": "A\\u0000nn"}, {"name": "Bob"}]'))
    assert numbered(rows) == [
        (1, ["A\x00nn"], "value in column 'name' contains a NUL character"),
        (2, ["Bob"], None),
    ]


def test_fills_missing_json_keys_and_reads_later_keys_as_columns(tmp_path: Path) -> None:
    """The columns are every object's keys, in order of first appearance (SPEC §3)."""
    data = [{"id": 1, "name": "Ann"}, {"id": 2}, {"id": 3, "name": "Cy", "age": 9}]
    info, rows = read(write(tmp_path, "a.json", json.dumps(data)))
    assert info.header == ["id", "name", "age"]
    assert numbered(rows) == [
        (1, ["1", "Ann", ""], None),
        (2, ["2", "", ""], None),
        (3, ["3", "Cy", "9"], None),
    ]


def test_fails_a_json_element_that_is_not_an_object(tmp_path: Path) -> None:
    _, rows = read(write(tmp_path, "a.json", '[{"id": 1}, [2], "three", null]'))
    assert numbered(rows) == [
        (1, ["1"], None),
        (2, ["[2]"], "expected a JSON object, found an array"),
        (3, ["three"], "expected a JSON object, found a string"),
        (4, [""], "expected a JSON object, found null"),
    ]


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{\n  "id": 1\n}', "JSON input must be an array of objects: [{...}, ...]"),
        ("42", "JSON input must be an array of objects: [{...}, ...]"),
        ('{"data": [{"id": 1}]}', "JSON input must be an array of objects: [{...}, ...]"),
        ("[1, 2]", "element 1 must be a JSON object, found a number"),
        (
            "[{oops}]",
            "element 1 is not valid JSON: Expecting property name enclosed in double quotes "
            "(line 1, column 3)",
        ),
    ],
)
def test_refuses_json_that_is_not_an_array_of_objects(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = write(tmp_path, "a.json", content)
    assert refusal(path) == f"{path}: {reason}"


def test_reports_invalid_json_mid_file_as_a_row_error_then_stops(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[{"id": 1}, {"id": 2} {"id": 3}, {"id": 4}]')
    with open_source(path) as source:
        rows = list(source)
    detail = "invalid JSON: expected ',' or ']' after an element, found '{'"
    assert numbered(rows) == [
        (1, ["1"], None),
        (2, ["2"], None),
        (3, [], f"{detail} (line 1, column 23)"),
    ]
    assert source.stopped == (
        f"reading stopped at element 3 (line 1, column 23): {detail}; "
        "the rest of the file was not read"
    )


def test_reports_a_json_file_cut_off_inside_the_array(tmp_path: Path) -> None:
    with open_source(write(tmp_path, "a.json", '[{"id": 1}, {"id": 2')) as source:
        rows = list(source)
    detail = "the file ends inside this element, as if the file was cut short"
    assert numbered(rows) == [
        (1, ["1"], None),
        (2, [], f"invalid JSON: {detail} (line 1, column 21)"),
    ]
    assert (
        source.stopped
        == f"reading stopped at element 2 (line 1, column 21): invalid JSON: {detail}"
    )


def test_reads_an_empty_json_array_as_no_columns_and_no_rows(tmp_path: Path) -> None:
    info, rows = read(write(tmp_path, "a.json", " [ ] \n"))
    assert (info.header, rows) == ([], [])


def test_streams_a_json_array_larger_than_its_buffers(tmp_path: Path) -> None:
    data = [{"id": n, "note": "n" * (n % 50)} for n in range(30_000)]
    data[20_000]["note"] = "y" * 3_000_000
    path = write(tmp_path, "a.json", json.dumps(data, indent=1))
    with open_source(path) as source:
        rows = list(source)
        assert source.bytes_read() == path.stat().st_size
    assert len(rows) == 30_000 and all(row.error is None for row in rows)
    assert (rows[20_000].line_no, len(rows[20_000].values["note"])) == (20_001, 3_000_000)
    assert rows[-1].values == {"id": "29999", "note": "n" * 49}


def test_fails_only_the_bad_jsonl_line(tmp_path: Path) -> None:
    content = '{"id": 1, "name": "Ann"}\n{"id": 2, "name": \n[3]\n{"id": 4, "name": "Dan"}\n'
    info, rows = read(write(tmp_path, "a.jsonl", content))
    assert (info.format, info.header) == ("jsonl", ["id", "name"])
    assert numbered(rows) == [
        (1, ["1", "Ann"], None),
        (2, [], "invalid JSON: Expecting value (column 19)"),
        (3, ["[3]"], "expected a JSON object, found an array"),
        (4, ["4", "Dan"], None),
    ]


def test_skips_blank_jsonl_lines_and_numbers_physical_lines(tmp_path: Path) -> None:
    content = '\n{"id": 1}\r\n\n  \n{"id": 2.0}\n'
    _, rows = read(write(tmp_path, "a.ndjson", content))
    assert numbered(rows) == [(2, ["1"], None), (5, ["2"], None)]


@pytest.mark.parametrize(
    "first, reason",
    [
        ('"id"', "line 2 must be a JSON object, found a string"),
        ('{"id": ', "line 2 is not valid JSON: Expecting value (column 8)"),
    ],
)
def test_refuses_jsonl_whose_first_line_is_not_an_object(
    tmp_path: Path, first: str, reason: str
) -> None:
    path = write(tmp_path, "a.jsonl", f'\n{first}\n{{"id": 1}}\n')
    assert refusal(path) == f"{path}: {reason}"


# --- format detection and progress ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("export", '[{"id": 1}]', "json"),
        ("export.data", '{"id": 1}\n{"id": 2}\n', "jsonl"),
        ("export.json", '{"id": 1}\n{"id": 2}\n', "jsonl"),
        ("export.jsonl", '[{"id": 1}]', "json"),
        ("export", "id,name\n1,Ann\n", "csv"),
        ("export.txt", "id;name\n1;Ann\n", "csv"),
    ],
)
def test_detects_the_format_by_extension_and_content(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    info, rows = read(write(tmp_path, name, content))
    assert (info.format, rows[0].values["id"]) == (expected, "1")


def test_reports_bytes_read_growing_to_the_file_size(tmp_path: Path) -> None:
    lines = ["id,name"] + [f"{n},name {n}" for n in range(100_000)]
    path = write(tmp_path, "a.csv", "\n".join(lines) + "\n")
    size = path.stat().st_size
    with open_source(path) as source:
        assert source.info.size_bytes == size
        seen = [source.bytes_read() for n, _ in enumerate(source) if n % 5_000 == 0]
        assert seen == sorted(seen) and seen[0] < size
        assert source.bytes_read() == size


def test_reports_the_full_size_once_a_json_syntax_error_ends_the_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[{"id": 1} oops' + " " * 100_000 + "]")
    with open_source(path) as source:
        assert len(list(source)) == 2
        assert source.bytes_read() == path.stat().st_size


def open_descriptors() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
@pytest.mark.parametrize("name", ["a.csv", "a.xlsx", "a.json"])
def test_closes_the_file_when_left_part_way_through(tmp_path: Path, name: str) -> None:
    if name == "a.xlsx":
        workbook = Workbook()
        for n in range(10):
            workbook.active.append([n])
        path = save(workbook, tmp_path / name)
    else:
        content = "n\n" + "1\n" * 10 if name == "a.csv" else json.dumps([{"n": 1}] * 10)
        path = write(tmp_path, name, content)
    before = open_descriptors()
    with open_source(path) as source:
        next(iter(source))
        assert open_descriptors() > before
    assert open_descriptors() == before


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count open files")
def test_leaves_no_file_open_after_a_refusal(tmp_path: Path) -> None:
    workbook = Workbook()
    workbook.active.append(["id"])
    workbook_path = save(workbook, tmp_path / "a.xlsx")
    csv_path = write(tmp_path, "a.csv", "id,id\n1,2\n")
    before = open_descriptors()
    refusal(workbook_path, sheet="missing")
    refusal(csv_path)
    assert open_descriptors() == before
