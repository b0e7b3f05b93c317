"""Rows set aside on disk come back whole, in order, in chunks or in the batches they came in."""

import pickle

from custimport.rows.outcomes import PendingRow
from custimport.run.prepare import PreparedBatch
from custimport.run.spill import SpilledRows


def rows(lines: range) -> list[PendingRow]:
    return [PendingRow(n, {"account_number": f"A-{n}", "n": n}, [f"A-{n}", ""]) for n in lines]


def test_rows_come_back_in_order_in_chunks_of_the_size_asked() -> None:
    spill = SpilledRows()
    spill.extend(rows(range(2, 7)))
    spill.extend([])
    spill.extend(rows(range(7, 9)))
    assert len(spill) == 7 and spill
    chunks = list(spill.chunks(3))
    assert [[row.line_no for row in chunk] for chunk in chunks] == [[2, 3, 4], [5, 6, 7], [8]]
    assert chunks[2][0].data == {"account_number": "A-8", "n": 8}
    assert chunks[2][0].cells == ["A-8", ""]
    assert [row.line_no for chunk in spill.chunks(10) for row in chunk] == list(range(2, 9))
    spill.close()


def test_rows_added_while_reading_are_kept_for_the_next_read() -> None:
    spill = SpilledRows()
    spill.extend(rows(range(1, 5)))
    seen = []
    for chunk in spill.chunks(2):
        seen += [row.line_no for row in chunk]
        spill.extend(rows(range(100, 101)))
    assert seen == [1, 2, 3, 4]
    assert [row.line_no for chunk in spill.chunks(100) for row in chunk] == [1, 2, 3, 4, 100, 100]
    spill.close()


def test_an_empty_spill_is_false_and_reads_nothing() -> None:
    spill = SpilledRows()
    assert not spill and list(spill.chunks(5)) == []
    spill.close()


def test_batches_come_back_whole_with_their_final_flag_also_as_they_crossed_the_pipe() -> None:
    spill = SpilledRows()
    spill.extend(rows(range(1, 3)), final=False)
    sent = PreparedBatch(rows(range(3, 6)))
    spill.extend(sent.rows, final=True, wire=pickle.dumps(sent))
    assert len(spill) == 5
    back = [([row.line_no for row in batch], final) for batch, final in spill.batches()]
    assert back == [([1, 2], False), ([3, 4, 5], True)]
    assert [row.line_no for chunk in spill.chunks(4) for row in chunk] == [1, 2, 3, 4, 5]
    spill.clear()
    assert not spill and list(spill.batches()) == []
    spill.extend(rows(range(9, 10)))
    assert [[row.line_no for row in batch] for batch, _ in spill.batches()] == [[9]]
    spill.close()
