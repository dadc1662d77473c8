"""Logical functions and the LAMBDA helpers. Expected values: the examples of the Microsoft
support pages ("AND function", "MAP function", "REDUCE function", ...), cited [doc], or
hand derivation from the documented rules, cited [hand]."""
import pytest

import xleval
from xleval.functions.registry import Context
from xleval.loader.model import DefinedName
from xleval.parser.parser import parse
from xleval.values import Array, XLError

VALUE = XLError("#VALUE!")
DIV0 = XLError("#DIV/0!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def raw(formula, names=None, **cells):
    """Unreduced result of a formula evaluated at A1 in array mode (workbook names optional)."""
    wb = xleval.Workbook.from_dict({"Sheet1": dict(cells)})
    for n, text in (names or {}).items():
        wb.data.names.append(DefinedName(n, text))
    wb = xleval.Workbook(wb.data)
    wb.calculate()
    eng = wb.engine
    fn, _ = eng.compiler.compile(parse(formula.lstrip("="), (1, 1)), 0, True)
    return fn(Context(eng, 0, 1, 1, True))


# --- AND / OR / XOR / NOT -----------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ("=AND(TRUE,TRUE)", True), ("=AND(TRUE,FALSE)", False),          # [doc]
    ("=AND(2+2=4,2+3=5)", True),                                      # [doc]
    ("=AND(1,2)", True), ("=AND(1,0)", False),                        # numbers: non-zero
    ('=AND("TRUE",1)', True),                                         # [hand] text TRUE coerces
    ('=AND("abc")', VALUE),                                           # [hand] no logical
    ('=AND("1",1)', True),                      # [hand] other direct text is ignored
    ('=AND(TRUE,#REF!,"0")', XLError("#REF!")),  # the first error in order
    ("=AND(TRUE,1/0)", DIV0),
    ("=AND(TRUE,)", False),                                           # [hand] empty arg FALSE
    ("=OR(TRUE,FALSE)", True), ("=OR(FALSE,FALSE)", False),           # [doc]
    ("=OR(1+1=1,2+2=5)", False),                                      # [doc]
    ("=OR(0,0,1)", True),
    ("=XOR(3>0,2<9)", False),                                         # [doc]
    ("=XOR(3>12,4>6)", False),                                        # [doc]
    ("=XOR(TRUE,FALSE)", True),
    ("=XOR(TRUE,TRUE,TRUE)", True),                                   # odd count
    ("=NOT(FALSE)", True), ("=NOT(1+1=2)", False),                    # [doc]
    ("=NOT(0)", True), ("=NOT(A1)", True),                            # blank is FALSE
    ('=NOT("x")', VALUE),
    ("=TRUE()", True), ("=FALSE()", False),
])
def test_and_or_xor_not(formula, expected):
    assert ev(formula) == expected


def test_ranges_ignore_text_and_blanks():
    cells = {"A1": True, "A2": "text", "A3": None, "A4": 1}
    assert ev("=AND(A1:A4)", **cells) is True          # [doc] text and blanks ignored
    assert ev("=OR(A2:A3)", **cells) == VALUE          # [doc] no logical value at all
    assert ev("=AND(A2)", A2="TRUE") == VALUE          # text in a reference is ignored
    assert ev("=XOR(A1:A4)", **cells) is False         # two TRUEs
    assert ev("=AND(A1:A2)", A1=True, A2=DIV0) == DIV0
    assert ev('=AND({TRUE,"x",1})') is True            # text in an array is ignored
    assert ev("=OR({0,0})") is False


def test_not_broadcasts():
    assert raw("=NOT({TRUE,0})") == Array([[False, True]])


# --- LAMBDA helpers ------------------------------------------------------------------------
def test_map():
    # [doc] MAP(A1:C2, LAMBDA(a, IF(a>4, a*a, a)))
    cells = {"A1": 1, "B1": 2, "C1": 3, "A2": 4, "B2": 5, "C2": 6}
    assert raw("=MAP(A1:C2,LAMBDA(a,IF(a>4,a*a,a)))", **cells) == \
        Array([[1.0, 2.0, 3.0], [4.0, 25.0, 36.0]])
    assert raw("=MAP({1,2},{10,20},LAMBDA(a,b,a+b))") == Array([[11.0, 22.0]])
    # cells are handed over as references, so ISBLANK sees blanks
    assert raw("=MAP(A1:A2,LAMBDA(x,ISBLANK(x)))", A1=1) == Array([[False], [True]])
    assert raw("=MAP({1,2},LAMBDA(a,b,a))") == VALUE          # wrong parameter count
    assert raw("=MAP({1,2},5)") == VALUE                       # not a lambda


def test_reduce_scan():
    # [doc] REDUCE(, A1:C2, LAMBDA(a,b, a+b^2)) sums squares: 1+4+9+16+25+36
    cells = {"A1": 1, "B1": 2, "C1": 3, "A2": 4, "B2": 5, "C2": 6}
    assert raw("=REDUCE(,A1:C2,LAMBDA(a,b,a+b^2))", **cells) == 91.0
    assert raw("=REDUCE(1,{2,3,4},LAMBDA(a,b,a*b))") == 24.0
    # [doc] SCAN("", {"a","b","c";"d","e","f"}, LAMBDA(a,b,a&b))
    assert raw('=SCAN("",{"a","b","c";"d","e","f"},LAMBDA(t,i,t&i))') == \
        Array([["a", "ab", "abc"], ["abcd", "abcde", "abcdef"]])
    assert raw("=SCAN(1,{1,2,3,4},LAMBDA(a,b,a*b))") == Array([[1.0, 2.0, 6.0, 24.0]])


def test_byrow_bycol():
    cells = {"A1": 1, "B1": 2, "A2": 3, "B2": 4}
    assert raw("=BYROW(A1:B2,LAMBDA(r,SUM(r)))", **cells) == Array([[3.0], [7.0]])
    assert raw("=BYCOL(A1:B2,LAMBDA(c,MAX(c)))", **cells) == Array([[3.0, 4.0]])
    assert raw("=BYROW({1,2;3,4},LAMBDA(r,SUM(r)))") == Array([[3.0], [7.0]])
    # a row handed over as a reference works with functions that need references
    assert raw('=BYROW(A1:B2,LAMBDA(r,COUNTIF(r,">1")))', **cells) == Array([[1.0], [2.0]])
    # a lambda that returns an array for a row: #CALC!
    assert raw("=BYROW({1,2;3,4},LAMBDA(r,r))") == Array([[XLError("#CALC!")]] * 2)


def test_makearray():
    # [doc] MAKEARRAY(3, 3, LAMBDA(r,c, r*c))
    assert raw("=MAKEARRAY(3,3,LAMBDA(r,c,r*c))") == \
        Array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]])
    assert raw("=MAKEARRAY(0,2,LAMBDA(r,c,r))") == VALUE
    assert raw("=MAKEARRAY(1,2,LAMBDA(r,r))") == VALUE


def test_isomitted():
    # [doc] a LAMBDA that tests whether its second argument was given
    names = {"F": "LAMBDA(a,b,IF(ISOMITTED(b),\"no b\",a+b))"}
    assert raw("=F(1,2)", names) == 3.0
    assert raw("=F(1)", names) == "no b"
    assert raw("=F(1,A5)", names) == 1.0        # a blank cell is given, not omitted


def test_makearray_arguments():
    # whole numbers only (Excel-saved results: 2.3 and "1" give #VALUE!, TRUE is 1)
    assert raw("=MAKEARRAY(2.3,1,LAMBDA(r,c,r))") == VALUE
    assert raw('=MAKEARRAY(1,"1",LAMBDA(r,c,r))') == VALUE
    assert raw("=MAKEARRAY(TRUE,1,LAMBDA(r,c,r+c))") == Array([[2.0]])
    # a range of sizes in an array formula: one value (the top-left) per element
    assert raw("=MAKEARRAY(A1:B1,1,LAMBDA(r,c,r*10))", A1=2, B1=0) == Array([[10.0, VALUE]])


# --- calling a lambda value -------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    # [hand] a lambda called where it is made
    ("=LAMBDA(x,x+1)(1)", 2.0),
    ("=(LAMBDA(x,y,x*y))(3,4)", 12.0),                         # [hand]
    # [doc] "LET function" binds names; [hand] a bound lambda called by its name
    ("=LET(f,LAMBDA(x,x*2),f(3))", 6.0),
    ("=LET(f,LAMBDA(x,LAMBDA(y,x+y)),f(1)(2))", 3.0),          # [hand] curried
    ("=LET(sq,LAMBDA(n,n^2),sq(A1)+sq(2))", 13.0),             # [hand] A1 = 3
    # as files store them: parameters and names with the _xlpm. prefix
    ("=_xlfn.LET(_xlpm.g,_xlfn.LAMBDA(_xlpm.n,_xlpm.n*10),_xlpm.g(A1))", 30.0),
    ("=LET(x,5,x(1))", VALUE),                                  # [hand] a number called
    ("=LET(f,1/0,f(1))", DIV0),                                 # [hand] the callee's error
])
def test_lambda_values_called(formula, expected):
    assert ev(formula, A1=3.0) == expected


def test_unknown_function_stays_unsupported_outside_let():
    wb = xleval.Workbook.from_dict({"S": {"A1": "=FOO(1)", "A2": "=LET(FOO,LAMBDA(x,x),FOO(2))"}})
    wb.calculate()
    assert wb["S!A1"] == XLError("#NAME?") and wb["S!A2"] == 2.0
    assert wb.report.unsupported == {"FOO": 1}


def test_lambda_called_down_a_column():
    cells = {f"A{r}": float(r) for r in range(1, 41)}
    cells.update({f"B{r}": f"=LET(f,LAMBDA(x,x*x+1),f(A{r}))" for r in range(1, 41)})
    wb = xleval.Workbook.from_dict({"S": cells})
    wb.calculate()
    assert [wb[f"S!B{r}"] for r in range(1, 41)] == [r * r + 1.0 for r in range(1, 41)]


@pytest.mark.parametrize("formula, expected", [
    # [excel] formulas/test.xlsx LOGICAL!AP3, AS3, AP21, AP27: an error argument after text
    # that is not TRUE/FALSE is the result
    ('=AND(TRUE,"0",#REF!)', XLError("#REF!")),
    ('=AND(TRUE,"ciao",#REF!,"0")', XLError("#REF!")),
    ('=OR(TRUE,"0",#REF!)', XLError("#REF!")),
    ('=XOR(TRUE,"0",#REF!)', XLError("#REF!")),
    ('=AND(TRUE,#REF!,"0")', XLError("#REF!")),     # [excel] LOGICAL!AQ3
])
def test_logical_error_argument_wins_over_text(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    # [hand] Excel 2016 and later: text given directly counts only when it reads TRUE or
    # FALSE (any case); other text is skipped like text in a range, so the result comes
    # from the remaining arguments, and is #VALUE! only when none is left
    ('=AND(TRUE,"0")', True),                       # [excel] formulas/test.xlsx LOGICAL!AT3
    ('=AND(TRUE,"ciao")', True),
    ('=AND("ciao",FALSE)', False),
    ('=AND(TRUE,"false")', False),                  # TRUE/FALSE text converts
    ('=AND("1",1)', True),                          # numeric text is not a number here
    ('=OR(FALSE,"1")', False),
    ('=OR("x","TRUE")', True),
    ('=XOR(TRUE,"x")', True),
    ('=XOR(TRUE,"TRUE")', False),
    ('=OR("x","y")', VALUE),                        # no logical value at all
    ('=XOR("")', VALUE),
    ('=AND("x",NA())', XLError("#N/A")),            # skipped text never hides an error
])
def test_direct_text_that_is_not_a_logical_is_skipped(formula, expected):
    assert ev(formula) == expected


def test_iferror_pairs_an_array_fallback_elementwise():
    # [excel] formulas/test.xlsx LOGICAL!AH9:AI9: {=IFERROR(K9:L9,I9:J9)} with K9 #VALUE!,
    # L9 #N/A, I9 "ciao", J9 TRUE shows "ciao", TRUE (each error takes its own fallback);
    # IFNA (AH10:AI10, same data) catches only the #N/A
    cells = {"K1": "=1/0", "L1": "=NA()", "I1": "ciao", "J1": True,
             "A1:B1": "{=IFERROR(K1:L1,I1:J1)}", "A2:B2": "{=IFNA(K1:L1,I1:J1)}"}
    wb = xleval.Workbook.from_dict({"S": cells})
    wb.calculate()
    assert [wb["S!A1"], wb["S!B1"]] == ["ciao", True]
    assert [wb["S!A2"], wb["S!B2"]] == [DIV0, True]
