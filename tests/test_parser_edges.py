"""Formula-text edge cases through the tokenizer, parser and compiler. Each expected value
says where it comes from: [doc] a documented rule (with its source), [hand] derived by hand
from documented rules. None is read off xleval."""
import tracemalloc

import pytest

import xleval
from xleval import values as V
from xleval.parser.ast import ArrayLit, Literal, StructRef, Unary
from xleval.parser.parser import parse, skeleton_key
from xleval.parser.tokenizer import FormulaSyntaxError, tokenize
from xleval.workbook import Workbook

CELLS = {"A1": 1, "A2": 2, "A3": 3, "B1": 10, "B2": "x", "B3": 30}


def ev(formula):
    """evaluate() puts the formula in row 1 of Sheet1 (ZZ1)."""
    return xleval.evaluate(formula, cells=CELLS)


# --- number literals beyond a double --------------------------------------------------
# [doc] Microsoft KB Q214373 (XL2000: 10 raised to a large power): "larger values are
# converted into a #NUM! error value"; Excel's largest number is just below 1.8E+308.
# Such a literal can't be typed into Excel, but a generated file can hold one: it is the
# error #NUM!, never a number (it was an infinite float: ISNUMBER TRUE, LEN crashed).

@pytest.mark.parametrize("formula, expected", [
    ("=1E309", V.NUM),
    ("=-1E309", V.NUM),
    ("=ISNUMBER(1E309)", False),
    ("=ISERROR(1E309)", True),
    ('=IFERROR(1E309,"x")', "x"),
    ("=LEN(1E309)", V.NUM),              # was OverflowError
    ("=INDIRECT(1E309)", V.NUM),         # was OverflowError
    ("=ISERROR(INDEX({1,1E309},1,2))", True),
    ("=ISERROR(INDEX({1,-1E309},1,2))", True),
    # [hand] 1.5E308 is below the largest double: an ordinary number
    ("=ISNUMBER(1.5E308)", True),
])
def test_number_literal_overflow(formula, expected):
    assert ev(formula) == expected


def test_number_literal_overflow_in_a_family():
    # formulas that differ only in their numbers share one parse (skeleton_key): a member
    # whose number overflows must not become an infinite float there either
    # [hand] LEN of 1.5E5 .. 1.5E10 is the length of 150000 .. 15000000000; 1.5E309 as above
    exps = [5, 6, 7, 8, 9, 10, 309, 400]
    cells = {f"D{r}": f"=LEN(1.5e{e})" for r, e in enumerate(exps, 1)}
    cells.update({f"C{r}": f"=ISNUMBER(1.5e{e})" for r, e in enumerate(exps, 1)})
    wb = Workbook.from_dict({"Sheet1": cells})
    wb.calculate()
    assert [wb[f"Sheet1!D{r}"] for r in range(1, 9)] == \
        [6.0, 7.0, 8.0, 9.0, 10.0, 11.0, V.NUM, V.NUM]
    assert [wb[f"Sheet1!C{r}"] for r in range(1, 9)] == [True] * 6 + [False] * 2
    assert skeleton_key("1.5e309", (1, 1)) is None
    assert skeleton_key("A1*1e400", (1, 1)) is None


# --- _xlfn.SINGLE is the @ operator -----------------------------------------------------
# [doc] support.microsoft.com "Implicit intersection operator: @": a range gives the cell
# on the formula's row, an array its top-left value; Excel saves some @s as _xlfn.SINGLE
# (vinci1it2000/formulas#57: "Excel 2016 changes some '@' operators to SINGLE() behind the
# scenes"). The formula is in row 1, so A1:A3 gives A1 and B1:B3 gives B1.

@pytest.mark.parametrize("formula, expected", [
    ("=_xlfn.SINGLE(A1:A3)", 1.0),
    ("=_xlfn.SINGLE(B1:B3)", 10.0),
    ("=_xlfn.SINGLE({5,6})", 5.0),
    ("=_xlfn.SINGLE(A1:A3)+1", 2.0),
    ("=SUM(_xlfn.SINGLE(A1:A3),1)", 2.0),
])
def test_xlfn_single_is_implicit_intersection(formula, expected):
    assert ev(formula) == expected


def test_xlfn_single_parses_as_at():
    t = parse("_xlfn.SINGLE(A1:A3)")
    assert isinstance(t, Unary) and t.op == "@"


# --- error literals in any case -------------------------------------------------------
# [doc] Excel error values are case-insensitive when typed (=#n/a is #N/A); ECMA-376
# Part 4 "Constants" lists #REF! among the error constants; a sheet-qualified #REF! is a
# reference to a deleted range: #REF!.

@pytest.mark.parametrize("formula", ["=#ref!", "=Sheet1!#ref!", "=Sheet1!#REF!", "={#ref!}",
                                     "=SUM(A1,#ref!)"])
def test_ref_error_any_case(formula):
    assert ev(formula) == V.REF


# --- structured references holding '!' --------------------------------------------------
# [hand] A '!' inside the brackets is part of the column specifier, not a sheet prefix:
# these parse (no table named so exists: #REF! when evaluated) instead of crashing
# with ValueError.

@pytest.mark.parametrize("text, table, spec", [
    ("Table1[C!ol]", "Table1", "C!ol"),
    ("T1[#A!ll]", "T1", "#A!ll"),
    ("[ol!]", None, "ol!"),
    ("[@!x]", None, "@!x"),
    ("Sheet1!Table1[Col]", "Table1", "Col"),
    ("'a b'!Table1[Col!]", "Table1", "Col!"),
    ("[1]!Table1[Col]", "Table1", "Col"),
])
def test_structured_ref_with_bang(text, table, spec):
    t = parse(text)
    assert isinstance(t, StructRef) and (t.table, t.spec) == (table, spec)


@pytest.mark.parametrize("formula", ['=[1C!l] ""', "=Table1[C!ol]", "=T1[#A!ll]"])
def test_structured_ref_with_bang_evaluates(formula):
    # no table at all: an error value, not an exception (#NAME? where the text is no
    # formula, #REF! where the table is missing)
    assert isinstance(ev(formula), V.XLError)


# --- array constants: only numbers take a sign -----------------------------------------
# [doc] ECMA-376 Part 4, "Constants": "Any numerical-constant in an array-constant can be
# preceded immediately by a prefix-operator"; no other constant can. {-"a"} was "a".

@pytest.mark.parametrize("text", ['{-"a"}', "{-TRUE}", "{+FALSE}", "{-#N/A}", "{1,-\"b\"}"])
def test_array_constant_sign_only_before_numbers(text):
    with pytest.raises(FormulaSyntaxError):
        parse(text)


def test_array_constant_signed_numbers():
    # [doc] same section: a prefix operator before a number
    t = parse("{+2,-3;-.5,+1E2}")
    assert isinstance(t, ArrayLit) and t.rows == [[2.0, -3.0], [-0.5, 100.0]]
    assert ev('={-"a"}') == V.NAME       # no formula: #NAME? like every unparsable one


# --- string literals -------------------------------------------------------------------
# [doc] ECMA-376 Part 4 "Constants": a double quote inside a string constant is written
# twice ("ab""cd" holds ab"cd).

@pytest.mark.parametrize("text, value", [
    ('"ab""cd"', 'ab"cd'),
    ('""""', '"'),
    ('""', ""),
    ('"""abcd"""', '"abcd"'),
])
def test_string_literal_quotes(text, value):
    t = parse(text)
    assert isinstance(t, Literal) and t.value == value


@pytest.mark.parametrize("text", ['"abc', '"a""', '"a"""b"'])
def test_unterminated_string(text):
    with pytest.raises(FormulaSyntaxError):
        tokenize(text)


def test_long_string_literal_memory():
    # a string literal of 200,000 characters (a generated file may hold one) tokenizes
    # without per-character backtracking state (was ~25 MB at this size, ~120 MB at 1 MB)
    text = '"' + "a" * 200_000 + '"&"' + 'b""' * 20_000 + '"'
    tracemalloc.start()
    try:
        toks = tokenize(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [k for k, _ in toks] == ["str", "op", "str"]
    assert peak < 5_000_000


def test_quoted_sheet_names():
    # [doc] ECMA-376 Part 4: a quote in a quoted sheet name is doubled ('It''s'!A1)
    wb = Workbook.from_dict({"It's": {"A1": 7}, "a b": {"A1": 5, "B2": 6},
                             "Out": {"A1": "='It''s'!A1", "A2": "=SUM('a b'!A1:B2)"}})
    wb.calculate()
    assert wb["Out!A1"] == 7.0 and wb["Out!A2"] == 11.0


# --- operators (regressions: documented precedence) -----------------------------------
# [doc] support.microsoft.com "Calculation operators and precedence in Excel": negation
# before %, before ^, before * /, before + -, before &, before comparisons; operators of
# one level left to right.

@pytest.mark.parametrize("formula, expected", [
    ("=-2^2", 4.0),                 # [doc] the page's own example: =-2^2 is 4
    ("=2^3^2", 64.0),               # [hand] left to right: (2^3)^2
    ("=1%^2", 0.0001),              # [hand] % before ^: 0.01^2
    ("=50%%", 0.005),               # [hand] 50/100/100
    ("=1&2=12", False),             # [hand] & before =: "12"=12, text never equals a number
    ("=1--1", 2.0),
    ("=+++1", 1.0),
    ("=1^-1", 1.0),
    ("=1<2<3", False),              # [hand] (1<2)=TRUE, and TRUE > any number
    ("=#N/A+#DIV/0!", V.NA),        # [hand] the left operand's error first
    ("=1/0*0", V.DIV0),
])
def test_operator_precedence(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("overflow_at", [0, 3, 4, 6])
def test_skeleton_key_overflow_through_plans(overflow_at):
    # skeleton_key answers from a plan per structure after its first texts: a text whose
    # number overflows gets no skeleton whether it comes before, at or after the plan
    # [hand] 7E+400 is beyond the largest double (about 1.8E308), 2E+10 is not
    from xleval.parser import parser as P
    for cache in (P._PLANS, P._SEEN, P._BY_SHAPE):
        cache.clear()
    for i in range(12):
        big = i >= overflow_at and i % 3 == 0
        text = f"B{i + 2}*{7 if big else 2}E+{400 if big else 10}+{i}"
        got = skeleton_key(text, (i + 1, 3))
        assert got == P._skeleton_key_slow(text, (i + 1, 3))
        assert (got is None) == big, text
    assert P._PLANS                     # the structure's plan (or its _SLOW) was made


@pytest.mark.parametrize("formula", ["=LAMBDA(x,x)>=1", "=LAMBDA(x,x)=LAMBDA(x,x)",
                                     "=1<>LAMBDA(x,x)"])
def test_comparing_a_lambda_is_value_error(formula):
    # raised TypeError out of calculate(); a LAMBDA that is not called is no value for
    # an operator: #VALUE!, as + and & already gave [hand, from the operators' rule]
    import xleval
    assert str(xleval.evaluate(formula)) == "#VALUE!"
