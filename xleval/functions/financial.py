"""Financial functions: time value of money, cash-flow rates, depreciation, T-bills and the
securities (bond) family.

Functions that came from the Analysis ToolPak (XNPV, XIRR, CUMIPMT, EFFECT, the securities
functions...) are registered with `atp`: TRUE/FALSE arguments are #VALUE! and a multi-cell
reference where one value is expected is #VALUE! in array formulas.
"""
from __future__ import annotations

import math

from .. import dates as D
from .. import values as V
from ..values import Array, XLError
from .datetime import atp, date_arg, days360, is1904, yearfrac
from .registry import ARRAY, BOOL, NUMBER, NUMBERS, SCALAR, xl

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _n(cx, v, default=None) -> float:
    """A numeric ATP argument (TRUE/FALSE -> #VALUE!); blank -> default or 0."""
    if v is None and default is not None:
        return default
    return date_arg(cx, v, atp=True)


def _trunc(x: float) -> int:
    if not math.isfinite(x):
        raise V.NUM
    return int(x) if x >= 0 else -int(-x)


def _type(t) -> int:
    return 0 if not t else 1


def _pow1p(rate: float, n: float) -> float:
    """(1 + rate) ** n with Excel's #NUM! for an undefined power."""
    base = 1.0 + rate
    if base < 0 and n != math.floor(n):
        raise V.NUM
    if base == 0 and n < 0:
        raise V.DIV0
    return base ** n


def _fv(rate, nper, pmt, pv, t):
    if rate == 0:
        return -(pv + pmt * nper)
    f = _pow1p(rate, nper)
    return -(pv * f + pmt * (1 + rate * t) * (f - 1) / rate)


def _pmt(rate, nper, pv, fv, t):
    if rate == 0:
        if nper == 0:
            raise V.DIV0
        return -(pv + fv) / nper
    f = _pow1p(rate, nper)
    if f == 1:
        raise V.NUM
    return -(fv + pv * f) * rate / ((1 + rate * t) * (f - 1))


def _pv(rate, nper, pmt, fv, t):
    if rate == 0:
        return -(fv + pmt * nper)
    f = _pow1p(rate, nper)
    return -(fv + pmt * (1 + rate * t) * (f - 1) / rate) / f


def _ipmt(rate, per, nper, pv, fv, t):
    pmt = _pmt(rate, nper, pv, fv, t)
    if t == 1:
        if per == 1:
            return 0.0
        return (_fv(rate, per - 2, pmt, pv, 1) - pmt) * rate
    return _fv(rate, per - 1, pmt, pv, 0) * rate


# ---------------------------------------------------------------------------------------
# time value of money
# ---------------------------------------------------------------------------------------

@xl("PV", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def PV(rate, nper, pmt, fv=0.0, type_=0.0):
    return _pv(rate, nper, pmt, fv, _type(type_))


@xl("FV", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def FV(rate, nper, pmt, pv=0.0, type_=0.0):
    return _fv(rate, nper, pmt, pv, _type(type_))


@xl("PMT", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def PMT(rate, nper, pv, fv=0.0, type_=0.0):
    return _pmt(rate, nper, pv, fv, _type(type_))


def _check_per(per, nper):
    if per < 1 or per >= nper + 1:
        raise V.NUM


@xl("IPMT", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def IPMT(rate, per, nper, pv, fv=0.0, type_=0.0):
    _check_per(per, nper)
    return _ipmt(rate, per, nper, pv, fv, _type(type_))


@xl("PPMT", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def PPMT(rate, per, nper, pv, fv=0.0, type_=0.0):
    _check_per(per, nper)
    t = _type(type_)
    return _pmt(rate, nper, pv, fv, t) - _ipmt(rate, per, nper, pv, fv, t)


@xl("NPER", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def NPER(rate, pmt, pv, fv=0.0, type_=0.0):
    t = _type(type_)
    if rate == 0:
        if pmt == 0:
            return V.NUM
        return -(pv + fv) / pmt
    if rate <= -1:
        return V.NUM
    num = pmt * (1 + rate * t) - fv * rate
    den = pv * rate + pmt * (1 + rate * t)
    if den == 0:
        return V.NUM
    q = num / den
    if q <= 0:
        return V.NUM
    return math.log(q) / math.log1p(rate)


def _rate_f(r, n, pmt, pv, fv, t):
    """TVM balance and its derivative at rate r."""
    if abs(r) < 1e-12:
        f = pv + pmt * n + fv
        df = pv * n + pmt * (n * (n - 1) / 2 + t * n)
        return f, df
    g = _pow1p(r, n)
    dg = n * _pow1p(r, n - 1)
    a = (g - 1) / r
    da = (dg * r - (g - 1)) / (r * r)
    f = pv * g + pmt * (1 + r * t) * a + fv
    df = pv * dg + pmt * (t * a + (1 + r * t) * da)
    return f, df


@xl("RATE", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def RATE(nper, pmt, pv, fv=0.0, type_=0.0, guess=0.1):
    t = _type(type_)
    if nper <= 0:
        return V.NUM
    r = guess
    for _ in range(100):
        try:
            f, df = _rate_f(r, nper, pmt, pv, fv, t)
        except (XLError, OverflowError, ZeroDivisionError):
            return V.NUM
        if df == 0 or not math.isfinite(f):
            return V.NUM
        nr = r - f / df
        if not math.isfinite(nr) or nr <= -1:
            return V.NUM
        if abs(nr - r) < 1e-10 * max(1.0, abs(nr)):
            return nr
        r = nr
    return V.NUM


@xl("NPV", NUMBER, NUMBERS)
def NPV(rate, values):
    if rate == -1:
        return V.DIV0
    total = 0.0
    f = 1.0
    for v in values:
        f *= 1 + rate
        total += v / f
    return total


def _cash_numbers(arr, err=None) -> list[float]:
    """The numbers of a values array (IRR/MIRR): text, logicals and blanks are skipped;
    an error makes the result `err` (or that error)."""
    out = []
    for v in (arr.flat() if isinstance(arr, Array) else [arr]):
        if isinstance(v, XLError):
            raise err if err is not None else v
        if isinstance(v, float) and not isinstance(v, bool):
            out.append(v)
    return out


def _npv_f(values: list[float], r: float) -> tuple[float, float]:
    """NPV of values at periods 0, 1, 2... and its derivative with respect to r."""
    f = 0.0
    df = 0.0
    base = 1.0 + r
    p = 1.0
    for i, v in enumerate(values):
        f += v / p
        if i:
            df -= i * v / (p * base)
        p *= base
    return f, df


def _newton(values, r):
    for _ in range(50):
        if r <= -1 or not math.isfinite(r):
            return None
        try:
            f, df = _npv_f(values, r)
        except (OverflowError, ZeroDivisionError):
            return None
        if df == 0 or not math.isfinite(f) or not math.isfinite(df):
            return None
        nr = r - f / df
        if abs(nr - r) <= 1e-13 * max(1.0, abs(nr)):
            return nr if nr > -1 else None
        r = nr
    return None


def _irr(values: list[float], guess: float) -> float:
    if not any(v > 0 for v in values) or not any(v < 0 for v in values):
        raise V.NUM
    r = _newton(values, guess)
    if r is not None:
        return r
    # Newton wandered off: bracket a root on a grid of rates, nearest to the guess first
    grid = sorted({-0.999, -0.99, -0.95, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.2,
                   -0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
                   10.0, 20.0, 50.0, 100.0, 1000.0})
    pts = []
    for x in grid:
        try:
            pts.append((x, _npv_f(values, x)[0]))
        except (OverflowError, ZeroDivisionError):
            continue
    brackets = [(a, b) for (a, fa), (b, fb) in zip(pts, pts[1:])
                if math.isfinite(fa) and math.isfinite(fb) and (fa > 0) != (fb > 0)]
    if not brackets:
        raise V.NUM
    a, b = min(brackets, key=lambda ab: min(abs(ab[0] - guess), abs(ab[1] - guess)))
    fa = _npv_f(values, a)[0]
    for _ in range(200):
        m = (a + b) / 2
        fm = _npv_f(values, m)[0]
        if (fm > 0) == (fa > 0):
            a, fa = m, fm
        else:
            b = m
        if b - a < 1e-15 * max(1.0, abs(m)):
            break
    r = _newton(values, (a + b) / 2)
    return r if r is not None else (a + b) / 2


@xl("IRR", ARRAY, NUMBER)
def IRR(values, guess=0.1):
    return _irr(_cash_numbers(values, V.VALUE), guess)


@xl("MIRR", ARRAY, NUMBER, NUMBER)
def MIRR(values, finance_rate, reinvest_rate):
    vals = _cash_numbers(values)
    n = len(vals)
    if n < 2:
        return V.DIV0
    pv_neg = 0.0
    fv_pos = 0.0
    for i, v in enumerate(vals):
        if v < 0:
            pv_neg += v / (1 + finance_rate) ** i
        elif v > 0:
            fv_pos += v * (1 + reinvest_rate) ** (n - 1 - i)
    if pv_neg == 0 or fv_pos == 0:
        return V.DIV0
    q = -fv_pos / pv_neg
    if q <= 0:
        return V.NUM
    return q ** (1.0 / (n - 1)) - 1


def _flows(cx, values, dates_):
    """(values, day offsets from the first date) of XNPV/XIRR."""
    vals = list(values.flat()) if isinstance(values, Array) else [values]
    ds = list(dates_.flat()) if isinstance(dates_, Array) else [dates_]
    if len(vals) != len(ds):
        raise V.NUM
    for d in ds:                       # Excel reports an error in the dates first
        if isinstance(d, XLError):
            raise d
    out_v: list[float] = []
    out_d: list[int] = []
    for v, d in zip(vals, ds):
        if isinstance(v, XLError):
            raise v
        if isinstance(v, bool) or isinstance(d, bool):
            raise V.VALUE
        if v is None or d is None or isinstance(v, str) or isinstance(d, str):
            if isinstance(d, str) and V.text_to_number(d) is None:
                raise V.VALUE
            continue
        if d < 0:
            raise V.NUM
        out_v.append(float(v))
        out_d.append(int(math.floor(d)))
    if not out_v:
        raise V.NUM
    first = out_d[0]
    offs = []
    for d in out_d:
        if d < first:
            raise V.NUM
        offs.append(d - first)
    return out_v, offs


def _xnpv(rate, vals, offs):
    base = 1.0 + rate
    return sum(v / base ** (o / 365.0) for v, o in zip(vals, offs))


@atp("XNPV", SCALAR, ARRAY, ARRAY, ctx=True)
def XNPV(cx, rate, values, dates_):
    r = _n(cx, rate)
    if r <= 0:
        return V.NUM
    vals, offs = _flows(cx, values, dates_)
    return _xnpv(r, vals, offs)


def _xirr_f(vals, offs):
    def f(r):
        try:
            return _xnpv(r, vals, offs)
        except (OverflowError, ZeroDivisionError):
            return math.nan
    return f


@atp("XIRR", ARRAY, ARRAY, SCALAR, ctx=True)
def XIRR(cx, values, dates_, guess=0.1):
    g = 0.1 if guess is None else _n(cx, guess)
    vals, offs = _flows(cx, values, dates_)
    if not any(v > 0 for v in vals) or not any(v < 0 for v in vals):
        return V.NUM
    f = _xirr_f(vals, offs)
    # Excel brackets the rate between 0 and the guess (doubling the guess until the sign
    # of XNPV changes) and bisects until the bracket is narrower than 1e-8 (relative above
    # 1), returning the last midpoint; this reproduces its results digit for digit.
    a, fa = 0.0, f(0.0)
    if fa == 0:
        return 0.0
    b = g if g != 0 else 0.1
    fb = f(b)
    steps = 0
    while not (math.isfinite(fb) and (fb > 0) != (fa > 0)):
        if b <= -1 or steps > 200 or abs(b) > 1e15 or not math.isfinite(fb):
            b = None
            break
        if fb == 0:
            return b
        a, fa = b, fb
        b *= 2
        fb = f(b) if b > -1 else math.nan
        steps += 1
    if b is None:
        # no bracket above: look between -1 and 0
        a, fa = 0.0, f(0.0)
        b = -0.5
        fb = f(b)
        steps = 0
        while not (math.isfinite(fb) and (fb > 0) != (fa > 0)):
            if steps > 60:
                return V.NUM
            b = (b - 1) / 2
            fb = f(b)
            steps += 1
    lo, hi, flo = a, b, fa
    for _ in range(400):
        mid = (lo + hi) / 2
        fm = f(mid)
        if not math.isfinite(fm):
            return V.NUM
        if fm == 0:
            return mid
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
        if abs(hi - lo) < 1e-8 * max(1.0, abs(mid)):
            return mid
    return V.NUM


# ---------------------------------------------------------------------------------------
# cumulative payments, rates
# ---------------------------------------------------------------------------------------

def _cum(cx, rate, nper, pv, start, end, type_, principal):
    r = _n(cx, rate)
    n = _n(cx, nper)
    p = _n(cx, pv)
    s = _n(cx, start)
    e = _n(cx, end)
    t = _n(cx, type_)
    if t not in (0, 1):
        raise V.NUM
    t = int(t)
    # Excel truncates both periods to integers (MS-OI29500 2.1.918): 2.5 starts at 2
    s = _trunc(s)
    e = _trunc(e)
    if r <= 0 or n <= 0 or p <= 0 or s < 1 or e < 1 or s > e or e > n:
        raise V.NUM
    total = 0.0
    pmt = _pmt(r, n, p, 0.0, t)
    for per in range(s, e + 1):
        ip = _ipmt(r, per, n, p, 0.0, t)
        total += (pmt - ip) if principal else ip
    return total


@atp("CUMIPMT", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def CUMIPMT(cx, rate, nper, pv, start_period, end_period, type_):
    return _cum(cx, rate, nper, pv, start_period, end_period, type_, False)


@atp("CUMPRINC", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def CUMPRINC(cx, rate, nper, pv, start_period, end_period, type_):
    return _cum(cx, rate, nper, pv, start_period, end_period, type_, True)


@atp("EFFECT", SCALAR, SCALAR, ctx=True)
def EFFECT(cx, nominal_rate, npery):
    r = _n(cx, nominal_rate)
    p = _trunc(_n(cx, npery))
    if r <= 0 or p < 1:
        return V.NUM
    return (1 + r / p) ** p - 1


@atp("NOMINAL", SCALAR, SCALAR, ctx=True)
def NOMINAL(cx, effect_rate, npery):
    r = _n(cx, effect_rate)
    p = _trunc(_n(cx, npery))
    if r <= 0 or p < 1:
        return V.NUM
    return p * ((1 + r) ** (1.0 / p) - 1)


@xl("ISPMT", NUMBER, NUMBER, NUMBER, NUMBER)
def ISPMT(rate, per, nper, pv):
    if nper == 0:
        return V.DIV0
    return pv * rate * (per / nper - 1)


@atp("FVSCHEDULE", SCALAR, ARRAY, ctx=True)
def FVSCHEDULE(cx, principal, schedule):
    p = _n(cx, principal)
    for v in schedule.flat():
        if v is None:
            continue
        if isinstance(v, XLError):
            raise v
        if isinstance(v, bool):
            raise V.VALUE
        p *= 1 + _n(cx, v)
    return p


def _dollar_digits(f: int) -> float:
    return 10.0 ** math.ceil(math.log10(f)) if f > 1 else 1.0


@atp("DOLLARDE", SCALAR, SCALAR, ctx=True)
def DOLLARDE(cx, fractional_dollar, fraction):
    x = _n(cx, fractional_dollar)
    f = _trunc(_n(cx, fraction))
    if f < 0:
        return V.NUM
    if f == 0:
        return V.DIV0
    whole = float(_trunc(x))
    frac = x - whole
    return whole + frac * _dollar_digits(f) / f


@atp("DOLLARFR", SCALAR, SCALAR, ctx=True)
def DOLLARFR(cx, decimal_dollar, fraction):
    x = _n(cx, decimal_dollar)
    f = _trunc(_n(cx, fraction))
    if f < 0:
        return V.NUM
    if f == 0:
        return V.DIV0
    whole = float(_trunc(x))
    frac = x - whole
    return whole + frac * f / _dollar_digits(f)


@xl("PDURATION", NUMBER, NUMBER, NUMBER)
def PDURATION(rate, pv, fv):
    if rate <= 0 or pv <= 0 or fv <= 0:
        return V.NUM
    return (math.log(fv) - math.log(pv)) / math.log1p(rate)


@xl("RRI", NUMBER, NUMBER, NUMBER)
def RRI(nper, pv, fv):
    if nper <= 0 or pv == 0:
        return V.NUM
    q = fv / pv
    if q < 0:
        return V.NUM
    return q ** (1.0 / nper) - 1


# ---------------------------------------------------------------------------------------
# depreciation
# ---------------------------------------------------------------------------------------

@xl("SLN", NUMBER, NUMBER, NUMBER)
def SLN(cost, salvage, life):
    if life == 0:
        return V.DIV0
    return (cost - salvage) / life


@xl("SYD", NUMBER, NUMBER, NUMBER, NUMBER)
def SYD(cost, salvage, life, per):
    if life <= 0 or per <= 0 or per > life:
        return V.NUM
    return (cost - salvage) * (life - per + 1) * 2 / (life * (life + 1))


@xl("DB", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def DB(cost, salvage, life, period, month=12.0):
    month = _trunc(month)
    period = _trunc(period)
    if cost < 0 or salvage < 0 or life <= 0 or period <= 0 or month < 1 or month > 12:
        return V.NUM
    if period > life + 1 or (period > life and month == 12):
        return V.NUM
    if cost == 0:
        return 0.0
    rate = round(1 - (salvage / cost) ** (1.0 / life), 3)
    total = 0.0
    dep = cost * rate * month / 12
    if period == 1:
        return dep
    total = dep
    for p in range(2, period + 1):
        if p == life + 1:
            dep = (cost - total) * rate * (12 - month) / 12
        else:
            dep = (cost - total) * rate
            if total + dep == total:
                # the balance no longer moves, so each later period repeats this one: stop
                # (DB(100, 1, 1E9, 1E9) would otherwise loop a billion times)
                if period == life + 1:
                    dep = (cost - total) * rate * (12 - month) / 12
                break
        total += dep
    return dep


def _ddb(cost, salvage, life, period, factor):
    rate = factor / life
    if rate >= 1:
        rate = 1.0
        old = cost if period == 1 else 0.0
    else:
        old = cost * (1 - rate) ** (period - 1)
    new = cost * (1 - rate) ** period
    dep = old - salvage if new < salvage else old - new
    return max(dep, 0.0)


@xl("DDB", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def DDB(cost, salvage, life, period, factor=2.0):
    if cost < 0 or salvage < 0 or life <= 0 or period <= 0 or factor <= 0 or period > life:
        return V.NUM
    return _ddb(cost, salvage, life, period, factor)


def _close(a, b):
    return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def _vdb_schedule(cost, salvage, life, factor, offset, until):
    """Excel's VDB schedule: [(period start, length, depreciation)], double-declining
    balance switching to straight line (over the remaining life) once that is larger. With
    a fractional start the periods are shifted so that one begins at the start: the first
    period is `offset` long and its depreciation prorated."""
    rate = min(factor / life, 1.0)
    out = []
    book = cost
    t = 0.0
    sl_rate = None
    while t < life - 1e-12 and t < until:
        length = offset if (not out and offset > 0) else 1.0
        length = min(length, life - t)
        if sl_rate is None:
            ddb = min(book * rate * length, max(book - salvage, 0.0))
            sl = (book - salvage) / (life - t) * length
            if sl > ddb:
                sl_rate = (book - salvage) / (life - t)
                dep = sl
            else:
                dep = ddb
        else:
            dep = sl_rate * length
        out.append((t, length, dep))
        book -= dep
        t += length
    return out


_VDB_MAX_PERIODS = 1_000_000


@xl("VDB", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER, NUMBER, BOOL)
def VDB(cost, salvage, life, start_period, end_period, factor=2.0, no_switch=False):
    if (cost < 0 or salvage < 0 or life <= 0 or start_period < 0 or end_period < start_period
            or end_period > life or factor <= 0):
        return V.NUM
    if end_period > _VDB_MAX_PERIODS:
        # both ways below walk the periods one by one up to end_period: VDB(100, 1, 1E9, 0,
        # 1E9) looped for hours. #NUM! past a million periods (a bound of ours)
        return V.NUM
    s0 = math.floor(start_period)
    e0 = math.ceil(end_period)
    if _close(start_period, round(start_period)):
        s0 = round(start_period)
    if _close(end_period, round(end_period)):
        e0 = round(end_period)
    if no_switch:
        total = 0.0
        for i in range(int(s0) + 1, int(e0) + 1):
            term = _ddb(cost, salvage, life, i, factor)
            if i == s0 + 1:
                term *= min(end_period, s0 + 1) - start_period
            elif i == e0:
                term *= end_period + 1 - e0
            total += term
        return total
    offset = start_period - math.floor(start_period)
    if _close(offset, 0.0) or _close(offset, 1.0):
        offset = 0.0
    total = 0.0
    for t, length, dep in _vdb_schedule(cost, salvage, life, factor, offset, end_period):
        lo = max(t, start_period)
        hi = min(t + length, end_period)
        if hi > lo:
            total += dep * (hi - lo) / length
    return total


# ---------------------------------------------------------------------------------------
# T-bills
# ---------------------------------------------------------------------------------------

def _tbill_days(cx, settlement, maturity):
    s = _serial(cx, settlement)
    m = _serial(cx, maturity)
    if s >= m:
        raise V.NUM
    d1904 = is1904(cx)
    y, mo, d = D.from_serial(s, d1904)
    if m > D.ymd_to_serial(y + 1, mo, d, d1904):
        raise V.NUM
    return m - s


@atp("TBILLEQ", SCALAR, SCALAR, SCALAR, ctx=True)
def TBILLEQ(cx, settlement, maturity, discount):
    dsm = _tbill_days(cx, settlement, maturity)
    r = _n(cx, discount)
    if r <= 0:
        return V.NUM
    if dsm <= 182:
        return 365 * r / (360 - r * dsm)
    # more than half a year: the bond-equivalent yield of a semi-annual coupon instrument
    price = 100 * (1 - r * dsm / 360)
    if price <= 0:
        return V.NUM
    t = dsm / 365
    a = t / 2 - 0.25
    disc = t * t - (2 * t - 1) * (1 - 100 / price)
    if disc < 0:
        return V.NUM
    return (-t + math.sqrt(disc)) / a / 2 if a else 365 * r / (360 - r * dsm)


@atp("TBILLPRICE", SCALAR, SCALAR, SCALAR, ctx=True)
def TBILLPRICE(cx, settlement, maturity, discount):
    dsm = _tbill_days(cx, settlement, maturity)
    r = _n(cx, discount)
    if r <= 0:
        return V.NUM
    p = 100 * (1 - r * dsm / 360)
    if p <= 0:
        return V.NUM
    return p


@atp("TBILLYIELD", SCALAR, SCALAR, SCALAR, ctx=True)
def TBILLYIELD(cx, settlement, maturity, pr):
    dsm = _tbill_days(cx, settlement, maturity)
    p = _n(cx, pr)
    if p <= 0:
        return V.NUM
    return (100 - p) / p * 360 / dsm


# ---------------------------------------------------------------------------------------
# securities: day counts and coupon schedules
# ---------------------------------------------------------------------------------------

def _serial(cx, v) -> int:
    x = _n(cx, v)
    if x < 0:
        raise V.NUM
    n = int(math.floor(x))
    if n > D.max_serial(is1904(cx)):
        raise V.NUM
    return n


def _basis(cx, v) -> int:
    b = 0 if v is None else _trunc(_n(cx, v))
    if b < 0 or b > 4:
        raise V.NUM
    return b


def _freq(cx, v) -> int:
    f = _trunc(_n(cx, v))
    if f not in (1, 2, 4):
        raise V.NUM
    return f


def _days(a: int, b: int, basis: int, d1904: bool) -> float:
    """Days from a to b under a day-count basis."""
    if basis == 0:
        return float(days360(a, b, False, d1904))
    if basis == 4:
        return float(days360(a, b, True, d1904))
    return float(b - a)


def _year_days(basis: int) -> float:
    return 365.0 if basis == 3 else 360.0 if basis in (0, 2, 4) else 365.0


def _shift(anchor: int, months: int, d1904: bool) -> int:
    """A coupon date `months` away from the anchor date (end-of-month anchors stay at
    month ends)."""
    y, m, d = D.from_serial(anchor, d1904)
    eom = D.is_last_day_of_month(anchor, d1904)
    m += months
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    dim = D.days_in_month(y, m, d1904)
    return D.ymd_to_serial(y, m, dim if eom else min(d, dim), d1904)


def _coupons(settle: int, mat: int, freq: int, d1904: bool):
    """(previous coupon date, next coupon date, number of coupons left)."""
    step = 12 // freq
    y1, m1, _ = D.from_serial(settle, d1904)
    y2, m2, _ = D.from_serial(mat, d1904)
    k = max(((y2 - y1) * 12 + (m2 - m1)) // step - 1, 0)
    while _shift(mat, -step * k, d1904) <= settle:
        k -= 1
    while _shift(mat, -step * (k + 1), d1904) > settle:
        k += 1
    ncd = _shift(mat, -step * k, d1904)
    pcd = _shift(mat, -step * (k + 1), d1904)
    return pcd, ncd, k + 1


class _Coupon:
    def __init__(self, cx, settlement, maturity, frequency, basis):
        self.d1904 = is1904(cx)
        self.settle = _serial(cx, settlement)
        self.mat = _serial(cx, maturity)
        self.freq = _freq(cx, frequency)
        self.basis = _basis(cx, basis)
        if self.settle >= self.mat:
            raise V.NUM
        self.pcd, self.ncd, self.num = _coupons(self.settle, self.mat, self.freq, self.d1904)

    def days_bs(self) -> float:
        return _days(self.pcd, self.settle, self.basis, self.d1904)

    def days(self) -> float:
        if self.basis == 1:
            return float(self.ncd - self.pcd)
        return (365.0 if self.basis == 3 else 360.0) / self.freq

    def days_nc(self) -> float:
        if self.basis in (0, 4):
            return self.days() - self.days_bs()
        return float(self.ncd - self.settle)


def _coup_fn(name, fn):
    def wrapper(cx, settlement, maturity, frequency, basis=None):
        return fn(_Coupon(cx, settlement, maturity, frequency, basis))
    atp(name, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)(wrapper)


_coup_fn("COUPDAYBS", lambda c: c.days_bs())
_coup_fn("COUPDAYS", lambda c: c.days())
_coup_fn("COUPDAYSNC", lambda c: c.days_nc())
_coup_fn("COUPNCD", lambda c: float(c.ncd))
_coup_fn("COUPPCD", lambda c: float(c.pcd))
_coup_fn("COUPNUM", lambda c: float(c.num))


def _price(c: _Coupon, rate: float, yld: float, redemption: float) -> float:
    f = c.freq
    e = c.days()
    a = c.days_bs()
    dsc = c.days_nc()
    n = c.num
    coupon = 100 * rate / f
    if n == 1:
        return (redemption + coupon) / (1 + dsc / e * yld / f) - coupon * a / e
    base = 1 + yld / f
    x = dsc / e
    total = redemption / base ** (n - 1 + x)
    for k in range(1, n + 1):
        total += coupon / base ** (k - 1 + x)
    return total - coupon * a / e


@atp("PRICE", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def PRICE(cx, settlement, maturity, rate, yld, redemption, frequency, basis=None):
    r = _n(cx, rate)
    y = _n(cx, yld)
    red = _n(cx, redemption)
    c = _Coupon(cx, settlement, maturity, frequency, basis)
    if r < 0 or y < 0 or red <= 0:
        return V.NUM
    return _price(c, r, y, red)


@atp("YIELD", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def YIELD(cx, settlement, maturity, rate, pr, redemption, frequency, basis=None):
    r = _n(cx, rate)
    p = _n(cx, pr)
    red = _n(cx, redemption)
    c = _Coupon(cx, settlement, maturity, frequency, basis)
    if r < 0 or p <= 0 or red <= 0:
        return V.NUM
    f = c.freq
    if c.num == 1:
        e, a, dsc = c.days(), c.days_bs(), c.days_nc()
        num = (red / 100 + r / f) - (p / 100 + a / e * r / f)
        den = p / 100 + a / e * r / f
        return num / den * f * e / dsc
    return _solve(lambda y: _price(c, r, y, red) - p, 0.05)


def _solve(fn, guess: float) -> float:
    """A root of fn near guess: Newton with a numeric derivative, bisection as fallback."""
    x = guess
    for _ in range(100):
        fx = fn(x)
        h = max(abs(x) * 1e-7, 1e-10)
        d = (fn(x + h) - fx) / h
        if d == 0 or not math.isfinite(d):
            break
        nx = x - fx / d
        if not math.isfinite(nx):
            break
        if abs(nx - x) < 1e-14 * max(1.0, abs(nx)):
            return nx
        x = nx
    else:
        return x
    # bisection over a wide bracket
    lo, hi = -0.99, 10.0
    flo, fhi = fn(lo), fn(hi)
    if (flo > 0) == (fhi > 0):
        raise V.NUM
    for _ in range(200):
        mid = (lo + hi) / 2
        fm = fn(mid)
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
    return (lo + hi) / 2


def _duration(c: _Coupon, coupon: float, yld: float) -> float:
    f = c.freq
    x = c.days_nc() / c.days()
    base = 1 + yld / f
    cf = 100 * coupon / f
    num = 0.0
    den = 0.0
    for k in range(1, c.num + 1):
        t = k - 1 + x
        amount = cf + (100 if k == c.num else 0)
        pv = amount / base ** t
        num += t / f * pv
        den += pv
    return num / den


@atp("DURATION", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def DURATION(cx, settlement, maturity, coupon, yld, frequency, basis=None):
    cp = _n(cx, coupon)
    y = _n(cx, yld)
    c = _Coupon(cx, settlement, maturity, frequency, basis)
    if cp < 0 or y < 0:
        return V.NUM
    return _duration(c, cp, y)


@atp("MDURATION", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def MDURATION(cx, settlement, maturity, coupon, yld, frequency, basis=None):
    cp = _n(cx, coupon)
    y = _n(cx, yld)
    c = _Coupon(cx, settlement, maturity, frequency, basis)
    if cp < 0 or y < 0:
        return V.NUM
    return _duration(c, cp, y) / (1 + y / c.freq)


def _span(cx, a, b, basis):
    """(settlement, maturity) serials and the year fraction between them."""
    s = _serial(cx, a)
    m = _serial(cx, b)
    if s >= m:
        raise V.NUM
    return s, m, yearfrac(s, m, basis, is1904(cx))


@atp("DISC", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def DISC(cx, settlement, maturity, pr, redemption, basis=None):
    p = _n(cx, pr)
    red = _n(cx, redemption)
    b = _basis(cx, basis)
    _, _, yf = _span(cx, settlement, maturity, b)
    if p <= 0 or red <= 0:
        return V.NUM
    return (red - p) / red / yf


@atp("PRICEDISC", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def PRICEDISC(cx, settlement, maturity, discount, redemption, basis=None):
    dsc = _n(cx, discount)
    red = _n(cx, redemption)
    b = _basis(cx, basis)
    _, _, yf = _span(cx, settlement, maturity, b)
    if dsc <= 0 or red <= 0:
        return V.NUM
    return red - dsc * red * yf


@atp("YIELDDISC", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def YIELDDISC(cx, settlement, maturity, pr, redemption, basis=None):
    p = _n(cx, pr)
    red = _n(cx, redemption)
    b = _basis(cx, basis)
    _, _, yf = _span(cx, settlement, maturity, b)
    if p <= 0 or red <= 0:
        return V.NUM
    return (red - p) / p / yf


@atp("INTRATE", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def INTRATE(cx, settlement, maturity, investment, redemption, basis=None):
    inv = _n(cx, investment)
    red = _n(cx, redemption)
    b = _basis(cx, basis)
    _, _, yf = _span(cx, settlement, maturity, b)
    if inv <= 0 or red <= 0:
        return V.NUM
    return (red - inv) / inv / yf


@atp("RECEIVED", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def RECEIVED(cx, settlement, maturity, investment, discount, basis=None):
    inv = _n(cx, investment)
    dsc = _n(cx, discount)
    b = _basis(cx, basis)
    _, _, yf = _span(cx, settlement, maturity, b)
    if inv <= 0 or dsc <= 0:
        return V.NUM
    q = 1 - dsc * yf
    if q <= 0:
        return V.NUM
    return inv / q


def _mat_parts(cx, settlement, maturity, issue, basis):
    """Year fractions issue->maturity, issue->settlement, settlement->maturity."""
    d1904 = is1904(cx)
    s = _serial(cx, settlement)
    m = _serial(cx, maturity)
    i = _serial(cx, issue)
    b = _basis(cx, basis)
    if s >= m or i >= s:
        raise V.NUM
    if b == 1:
        # actual/actual on the settlement year's length, as Excel does here
        y = D.from_serial(s, d1904)[0]
        yd = 366.0 if D.is_leap(y, d1904) else 365.0
        return (m - i) / yd, (s - i) / yd, (m - s) / yd
    yd = _year_days(b)
    return (_days(i, m, b, d1904) / yd, _days(i, s, b, d1904) / yd,
            _days(s, m, b, d1904) / yd)


@atp("PRICEMAT", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def PRICEMAT(cx, settlement, maturity, issue, rate, yld, basis=None):
    r = _n(cx, rate)
    y = _n(cx, yld)
    dim, a, dsm = _mat_parts(cx, settlement, maturity, issue, basis)
    if r < 0 or y < 0:
        return V.NUM
    return (100 + dim * r * 100) / (1 + dsm * y) - a * r * 100


@atp("YIELDMAT", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def YIELDMAT(cx, settlement, maturity, issue, rate, pr, basis=None):
    r = _n(cx, rate)
    p = _n(cx, pr)
    dim, a, dsm = _mat_parts(cx, settlement, maturity, issue, basis)
    if r < 0 or p <= 0:
        return V.NUM
    base = p / 100 + a * r
    return ((1 + dim * r) - base) / base / dsm


@atp("ACCRINTM", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def ACCRINTM(cx, issue, settlement, rate, par=1000.0, basis=None):
    i = _serial(cx, issue)
    s = _serial(cx, settlement)
    r = _n(cx, rate)
    p = _n(cx, par, 1000.0)
    b = _basis(cx, basis)
    if r <= 0 or p <= 0 or i >= s:
        return V.NUM
    return p * r * yearfrac(i, s, b, is1904(cx))


@atp("ACCRINT", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def ACCRINT(cx, issue, first_interest, settlement, rate, par=1000.0, frequency=None,
            basis=None, calc_method=True):
    d1904 = is1904(cx)
    i = _serial(cx, issue)
    fi = _serial(cx, first_interest)
    s = _serial(cx, settlement)
    r = _n(cx, rate)
    p = _n(cx, par, 1000.0)
    if frequency is None:
        raise V.NUM
    f = _freq(cx, frequency)
    b = _basis(cx, basis)
    cm = True if calc_method is None else calc_method
    if isinstance(cm, str):
        cm = V.to_bool(cm)
        if isinstance(cm, XLError):
            raise cm
    elif not isinstance(cm, bool):
        cm = _n(cx, cm) != 0
    if r <= 0 or p <= 0 or i >= s:
        return V.NUM
    start = i
    if s > fi and not cm:
        start = fi
    step = 12 // f
    # quasi-coupon periods anchored on the first interest date
    k = 0
    while _shift(fi, step * k, d1904) > start:
        k -= 1
    total = 0.0
    while True:
        p0 = _shift(fi, step * k, d1904)
        p1 = _shift(fi, step * (k + 1), d1904)
        if p0 >= s:
            break
        a = max(p0, start)
        e = min(p1, s)
        if e > a:
            if b == 1:
                nl = float(p1 - p0)
            else:
                nl = _year_days(b) / f
            total += _days(a, e, b, d1904) / nl
        k += 1
    return p * r / f * total


# ---------------------------------------------------------------------------------------
# French depreciation (AMORLINC, AMORDEGRC)
# ---------------------------------------------------------------------------------------

def _amor_args(cx, cost, date_purchased, first_period, salvage, period, rate, basis):
    c = _n(cx, cost)
    dp = _serial(cx, date_purchased)
    fp = _serial(cx, first_period)
    sv = _n(cx, salvage)
    per = _trunc(_n(cx, period))
    r = _n(cx, rate)
    b = _basis(cx, basis)
    if b == 2:
        raise V.NUM
    if c < 0 or sv < 0 or sv > c or per < 0 or r <= 0 or dp > fp:
        raise V.NUM
    return c, dp, fp, sv, per, r, b


@atp("AMORLINC", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def AMORLINC(cx, cost, date_purchased, first_period, salvage, period, rate, basis=None):
    c, dp, fp, sv, per, r, b = _amor_args(cx, cost, date_purchased, first_period, salvage,
                                          period, rate, basis)
    one = c * r
    delta = c - sv
    first = yearfrac(dp, fp, b, is1904(cx)) * r * c
    if per == 0:
        return min(first, delta)
    full = int((delta - first) / one) if one else 0
    if per <= full:
        return one
    if per == full + 1:
        return max(delta - one * full - first, 0.0)
    return 0.0


@atp("AMORDEGRC", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def AMORDEGRC(cx, cost, date_purchased, first_period, salvage, period, rate, basis=None):
    c, dp, fp, sv, per, r, b = _amor_args(cx, cost, date_purchased, first_period, salvage,
                                          period, rate, basis)
    life = 1 / r
    if life < 3:
        coeff = 1.0
    elif life < 5:
        coeff = 1.5
    elif life <= 6:
        coeff = 2.0
    else:
        coeff = 2.5
    r *= coeff
    dep = float(round(yearfrac(dp, fp, b, is1904(cx)) * r * c))
    c -= dep
    rest = c - sv
    if per == 0:
        return dep
    for n in range(per):
        dep = float(round(r * c))
        rest -= dep
        if rest < 0:
            left = per - n
            if left == 0 or left == 1:
                return float(round(c * 0.5))
            return 0.0
        if dep == 0:
            # nothing left to depreciate at this rate: every later period is 0 too (stop
            # here; AMORDEGRC(100, 1, 2, 0, 1E9, 1E-300) looped a billion times)
            return 0.0
        c -= dep
    return dep


# ---------------------------------------------------------------------------------------
# securities with an odd first or last period (Microsoft's published formulas)
# ---------------------------------------------------------------------------------------

def _normal_length(start: int, end: int, basis: int, freq: int) -> float:
    """Normal length in days of the quasi-coupon period [start, end]."""
    if basis == 1:
        return float(end - start)
    return (365.0 if basis == 3 else 360.0) / freq


def _oddl_sums(cx, settle, mat, last, freq, basis):
    """Sums of DC/NL, A/NL and DSC/NL over the quasi-coupon periods from the last interest
    date to maturity."""
    d1904 = is1904(cx)
    step = 12 // freq
    dc = a = dsc = 0.0
    k = 0
    while True:
        q0 = _shift(last, step * k, d1904)
        q1 = _shift(last, step * (k + 1), d1904)
        if q0 >= mat:
            break
        nl = _normal_length(q0, q1, basis, freq)
        end = min(q1, mat)
        dc += _days(q0, end, basis, d1904) / nl
        if settle > q0:
            a += _days(q0, min(q1, settle), basis, d1904) / nl
        if end > settle:
            dsc += _days(max(q0, settle), end, basis, d1904) / nl
        k += 1
    return dc, a, dsc


def _oddl_args(cx, settlement, maturity, last_interest, frequency, basis):
    s = _serial(cx, settlement)
    m = _serial(cx, maturity)
    li = _serial(cx, last_interest)
    f = _freq(cx, frequency)
    b = _basis(cx, basis)
    if not (li < s < m):
        raise V.NUM
    return s, m, li, f, b


@atp("ODDLPRICE", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def ODDLPRICE(cx, settlement, maturity, last_interest, rate, yld, redemption, frequency,
              basis=None):
    r = _n(cx, rate)
    y = _n(cx, yld)
    red = _n(cx, redemption)
    s, m, li, f, b = _oddl_args(cx, settlement, maturity, last_interest, frequency, basis)
    if r < 0 or y < 0 or red <= 0:
        return V.NUM
    dc, a, dsc = _oddl_sums(cx, s, m, li, f, b)
    c = 100 * r / f
    return (red + dc * c) / (1 + dsc * y / f) - a * c


@atp("ODDLYIELD", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, ctx=True)
def ODDLYIELD(cx, settlement, maturity, last_interest, rate, pr, redemption, frequency,
              basis=None):
    r = _n(cx, rate)
    p = _n(cx, pr)
    red = _n(cx, redemption)
    s, m, li, f, b = _oddl_args(cx, settlement, maturity, last_interest, frequency, basis)
    if r < 0 or p <= 0 or red <= 0:
        return V.NUM
    dc, a, dsc = _oddl_sums(cx, s, m, li, f, b)
    c = 100 * r / f
    paid = p + a * c
    return ((red + dc * c) - paid) / paid * f / dsc


class _OddFirst:
    """The schedule of a security whose first coupon period is odd (short or long)."""

    def __init__(self, cx, settlement, maturity, issue, first_coupon, frequency, basis):
        self.d1904 = d1904 = is1904(cx)
        self.s = _serial(cx, settlement)
        self.m = _serial(cx, maturity)
        self.i = _serial(cx, issue)
        self.fc = _serial(cx, first_coupon)
        self.f = _freq(cx, frequency)
        self.b = _basis(cx, basis)
        if not (self.i < self.s < self.fc < self.m):
            raise V.NUM
        step = 12 // self.f
        b = self.b
        # regular coupons from the first coupon to maturity (inclusive of both)
        n = 0
        while _shift(self.fc, step * n, d1904) < self.m:
            n += 1
        if _shift(self.fc, step * n, d1904) != self.m:
            raise V.NUM
        self.n = n + 1
        # quasi-coupon periods of the odd period, latest first
        periods = []
        k = 0
        while True:
            q1 = _shift(self.fc, -step * k, d1904)
            q0 = _shift(self.fc, -step * (k + 1), d1904)
            periods.append((q0, q1))
            if q0 <= self.i:
                break
            k += 1
        self.periods = periods[::-1]
        q0, q1 = self.periods[-1]
        self.e_first = _normal_length(q0, q1, b, self.f)
        self.dfc = _days(self.i, self.fc, b, d1904)
        self.long = len(self.periods) > 1
        # the quasi-coupon period holding the settlement
        for idx, (q0, q1) in enumerate(self.periods):
            if q0 <= self.s < q1:
                self.nq = len(self.periods) - 1 - idx       # whole periods after it
                self.e = _normal_length(q0, q1, b, self.f)
                self.dsc = _days(self.s, q1, b, d1904)
                break

    def price(self, rate: float, yld: float, red: float) -> float:
        f = self.f
        c = 100 * rate / f
        base = 1 + yld / f
        d1904 = self.d1904
        if not self.long:
            e = self.e_first
            x = self.dsc / e
            a = _days(self.i, self.s, self.b, d1904)
            total = red / base ** (self.n - 1 + x)
            total += c * self.dfc / e / base ** x
            for k in range(2, self.n + 1):
                total += c / base ** (k - 1 + x)
            return total - c * a / e
        dc_sum = 0.0
        a_sum = 0.0
        for q0, q1 in self.periods:
            nl = _normal_length(q0, q1, self.b, f)
            start = max(q0, self.i)
            dc_sum += _days(start, q1, self.b, d1904) / nl
            if self.s > start:
                a_sum += _days(start, min(q1, self.s), self.b, d1904) / nl
        x = self.nq + self.dsc / self.e
        n_after = self.n - 1
        total = red / base ** (n_after + x)
        total += c * dc_sum / base ** x
        for k in range(1, n_after + 1):
            total += c / base ** (k + x)
        return total - c * a_sum


@atp("ODDFPRICE", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR,
     ctx=True)
def ODDFPRICE(cx, settlement, maturity, issue, first_coupon, rate, yld, redemption,
              frequency, basis=None):
    r = _n(cx, rate)
    y = _n(cx, yld)
    red = _n(cx, redemption)
    sched = _OddFirst(cx, settlement, maturity, issue, first_coupon, frequency, basis)
    if r < 0 or y < 0 or red <= 0:
        return V.NUM
    return sched.price(r, y, red)


@atp("ODDFYIELD", SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR, SCALAR,
     ctx=True)
def ODDFYIELD(cx, settlement, maturity, issue, first_coupon, rate, pr, redemption,
              frequency, basis=None):
    r = _n(cx, rate)
    p = _n(cx, pr)
    red = _n(cx, redemption)
    sched = _OddFirst(cx, settlement, maturity, issue, first_coupon, frequency, basis)
    if r < 0 or p <= 0 or red <= 0:
        return V.NUM
    return _solve(lambda y: sched.price(r, y, red) - p, 0.05)
