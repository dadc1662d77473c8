"""Financial, text, information, logical, date and lookup functions checked against the
differential run with LibreOffice (benchmarks/lo_diff.py). Where LibreOffice and xleval
disagreed, the expected value here comes from Excel's evidence: Microsoft's function pages
and its Office implementation notes ([doc]), Excel-saved workbooks ([excel]) or a hand
derivation from the documented rule ([hand]). Bugs fixed: OFFSET's blank-cell height/width and
CUMIPMT/CUMPRINC's fractional periods; the other cases pin down behaviour that is Excel's
although LibreOffice differs."""
import math

import pytest

import xleval

from .helpers import DIV0, NUM, REF, check, ev


def _sheet(formula, **cells):
    """`formula` in Z1 of a one-sheet workbook holding `cells`; its value."""
    wb = xleval.Workbook.from_dict({"S": {**cells, "Z1": formula}})
    wb.calculate()
    return wb["S!Z1"]


_COLUMN = {"G1": 1, "G2": 3, "G3": 5, "G4": 7, "H1": "a", "H2": "b", "H3": "c", "A1": 2}


# --- OFFSET: a blank cell as height/width is the number 0, not an omitted argument ----------
@pytest.mark.parametrize("formula,expected", [
    # [hand] OFFSET's page: "If height or width is omitted, it is assumed to be the same
    # height or width as reference"; a reference to a blank cell is not omitted, it is 0 as
    # a number, and a height or width of 0 is #REF! (tests/functions/test_lookup.py [doc]).
    ("=OFFSET(G1,2,1,A4,1)", REF),
    ("=OFFSET(G1,2,1,1,A4)", REF),
    ("=ROWS(OFFSET(G1,0,0,A4))", REF),
    # [hand] a height read from a filled cell still counts: G1:G2 = 1 + 3
    ("=SUM(OFFSET(G1,0,0,A1,1))", 4.0),
    # [hand] height and width omitted: the size of the reference, H3 = "c"
    ("=OFFSET(G1,2,1)", "c"),
])
def test_offset_blank_size_cell(formula, expected):
    check(_sheet(formula, **_COLUMN), expected)


@pytest.mark.parametrize("formula,expected", [
    # [excel] poi FormulaEvalTestData_Copy.xlsx, EverythingTests!I1008/J1008/M1008: an empty
    # height or width argument (unlike a blank cell) keeps the reference's size.
    # K7:L8 = 1, 1.001 / 2, 2.9999.
    ("=SUM(OFFSET(K7:L8,0,0,1,))", 2.001),
    ("=SUM(OFFSET(K7:L8,0,0,,1))", 3.0),
    ("=SUM(OFFSET(K7:L8,0,0,,))", 7.0009),
])
def test_offset_empty_size_argument(formula, expected):
    check(_sheet(formula, K7=1, L7=1.001, K8=2, L8=2.9999), expected)


def test_workday_intl_empty_weekend_argument():
    # [excel] closedxml functions-excel-2010.xlsx, Sheet1!B76/B77: an empty weekend argument
    # is the default Saturday/Sunday weekend (not the invalid code 0): 14 and 16 Apr 2014
    cells = {"F44": "=DATE(2014,3,11)", "G44": "=DATE(2014,3,16)", "G45": "=DATE(2014,4,4)",
             "G46": "=DATE(2014,3,20)", "G47": "=DATE(2014,1,1)"}
    assert _sheet("=WORKDAY.INTL(F44,24)", **cells) == 41743.0
    assert _sheet("=WORKDAY.INTL(F44,24,,G44:G47)", **cells) == 41745.0


# --- IPMT/PPMT: Office accepts 1 <= per < nper + 1 -----------------------------------------
def test_ipmt_ppmt_period_below_nper_plus_one():
    # [doc] MS-OI29500 2.1.978 (IPMT): "In Office argument per shall be in the range
    # 1 <= per < nper+1", #NUM! outside it. per = 1 with nper = 0.1 is inside.
    r, n, pv = 0.1 / 12, 0.1, 8000.0
    # [hand] period 1, payments at the end: the interest is the whole balance times the rate
    check(ev("=IPMT(0.1/12,1,0.1,8000,0,0)"), -pv * r)
    # [hand] PPMT = PMT - IPMT, PMT from the annuity equation of PV's page
    f = (1 + r) ** n
    pmt = -pv * f * r / (f - 1)
    check(ev("=PPMT(0.1/12,1,0.1,8000,0,0)"), pmt + pv * r)
    assert ev("=IPMT(0.1/12,2,0.1,8000)") == NUM     # [doc] 2 >= nper + 1


# --- SWITCH: an error among the values to compare is the result when it is reached ----------
def test_switch_error_value():
    # [excel] pycel logical.xlsx, Sheet2!G3: SWITCH(B3,A3,B3) with A3 = #DIV/0!, B3 = 3
    assert _sheet("=SWITCH(B3,A3,B3)", A3="=1/0", B3=3) == DIV0
    # [hand] the same rule: value1 is compared (and fails) before value2 would match
    assert ev('=SWITCH(2,1/0,"a",2,"b","z")') == DIV0


# --- DOLLAR: negative amounts in parentheses ------------------------------------------------
def test_dollar_negative_in_parentheses():
    # [excel] poi FormulaEvalTestData_Copy.xlsx, EverythingTests!H420: DOLLAR(C15) with
    # C15 = -1.00001 is "($1.00)"; [doc] DOLLAR's example: DOLLAR(-1234.567,-2) "($1,200)"
    assert _sheet("=DOLLAR(C15)", C15=-1.00001) == "($1.00)"
    assert ev("=DOLLAR(-1234.567,-2)") == "($1,200)"
    # [hand] decimals are truncated: -3.7 -> -3, rounding to thousands
    assert ev("=DOLLAR(1234.567,-3.7)") == "$1,000"


# --- dates ------------------------------------------------------------------------------------
def test_weeknum_last_week_of_2024():
    # [hand] system 1, weeks start on Sunday and week 1 holds 1 Jan. 1 Jan 2024 is a Monday,
    # so week 2 starts Sunday 7 Jan; Sunday 29 Dec is 51 weeks later: week 53, which holds
    # Tuesday 31 Dec 2024 (serial 45657).
    assert ev("=WEEKNUM(45657,1)") == 53.0
    assert ev("=WEEKNUM(45657)") == 53.0


def test_date_year_above_9999():
    # [doc] DATE: "If year is greater than 9999, Excel returns the #NUM! error value."
    assert ev("=DATE(10000,1,1)") == NUM
    # [hand] 31 Dec 9999, the latest date of Excel's specifications, is serial 2958465
    check(ev("=DATE(9999,12,31)"), 2958465.0)


# --- numbers and text ---------------------------------------------------------------------------
def test_effect_rate_zero():
    # [doc] EFFECT: "If nominal_rate <= 0 or if npery < 1, EFFECT returns the #NUM! error value."
    assert ev("=EFFECT(0,4)") == NUM
    assert _sheet("=EFFECT(A4,4)") == NUM


def test_numbervalue_percent():
    # [doc] NUMBERVALUE: "If one or more percent signs (%) are at the end of the text, they
    # are used in calculating the result."
    check(ev('=NUMBERVALUE("3.5%")'), 0.035)
    check(ev('=NUMBERVALUE("3.5%%")'), 0.00035)


def test_npv_array_constant_row_by_row():
    # [hand] an array constant is read row by row: 1, 2, 3, 4, then 5
    expected = sum(v / 1.1 ** i for i, v in enumerate([1, 2, 3, 4, 5], 1))
    check(ev("=NPV(0.1,{1,2;3,4},5)"), expected)
    # [hand] read column by column (1, 3, 2, 4, 5), as LibreOffice does, it would differ
    by_column = sum(v / 1.1 ** i for i, v in enumerate([1, 3, 2, 4, 5], 1))
    assert not math.isclose(expected, by_column)



# --- CUMIPMT/CUMPRINC: the periods are truncated ----------------------------------------------
def _amortization(rate, nper, pv, periods):
    """[hand] (interest, principal) paid in each of `periods` of a level-payment loan with
    payments at the end of the period: interest on the balance, the rest repays it."""
    pmt = pv * rate / (1 - (1 + rate) ** -nper)
    balance = pv
    out = {}
    for k in range(1, max(periods) + 1):
        interest = balance * rate
        out[k] = (interest, pmt - interest)
        balance -= pmt - interest
    return [out[k] for k in periods]


def test_cumipmt_cumprinc_truncate_periods():
    # [doc] MS-OI29500 2.1.918 (CUMPRINC): "Excel truncates start-period and end-period to
    # integers"; CUMIPMT's page: start_period < 1 is #NUM!. So 2.5 starts at period 2 and
    # 0.1 (truncated to 0) is #NUM!.
    rows = _amortization(0.09 / 12, 360, 125000.0, range(2, 25))
    check(ev("=CUMIPMT(0.09/12,360,125000,2.5,24,0)"), -sum(i for i, _ in rows))
    check(ev("=CUMPRINC(0.09/12,360,125000,2.5,24,0)"), -sum(p for _, p in rows))
    check(ev("=CUMIPMT(0.09/12,360,125000,2,24.9,0)"), -sum(i for i, _ in rows))
    assert ev("=CUMIPMT(0.09/12,360,125000,0.1,24,0)") == NUM
    assert ev("=CUMPRINC(0.09/12,360,125000,0.9,24,0)") == NUM
    # [doc] CUMIPMT's example, second year: -11135.23 (periods 13..24 unchanged)
    check(round(ev("=CUMIPMT(0.09/12,360,125000,13,24,0)"), 2), -11135.23)
