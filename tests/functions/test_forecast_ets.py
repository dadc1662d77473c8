"""FORECAST.ETS, FORECAST.ETS.CONFINT, FORECAST.ETS.SEASONALITY, FORECAST.ETS.STAT.

Expected values: Excel's cached results in the conformance corpus (cited [excel], read from
../shared/conformance, skipped when absent), series whose forecast follows by hand (a line,
a line plus a repeating pattern: an AAA model fits them exactly, so any smoothing
parameters forecast the same values; cited [hand]), and the error rules of Microsoft's
documentation pages for the four functions (cited [doc])."""
import importlib.util
import math
import pathlib

import pytest

import xleval
from xleval.values import XLError

from .helpers import NA, NUM, VALUE, block, check, ev

CONFORMANCE = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
TEST_XLSX = CONFORMANCE / "workbooks" / "formulas" / "test" / "test_files" / "test.xlsx"


def arr(xs) -> str:
    """An array constant {x1,x2,...}."""
    return "{" + ",".join(repr(float(x)) for x in xs) + "}"


# --- Excel's cached values ---------------------------------------------------------------

def _columns(first: str, last: str) -> list[str]:
    def num(c):
        n = 0
        for ch in c:
            n = n * 26 + ord(ch) - 64
        return n

    def name(n):
        s = ""
        while n:
            n, r = divmod(n - 1, 26)
            s = chr(65 + r) + s
        return s
    return [name(i) for i in range(num(first), num(last) + 1)]


# Each row calls one function on the values {3,3,1,2,3,2,1,3,2,1} over the timeline
# {3,7,5,6,7,8,1,3,4,9} (duplicate times, time 2 missing), varying one argument over the
# row's inputs C..Q (numbers, a blank, a date as text, TRUE/FALSE, the seven errors);
# R..AF are ordinary formulas, AG..AU array formulas.
CORPUS_CELLS = (
    # [excel] test.xlsx STATISTICAL!R38:AU38 FORECAST.ETS
    [f"{c}38" for c in _columns("R", "AU")]
    # [excel] test.xlsx STATISTICAL!R39:AU39 FORECAST.ETS.CONFINT
    + [f"{c}39" for c in _columns("R", "AU")]
    # [excel] test.xlsx STATISTICAL!R40:AU40 FORECAST.ETS.SEASONALITY
    + [f"{c}40" for c in _columns("R", "AU")]
    # [excel] test.xlsx STATISTICAL!R41:AU41 FORECAST.ETS.STAT
    + [f"{c}41" for c in _columns("R", "AU")]
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(recalculated workbook, Excel's cached values of sheet STATISTICAL). The cached
    values are stripped before xleval loads the copy, so every value is our own."""
    if not TEST_XLSX.is_file():
        pytest.skip("conformance corpus not present")
    openpyxl = pytest.importorskip("openpyxl")
    spec = importlib.util.spec_from_file_location("_xleval_score_ets", CONFORMANCE / "score.py")
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    stripped = tmp_path_factory.mktemp("ets") / "test.xlsx"
    score.strip_cached_values(str(TEST_XLSX), str(stripped))
    wb = xleval.load(stripped)
    wb.calculate()
    cached = openpyxl.load_workbook(TEST_XLSX, data_only=True)["STATISTICAL"]
    return wb, cached


@pytest.mark.parametrize("cell", CORPUS_CELLS)
def test_excel_cached_values(corpus, cell):
    wb, cached = corpus
    expected = cached[cell].value
    got = wb["STATISTICAL!" + cell]
    if isinstance(expected, str) and expected.startswith("#"):
        assert got == XLError(expected)
    else:
        # score.py's rule: relative or absolute 1e-9
        assert isinstance(got, float) and math.isclose(got, expected, rel_tol=1e-9,
                                                       abs_tol=1e-9), (got, expected)


# --- series forecast by hand --------------------------------------------------------------

LINE_T = list(range(1, 13))
LINE_Y = [3 + 2 * t for t in LINE_T]                 # [hand] y = 3 + 2t


@pytest.mark.parametrize("seasonality", ["", ",0", ",1"])
def test_line_forecasts_the_line(seasonality):
    # [hand] a straight line: level and trend fit it exactly, the forecast continues it
    f = f"FORECAST.ETS(20,{arr(LINE_Y)},{arr(LINE_T)}{seasonality})"
    check(ev(f), 43.0)
    check(ev(f"FORECAST.ETS(12.5,{arr(LINE_Y)},{arr(LINE_T)}{seasonality})"), 28.0)


def test_line_statistics():
    y, t = arr(LINE_Y), arr(LINE_T)
    assert ev(f"FORECAST.ETS.SEASONALITY({y},{t})") == 0.0          # [hand] nothing periodic
    for kind in (4, 5, 6, 7):                                        # [hand] exact fit
        assert abs(ev(f"FORECAST.ETS.STAT({y},{t},{kind})")) < 1e-9
    assert abs(ev(f"FORECAST.ETS.CONFINT(20,{y},{t})")) < 1e-9        # [hand] no error
    check(ev(f"FORECAST.ETS.STAT({y},{t},8)"), 1.0)                  # [hand] the step
    for kind in (1, 2, 3):                                           # [doc] weights in [0, 1]
        assert 0.0 <= ev(f"FORECAST.ETS.STAT({y},{t},{kind})") <= 1.0


PATTERN = [3.0, -1.0, -4.0, 2.0]                      # sums to 0
SEAS_T = list(range(16))
SEAS_Y = [10 + 0.5 * t + PATTERN[t % 4] for t in SEAS_T]


def seasonal_expected(t: float) -> float:
    return 10 + 0.5 * t + PATTERN[int(t) % 4]


@pytest.mark.parametrize("seasonality", ["", ",4"])
def test_line_plus_pattern(seasonality):
    y, t = arr(SEAS_Y), arr(SEAS_T)
    for target in (16, 19, 20, 41):                  # [hand] line + pattern continued
        check(ev(f"FORECAST.ETS({target},{y},{t}{seasonality})"), seasonal_expected(target))
    # [excel] between two points the value is interpolated linearly (the corpus row 38
    # shows it for targets 0.1 and 0.7 on a timeline 1..9)
    half = (seasonal_expected(17) + seasonal_expected(18)) / 2
    check(ev(f"FORECAST.ETS(17.5,{y},{t}{seasonality})"), half)


def test_seasonality_detected():
    assert ev(f"FORECAST.ETS.SEASONALITY({arr(SEAS_Y)},{arr(SEAS_T)})") == 4.0   # [hand]


def test_unsorted_timeline_with_a_step_of_seven():
    # [doc] the timeline need not be sorted; [hand] a line over weekly dates
    dates = [45000 + 7 * k for k in range(10)]
    vals = [100 - 3 * k for k in range(10)]
    order = [3, 0, 7, 1, 9, 2, 8, 4, 6, 5]
    d = arr(dates[i] for i in order)
    v = arr(vals[i] for i in order)
    check(ev(f"FORECAST.ETS.STAT({v},{d},8)"), 7.0)
    check(ev(f"FORECAST.ETS({45000 + 7 * 12},{v},{d},0)"), 100 - 3 * 12.0)


def test_missing_points_completed():
    # [doc] data_completion 1 (default) fills a missing point from its neighbours (the line
    # stays a line), 0 fills it with zero (the fit is no longer exact)
    t = [1, 2, 3, 5, 6, 7, 8, 9, 10, 11]
    y = [4 * k for k in t]
    check(ev(f"FORECAST.ETS(15,{arr(y)},{arr(t)},0)"), 60.0)
    check(ev(f"FORECAST.ETS(15,{arr(y)},{arr(t)},0,1)"), 60.0)
    assert ev(f"FORECAST.ETS.STAT({arr(y)},{arr(t)},6,0,0)") > 1.0


@pytest.mark.parametrize("aggregation,dups", [
    ("", [18, 22]),         # [doc] 1 or omitted: AVERAGE of the duplicates -> 20
    (",1", [18, 22]),
    (",4", [20, 3]),        # MAX -> 20
    (",5", [20, 3, 25]),    # MEDIAN -> 20
    (",6", [20, 31]),       # MIN -> 20
    (",7", [5, 15]),        # SUM -> 20
])
def test_aggregation_of_duplicate_times(aggregation, dups):
    # [hand] the duplicates of time 2 aggregate to the line's value there, so the forecast
    # is the line's: y = 10t
    t = [1, 3, 4, 5, 6, 7] + [2] * len(dups)
    y = [10 * k for k in t[:6]] + dups
    values = "{" + ",".join(str(v) for v in y) + "}"
    check(ev(f"FORECAST.ETS(10,{values},{arr(t)},0,1{aggregation})"), 100.0)


def test_count_aggregations():
    # [doc] 2 COUNT, 3 COUNTA: the series is the number of values at each time. Time k has
    # k numbers and one text: COUNT gives the line k, COUNTA the line k + 1
    times, vals = [], []
    for k in range(1, 7):
        times += [k] * (k + 1)
        vals += [str(10 * k)] * k + ['"x"']
    v = "{" + ",".join(vals) + "}"
    check(ev(f"FORECAST.ETS(10,{v},{arr(times)},0,1,2)"), 10.0)
    check(ev(f"FORECAST.ETS(10,{v},{arr(times)},0,1,3)"), 11.0)
    check(ev(f"FORECAST.ETS(10,{v},{arr(times)},0,1,1)"), 100.0)    # AVERAGE skips text


def test_array_of_targets():
    # an array formula broadcasts the scalar target; [hand] the line's values
    got = block(f"=FORECAST.ETS({{13;14}},{arr(LINE_Y)},{arr(LINE_T)})", "A20:A21")
    check(got[0][0], 29.0)
    check(got[1][0], 31.0)


def test_confint_scales_with_the_normal_quantile():
    # a noisy series (its confidence interval is not 0): [hand] the half width is
    # z((1+c)/2) * sd, so the ratio of two levels is the ratio of the normal quantiles
    y = [10, 14, 9, 13, 12, 11, 15, 10, 14, 13, 12, 16, 11, 15, 13, 14]
    t = list(range(1, 17))
    c95 = ev(f"FORECAST.ETS.CONFINT(20,{arr(y)},{arr(t)},0.95,0)")
    c50 = ev(f"FORECAST.ETS.CONFINT(20,{arr(y)},{arr(t)},0.5,0)")
    c_default = ev(f"FORECAST.ETS.CONFINT(20,{arr(y)},{arr(t)},,0)")
    assert c95 > 0
    check(c95 / c50, 1.959963984540054 / 0.6744897501960817)
    check(c_default, c95)                           # [doc] the default level is 95%
    farther = ev(f"FORECAST.ETS.CONFINT(30,{arr(y)},{arr(t)},0.95,0)")
    assert farther >= c95                           # the interval widens with the horizon


# --- errors (Microsoft's documentation) ---------------------------------------------------

Y, T = arr(LINE_Y), arr(LINE_T)


@pytest.mark.parametrize("formula,expected", [
    (f"FORECAST.ETS(20,{Y},{{1,2,3}})", NA),                   # [doc] sizes differ
    (f"FORECAST.ETS(20,{{1,2,3}},{{1,2,4.5}})", NUM),           # [doc] no constant step
    (f"FORECAST.ETS(20,{{1,2,3}},{{5,5,5}})", NUM),             # [doc] step can't be zero
    (f"FORECAST.ETS(20,{Y},{T},-1)", NUM),                     # [doc] seasonality < 0
    (f"FORECAST.ETS(20,{Y},{T},8761)", NUM),                   # [doc] above 8,760
    # fewer than two seasons of data: #VALUE! as LibreOffice documents for its copy of
    # these functions (Microsoft's pages do not say)
    (f"FORECAST.ETS(20,{Y},{T},7)", VALUE),
    (f"FORECAST.ETS(20,{Y},{T},1,2)", NUM),                    # [excel] completion 0/1
    (f"FORECAST.ETS(20,{Y},{T},1,1,8)", NUM),                  # [doc] aggregation 1..7
    (f"FORECAST.ETS(-5,{Y},{T})", NUM),                        # [excel] before the start
    (f"FORECAST.ETS(20,{{1,2,3,4,5}},{{1,2,3,9,10}})", NUM),   # [doc] over 30% missing
    (f"FORECAST.ETS(20,{{1,#N/A,3}},{{1,2,3}})", NA),          # errors in the data
    (f"FORECAST.ETS(20,{{1,2,3}},{{1,\"x\",3}})", VALUE),       # text in the timeline
    (f"FORECAST.ETS.CONFINT(20,{Y},{T},1)", NUM),              # [doc] level in (0, 1)
    (f"FORECAST.ETS.CONFINT(20,{Y},{T},0)", NUM),
    (f"FORECAST.ETS.STAT({Y},{T},0)", NUM),                    # [doc] statistic 1..8
    (f"FORECAST.ETS.STAT({Y},{T},9)", NUM),
    (f"FORECAST.ETS.SEASONALITY({Y},{T},-1)", NUM),           # [excel] completion 0/1
    (f"FORECAST.ETS.SEASONALITY({Y},{T},1,8)", NUM),          # [doc] aggregation 1..7
])
def test_errors(formula, expected):
    assert ev(formula) == expected
