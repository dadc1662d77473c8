"""registry.invoke: the fast path for plain scalar arguments must give exactly what the
general path (coercion by kind, broadcasting, error order) gives.

Expected values in the formula tests are derived by hand from Excel's documented rules
(cited [hand]) or from Microsoft's function pages ([doc]). The differential test runs
every combination of a pool of argument values through `invoke` (fast path where it
applies) and `_invoke_general` (the path every call took before the fast path existed)
and requires identical results."""
import itertools
import math

import pytest

import xleval
from xleval.evaluator.refs import Range
from xleval.functions import registry as R
from xleval.values import Array, XLError

from .helpers import DIV0, NA, NUM, VALUE, block, check, ev


# --- coercion by declared kind --------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=ABS("-2.5")', 2.5),            # [hand] NUMBER: numeric text converts
    ("=ABS(TRUE)", 1.0),              # [hand] NUMBER: TRUE -> 1
    ("=ABS(A9)", 0.0),                # [hand] NUMBER: a blank cell -> 0
    ('=EXP("x")', VALUE),             # [hand] NUMBER: text that is no number
    ('=ROUND(2.567,"1")', 2.6),       # [hand] INT from text
    ("=ROUND(2.567,1.9)", 2.6),       # [hand] INT truncates towards zero: 1
    ("=ROUND(2.567,-0.5)", 3.0),      # [hand] INT truncates towards zero: 0
    ("=ROUND(2.5,)", 3.0),            # [hand] an omitted argument is blank -> 0 digits
    ("=LEN(12.5)", 4.0),              # [hand] TEXT: the number as Excel shows it, "12.5"
    ("=LEN(TRUE)", 4.0),              # [hand] TEXT: "TRUE"
    ('=NOT("FALSE")', True),          # [hand] BOOL from text
    ("=NOT(0)", True),                # [hand] BOOL from a number
    ("=ISERROR(1/0)", True),          # [doc] ANY: the error is passed in
    ("=ISNUMBER(A1)", True),          # [hand] ANY: the referenced number
])
def test_coercion_by_kind(formula, expected):
    got = ev(formula, A1=3.0)
    check(got, expected)
    assert type(got) is type(expected)      # LEN's int result comes back as a float


# --- error propagation: the first argument that fails decides ------------------------------
@pytest.mark.parametrize("formula,expected", [
    ('=ROUND(1/0,"x")', DIV0),        # [hand] first argument's error
    ('=ROUND("x",1/0)', VALUE),       # [hand] first argument's coercion error
    ("=MOD(NA(),1/0)", NA),           # [hand]
    ('=NPV(NA(),"x")', NA),           # [hand] a leading argument's error before the aggregate's
    ('=NPV("x",1/0)', VALUE),         # [hand]
    ('=NPV(0.1,"x")', VALUE),         # [hand] typed non-numeric text in an aggregate
    ("=NPV(0.1,110)", 100.0),         # [hand] 110 / 1.1
    ('=MAX(1,"3",TRUE)', 3.0),        # [hand] typed arguments coerce
    ("=MAX(A1:A3)", 3.0),             # [hand] text and TRUE inside a reference are skipped
    ('=MAX("x",1)', VALUE),           # [hand]
    ("=MAX(A1,1/0)", DIV0),           # [hand]
    ("=AND(TRUE,A1)", True),          # [hand] a referenced number is a logical
    ("=MOD(5,0)", DIV0),              # [doc] the body's ZeroDivisionError
    ("=EXP(1000)", NUM),              # [hand] overflow
    ("=SQRT(-1)", NUM),               # [doc]
])
def test_error_order_and_body_errors(formula, expected):
    check(ev(formula, A1=3.0, A2="text", A3=True), expected)


def test_multi_cell_reference_intersects_with_the_formula_row():
    # [hand] ABS(A1:A3) written in row 2 reads A2 (implicit intersection)
    wb = xleval.Workbook.from_dict({"S": {"A1": -1.0, "A2": -2.0, "A3": -3.0,
                                          "B2": "=ABS(A1:A3)", "B5": "=ABS(A1:A3)"}})
    wb.calculate()
    assert wb["S!B2"] == 2.0
    assert wb["S!B5"] == VALUE      # [hand] no row in common


def test_one_by_one_array_is_its_element():
    assert ev("=ABS({-2})") == 2.0                  # [hand]


def test_arrays_broadcast_even_after_an_error():
    # [hand] an error in one argument and an array in a later one: every element is the
    # error, and the result is as large as the array
    assert block("=ROUND(1/0,{1,2})", "A20:B20") == [[DIV0, DIV0]]
    assert block('=MOD({5,7},"x")', "A20:B20") == [[VALUE, VALUE]]
    assert block("=ROUND({1.26,2.34},1)", "A20:B20") == [[1.3, 2.3]]


# --- fast path against the general path -----------------------------------------------------
@pytest.fixture(scope="module")
def cx():
    wb = xleval.Workbook.from_dict({"S": {"A1": 2.5, "A2": "7", "A3": "text", "A4": True,
                                          "A5": "=1/0", "B2": 4.0}})
    wb.calculate()
    return R.Context(wb.engine, 0, 2, 3)        # evaluating at C2


def _pool():
    return [1.5, -2.0, 0.0, 1e300, "3", "x", "", True, False, None, R.OMITTED,
            XLError("#N/A"), XLError("#DIV/0!"),
            Range(0, 1, 1, 1, 1), Range(0, 3, 1, 3, 1), Range(0, 5, 1, 5, 1),   # A1, A3, A5
            Range(0, 9, 1, 9, 1),                                               # blank A9
            Range(0, 1, 1, 4, 1),                # A1:A4, intersects row 2 -> A2
            Range(0, 1, 1, 1, 2),                # A1:B1, no intersection with C2
            Array([[4.5]]), Array([[1.0, "y"]]), Array([[2.0], [XLError("#NUM!")]])]


def _same(a, b):
    if isinstance(a, Array) and isinstance(b, Array):
        return a.rows == b.rows
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", ["ABS", "ROUND", "MOD", "LEFT", "LEN", "NOT", "ISERROR",
                                  "ISNUMBER", "MAX", "SUM", "AND", "OR", "NPV", "COUNT",
                                  "DATE", "TRUNC", "REPT", "CONCATENATE", "N", "T"])
def test_fast_path_matches_general_path(cx, name):
    spec = xleval.functions.lookup_function(name)
    for n in range(1, min(spec.max_args + 1, 3) + 1):   # one argument too many included
        for args in itertools.product(_pool(), repeat=n):
            fast = R.invoke(spec, cx, list(args))
            general = R._invoke_general(spec, cx, list(args))
            assert _same(fast, general), (name, args, fast, general)


def test_wrong_argument_count_is_value_error(cx):
    spec = xleval.functions.lookup_function("ABS")
    assert R.invoke(spec, cx, [1.0, 2.0]) == VALUE      # [hand] ABS takes one argument
    assert R.invoke(spec, cx, []) == VALUE


def test_a_failing_body_gives_value_error_and_one_warning(cx):
    def broken(x):
        raise KeyError(x)
    spec = R.FunctionSpec("BROKEN", broken, (R.NUMBER,), 1, 1)
    assert R.invoke(spec, cx, [1.0]) == VALUE
    assert R.invoke(spec, cx, [2.0]) == VALUE
    warnings = [w for w in cx.ev.report.warnings if w.startswith("BROKEN ")]
    assert len(warnings) == 1


# --- argument counts read at registration ---------------------------------------------------
def _counts_by_inspect(fn, skip):
    """The rule xl() always applied, through inspect.signature."""
    import inspect
    lo, hi = 0, 0
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
        if p.kind == p.VAR_POSITIONAL:
            hi = math.inf
        elif p.default is p.empty:
            lo += 1
            hi += 1
        else:
            hi += 1
    return lo, hi


def _f0():
    return 0.0


def _f2(x, digits=0):
    return x


def _fctx(cx, x, *rest):
    return x


def _fkw(x, *, mode="a"):
    return x


def _fvarkw(x, **kw):
    return x


def _fonly_args(*args):
    return 0.0


class _Holder:
    def method(self, x, y=1):
        return x


@pytest.mark.parametrize("fn,skip,expected", [
    (_f0, 0, (0, 0)),                         # [hand]
    (_f2, 0, (1, 2)),                         # [hand]
    (_fctx, 1, (1, math.inf)),                # [hand] ctx dropped, *rest unbounded
    (_fkw, 0, (1, 2)),                        # [hand] keyword-only counted, as before
    (_fvarkw, 0, (2, 2)),                     # [hand] **kw counted as required, as before
    (_fonly_args, 1, (0, 0)),                 # [hand] the ctx slot takes *args
    (_Holder().method, 0, (1, 2)),            # [hand] self is not a parameter
])
def test_param_counts(fn, skip, expected):
    assert R.param_counts(fn, skip) == expected
    assert _counts_by_inspect(fn, skip) == expected


def test_param_counts_agree_with_inspect_for_every_registered_function():
    xleval.functions.load_all()
    for name, spec in R.REGISTRY.items():
        skip = 1 if spec.ctx else 0
        assert R.param_counts(spec.fn, skip) == _counts_by_inspect(spec.fn, skip), name
