"""Readers at the edges of trust (issue "Trust at the edges"), on the readers directly.

Every input here is broken for real: damaged bytes, codecs that cannot read the file, JSON
that stops part-way or holds what `json.loads` would hide, formulas saved without values,
workbooks whose XML or deflate stream breaks, zip directories that lie or inflate a
thousandfold. Nothing of custimport is mocked; the test codecs are real registered codecs.
"""

from __future__ import annotations

import codecs
import json
import os
import zipfile
import zlib
from pathlib import Path

import pytest
from openpyxl import Workbook

import raw_workbooks as raw
from custimport.errors import InputFileError
from custimport.io.formats import open_source
from custimport.io.source import RawRow, RowSource
from custimport.io.xlsx_archive import SHARED_STRINGS_MAX, check_workbook_archive
from custimport.service.inspecting import InspectRequest, inspect_file


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read_all(path: Path, **options: str) -> tuple[RowSource, list[RawRow]]:
    with open_source(path, **options) as source:
        rows = list(source)
    return source, rows


def refusal(path: Path, **options: str) -> str:
    with pytest.raises(InputFileError) as raised:
        open_source(path, **options)
    return str(raised.value)


def numbered(rows: list[RawRow]) -> list[tuple[int, list[str], str | None]]:
    return [(row.line_no, row.cells, row.error) for row in rows]


# --- item 1: a damaged UTF-8 file stays UTF-8 -------------------------------------------------


def test_reads_a_utf8_file_with_one_damaged_byte_as_utf8_and_fails_only_that_row(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path, "enc.csv", b"name,group_type\nM\xc3\xbcller,BUSINESS\nBad\xffByte,BUSINESS\n"
    )
    source, rows = read_all(path)
    assert source.info.encoding == "utf-8"
    assert numbered(rows) == [
        (2, ["Müller", "BUSINESS"], None),
        (
            3,
            ["Bad\ufffdByte", "BUSINESS"],
            "value in column 'name' contains bytes that are not valid utf-8",
        ),
    ]


def test_reads_a_longer_utf8_file_with_a_few_damaged_bytes_as_utf8(tmp_path: Path) -> None:
    lines = [b"id,name"] + [b"%d,J\xc3\xbcrgen Gro\xc3\x9f %d" % (n, n) for n in range(300)]
    for damaged in (10, 150, 290):  # a truncated sequence, a stray byte, a lone continuation
        lines[damaged] = lines[damaged].replace(
            b"\xc3\xbc", [b"\xc3", b"\xfe", b"\xbc"][damaged % 3]
        )
    source, rows = read_all(write(tmp_path, "a.csv", b"\n".join(lines) + b"\n"))
    assert source.info.encoding == "utf-8"
    failed = [row.line_no for row in rows if row.error is not None]
    assert failed == [11, 151, 291]
    assert rows[0].cells == ["0", "Jürgen Groß 0"]


def test_a_damaged_byte_at_the_top_does_not_hide_utf8_further_down(tmp_path: Path) -> None:
    """The first 64 KiB hold one undecodable byte and nothing else that is not ASCII; the
    UTF-8 comes later. Judged on the top alone, the file was cp1252, and `Zoë` further
    down was stored as `ZoÃ«` without a word. Judged on samples from the whole file, it is
    UTF-8, and only the damaged row fails."""
    lines = [b"account_number,name", b"A0,Caf\xe9"]
    lines += [b"A%d,Name %d" % (n, n) for n in range(1, 8000)]
    lines.append(b"Z1,Zo\xc3\xab Ltd")
    source, rows = read_all(write(tmp_path, "late.csv", b"\n".join(lines) + b"\n"))
    assert source.info.encoding == "utf-8"
    assert [row.line_no for row in rows if row.error is not None] == [2]
    assert rows[-1].cells == ["Z1", "Zoë Ltd"]


def test_keeps_cp1252_when_undecodable_bytes_outnumber_chance_utf8_sequences(
    tmp_path: Path,
) -> None:
    """`É\u2019` happens to be a valid UTF-8 sequence; the many accented letters are not."""
    text = "name;city\r\nREN\u00c9\u2019S Café;Besançon\r\nHélène Müller;Genève\r\n"
    source, rows = read_all(write(tmp_path, "a.csv", text.encode("cp1252")))
    assert source.info.encoding == "cp1252"
    assert [row.cells for row in rows] == [
        ["REN\u00c9\u2019S Café", "Besançon"],
        ["Hélène Müller", "Genève"],
    ]


# --- item 13: an encoding the file cannot be read with is refused up front ----------------------


def _search(name: str) -> codecs.CodecInfo | None:
    """Three real codecs, each broken in one of the ways a codec can fail a file reader."""
    utf8 = codecs.lookup("utf-8")
    if name == "custimport_test_no_pieces":  # no incremental decoder at all
        return codecs.CodecInfo(utf8.encode, utf8.decode, name=name)
    if name == "custimport_test_forgetful":  # decodes each piece on its own
        return codecs.CodecInfo(utf8.encode, utf8.decode, name=name, incrementaldecoder=_Forgetful)
    if name == "custimport_test_gives_up":  # fine for 300 KB, then raises
        return codecs.CodecInfo(utf8.encode, utf8.decode, name=name, incrementaldecoder=_GivesUp)
    return None


class _Forgetful(codecs.IncrementalDecoder):
    def decode(self, data: bytes, final: bool = False) -> str:
        return bytes(data).decode("utf-8", self.errors)


class _GivesUp(codecs.BufferedIncrementalDecoder):
    LIMIT = 300_000

    def __init__(self, errors: str = "strict") -> None:
        super().__init__(errors)
        self.seen = 0

    def _buffer_decode(self, data: bytes, errors: str, final: bool) -> tuple[str, int]:
        self.seen += len(data)
        if self.seen > self.LIMIT:
            raise UnicodeError("the test codec gives up here")
        return codecs.utf_8_decode(data, errors, final)


codecs.register(_search)


@pytest.mark.parametrize(
    "encoding, reason",
    [
        (
            "utf-16",
            "UTF-16 stream does not start with BOM (name the byte order: utf-16-le or utf-16-be)",
        ),
        (
            "UTF32",
            "UTF-32 stream does not start with BOM (name the byte order: utf-32-le or utf-32-be)",
        ),
        (
            "idna",
            "the codec only decodes strictly, it cannot fail single rows (it is not for files)",
        ),
        (
            "punycode",
            "the codec only decodes strictly, it cannot fail single rows (it is not for files)",
        ),
        ("undefined", "undefined encoding"),
        ("custimport_test_no_pieces", "the codec cannot decode a file piece by piece"),
        ("custimport_test_forgetful", "the codec cannot decode a file piece by piece"),
    ],
)
def test_refuses_an_encoding_the_file_cannot_be_read_with(
    tmp_path: Path, encoding: str, reason: str
) -> None:
    path = write(tmp_path, "a.csv", "name,city\nZoë,Łódź\n" * 50)
    assert refusal(path, encoding=encoding) == f"{path}: cannot be read as '{encoding}': {reason}"


def test_stops_where_a_codec_gives_up_part_way_and_never_passes_on_a_cut_line(
    tmp_path: Path,
) -> None:
    lines = ["id,name"] + [f"{n},Zoë number {n:07d}" for n in range(40_000)]
    path = write(tmp_path, "a.csv", "\n".join(lines) + "\n")
    source, rows = read_all(path, encoding="custimport_test_gives_up")
    assert 1_000 < len(rows) < 40_000
    assert all(row.error is None for row in rows)
    assert [row.cells for row in rows] == [line.split(",") for line in lines[1 : len(rows) + 1]]
    assert source.stopped == (
        "reading stopped between bytes 262,144 and 524,288: the custimport_test_gives_up decoder "
        "failed (the test codec gives up here); the rest of the file was not read"
    )


def test_says_why_when_a_codec_gives_up_before_the_header_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "id" + " " * 600_000 + ",name\n1,Ann\n")
    assert "the test codec gives up here" in refusal(path, encoding="custimport_test_gives_up")


# --- item 2: JSON that cannot be read on stops, and says so -----------------------------------

ISSUE_JSON = (
    '[{"name":"S1","group_type":"BUSINESS"},{"name":"S2" "group_type":"BUSINESS"},'
    '{"name":"S3","group_type":"BUSINESS"}]'
)


def test_stops_at_a_json_syntax_error_saying_where_and_that_the_rest_was_not_read(
    tmp_path: Path,
) -> None:
    source, rows = read_all(write(tmp_path, "s.json", ISSUE_JSON))
    assert numbered(rows) == [
        (1, ["S1", "BUSINESS"], None),
        (2, [], "invalid JSON: Expecting ',' delimiter (line 1, column 53)"),
    ]
    assert source.stopped == (
        "reading stopped at element 2 (line 1, column 53): invalid JSON: Expecting ',' "
        "delimiter; the rest of the file was not read"
    )


def test_stops_at_an_element_nested_too_deeply_to_parse(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    content = f'[{{"name": "S1"}},\n {{"name": {deep}}},\n {{"name": "S3"}}]'
    source, rows = read_all(write(tmp_path, "a.json", content))
    assert numbered(rows) == [
        (1, ["S1"], None),
        (2, [], "invalid JSON: nested too deeply (line 2, column 2)"),
    ]
    assert source.stopped == (
        "reading stopped at element 2 (line 2, column 2): invalid JSON: nested too deeply; "
        "the rest of the file was not read"
    )


def test_fails_only_the_line_nested_too_deeply_in_json_lines(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    content = f'{{"name": "S1"}}\n{{"name": {deep}}}\n{{"name": "S3"}}\n'
    source, rows = read_all(write(tmp_path, "a.jsonl", content))
    assert numbered(rows) == [
        (1, ["S1"], None),
        (2, [], "invalid JSON: nested too deeply"),
        (3, ["S3"], None),
    ]
    assert source.stopped is None


def test_says_a_json_array_that_is_never_closed_looks_cut_short(tmp_path: Path) -> None:
    source, rows = read_all(write(tmp_path, "a.json", '[{"id": 1},\n {"id": 2}\n'))
    assert numbered(rows) == [(1, ["1"], None), (2, ["2"], None)]
    assert source.stopped == (
        "reading stopped after element 2 (line 3, column 1): the file ends before the array's "
        "closing ']', as if the file was cut short"
    )


def test_stops_at_text_after_the_closing_bracket_such_as_a_second_array(tmp_path: Path) -> None:
    source, rows = read_all(write(tmp_path, "a.json", '[{"id": 1}]\n[{"id": 2}]\n'))
    assert numbered(rows) == [(1, ["1"], None)]
    assert source.stopped == (
        "reading stopped at line 2, column 1: the text after the array's ']' was not read"
    )


def test_names_the_line_and_column_of_an_error_several_buffers_into_the_file(
    tmp_path: Path,
) -> None:
    records = [{"id": n, "note": "n" * (n % 300)} for n in range(60_000)]
    text = json.dumps(records, indent=2)
    broken_at = text.index('"id": 45000')
    text = text[:broken_at] + '"id" 45000' + text[broken_at + len('"id": 45000') :]
    with pytest.raises(json.JSONDecodeError) as expected:  # json reads the whole text at once
        json.loads(text)
    assert expected.value.lineno > 100_000  # 8 MB in: many buffers
    source, rows = read_all(write(tmp_path, "a.json", text))
    assert len(rows) == 45_001 and rows[-1].line_no == 45_001
    where = f"line {expected.value.lineno}, column {expected.value.colno}"
    assert source.stopped == (
        f"reading stopped at element 45001 ({where}): invalid JSON: "
        "Expecting ':' delimiter; the rest of the file was not read"
    )


# --- item 3: what json.loads would decide silently fails the row --------------------------------


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_fails_an_object_that_gives_a_key_twice(tmp_path: Path, name: str) -> None:
    objects = ['{"id": "A1", "name": "Ann"}', '{"id": "A2", "name": "Bob", "name": "Bo"}']
    content = f"[{','.join(objects)}]" if name == "a.json" else "\n".join(objects)
    _, rows = read_all(write(tmp_path, name, content))
    assert [row.error for row in rows] == [None, "key 'name' is given more than once"]


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_fails_the_numbers_json_does_not_allow(tmp_path: Path, name: str, literal: str) -> None:
    objects = ['{"account_number": "A1"}', f'{{"account_number": {literal}}}']
    content = f"[{','.join(objects)}]" if name == "a.json" else "\n".join(objects)
    _, rows = read_all(write(tmp_path, name, content))
    assert numbered(rows)[1] == (
        2,
        [literal],
        f"value in column 'account_number' is {literal}, which JSON does not allow: "
        "write it as a string",
    )


@pytest.mark.parametrize(
    "literal, text",
    [
        ("1e3", "1000"),
        ("0.10", "0.1"),
        ("1.50", "1.5"),
        ("-0.0", "-0"),
        ("2.5E-3", "0.0025"),
        ("1.5e-9", "1.5e-9"),
        ("42.0", "42"),
        ("9007199254740992.0", "9007199254740992"),
        ("12345678901234567890", "12345678901234567890"),  # an integer literal stays exact
        ("0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827"),
    ],
)
def test_stores_a_number_as_its_shortest_exact_text(
    tmp_path: Path, literal: str, text: str
) -> None:
    _, rows = read_all(write(tmp_path, "a.json", f'[{{"phone": {literal}}}]'))
    assert numbered(rows) == [(1, [text], None)]


@pytest.mark.parametrize(
    "literal", ["1.2345678901234567e16", "9007199254740993.0", "1e300", "1E400"]
)
def test_fails_a_float_holding_an_integer_beyond_2_53_asking_for_a_string(
    tmp_path: Path, literal: str
) -> None:
    _, rows = read_all(write(tmp_path, "a.jsonl", f'{{"account_number": {literal}}}\n'))
    assert numbered(rows) == [
        (
            1,
            [literal],
            f"value in column 'account_number' is the number {literal}, an integer too large "
            "to be exact when written as a float: write it as a string",
        )
    ]


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
def test_leaves_a_key_an_object_lacks_out_of_its_row_but_keeps_an_empty_cell(
    tmp_path: Path, name: str
) -> None:
    objects = [
        '{"account_number": "A1", "name": "Alpha", "description": "kept"}',
        '{"account_number": "A2", "name": "Beta"}',
        '{"account_number": "A3", "name": "Gamma", "description": null}',
    ]
    content = f"[{','.join(objects)}]" if name == "a.json" else "\n".join(objects)
    _, rows = read_all(write(tmp_path, name, content))
    assert [(row.by_column, row.cells) for row in rows] == [
        ({"account_number": "A1", "name": "Alpha", "description": "kept"}, ["A1", "Alpha", "kept"]),
        ({"account_number": "A2", "name": "Beta"}, ["A2", "Beta", ""]),
        ({"account_number": "A3", "name": "Gamma", "description": ""}, ["A3", "Gamma", ""]),
    ]
    assert rows[1].values == {"account_number": "A2", "name": "Beta"}


def test_quotes_a_key_holding_a_bad_byte_as_printable_text(tmp_path: Path) -> None:
    """The message quotes the key: an undecodable byte in it must not reach the error log
    as a lone surrogate (no UTF-8 writer can write one)."""
    content = b'[{"name": "M\xc3\xbcller"},\n{"n\xffme": "Bad"}]'
    source, rows = read_all(write(tmp_path, "a.json", content))
    assert source.info.encoding == "utf-8"
    assert rows[1].error == "unexpected key 'n\ufffdme'"
    rows[1].error.encode("utf-8")


def test_refuses_a_first_object_whose_keys_hold_a_bad_byte_or_a_nul(tmp_path: Path) -> None:
    for content in (b'[{"M\xc3\xbcller": 1, "n\xffme": 2}]', b'[{"a\\u0000b": 1}]'):
        path = write(tmp_path, "a.json", content)
        assert refusal(path) == (
            f"{path}: the keys of element 1 contain a NUL character or bytes that are not "
            "valid utf-8"
        )


# --- item 4: a formula without a saved value fails its row -----------------------------------


def test_fails_a_row_whose_formula_was_saved_without_its_value(tmp_path: Path) -> None:
    workbook = Workbook()  # openpyxl calculates nothing: its formulas have no saved value
    sheet = workbook.active
    sheet.append(["account_number", "name", "description"])
    sheet.append(["A1", "Alpha", "=UPPER(B2)"])
    sheet.append(["A2", "Beta", "plain"])
    workbook.save(tmp_path / "f.xlsx")
    _, rows = read_all(tmp_path / "f.xlsx")
    assert numbered(rows) == [
        (
            2,
            ["A1", "Alpha", "=UPPER(B2)"],
            "column 'description' (cell C2) is a formula saved without its value: open and save "
            "the file in a spreadsheet program first, so that the values are stored",
        ),
        (3, ["A2", "Beta", "plain"], None),
    ]


def test_reads_a_formula_by_the_value_saved_with_it(tmp_path: Path) -> None:
    row = [
        "A1",
        '<c r="B2"><f>1+1</f><v>2</v></c>',
        '<c r="C2" t="str"><f>UPPER("x")</f><v>X</v></c>',
        '<c r="D2" t="str"><f>IF(1,"","y")</f><v></v></c>',  # a value that is the empty string
        "end",
    ]
    sheet = raw.sheet_xml([["id", "sum", "upper", "blank", "last"], row])
    _, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert numbered(rows) == [(2, ["A1", "2", "X", "", "end"], None)]


def test_fails_a_row_whose_cell_holds_a_spreadsheet_error(tmp_path: Path) -> None:
    """#N/A is what a failed formula shows, not a value: stored as text it would change the
    row silently (SPEC §12.2)."""
    row = ["A1", '<c r="B2" t="e"><f>VLOOKUP(1,Z:Z,2)</f><v>#N/A</v></c>', "end"]
    sheet = raw.sheet_xml([["id", "name", "last"], row, ["A2", "fine", "end"]])
    _, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert numbered(rows) == [
        (
            2,
            ["A1", "#N/A", "end"],
            "column 'name' (cell B2) holds the spreadsheet error #N/A, not a value: correct "
            "the formula or clear the cell",
        ),
        (3, ["A2", "fine", "end"], None),
    ]


def test_fails_a_workbook_number_too_large_to_hold_every_digit(tmp_path: Path) -> None:
    """Excel stores every number as a double: an account number of 17 digits has lost some
    already, and must not become `1.2345678901234568e+16` (the JSON rule, for workbooks)."""
    row = [
        "A1",
        '<c r="B2"><v>1.2345678901234568E+16</v></c>',
        '<c r="C2"><v>9007199254740992</v></c>',
    ]
    sheet = raw.sheet_xml([["id", "big", "edge"], row])
    _, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert numbered(rows) == [
        (
            2,
            ["A1", "1.2345678901234568e+16", "9007199254740992"],
            "column 'big' (cell B2) is the number 1.2345678901234568e+16, too large for a "
            "spreadsheet to keep every digit of: format the column as text and type the value "
            "again",
        )
    ]


def test_fails_a_row_whose_only_content_is_a_formula_without_a_value(tmp_path: Path) -> None:
    sheet = raw.sheet_xml([["id", "name"], ["", '<c r="B2"><f>A1</f></c>'], ["3", "x"]])
    _, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert [(row.line_no, row.error is not None) for row in rows] == [(2, True), (3, False)]


def test_refuses_a_header_cell_that_is_a_formula_without_a_value(tmp_path: Path) -> None:
    sheet = raw.sheet_xml([["id", '<c r="B1"><f>"na"&amp;"me"</f></c>'], ["1", "x"]])
    path = raw.write_workbook(tmp_path / "a.xlsx", sheet)
    assert refusal(path) == (
        f"{path}: header cell B1 is a formula saved without its value: open and save the file "
        "in a spreadsheet program first, so that the values are stored"
    )


# --- item 5: a sheet that breaks part-way stops reading, and says where --------------------------

ROWS = [["name", "group_type"]] + [[f"G{n:05d}", "BUSINESS"] for n in range(2, 3002)]


def _cut(sheet: bytes, row_no: int) -> int:
    return sheet.index(f'<row r="{row_no}">'.encode())


def _with_fffe(path: Path) -> Path:
    sheet = raw.sheet_xml(ROWS)
    at = _cut(sheet, 2001) + len('<row r="2001">')
    bad = '<c r="C2001" t="inlineStr"><is><t>x\ufffey</t></is></c>'.encode()
    return raw.write_workbook(path, sheet[:at] + bad + sheet[at:])


def _truncated(path: Path) -> Path:
    sheet = raw.sheet_xml(ROWS)
    return raw.write_workbook(path, sheet[: _cut(sheet, 2001)])


def _invalid_deflate_block(path: Path) -> Path:
    """The sheet's deflate stream turns into a block of the reserved type at row 2001."""
    sheet = raw.sheet_xml(ROWS)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    good = packer.compress(sheet[: _cut(sheet, 2001)]) + packer.flush(zlib.Z_FULL_FLUSH)
    raw.write_workbook(path, raw.sheet_xml(ROWS[:1]))
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n != raw.SHEET]
        parts = {n: archive.read(n) for n in names}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    raw.add_deflated(path, raw.SHEET, good + b"\xff" * 64, crc=zlib.crc32(sheet), size=len(sheet))
    return path


def _bad_crc(path: Path) -> Path:
    sheet = raw.sheet_xml(ROWS)
    raw.write_workbook(path, sheet, method=zipfile.ZIP_STORED)
    start, _ = raw.member_data_offset(path, raw.SHEET)
    raw.overwrite(path, start + sheet.index(b"G02500"), b"H")  # still XML, not the same bytes
    return path


def _missing_shared_string(path: Path) -> Path:
    sheet = raw.sheet_xml(ROWS)
    at = _cut(sheet, 2001) + len('<row r="2001">')
    cell = b'<c r="C2001" t="s"><v>99</v></c>'
    return raw.write_workbook(path, sheet[:at] + cell + sheet[at:], raw.shared_strings_xml(["a"]))


@pytest.mark.parametrize(
    "damage, last_row, reason",
    [
        (_with_fffe, 2000, "the sheet's XML is broken (not well-formed (invalid token): line 2,"),
        (_truncated, 2000, "the sheet's XML is broken (no element found: line 2,"),
        (
            _missing_shared_string,
            2000,
            "cell C2001 refers to shared string 99, but the workbook has 1",
        ),
    ],
)
def test_stops_reading_a_sheet_that_breaks_part_way_keeping_the_rows_before(
    tmp_path: Path, damage: object, last_row: int | None, reason: str
) -> None:
    path = damage(tmp_path / "broken.xlsx")  # type: ignore[operator]
    source, rows = read_all(path)
    assert all(row.error is None for row in rows)
    assert [row.cells for row in rows] == ROWS[1 : len(rows) + 1]  # whole rows, in order
    assert 1_000 < len(rows) < 3_000
    if last_row is not None:
        assert rows[-1].line_no == last_row
    assert source.stopped is not None
    assert source.stopped.startswith(f"reading stopped after sheet row {rows[-1].line_no:,}: ")
    assert reason in source.stopped
    assert source.stopped.endswith("; the rest of the sheet was not read")


@pytest.mark.parametrize(
    "damage, detail",
    [
        (_invalid_deflate_block, "Error -3 while decompressing data: invalid block type"),
        (_bad_crc, "Bad CRC-32 for file 'xl/worksheets/sheet1.xml'"),
    ],
)
def test_refuses_a_sheet_whose_compressed_data_is_damaged_before_reading_a_row(
    tmp_path: Path, damage: object, detail: str
) -> None:
    """Inflating finds it up front (SPEC §12.3); a flipped byte in a stored sheet would
    otherwise be read as data, and found wrong only at the end of the sheet."""
    path = damage(tmp_path / "broken.xlsx")  # type: ignore[operator]
    assert refusal(path) == (
        f"{path}: not a readable xlsx workbook: xl/worksheets/sheet1.xml is damaged, or does "
        f"not hold what the zip directory declares ({detail})"
    )


def test_refuses_a_workbook_whose_sheet_breaks_before_the_header_is_read(tmp_path: Path) -> None:
    sheet = raw.sheet_xml(ROWS)
    path = raw.write_workbook(tmp_path / "a.xlsx", sheet[:200] + "\ufffe".encode() + sheet[200:])
    assert refusal(path).startswith(
        f"{path}: cannot read sheet 'Sheet1': the sheet's XML is broken (not well-formed"
    )


def test_stops_at_nested_entities_in_a_sheet_without_expanding_them(tmp_path: Path) -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10)
    )
    sheet = raw.sheet_xml([["name"], ["x"]]).replace(
        b"<worksheet", f"<!DOCTYPE worksheet [{entities}]><worksheet".encode(), 1
    )
    sheet = sheet.replace(b"<t>x</t>", b"<t>&a9;</t>")
    source, rows = read_all(raw.write_workbook(tmp_path / "a.xlsx", sheet))
    assert rows == []
    assert source.stopped is not None
    assert source.stopped.startswith("reading stopped after sheet row 1: the sheet's XML is broken")
    assert "limit on input amplification factor" in source.stopped


# --- item 6: zip bombs are refused from the zip directory --------------------------------------


def test_refuses_a_member_that_would_inflate_beyond_a_plausible_ratio(tmp_path: Path) -> None:
    path = raw.write_workbook(tmp_path / "a.xlsx", raw.sheet_xml(ROWS[:3]))
    raw.inflating_member(
        path, raw.STRINGS, raw.strings_head(), b"<si><t>ab</t></si>", 32, b"</sst>"
    )
    message = refusal(path)
    assert message.startswith(
        f"{path}: refused as a likely zip bomb: xl/sharedStrings.xml would expand from "
    )
    assert "to 32.0 MB, a ratio of" in message and "where 100:1 is the most accepted" in message


def test_refuses_a_shared_strings_table_too_large_to_hold_in_memory(tmp_path: Path) -> None:
    strings = os.urandom(16 * 2**20)  # incompressible: the ratio stays plausible
    path = raw.write_workbook(tmp_path / "a.xlsx", raw.sheet_xml(ROWS[:3]), strings)
    raw.declare_size(path, raw.STRINGS, SHARED_STRINGS_MAX + 2**29)
    assert refusal(path).endswith(
        "to 1.5 GB, more than the 1.0 GB accepted for this part; if the workbook is genuine, "
        "save it as CSV"
    )


def test_refuses_a_part_read_in_one_piece_whose_declared_size_is_false(tmp_path: Path) -> None:
    path = raw.write_workbook(tmp_path / "a.xlsx", raw.sheet_xml(ROWS[:3]))
    raw.declare_size(path, raw.WORKBOOK, 100)
    assert refusal(path) == (
        f"{path}: not a readable xlsx workbook: xl/workbook.xml is damaged, or does not hold "
        "what the zip directory declares (Bad CRC-32 for file 'xl/workbook.xml')"
    )


def test_refuses_a_member_compressed_with_a_method_spreadsheets_do_not_use(
    tmp_path: Path,
) -> None:
    path = raw.write_workbook(
        tmp_path / "a.xlsx", raw.sheet_xml(ROWS[:3]), method=zipfile.ZIP_BZIP2
    )
    assert refusal(path) == (
        f"{path}: not a workbook a spreadsheet program wrote: xl/worksheets/sheet1.xml is "
        "compressed with method 12 (only stored and deflated are accepted)"
    )


def test_accepts_a_large_workbook_of_identical_rows(tmp_path: Path) -> None:
    """Repetitive real data compresses about 24:1 at most: well inside the limits."""
    rows = [["name", "group_type", "note"]] + [["Same", "BUSINESS", "same"]] * 120_000
    path = raw.write_workbook(tmp_path / "a.xlsx", raw.sheet_xml(rows))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(raw.SHEET)
    assert info.file_size > 8 * 2**20  # beyond the size where the ratio is looked at
    check_workbook_archive(path)


# --- inspect ---------------------------------------------------------------------------------


def test_inspect_says_where_reading_stopped(tmp_path: Path) -> None:
    inspection = inspect_file(InspectRequest(_with_fffe(tmp_path / "a.xlsx")))
    assert inspection.stats.rows == 1_999
    assert inspection.stats.stopped is not None
    assert inspection.stats.stopped.startswith("reading stopped after sheet row 2,000: ")


# --- issue #12, F8: a negative zero keeps its sign -------------------------------------------


@pytest.mark.parametrize("name", ["a.json", "a.jsonl"])
@pytest.mark.parametrize(
    "literal, text",
    [("-0.0", "-0"), ("-0", "-0"), ("-0e5", "-0"), ("-0.000E-3", "-0"), ("0.0", "0"), ("0", "0")],
)
def test_keeps_the_sign_of_a_negative_zero(
    tmp_path: Path, name: str, literal: str, text: str
) -> None:
    """`-0.0` became "0": a value changed without a word (SPEC §12.2), where `1.50` is "1.5"
    and `42.0` is "42" by the shortest-exact-text rule; so `-0.0` is "-0", as `-0` is."""
    obj = f'{{"account_number": {literal}}}'
    _, rows = read_all(write(tmp_path, name, f"[{obj}]" if name == "a.json" else obj))
    assert numbered(rows) == [(1, [text], None)]


@pytest.mark.parametrize(
    "literal, reason",
    [
        ("1e999999999999999999", "an integer too large to be exact when written as a float"),
        ("1e-99999999999999999999", "an exponent too far out to keep exact"),
        ("-1E99999999999999999999", "an exponent too far out to keep exact"),
    ],
)
def test_fails_a_number_whose_exponent_is_out_of_all_range_instead_of_crashing(
    tmp_path: Path, literal: str, reason: str
) -> None:
    content = (
        f'{{"account_number": "A1"}}\n{{"account_number": {literal}}}\n{{"account_number": "A3"}}\n'
    )
    _, rows = read_all(write(tmp_path, "a.jsonl", content))
    assert numbered(rows) == [
        (1, ["A1"], None),
        (
            2,
            [literal],
            f"value in column 'account_number' is the number {literal}, {reason}: write it as a "
            "string",
        ),
        (3, ["A3"], None),
    ]
