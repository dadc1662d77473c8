"""The Python API on bad input: the package's own errors (one clear message), never a bare
TypeError/KeyError, a silent str() of an unsupported value, a hang on a huge range, or a
workbook written over a device file."""
import datetime as dt
import decimal
import os
import pathlib

import numpy as np
import pytest

import xleval
from xleval.errors import OutputError, ReferenceError_, XlevalError

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "workbooks"


@pytest.fixture
def wb():
    book = xleval.Workbook.from_dict({"S": {"A1": 1, "A2": "=A1*2", "B1": 3}})
    book.calculate()
    return book


def test_import_xleval_loads_nothing_heavy():
    import subprocess
    import sys
    code = ("import sys, xleval; assert 'numpy' not in sys.modules, 'numpy'; "
            "from xleval import load, Workbook, XLError, compile, function; "
            "assert 'numpy' in sys.modules; print(sorted(xleval.__all__) == sorted(dir(xleval)"
            " and xleval.__all__))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(FIX.parents[1])})
    assert p.returncode == 0 and p.stdout.strip() == "True", p.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        xleval.nope  # noqa: B018


@pytest.mark.parametrize("value", [{"a": 1}, object(), b"x", 1 + 2j, {1, 2}])
def test_set_value_refuses_what_no_cell_holds(wb, value):
    with pytest.raises(XlevalError, match=f"not {type(value).__name__}"):
        wb.set_value("S!A1", value)
    wb.calculate()
    assert wb["S!A1"] == 1.0 and wb["S!A2"] == 2.0          # nothing changed


def test_set_value_numbers_dates_and_durations(wb):
    with pytest.raises(XlevalError, match="too large for a cell"):
        wb.set_value("S!A1", 10 ** 400)
    for value, expected in ((dt.time(12, 0), 0.5), (dt.timedelta(hours=36), 1.5),
                            (decimal.Decimal("1.25"), 1.25), (dt.date(2024, 1, 1), 45292.0),
                            (np.float32(2.5), 2.5), (np.int64(7), 7.0)):
        wb.set_value("S!A1", value)
        wb.calculate()
        assert wb["S!A1"] == expected and wb["S!A2"] == 2 * expected, value
    wb.set_value("S!B1", np.bool_(True))
    assert wb["S!B1"] is True


def test_set_value_takes_row_lists_of_the_range_shape(wb):
    wb.set_value("S!C1:C2", [[1], [2]])
    wb.set_value("S!D1:E1", [5, "=D1*2"])           # a flat list for one row
    wb.set_value("S!F1:F3", [7, 8, 9])              # ... or one column
    wb.calculate()
    assert wb["S!C1:C2"] == [[1.0], [2.0]] and wb["S!D1:E1"] == [[5.0, 10.0]]
    assert wb["S!F1:F3"] == [[7.0], [8.0], [9.0]]
    with pytest.raises(XlevalError, match="not 2 row"):
        wb.set_value("S!C1:C2", [1, 2, 3])
    with pytest.raises(XlevalError, match="not dict"):
        wb.set_value("S!C1:C2", [[1], [{"x": 1}]])
    assert wb["S!C1:C2"] == [[1.0], [2.0]]


def test_huge_areas_are_refused_at_once(wb):
    for call in (lambda: wb["S!A1:XFD1048576"], lambda: wb.set_value("S!A1:XFD1048576", 1)):
        with pytest.raises(ReferenceError_, match="covers 17,179,869,184 cells"):
            call()
    assert len(wb["S!A1:A1048576"]) == 1048576         # one whole column is fine


def test_bad_references_and_sheets(wb):
    for ref, msg in ((None, "not NoneType"), ("!A1", "no sheet name"),
                     ("Nope!A1", "no sheet named 'Nope'"), ("S!A1:", "not a cell reference")):
        with pytest.raises(ReferenceError_, match=msg):
            wb[ref]
    assert wb.get(None, "d") == "d"
    for call in (lambda: wb.to_frame("Nope"), lambda: wb.sheet_values("Nope"),
                 lambda: wb.to_csv("unused.csv", sheet="Nope")):
        with pytest.raises(ReferenceError_, match="no sheet named 'Nope'"):
            call()
    with pytest.raises(ReferenceError_, match="no sheet number 5"):
        wb.sheet_values(5)
    assert wb.sheet_values(0)[(1, 2)] == 3.0 and wb.sheet_values("s")[(1, 2)] == 3.0


def test_now_is_read_or_refused():
    today = {"S": {"A1": "=NOW()"}}
    for now in ("2024-06-30T12:00", 45473.5, dt.datetime(2024, 6, 30, 12), "45473.5"):
        book = xleval.Workbook.from_dict(today, now=now)
        book.calculate()
        assert book["S!A1"] == 45473.5, now
    for now in ("yesterday", [1], float("nan"), True):
        with pytest.raises(XlevalError, match="now: "):
            xleval.Workbook.from_dict(today, now=now)
    with pytest.raises(XlevalError, match="now: cannot read 'soon'"):
        xleval.load(FIX / "chain.xlsx", now="soon")


def test_load_arguments_are_checked_before_the_file():
    with pytest.raises(XlevalError, match="workers: expected a whole number"):
        xleval.load(FIX / "chain.xlsx", workers="x")
    with pytest.raises(XlevalError, match="not int"):
        xleval.load(42)
    book = xleval.load(os.fsencode(FIX / "chain.xlsx"))      # bytes paths are paths
    assert book.sheet_names == ["Chain"]


def test_worker_counts_are_bounded_everywhere(tmp_path):
    # each of these forked as many processes as asked: 100,000 was a hang
    from xleval.model.compiled import ModelError
    from xleval.scheduler import SchedulerError
    from xleval.forking import MAX_WORKERS
    from xleval.scheduler.base import default_workers
    from xleval.service import Settings
    over = MAX_WORKERS + 1
    with pytest.raises(XlevalError, match=f"from 1 to {MAX_WORKERS}, not {over}"):
        xleval.load(FIX / "chain.xlsx", workers=over)
    book = xleval.load(FIX / "chain.xlsx")
    with pytest.raises(SchedulerError, match=f"at most {MAX_WORKERS}"):
        book.calculate(strategy="pool", workers=over)
    book.calculate()
    with pytest.raises(XlevalError, match=f"from 1 to {MAX_WORKERS}"):
        book.save(tmp_path / "out.xlsx", workers=over)
    assert not (tmp_path / "out.xlsx").exists()
    model = xleval.compile(FIX / "chain.xlsx", inputs=["Chain!A2"], outputs=["Chain!C2"])
    import pandas as pd
    with pytest.raises(ModelError, match=f"at most {MAX_WORKERS}"):
        model.run_batch(pd.DataFrame({"Chain!A2": [1.0]}), workers=over)
    with pytest.raises(XlevalError, match=f"--workers: must be from 1 to {MAX_WORKERS}"):
        Settings(workers=over).validate()
    assert 1 <= default_workers() <= MAX_WORKERS
    assert 1 <= Settings().workers <= MAX_WORKERS


def test_evaluate_puts_the_formula_where_nothing_else_is():
    assert xleval.evaluate("=ZZ1+1") == 1.0
    assert xleval.evaluate("=ZZ1", {"ZZ1": 5}) == 5.0
    assert xleval.evaluate("=XFD1048576*2", {"XFD1048576": 4}) == 8.0
    assert xleval.evaluate("=ROW()+COLUMN()") == 703.0          # in ZZ1, as it always was
    assert xleval.evaluate("=ZZ1*3+ROW()", {"ZZ1": 2}) == 7.0     # then in ZY1
    assert xleval.evaluate("SUM(A1:A3)", {"A1": 1, "Sheet1!A2": 2, "$A$3": 3}) == 6.0
    with pytest.raises(ReferenceError_, match="cells are on Sheet1"):
        xleval.evaluate("=A1", {"Nope!A1": 1})
    with pytest.raises(XlevalError, match="a formula is a text"):
        xleval.evaluate(None)


def test_save_refuses_other_extensions_and_special_files(tmp_path):
    book = xleval.load(FIX / "chain.xlsx")
    book.calculate()
    for dst, msg in ((tmp_path / "out.txt", "saved as .xlsx or .xlsm"),
                     (tmp_path / "no" / "out.xlsx", "no such folder"),
                     ("", "empty path")):
        with pytest.raises(OutputError, match=msg):
            book.save(dst)
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="not a regular file"):
        book.save(fifo)
    with pytest.raises(OutputError, match="not a regular file"):
        book.to_csv(os.devnull)
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
    with pytest.raises(OutputError, match="no such folder"):
        book.to_json(tmp_path / "no" / "v.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.xlsx"]


def test_save_through_a_symlink_keeps_the_link(tmp_path):
    book = xleval.load(FIX / "chain.xlsx")
    real = tmp_path / "real.xlsx"
    real.write_bytes(b"old")
    link = tmp_path / "link.xlsx"
    link.symlink_to(real)
    book.save(link)
    assert link.is_symlink() and real.read_bytes()[:2] == b"PK"
    again = xleval.load(link)
    again.calculate()
    assert again["Chain!D3"] == 2000.0


def test_before_calculating_formula_cells_read_the_saved_values(tmp_path):
    book = xleval.load(FIX / "chain.xlsx")
    book.calculate()
    book.save(tmp_path / "c.xlsx")                   # with the values computed above
    again = xleval.load(tmp_path / "c.xlsx")
    assert again["Chain!D3"] == 2000.0 and not again.calculated
    again.calculate()
    assert again["Chain!D3"] == 2000.0


def test_link_settings_are_checked_whatever_the_mode(tmp_path):
    for kw, msg in (({"links_dir": tmp_path / "nope"}, "no such folder"),
                    ({"link_timeout": -5}, "seconds > 0"), ({"link_timeout": "x"}, "not 'x'")):
        with pytest.raises(XlevalError, match=msg):
            xleval.load(FIX / "chain.xlsx", **kw)
    book = xleval.load(FIX / "chain.xlsx", links_dir=tmp_path, link_timeout=3)
    with pytest.raises(XlevalError, match="seconds > 0"):
        book.calculate(link_timeout=0)


def test_clipped_whole_columns_keep_their_first_blank():
    """References taller than 65,536 rows are read over the used area and one blank row
    beyond it (README, Excel semantics): the first blank of a column is still found."""
    wb = xleval.Workbook.from_dict({"S": {
        "A1": 1, "A2": 2, "A3": "x",
        "C1": "{=MATCH(TRUE,ISBLANK(A1:A70000),0)}",
        "C2": "{=MATCH(TRUE,ISBLANK(A1:A1048576),0)}",
        "C3": "{=MAX(IF(A1:A70000<>\"\",ROW(A1:A70000)))}",
        "C4": "=SUM(A1:A1048576)"}})
    wb.calculate()
    # A1:A3 hold values: the first blank of column A is A4, one row past A's values, and
    # found although the used area ends at row 4 (the formulas in C); the last non-blank
    # row of A is 3
    assert wb["S!C1:C4"] == [[4.0], [4.0], [3.0], [3.0]]

