"""Python functions called from formulas: registration (global and per workbook), argument
and result conversion, `_xludf.` calls, and io=True functions run concurrently off the main
process, with failures (#VALUE!) and timeouts (#N/A) reported."""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import time

import pytest

import xleval
from xleval.functions import custom as C
from xleval.values import XLError


def show(v):
    return v.code if isinstance(v, XLError) else v


# module-level functions: importable by name, so they also work under spawn
def t_sleep_log(x, log):
    """Sleeps 0.2 s; appends its start and end times to the file `log`."""
    t0 = time.time()
    time.sleep(0.2)
    t1 = time.time()
    with open(log, "a") as fh:
        fh.write(f"{t0!r} {t1!r} {os.getpid()}\n")
    return x * 10


def t_sleep(x, wait=0.2):
    time.sleep(wait)
    return x


def t_fail(x):
    raise ValueError(f"no rate for {x}")


def t_hang(x):
    time.sleep(60)
    return x


def t_args(*args):
    return repr(args)


def t_grid(n):
    n = int(n)
    return [[r * 10 + c for c in range(n)] for r in range(n)]


def t_sum_ranges(rng):
    return sum(x for row in rng for x in row if isinstance(x, float))


def t_today():
    return dt.date(2024, 1, 31)


def t_bad_type():
    return {"a": 1}


@pytest.fixture(autouse=True)
def _registry():
    names = []

    def reg(name, fn, **kw):
        C.register(name, fn, **kw)
        names.append(name)
    yield reg
    for n in names:
        C.unregister(n)


def calc(cells, **kw):
    wb = xleval.Workbook.from_dict({"S": cells})
    wb.calculate(**kw)
    return wb


# ---------------------------------------------------------------------------------------
# registration and conversion
# ---------------------------------------------------------------------------------------

def test_decorator_registers_globally():
    @xleval.function("T_TWICE")
    def twice(x):
        return 2 * x
    try:
        assert twice(3) == 6                     # returned unchanged
        assert xleval.evaluate("=T_TWICE(21)") == 42.0
        assert xleval.evaluate("=t_twice(A1)+1", {"A1": 4}) == 9.0
    finally:
        xleval.unregister_function("T_TWICE")
    assert show(xleval.evaluate("=T_TWICE(21)")) == "#NAME?"


def test_bare_decorator_uses_the_function_name():
    @xleval.function
    def T_BARE(x):
        return x + 1
    try:
        assert xleval.evaluate("=T_BARE(1)") == 2.0
    finally:
        xleval.unregister_function("T_BARE")


def test_xludf_prefix_calls_the_python_function(_registry):
    _registry("T_ARGS", t_args)
    assert xleval.evaluate('=_xludf.T_ARGS(1,"a")') == "(1.0, 'a')"


def test_arguments_arrive_as_python_values(_registry):
    _registry("T_ARGS", t_args)
    wb = calc({"A1": 1, "A2": "x", "B1": True, "B2": None, "C1": "=T_ARGS(A1)",
               "C2": "=T_ARGS(A1:B2)", "C3": "=T_ARGS(D9, , TRUE)", "C4": "=T_ARGS({1,2;3,4})",
               "C5": '=T_ARGS(1/0, "never called")', "C6": "=T_ARGS()"})
    assert wb["S!C1"] == "(1.0,)"
    assert wb["S!C2"] == "([[1.0, True], ['x', None]],)"
    assert wb["S!C3"] == "(None, None, True)"
    assert wb["S!C4"] == "([[1.0, 2.0], [3.0, 4.0]],)"
    assert show(wb["S!C5"]) == "#DIV/0!"
    assert wb["S!C6"] == "()"


def test_results_are_converted(_registry):
    _registry("T_GRID", t_grid)
    _registry("T_TODAY", t_today)
    _registry("T_BAD", t_bad_type)
    _registry("T_SUMR", t_sum_ranges)
    wb = xleval.Workbook.from_dict({"S": {"A1": "=T_GRID(2)", "B1:C2": "{=T_GRID(2)}",
                                          "D1": "=T_TODAY()", "D2": "=T_BAD()",
                                          "D3": "=T_SUMR(B1:C2)"}})
    wb.calculate()
    assert wb["S!A1"] == 0.0                     # top-left of the array
    assert wb["S!B1:C2"] == [[0.0, 1.0], [10.0, 11.0]]
    assert wb["S!D1"] == 45322.0
    assert show(wb["S!D2"]) == "#VALUE!"
    assert any("T_BAD raised TypeError" in w for w in wb.report.warnings)
    assert wb["S!D3"] == 22.0


def test_to_cell():
    import numpy as np
    assert C.to_cell(np.float64(1.5)) == 1.5
    assert C.to_cell(3) == 3.0 and C.to_cell(True) is True
    assert show(C.to_cell(float("nan"))) == "#NUM!"
    assert C.to_cell([1, 2]) == ((1.0, 2.0),)
    assert C.to_cell([[1], [2, 3]]) == ((1.0, XLError("#N/A")), (2.0, 3.0))
    assert show(C.to_cell([])) == "#CALC!"
    with pytest.raises(TypeError):
        C.to_cell(object())


def test_builtin_names_need_replace():
    with pytest.raises(ValueError, match="built-in"):
        C.register("SUM", lambda *a: 0)
    C.register("SUM", lambda *a: 42, replace=True)
    try:
        assert xleval.evaluate("=SUM(1,2)") == 42.0
    finally:
        C.unregister("SUM")
    assert xleval.evaluate("=SUM(1,2)") == 3.0
    with pytest.raises(ValueError):
        C.register("1BAD", t_args)
    with pytest.raises(ValueError):
        C.register("T_X", t_args, timeout=0)


def test_register_function_on_one_workbook():
    wb = xleval.Workbook.from_dict({"S": {"A1": 5, "B1": "=T_LOCAL(A1)"}})
    wb.calculate()
    assert show(wb["S!B1"]) == "#NAME?"
    wb.register_function("T_LOCAL", lambda x: x * 3)    # after compiling: recompiled
    wb.calculate()
    assert wb["S!B1"] == 15.0
    other = xleval.Workbook.from_dict({"S": {"B1": "=T_LOCAL(1)"}})
    other.calculate()
    assert show(other["S!B1"]) == "#NAME?"


def test_register_function_on_one_workbook_keeps_builtins_unless_replace():
    wb = xleval.Workbook.from_dict({"S": {"A1": 1, "A2": 2, "A3": "=SUM(A1:A2)"}})
    with pytest.raises(ValueError, match="SUM is a built-in function; pass replace=True"):
        wb.register_function("SUM", lambda *a: 99)
    wb.calculate()
    assert wb["S!A3"] == 3.0
    wb.register_function("sum", lambda *a: 99, replace=True)
    wb.calculate()
    assert wb["S!A3"] == 99.0
    other = xleval.Workbook.from_dict({"S": {"A1": 1, "A3": "=SUM(A1)"}})
    other.calculate()
    assert other["S!A3"] == 1.0                      # the other workbooks keep Excel's


def test_exception_in_a_plain_function_is_value_error(_registry):
    _registry("T_FAIL", t_fail)
    wb = calc({"A1": "=T_FAIL(1)"})
    assert show(wb["S!A1"]) == "#VALUE!"
    assert any("T_FAIL raised ValueError: no rate for 1.0" in w for w in wb.report.warnings)


# ---------------------------------------------------------------------------------------
# io functions
# ---------------------------------------------------------------------------------------

def test_io_calls_run_concurrently(_registry, tmp_path):
    """20 cells each waiting 0.2 s: all 20 calls are observed running at the same time
    (structural, from the calls' own start/end times and the engine's statistics)."""
    _registry("T_SLEEPLOG", t_sleep_log, io=True, timeout=30)
    log = tmp_path / "calls.log"
    cells = {f"A{i}": i for i in range(1, 21)}
    cells.update({f"B{i}": f'=T_SLEEPLOG(A{i}, "{log}")' for i in range(1, 21)})
    cells["C1"] = "=SUM(B1:B20)"
    wb = calc(cells)
    assert [wb[f"S!B{i}"] for i in range(1, 21)] == [i * 10.0 for i in range(1, 21)]
    assert wb["S!C1"] == 2100.0
    rows = [line.split() for line in log.read_text().splitlines()]
    spans = [(float(a), float(b)) for a, b, _pid in rows]
    assert len(spans) == 20                      # each call made once
    assert C._max_overlap(spans) == 20           # every call overlapped every other
    pids = {int(pid) for _a, _b, pid in rows}
    assert len(pids) == 1 and os.getpid() not in pids     # threads of one helper process
    st = wb.engine.io_state
    assert (st.calls, st.batches, st.max_concurrent, st.where) == (20, 1, 20, "process")
    assert mp.active_children() == []
    assert wb.report.warnings == []


@pytest.mark.slow
def test_io_twenty_calls_end_to_end_timed(_registry):
    _registry("T_SLEEP", t_sleep, io=True)
    t0 = time.perf_counter()
    cells = {f"A{i}": i for i in range(1, 21)}
    cells.update({f"B{i}": f"=T_SLEEP(A{i})" for i in range(1, 21)})
    wb = calc(cells)
    elapsed = time.perf_counter() - t0
    assert wb["S!B20"] == 20.0
    assert elapsed < 4.0, elapsed                # the sum of the waits; typically ~0.3 s


def test_io_failure_and_timeout(_registry):
    _registry("T_FAIL", t_fail, io=True)
    _registry("T_HANG", t_hang, io=True, timeout=0.5)
    _registry("T_SLEEP", t_sleep, io=True)
    wb = calc({"A1": "=T_FAIL(1)", "A2": "=T_HANG(2)", "A3": "=T_SLEEP(3, 0)",
               "A4": "=IFNA(A2, -1)", "A5": "=IFERROR(A1, -2)"})
    assert show(wb["S!A1"]) == "#VALUE!"
    assert show(wb["S!A2"]) == "#N/A"
    assert wb["S!A3"] == 3.0
    assert (wb["S!A4"], wb["S!A5"]) == (-1.0, -2.0)
    w = wb.report.warnings
    assert any(x.startswith("T_FAIL(1.0) at S!A1 raised ValueError: no rate for 1.0") for x in w)
    assert any(x.startswith("T_HANG(2.0) at S!A2: no answer within 0.5 s") for x in w)
    assert mp.active_children() == []            # the hung helper was killed


def test_io_calls_that_depend_on_io_results(_registry):
    _registry("T_SLEEP", t_sleep, io=True)
    wb = calc({"A1": "=T_SLEEP(1, 0.01)", "A2": "=T_SLEEP(A1+1, 0.01)",
               "A3": "=T_SLEEP(A2*10, 0.01)",
               "B1": "=IF(A3>10, T_SLEEP(99, 0.01), T_SLEEP(-1, 0.01))"})
    assert [wb["S!A1"], wb["S!A2"], wb["S!A3"], wb["S!B1"]] == [1.0, 2.0, 20.0, 99.0]
    st = wb.engine.io_state
    assert st.calls == 4                         # T_SLEEP(-1) never needed
    assert st.batches == 4


def test_identical_io_calls_run_once(_registry):
    _registry("T_SLEEP", t_sleep, io=True)
    wb = calc({f"A{i}": '=T_SLEEP("EUR", 0.01)' for i in range(1, 11)})
    assert wb["S!A10"] == "EUR"
    assert wb.engine.io_state.calls == 1
    wb.calculate()                               # a new calculate calls again
    assert wb.engine.io_state.calls == 1


def test_io_with_parallel_strategy(_registry):
    _registry("T_SLEEP", t_sleep, io=True)
    cells = {f"A{i}": i for i in range(1, 3001)}
    cells.update({f"B{i}": f"=A{i}*2" for i in range(1, 3001)})
    cells.update({f"C{i}": f"=T_SLEEP(B{i}, 0.05)" for i in range(1, 11)})
    cells["D1"] = "=SUM(C1:C10)+SUM(B1:B3000)"
    wb = calc(cells, strategy="pool", workers=2)
    assert wb["S!D1"] == 110.0 + 3000 * 3001
    assert wb.engine.io_state.max_concurrent == 10


def test_io_falls_back_to_threads(_registry, monkeypatch):
    class NoProcesses:
        def Pipe(self, duplex=True):
            raise OSError("no processes here")
    monkeypatch.setattr(C, "_context", lambda: NoProcesses())
    _registry("T_SLEEP", t_sleep, io=True)
    wb = calc({f"A{i}": f"=T_SLEEP({i}, 0.2)" for i in range(1, 11)})
    assert wb["S!A10"] == 10.0
    st = wb.engine.io_state
    assert (st.where, st.max_concurrent) == ("threads", 10)
    assert any("ran in threads of this process" in w for w in wb.report.warnings)


def test_io_lambda_on_one_workbook():
    wb = xleval.Workbook.from_dict({"S": {"A1": "=T_LAMBDA(2)"}})
    wb.register_function("T_LAMBDA", lambda x: x ** 3, io=True, timeout=5)
    wb.calculate()
    assert wb["S!A1"] == 8.0


def test_io_under_spawn(_registry, monkeypatch):
    monkeypatch.setenv("XLEVAL_START_METHOD", "spawn")
    _registry("T_SLEEP", t_sleep, io=True)
    wb = calc({"A1": "=T_SLEEP(7, 0.01)", "A2": "=T_SLEEP(8, 0.01)"})
    assert (wb["S!A1"], wb["S!A2"]) == (7.0, 8.0)
    assert wb.engine.io_state.where == "process"


def test_io_in_a_loaded_workbook(_registry, tmp_path):
    import openpyxl
    _registry("T_SLEEP", t_sleep, io=True)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "S"
    ws["A1"] = 5
    ws["B1"] = "=_xludf.T_SLEEP(A1*2, 0.01)"
    path = tmp_path / "udf.xlsx"
    book.save(path)
    wb = xleval.load(path)
    wb.calculate()
    assert wb["S!B1"] == 10.0
    wb.save(tmp_path / "out.xlsx")
    assert openpyxl.load_workbook(tmp_path / "out.xlsx", data_only=True)["S"]["B1"].value == 10


def test_readme_example_runs():
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("### Python functions in formulas"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    finally:
        C.unregister("FXRATE")


def t_raise_na(x):
    raise XLError("#N/A")


def t_kind(x):
    return type(x).__name__


def test_raising_an_xlerror_gives_that_error(_registry):
    _registry("T_NA", t_raise_na)
    _registry("T_NAIO", t_raise_na, io=True)
    wb = calc({"A1": "=T_NA(1)", "A2": "=T_NAIO(1)"})
    assert show(wb["S!A1"]) == show(wb["S!A2"]) == "#N/A"
    assert wb.report.warnings == []


def test_io_cache_tells_true_from_one(_registry):
    _registry("T_KIND", t_kind, io=True)
    wb = calc({"A1": "=T_KIND(TRUE)", "A2": "=T_KIND(1)"})
    assert (wb["S!A1"], wb["S!A2"]) == ("bool", "float")
