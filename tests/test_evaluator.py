"""Excel value semantics of the evaluator core (operators, coercion, references, arrays).
Expected values are Excel's documented behaviour, derived by hand."""
import pytest

import xleval
from xleval import Workbook
from xleval.values import XLError, compare, num_to_text, text_to_number


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def err(code):
    return XLError(code)


@pytest.mark.parametrize("formula,expected", [
    ("=1+2*3", 7.0), ("=-2^2", 4.0), ("=2^3^2", 64.0), ("=10%", 0.1), ("=-50%*2", -1.0),
    ('="3"+1', 4.0), ('="1,000"*2', 2000.0), ('=TRUE+TRUE', 2.0), ('="a"&1.5&TRUE', "a1.5TRUE"),
    ("=1/0", err("#DIV/0!")), ('="x"+1', err("#VALUE!")), ("=0^0", err("#NUM!")),
    ("=(-8)^(1/3)", err("#NUM!")), ('=""+0', err("#VALUE!")),
    ("=0.1+0.2=0.3", True), ('="abc"="ABC"', True), ('="a"<"B"', True), ("=1<\"a\"", True),
    ('="z"<TRUE', True), ("=#N/A+1", err("#N/A")), ("=1E+308*10", err("#NUM!")),
])
def test_operators(formula, expected):
    assert ev(formula) == expected


def test_blank_cells_in_operators():
    assert ev("=A1+1") == 1.0
    assert ev('=A1&"x"') == "x"
    assert ev('=A1=""') is True
    assert ev("=A1=0") is True
    assert ev("=A1") == 0.0                 # a formula showing a blank cell shows 0


def test_error_propagates_left_first():
    assert ev("=A1+B1", A1=err("#N/A"), B1=err("#DIV/0!")) == err("#N/A")


def test_implicit_intersection_in_ordinary_formula():
    wb = Workbook.from_dict({"S": {"A1": 10, "A2": 20, "A3": 30, "B2": "=A1:A3*2",
                                   "C5": "=A1:A3"}})
    wb.calculate()
    assert wb["S!B2"] == 40.0               # row 2 of A1:A3
    assert wb["S!C5"] == err("#VALUE!")     # row 5 does not intersect


def test_array_formula_broadcasts_and_fills_range():
    wb = Workbook.from_dict({"S": {"A1": 1, "A2": 2, "A3": 3, "B1:B3": "{=A1:A3*10}",
                                   "C1:D2": "{={1,2}+{10;20}}"}})
    wb.calculate()
    assert wb["S!B1:B3"] == [[10.0], [20.0], [30.0]]
    assert wb["S!C1:D2"] == [[11.0, 12.0], [21.0, 22.0]]


def test_array_formula_larger_than_result_gives_na():
    wb = Workbook.from_dict({"S": {"A1:A3": "{={1;2}}"}})
    wb.calculate()
    assert wb["S!A3"] == err("#N/A")


def test_if_is_lazy_and_returns_references():
    assert ev("=IF(TRUE,1,1/0)") == 1.0
    assert ev('=IF(A1>0,"pos","neg")', A1=-1) == "neg"
    assert ev("=IF(FALSE,1)") is False
    assert ev('=IFERROR(1/0,"oops")') == "oops"
    assert ev("=IFNA(#DIV/0!,1)") == err("#DIV/0!")
    assert ev('=CHOOSE(2,"a","b","c")') == "b"
    assert ev("=CHOOSE(4,1,2,3)") == err("#VALUE!")


def test_choose_with_an_array_index_pairs_each_index_with_its_position():
    # [hand] an array of indexes is evaluated element by element, like IF with an array
    # condition: element k takes element k of the value its index picks (Excel-saved
    # formulas/test.xlsx LOOKUP!AH5:AJ5 shows CHOOSE(D5:F5,C5:E5,H5:J5,G5:I5,2,3) this way)
    cells = {"A1": -2, "B1": 1.1, "C1": 3, "D1": 4, "E1": 4.1, "F1": None, "G1": "x"}
    wb = Workbook.from_dict({"S": {**cells,
                                   "A3:E3": "{=CHOOSE(B1:D1,A1:C1,F1:H1,E1:G1,2,3)}",
                                   "A4:C5": "{=CHOOSE({1,2},{10;20},{1,2,3})}",
                                   "A6:C6": "{=CHOOSE({2,1,3},\"a\",{7,8})}"}})
    wb.calculate()
    # 1.1 -> A1:C1 at 1: A1; 3 -> E1:G1 at 2: F1, blank, shows 0; 4 -> the constant 2;
    # past the three-wide arrays the array formula's cells are #N/A
    assert wb["S!A3:E3"] == [[-2.0, 0.0, 2.0, err("#N/A"), err("#N/A")]]
    # a column and a row broadcast to 2x3; index {1,2} has no third column: #N/A
    assert wb["S!A4:C5"] == [[10.0, 2.0, err("#N/A")], [20.0, 2.0, err("#N/A")]]
    # index 2 at position 1 takes {7,8}'s first; a scalar fills every position; index 3
    # is past the two values: #VALUE!
    assert wb["S!A6:C6"] == [[7.0, "a", err("#VALUE!")]]


def test_ifs_and_switch():
    assert ev('=IFS(A1>5,"big",A1>1,"mid",TRUE,"small")', A1=3) == "mid"
    assert ev("=IFS(FALSE,1)") == err("#N/A")
    assert ev('=SWITCH(2,1,"one",2,"two","other")') == "two"
    assert ev('=SWITCH(9,1,"one","other")') == "other"
    assert ev('=SWITCH(9,1,"one")') == err("#N/A")


def test_let_and_named_lambda():
    assert ev("=LET(x,2,y,x*3,x+y)") == 8.0
    wb = Workbook.from_dict({"S": {"A1": "=DOUBLE(21)"}})
    from xleval.loader.model import DefinedName
    wb.data.names.append(DefinedName("DOUBLE", "LAMBDA(_xlpm.v,_xlpm.v*2)"))
    wb.engine.names[(None, "DOUBLE")] = wb.data.names[-1]
    wb.calculate()
    assert wb["S!A1"] == 42.0


def test_unknown_function_is_name_error_and_reported():
    wb = Workbook.from_dict({"S": {"A1": "=NOSUCHFUNC(1)", "A2": "=1+"}})
    rep = wb.calculate()
    assert wb["S!A1"] == err("#NAME?")
    assert wb["S!A2"] == err("#NAME?")
    assert rep.unsupported == {"NOSUCHFUNC": 1}
    assert rep.parse_errors and rep.parse_errors[0][0] == "S!A2"


def test_anchorarray_reads_the_spilled_range_like_the_spill_operator():
    # _xlfn.ANCHORARRAY(D1) is how a file stores D1#: the whole range D1 spills into;
    # the readers come before the anchor, so the order must come from the dependency
    wb = Workbook.from_dict({"S": {"A1": "=SUM(_xlfn.ANCHORARRAY(D1))",
                                   "A2": "=ROWS(_xlfn.ANCHORARRAY(D1))",
                                   "A3": "=_xlfn.ANCHORARRAY(C9)",
                                   "B1:B3": "{=_xlfn.ANCHORARRAY(D1)+3}",
                                   "C1:C3": "{=D1#+3}",
                                   "C9": 5,
                                   "D1:D3": "{={1;2;3}}"}})
    wb.calculate()
    assert wb["S!A1"] == 6.0
    assert wb["S!A2"] == 3.0
    assert wb["S!A3"] == err("#REF!")      # C9 holds no spilling formula
    assert wb["S!B1:B3"] == [[4.0], [5.0], [6.0]]
    assert wb["S!C1:C3"] == wb["S!B1:B3"]


def test_anchorarray_formula_is_written_back_unchanged(tmp_path):
    import openpyxl
    from openpyxl.worksheet.formula import ArrayFormula
    src, dst = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "S"
    ws["A1"] = ArrayFormula("A1:A2", "={10;20}")
    ws["B1"] = ArrayFormula("B1:B2", "=_xlfn.ANCHORARRAY(A1)+3")
    ws["C1"] = "=SUM(_xlfn.ANCHORARRAY(A1))"
    book.save(src)
    wb = xleval.load(str(src))
    wb.calculate()
    wb.save(str(dst))
    out = openpyxl.load_workbook(dst)["S"]
    assert out["B1"].value.text == "=_xlfn.ANCHORARRAY(A1)+3"
    assert out["C1"].value == "=SUM(_xlfn.ANCHORARRAY(A1))"
    values = openpyxl.load_workbook(dst, data_only=True)["S"]
    assert [values["B1"].value, values["B2"].value, values["C1"].value] == [13, 23, 30]


def test_reference_operators():
    wb = Workbook.from_dict({"S": {"B2": 5, "A1": "=B1:B3 A2:D2", "A2": "=A5:A6 C5:C6"}})
    wb.calculate()
    assert wb["S!A1"] == 5.0
    assert wb["S!A2"] == err("#NULL!")


def test_cross_sheet_and_3d_refs():
    wb = Workbook.from_dict({"S1": {"A1": 1}, "S2": {"A1": 2}, "S3": {"A1": 3},
                             "T": {"A1": "=S2!A1*10", "A2": "='S3'!A1+S1!A1",
                                   "A3": "=NOSHEET!A1"}})
    wb.calculate()
    assert wb["T!A1"] == 20.0
    assert wb["T!A2"] == 4.0
    assert wb["T!A3"] == err("#REF!")


def test_set_value_and_recalculate():
    wb = Workbook.from_dict({"S": {"A1": 1, "A2": "=A1*2"}})
    wb.calculate()
    wb.set_value("S!A1", 21)
    wb.calculate()
    assert wb["S!A2"] == 42.0
    wb.set_value("S!A3", "=A2+1")
    wb.calculate()
    assert wb["S!A3"] == 43.0


def test_values_helpers():
    assert num_to_text(1.0) == "1"
    assert num_to_text(0.1 + 0.2) == "0.3"
    assert num_to_text(1e21) == "1E+21"
    assert num_to_text(-2.5) == "-2.5"
    assert text_to_number(" 12 ") == 12.0
    assert text_to_number("(5)") == -5.0
    assert text_to_number("abc") is None
    assert compare(None, "") == 0 and compare(None, 0.0) == 0
    assert compare(1.0, "a") < 0 and compare("a", False) < 0


def test_report_counts_formula_errors_only():
    """report.errors counts the formula cells' error values by code; an error typed as a
    constant is not counted, and a sheet without errors is skipped at C speed [hand]."""
    from xleval import values as V
    wb = Workbook.from_dict({"S": {"A1": "=1/0", "A2": "=NA()", "A3": V.NA, "A4": "=A3",
                                   "A5": "=1+1"},
                             "T": {"A1": "=2*3", "A2": 5.0}})
    wb.calculate()
    assert wb.report.errors == {"#DIV/0!": 1, "#N/A": 2}
    assert wb.report.evaluated == 5
