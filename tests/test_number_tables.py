"""Number tables (xleval/evaluator/numbers.py): family members evaluated from flat arrays
give what their shapes give, and the tables go when a formula changes."""
import math

import xleval
from xleval import values as V


def _book(n=60):
    """Hand-typed constants (one shape per cell, a family per column) whose results include
    numbers, errors, text and booleans; plus an array formula and a copied formula."""
    cells = {f"A{r}": float(r) for r in range(1, n + 1)}
    for r in range(1, n + 1):
        cells[f"B{r}"] = f"=A{r}*{r}.25+{r % 5}"
        cells[f"C{r}"] = f"=IF(A{r}>{n // 2},SQRT(-{r}.5),A{r}/({r % 3}))"
        cells[f"D{r}"] = f"=IF(A{r}>{r % 4}.5,CHAR({65 + r % 5}),A{r}>{r}.75)"
        cells[f"E{r}"] = f"=B{r}-A{r}"                      # copied: one shared shape
    # array formulas of one family (they differ in a number): they keep their shapes' path
    cells["F1"] = "{=SUM($A$1:$A$3*1.5)}"
    cells["F2"] = "{=SUM($A$1:$A$3*2.5)}"
    cells["F3"] = "{=SUM($A$1:$A$3*3.5)}"
    return cells


def _expected(n=60):
    out = {}
    for r in range(1, n + 1):
        a = float(r)
        b = a * (r + 0.25) + r % 5
        out[(r, 2)] = b
        if a > n // 2:
            out[(r, 3)] = V.NUM
        elif r % 3 == 0:
            out[(r, 3)] = V.DIV0
        else:
            out[(r, 3)] = a / (r % 3)
        out[(r, 4)] = chr(65 + r % 5) if a > r % 4 + 0.5 else a > r + 0.75
        out[(r, 5)] = b - a
    out[(1, 6)] = 6 * 1.5
    out[(2, 6)] = 6 * 2.5
    out[(3, 6)] = 6 * 3.5
    return out


def _tabled(cells):
    wb = xleval.Workbook.from_dict({"S": cells})
    wb.graph()
    wb.engine.number_tables(min_cells=1)
    return wb


def test_members_evaluated_from_tables_give_the_expected_values():
    wb = _tabled(_book())
    nt = wb.engine._numbers
    assert nt is not None
    # B, C, D are families (their first row is the template, with a shape of its own);
    # E is one copied shape, F holds array formulas: neither is in a table
    assert set(nt.columns[0]) == {2, 3, 4}
    ev = wb.engine
    assert ev.cell_shape[0][(3, 6)].k == (3.5,) and ev.cell_shape[0][(3, 6)].array
    tab = nt.columns[0][2]
    assert not (tab.first <= 1 < tab.end) or tab.fn[1 - tab.first] == -1   # the template
    i = 60 - tab.first                   # B60: =A60*60.25+0
    j = tab.fn[i]
    assert j >= 0 and nt.sizes[j] == 2
    assert list(nt.numbers[j][tab.off[i]:tab.off[i] + 2]) == [60.25, 0.0]
    wb.calculate(strategy="serial")
    got = wb.engine.cells[0]
    for key, want in _expected().items():
        if isinstance(want, float):
            assert math.isclose(got[key], want, rel_tol=0, abs_tol=1e-12), key
        else:
            assert got[key] == want, key


def test_tables_and_shapes_agree_cell_for_cell():
    plain = xleval.Workbook.from_dict({"S": _book(200)})
    plain.calculate(strategy="serial")
    tabled = _tabled(_book(200))
    tabled.calculate(strategy="serial")
    assert tabled.formula_values() == plain.formula_values()


def test_a_changed_formula_drops_the_tables():
    wb = _tabled(_book())
    wb.calculate()
    wb.set_value("S!B7", "=A7*100")
    assert wb.engine._numbers is None
    wb.calculate()
    assert wb["S!B7"] == 700.0
    assert wb["S!E7"] == 693.0


def test_no_table_below_the_threshold():
    wb = xleval.Workbook.from_dict({"S": _book()})
    wb.graph()
    wb.engine.number_tables()          # default threshold: thousands of members per sheet
    assert wb.engine._numbers is None


def test_auto_counts_the_build_in_the_pool_start_until_built(monkeypatch):
    from xleval.evaluator import numbers
    wb = xleval.Workbook.from_dict({"S": _book(200)})
    wb.graph()
    ev = wb.engine
    monkeypatch.setattr(numbers, "MIN_CELLS", 100)
    # three families of 199 members each (the first row of each is its template), and the
    # two members of the array formulas' family (counted, though they get no table)
    assert ev.number_tables_cost() == numbers.SECONDS_PER_MEMBER * (3 * 199 + 2)
    monkeypatch.setattr(numbers, "MIN_CELLS", 1000)
    assert ev.number_tables_cost() == 0.0          # too few members to build tables
    monkeypatch.setattr(numbers, "MIN_CELLS", 100)
    ev.number_tables()
    assert ev._numbers is not None and ev.number_tables_cost() == 0.0
