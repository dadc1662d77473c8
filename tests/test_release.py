"""Workbook.release_compiled(): a one-shot run frees the compiled formulas and the graph
before writing; values, saving and what comes after (calculate, set_value) stay right."""
import pathlib
import zipfile

import pytest

import xleval

FIX = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "workbooks"


def _book():
    return xleval.Workbook.from_dict({"S": {
        "A1": 1, "A2": 2, "A3": 3,
        "B1": "=A1*2",
        "B2": "=B1+A2",
        "C1": "=SUM(A1:A3)&\"!\"",
        "D1": "=LET(x,A3,x*x)",
    }})


def test_values_stay_and_compiled_state_goes():
    wb = _book()
    wb.calculate()
    before = wb.formula_values()
    ev = wb.engine
    assert ev.shapes and wb.plan is not None
    wb.release_compiled()
    assert ev.shapes == [] and wb.plan is None and ev.compiler is None
    assert not any(ev.cell_shape)
    assert wb.formula_values() == before
    assert wb["S!B2"] == 4 and wb["S!C1"] == "6!" and wb["S!D1"] == 9


def test_calculate_and_set_value_after_release():
    wb = _book()
    wb.calculate()
    wb.release_compiled()
    wb.set_value("S!A1", 10)                    # a new engine, from the constants
    wb.calculate()
    assert (wb["S!B1"], wb["S!B2"], wb["S!C1"]) == (20, 22, "15!")
    wb.release_compiled()
    wb.calculate()                              # again, nothing changed
    assert (wb["S!B1"], wb["S!B2"], wb["S!D1"]) == (20, 22, 9)
    wb.set_value("S!E1", "=B2*10")              # a new formula after a release
    wb.calculate()
    assert wb["S!E1"] == 220


@pytest.mark.parametrize("name", sorted(p.name for p in FIX.glob("*.xls[xm]")))
def test_saved_after_release_as_without(tmp_path, name):
    kept, released = xleval.load(str(FIX / name)), xleval.load(str(FIX / name))
    kept.calculate()
    released.calculate()
    released.release_compiled()
    kept.save(str(tmp_path / "kept.xlsx"))
    released.save(str(tmp_path / "released.xlsx"))
    with zipfile.ZipFile(tmp_path / "kept.xlsx") as a, \
            zipfile.ZipFile(tmp_path / "released.xlsx") as b:
        assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}
