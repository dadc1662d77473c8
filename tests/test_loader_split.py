"""A large sheet's rows read by several forked processes (loader/xlsx.py, _scan_split).

Whatever the cuts, the sheet must load exactly as one process reads it: the same values,
formulas and cached values in the same order, the cells of a shared formula holding one
object (also across a cut: members whose anchor another process read), the same hidden
rows and extent, and the same error for a malformed part. A process that dies or gives up
leaves its stretch to the parent. The threshold is lowered so that small sheets are cut."""
from __future__ import annotations

import multiprocessing
import os
import pathlib

import pytest

from xleval import errors
from xleval.loader import load_workbook
from xleval.loader import xlsx as X

from test_loader_fast import MIXED, SST3, X14AC, one_sheet
from test_loader_fast import _same as _same_cells

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "conformance" / "workbooks"


@pytest.fixture
def cut_small(monkeypatch):
    monkeypatch.setattr(X, "_SPLIT_MIN", 0)
    monkeypatch.setattr(X, "_CHECK_LOAD", False)        # as many processes as asked for
    before = dict(X._SPLIT_STATS)
    yield lambda: {k: X._SPLIT_STATS[k] - before[k] for k in before}
    assert not multiprocessing.active_children()        # every reader joined


def _row(r: int) -> str:
    """Row r of the big sheet: every 5th row without r= (numbered after the one before),
    every 7th hidden; a shared formula group in B every 40 rows whose si numbers repeat
    (a later anchor takes the si over), a distinct formula in C every third row (a
    string otherwise), a shared string in D, a
    dynamic-array member (cm=) of the B group now and then."""
    tag = "<row" + (f' r="{r}"' if r % 5 else "") + (' hidden="1"' if r % 7 == 0 else "") + ">"
    si = (r // 40) % 3
    if r % 40 == 0:
        b = (f'<c r="B{r}"><f t="shared" ref="B{r}:B{r + 39}" si="{si}">A{r}*2</f>'
             f"<v>{2 * r}</v></c>")
    elif r % 23 == 0:
        b = f'<c r="B{r}" cm="1"><f t="shared" si="{si}"/><v>1</v></c>'
    else:
        b = f'<c r="B{r}"><f t="shared" si="{si}"/></c>'
    if r < 40:
        b = ""                                  # (no anchor yet)
    c = (f'<c r="C{r}"><f>A{r}+{r % 11}</f><v>{r + r % 11}</v></c>' if r % 3 == 0 else
         f'<c r="C{r}" t="str"><v>c{r}</v></c>')
    return (f'\n  {tag}<c r="A{r}"><v>{r}</v></c>{b}{c}'
            f'<c r="D{r}" t="s"><v>{r % 3}</v></c></row>')


def big_book(tmp_path, rows: int = 3000, tail: str = "") -> str:
    body = MIXED + "".join(_row(r) for r in range(9, rows)) + tail
    return one_sheet(tmp_path, body, sst=SST3, root_attrs=f' xmlns:x14ac="{X14AC}"')


def _same(a, b):
    """Loaded alike (test_loader_fast's check), and the same cells share one FormulaCell."""
    _same_cells(a, b)
    groups_a, groups_b = {}, {}
    for groups, s in ((groups_a, a), (groups_b, b)):
        for k, fc in s.formulas.items():
            groups.setdefault(id(fc), []).append(k)
    assert sorted(groups_a.values()) == sorted(groups_b.values())


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_cut_sheet_loads_as_one_reading(tmp_path, cut_small, workers):
    path = big_book(tmp_path)
    one = load_workbook(path).sheets[0]
    cut = load_workbook(path, workers=workers).sheets[0]
    stats = cut_small()
    assert stats["sheets"] == 1 and stats["parts"] == workers - 1 and stats["read_here"] == 0
    _same(cut, one)
    f = cut.formulas
    # members after a cut hold the anchor read before it; si taken over by later anchors
    assert f[(79, 2)] is f[(40, 2)] and f[(80, 2)] is not f[(40, 2)]
    assert f[(40 * 70 + 5, 2)] is f[(40 * 70, 2)] and f[(40 * 70, 2)].origin == (2800, 2)
    assert f[(46, 2)].dynamic and f[(46, 2)] is not f[(40, 2)]
    assert cut.values[(2999, 4)] == "two" and cut.values[(2998, 3)] == "c2998"
    assert cut.hidden_rows == {2, 4} | {r for r in range(9, 3000) if r % 7 == 0}
    assert (cut.max_row, cut.max_col) == (2999, 30)


def test_cuts_fall_before_a_numbered_row():
    data = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (r, r) if r % 2 else
                    b"<row><c><v>1</v></c></row>" for r in range(1, 200))
    cuts = X._split_points(data, 0, len(data), 4, 0.25)
    assert cuts[0] == 0 and cuts[-1] == len(data) and len(cuts) == 5
    for c in cuts[1:-1]:
        assert data[c - 6:c] == b"</row>" and data.startswith(b'<row r="', c)


def test_a_reader_that_dies_leaves_its_rows_to_the_parent(tmp_path, cut_small, monkeypatch):
    path = big_book(tmp_path)
    one = load_workbook(path).sheets[0]
    monkeypatch.setattr(X, "_scan_part", lambda *a: os._exit(3))
    cut = load_workbook(path, workers=3).sheets[0]
    assert cut_small()["read_here"] == 2
    _same(cut, one)


def test_a_reader_that_hangs_is_not_waited_for(tmp_path, cut_small, monkeypatch):
    import time
    path = big_book(tmp_path)
    one = load_workbook(path).sheets[0]
    monkeypatch.setattr(X, "_scan_part", lambda *a: time.sleep(60))
    monkeypatch.setattr(X, "_SPLIT_PATIENCE", 0.5)
    t0 = time.monotonic()
    cut = load_workbook(path, workers=2).sheets[0]
    assert time.monotonic() - t0 < 20
    assert cut_small()["read_here"] == 1
    _same(cut, one)                             # (the fixture: the process was stopped)


def test_dynamic_members_of_an_anchor_read_by_another_process(tmp_path, cut_small):
    # B3000 is in a dynamic array (cm=) and its group's anchor (si 1, B2920) is read by
    # another process: its own copy of that anchor, marked dynamic
    tail = '<row r="3000"><c r="B3000" cm="1"><f t="shared" si="1"/><v>1</v></c></row>'
    path = big_book(tmp_path, tail=tail)
    one = load_workbook(path).sheets[0]
    cut = load_workbook(path, workers=40).sheets[0]
    stats = cut_small()
    assert stats["parts"] > 30 and stats["read_here"] == 0
    _same(cut, one)
    f = cut.formulas
    assert f[(3000, 2)].dynamic and f[(3000, 2)].origin == (2920, 2)
    assert f[(3000, 2)] is not f[(2920, 2)] and not f[(2920, 2)].dynamic


@pytest.mark.parametrize("bad", [
    '<row r="3000"><c r="A3000"><f>A2&B2</f></c></row>',       # a bare &
    '<row r="3000"><c r="A3000"><v>1\x01</v></c></row>',         # a control character
    '<row r="3000"><c r="A3000"><v>1</v></c>',                   # a row left open
])
def test_a_malformed_last_stretch_is_rejected_as_one_reading_rejects_it(
        tmp_path, cut_small, bad):
    path = big_book(tmp_path, tail=bad)
    with pytest.raises(errors.CorruptWorkbookError) as one:
        load_workbook(path)
    with pytest.raises(errors.CorruptWorkbookError) as cut:
        load_workbook(path, workers=3)
    assert str(cut.value) == str(one.value) and "malformed XML" in str(one.value)


def test_a_member_before_any_anchor_goes_to_the_lxml_loader_as_in_one_reading(
        tmp_path, cut_small):
    tail = '<row r="3000"><c r="E3000"><f t="shared" si="9"/><v>5</v></c></row>'
    path = big_book(tmp_path, tail=tail)
    one = load_workbook(path).sheets[0]
    cut = load_workbook(path, workers=2).sheets[0]
    _same(cut, one)


def test_mostly_distinct_formulas_are_read_in_one_process(tmp_path, cut_small):
    body = "".join(f'<row r="{r}"><c r="A{r}"><f>{r}+1</f></c></row>' for r in range(1, 3000))
    load_workbook(one_sheet(tmp_path, body, sst=[]), workers=2)
    assert cut_small()["sheets"] == 0


@pytest.mark.skipif(not CORPUS.is_dir(), reason="conformance corpus not present")
def test_corpus_sheets_cut_load_as_one_reading(cut_small, monkeypatch):
    # every sheet cut wherever a cut can go (the distinct-formula rule off): the Excel-saved
    # workbooks (every other one: ~8 s) must load exactly as one reading
    monkeypatch.setattr(X, "_SPLIT_DISTINCT", 0)
    paths = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".xlsx", ".xlsm"))
    assert paths
    for p in paths[::2]:
        try:
            one = load_workbook(str(p))
        except errors.WorkbookError as e:
            with pytest.raises(type(e)):
                load_workbook(str(p), workers=3)
            continue
        cut = load_workbook(str(p), workers=3)
        for a, b in zip(cut.sheets, one.sheets):
            _same(a, b)
    assert cut_small()["parts"] > 0
