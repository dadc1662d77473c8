"""Statistical functions: bugs found by the differential run against LibreOffice
(benchmarks/lo_diff.py), fixed to Excel's documented behaviour. Expected values come from
Microsoft's function pages ([doc]) or are derived by hand from the documented definition
([hand]) with Python's math/statistics modules, never from xleval itself."""
import math
from statistics import NormalDist

import pytest

from .helpers import NUM, check, ev

_Z975 = NormalDist().inv_cdf(0.975)   # the 97.5% standard normal quantile, 1.95996...


def _normal_two_tail(t: float, df: float) -> float:
    """[hand] P(|T| > t) for Student's t with df degrees of freedom, from the large-df
    expansion F(t) = Phi(t) - phi(t) (t^3 + t) / (4 df) + O(df^-2) (Abramowitz & Stegun
    26.7.5); the omitted term is below 1e-15 relative for df >= 1E+8."""
    q = 0.5 * math.erfc(t / math.sqrt(2.0))
    phi = math.exp(-t * t / 2.0) / math.sqrt(2.0 * math.pi)
    return 2.0 * (q + phi * (t ** 3 + t) / (4.0 * df))


# --- Student's t with a huge deg_freedom ---------------------------------------------------------
# [doc] TDIST / T.DIST.2T / T.INV.2T (support.microsoft.com): the only documented bound is
# deg_freedom < 1 -> #NUM!, so a huge deg_freedom is a valid argument, and as df grows the
# t distribution tends to the standard normal. xleval's incomplete-beta form lost its digits
# there (TDIST(1.96,1E+15,2) was 0.0199, TINV(0.05,1E+15) 1.75; 1e-8 relative off at 1E+8).
@pytest.mark.parametrize("formula,expected", [
    ("=TDIST(1.96,1E+15,2)", math.erfc(1.96 / math.sqrt(2.0))),          # [hand] normal limit
    ("=T.DIST.2T(1.96,1E+15)", math.erfc(1.96 / math.sqrt(2.0))),        # [hand]
    ("=T.DIST.RT(1.96,1E+15)", 0.5 * math.erfc(1.96 / math.sqrt(2.0))),  # [hand]
    ("=TDIST(1.96,1E+15,1)", 0.5 * math.erfc(1.96 / math.sqrt(2.0))),    # [hand]
    ("=T.DIST(-1.96,1E+15,TRUE)", 0.5 * math.erfc(1.96 / math.sqrt(2.0))),  # [hand]
    ("=T.DIST(1.96,1E+15,FALSE)", math.exp(-1.96 ** 2 / 2) / math.sqrt(2 * math.pi)),  # [hand]
    ("=T.DIST.2T(1.96,1E+8)", _normal_two_tail(1.96, 1e8)),                # [hand] A&S 26.7.5
    ("=T.DIST.2T(1.96,1E+10)", _normal_two_tail(1.96, 1e10)),              # [hand]
    ("=T.DIST.2T(3.5,1E+9)", _normal_two_tail(3.5, 1e9)),                  # [hand]
    ("=TINV(0.05,1E+15)", _Z975),                                          # [hand]
    ("=T.INV.2T(0.05,1E+15)", _Z975),                                      # [hand]
    ("=T.INV(0.025,1E+15)", -_Z975),                                       # [hand]
    ("=CONFIDENCE.T(0.05,2.5,1E+15)", _Z975 * 2.5 / math.sqrt(1e15)),      # [hand] t * sd / sqrt(n)
])
def test_t_distribution_huge_df(formula, expected):
    check(ev(formula), expected)


def test_t_distribution_continuous_at_the_method_switch():
    # [hand] the two-tailed probability falls with df for t = 1.96 and barely moves from df
    # 99999 to 100000 (d/d(df) is about phi(t)(t^3+t)/(2 df^2) ~ 3e-11): no jump between the
    # incomplete-beta and the large-df method.
    lo = ev("=T.DIST.2T(1.96,99999)")
    hi = ev("=T.DIST.2T(1.96,100000)")
    assert 0 <= lo - hi < 1e-10
    # [doc] the documented examples at moderate df are unchanged
    assert ev("=TDIST(1.959999998,60,2)") == pytest.approx(0.054644930, abs=6e-10)


# --- PERCENTRANK with a large significance ------------------------------------------------------
# [doc] PERCENTRANK.INC / PERCENTRANK.EXC: "If significance < 1, ... returns the #NUM! error
# value" - no upper bound. A significance of 1000 digits keeps the full value; xleval raised
# an internal decimal error there (shown as #VALUE!).
# [hand] 35 lies halfway between 30 (inclusive rank 2/3) and 40 (rank 1): 5/6, shown with 15
# significant digits; exclusive ranks are 3/5 and 4/5: 0.7.
@pytest.mark.parametrize("formula,expected", [
    ("=PERCENTRANK({10,20,30,40},35,1000)", 0.833333333333333),
    ("=PERCENTRANK.INC({10,20,30,40},35,1E+15)", 0.833333333333333),
    ('=PERCENTRANK.INC({10,20,30,40},35,"1e3")', 0.833333333333333),
    ("=PERCENTRANK.EXC({10,20,30,40},35,1000)", 0.7),
    ("=PERCENTRANK({10,20,30,40},35,2)", 0.83),          # [hand] truncated, not rounded
    ("=PERCENTRANK({10,20,30,40},35,0)", NUM),           # [doc] significance < 1
])
def test_percentrank_large_significance(formula, expected):
    check(ev(formula), expected)
