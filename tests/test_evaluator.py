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


# ----------------------------------------------------------------------------------------
# deep nesting and long formulas: an error value in the cell, never a RecursionError
# ----------------------------------------------------------------------------------------
_TOO_DEEP = ["=" + "(" * 1000 + "1" + ")" * 1000,
             "=" + "ABS(" * 1000 + "1" + ")" * 1000,
             "=" + "-" * 1000 + "1",
             "=" + "IF(TRUE," * 1500 + "A1" + ",0)" * 1500]


@pytest.mark.parametrize("formula", _TOO_DEEP)
def test_formula_nested_too_deeply_is_name_error(formula):
    """Deeper than parser.MAX_NESTING (255) levels: not parsed, like any unparsable
    formula (#NAME?, listed in the report); its dependents get the error, the other
    cells calculate [hand]."""
    assert ev(formula) == err("#NAME?")
    wb = Workbook.from_dict({"S": {"A1": 2.0, "B1": formula, "C1": "=B1+1",
                                   "D1": "=A1*3", "E1": "=SUM(A1,D1)"}})
    wb.calculate()
    assert wb["S!B1"] == err("#NAME?") and wb["S!C1"] == err("#NAME?")
    assert wb["S!D1"] == 6.0 and wb["S!E1"] == 8.0
    assert [(cell, msg) for cell, _text, msg in wb.report.parse_errors] == [
        ("S!B1", "formula nested too deeply")]
    # set as a formula afterwards: the same
    wb.set_value("S!F1", formula)
    wb.set_value("S!G1", "=F1*2")
    wb.set_value("S!A1", 5.0)
    wb.calculate()
    assert wb["S!F1"] == err("#NAME?") and wb["S!G1"] == err("#NAME?")
    assert wb["S!D1"] == 15.0 and wb["S!E1"] == 20.0


def test_formula_too_deep_to_compile_is_name_error():
    """A defined name whose definition uses itself compiles without end: the formula
    using it gets #NAME? and is listed like an unparsable one; the rest calculates."""
    from xleval.loader.model import DefinedName
    wb = Workbook.from_dict({"S": {"A1": 1.0, "B1": "=LOOP*2", "C1": "=B1+A1",
                                   "D1": "=A1+1"}})
    wb.data.names.append(DefinedName("LOOP", "LOOP+1"))
    wb.engine.names[(None, "LOOP")] = wb.data.names[-1]
    wb.calculate()
    assert wb["S!B1"] == err("#NAME?") and wb["S!C1"] == err("#NAME?")
    assert wb["S!D1"] == 2.0
    assert [(cell, msg) for cell, _text, msg in wb.report.parse_errors] == [
        ("S!B1", "formula nested too deeply")]


def test_nesting_within_the_limit_calculates():
    """Excel's 64 levels of nested functions calculate; parentheses and signs up to
    parser.MAX_NESTING (255) levels too [hand]."""
    assert ev("=" + "ABS(" * 63 + "-1" + ")" * 63) == 1.0           # the sign is a level
    assert ev("=" + "(" * 255 + "2" + ")" * 255) == 2.0
    assert ev("=" + "-" * 255 + "2") == -2.0                        # an odd count
    assert ev("=" + "-" * 254 + "2") == 2.0
    # 64 IFs, each adding 1 to the next level's value: 64 + 5
    f = "=" + "IF(A1>0,1+" * 64 + "A1" + ",0)" * 64
    assert ev(f, A1=5.0) == 69.0
    assert ev(f, A1=-1.0) == 0.0
    # SUM(1, SUM(1, ... SUM(1, 1))): 63 ones and the innermost 1
    assert ev("=" + "SUM(1," * 63 + "1" + ")" * 63) == 64.0
    assert ev("=" + "IFERROR(" * 64 + "1/0" + ",7)" * 64) == 7.0


def test_formula_too_deep_for_the_stack_left_is_an_error_value():
    """A formula within the nesting limit, calculated by a caller already deep in its
    stack: an error value in the cell (#NAME? when it cannot be parsed or compiled, #NUM!
    when it cannot be evaluated), never a RecursionError; the limit is left alone."""
    import sys
    limit = sys.getrecursionlimit()
    f = "=" + "IF(A1>0,1+" * 64 + "A1" + ",0)" * 64

    def down(k):
        return ev(f, A1=5.0) if k == 0 else down(k - 1)
    assert down(limit - 200) in (err("#NAME?"), err("#NUM!"))
    assert sys.getrecursionlimit() == limit
    assert ev(f, A1=5.0) == 69.0


def test_long_flat_formulas_calculate():
    """Chains of operators are not nesting: Excel takes 8,192 characters [hand]."""
    assert ev("=" + "+".join(["1"] * 500)) == 500.0
    assert ev("=" + "+".join(["1"] * 4000)) == 4000.0               # 7,999 characters
    cells = {f"A{i}": float(i) for i in range(1, 501)}
    assert ev("=" + "+".join(f"A{i}" for i in range(1, 501)), **cells) == 125250.0
    assert ev("=SUM(" + ",".join(str(i) for i in range(1, 256)) + ")") == 32640.0
    assert ev("=" + "*".join(["2"] * 40) + "/" + "/".join(["2"] * 39)) == 2.0
    assert ev("=" + "&".join(str(i % 10) for i in range(30))) == "012345678901234567890123456789"
    assert ev("=100" + "%" * 20) == pytest.approx(1e-38, rel=1e-15)
    # the chain's semantics are the operators': text numbers, blanks and booleans coerce,
    # the leftmost error wins, a sum Excel snaps to zero is zero
    chain = "=A1+" + "+".join(["A2"] * 20) + "+A3+A4"          # "3", blank, TRUE
    assert ev(chain, A1="3", A3=True, A4=1.5) == 5.5
    assert ev("=A1+" + "+".join(["1"] * 20) + "+A2+A3", A2=err("#N/A"),
              A3=err("#DIV/0!")) == err("#N/A")
    assert ev("=" + "+".join(["0.1"] * 18) + "-1.8") == 0.0
    assert ev('="a"+' + "+".join(["1"] * 20)) == err("#VALUE!")
    assert ev("=SUM(" + "A1:A2:" * 20 + "A3)", A1=1.0, A2=2.0, A3=4.0) == 7.0


def test_long_chains_copied_down_and_differing_in_numbers():
    """A long chain copied down (one shape) and typed with other numbers per row (a
    family sharing one closure) [hand: row r sums r thirty times, plus r]."""
    rows = range(1, 41)
    cells = {f"A{r}": float(r) for r in rows}
    cells.update({f"B{r}": "=" + "+".join([f"A{r}"] * 30) for r in rows})
    cells.update({f"C{r}": "=" + "+".join([f"A{r}"] * 30) + f"+{r}" for r in rows})
    cells.update({f"D{r}": "=" + "+".join([f"A{r}"] * 2000) for r in rows})
    wb = Workbook.from_dict({"S": cells})
    wb.calculate()
    for r in rows:
        assert wb[f"S!B{r}"] == 30.0 * r
        assert wb[f"S!C{r}"] == 31.0 * r
        assert wb[f"S!D{r}"] == 2000.0 * r
    cs = wb.engine.cell_shape[0]
    member = cs[(7, 3)]
    assert member.k == (7.0,)
    assert member.tree.right.value == 7.0                           # built on demand
    wb.set_value("S!A7", 1.0)
    wb.calculate()
    assert wb["S!B7"] == 30.0 and wb["S!C7"] == 37.0 and wb["S!D7"] == 2000.0


def test_recursive_named_lambdas(tmp_path):
    # Excel allows a LAMBDA defined name to call itself (and names to call each other); it
    # stops runaway recursion with #NUM!. Calculating any such workbook never ended: the
    # graph and the compiler both followed the name into itself. Values derived by hand.
    import openpyxl
    from openpyxl.workbook.defined_name import DefinedName as XlName
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "S"
    names = {
        "FACTL": "_xlfn.LAMBDA(_xlpm.n,IF(_xlpm.n<=1,1,_xlpm.n*FACTL(_xlpm.n-1)))",
        "SUMTO": "_xlfn.LAMBDA(_xlpm.n,IF(_xlpm.n=0,0,_xlpm.n+SUMTO(_xlpm.n-1)))",
        "EVENL": "_xlfn.LAMBDA(_xlpm.n,IF(_xlpm.n=0,TRUE,ODDL(_xlpm.n-1)))",
        "ODDL": "_xlfn.LAMBDA(_xlpm.n,IF(_xlpm.n=0,FALSE,EVENL(_xlpm.n-1)))",
        "LOOPL": "_xlfn.LAMBDA(_xlpm.n,LOOPL(_xlpm.n+1))",
        # reads a formula cell: the graph must order S!B1 before the callers
        "TIMESB": "_xlfn.LAMBDA(_xlpm.n,IF(_xlpm.n=0,0,S!$B$1+TIMESB(_xlpm.n-1)))",
    }
    for name, text in names.items():
        book.defined_names[name] = XlName(name, attr_text=text)
    cells = {"A1": "=FACTL(10)", "A2": "=SUMTO(100)", "A3": "=EVENL(10)", "A4": "=ODDL(7)",
             "A5": "=LOOPL(1)", "A6": "=TIMESB(4)", "A7": "=A1+1", "B1": "=2*3"}
    for ref, f in cells.items():
        ws[ref] = f
    path = tmp_path / "lambdas.xlsx"
    book.save(path)
    wb = xleval.load(path)
    wb.calculate()
    assert [wb[f"S!A{i}"] for i in range(1, 8)] == [
        3628800.0, 5050.0, True, True, err("#NUM!"), 24.0, 3628801.0]
