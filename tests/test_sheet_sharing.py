"""The same formulas on several sheets share one parse and one sheet-free closure
(Engine._shared_shape): every value must be the one each sheet's own data gives, whatever
the strategy, including what must not be shared (a sheet-scoped defined name of the same
name on two sheets), references to other sheets, INDIRECT, and after set_value.

Expected values are derived here from the data the test writes (all exact in binary
floating point, so the order of a sum does not matter)."""
import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.formula import ArrayFormula

import xleval
from xleval.evaluator import numbers as numbers_mod
from xleval.evaluator import vector
from xleval.evaluator.engine import Engine
from xleval.scheduler import pool as pool_mod
from xleval.scheduler import run_plan

SHEETS = ["S1", "S2", "S3"]
ROWS = 20                                 # enough for the vector path (MIN_CELLS = 16)
RATE = {"S1": 5.0, "S2": 7.0, "S3": 11.0}  # S1, S2: their own Rate; S3: the workbook's


def _a(k: int, r: int) -> float:
    return float(10 * k + r)


def _b(k: int, r: int) -> float:
    return r / 4 + k


def _m(r: int) -> float:
    return 1 + r / 8                      # a hand-typed constant per row: a family


def _make(path) -> str:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for k, name in enumerate(SHEETS, 1):
        ws = wb.create_sheet(name)
        for r in range(1, ROWS + 1):
            ws.cell(r, 1, _a(k, r))
            ws.cell(r, 2, _b(k, r))
            ws.cell(r, 3, f"=A{r}*B{r}")
            ws.cell(r, 4, f"=C{r}*{_m(r)!r}+B{r}")
        ws["E1"] = f"=SUM(C1:C{ROWS})"
        ws["F1"] = "=$A$1*2"
        ws["G1"] = "=Data!$B$1*A1"
        ws["H1"] = "=Rate*A1"                 # a defined name: never shared
        ws["I1"] = '=INDIRECT("B"&3)+0'
        ws["J1"] = "=SHEET()"
        ws["K1"] = ArrayFormula("K1", "=SUM(A1:A3*B1:B3)")
        ws["L1"] = "=S1!A1+A1"
        ws["M1"] = "=SUM(S1:S3!A2)"
        ws["N1"] = "=LET(x,A1,x*2)"
    data = wb.create_sheet("Data")
    data["B1"] = 3.0
    data["C1"], data["C2"], data["C3"] = RATE["S1"], RATE["S2"], RATE["S3"]
    wb["S1"].defined_names["Rate"] = DefinedName("Rate", attr_text="Data!$C$1")
    wb["S2"].defined_names["Rate"] = DefinedName("Rate", attr_text="Data!$C$2")
    wb.defined_names["Rate"] = DefinedName("Rate", attr_text="Data!$C$3")
    out = str(path / "sheets.xlsx")
    wb.save(out)
    return out


def _expected(a=_a) -> dict:
    """{(sheet, cell): value} from the data; `a(k, r)`: column A's values."""
    want = {}
    for k, name in enumerate(SHEETS, 1):
        c = {r: a(k, r) * _b(k, r) for r in range(1, ROWS + 1)}
        for r in range(1, ROWS + 1):
            want[(name, f"C{r}")] = c[r]
            want[(name, f"D{r}")] = c[r] * _m(r) + _b(k, r)
        want[(name, "E1")] = sum(c.values())
        want[(name, "F1")] = a(k, 1) * 2
        want[(name, "G1")] = 3.0 * a(k, 1)
        want[(name, "H1")] = RATE[name] * a(k, 1)
        want[(name, "I1")] = _b(k, 3)
        want[(name, "J1")] = float(k)
        want[(name, "K1")] = sum(a(k, r) * _b(k, r) for r in (1, 2, 3))
        want[(name, "L1")] = a(1, 1) + a(k, 1)
        want[(name, "M1")] = sum(a(j, 2) for j in (1, 2, 3))
        want[(name, "N1")] = a(k, 1) * 2
    return want


def _check(wb, want):
    for (sheet, cell), v in want.items():
        assert wb[f"{sheet}!{cell}"] == v, (sheet, cell)


@pytest.fixture
def pool_everything(monkeypatch):
    """Send every layer to the pool's workers, however small."""
    monkeypatch.setattr(pool_mod, "POOL_MIN_CELLS", 1)
    monkeypatch.setattr(numbers_mod, "MIN_CELLS", 1)


def _calculate(wb, strategy, method):
    if strategy == "serial":
        wb.calculate(strategy="serial")
        return
    wb.graph()
    wb.engine.reset_pending()
    stats = run_plan(wb.engine, wb.plan, strategy=strategy, workers=2, start_method=method)
    assert stats.tasks > 0                 # something really went to workers


RUNS = [("serial", None), ("pool", "fork"), ("pool", "spawn")]


@pytest.mark.parametrize("strategy,method", RUNS, ids=[f"{s}-{m}" for s, m in RUNS])
def test_shared_formulas_give_each_sheets_values(tmp_path, strategy, method,
                                                 pool_everything):
    wb = xleval.load(_make(tmp_path))
    _calculate(wb, strategy, method)
    _check(wb, _expected())


def test_what_is_shared_and_what_is_not(tmp_path):
    wb = xleval.load(_make(tmp_path))
    wb.calculate()
    ev = wb.engine

    def shape(sheet, cell):
        from xleval.refs import parse_cell
        return ev.cell_shape[ev.sheet_index(sheet)][parse_cell(cell)]
    # one tree and compile info for all sheets; the sheets after the first share a closure
    for cell in ("C1", "C7", "E1", "F1", "G1", "J1", "K1", "L1", "M1"):
        s1, s2, s3 = (shape(n, cell) for n in SHEETS)
        assert s1.tree is s2.tree is s3.tree, cell
        assert s1.info is s2.info is s3.info, cell
        assert s2.fn is s3.fn, cell
        assert (s1.sheet, s2.sheet, s3.sheet) == (0, 1, 2)
        assert ev.shared_of(s2) is ev.shared_of(s3) is not None
    # a family (numbers differ per row) is shared too: one family closure for S2 and S3
    assert shape("S2", "D5").fn is shape("S3", "D5").fn
    # defined names, LET and dynamic references (INDIRECT) are compiled per sheet
    for cell in ("H1", "I1", "N1"):
        s1, s2, s3 = (shape(n, cell) for n in SHEETS)
        assert s1.fn is not s2.fn and s2.fn is not s3.fn, cell
        assert ev.shared_of(s2) is None, cell
    assert wb.report.vectorized > 0        # the vector path ran the shared shapes too


def test_same_values_as_compiling_per_sheet(tmp_path, monkeypatch):
    path = _make(tmp_path)
    shared = xleval.load(path)
    shared.calculate()
    monkeypatch.setattr(Engine, "_sheet_free", lambda self, tree: False)
    per_sheet = xleval.load(path)
    per_sheet.calculate()
    assert per_sheet.engine.shared_of(per_sheet.engine.cell_shape[1][(1, 3)]) is None
    assert shared.formula_values() == per_sheet.formula_values()
    # and without the vector path: the sheet-free closures alone
    monkeypatch.setattr(vector, "ENABLED", False)
    scalar = xleval.load(path)
    scalar.calculate()
    assert scalar.formula_values() == shared.formula_values()


@pytest.mark.parametrize("strategy,method", RUNS, ids=[f"{s}-{m}" for s, m in RUNS])
def test_set_value_on_one_sheet(tmp_path, strategy, method, pool_everything):
    wb = xleval.load(_make(tmp_path))
    wb.calculate()
    wb.set_value("S2!A1", 100.0)
    wb.set_value("S2!A2", 60.0)
    _calculate(wb, strategy, method)

    def a(k, r):
        return {(2, 1): 100.0, (2, 2): 60.0}.get((k, r), _a(k, r))
    _check(wb, _expected(a))


def test_formula_set_after_preparing(tmp_path):
    """A formula typed on one sheet after the others were prepared finds the shared shape
    (or a new one) and reads its own sheet."""
    wb = xleval.load(_make(tmp_path))
    wb.calculate()
    wb.set_value("S3!P1", "=A4*B4")          # the text of C4: shared, on S3
    wb.set_value("S3!P2", "=A4*B4+1")        # new on every sheet
    wb.set_value("S1!P2", "=A4*B4+1")        # ... then met again on another sheet
    wb.calculate()
    assert wb["S3!P1"] == _a(3, 4) * _b(3, 4)
    assert wb["S3!P2"] == _a(3, 4) * _b(3, 4) + 1
    assert wb["S1!P2"] == _a(1, 4) * _b(1, 4) + 1
    _check(wb, _expected())
