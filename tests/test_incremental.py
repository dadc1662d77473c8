"""Incremental recalculation: after a full calculate, set_value + calculate evaluates only the
dependents of what changed (report.recalculated counts them), and gives the values a full
recalculation gives."""
import pathlib
import random

import pytest

import xleval
from xleval.check import same_value

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "workbooks"


def book():
    return xleval.Workbook.from_dict({"S": {
        "A1": 1, "A2": 2, "A3": 3,
        "B1": "=A1*2",            # reads A1
        "B2": "=A2*2",
        "B3": "=B1+B2",           # depends on A1 through B1
        "C1": "=SUM(A1:A3)",      # reads A1 through a range
        "D1": "=A3+100",          # independent of A1
        "D2": "=D1*2",
    }})


def test_counts_only_dependents():
    wb = book()
    assert wb.calculate().recalculated == 6
    wb.set_value("S!A1", 10)
    rep = wb.calculate()
    assert rep.recalculated == 3          # B1, B3, C1
    # by hand: B1 = 20, B3 = 20 + 4, C1 = 10 + 2 + 3; D1/D2 untouched
    assert (wb["S!B1"], wb["S!B3"], wb["S!C1"], wb["S!D2"]) == (20.0, 24.0, 15.0, 206.0)
    assert wb.calculate().recalculated == 6       # nothing changed: a forced full one
    wb.set_value("S!A3", 0)
    assert wb.calculate().recalculated == 3       # C1, D1, D2
    assert (wb["S!C1"], wb["S!D2"]) == (12.0, 200.0)
    wb.set_value("S!Z9", 5)                       # read by nobody (grows the extent: full)
    wb.calculate()
    wb.set_value("S!Z9", 6)
    assert wb.calculate().recalculated == 0


def test_formula_change_is_a_full_recalculation():
    wb = book()
    wb.calculate()
    wb.set_value("S!D1", "=A1+1")
    rep = wb.calculate()
    assert rep.recalculated == 6
    assert wb["S!D2"] == 4.0                      # (1 + 1) * 2
    wb.set_value("S!A1", 5)
    assert wb.calculate().recalculated == 5       # B1, B3, C1, D1, D2
    assert wb["S!D2"] == 12.0


def test_volatile_and_dynamic_cells_always_recompute():
    wb = xleval.Workbook.from_dict({"S": {
        "A1": 1, "A2": 2, "C1": 1,
        "B1": '=INDIRECT("A"&C1)',     # dynamic: reads A1 now, A2 when C1 = 2
        "B2": "=B1*10",
        "D1": "=NOW()*0+A2",
        "E1": "=A2+1",
    }}, now=45000.0)
    wb.calculate()
    wb.set_value("S!A2", 7)
    rep = wb.calculate()
    # B1 (dynamic), B2 (its dependent), D1 (volatile, reads A2), E1 (reads A2)
    assert rep.recalculated == 4
    assert (wb["S!B1"], wb["S!D1"], wb["S!E1"]) == (1.0, 7.0, 8.0)
    wb.set_value("S!C1", 2)
    wb.calculate()
    assert (wb["S!B1"], wb["S!B2"]) == (7.0, 70.0)


def _full(path_or_factory, changes):
    wb = xleval.load(path_or_factory) if isinstance(path_or_factory, pathlib.Path) \
        else path_or_factory()
    for ref, v in changes:
        wb.set_value(ref, v)
    wb.calculate()
    return wb


def _assert_same(a, b):
    fa, fb = a.formula_values(), b.formula_values()
    assert fa.keys() == fb.keys()
    for sheet in fa:
        for key, v in fa[sheet].items():
            assert same_value(fb[sheet][key], v), (sheet, key, v, fb[sheet][key])


@pytest.mark.parametrize("name,changes", [
    ("quarterly_model.xlsx", [[("Inputs!B6", 16000)], [("Inputs!B5", 0.3)],
                              [("Inputs!B7", "West")], [("Inputs!B3", 900), ("Inputs!B4", -0.02)],
                              [("Prices!B3", 30)]]),
    ("chain.xlsx", [[("Chain!A5", 100)], [("Chain!A1999", -4), ("Chain!A2", 0)]]),
    ("circular.xlsx", [[("Loan!B1", 20000)], [("Loan!B2", 0.1)]]),
])
def test_equals_full_recalculation(name, changes):
    path = FIX / name
    inc = xleval.load(path)
    inc.calculate()
    done = []
    for step in changes:
        for ref, v in step:
            inc.set_value(ref, v)
        rep = inc.calculate()
        done += step
        assert rep.recalculated < rep.formulas or name == "circular.xlsx"   # all 3 read B1
        _assert_same(inc, _full(path, done))


def test_equals_full_recalculation_random_edits():
    rnd = random.Random(7)

    def factory():
        cells = {f"A{r}": float(r) for r in range(1, 41)}
        for r in range(1, 41):
            cells[f"B{r}"] = f"=A{r}*2+B{r - 1}" if r > 1 else "=A1*2"
            cells[f"C{r}"] = f"=IF(A{r}>20,SUM($A$1:A{r}),VLOOKUP(A{r},$A$1:$B$40,2,FALSE))"
        cells["D1"] = "=MATCH(15,A1:A40,0)"
        cells["D2"] = "=SUMIF(A1:A40,\">10\",B1:B40)"
        return xleval.Workbook.from_dict({"S": cells})

    inc = factory()
    inc.calculate()
    done = []
    for _ in range(6):
        step = [(f"S!A{rnd.randint(1, 40)}", float(rnd.randint(1, 40))) for _ in range(2)]
        for ref, v in step:
            inc.set_value(ref, v)
        inc.calculate()
        done += step
        _assert_same(inc, _full(factory, done))
