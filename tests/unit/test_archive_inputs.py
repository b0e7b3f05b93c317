"""Compressed input, standard input's copy and title rows, at the reader (issue 17).

A gzip file or a zip holding one file reads as the file inside; a damaged or implausible
archive is refused before the first row; an archive that breaks after it was checked stops
reading where it breaks, with the rows before it read. Re-reading (the background reader)
gives the same rows without checking again.
"""

import gzip
import io
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest

from custimport.errors import InputFileError
from custimport.io.formats import open_source, reopen_arguments
from custimport.io.source import RawRow, SourceInfo

CSV = "account_number,name\nA-1,Ann\nA-2,Bob\n"


def read(path: Path, **options: object) -> tuple[SourceInfo, list[RawRow], str | None]:
    with open_source(path, **options) as source:  # type: ignore[arg-type]
        rows = list(source)
        return source.info, rows, source.stopped


def refusal(path: Path, **options: object) -> str:
    with pytest.raises(InputFileError) as raised:
        open_source(path, **options)  # type: ignore[arg-type]
    return str(raised.value)


def gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


def zipped(path: Path, *members: tuple[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def workbook_bytes(*rows: list[str]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def lines(rows: list[RawRow]) -> list[tuple[int, list[str], str | None]]:
    return [(row.line_no, row.cells, row.error) for row in rows]


# --- reading what is inside -----------------------------------------------------------------


def test_a_gzip_file_reads_as_the_format_its_inner_name_says(tmp_path: Path) -> None:
    path = gz(tmp_path / "accounts.tsv.gz", CSV.replace(",", "\t").encode())
    info, rows, stopped = read(path)
    assert (info.format, info.delimiter, info.compression) == ("tsv", "\t", "gzip")
    assert (info.path, info.size_bytes, stopped) == (path, len(CSV), None)
    assert lines(rows) == [(2, ["A-1", "Ann"], None), (3, ["A-2", "Bob"], None)]


def test_encoding_is_detected_on_the_expanded_bytes(tmp_path: Path) -> None:
    text = "account_number,name\n" + "".join(f"A-{n},Müller Straße Café\n" for n in range(50))
    path = gz(tmp_path / "legacy.csv.gz", text.encode("cp1252"))
    info, rows, _ = read(path)
    assert info.encoding == "cp1252"
    assert rows[0].cells == ["A-0", "Müller Straße Café"]


def test_a_zip_of_one_workbook_reads_the_workbook(tmp_path: Path) -> None:
    book = workbook_bytes(["account_number", "name"], ["A-1", "Ann"])
    path = zipped(tmp_path / "export.zip", ("accounts.xlsx", book))
    with open_source(path) as source:
        info = source.info
        assert info.unpacked is not None and info.unpacked.exists()
        assert oct(info.unpacked.stat().st_mode & 0o777) == "0o600"
        assert [row.cells for row in source] == [["A-1", "Ann"]]
    assert (info.format, info.compression, info.path) == ("xlsx", "zip", path)
    assert not info.unpacked.exists(), "the workbook's private copy outlived the source"


def test_a_zip_ignores_folders_and_what_macos_adds(tmp_path: Path) -> None:
    path = zipped(
        tmp_path / "export.zip",
        ("data/", b""),
        ("data/accounts.jsonl", b'{"account_number": "A-1"}\n'),
        ("__MACOSX/data/._accounts.jsonl", b"\x00\x05\x16\x07junk"),
    )
    info, rows, _ = read(path)
    assert info.format == "jsonl"
    assert [row.values for row in rows] == [{"account_number": "A-1"}]


def test_reading_again_gives_the_same_rows_without_a_second_check(tmp_path: Path) -> None:
    path = gz(tmp_path / "accounts.csv.gz", CSV.encode())
    with open_source(path, header_row=1) as first:
        again = reopen_arguments(first.info)
        rows = lines(list(first))
    assert again["expanded_size"] == len(CSV) and again["path"] == path
    assert again["header_row"] == 1
    info, rows_again, _ = read(**again)
    assert lines(rows_again) == rows and info.path == path


# --- refused before the first row -------------------------------------------------------------


def test_a_gzip_file_cut_short_is_refused(tmp_path: Path) -> None:
    whole = gzip.compress(CSV.encode() * 1000)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    assert refusal(path) == (
        f"{path} is a gzip archive that ends early: it was cut short after "
        f"{len(whole) // 2:,} bytes, before the end of its compressed data"
    )


def test_a_gzip_file_with_a_flipped_byte_is_refused(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(CSV.encode()))
    data[-6] ^= 0xFF  # in the CRC-32 of the trailer: the data inflates, the check fails
    path = tmp_path / "flipped.csv.gz"
    path.write_bytes(bytes(data))
    assert refusal(path).startswith(f"{path} is a gzip archive that is damaged (CRC check failed")


def test_a_gzip_bomb_is_refused_without_expanding_it_all(tmp_path: Path) -> None:
    path = gz(tmp_path / "bomb.csv.gz", b"a,b\n" + b"0" * (64 * 2**20))
    message = refusal(path)
    assert message.startswith(f"{path}: refused as a likely compression bomb: ")
    assert "if the file is genuine, expand it first" in message


@pytest.mark.parametrize(
    "members, expected",
    [
        ((), "the zip archive holds no file to import"),
        (
            (("a.csv", b"x\n"), ("b.csv", b"y\n")),
            "the zip archive holds 2 files (a.csv, b.csv); it must hold exactly one: take the "
            "file out, or name it",
        ),
    ],
    ids=["empty", "two files"],
)
def test_a_zip_must_hold_exactly_one_file(
    tmp_path: Path, members: tuple[tuple[str, bytes], ...], expected: str
) -> None:
    path = zipped(tmp_path / "export.zip", *members)
    assert refusal(path) == f"{path}: {expected}"


def test_a_zip_member_with_a_flipped_byte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("accounts.csv", CSV)
    data = path.read_bytes()
    at = data.index(b"Ann")
    path.write_bytes(data[:at] + b"Ada" + data[at + 3 :])  # stored: the CRC no longer matches
    assert refusal(path) == (
        f"{path}: accounts.csv in the zip archive is damaged or cut short "
        "(Bad CRC-32 for file 'accounts.csv')"
    )


def test_a_zip_cut_short_is_refused(tmp_path: Path) -> None:
    path = zipped(tmp_path / "export.zip", ("accounts.csv", CSV.encode()))
    path.write_bytes(path.read_bytes()[:-30])  # its directory is at the end
    assert refusal(path).startswith(f"{path}: not a readable zip archive (")


def test_a_zip_named_like_a_workbook_is_left_to_the_workbook_reader(tmp_path: Path) -> None:
    path = zipped(tmp_path / "a.xlsx", ("notes.csv", b"a,b\n1,2\n"))
    assert refusal(path).startswith(f"{path}: not a readable xlsx workbook")


def test_the_file_inside_may_not_be_empty(tmp_path: Path) -> None:
    path = zipped(tmp_path / "export.zip", ("accounts.csv", b""))
    assert refusal(path) == f"{path}: the file inside (accounts.csv) is empty: no header row"


# --- an archive that breaks after it was checked ----------------------------------------------


def test_an_archive_cut_after_it_was_checked_stops_where_it_breaks(tmp_path: Path) -> None:
    rows = 200_000
    text = "account_number,name\n" + "".join(f"A-{n},Name {n}\n" for n in range(rows))
    path = gz(tmp_path / "accounts.csv.gz", text.encode())
    with open_source(path) as source:
        os.truncate(path, path.stat().st_size // 2)  # the file changes under the reader
        read_rows = list(source)
        stopped = source.stopped
    assert stopped is not None and stopped.startswith("reading stopped after byte ")
    assert "the rest of the file was not read" in stopped
    assert 0 < len(read_rows) < rows
    assert all(row.error is None for row in read_rows), "a half line became a row"
    assert [row.line_no for row in read_rows] == list(range(2, len(read_rows) + 2))


# --- title rows and Excel's sep= line -----------------------------------------------------------


def test_header_row_skips_title_lines_and_keeps_line_numbers_physical(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('Accounts "export\n;;;\n' + CSV)
    info, rows, _ = read(path, header_row=3)
    assert (info.header, info.delimiter) == (["account_number", "name"], ",")
    assert lines(rows) == [(4, ["A-1", "Ann"], None), (5, ["A-2", "Bob"], None)]


def test_excel_sep_line_sets_the_delimiter_and_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("sep=|\r\n" + CSV.replace(",", "|").replace("\n", "\r\n"))
    info, rows, _ = read(path)
    assert (info.header, info.delimiter) == (["account_number", "name"], "|")
    assert lines(rows) == [(3, ["A-1", "Ann"], None), (4, ["A-2", "Bob"], None)]


def test_header_row_takes_the_sheet_row(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(workbook_bytes(["Export"], [], ["account_number", "name"], ["A-1", "Ann"]))
    info, rows, _ = read(path, header_row=3)
    assert info.header == ["account_number", "name"]
    assert lines(rows) == [(4, ["A-1", "Ann"], None)]


@pytest.mark.parametrize(
    "name, content, row, expected",
    [
        ("a.csv", "title\n\nid\n1\n", 2, "line 2 is empty: no header row there"),
        ("a.csv", "title\n", 5, "no line 5: the file has 1 lines"),
        ("a.xlsx", None, 2, "sheet 'Sheet' row 2 is empty: no header row there"),
        ("a.xlsx", None, 9, "sheet 'Sheet' row 9 is empty: no header row there"),
    ],
)
def test_a_header_row_without_a_header_is_refused(
    tmp_path: Path, name: str, content: str | None, row: int, expected: str
) -> None:
    path = tmp_path / name
    if content is None:
        path.write_bytes(workbook_bytes(["title"], [], ["id"], ["1"]))
    else:
        path.write_text(content)
    assert refusal(path, header_row=row) == f"{path}: {expected}"


@pytest.mark.parametrize(
    "name, content, options",
    [
        ("a.json", '[{"id": 1}]', {}),
        ("a.jsonl", '{"id": 1}\n', {}),
        ("a.csv", '{"id": 1}\n', {"format": "jsonl"}),
    ],
)
def test_header_row_is_refused_for_json(
    tmp_path: Path, name: str, content: str, options: dict[str, str]
) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert "--header-row is for CSV, TSV and XLSX files" in refusal(path, header_row=2, **options)
