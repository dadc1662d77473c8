"""The formulas adapter (Excel functions served by the `formulas` package) and the catalog of
Excel's functions. Expected values come from Excel's documentation examples or are derived
by hand (noted next to each)."""
from __future__ import annotations

import math
import pickle

import pytest

import xleval
from xleval import Workbook
from xleval.evaluator.lambdas import Lambda
from xleval.evaluator.refs import Range
from xleval.functions import adapter, load_all, lookup_function
from xleval.functions import registry as R
from xleval.functions.adapter import UNADAPTABLE, formulas_function
from xleval.functions.catalog import _BY_CATEGORY, EXCEL_FUNCTIONS, _special_forms, coverage
from xleval.values import DIV0, NA, NUM, SPILL, VALUE, Array

# Sheet1 (row, col):   A    B    C     D
#                 1    1    a    5     1
#                 2    2    b    #N/A
#                 3    3    c    (blank)
CELLS = {"A1": 1, "B1": "a", "C1": 5, "D1": 1,
         "A2": 2, "B2": "b", "C2": "#N/A",
         "A3": 3, "B3": "c"}


@pytest.fixture(scope="module")
def engine():
    return Workbook.from_dict({"Sheet1": dict(CELLS)}).engine


@pytest.fixture
def cx(engine):
    # a formula in E2 (row 2, column 5), ordinary (not array) evaluation
    return R.Context(engine, 0, 2, 5)


def rng(r1, c1, r2, c2):
    return Range(0, r1, c1, r2, c2)


def call(cx, name, *args):
    spec = formulas_function(name)
    assert spec is not None, f"formulas cannot serve {name}"
    return R.invoke(spec, cx, list(args))


def approx(a, b, rel=1e-6):
    return isinstance(a, float) and math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


# ---------------------------------------------------------------------------------------
# the spec
# ---------------------------------------------------------------------------------------

def test_spec_shape_and_cache():
    spec = formulas_function("SQRTPI")
    assert spec.source == "formulas"
    assert spec.name == "SQRTPI"
    assert spec.category == "Math & Trig"
    assert spec.volatile is False
    assert formulas_function("SQRTPI") is spec            # cached per name
    assert formulas_function("sqrtpi") is spec


@pytest.mark.parametrize("name,canonical", [
    ("_XLFN.XLOOKUP", "XLOOKUP"), ("_xlfn._xlws.SORT", "SORT"), ("_xlfn.TEXTJOIN", "TEXTJOIN"),
])
def test_prefixed_names(name, canonical):
    spec = formulas_function(name)
    assert spec is not None and spec.name == canonical


def test_volatile_functions():
    assert formulas_function("RAND").volatile is True
    assert formulas_function("NOW").volatile is True
    assert formulas_function("TODAY").volatile is True
    assert formulas_function("PMT").volatile is False


@pytest.mark.parametrize("name", ["ROW", "COLUMN", "ROWS", "COLUMNS", "AREAS", "ISREF",
                                  "ISFORMULA", "SINGLE", "ARRAY", "RANDBETWEEN", "REGEXTEST"])
def test_unadaptable_functions(name):
    assert name in UNADAPTABLE
    assert formulas_function(name) is None


@pytest.mark.parametrize("name", ["NOSUCHFUNCTION", "CUBEVALUE", "WEBSERVICE", ""])
def test_functions_formulas_lacks(name):
    assert formulas_function(name) is None


def test_spec_pickles(cx):
    spec = formulas_function("SQRTPI")
    back = pickle.loads(pickle.dumps(spec))
    assert back.source == "formulas" and back.kinds == spec.kinds
    # sqrt(2*pi) by hand
    assert approx(R.invoke(back, cx, [2.0]), math.sqrt(2 * math.pi))


# ---------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------

def test_number_results(cx):
    # SQRTPI(2) = sqrt(2*pi)
    assert approx(call(cx, "SQRTPI", 2.0), math.sqrt(2 * math.pi))
    # SYD: (30000-7500) * 10 / (1+2+...+10) = 22500*10/55
    assert approx(call(cx, "SYD", 30000.0, 7500.0, 10.0, 1.0), 22500 * 10 / 55)
    # SLN: (30000-7500)/10
    assert call(cx, "SLN", 30000.0, 7500.0, 10.0) == 2250.0
    # DB: rate = ROUND(1 - (100000/1000000)^(1/6), 3) = 0.319; first year 7 months
    assert approx(call(cx, "DB", 1000000.0, 100000.0, 6.0, 1.0, 7.0), 1000000 * 0.319 * 7 / 12)
    # Excel documentation examples
    assert approx(call(cx, "PMT", 0.08 / 12, 10.0, 10000.0), -1037.03, rel=1e-5)
    assert approx(call(cx, "NPV", 0.1, -10000.0, 3000.0, 4200.0, 6800.0), 1188.44, rel=1e-5)
    assert approx(call(cx, "FV", 0.06 / 12, 10.0, -200.0, -500.0, 1.0), 2581.40, rel=1e-5)


def test_number_results_from_ranges(cx):
    # XIRR documentation example, values and dates as columns
    values = Array([[-10000.0], [2750.0], [4250.0], [3250.0], [2750.0]])
    dates = Array([[39448.0], [39508.0], [39751.0], [39859.0], [39904.0]])
    assert approx(call(cx, "XIRR", values, dates), 0.373362535, rel=1e-6)
    # SUMX2MY2(A1:A3, {2;2;2}) = (1 + 4 + 9) - (4 + 4 + 4) = 2
    assert call(cx, "SUMX2MY2", rng(1, 1, 3, 1), Array([[2.0], [2.0], [2.0]])) == 2.0
    # pairs with a blank are skipped: A1:A3 vs D1:D3 (D2, D3 blank) -> 1^2 - 1^2 = 0
    assert call(cx, "SUMX2MY2", rng(1, 1, 3, 1), rng(1, 4, 3, 4)) == 0.0


def test_text_results(cx):
    assert call(cx, "ROMAN", 499.0) == "CDXCIX"             # documentation
    assert call(cx, "DEC2BIN", 9.0, 4.0) == "1001"          # documentation
    assert call(cx, "IMSUM", "3+4i", "5-3i") == "8+i"       # documentation
    # TEXTJOIN over a 3x2 reference (row by row), the omitted argument ignored as empty
    assert call(cx, "TEXTJOIN", "-", True, rng(1, 1, 3, 2), R.OMITTED, "z") == \
        "1-a-2-b-3-c-z"


def test_boolean_results(cx):
    assert call(cx, "ISEVEN", -1.0) is False                # documentation
    assert call(cx, "ISEVEN", 2.5) is True                  # documentation: truncated
    assert call(cx, "ISODD", 5.0) is True
    assert call(cx, "ISNA", NA) is True                     # errors reach IS functions
    assert call(cx, "ISERROR", SPILL) is True               # codes formulas doesn't know
    assert call(cx, "ISNA", rng(2, 3, 2, 3)) is True        # C2 holds #N/A


def test_error_results(cx):
    assert call(cx, "SQRTPI", -1.0) == NUM                  # documentation: number < 0
    assert call(cx, "DEC2BIN", -513.0) == NUM               # documentation: < -512
    assert call(cx, "ERROR.TYPE", DIV0) == 2.0
    # VLOOKUP with range_lookup omitted after the comma is an exact match: 2.5 not found
    assert call(cx, "VLOOKUP", 2.5, rng(1, 1, 3, 2), 2.0, R.OMITTED) == NA
    # and with it left out entirely, approximate: the row of 2
    assert call(cx, "VLOOKUP", 2.5, rng(1, 1, 3, 2), 2.0) == "b"


def test_error_propagation(cx):
    assert call(cx, "SQRTPI", DIV0) == DIV0                 # a scalar argument
    assert call(cx, "SQRTPI", rng(2, 3, 2, 3)) == NA        # through a reference
    assert call(cx, "NPV", 0.1, rng(1, 3, 2, 3)) == NA      # inside an aggregate range
    assert call(cx, "SUMX2MY2", rng(1, 1, 2, 1), rng(1, 3, 2, 3)) == NA


def test_exception_inside_formulas_is_value_error(cx):
    # formulas' ISEVEN raises ValueError on text; Excel's ISEVEN("a") is #VALUE!
    assert call(cx, "ISEVEN", "a") == VALUE
    # PI takes no arguments: formulas raises TypeError
    assert call(cx, "PI", 1.0) == VALUE
    assert approx(call(cx, "PI"), math.pi)


def test_any_exception_is_caught(cx, monkeypatch):
    def boom(*args):
        raise RuntimeError("formulas bug")

    monkeypatch.setitem(adapter._impls, "SQRTPI", (boom, ()))
    assert call(cx, "SQRTPI", 2.0) == VALUE


def test_engine_control_exception_propagates(cx):
    # a lambda body reading a cell that is not computed yet raises NeedCell: the engine
    # must see it even though formulas catches every exception of the callback
    from xleval.evaluator.engine import NeedCell

    def body(c):
        raise NeedCell((0, 9, 9))

    with pytest.raises(NeedCell):
        call(cx, "MAP", Array([[1.0, 2.0]]), Lambda(["X"], body, {}))


def test_array_results(cx):
    assert call(cx, "MUNIT", 3.0) == Array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
                                            [0.0, 0.0, 1.0]])      # documentation
    # TRANSPOSE of C1:C3: the error stays an element, the blank cell comes back blank
    assert call(cx, "TRANSPOSE", rng(1, 3, 3, 3)) == Array([[5.0, NA, None]])
    # WRAPROWS pads the last row with #N/A (documentation)
    assert call(cx, "WRAPROWS", Array([[1.0, 2.0, 3.0, 4.0, 5.0]]), 2.0) == \
        Array([[1.0, 2.0], [3.0, 4.0], [5.0, NA]])
    assert call(cx, "SORT", Array([[3.0], [1.0], [2.0]])) == Array([[1.0], [2.0], [3.0]])
    assert call(cx, "UNIQUE", Array([[1.0], [1.0], [2.0]])) == Array([[1.0], [2.0]])
    assert call(cx, "FILTER", rng(1, 1, 3, 1), Array([[True], [False], [True]])) == \
        Array([[1.0], [3.0]])


def test_scalar_parameters_broadcast_and_intersect(cx):
    # array evaluation: SQRTPI over A1:A3 elementwise, sqrt(pi*n)
    got = R.invoke(formulas_function("SQRTPI"), cx.as_array(), [rng(1, 1, 3, 1)])
    assert isinstance(got, Array) and got.nrows == 3 and got.ncols == 1
    for (v,), n in zip(got.rows, (1, 2, 3)):
        assert approx(v, math.sqrt(math.pi * n))
    # ordinary evaluation in row 2: implicit intersection picks A2
    assert approx(call(cx, "SQRTPI", rng(1, 1, 3, 1)), math.sqrt(2 * math.pi))


def test_lambda_arguments(cx):
    def row_sum(c):
        x = c.env["X"]
        return sum(x.flat()) if isinstance(x, Array) else x

    m = Array([[1.0, 2.0], [3.0, 4.0]])
    assert call(cx, "BYROW", m, Lambda(["X"], row_sum, {})) == Array([[3.0], [7.0]])
    assert call(cx, "MAP", m, Lambda(["X"], lambda c: c.env["X"] * 10, {})) == \
        Array([[10.0, 20.0], [30.0, 40.0]])
    add = Lambda(["A", "B"], lambda c: c.env["A"] + c.env["B"], {})
    assert call(cx, "REDUCE", 0.0, m, add) == 10.0
    assert call(cx, "SCAN", 0.0, m, add) == Array([[1.0, 3.0], [6.0, 10.0]])
    assert call(cx, "MAKEARRAY", 2.0, 2.0,
                Lambda(["R", "C"], lambda c: c.env["R"] * 10 + c.env["C"], {})) == \
        Array([[11.0, 12.0], [21.0, 22.0]])


def test_now_and_today_follow_a_pinned_clock():
    eng = Workbook.from_dict({"Sheet1": {}}, now=45123.75).engine
    c = R.Context(eng, 0, 1, 1)
    assert R.invoke(formulas_function("NOW"), c, []) == 45123.75
    assert R.invoke(formulas_function("TODAY"), c, []) == 45123.0


def test_formula_through_the_engine(monkeypatch):
    """Whole formulas evaluated by the engine with these functions served by the adapter.
    Every one is native by now, so the test hides the native implementations: the
    engine then finds the formulas package's through `lookup_function`'s fallback, as it
    does for any function the native library lacks."""
    load_all()
    candidates = {
        "SYD": ("=SYD(30000,7500,10,1)", 22500 * 10 / 55),
        "SLN": ("=SLN(30000,7500,10)", 2250.0),
        "PMT": ("=PMT(0.08/12,10,10000)", -1037.03),
        "NPV": ("=NPV(10%,A1:A4)", 1188.44),
        "FV": ("=FV(0.06/12,10,-200,-500,1)", 2581.40),
        "ROMAN": ("=ROMAN(499)", "CDXCIX"),
        "SQRTPI": ("=SQRTPI(2)", math.sqrt(2 * math.pi)),
        # SUM(B1:B2)/SUM(B1:B4) = 3/10
        "PERCENTOF": ("=PERCENTOF(B1:B2,B1:B4)", 0.3),
        # ACCRINT documentation example
        "ACCRINT": ("=ACCRINT(39508,39691,39569,0.1,1000,2,0)", 16.666667),
    }
    cells = {"A1": -10000, "A2": 3000, "A3": 4200, "A4": 6800,
             "B1": 1, "B2": 2, "B3": 3, "B4": 4}
    for name in candidates:
        if name in R.REGISTRY:
            monkeypatch.delitem(R.REGISTRY, name)
    for name, (formula, expected) in candidates.items():
        assert lookup_function(name).source == "formulas"
        got = xleval.evaluate(formula, cells)
        if isinstance(expected, float):
            assert math.isclose(got, expected, rel_tol=1e-5), (name, got)
        else:
            assert got == expected


# ---------------------------------------------------------------------------------------
# the catalog
# ---------------------------------------------------------------------------------------

CATEGORIES = {"Math & Trig", "Statistical", "Lookup & Reference", "Text", "Logical",
              "Information", "Date & Time", "Financial", "Engineering", "Database", "Cube",
              "Web", "Compatibility", "Add-in & Automation"}


def test_catalog_has_no_duplicates_and_known_categories():
    listed = [n for names in _BY_CATEGORY.values() for n in names.split()]
    assert len(listed) == len(set(listed)) == len(EXCEL_FUNCTIONS)
    assert set(EXCEL_FUNCTIONS.values()) <= CATEGORIES
    assert all(n == n.upper() and not n.startswith("_") for n in EXCEL_FUNCTIONS)
    assert len(EXCEL_FUNCTIONS) >= 480


@pytest.mark.parametrize("name,category", [
    ("SUM", "Math & Trig"), ("XLOOKUP", "Lookup & Reference"), ("LAMBDA", "Logical"),
    ("GROUPBY", "Lookup & Reference"), ("CUBEVALUE", "Cube"), ("WEBSERVICE", "Web"),
    ("NORMSDIST", "Compatibility"), ("DSUM", "Database"), ("XIRR", "Financial"),
    ("IMSUM", "Engineering"), ("TEXTSPLIT", "Text"), ("ISOMITTED", "Information"),
    ("NETWORKDAYS.INTL", "Date & Time"), ("STDEV.S", "Statistical"),
])
def test_catalog_entries(name, category):
    assert EXCEL_FUNCTIONS[name] == category


def test_every_formulas_function_is_in_the_catalog():
    # formulas_function asks formulas only for names in the catalog: whatever else
    # formulas' table holds must be one of its internals, which are never adapted
    table = {adapter._canonical(k) for k in adapter._formulas_table()}
    assert table, "formulas is a required dependency: its table cannot be empty"
    assert table - set(EXCEL_FUNCTIONS) <= set(UNADAPTABLE)


def test_names_known_absent_from_formulas():
    version, names = adapter.ABSENT_FROM_FORMULAS
    load_all()
    special = _special_forms()
    for name in names:      # still without a native implementation: else drop it here
        assert name in EXCEL_FUNCTIONS and name not in R.REGISTRY and name not in special
    from importlib import metadata
    if metadata.version("formulas") != version:
        pytest.skip(f"formulas {metadata.version('formulas')} installed, the list is for "
                    f"{version}: the adapter asks formulas itself")
    table = {adapter._canonical(k) for k in adapter._formulas_table()}
    assert not names & table


def test_unknown_names_do_not_import_formulas(tmp_path):
    # a workbook with a VBA function (or a cube function) must not pay formulas' import
    import subprocess
    import sys
    from importlib import metadata
    formulas = ["=MYUDF(1)+1", "=_xll.ADDIN(2)"]
    if metadata.version("formulas") == adapter.ABSENT_FROM_FORMULAS[0]:
        formulas.append('=CUBEVALUE("c","m")')
    code = ("import sys, xleval\n"
            f"for f in {formulas!r}:\n"
            "    print(xleval.evaluate(f))\n"
            "print('formulas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["#NAME?"] * len(formulas) + ["False"]


def test_coverage():
    rows = coverage()
    assert [r["name"] for r in rows] == list(EXCEL_FUNCTIONS)
    by = {r["name"]: r for r in rows}
    assert set(by["SUM"]) == {"name", "category", "source", "volatile"}
    assert by["SUM"]["source"] == "native"
    assert by["IF"]["source"] == "native"                 # compiled by the evaluator
    assert by["CUBEVALUE"]["source"] == "missing"
    assert by["WEBSERVICE"]["category"] == "Web"
    assert by["NOW"]["volatile"] is True and by["SUM"]["volatile"] is False
    # whatever formulas serves now is classified as such, the rest as missing
    for r in rows:
        if r["source"] == "formulas":
            assert r["name"] not in R.REGISTRY
            assert formulas_function(r["name"]) is not None
        elif r["source"] == "missing":
            assert r["name"] not in R.REGISTRY and formulas_function(r["name"]) is None
    special = _special_forms()
    fromf = [n for n in adapter.adaptable_names() if n not in R.REGISTRY and n not in special]
    if fromf:
        assert by[fromf[0]]["source"] == "formulas"
