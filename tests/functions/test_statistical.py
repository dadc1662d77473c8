"""Statistical functions. Expected values: the examples of Microsoft's support pages for each
function (cited [doc]; the pages print rounded values, compared to their printed digits), or
hand derivation from the documented formulas (cited [hand]). Behaviours observed in
Excel-saved workbooks of the conformance corpus are cited [excel]."""
import math

import pytest

import xleval
from xleval.values import XLError

from .helpers import DIV0, NA, NULL, NUM, REF, VALUE, block, check, ev  # noqa: F401


def shown(got, printed):
    """Compare with a value the documentation prints rounded (to its printed digits)."""
    text = repr(printed)
    if "e" in text:
        assert got == pytest.approx(printed, rel=1e-3)
        return
    digits = len(text.split(".")[1]) if "." in text else 0
    assert got == pytest.approx(printed, abs=0.6 * 10 ** -digits)


def col(values, start=1, column="A"):
    return {f"{column}{start + i}": v for i, v in enumerate(values) if v is not None}


# --- averages, extremes, counts ----------------------------------------------------------------
BASIC = dict(A2=10, A3=7, A4=9, A5=27, A6=2)


@pytest.mark.parametrize("formula,expected", [
    ("=AVERAGE(A2:A6)", 11.0), ("=AVERAGE(A2:A6,5)", 10.0),  # [doc]
    ("=MAX(A2:A6)", 27.0), ("=MAX(A2:A6,30)", 30.0),      # [doc]
    ("=MIN(A2:A6)", 2.0), ("=MIN(A2:A6,0)", 0.0),         # [doc]
    ("=AVERAGE(B1:B3)", DIV0), ("=MAX(B1:B3)", 0.0), ("=MIN(B1:B3)", 0.0),
    ('=AVERAGE(A2:A6,"13")', 11.333333333333334),         # typed text converts
    ("=AVERAGE(A2:A6,TRUE)", 56 / 6),                     # typed TRUE is 1
    ("=MAX(C1:C3)", 5.0),                                 # text/TRUE inside a range ignored
    ("=MAX(C1:C4)", NA),                                  # an error inside a range
    ('=MAX("x")', VALUE),
])
def test_average_min_max(formula, expected):
    check(ev(formula, **BASIC, C1="9", C2=True, C3=5, C4="=NA()"), expected)


@pytest.mark.parametrize("formula,expected", [
    ("=AVERAGEA(A2:A6)", 5.6),                            # [doc] text counts 0
    ("=AVERAGEA(B2:B6)", 0.42),                           # [hand] (0+.2+.5+.4+1)/5
    ("=MAXA(B2:B6)", 1.0),                                # [doc] TRUE is 1
    ("=MINA(C2:C6)", 0.0),                                # [doc] FALSE is 0
    ("=MAXA(D1:D3)", 0.0),                                # [hand] blanks only
    ("=AVERAGEA(D1:D3)", DIV0),
    ("=AVERAGEA(A2:A6,E1)", DIV0),                        # an error inside a range
])
def test_a_functions(formula, expected):
    cells = dict(A2=10, A3=7, A4=9, A5=2, A6="Not available",
                 B2=0, B3=0.2, B4=0.5, B5=0.4, B6=True,
                 C2=False, C3=0.2, C4=0.5, C5=0.4, C6=0.8, E1="=1/0")
    check(ev(formula, **cells), expected)


COUNT_DATA = dict(A2="Data", A3=39790, A5=19, A6=22.24, A7=True, A8="=1/0")


@pytest.mark.parametrize("formula,expected", [
    ("=COUNT(A2:A8)", 3.0),                               # [doc]
    ("=COUNT(A5:A8)", 2.0),                               # [doc]
    ("=COUNT(A2:A8,2)", 4.0),                             # [doc]
    ('=COUNT("1",TRUE,"x",1/0)', 2.0),                    # [hand] typed: "1" and TRUE count
    ("=COUNT(,)", 2.0),                                   # [hand] empty arguments are zeros
    ("=COUNT({1,\"2\",TRUE})", 1.0),                      # [hand] arrays: numbers only
    ("=COUNTA(A2:A8)", 6.0),                              # [hand] all but the blank A4
    ("=COUNTA(A3:A8)", 5.0),                              # [doc]
    ('=COUNTA(1,"",B1)', 2.0),                            # [hand] a blank cell isn't counted
    ("=COUNTBLANK(A2:A8)", 1.0),
    ("=COUNTBLANK(B1:C3)", 6.0),
    ("=COUNTBLANK(D1:D3)", 2.0),                          # [doc] "" counts as blank
    ("=COUNTBLANK(A:A)", 1048570.0),                      # [hand] whole column
])
def test_counts(formula, expected):
    check(ev(formula, **COUNT_DATA, D1='=""', D2=0), expected)


# --- spread --------------------------------------------------------------------------------
STRENGTH = [1345, 1301, 1368, 1322, 1310, 1370, 1318, 1350, 1303, 1299]


@pytest.mark.parametrize("formula,printed", [
    ("=STDEV.S(A1:A10)", 27.46391572), ("=STDEV(A1:A10)", 27.46391572),  # [doc]
    ("=STDEVA(A1:A10)", 27.46391572),                     # [doc]
    ("=STDEV.P(A1:A10)", 26.05455814), ("=STDEVP(A1:A10)", 26.05455814),  # [doc]
    ("=STDEVPA(A1:A10)", 26.05455814),                    # [doc]
    ("=VAR.S(A1:A10)", 754.2666667), ("=VAR(A1:A10)", 754.2666667),  # [doc]
    ("=VARA(A1:A10)", 754.2666667),                       # [doc]
    ("=VAR.P(A1:A10)", 678.84), ("=VARP(A1:A10)", 678.84), ("=VARPA(A1:A10)", 678.84),  # [doc]
])
def test_spread_doc(formula, printed):
    shown(ev(formula, **col(STRENGTH)), printed)


@pytest.mark.parametrize("formula,expected", [
    ("=STDEV(5)", DIV0), ("=VAR.S(5)", DIV0), ("=STDEV.P(5)", 0.0),
    ("=VAR.P(B1)", DIV0),
    ("=STDEVA(A1:A3)", math.sqrt(1 / 3)),                 # [hand] 1, 0 ("x"), 1 (TRUE)
    ("=STDEV(A1:A3)", DIV0),                              # [hand] only one number
    ("=VARPA(A1:A3)", 2 / 9),                             # [hand]
])
def test_spread_edges(formula, expected):
    check(ev(formula, A1=1, A2="x", A3=True), expected)


@pytest.mark.parametrize("formula,printed", [
    ("=AVEDEV(4,5,6,7,5,4,3)", 1.020408),                 # [doc]
    ("=DEVSQ(4,5,8,7,11,4,3)", 48.0),                     # [doc]
    ("=GEOMEAN(4,5,8,7,11,4,3)", 5.476987),               # [doc]
    ("=HARMEAN(4,5,8,7,11,4,3)", 5.028376),               # [doc]
    ("=KURT(3,4,5,2,3,4,5,6,4,7)", -0.151799637),         # [doc]
    ("=SKEW(3,4,5,2,3,4,5,6,4,7)", 0.359543),             # [doc]
    ("=SKEW.P(3,4,5,2,3,4,5,6,4,7)", 0.303193),           # [doc]
])
def test_moments_doc(formula, printed):
    shown(ev(formula), printed)


@pytest.mark.parametrize("formula,expected", [
    ("=GEOMEAN(1,0)", NUM), ("=HARMEAN(2,-1)", NUM), ("=GEOMEAN(A1)", NUM),
    ("=KURT(1,2,3)", DIV0), ("=KURT(2,2,2,2)", DIV0), ("=SKEW(1,2)", DIV0),
    ("=AVEDEV(A1)", NUM), ("=DEVSQ(A1)", NUM),
    ("=GEOMEAN(2,8)", 4.0), ("=HARMEAN(1,3)", 1.5),       # [hand]
])
def test_moments_edges(formula, expected):
    check(ev(formula), expected)


# --- median, mode -------------------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ("=MEDIAN(1,2,3,4,5)", 3.0), ("=MEDIAN(1,2,3,4,5,6)", 3.5),  # [doc]
    ("=MEDIAN(B1)", NUM),
    ("=MODE.SNGL(5.6,4,4,3,2,4)", 4.0), ("=MODE(5.6,4,4,3,2,4)", 4.0),  # [doc]
    ("=MODE.SNGL(1,2,3)", NA),                            # [doc] no repeats
    ("=MODE.SNGL(3,1,1,3)", 3.0),                         # [hand] first of the tied values
    ('=MODE.SNGL(A1:A4,"")', 2.0),                        # [excel] typed text passed over
    ("=MODE.SNGL(A1:A4,)", VALUE),                        # [excel] empty argument
    ("=MODE.SNGL(A1:A5)", DIV0),
    # the legacy MODE is strict about arguments given directly [excel]
    ('=MODE(A1,"1",2,2)', VALUE), ("=MODE(2,2,A9)", VALUE),      # typed text, empty cell
    ('=MODE("1",1,#DIV/0!,2,3)', VALUE),                          # in argument order
    ("=MODE(A1,A1:A4,2)", 2.0), ("=MODE(A2:A4,2,2)", 2.0),         # ranges pass text over
])
def test_median_mode(formula, expected):
    check(ev(formula, A1=2, A2="x", A3=2, A4=True, A5="=1/0"), expected)


def test_mode_mult_doc():
    # [doc] {1,2,3,4,3,2,1,2,3,5,6,1} -> 1;2;3
    got = block("=MODE.MULT(A1:A12)", "C1:C4", **col([1, 2, 3, 4, 3, 2, 1, 2, 3, 5, 6, 1]))
    assert got == [[1.0], [2.0], [3.0], [NA]]
    assert ev("=MODE.MULT(1,2)") == NA


# --- order statistics --------------------------------------------------------------------------
@pytest.mark.parametrize("formula,expected", [
    ("=LARGE({3,5,3,5,4;4,2,4,6,7},3)", 5.0),             # [doc]
    ("=LARGE({3,5,3,5,4;4,2,4,6,7},7)", 4.0),             # [doc]
    ("=SMALL(A1:A9,4)", 4.0),                             # [doc]
    ("=SMALL(B1:B9,2)", 3.0),                             # [doc]
    ("=LARGE(A1:A9,0)", NUM), ("=LARGE(A1:A9,10)", NUM),
    ("=LARGE({0.1,-10,0.9,2.2,-0.1},2.2)", 0.1),          # [excel] fractional k rounds up
    ("=SMALL({0,-10,0.9,2.2,-0.1},2.2)", -0.1),           # [excel] ... down for SMALL
    ("=LARGE({1,2,3},0.9)", NUM),                         # [excel] k below 1
    ('=LARGE(A1:A9,"1")', 7.0),                           # [excel]
    ("=LARGE(C1:C3,1)", 9.0),                             # text and TRUE ignored
    ("=SMALL(D1:D2,1)", DIV0),                            # an error inside
])
def test_large_small(formula, expected):
    cells = {**col([3, 4, 5, 2, 3, 4, 6, 4, 7]), **col([1, 4, 8, 3, 7, 12, 54, 8, 23], column="B"),
             "C1": "99", "C2": True, "C3": 9, "D1": 1, "D2": "=1/0"}
    check(ev(formula, **cells), expected)


@pytest.mark.parametrize("formula,expected", [
    ("=RANK(A3,A2:A6,1)", 3.0), ("=RANK(A2,A2:A6,1)", 5.0),  # [doc]
    ("=RANK.EQ(A3,A2:A6,1)", 3.0), ("=RANK.EQ(A2,A2:A6)", 1.0),
    ("=RANK.EQ(3.5,A2:A6)", 2.0),                         # ties share the better rank
    ("=RANK.AVG(3.5,A2:A6)", 2.5),                        # [hand] ranks 2 and 3
    ("=RANK(4,A2:A6)", NA),                               # not in the list
])
def test_rank(formula, expected):
    check(ev(formula, A2=7, A3=3.5, A4=3.5, A5=1, A6=2), expected)


def test_rank_avg_doc():
    # [doc] 89, 88, 92, 101, 94, 97, 95: RANK.AVG(94, ...) = 4
    assert ev("=RANK.AVG(94,A1:A7)", **col([89, 88, 92, 101, 94, 97, 95])) == 4.0


@pytest.mark.parametrize("formula,expected", [
    ("=PERCENTILE.INC({1,3,2,4},0.3)", 1.9),              # [doc]
    ("=PERCENTILE({1,3,2,4},0.3)", 1.9),                  # [doc]
    ("=PERCENTILE.INC({1,3,2,4},1.1)", NUM),
    ("=PERCENTILE.EXC(A1:A9,0.25)", 2.5),                 # [doc]
    ("=PERCENTILE.EXC(A1:A9,0)", NUM), ("=PERCENTILE.EXC(A1:A9,0.01)", NUM),  # [doc]
    ("=PERCENTILE.EXC(A1:A9,2)", NUM),                    # [doc]
    ("=QUARTILE.INC({1,2,4,7,8,9,10,12},1)", 3.5),        # [doc]
    ("=QUARTILE({1,2,4,7,8,9,10,12},1)", 3.5),            # [doc]
    ("=QUARTILE({1,2,4,7,8,9,10,12},4)", 12.0),
    ("=QUARTILE({1,2,3},-0.1)", NUM),                     # [excel] checked before truncation
    ("=QUARTILE({1,2,3},5)", NUM),
    ("=QUARTILE.EXC(B1:B11,1)", 15.0), ("=QUARTILE.EXC(B1:B11,3)", 43.0),  # [doc]
    ("=QUARTILE.EXC(B1:B11,4)", NUM),
])
def test_percentile_quartile(formula, expected):
    cells = {**col([1, 2, 3, 6, 6, 6, 7, 8, 9]),
             **col([6, 7, 15, 36, 39, 40, 41, 42, 43, 47, 49], column="B")}
    check(ev(formula, **cells), expected)


@pytest.mark.parametrize("formula,expected", [
    ("=PERCENTRANK.INC(A1:A10,2)", 0.333),                # [doc]
    ("=PERCENTRANK.INC(A1:A10,4)", 0.555),                # [doc]
    ("=PERCENTRANK.INC(A1:A10,8)", 0.666),                # [doc]
    ("=PERCENTRANK.INC(A1:A10,5)", 0.583),                # [doc]
    ("=PERCENTRANK(A1:A10,2)", 0.333),                    # [doc]
    ("=PERCENTRANK.EXC(B1:B9,7)", 0.7),                   # [doc]
    ("=PERCENTRANK.EXC(B1:B9,5.43)", 0.381),              # [doc]
    ("=PERCENTRANK.EXC(B1:B9,5.43,1)", 0.3),              # [doc]
    ("=PERCENTRANK.INC(A1:A10,14)", NA), ("=PERCENTRANK.INC(A1:A10,2,0)", NUM),
    ("=PERCENTRANK.EXC({0,0.1,0.7,0.002,4},1,2)", 0.68),  # [excel]
])
def test_percentrank(formula, expected):
    cells = {**col([13, 12, 11, 8, 4, 3, 2, 1, 1, 1]), **col([1, 2, 3, 6, 6, 6, 7, 8, 9], column="B")}
    check(ev(formula, **cells), expected)


def test_trimmean_and_frequency():
    # [doc] TRIMMEAN({4,5,6,7,2,3,4,5,1,2,3},0.2) = 3.777777778
    shown(ev("=TRIMMEAN({4,5,6,7,2,3,4,5,1,2,3},0.2)"), 3.777777778)
    assert ev("=TRIMMEAN({1,2,3},1)") == NUM
    assert ev("=TRIMMEAN({1,2,3,100},0.5)") == 2.5        # [hand] one value off each end
    # [doc] scores 79,85,78,85,50,81,95,88,97 in bins 70,79,89 -> 1;2;4;2
    cells = {**col([79, 85, 78, 85, 50, 81, 95, 88, 97]), **col([70, 79, 89], column="B")}
    assert block("=FREQUENCY(A1:A9,B1:B3)", "D1:D4", **cells) == [[1.0], [2.0], [4.0], [2.0]]
    # [excel] no bins at all: counted as a single bin at 0
    assert block("=FREQUENCY(A1:A3,C1:C3)", "E1:E2", **cells) == [[0.0], [3.0]]


# --- paired data and regression -----------------------------------------------------------------
@pytest.mark.parametrize("formula,printed", [
    ("=CORREL({3,2,4,5,6},{9,7,12,15,17})", 0.997054486),  # [doc]
    ("=PEARSON({9,7,5,3,1},{10,6,1,5,3})", 0.699379),     # [doc]
    ("=RSQ({2,3,9,1,8,7,5},{6,5,11,7,5,4,4})", 0.05795),  # [doc]
    ("=COVAR({3,2,4,5,6},{9,7,12,15,17})", 5.2),          # [doc]
    ("=COVARIANCE.P({3,2,4,5,6},{9,7,12,15,17})", 5.2),   # [doc]
    ("=COVARIANCE.S({2,4,8},{5,11,12})", 9.666666667),    # [doc]
    ("=SLOPE({2,3,9,1,8,7,5},{6,5,11,7,5,4,4})", 0.305556),  # [doc]
    ("=INTERCEPT({2,3,9,1,8},{6,5,11,7,5})", 0.0483871),  # [doc]
    ("=STEYX({2,3,9,1,8,7,5},{6,5,11,7,5,4,4})", 3.305719),  # [doc]
    ("=FORECAST(30,{6,7,9,15,21},{20,28,31,38,40})", 10.607253),  # [doc]
    ("=FORECAST.LINEAR(30,{6,7,9,15,21},{20,28,31,38,40})", 10.607253),  # [doc]
])
def test_paired_doc(formula, printed):
    shown(ev(formula), printed)


@pytest.mark.parametrize("formula,expected", [
    ("=CORREL(A1:A3,B1:B2)", NA),                         # [doc] sizes differ
    ("=CORREL(A1:A3,B1:B3)", 1.0),                        # [hand] the "x" pair dropped
    ("=CORREL({1,1},{2,3})", DIV0),                       # no spread
    ("=SLOPE(A1:A3,C1:C3)", NA),                          # [excel] pair by pair: #N/A first
    ("=SLOPE(D1:D3,C1:C3)", NUM),                         # [excel] a #NULL! pair passed over
    ("=COVARIANCE.S({1},{2})", DIV0),
    ("=STEYX({1,2},{3,4})", DIV0),
])
def test_paired_edges(formula, expected):
    cells = dict(A1=1, A2="x", A3=3, B1=2, B2=5, B3=6,
                 C1="=NA()", C2="=1/0", C3=1, D1="=#NULL!", D2="=SQRT(-1)", D3=1)
    check(ev(formula, **cells), expected)


@pytest.mark.parametrize("formula,expected", [
    # [hand] an error value given as a data argument itself (not inside a range) is the
    # result before the sizes are compared, as for any error argument; an undefined name is
    # #NAME? ([excel] sheetjs named_ranges_2011.xlsx E7: SLOPE(col1_,col2_), col2_ undefined)
    ("=SLOPE(A1:A3,no_such_name)", XLError("#NAME?")),
    ("=INTERCEPT(A1:A3,1/0)", DIV0),
    ("=CORREL(NA(),A1:A2)", NA),
    ("=COVARIANCE.S(A1:A3,SQRT(-1))", NUM),
    ("=FORECAST(1,A1:A3,no_such_name)", XLError("#NAME?")),
    ("=SLOPE(1/0,NA())", DIV0),                           # left to right
    # inside a range the sizes still come first (a one-cell range too)
    ("=SLOPE(A1:A3,C1)", NA),
    ("=RSQ(C2,A1:A3)", NA),
])
def test_paired_error_argument_before_sizes(formula, expected):
    cells = dict(A1=1, A2=2, A3=4, C1="=NA()", C2="=1/0")
    check(ev(formula, **cells), expected)


def test_linest_simple():
    # [doc] LINEST({1,9,5,7},{0,4,2,3}) -> slope 2, intercept 1
    got = block("=LINEST({1,9,5,7},{0,4,2,3})", "A1:B1")
    assert got[0] == pytest.approx([2.0, 1.0])


def test_linest_stats_hand():
    # [hand] y = 1,2,3,5 on x = 1..4: slope 1.3, intercept -0.5, SSreg 8.45, SSresid 0.3,
    # df 2, sey sqrt(0.15), se(slope) sqrt(0.15/5), se(b) sqrt(0.15*1.5), F 56.333...
    cells = {**col([1, 2, 3, 5]), **col([1, 2, 3, 4], column="B")}
    got = block("=LINEST(A1:A4,B1:B4,TRUE,TRUE)", "D1:E5", **cells)
    assert got[0] == pytest.approx([1.3, -0.5])
    assert got[1] == pytest.approx([math.sqrt(0.03), math.sqrt(0.225)])
    assert got[2] == pytest.approx([8.45 / 8.75, math.sqrt(0.15)])
    assert got[3] == pytest.approx([8.45 / 0.15, 2.0])
    assert got[4] == pytest.approx([8.45, 0.3])
    # an empty const argument means TRUE [excel]
    got2 = block("=LINEST(A1:A4,B1:B4,,TRUE)", "G1:H1", **cells)
    assert got2[0] == pytest.approx([1.3, -0.5])
    # through the origin: b = 0 and #N/A for its error [hand] slope = sum(xy)/sum(x^2) = 34/30
    got3 = block("=LINEST(A1:A4,B1:B4,FALSE,TRUE)", "J1:K2", **cells)
    assert got3[0] == pytest.approx([34 / 30, 0.0])
    assert got3[1][1] == NA


def test_linest_errors_and_exact_fit():
    cells = {**col([1, 2, 3]), **col([2, 3, 4], column="B"), "C1": "x"}
    got = block("=LINEST(A1:A3,B1:B3,TRUE,TRUE)", "D1:E5", **cells)
    assert got[0] == pytest.approx([1.0, -1.0])
    assert got[3][0] == NUM and got[3][1] == 1.0          # [excel] exact fit: F is #NUM!
    assert got[4][1] == 0.0
    assert ev("=LINEST(A1:A3,C1:C3)", **cells) == VALUE   # [excel] text inside
    assert ev("=LINEST(A1:A3,B1:B2)", **cells) == REF     # sizes differ
    assert ev("=LINEST(A1:A3,B1:B3,NA())", **cells) == VALUE  # [excel] any error: #VALUE!


def test_linest_two_variables():
    # [hand] y = 1 + 2*x1 + 3*x2 exactly; columns come back last variable first
    x1 = [1, 2, 3, 4, 5]
    x2 = [2, 1, 4, 3, 5]
    y = [1 + 2 * a + 3 * b for a, b in zip(x1, x2)]
    cells = {**col(y), **col(x1, column="B"), **col(x2, column="C")}
    got = block("=LINEST(A1:A5,B1:C5)", "E1:G1", **cells)
    assert got[0] == pytest.approx([3.0, 2.0, 1.0])


def test_trend_growth_logest_doc():
    months = [11, 12, 13, 14, 15, 16]
    units = [33100, 47300, 69000, 102000, 150000, 220000]
    cells = {**col(months, 2), **col(units, 2, "B"), "A9": 17, "A10": 18}
    # [doc] GROWTH fitted value for month 11 and predictions for months 17, 18
    shown(ev("=GROWTH(B2:B7,A2:A7)", **cells), 32618.20377)
    got = block("=GROWTH(B2:B7,A2:A7,A9:A10)", "D9:D10", **cells)
    shown(got[0][0], 320196.7184)
    shown(got[1][0], 468536.0542)
    # [doc] LOGEST -> m = 1.463275628, b = 495.3047702
    got = block("=LOGEST(B2:B7,A2:A7,TRUE,FALSE)", "F1:G1", **cells)
    shown(got[0][0], 1.463275628)
    shown(got[0][1], 495.3047702)
    # [hand] TREND on y = 1,2,3,5 at x = 5: 1.3*5 - 0.5
    c2 = {**col([1, 2, 3, 5]), **col([1, 2, 3, 4], column="B")}
    assert ev("=TREND(A1:A4,B1:B4,5)", **c2) == pytest.approx(6.0)
    assert block("=TREND(A1:A4)", "D1:D4", **c2) == [[pytest.approx(v)] for v in (0.8, 2.1, 3.4, 4.7)]
    assert ev("=GROWTH({1,-2},{1,2})") == NUM


# --- transforms ------------------------------------------------------------------------------
@pytest.mark.parametrize("formula,printed", [
    ("=STANDARDIZE(42,40,1.5)", 1.333333),                # [doc]
    ("=FISHER(0.75)", 0.9729551),                         # [doc]
    ("=FISHERINV(0.972955)", 0.75),                       # [doc]
    ("=GAUSS(2)", 0.47725),                               # [doc]
    ("=PHI(0.75)", 0.301137432),                          # [doc]
    ("=PROB({0,1,2,3},{0.2,0.3,0.1,0.4},2)", 0.1),        # [doc]
    ("=PROB({0,1,2,3},{0.2,0.3,0.1,0.4},1,3)", 0.8),      # [doc]
])
def test_transforms_doc(formula, printed):
    shown(ev(formula), printed)


@pytest.mark.parametrize("formula,expected", [
    ("=STANDARDIZE(1,2,0)", NUM), ("=FISHER(1)", NUM), ("=FISHER(-1.5)", NUM),
    ("=PROB({1,2},{0.5,0.6},1)", NUM), ("=PROB({1,2},{0.5},1)", NA),
    ("=GAUSS(0)", 0.0), ("=GAUSS(-2)", -0.4772498680518208),
])
def test_transforms_edges(formula, expected):
    check(ev(formula), expected)


# --- distributions -----------------------------------------------------------------------------
@pytest.mark.parametrize("formula,printed", [
    ("=NORM.DIST(42,40,1.5,TRUE)", 0.9087888), ("=NORM.DIST(42,40,1.5,FALSE)", 0.10934),  # [doc]
    ("=NORMDIST(42,40,1.5,TRUE)", 0.9087888),             # [doc]
    ("=NORM.INV(0.908789,40,1.5)", 42.000002), ("=NORMINV(0.908789,40,1.5)", 42.000002),  # [doc]
    ("=NORM.S.DIST(1.333333,TRUE)", 0.908788726),         # [doc]
    ("=NORM.S.DIST(1.333333,FALSE)", 0.164010148),        # [doc]
    ("=NORMSDIST(1.333333)", 0.908788726),                # [doc]
    ("=NORM.S.INV(0.908789)", 1.3333), ("=NORMSINV(0.908789)", 1.3333),  # [doc]
    ("=LOGNORM.DIST(4,3.5,1.2,TRUE)", 0.0390836),         # [doc]
    ("=LOGNORM.DIST(4,3.5,1.2,FALSE)", 0.0176176),        # [doc]
    ("=LOGNORMDIST(4,3.5,1.2)", 0.0390836),               # [doc]
    ("=LOGNORM.INV(0.039084,3.5,1.2)", 4.0000252),        # [doc]
    ("=LOGINV(0.039084,3.5,1.2)", 4.0000252),             # [doc]
    ("=T.DIST(60,1,TRUE)", 0.99469533),                   # [doc]
    ("=T.DIST(8,3,FALSE)", 0.00073691),                   # [doc]
    ("=T.DIST.2T(1.959999998,60)", 0.054645),             # [doc]
    ("=T.DIST.RT(1.959999998,60)", 0.027322),             # [doc]
    ("=TDIST(1.959999998,60,2)", 0.054644930),            # [doc]
    ("=TDIST(1.959999998,60,1)", 0.027322465),            # [doc]
    ("=T.INV(0.75,2)", 0.8164966),                        # [doc]
    ("=T.INV.2T(0.546449,60)", 0.606533),                 # [doc]
    ("=TINV(0.546449,60)", 0.606533),                     # [doc]
    ("=CHISQ.DIST(0.5,1,TRUE)", 0.52049988),              # [doc]
    ("=CHISQ.DIST(2,3,FALSE)", 0.20755375),               # [doc]
    ("=CHISQ.DIST.RT(18.307,10)", 0.0500006),             # [doc]
    ("=CHIDIST(18.307,10)", 0.0500006),                   # [doc]
    ("=CHISQ.INV(0.93,1)", 3.283020287),                  # [doc]
    ("=CHISQ.INV(0.6,2)", 1.832581464),                   # [doc]
    ("=CHISQ.INV.RT(0.050001,10)", 18.30697),             # [doc]
    ("=CHIINV(0.050001,10)", 18.30697),                   # [doc]
    ("=F.DIST(15.2069,6,4,TRUE)", 0.99), ("=F.DIST(15.2069,6,4,FALSE)", 0.0012238),  # [doc]
    ("=F.DIST.RT(15.2069,6,4)", 0.01), ("=FDIST(15.2069,6,4)", 0.01),  # [doc]
    ("=F.INV(0.01,6,4)", 0.10930991),                     # [doc]
    ("=F.INV.RT(0.01,6,4)", 15.20686), ("=FINV(0.01,6,4)", 15.20686),  # [doc]
    ("=BETA.DIST(2,8,10,TRUE,1,3)", 0.6854706),           # [doc]
    ("=BETA.DIST(2,8,10,FALSE,1,3)", 1.4837646),          # [doc]
    ("=BETADIST(2,8,10,1,3)", 0.6854706),                 # [doc]
    ("=BETA.INV(0.685470581,8,10,1,3)", 2.0),             # [doc]
    ("=BETAINV(0.685470581,8,10,1,3)", 2.0),              # [doc]
    ("=BINOM.DIST(6,10,0.5,FALSE)", 0.2050781),           # [doc]
    ("=BINOMDIST(6,10,0.5,FALSE)", 0.2050781),            # [doc]
    ("=BINOM.DIST.RANGE(60,0.75,48)", 0.084),             # [doc]
    ("=BINOM.DIST.RANGE(60,0.75,45,50)", 0.5236),         # [doc]
    ("=EXPON.DIST(0.2,10,TRUE)", 0.86466472),             # [doc]
    ("=EXPON.DIST(0.2,10,FALSE)", 1.35335283),            # [doc]
    ("=EXPONDIST(0.2,10,TRUE)", 0.86466472),              # [doc]
    ("=GAMMA(2.5)", 1.329), ("=GAMMA(-3.75)", 0.268),     # [doc]
    ("=GAMMA.DIST(10.00001131,9,2,FALSE)", 0.032639),     # [doc]
    ("=GAMMA.DIST(10.00001131,9,2,TRUE)", 0.068094),      # [doc]
    ("=GAMMADIST(10.00001131,9,2,TRUE)", 0.068094),       # [doc]
    ("=GAMMA.INV(0.068094,9,2)", 10.0000112),             # [doc]
    ("=GAMMAINV(0.068094,9,2)", 10.0000112),              # [doc]
    ("=GAMMALN(4)", 1.791759), ("=GAMMALN.PRECISE(4)", 1.7917595),  # [doc]
    ("=HYPGEOM.DIST(1,4,8,20,TRUE)", 0.4654),             # [doc]
    ("=HYPGEOM.DIST(1,4,8,20,FALSE)", 0.3633),            # [doc]
    ("=HYPGEOMDIST(1,4,8,20)", 0.3633),                   # [doc]
    ("=NEGBINOM.DIST(10,5,0.25,TRUE)", 0.3135141),        # [doc]
    ("=NEGBINOM.DIST(10,5,0.25,FALSE)", 0.0550487),       # [doc]
    ("=NEGBINOMDIST(10,5,0.25)", 0.05504866),             # [doc]
    ("=POISSON.DIST(2,5,TRUE)", 0.124652), ("=POISSON.DIST(2,5,FALSE)", 0.084224),  # [doc]
    ("=POISSON(2,5,TRUE)", 0.124652),                     # [doc]
    ("=WEIBULL.DIST(105,20,100,TRUE)", 0.929581),         # [doc]
    ("=WEIBULL.DIST(105,20,100,FALSE)", 0.035589),        # [doc]
    ("=WEIBULL(105,20,100,TRUE)", 0.929581),              # [doc]
    ("=CONFIDENCE.NORM(0.05,2.5,50)", 0.692952),          # [doc]
    ("=CONFIDENCE(0.05,2.5,50)", 0.692952),               # [doc]
    ("=CONFIDENCE.T(0.05,1,50)", 0.284196855),            # [doc]
])
def test_distributions_doc(formula, printed):
    shown(ev(formula), printed)


@pytest.mark.parametrize("formula,expected", [
    ("=BINOM.INV(6,0.5,0.75)", 4.0), ("=CRITBINOM(6,0.5,0.75)", 4.0),  # [doc]
    ("=NORM.DIST(1,0,0,TRUE)", NUM), ("=NORM.INV(0,0,1)", NUM), ("=NORM.INV(1,0,1)", NUM),
    ("=NORM.S.INV(0.5)", 0.0),
    ("=NORM.S.DIST(0,TRUE)", 0.5),
    ("=LOGNORM.DIST(0,1,1,TRUE)", NUM),
    ("=T.DIST(1,0,TRUE)", NUM), ("=T.DIST(0,0,FALSE)", DIV0),  # [excel]
    ("=T.DIST(0.7,1,TRUE)", 0.5 + math.atan(0.7) / math.pi),  # [hand] Cauchy
    ("=T.DIST.2T(-1,5)", NUM), ("=TDIST(1,5,3)", NUM),
    ("=T.INV(0.5,5)", 0.0),
    ("=T.INV(0.025,1)", math.tan(math.pi * (0.025 - 0.5))),  # [hand] Cauchy quantile
    ("=T.INV.2T(1,5)", 0.0), ("=T.INV.2T(0,5)", NUM),
    ("=CHISQ.DIST(-1,2,TRUE)", NUM), ("=CHISQ.DIST(2,0,TRUE)", NUM),
    ("=CHISQ.DIST(2,2,TRUE)", 1 - math.exp(-1)),          # [hand] exponential with mean 2
    ("=CHISQ.DIST.RT(2,2)", math.exp(-1)),                # [hand]
    ("=F.DIST(-1,1,1,TRUE)", NUM), ("=F.INV.RT(1,3,4)", 0.0),
    ("=BETA.DIST(0.5,2,2,TRUE)", 0.5),                    # [hand] symmetric
    ("=BETA.DIST(1.5,2,2,TRUE)", NUM), ("=BETA.INV(1,2,3)", NUM),  # [excel] p = 1
    ("=BINOM.DIST(11,10,0.5,TRUE)", NUM), ("=BINOM.DIST(3,10,1.5,TRUE)", NUM),
    ("=BINOM.DIST(10,10,0.5,TRUE)", 1.0),
    ("=BINOM.DIST(2,4,0.5,TRUE)", 11 / 16),               # [hand] (1+4+6)/16
    ("=EXPON.DIST(1,0,TRUE)", NUM),
    ("=GAMMA(0)", NUM), ("=GAMMA(-2)", NUM),              # [doc]
    ("=GAMMA(5)", 24.0), ("=GAMMALN(0)", NUM),
    ("=GAMMA.DIST(2,1,1,TRUE)", 1 - math.exp(-2)),        # [hand] exponential
    ("=HYPGEOM.DIST(0,0,0,0,FALSE)", 1.0),                # [excel]
    ("=HYPGEOM.DIST(0,2,3,3,TRUE)", 0.0),                 # [excel] below the support
    ("=HYPGEOM.DIST(5,3,2,30,TRUE)", 1.0),                # [excel] above the support
    ("=HYPGEOM.DIST(1,4,30,20,TRUE)", NUM),               # more successes than population
    ("=POISSON.DIST(0,0,FALSE)", 1.0), ("=POISSON.DIST(-1,2,TRUE)", NUM),
    ("=POISSON.DIST(3,2,FALSE)", math.exp(-2) * 8 / 6),   # [hand]
    ("=WEIBULL.DIST(1,1,1,TRUE)", 1 - math.exp(-1)),      # [hand]
    ("=CONFIDENCE.NORM(0,1,10)", NUM), ("=CONFIDENCE.T(0.05,1,1)", DIV0),
    ("=NEGBINOM.DIST(0,1,0.5,FALSE)", 0.5),               # [hand]
    ("=NEGBINOM.DIST(-1,1,0.5,FALSE)", NUM),
    ("=NEGBINOM.DIST(60,60,0,TRUE)", NUM),                # [excel] p = 0
])
def test_distribution_edges(formula, expected):
    check(ev(formula), expected)


def test_inverses_round_trip():
    for f, inv in [("NORM.S.DIST({x},TRUE)", "NORM.S.INV({p})"),
                   ("T.DIST({x},7,TRUE)", "T.INV({p},7)"),
                   ("CHISQ.DIST({x},5,TRUE)", "CHISQ.INV({p},5)"),
                   ("CHISQ.DIST.RT({x},5)", "CHISQ.INV.RT({p},5)"),
                   ("F.DIST({x},3,9,TRUE)", "F.INV({p},3,9)"),
                   ("F.DIST.RT({x},3,9)", "F.INV.RT({p},3,9)"),
                   ("BETA.DIST({x},2.5,0.7,TRUE)", "BETA.INV({p},2.5,0.7)"),
                   ("GAMMA.DIST({x},3.3,2,TRUE)", "GAMMA.INV({p},3.3,2)")]:
        for x in (0.05, 0.4, 0.93, 2.5, 7.0):
            if "BETA" in f and x >= 1:
                continue
            p = ev("=" + f.format(x=x))
            if not 1e-9 < p < 1 - 1e-6:      # near 1 the cdf itself holds few digits
                continue
            back = ev("=" + inv.format(p=repr(p)))
            assert back == pytest.approx(x, rel=1e-9), (f, x)
    # far tails keep their relative precision
    assert ev("=NORM.S.DIST(NORM.S.INV(1E-300),TRUE)") == pytest.approx(1e-300, rel=1e-9)
    assert ev("=CHISQ.DIST.RT(CHISQ.INV.RT(1E-20,3),3)") == pytest.approx(1e-20, rel=1e-9)
    assert ev("=T.DIST(T.INV(1E-15,4),4,TRUE)") == pytest.approx(1e-15, rel=1e-9)


def test_chisq_inv_rt_to_the_last_digits():
    # ROUND(x, 12) of the inverse hinges on its 15th digit: 8.445480112856497 (scipy's
    # chi2.isf(2/15, 5), and Excel's cached value in functions-excel-2010.xlsx B14) shows
    # 8.44548011285650 at 15 digits; a result a few ulps low shows ...649
    assert f"{ev('=CHISQ.INV.RT(2/15,5)'):.14e}" == "8.44548011285650e+00"


# --- tests of hypotheses -----------------------------------------------------------------------
def test_t_test_doc():
    # [doc] paired two-tailed: 0.196016
    cells = {**col([3, 4, 5, 8, 9, 1, 2, 4, 5]), **col([6, 19, 3, 2, 14, 4, 5, 17, 1], column="B")}
    shown(ev("=T.TEST(A1:A9,B1:B9,2,1)", **cells), 0.196016)
    shown(ev("=TTEST(A1:A9,B1:B9,2,1)", **cells), 0.196016)
    # [hand] the three types differ; one tail is half of two
    two = ev("=T.TEST(A1:A9,B1:B9,2,2)", **cells)
    assert ev("=T.TEST(A1:A9,B1:B9,1,2)", **cells) == pytest.approx(two / 2)
    assert ev("=T.TEST(A1:A9,B1:B9,2,3)", **cells) != two
    assert ev("=T.TEST(A1:A9,B1:B9,3,1)", **cells) == NUM
    assert ev("=T.TEST(A1:A9,B1:B8,2,1)", **cells) == NA   # paired sizes differ


def test_chisq_f_z_tests_doc():
    # [doc] CHISQ.TEST -> 0.0003082
    cells = dict(A2=58, B2=35, A3=11, B3=25, A4=10, B4=23,
                 A6=45.35, B6=47.65, A7=17.56, B7=18.44, A8=16.09, B8=16.91)
    shown(ev("=CHISQ.TEST(A2:B4,A6:B8)", **cells), 0.0003082)
    shown(ev("=CHITEST(A2:B4,A6:B8)", **cells), 0.0003082)
    assert ev("=CHISQ.TEST(A2:B3,A6:B8)", **cells) == NA
    # [doc] F.TEST -> 0.64831785
    shown(ev("=F.TEST({6,7,9,15,21},{20,28,31,38,40})"), 0.64831785)
    shown(ev("=FTEST({6,7,9,15,21},{20,28,31,38,40})"), 0.64831785)
    assert ev("=F.TEST({1},{2,3})") == DIV0
    # [doc] Z.TEST -> 0.090574 and 0.863043
    data = {**col([3, 6, 7, 8, 6, 5, 4, 2, 1, 9])}
    shown(ev("=Z.TEST(A1:A10,4)", **data), 0.090574)
    shown(ev("=Z.TEST(A1:A10,6)", **data), 0.863043)
    shown(ev("=ZTEST(A1:A10,4)", **data), 0.090574)
    assert ev("=Z.TEST(A1:A10,4,0)", **data) == NUM        # [excel]
    assert ev("=Z.TEST({4},0,2)") == DIV0                  # [excel] one value


# Variances are computed from the sums of the values and of their squares, as Excel does;
# these are Excel's own cached results, bit for bit (poi FormulaEvalTestData_Copy.xlsx,
# EverythingTests K1448 and K1456; ClosedXML functions-excel-2010.xlsx, Sheet1 B71/B72 and
# its F2:F10), which the deviation-based formula misses in the last bits.
@pytest.mark.parametrize("formula, want", [
    ("=VAR(TRUE,FALSE,TRUE)", 0.33333333333333337),          # [excel]
    ("=VARP(TRUE,FALSE,TRUE)", 0.2222222222222222),          # [excel]
    ("=STDEV(TRUE,FALSE,TRUE)", 0.5773502691896258),         # [excel]
])
def test_variance_rounding_as_excel(formula, want):
    assert xleval.evaluate(formula) == want


def test_variance_of_equal_values_is_zero_not_negative():
    # the sums formula can round to a tiny negative for equal values; STDEV must not fail
    # (three times each of these: both sums formulas round to a negative, e.g. -1.1e-11)
    for x in (303.186, -134.466, 82.825):
        wb = xleval.Workbook.from_dict({"S": {"A1": x, "A2": x, "A3": x,
                                              "B1": "=VAR(A1:A3)", "B2": "=STDEV.P(A1:A3)",
                                              "B3": "=STDEV(A1:A3)"}})
        wb.calculate()
        assert (wb["S!B1"], wb["S!B2"], wb["S!B3"]) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("formula, expected", [
    # [excel] poi FormulaEvalTestData_Copy.xlsx EverythingTests!G816, H816: a value typed
    # as LARGE's array is coerced like a typed number
    ("=LARGE(TRUE,1)", 1.0),
    ('=LARGE("2.3",1)', 2.3),
    ('=SMALL("2.3",1)', 2.3),                              # [hand] SMALL reads its array alike
    ('=LARGE("x",1)', VALUE),                              # [hand] text that is no number
])
def test_large_small_typed_value(formula, expected):
    check(ev(formula), expected)


def test_large_small_reference_keeps_only_numbers():
    # [excel] EverythingTests!J816: LARGE(D7:D8,1) over blanks is #NUM!; [hand] a TRUE or
    # numeric text inside a reference is not a number there
    wb = xleval.Workbook.from_dict({"S": {"A1": True, "A2": "2.5", "B1": "=LARGE(A1,1)",
                                          "B2": "=LARGE(A1:A2,1)", "B3": "=SMALL(C1:C2,1)"}})
    wb.calculate()
    assert [wb["S!B1"], wb["S!B2"], wb["S!B3"]] == [NUM, NUM, NUM]
