"""Information functions. Expected values: Microsoft support pages ("IS functions", "TYPE
function", "ERROR.TYPE function", "FORMULATEXT function", "CELL function", "SHEET
function"), cited [doc], or hand derivation, cited [hand]."""
import pytest

import xleval
from xleval.values import XLError

from .helpers import block

VALUE = XLError("#VALUE!")
NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")
REF = XLError("#REF!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def book(cells, *others):
    sheets = {"Sheet1": cells}
    for i, o in enumerate(others, 2):
        sheets[f"Sheet{i}"] = o
    wb = xleval.Workbook.from_dict(sheets)
    wb.calculate()
    return wb


# --- IS functions ---------------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ("=ISBLANK(A1)", True), ("=ISBLANK(B1)", False), ('=ISBLANK("")', False),
    ("=ISERR(NA())", False), ("=ISERR(1/0)", True), ("=ISERR(1)", False),       # [doc]
    ("=ISERROR(NA())", True), ("=ISERROR(#REF!)", True), ("=ISERROR(B1)", False),
    ("=ISNA(NA())", True), ("=ISNA(1/0)", False),                               # [doc]
    ("=ISNUMBER(5)", True), ('=ISNUMBER("5")', False), ("=ISNUMBER(TRUE)", False),
    ("=ISNUMBER(A1)", False),
    ('=ISTEXT("x")', True), ("=ISTEXT(B1)", False), ("=ISTEXT(1/0)", False),
    ("=ISNONTEXT(A1)", True), ('=ISNONTEXT("x")', False), ("=ISNONTEXT(1/0)", True),
    ("=ISLOGICAL(TRUE)", True), ('=ISLOGICAL("TRUE")', False),                  # [doc]
    ("=ISEVEN(-1)", False), ("=ISEVEN(2.5)", True), ("=ISEVEN(5)", False),      # [doc]
    ("=ISEVEN(0)", True), ("=ISEVEN(A1)", True),                                # [doc] blank
    ("=ISODD(-1)", True), ("=ISODD(2.5)", False), ("=ISODD(5)", True),          # [doc]
    ('=ISODD("3")', True), ('=ISEVEN("x")', VALUE), ("=ISEVEN(TRUE)", VALUE),
    ("=ISEVEN(1/0)", DIV0), ("=ISEVEN(B1:B2)", VALUE),                          # no ranges
    ("=ISREF(B1)", True), ("=ISREF(B1:B2)", True), ("=ISREF(5)", False),
    ('=ISREF("B1")', False), ("=ISREF(#REF!)", False),
])
def test_is_functions(formula, expected):
    assert ev(formula, B1=1, B2=2) == expected


def test_isformula():
    wb = book({"A1": 1, "B1": "=A1*2", "C1:C2": "{=A1:A2*2}",
               "D1": "=ISFORMULA(B1)", "D2": "=ISFORMULA(A1)", "D3": "=ISFORMULA(C2)",
               "D4": "=ISFORMULA(1)", "D5": "=ISFORMULA(Z9)"})
    assert wb["Sheet1!D1"] is True
    assert wb["Sheet1!D2"] is False
    assert wb["Sheet1!D3"] is True           # a cell inside an array formula
    assert wb["Sheet1!D4"] == VALUE          # not a reference
    assert wb["Sheet1!D5"] is False


# --- N / TYPE / ERROR.TYPE / NA -------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ("=N(7)", 7.0), ('=N("Even")', 0.0), ("=N(TRUE)", 1.0),                     # [doc]
    ("=N(A1)", 0.0), ("=N(1/0)", DIV0), ("=N(DATE(2011,4,17))", 40650.0),       # [doc]
    ("=N(B1:B2)", 1.0),                     # [hand] the first cell of a reference
    ("=TYPE(1)", 1.0), ('=TYPE("x")', 2.0), ("=TYPE(TRUE)", 4.0),               # [doc]
    ("=TYPE(1/0)", 16.0), ("=TYPE({1,2})", 64.0), ("=TYPE(A1)", 1.0),           # [doc]
    ("=TYPE(B1:B2)", 64.0), ('=TYPE("Smith"&" ")', 2.0),
    ("=ERROR.TYPE(#NULL!)", 1.0), ("=ERROR.TYPE(1/0)", 2.0),                    # [doc]
    ("=ERROR.TYPE(#VALUE!)", 3.0), ("=ERROR.TYPE(#REF!)", 4.0),
    ("=ERROR.TYPE(#NAME?)", 5.0), ("=ERROR.TYPE(#NUM!)", 6.0),
    ("=ERROR.TYPE(NA())", 7.0), ("=ERROR.TYPE(#GETTING_DATA)", 8.0),
    ("=ERROR.TYPE(1)", NA),                                                     # [doc]
    ("=NA()", NA),
])
def test_n_type_errortype(formula, expected):
    assert ev(formula, B1=1, B2=2) == expected


# --- SHEET / SHEETS ---------------------------------------------------------------------
def test_sheet_sheets():
    wb = book({"A1": "=SHEET()", "A2": "=SHEET(Sheet2!A1)", "A3": '=SHEET("Sheet3")',
               "A4": '=SHEET("Nope")', "A5": "=SHEETS()", "A6": "=SHEETS(A1)",
               "A7": "=SHEETS(Sheet1:Sheet3!A1)"}, {}, {})
    assert wb["Sheet1!A1"] == 1.0
    assert wb["Sheet1!A2"] == 2.0
    assert wb["Sheet1!A3"] == 3.0
    assert wb["Sheet1!A4"] == NA
    assert wb["Sheet1!A5"] == 3.0
    assert wb["Sheet1!A6"] == 1.0
    assert wb["Sheet1!A7"] == 3.0


# --- FORMULATEXT ------------------------------------------------------------------------
def test_formulatext():
    wb = book({"A1": 1, "B1": "=A1*2", "B2": "=$A1+B$1", "C1": "=SUM(A1:B1)",
               "D1": "=FORMULATEXT(B1)", "D2": "=FORMULATEXT(C1)",
               "D3": "=FORMULATEXT(A1)", "D4": "=FORMULATEXT(B2)"})
    assert wb["Sheet1!D1"] == "=A1*2"                     # [doc]
    assert wb["Sheet1!D2"] == "=SUM(A1:B1)"
    assert wb["Sheet1!D3"] == NA                          # [doc] not a formula
    assert wb["Sheet1!D4"] == "=$A1+B$1"


def test_formulatext_of_shared_formula_is_translated():
    from xleval.functions.information import formula_display
    # a shared formula written for B1 as A1*2, read at B5: the relative row moves
    assert formula_display("A1*2+$A$1+A$1+$A1", (1, 2), (5, 2)) == "A5*2+$A$1+A$1+$A5"
    assert formula_display("SUM(A1:B2)", (1, 3), (1, 4)) == "SUM(B1:C2)"
    assert formula_display("_xlfn.CONCAT(A1)", (1, 1), (1, 1)) == "CONCAT(A1)"
    assert formula_display("Sheet2!A1", (1, 1), (2, 1)) == "Sheet2!A2"
    assert formula_display("A1", (2, 1), (1, 1)) == "#REF!"      # moved off the sheet
    assert formula_display('"A1"&A1', (1, 1), (2, 1)) == '"A1"&A2'   # strings untouched


# --- CELL / INFO --------------------------------------------------------------------------
def test_cell():
    wb = book({"A1": "x", "B2": 5, "C1": '=CELL("address",B2)', "C2": '=CELL("row",B2)',
               "C3": '=CELL("col",B2)', "C4": '=CELL("contents",B2)', "C5": '=CELL("type",A1)',
               "C6": '=CELL("type",B2)', "C7": '=CELL("type",Z9)', "C8": '=CELL("bogus",A1)',
               "C9": '=CELL("filename")'})
    assert wb["Sheet1!C1"] == "$B$2"                    # [doc]
    assert wb["Sheet1!C2"] == 2.0
    assert wb["Sheet1!C3"] == 2.0
    assert wb["Sheet1!C4"] == 5.0
    assert wb["Sheet1!C5"] == "l"                       # [doc] label
    assert wb["Sheet1!C6"] == "v"                       # [doc] value
    assert wb["Sheet1!C7"] == "b"                       # [doc] blank
    assert wb["Sheet1!C8"] == VALUE
    assert wb["Sheet1!C9"] == ""                        # [doc] workbook never saved


def test_info():
    assert ev('=INFO("recalc")') == "Automatic"
    assert ev('=INFO("system")') == "pcdos"
    assert ev('=INFO("numfile")') == 1.0
    assert ev('=INFO("nonsense")') == VALUE


def test_isformula_range_in_array_formula():
    wb = book({"A1": 1, "B1": "=A1", "C1:D1": "{=ISFORMULA(A1:B1)}", "E1": "=ISFORMULA(A1:B1)"})
    assert wb["Sheet1!C1"] is False
    assert wb["Sheet1!D1"] is True           # one result per cell of the range
    assert wb["Sheet1!E1"] is False          # outside an array formula: the first cell


# --- IS* in a legacy array formula larger than their argument ------------------------------
# Excel-saved evidence: formulas' test.xlsx, sheet INFORMATION, row 11/12/13: {=ISLOGICAL(
# M11:Q11)}, {=ISNA(C12:Q12)}, {=ISNONTEXT(M13:Q13)} entered in more cells than the range has
# give FALSE / TRUE / TRUE beyond its end (the IS* test of #N/A), where ERROR.TYPE, SUMIF and
# XLOOKUP in the same file give #N/A there.

def test_is_functions_test_na_beyond_their_argument_in_a_larger_array_formula():
    cells = {"A1": 1.0, "B1": "x", "C1": True}
    # [hand] from the rule above: positions 4 and 5 read #N/A
    assert block("=ISLOGICAL(A1:C1)", "E1:I1", **cells) == [[False, False, True, False, False]]
    assert block("=ISNA(A1:C1)", "E1:I1", **cells) == [[False, False, False, True, True]]
    assert block("=ISNONTEXT(A1:C1)", "E1:I1", **cells) == [[True, False, True, True, True]]
    assert block("=ISERROR(A1:C1)", "E1:G2", **cells) == [[False, False, False],
                                                         [False, False, False]]  # rows repeat
    # other functions pad their result with #N/A instead
    assert block("=ERROR.TYPE(A1:C1)", "E1:I1", **cells) == [[NA, NA, NA, NA, NA]]
    assert block("=LEN(A1:C1)", "E1:I1", **cells) == [[1.0, 1.0, 4.0, NA, NA]]
    # nested: only the formula's own top-level call reads by cell
    assert block("=NOT(ISNA(A1:C1))", "E1:I1", **cells) == [[True, True, True, NA, NA]]


def test_is_functions_in_larger_array_formulas_match_excel_cached_values():
    """The Excel-cached cells themselves (skipped without the corpus)."""
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "conformance",
                        "workbooks", "formulas", "test", "test_files", "test.xlsx")
    if not os.path.exists(path):
        pytest.skip("conformance corpus not present")
    import openpyxl
    cached = openpyxl.load_workbook(path, data_only=True, read_only=True)["INFORMATION"]
    want = {f"{c}{r}": cached[f"{c}{r}"].value for r in (11, 12, 13, 18) for c in ("AT", "AW")}
    import xleval
    wb = xleval.load(path)
    wb.calculate()
    for ref, v in want.items():
        got = wb["INFORMATION!" + ref]
        assert (str(got) if isinstance(got, XLError) else got) == v, ref
