"""Inputs that once made a function hang, run for minutes, or answer the wrong error.

Each expected value comes from Excel's documented behaviour, cited as [doc], or is
derived by hand from the function's definition, cited as [hand]. Where no Excel value is
documented and xleval applies a bound of its own, the test asks only for an error value
instead of a hang, cited as [bound]. The inputs are modest: with a regression, a test runs
for minutes (a backtracking pattern, a loop over millions of periods), never exhausts the
machine.
"""
import math

import pytest

from xleval.values import XLError

from .helpers import NA, NUM, VALUE, ev

# 45 a's and a "!" make (a|aa)+$ try about fib(45) ~ 1e9 ways to split the a's: PCRE2
# stops at its match limit, and Excel shows that as #VALUE! [doc: Office's
# Excel.ValueErrorCellValueSubType lists MRegexMatchLimit, "An error in regex match. Match
# limit exceeded. Displays as error type #VALUE! in Excel."]
_RUNAWAY_TEXT = 'REPT("a",45)&"!"'
_RUNAWAY = '"(a|aa)+$"'


@pytest.mark.parametrize("formula", [
    f"=REGEXTEST({_RUNAWAY_TEXT},{_RUNAWAY})",
    f"=REGEXEXTRACT({_RUNAWAY_TEXT},{_RUNAWAY})",
    f"=REGEXEXTRACT({_RUNAWAY_TEXT},{_RUNAWAY},1)",
    f"=REGEXREPLACE({_RUNAWAY_TEXT},{_RUNAWAY},\"x\")",
    f"=XMATCH({_RUNAWAY},{_RUNAWAY_TEXT},3)",
])
def test_runaway_regex_is_value_error(formula):
    assert ev(formula) == VALUE


def test_regex_still_matches_after_the_engine_change():
    # [doc] REGEXTEST: a pattern found anywhere in the text; (a+)+$ at the end of a's
    assert ev('=REGEXTEST(REPT("a",45),"(a+)+$")') is True
    # [hand] \p{Lu} is PCRE2's upper-case letter class: "Ab" has one
    assert ev('=REGEXTEST("Ab","\\p{Lu}")') is True
    assert ev('=REGEXTEST("ab","\\p{Lu}")') is False


def test_regex_nested_too_deep_is_value_error():
    # [doc] PCRE2 refuses parentheses nested deeper than its limit (250 by default), a
    # pattern error: ValueErrorCellValueSubType CRegexParenthesesNestTooDeep is #VALUE!
    assert ev('=REGEXTEST("a",REPT("(",5000)&"a"&REPT(")",5000))') == VALUE


# ---------------------------------------------------------------------------------------
# wildcards: a pattern of many stars against a long text
# ---------------------------------------------------------------------------------------

_STARS = "*a*a*a*a*a*a*b"          # no "b" in the text: no match


def test_many_star_wildcards_do_not_backtrack():
    a200 = "a" * 200
    # [hand] the text has no "b", so nothing matches
    assert ev(f'=COUNTIF(A1,"{_STARS}")', A1=a200) == 0.0
    assert ev(f'=SEARCH("{_STARS}",A1)', A1=a200) == VALUE     # [doc] not found: #VALUE!
    assert ev(f'=MATCH("{_STARS}",A1,0)', A1=a200) == NA       # [doc] not found: #N/A
    assert ev(f'=VLOOKUP("{_STARS}",A1,1,FALSE)', A1=a200) == NA
    assert ev(f'=XMATCH("{_STARS}",A1,2)', A1=a200) == NA
    # [hand] with a final "b" it matches; SEARCH gives where the match starts
    assert ev(f'=COUNTIF(A1,"{_STARS}")', A1=a200 + "b") == 1.0
    assert ev('=SEARCH("a*b",A1)', A1="x" * 100 + a200 + "b") == 101.0
    assert ev('=SEARCH("a*b",A1)', A1="a" * 30000) == VALUE


@pytest.mark.parametrize("formula,expected", [
    # [hand] the wildcard rules: * any run (also none), ? one character, ~ escapes
    ('=SEARCH("a*c","xxabbbcd")', 3.0),
    ('=SEARCH("b?d","abxdbyd")', 2.0),
    ('=SEARCH("*","abc",2)', 2.0),
    ('=SEARCH("c*","abc")', 3.0),
    ('=SEARCH("~*","a*b")', 2.0),
    ('=SEARCH("?~?","ab?")', 2.0),
    ('=SEARCH("a*b*c","cba")', VALUE),
    ('=COUNTIF(A1:A4,"a*c")', 2.0),
    ('=COUNTIF(A1:A4,"*")', 4.0),
    ('=COUNTIF(A1:A4,"?b*")', 4.0),
    ('=COUNTIF(A1:A4,"*c")', 3.0),
    ('=COUNTIF(A1:A4,"a*b*c")', 2.0),
    ('=COUNTIF(A1:A4,"<>a*")', 1.0),
])
def test_wildcard_semantics(formula, expected):
    cells = {"A1": "abc", "A2": "ABBC", "A3": "xbc", "A4": "ab"}
    assert ev(formula, **cells) == expected


# ---------------------------------------------------------------------------------------
# numbers: loops over a huge count
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula,expected", [
    # [hand] |x| < 1e309 rounds to 0 at -1E8 digits, or away from zero past the largest
    # double (#NUM!, as ROUNDUP(1,-309) in test_math)
    ("=ROUND(1,-1E8)", 0.0),
    ("=ROUNDDOWN(-5,-1E8)", 0.0),
    ("=TRUNC(123.4,-1E8)", 0.0),
    ("=ROUNDUP(1,-1E8)", NUM),
    ("=ROUND(1.5,0)", 2.0),
])
def test_round_with_huge_negative_digits(formula, expected):
    assert ev(formula) == expected


def test_db_with_a_huge_life_stops_when_the_balance_stops_moving():
    # [hand] rate = ROUND(1 - (1/100)^(1/1E8), 3) = 0: nothing is ever depreciated
    assert ev("=DB(100,1,1E8,1E8)") == 0.0
    # [hand] salvage 0: rate 1, the first year takes all 1000, later years 0
    assert ev("=DB(1000,0,1E8,1E8)") == 0.0
    assert ev("=DB(1000,0,1E8,1)") == 1000.0
    # [doc] DB's example: 1,000,000 cost, 100,000 salvage, 6 years, 7 months first year
    assert ev("=DB(1000000,100000,6,1,7)") == pytest.approx(186083.33, abs=0.01)
    assert ev("=DB(1000000,100000,6,7,7)") == pytest.approx(15845.10, abs=0.01)


def test_amordegrc_with_a_huge_period_stops_at_zero_depreciation():
    # [hand] rate 1E-300: every ROUND(rate * cost) is 0, in the first period and after
    assert ev("=AMORDEGRC(100,1,2,0,1E8,1E-300)") == 0.0


@pytest.mark.parametrize("formula,expected", [
    # [hand] |J_n(x)| <= (|x|/2)^n / n! and I_n(1) is of that size: far below the smallest
    # double for n = 1E7, so 0; Y_n and K_n grow like the reciprocal: overflow, #NUM!
    ("=BESSELJ(1,1E7)", 0.0),
    ("=BESSELI(1,1E7)", 0.0),
    ("=BESSELY(1,1E7)", NUM),
    ("=BESSELK(1,1E7)", NUM),
    ("=BESSELJ(-2,5000)", 0.0),
])
def test_bessel_huge_order(formula, expected):
    assert ev(formula) == expected


def test_bessel_huge_order_near_x_is_an_error_not_a_hang():
    # [bound] order 1E9 with x of the same size: no shortcut applies; xleval stops at a
    # million terms of the recurrence
    assert isinstance(ev("=BESSELJ(1E9,1E9)"), XLError)


def test_binom_inv_with_huge_trials():
    # [hand] for even n and p = 1/2, P(X <= n/2) = 1/2 + P(X = n/2)/2 >= 1/2 and
    # P(X <= n/2 - 1) = 1/2 - P(X = n/2)/2 < 1/2: the median n/2 is the answer
    assert ev("=BINOM.INV(1E7,0.5,0.5)") == 5e6
    assert ev("=CRITBINOM(1E7,0.5,0.5)") == 5e6
    # [hand] any alpha at most P(X = 0) = (1-p)^n is reached at k = 0
    assert ev("=BINOM.INV(200000,0.00001,0.1)") == 0.0


def test_hypgeom_dist_cumulative_with_a_huge_population():
    # [hand] n = K = N/2 makes X symmetric about n/2 = 5E6, so
    # P(X <= 5E6) = 1/2 + P(X = 5E6)/2; and P(X = 5E6) is close to the normal density
    # 1/sqrt(2 pi var), var = n (K/N)(1 - K/N)(N - n)/(N - 1)
    pmf = ev("=HYPGEOM.DIST(5E6,1E7,1E7,2E7,FALSE)")
    var = 1e7 * 0.25 * (1e7 / (2e7 - 1))
    assert pmf == pytest.approx(1 / math.sqrt(2 * math.pi * var), rel=1e-3)
    cdf = ev("=HYPGEOM.DIST(5E6,1E7,1E7,2E7,TRUE)")
    # (each term goes through lgamma of numbers near 3e8, whose last bits are ~6e-8)
    assert cdf == pytest.approx(0.5 + pmf / 2, rel=1e-7)
    # [hand] far in the lower tail the sum is 0 to double precision; far up, 1
    assert ev("=HYPGEOM.DIST(4E6,1E7,1E7,2E7,TRUE)") == 0.0
    assert ev("=HYPGEOM.DIST(6E6,1E7,1E7,2E7,TRUE)") == 1.0


def test_beta_inv_with_extreme_shapes_is_an_error_not_a_hang():
    # [bound] the incomplete beta's continued fraction does not converge for a = 1E300
    assert isinstance(ev("=BETA.INV(0.5,1E300,1E-300)"), XLError)


def test_vdb_over_millions_of_periods_is_an_error_not_a_hang():
    # [bound] xleval walks VDB's periods one by one and stops past a million
    assert isinstance(ev("=VDB(100,1,1E9,0,1E9)"), XLError)
    assert isinstance(ev("=VDB(100,1,1E9,0,1E9,2,TRUE)"), XLError)
    # [hand] factor 1, life 2E6: the first period's declining balance, 100 * 1/2E6, is
    # above straight line's 99/2E6
    assert ev("=VDB(100,1,2E6,0,1,1)") == pytest.approx(100 / 2e6, rel=1e-12)


# ---------------------------------------------------------------------------------------
# text: Excel's 32,767-character limit
# ---------------------------------------------------------------------------------------

def test_concatenation_operator_past_the_text_limit_is_value_error():
    # [doc] a cell holds at most 32,767 characters ("Excel specifications and limits");
    # like CONCAT ("If the resulting string exceeds 32767 characters, CONCAT returns the
    # #VALUE! error"), & gives #VALUE! past it
    assert ev('=REPT("a",30000)&REPT("b",3000)') == VALUE
    assert ev('=LEN(REPT("a",32766)&"b")') == 32767.0
    assert ev('=LEN(REPT("a",32767)&"")') == 32767.0
    assert ev('=REPT("a",32767)&"b"') == VALUE


def test_valuetotext_past_the_text_limit_is_value_error():
    # [hand] format 1 doubles each quote and adds two: 2 * 20000 + 2 > 32,767
    assert ev('=VALUETOTEXT(REPT("""",20000),1)') == VALUE
    assert ev('=LEN(VALUETOTEXT(REPT("""",10000),1))') == 20002.0
