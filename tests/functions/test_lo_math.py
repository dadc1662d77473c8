"""Math & trig and engineering functions checked against the differential run with
LibreOffice (benchmarks/lo_diff.py): the bugs it found, fixed to Excel's behaviour, and the
disagreements where Excel's own values show that xleval already matches Excel (so they are
LibreOffice's differences). Expected values: Excel-saved workbooks of the conformance corpus
([excel]), Microsoft's documentation or a page describing Excel's behaviour ([doc]), or hand
derivation from the documented rule ([hand])."""
import math

import pytest

from .helpers import DIV0, NUM, VALUE, block, check, ev

# [doc] "Why some Excel functions won't spill" (https://exceljet.net/articles/
# why-some-excel-functions-wont-spill) and superuser.com/questions/1289595: the functions
# that came from the Analysis ToolPak reject a range where one value is expected, but a
# computed array or array constant is lifted elementwise (the EOMONTH(--range,0) idiom).
# [excel] formulas test.xlsx MATH & TRIG!AH31 (FACTDOUBLE(C31:Q31)), AH45 (MROUND(C45:G45,2))
# and AH70 (SQRTPI(C70:Q70)): a range in an array formula is #VALUE! in every cell.


# --- ATP math functions lift arrays ----------------------------------------------------------
@pytest.mark.parametrize("formula,target,expected", [
    # [hand] double factorials 1!!=1, 2!!=2, 3!!=3, 4!!=4*2=8
    ("=FACTDOUBLE({1,2;3,4})", "C1:D2", [[1.0, 2.0], [3.0, 8.0]]),
    # [hand] SQRT(n*PI())
    ("=SQRTPI({1,4})", "C1:D1", [[math.sqrt(math.pi), math.sqrt(4 * math.pi)]]),
    # [hand] integer part of 7/2, 9/2, 7/4, 9/4 (a row against a column broadcasts to 2x2)
    ("=QUOTIENT({7,9},{2;4})", "C1:D2", [[3.0, 4.0], [1.0, 2.0]]),
    # [hand] nearest multiples: 10 -> 9 (of 3), -10 -> -9 (of -3); the other pairs differ
    # in sign, which the MROUND page documents as #NUM!
    ("=MROUND({10,-10},{3;-3})", "C1:D2", [[9.0, NUM], [NUM, -9.0]]),
    # [hand] x=1: 1+2+3 = 6; x=2: 1*2 + 2*4 + 3*8 = 34 (powers n, n+m, n+2m with n=m=1)
    ("=SERIESSUM({1,2},1,1,{1,2,3})", "C1:D1", [[6.0, 34.0]]),
    # [hand] a computed array from a range is lifted too
    ("=MROUND(--A1:A3,2)", "C1:C3", [[2.0], [2.0], [6.0]]),
])
def test_atp_functions_lift_arrays(formula, target, expected):
    got = block(formula, target, A1=1, A2=2.6, A3=5)
    assert len(got) == len(expected)
    for grow, erow in zip(got, expected):
        for g, e in zip(grow, erow):
            check(g, e)


@pytest.mark.parametrize("formula,expected", [
    # an ordinary (non-array) formula shows the top-left element of the lifted result
    ("=FACTDOUBLE({1,2;3,4})", 1.0),
    ("=SQRTPI({1,2;3,4})", math.sqrt(math.pi)),
    ("=QUOTIENT(7,{1,2;3,4})", 7.0),
    ("=MROUND({1,2;3,4},3)", 0.0),       # [hand] 1 is nearer 0 than 3
    ("=MROUND(10,{1,2;3,4})", 10.0),
    ("=SERIESSUM({1,2;3,4},1,1,{1,2,3})", 6.0),
    # [excel] a multi-cell range in an array formula stays #VALUE! (see the module comment)
    ("{=FACTDOUBLE(A1:A3)}", VALUE),
    ("{=SQRTPI(A1:A3)}", VALUE),
    ("{=QUOTIENT(A1:A3,2)}", VALUE),
    ("{=SERIESSUM(A1:A3,1,1,{1,2,3})}", VALUE),
    # [excel] ATP: TRUE/FALSE are #VALUE!, also inside a lifted array (MATH & TRIG!Y31)
    ("=FACTDOUBLE({TRUE,1})", VALUE),
])
def test_atp_lifting_single_cell(formula, expected):
    check(ev(formula, A1=1, A2=2.6, A3=5), expected)


# --- COMBINA: number must be >= number_chosen ----------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    # [doc] COMBINA: "Number ... Must be greater than or equal to 0, and greater than or equal
    # to Number_chosen" and "If the value of either argument is outside of its constraints,
    # COMBINA returns the #NUM! error value" (support.microsoft.com, COMBINA function)
    ("=COMBINA(1,2)", NUM),
    ("=COMBINA(2,3)", NUM),
    ("=COMBINA(8,1E+15)", NUM),
    ("=COMBINA(4,3)", 20.0), ("=COMBINA(10,3)", 220.0),     # [doc] examples
    ("=COMBINA(2,2)", 3.0),           # [hand] COMBIN(2+2-1,2) = 3: aa, ab, bb
    ("=COMBINA(5.9,5.9)", 126.0),     # [hand] truncated to COMBINA(5,5) = COMBIN(9,5)
])
def test_combina_constraints(formula, expected):
    check(ev(formula), expected)


# --- where LibreOffice differs: Excel's own values ---------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    # [excel] formulas test.xlsx ENGINEERING row 29-51, column W: a blank cell is the complex
    # number 0 (LibreOffice answers #VALUE!)
    ("=IMABS(A9)", 0.0),
    ("=IMREAL(A9)", 0.0),
    ("=IMAGINARY(A9)", 0.0),
    ("=IMARGUMENT(A9)", DIV0),
    ("=IMCONJUGATE(A9)", "0"),
    ("=IMSQRT(A9)", "0"),
    ("=IMEXP(A9)", "1"),
    ("=IMSUB(\"-13+25j\",A9)", "-13+25j"),      # ENGINEERING!V51
    ("=IMPRODUCT(A9,\"-13+25j\")", "0"),        # ENGINEERING!V44: the blank multiplies as 0
    # [excel] ENGINEERING!S53 and R46: below 1E-5 in magnitude a part is written with an
    # exponent (E-11), from 1E-5 up in plain digits; LibreOffice writes 6.9e-05 style
    ("=IMTAN(\"13+5j\")", "0.0000692361330972509+0.999941259144671j"),
    ("=IMSEC(\"7+25j\")", "2.09403043759793E-11+1.82483860060804E-11j"),
    # [doc] exceljet IMSQRT page: IMSQRT("-1") returns "6.12323399573677E-17+i" (polar form;
    # LibreOffice gives "i")
    ("=IMSQRT(\"-1\")", "6.12323399573677E-17+i"),
    # [excel] ENGINEERING!U17/U18: the number is truncated towards zero (-512.7 -> -512),
    # LibreOffice floors it
    ("=DEC2BIN(-512.7)", "1000000000"),
    ("=DEC2HEX(-549755813888.7)", "8000000000"),
    # [excel] ENGINEERING!S10, S12: a non-integer is #NUM! in BITAND/BITOR (LO truncates)
    ("=BITAND(25,2.3)", NUM),
    ("=BITOR(25,2.3)", NUM),
    # [excel] ENGINEERING!S11: a fractional shift amount is truncated, 25 << 2
    ("=BITLSHIFT(25,2.3)", 100.0),
    # [excel] ENGINEERING!T3:T6: Excel's Bessel approximations (the true I2(2.3) is
    # 1.00543166365591, 3e-9 away; LibreOffice computes the true values)
    ("=BESSELI(2.3,2)", 1.0054316669125958),
    ("=BESSELJ(2.3,2)", 0.41391458970875217),
    ("=BESSELK(2.3,2)", 0.1617333633782021),
    ("=BESSELY(2.3,2)", -0.4726168566767928),
    # [hand] the avoirdupois pound is defined as exactly 0.45359237 kg; [doc] CONVERT's
    # example shows 0.4535924 (LibreOffice's 0.453592309748811 rounds to 0.4535923)
    ("=CONVERT(1,\"lbm\",\"kg\")", 0.45359237),
    # [hand] LOG(n,b) = LN(n)/LN(b) and LN(1) = 0: a division by zero, #DIV/0! (LO: #VALUE!)
    ("=LOG(100,1)", DIV0),
])
def test_excel_values_where_libreoffice_differs(formula, expected):
    check(ev(formula), expected)


# --- an empty argument is the number 0 -------------------------------------------------------
# [doc] https://github.com/handsontable/hyperformula/pull/1631 and issue #1632 (checked in
# Excel 2021): "Excel ... treat[s] empty args as the zero-value for the type (0/FALSE) for all
# functions except ADDRESS". LibreOffice uses the parameter's default instead.
@pytest.mark.parametrize("formula,expected", [
    # [excel] formulas test.xlsx MATH & TRIG!V37: LCM(0,63,15.7) = 0, so LCM(24,0) = 0
    ("=LCM(24,)", 0.0),
    ("=LCM(24,36,)", 0.0),
    ("=GCD(24,)", 24.0),               # [hand] GCD(24,0) = 24
    ("=MULTINOMIAL(2,)", 1.0),         # [hand] (2+0)!/(2!*0!) = 1
    # [excel] ceiling-floor.xlsx D55: FLOOR.MATH(-23.5,0,-1) = 0 (significance 0 gives 0)
    ("=FLOOR.MATH(-2.5,)", 0.0),
    ("=CEILING.MATH(-2.5,)", 0.0),
    # [excel] formulas test.xlsx ENGINEERING!W8, W19: places 0 is #NUM!
    ("=DEC2BIN(9,)", NUM),
    ("=HEX2OCT(\"1F\",)", NUM),
    # [hand] ERF(lower, 0) integrates from lower down to 0: -ERF(lower)
    ("=ERF(0.745,)", -math.erf(0.745)),
])
def test_empty_argument_is_zero(formula, expected):
    check(ev(formula), expected)
