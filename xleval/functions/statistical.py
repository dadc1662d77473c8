"""Excel's Statistical functions: aggregates (AVERAGE, COUNT, STDEV...), order statistics,
regression (LINEST...), and the probability distributions, written without scipy.

Argument rules (Excel's):
  * the "number1, number2, ..." functions (AVERAGE, STDEV, MEDIAN...) count only numbers
    inside references and arrays, coerce typed arguments, and fail on any error;
  * the "A" variants (AVERAGEA, STDEVA, MAXA...) also count text inside references as 0
    and TRUE/FALSE as 1/0;
  * array-typed parameters (LARGE, PERCENTILE, CORREL, LINEST...) are evaluated as arrays.

The shared numerical helpers (incomplete gamma/beta, inverse normal, percentiles...) are
also used by SUBTOTAL and AGGREGATE in math.py.
"""
from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from .registry import ANY, ARRAY, BOOL, INT, NUMBER, NUMBERS, RAW, REF, VALUES, as_array, xl

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_EPS = 1e-15


# =========================================================================================
# collecting arguments
# =========================================================================================

def nums_of_array(a) -> list[float]:
    """The numbers of an array argument (references already expanded): text, booleans and
    blanks are skipped, an error is raised."""
    out = []
    if not isinstance(a, Array):
        a = Array([[a]])
    for v in a.flat():
        if isinstance(v, float):
            out.append(v)
        elif isinstance(v, XLError):
            raise v
        elif isinstance(v, int) and not isinstance(v, bool):
            out.append(float(v))
    return out


def nums_of_raw(cx, a) -> list[float]:
    """Numbers of a reference or array argument (the RANK/AGGREGATE style)."""
    if isinstance(a, (Range, RefList)):
        out = []
        for v in cx.ev.iter_ref_values(a):
            if isinstance(v, float):
                out.append(v)
            elif isinstance(v, XLError):
                raise v
        return out
    if isinstance(a, Array):
        return nums_of_array(a)
    if a is None:
        return []
    n = V.to_number(a)
    if isinstance(n, XLError):
        raise n
    return [n]


def _a_value(v):
    """One value inside a reference/array for the A-functions (None: skipped)."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        return 0.0
    if isinstance(v, XLError):
        raise v
    return None


def numbers_a(cx, args) -> list[float]:
    """AVERAGEA/STDEVA/MAXA...: text in references counts as 0, booleans as 1/0."""
    out = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            for v in cx.ev.iter_ref_values(a):
                x = _a_value(v)
                if x is not None:
                    out.append(x)
        elif isinstance(a, Array):
            for v in a.flat():
                x = _a_value(v)
                if x is not None:
                    out.append(x)
        elif a is None:
            out.append(0.0)
        else:
            n = V.to_number(a)
            if isinstance(n, XLError):
                raise n
            out.append(n)
    return out


def first_error(values) -> None:
    """Raise the first error among values, as Excel's array statistics scan them: #NULL!
    (error code 0 inside Excel) is passed over like a non-number."""
    for v in values:
        if isinstance(v, XLError) and v != V.NULL:
            raise v


def paired(a: Array, b: Array, by_array: bool = False) -> tuple[list[float], list[float]]:
    """Paired numbers of two arrays with the same number of cells (pairs with a non-number
    skipped), and the error Excel reports: CORREL, SLOPE, COVARIANCE... check the sizes
    (#N/A), then look pair by pair (first value, then second), passing over a pair whose
    value is #NULL!; CHISQ.TEST (by_array) looks through the whole first array, then the
    second, before the sizes."""
    fa = list(a.flat())
    fb = list(b.flat())
    if by_array:
        first_error(fa)
        first_error(fb)
    else:
        if len(fa) != len(fb):
            raise V.NA
        for x, y in zip(fa, fb):
            if isinstance(x, XLError):
                if x == V.NULL:
                    continue
                raise x
            if isinstance(y, XLError) and y != V.NULL:
                raise y
    if len(fa) != len(fb):
        raise V.NA
    xs, ys = [], []
    for x, y in zip(fa, fb):
        if isinstance(x, float) and isinstance(y, float):
            xs.append(x)
            ys.append(y)
    return xs, ys


def nums_skip_null(a: Array) -> list[float]:
    vals = list(a.flat())
    first_error(vals)
    return [v for v in vals if isinstance(v, float)]


# =========================================================================================
# moments
# =========================================================================================

def total(xs) -> float:
    """Left-to-right summation, as Excel adds (its rounding errors included)."""
    t = 0.0
    for x in xs:
        t += x
    return t


def mean(xs: list[float]) -> float:
    if not xs:
        raise V.DIV0
    return total(xs) / len(xs)


def devsq(xs: list[float]) -> float:
    m = total(xs) / len(xs)
    return total((x - m) ** 2 for x in xs)


# Variances as Excel computes them, from the sums of the values and of their squares (not
# from the deviations, as DEVSQ does): the sample variance (Sxx - S*S/n) / (n - 1), the
# population variance (n*Sxx - S*S) / (n*n), both sums left to right. Checked bit for bit
# against Excel's cached values of the conformance corpus: 367 of 370 VAR/STDEV/VARA/
# STDEVPA/AGGREGATE/SUBTOTAL cells, against 311 for the two-pass formula (e.g. VAR(TRUE,
# FALSE,TRUE) is 0.33333333333333337, VARP(TRUE,FALSE,TRUE) 0.2222222222222222). Rounding can
# leave a tiny negative for equal values: that is 0.
def _sums(xs: list[float]) -> tuple[float, float]:
    s = q = 0.0
    for x in xs:
        s += x
        q += x * x
    return s, q


def var_s(xs: list[float]) -> float:
    n = len(xs)
    if n < 2:
        raise V.DIV0
    s, q = _sums(xs)
    v = (q - s * s / n) / (n - 1)
    return v if v > 0 else 0.0


def var_p(xs: list[float]) -> float:
    n = len(xs)
    if not n:
        raise V.DIV0
    s, q = _sums(xs)
    v = (n * q - s * s) / (n * n)
    return v if v > 0 else 0.0


def median(xs: list[float]) -> float:
    if not xs:
        raise V.NUM
    s = sorted(xs)
    n = len(s)
    h = n // 2
    if n % 2:
        return s[h]
    return (s[h - 1] + s[h]) / 2


def mode_sngl(xs: list[float]) -> float:
    """The most frequent value; among equally frequent ones the first to appear."""
    counts: dict[float, int] = {}
    for x in xs:
        counts[x] = counts.get(x, 0) + 1
    best, bc = None, 1
    for x in xs:
        c = counts[x]
        if c > bc:
            best, bc = x, c
    if best is None:
        raise V.NA
    return best


def large(xs: list[float], k: float) -> float:
    """The k-th largest (a fractional k rounds up: LARGE(x, 2.2) is the 3rd largest)."""
    n = len(xs)
    if n == 0 or k < 1 or k > n:
        raise V.NUM
    return sorted(xs, reverse=True)[math.ceil(_r15(k)) - 1]


def small(xs: list[float], k: float) -> float:
    """The k-th smallest, computed as Excel does as LARGE(x, n + 1 - k), so a fractional k
    rounds down."""
    n = len(xs)
    if n == 0 or k < 1 or k > n:
        raise V.NUM
    return large(xs, n + 1 - k)


def percentile_inc(xs: list[float], k: float) -> float:
    n = len(xs)
    if n == 0 or k < 0 or k > 1:
        raise V.NUM
    s = sorted(xs)
    h = (n - 1) * k
    i = int(math.floor(h))
    if i >= n - 1:
        return s[-1]
    return s[i] + (h - i) * (s[i + 1] - s[i])


def percentile_exc(xs: list[float], k: float) -> float:
    n = len(xs)
    if n == 0 or k <= 0 or k >= 1:
        raise V.NUM
    s = sorted(xs)
    h = (n + 1) * k
    h = _r15(h)
    if h < 1 or h > n:
        raise V.NUM
    i = int(math.floor(h))
    if i >= n:
        return s[-1]
    return s[i - 1] + (h - i) * (s[i] - s[i - 1])


def quartile_inc(xs: list[float], q: float) -> float:
    if q < 0 or q > 4:
        raise V.NUM
    return percentile_inc(xs, math.trunc(q) / 4)


def quartile_exc(xs: list[float], q: float) -> float:
    if q <= 0 or q >= 4:
        raise V.NUM
    q = math.trunc(q)
    if q <= 0 or q >= 4:
        raise V.NUM
    return percentile_exc(xs, q / 4)


def _r15(x: float) -> float:
    return V.round15(x)


# =========================================================================================
# special functions
# =========================================================================================

def _lentz_beta(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (DLMF 8.17.22), evaluated by the
    modified Lentz method."""
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 200000):
        m2 = 2 * m
        # even step
        num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2))
        d = 1.0 + num * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + num / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        h *= d * c
        # odd step
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))
        d = 1.0 + num * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + num / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    else:
        # no convergence (a or b near 1e300): #NUM!, rather than a meaningless h that an
        # inverse (BETA.INV(0.5, 1E300, 1E-300)) would ask for again and again for minutes
        raise V.NUM
    return h


def ibeta(a: float, b: float, x: float) -> tuple[float, float]:
    """Regularized incomplete beta I_x(a, b) and its complement 1 - I_x(a, b)."""
    if x <= 0.0:
        return 0.0, 1.0
    if x >= 1.0:
        return 1.0, 0.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        r = front * _lentz_beta(a, b, x) / a
        return r, 1.0 - r
    r = front * _lentz_beta(b, a, 1.0 - x) / b
    return 1.0 - r, r


def gammainc(a: float, x: float) -> tuple[float, float]:
    """Regularized lower and upper incomplete gamma functions P(a, x), Q(a, x)."""
    if x <= 0.0:
        return 0.0, 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        # series: P = e^-x x^a / Gamma(a) * sum x^n / (a (a+1) ... (a+n))
        term = 1.0 / a
        total = term
        ap = a
        for _ in range(100000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-17:
                break
        p = math.exp(log_front) * total
        return p, 1.0 - p
    # continued fraction for Q (Legendre), modified Lentz
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    q = math.exp(log_front) * h
    return 1.0 - q, q


def norm_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / _SQRT2)


def norm_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / _SQRT2PI


def norm_ppf(p: float) -> float:
    """Inverse of the standard normal distribution, to full double precision."""
    if p <= 0.0 or p >= 1.0:
        raise V.NUM
    if p > 0.5:
        return -norm_ppf(1.0 - p) if 1.0 - p > 0 else math.inf
    # p <= 0.5: start from Abramowitz & Stegun 26.2.23, then Halley steps on erfc
    t = math.sqrt(-2.0 * math.log(p))
    z = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t)
          / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t))
    for _ in range(6):
        e = 0.5 * math.erfc(-z / _SQRT2) - p
        u = e * _SQRT2PI * math.exp(0.5 * z * z)
        dz = u / (1.0 + 0.5 * z * u)
        z -= dz
        if abs(dz) <= 1e-16 * max(1.0, abs(z)):
            break
    return z


_T_HILL_DF = 1e5  # from here on Student's t uses Hill's normal transformation


def _t_two_tail_hill(t: float, df: float) -> float:
    """P(|T| > t) for large df by Hill's normal transformation (CACM Algorithm 395): the
    incomplete-beta form loses digits there to the cancelling lgamma terms and to rounding
    df / (df + t^2) near 1 (at df = 1E+15 it returned 0.0199 for t = 1.96 instead of 0.05).
    Agrees with the incomplete-beta form to ~1e-13 at df = 1000; its error falls with df."""
    a = df - 0.5
    b = 48.0 * a * a
    y = a * math.log1p(t * t / df)
    z = (((((-0.4 * y - 3.3) * y - 24.0) * y - 85.5) / (0.8 * y * y + 100.0 + b) + y + 3.0)
         / b + 1.0) * math.sqrt(y)
    return math.erfc(z / _SQRT2)


def t_cdf(t: float, df: float) -> float:
    if df >= _T_HILL_DF:
        tail = 0.5 * _t_two_tail_hill(abs(t), df)
    else:
        x = df / (df + t * t)
        tail = 0.5 * ibeta(df / 2.0, 0.5, x)[0]
    return 1.0 - tail if t > 0 else tail


def t_sf(t: float, df: float) -> float:
    return t_cdf(-t, df)


def _lgamma_step(z: float, a: float) -> float:
    """lgamma(z + a) - lgamma(z). For a huge z (>= 1e5) the two lgammas cancel and lose
    up to half their digits (all of them near 1E+15), so the difference is taken from
    Stirling's series term by term instead:
    (z - 1/2) log1p(a/z) + a log(z + a) - a + w(z + a) - w(z), w(z) = 1/(12z) - 1/(360z^3)."""
    if z < 1e5 or abs(a) > z:
        return math.lgamma(z + a) - math.lgamma(z)
    c = z + a
    return ((z - 0.5) * math.log1p(a / z) + a * math.log(c) - a
            + (1.0 / (12.0 * c) - 1.0 / (360.0 * c ** 3))
            - (1.0 / (12.0 * z) - 1.0 / (360.0 * z ** 3)))


def t_pdf(t: float, df: float) -> float:
    return math.exp(_lgamma_step(df / 2, 0.5)
                    - 0.5 * math.log(df * math.pi)
                    - (df + 1) / 2 * math.log1p(t * t / df))


def chi2_cdf(x: float, k: float) -> tuple[float, float]:
    return gammainc(k / 2.0, x / 2.0)


def chi2_pdf(x: float, k: float) -> float:
    if x == 0:
        if k < 2:
            raise V.NUM
        return 0.5 if k == 2 else 0.0
    return math.exp((k / 2 - 1) * math.log(x) - x / 2 - (k / 2) * math.log(2) - math.lgamma(k / 2))


def f_cdf(x: float, d1: float, d2: float) -> tuple[float, float]:
    if x <= 0:
        return 0.0, 1.0
    return ibeta(d1 / 2.0, d2 / 2.0, d1 * x / (d1 * x + d2))


def f_pdf(x: float, d1: float, d2: float) -> float:
    if x == 0:
        if d1 < 2:
            raise V.NUM
        return 1.0 if d1 == 2 else 0.0
    return math.exp(0.5 * (d1 * math.log(d1 * x) + d2 * math.log(d2) - (d1 + d2) * math.log(d1 * x + d2))
                    - math.log(x) - (math.lgamma(d1 / 2) + math.lgamma(d2 / 2) - math.lgamma((d1 + d2) / 2)))


def beta_pdf(x: float, a: float, b: float) -> float:
    if x == 0:
        if a < 1:
            raise V.NUM
        return b if a == 1 else 0.0
    if x == 1:
        if b < 1:
            raise V.NUM
        return a if b == 1 else 0.0
    return math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x)
                    + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))


def gamma_pdf(x: float, a: float, b: float) -> float:
    if x == 0:
        if a < 1:
            raise V.NUM
        return 1.0 / b if a == 1 else 0.0
    return math.exp((a - 1) * math.log(x) - x / b - math.lgamma(a) - a * math.log(b))


def solve_increasing(f, target: float, lo: float, hi: float, deriv=None,
                     x0: float | None = None, lower_bound: float = -math.inf,
                     upper_bound: float = math.inf) -> float:
    """x with f(x) = target for an increasing f: the bracket [lo, hi] is widened until it
    holds the root, then safeguarded Newton steps (or bisection) narrow it."""
    flo = f(lo) - target
    for _ in range(2000):
        if flo <= 0:
            break
        hi = lo
        lo = lo - 2 * (abs(lo) + 1) if lower_bound == -math.inf else lower_bound + (lo - lower_bound) / 2
        flo = f(lo) - target
    fhi = f(hi) - target
    for _ in range(2000):
        if fhi >= 0:
            break
        lo, flo = hi, fhi
        hi = hi + 2 * (abs(hi) + 1) if upper_bound == math.inf else upper_bound - (upper_bound - hi) / 2
        fhi = f(hi) - target
    if flo > 0 or fhi < 0:
        raise V.NUM
    x = x0 if x0 is not None and lo < x0 < hi else (lo + hi) / 2
    for _ in range(400):
        fx = f(x) - target
        if fx == 0:
            return x
        if fx < 0:
            lo = x
        else:
            hi = x
        nx = None
        if deriv is not None:
            try:
                d = deriv(x)
            except (XLError, ValueError, OverflowError, ZeroDivisionError):
                d = 0.0
            if d > 0 and math.isfinite(d):
                nx = x - fx / d
                if not (lo < nx < hi):
                    nx = None
        if nx is None:
            nx = (lo + hi) / 2
        if abs(nx - x) <= 1e-15 * max(abs(x), 1e-300) or hi - lo <= 1e-15 * max(abs(lo), abs(hi), 1e-300):
            return nx
        x = nx
    return x


# =========================================================================================
# basic aggregates
# =========================================================================================

@xl("AVERAGE", NUMBERS)
def AVERAGE(xs):
    return mean(xs)


@xl("AVERAGEA", VALUES, ctx=True)
def AVERAGEA(cx, args):
    return mean(numbers_a(cx, args))


@xl("MIN", NUMBERS)
def MIN(xs):
    return min(xs) if xs else 0.0


@xl("MAX", NUMBERS)
def MAX(xs):
    return max(xs) if xs else 0.0


@xl("MINA", VALUES, ctx=True)
def MINA(cx, args):
    xs = numbers_a(cx, args)
    return min(xs) if xs else 0.0


@xl("MAXA", VALUES, ctx=True)
def MAXA(cx, args):
    xs = numbers_a(cx, args)
    return max(xs) if xs else 0.0


def count_numbers(cx, args) -> int:
    n = 0
    for a in args:
        if isinstance(a, (Range, RefList)):
            for v in cx.ev.iter_ref_values(a):
                if isinstance(v, float):
                    n += 1
        elif isinstance(a, Array):
            for v in a.flat():
                if isinstance(v, float):
                    n += 1
        elif a is None or isinstance(a, (float, bool)):
            n += 1
        elif isinstance(a, str):
            if V.text_to_number(a) is not None:
                n += 1
    return n


def count_nonblank(cx, args) -> int:
    n = 0
    for a in args:
        if isinstance(a, (Range, RefList)):
            for _ in cx.ev.iter_ref_values(a):
                n += 1
        elif isinstance(a, Array):
            for v in a.flat():
                if v is not None:
                    n += 1
        else:
            n += 1
    return n


@xl("COUNT", VALUES, ctx=True)
def COUNT(cx, args):
    return float(count_numbers(cx, args))


@xl("COUNTA", VALUES, ctx=True)
def COUNTA(cx, args):
    return float(count_nonblank(cx, args))


@xl("COUNTBLANK", REF, ctx=True)
def COUNTBLANK(cx, ref):
    areas = ref.areas if isinstance(ref, RefList) else [ref]
    if len(areas) != 1:
        raise V.VALUE
    total = areas[0].nrows * areas[0].ncols
    filled = 0
    for v in cx.ev.iter_ref_values(areas[0]):
        if v != "":
            filled += 1
    return float(total - filled)


@xl("MEDIAN", NUMBERS)
def MEDIAN(xs):
    return median(xs)


def _mode_numbers(cx, args, strict: bool = False) -> list[float]:
    """MODE's arguments: numbers inside references and arrays; typed text is passed over
    and an omitted argument is #VALUE!. `strict` (the legacy MODE): an argument given
    directly, or a reference to one cell, must be a number: text (even "1"), a logical
    value or an empty cell is #VALUE!, in argument order with the errors."""
    out = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            if strict and isinstance(a, Range) and a.nrows == 1 and a.ncols == 1:
                a = cx.ev.value_at(a.sheet, a.r1, a.c1)
            else:
                for v in cx.ev.iter_ref_values(a):
                    if isinstance(v, float):
                        out.append(v)
                    elif isinstance(v, XLError):
                        raise v
                continue
        if isinstance(a, Array):
            out.extend(nums_of_array(a))
        elif a is None:
            raise V.VALUE
        elif isinstance(a, XLError):
            raise a
        elif isinstance(a, float):
            out.append(a)
        elif strict:
            raise V.VALUE
    return out


@xl("MODE.SNGL", VALUES, ctx=True)
def MODE_SNGL(cx, args):
    return mode_sngl(_mode_numbers(cx, args))


@xl("MODE", VALUES, ctx=True)
def MODE(cx, args):
    """The legacy MODE: MODE.SNGL, stricter about arguments given directly (Excel-saved
    workbooks: MODE(B8,"1",2,3) and MODE(B9,2,D7) with D7 empty are #VALUE!, where
    MODE.SNGL passes typed text over)."""
    return mode_sngl(_mode_numbers(cx, args, strict=True))


@xl("MODE.MULT", VALUES, ctx=True)
def MODE_MULT(cx, args):
    xs = _mode_numbers(cx, args)
    counts: dict[float, int] = {}
    for x in xs:
        counts[x] = counts.get(x, 0) + 1
    top = max(counts.values(), default=0)
    if top < 2:
        raise V.NA
    out, seen = [], set()
    for x in xs:
        if counts[x] == top and x not in seen:
            seen.add(x)
            out.append([x])
    return Array(out)


@xl("STDEV.S", NUMBERS, aliases=("STDEV",))
def STDEV_S(xs):
    return math.sqrt(var_s(xs))


@xl("STDEV.P", NUMBERS, aliases=("STDEVP",))
def STDEV_P(xs):
    return math.sqrt(var_p(xs))


@xl("STDEVA", VALUES, ctx=True)
def STDEVA(cx, args):
    return math.sqrt(var_s(numbers_a(cx, args)))


@xl("STDEVPA", VALUES, ctx=True)
def STDEVPA(cx, args):
    return math.sqrt(var_p(numbers_a(cx, args)))


@xl("VAR.S", NUMBERS, aliases=("VAR",))
def VAR_S(xs):
    return var_s(xs)


@xl("VAR.P", NUMBERS, aliases=("VARP",))
def VAR_P(xs):
    return var_p(xs)


@xl("VARA", VALUES, ctx=True)
def VARA(cx, args):
    return var_s(numbers_a(cx, args))


@xl("VARPA", VALUES, ctx=True)
def VARPA(cx, args):
    return var_p(numbers_a(cx, args))


@xl("AVEDEV", NUMBERS)
def AVEDEV(xs):
    if not xs:
        raise V.NUM
    m = total(xs) / len(xs)
    return total(abs(x - m) for x in xs) / len(xs)


@xl("DEVSQ", NUMBERS)
def DEVSQ(xs):
    if not xs:
        raise V.NUM
    return devsq(xs)


@xl("GEOMEAN", NUMBERS)
def GEOMEAN(xs):
    if not xs or any(x <= 0 for x in xs):
        raise V.NUM
    return math.exp(total(math.log(x) for x in xs) / len(xs))


@xl("HARMEAN", NUMBERS)
def HARMEAN(xs):
    if not xs or any(x <= 0 for x in xs):
        raise V.NUM
    return len(xs) / total(1.0 / x for x in xs)


@xl("KURT", NUMBERS)
def KURT(xs):
    n = len(xs)
    if n < 4:
        raise V.DIV0
    m = total(xs) / n
    s = math.sqrt(devsq(xs) / (n - 1))
    if s == 0:
        raise V.DIV0
    q = total(((x - m) / s) ** 4 for x in xs)
    return (n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * q
            - 3.0 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


@xl("SKEW", NUMBERS)
def SKEW(xs):
    n = len(xs)
    if n < 3:
        raise V.DIV0
    m = total(xs) / n
    s = math.sqrt(devsq(xs) / (n - 1))
    if s == 0:
        raise V.DIV0
    return n / ((n - 1) * (n - 2)) * total(((x - m) / s) ** 3 for x in xs)


@xl("SKEW.P", NUMBERS)
def SKEW_P(xs):
    n = len(xs)
    if n < 3:
        raise V.DIV0
    m = total(xs) / n
    s = math.sqrt(devsq(xs) / n)
    if s == 0:
        raise V.DIV0
    return total(((x - m) / s) ** 3 for x in xs) / n


# =========================================================================================
# order statistics
# =========================================================================================

def _kth_values(cx, arr) -> list[float]:
    """LARGE/SMALL's numbers: inside a reference or an array only the numbers count; a
    value typed directly is coerced, as Excel-saved poi FormulaEvalTestData_Copy.xlsx
    shows (LARGE(TRUE,1) is 1, LARGE("2.3",1) is 2.3; text that is no number: #VALUE!)."""
    if isinstance(arr, (Range, RefList)):
        return nums_of_array(cx.ev.ref_array(arr))
    if isinstance(arr, Array) or arr is None:
        return nums_of_array(arr)
    if isinstance(arr, XLError):
        raise arr
    n = V.to_number(arr)
    if isinstance(n, XLError):
        raise n
    return [n]


@xl("LARGE", RAW, NUMBER, ctx=True)
def LARGE(cx, arr, k):
    return large(_kth_values(cx, arr), k)


@xl("SMALL", RAW, NUMBER, ctx=True)
def SMALL(cx, arr, k):
    return small(_kth_values(cx, arr), k)


def _rank_values(cx, ref):
    if isinstance(ref, (Range, RefList)):
        out = []
        for v in cx.ev.iter_ref_values(ref):
            if isinstance(v, float):
                out.append(v)
        return out
    if isinstance(ref, Array):
        return [v for v in ref.flat() if isinstance(v, float)]
    raise V.VALUE


@xl("RANK.EQ", NUMBER, RAW, NUMBER, ctx=True, aliases=("RANK",))
def RANK_EQ(cx, x, ref, order=0.0):
    xs = _rank_values(cx, ref)
    if x not in xs:
        raise V.NA
    if order:
        return 1.0 + sum(1 for v in xs if v < x)
    return 1.0 + sum(1 for v in xs if v > x)


@xl("RANK.AVG", NUMBER, RAW, NUMBER, ctx=True)
def RANK_AVG(cx, x, ref, order=0.0):
    xs = _rank_values(cx, ref)
    ties = sum(1 for v in xs if v == x)
    if not ties:
        raise V.NA
    before = sum(1 for v in xs if (v < x if order else v > x))
    return before + (ties + 1) / 2.0


@xl("PERCENTILE.INC", ARRAY, NUMBER, aliases=("PERCENTILE",))
def PERCENTILE_INC(arr, k):
    return percentile_inc(nums_of_array(arr), k)


@xl("PERCENTILE.EXC", ARRAY, NUMBER)
def PERCENTILE_EXC(arr, k):
    return percentile_exc(nums_of_array(arr), k)


@xl("QUARTILE.INC", ARRAY, NUMBER, aliases=("QUARTILE",))
def QUARTILE_INC(arr, q):
    return quartile_inc(nums_of_array(arr), q)


@xl("QUARTILE.EXC", ARRAY, NUMBER)
def QUARTILE_EXC(arr, q):
    return quartile_exc(nums_of_array(arr), q)


def _trunc_digits(x: float, digits: int) -> float:
    """x rounded down to `digits` decimals, on its 15-digit decimal form."""
    d = Decimal(f"{x:.15g}")
    if -d.as_tuple().exponent <= digits:
        # already no more decimals than asked (a large significance such as 1000 would
        # otherwise overflow quantize's 28-digit context)
        return float(d)
    return float(d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_FLOOR))


def _percentrank(xs, x, sig, exclusive: bool):
    if sig is None:
        sig = 3
    if sig < 1:
        raise V.NUM
    n = len(xs)
    if n == 0:
        raise V.NUM
    s = sorted(xs)
    if x < s[0] or x > s[-1]:
        raise V.NA

    def rank_of(v):  # position of a value present in the data
        less = 0
        for y in s:
            if y < v:
                less += 1
            else:
                break
        if exclusive:
            return (less + 1) / (n + 1)
        return less / (n - 1) if n > 1 else 1.0

    if x in s:
        r = rank_of(x)
    else:
        lo = max(v for v in s if v < x)
        hi = min(v for v in s if v > x)
        rl, rh = rank_of(lo), rank_of(hi)
        r = rl + (x - lo) / (hi - lo) * (rh - rl)
    return _trunc_digits(r, int(sig))


@xl("PERCENTRANK.INC", ARRAY, NUMBER, INT, aliases=("PERCENTRANK",))
def PERCENTRANK_INC(arr, x, sig=None):
    return _percentrank(nums_of_array(arr), x, sig, False)


@xl("PERCENTRANK.EXC", ARRAY, NUMBER, INT)
def PERCENTRANK_EXC(arr, x, sig=None):
    return _percentrank(nums_of_array(arr), x, sig, True)


@xl("TRIMMEAN", ARRAY, NUMBER)
def TRIMMEAN(arr, percent):
    xs = nums_of_array(arr)
    if percent < 0 or percent >= 1:
        raise V.NUM
    n = len(xs)
    if n == 0:
        raise V.NUM
    k = int(math.floor(_r15(n * percent) / 2))
    s = sorted(xs)
    s = s[k:n - k]
    return total(s) / len(s)


@xl("FREQUENCY", ARRAY, ARRAY)
def FREQUENCY(data, bins):
    xs = nums_of_array(data)
    bs = nums_of_array(bins)
    if not bs:
        bs = [0.0]          # no bins at all: Excel counts as if there were one bin at 0
    order = sorted(range(len(bs)), key=lambda i: bs[i])
    counts = [0] * (len(bs) + 1)
    sb = [bs[i] for i in order]
    import bisect
    for x in xs:
        j = bisect.bisect_left(sb, x)
        counts[order[j] if j < len(sb) else len(bs)] += 1
    return Array([[float(c)] for c in counts])


# =========================================================================================
# paired data and regression
# =========================================================================================

def _correl(xs, ys):
    n = len(xs)
    if n < 1:
        raise V.DIV0
    mx = total(xs) / n
    my = total(ys) / n
    sxy = total((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = total((x - mx) ** 2 for x in xs)
    syy = total((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        raise V.DIV0
    return sxy / math.sqrt(sxx * syy)


def _data(cx, *args) -> list[Array]:
    """The data arguments of the paired-data functions (CORREL, SLOPE, FORECAST...) as
    arrays. An error value given as the argument itself, not inside a range or array (the
    #NAME? of an undefined name, NA(), 1/0), is the result, left to right, before the
    arrays' sizes are compared: SLOPE(A1:A5,undefined_name) is #NAME?, not #N/A."""
    for a in args:
        if isinstance(a, XLError):
            raise a
    return [as_array(cx, a) for a in args]


@xl("CORREL", RAW, RAW, ctx=True)
def CORREL(cx, a, b):
    return _correl(*paired(*_data(cx, a, b)))


@xl("PEARSON", RAW, RAW, ctx=True)
def PEARSON(cx, a, b):
    return _correl(*paired(*_data(cx, a, b)))


@xl("RSQ", RAW, RAW, ctx=True)
def RSQ(cx, ys, xs):
    y, x = paired(*_data(cx, ys, xs))
    return _correl(x, y) ** 2


def _cov(a, b, sample: bool):
    xs, ys = paired(a, b)
    n = len(xs)
    if n == 0 or (sample and n < 2):
        raise V.DIV0
    mx = total(xs) / n
    my = total(ys) / n
    s = total((x - mx) * (y - my) for x, y in zip(xs, ys))
    return s / (n - 1 if sample else n)


@xl("COVARIANCE.P", RAW, RAW, aliases=("COVAR",), ctx=True)
def COVARIANCE_P(cx, a, b):
    return _cov(*_data(cx, a, b), False)


@xl("COVARIANCE.S", RAW, RAW, ctx=True)
def COVARIANCE_S(cx, a, b):
    return _cov(*_data(cx, a, b), True)


def _simple_fit(ys_arr, xs_arr):
    ys, xs = paired(ys_arr, xs_arr)
    n = len(xs)
    if n == 0:
        raise V.DIV0
    mx = total(xs) / n
    my = total(ys) / n
    sxx = total((x - mx) ** 2 for x in xs)
    sxy = total((x - mx) * (y - my) for x, y in zip(xs, ys))
    if sxx == 0:
        raise V.DIV0
    slope = sxy / sxx
    return slope, my - slope * mx, xs, ys, mx, my, sxx, sxy


@xl("SLOPE", RAW, RAW, ctx=True)
def SLOPE(cx, ys, xs):
    return _simple_fit(*_data(cx, ys, xs))[0]


@xl("INTERCEPT", RAW, RAW, ctx=True)
def INTERCEPT(cx, ys, xs):
    return _simple_fit(*_data(cx, ys, xs))[1]


@xl("STEYX", RAW, RAW, ctx=True)
def STEYX(cx, ys_arr, xs_arr):
    ys, xs = paired(*_data(cx, ys_arr, xs_arr))
    n = len(xs)
    if n < 3:
        raise V.DIV0
    mx = total(xs) / n
    my = total(ys) / n
    sxx = total((x - mx) ** 2 for x in xs)
    syy = total((y - my) ** 2 for y in ys)
    sxy = total((x - mx) * (y - my) for x, y in zip(xs, ys))
    if sxx == 0:
        raise V.DIV0
    return math.sqrt(max(syy - sxy * sxy / sxx, 0.0) / (n - 2))


@xl("FORECAST.LINEAR", NUMBER, RAW, RAW, aliases=("FORECAST",), ctx=True)
def FORECAST(cx, x, ys, xs):
    slope, icpt = _simple_fit(*_data(cx, ys, xs))[:2]
    return icpt + slope * x


def _numeric_matrix(arr: Array) -> list[list[float]]:
    """Every cell a number, or #VALUE! (the regression functions turn errors, text, booleans
    and blanks alike into #VALUE!)."""
    rows = []
    for row in arr.rows:
        out = []
        for v in row:
            if not isinstance(v, float):
                raise V.VALUE
            out.append(v)
        rows.append(out)
    return rows


def _design(known_y: Array, known_x: Array | None):
    """ys (list) and the predictor columns (list of lists), with Excel's orientation rules:
    a column of y's takes x variables from columns, a row of y's from rows."""
    ny, nyc = known_y.nrows, known_y.ncols
    n = ny * nyc
    if known_x is not None:
        nx, nxc = known_x.nrows, known_x.ncols
        ok = ((ny == 1 and nyc == 1) or (nyc == 1 and (nx == ny or (nx == 1 and nxc == n)))
              or (ny == 1 and (nxc == nyc or (nxc == 1 and nx == n)))
              or (nx == ny and nxc == nyc))
        if not ok:
            raise V.REF
    ym = _numeric_matrix(known_y)
    ys = [v for row in ym for v in row]
    if known_x is None:
        return ys, [[float(i + 1) for i in range(n)]], "col" if nyc == 1 else "row"
    xm = _numeric_matrix(known_x)
    if ny == 1 and nyc == 1:
        # one observation: every x is a variable
        if nx * nxc < 1:
            raise V.REF
        return ys, [[v] for row in xm for v in row], "one"
    if nyc == 1:
        if nx != ny:
            if nx * nxc == n and nx == 1:
                return ys, [[v for v in xm[0]]], "col"
            raise V.REF
        return ys, [[xm[r][c] for r in range(nx)] for c in range(nxc)], "col"
    if ny == 1:
        if nxc != nyc:
            if nx * nxc == n and nxc == 1:
                return ys, [[row[0] for row in xm]], "row"
            raise V.REF
        return ys, [list(row) for row in xm], "row"
    # y is a 2-D block: x must have the same shape (one variable)
    if nx != ny or nxc != nyc:
        raise V.REF
    return ys, [[v for row in xm for v in row]], "grid"


def _lstsq(ys: list[float], cols: list[list[float]], const: bool):
    """Least squares by Householder QR with Excel's handling of collinear predictors (their
    coefficient and standard error are 0 and the degrees of freedom grow).
    Returns (coefs for cols, intercept, stats dict)."""
    import numpy as np
    n = len(ys)
    k = len(cols)
    y = np.asarray(ys, dtype=float)
    X = np.asarray(cols, dtype=float).T if k else np.zeros((n, 0))
    if const:
        ym = y.mean()
        Xc = X - X.mean(axis=0) if k else X
        yc = y - ym
    else:
        Xc, yc, ym = X, y, 0.0
    # drop predictors that are (numerically) combinations of earlier ones
    keep: list[int] = []
    basis = np.zeros((n, 0))
    for j in range(k):
        v = Xc[:, j].astype(float)
        nv = float(np.linalg.norm(v))
        if nv == 0:
            continue
        r = v - basis @ (basis.T @ v) if basis.shape[1] else v
        r = r - basis @ (basis.T @ r) if basis.shape[1] else r
        nr = float(np.linalg.norm(r))
        if nr <= 1e-12 * nv:
            continue
        keep.append(j)
        basis = np.column_stack([basis, r / nr])
    coefs = np.zeros(k)
    ses = np.zeros(k)
    p = len(keep)
    df = n - p - (1 if const else 0)
    A = Xc[:, keep] if p else np.zeros((n, 0))
    if p:
        sol, *_ = np.linalg.lstsq(A, yc, rcond=None)
        coefs[keep] = sol
    fitted = A @ coefs[keep] if p else np.zeros(n)
    resid = yc - fitted
    ssresid = float(resid @ resid)
    sstot = float(yc @ yc)
    if ssresid <= 1e-20 * sstot:
        ssresid = 0.0           # an exact fit: Excel's residuals come out as exact zeros
    ssreg = max(sstot - ssresid, 0.0)
    b = float(ym - (X.mean(axis=0) @ coefs if k else 0.0)) if const else 0.0
    stats = {"df": df, "ssresid": ssresid, "ssreg": ssreg, "sstot": sstot, "p": p,
             "keep": keep, "se": ses, "se_b": None}
    if df > 0:
        s2 = ssresid / df
        if p:
            inv = np.linalg.inv(A.T @ A)
            ses[keep] = np.sqrt(np.maximum(np.diag(inv) * s2, 0.0))
            if const:
                xm = X.mean(axis=0)[keep]
                stats["se_b"] = math.sqrt(max(s2 * (1.0 / n + float(xm @ inv @ xm)), 0.0))
        elif const:
            stats["se_b"] = math.sqrt(s2 / n)
        stats["sey"] = math.sqrt(s2)
    else:
        stats["sey"] = None
    return coefs.tolist(), b, stats


def _linest(known_y, known_x, const, stats, log: bool):
    ys, cols, _ = _design(known_y, known_x)
    if log:
        if any(y <= 0 for y in ys):
            raise V.NUM
        ys = [math.log(y) for y in ys]
    n = len(ys)
    for c in cols:
        if len(c) != n:
            raise V.REF
    coefs, b, st = _linest_core(ys, cols, const)
    k = len(cols)
    first = [math.exp(c) if log else c for c in reversed(coefs)]
    first.append((math.exp(b) if log else b) if const else (1.0 if log else 0.0))
    if not stats:
        return Array([first])
    se = [float(s) for s in reversed(st["se"].tolist())]
    df = st["df"]
    if df <= 0:
        se_row = [V.NUM] * k + [V.NUM if const else V.NA]
        r2 = 1.0 if st["sstot"] > 0 else V.NUM
        row3 = [r2, V.NUM]
        row4 = [V.NUM, float(max(df, 0))]
    else:
        se_row = se + [st["se_b"] if const and st["se_b"] is not None else V.NA]
        sstot = st["sstot"]
        r2 = st["ssreg"] / sstot if sstot > 0 else V.NUM
        row3 = [r2, st["sey"]]
        p = st["p"]
        if st["ssresid"] == 0:
            F = V.NUM
        elif p == 0:
            F = V.NUM
        else:
            F = (st["ssreg"] / p) / (st["ssresid"] / df)
        row4 = [F, float(df)]
    row5 = [st["ssreg"], st["ssresid"]]
    width = k + 1
    pad = lambda r: r + [V.NA] * (width - len(r))  # noqa: E731
    return Array([first, se_row, pad(row3), pad(row4), pad(row5)])


def _linest_core(ys, cols, const):
    return _lstsq(ys, cols, const)


def _flag(v, default: bool) -> bool:
    """An optional TRUE/FALSE argument of the regression functions: omitted (even as an empty
    argument) means the default; an error is #VALUE!."""
    if v is None:
        return default
    if isinstance(v, XLError):
        raise V.VALUE
    b = V.to_bool(v)
    if isinstance(b, XLError):
        raise V.VALUE
    return b


@xl("LINEST", ARRAY, ARRAY, ANY, ANY)
def LINEST(known_y, known_x=None, const=None, stats=None):
    return _linest(known_y, known_x, _flag(const, True), _flag(stats, False), False)


@xl("LOGEST", ARRAY, ARRAY, ANY, ANY)
def LOGEST(known_y, known_x=None, const=None, stats=None):
    return _linest(known_y, known_x, _flag(const, True), _flag(stats, False), True)


def _trend(known_y, known_x, new_x, const, log: bool):
    ys, cols, orient = _design(known_y, known_x)
    if log:
        if any(y <= 0 for y in ys):
            raise V.NUM
        ys = [math.log(y) for y in ys]
    coefs, b, _ = _lstsq(ys, cols, _flag(const, True))
    k = len(cols)
    if new_x is None:
        if known_x is None:
            new_x = Array([[float(i + 1)] for i in range(len(ys))]) if orient != "row" else \
                Array([[float(i + 1) for i in range(len(ys))]])
        else:
            new_x = known_x
    nm = _numeric_matrix(new_x)

    def predict(xrow):
        v = b + total(c * x for c, x in zip(coefs, xrow))
        return math.exp(v) if log else v

    if k == 1:
        return Array([[predict([v]) for v in row] for row in nm])
    if orient in ("col", "one") and new_x.ncols == k:
        return Array([[predict(row)] for row in nm])
    if orient == "row" and new_x.nrows == k:
        return Array([[predict([nm[r][c] for r in range(k)]) for c in range(new_x.ncols)]])
    raise V.REF


@xl("TREND", ARRAY, ARRAY, ARRAY, ANY)
def TREND(known_y, known_x=None, new_x=None, const=None):
    return _trend(known_y, known_x, new_x, const, False)


@xl("GROWTH", ARRAY, ARRAY, ARRAY, ANY)
def GROWTH(known_y, known_x=None, new_x=None, const=None):
    return _trend(known_y, known_x, new_x, const, True)


# =========================================================================================
# simple transforms
# =========================================================================================

@xl("STANDARDIZE", NUMBER, NUMBER, NUMBER)
def STANDARDIZE(x, m, sd):
    if sd <= 0:
        raise V.NUM
    return (x - m) / sd


@xl("FISHER", NUMBER)
def FISHER(x):
    if x <= -1 or x >= 1:
        raise V.NUM
    return 0.5 * math.log((1 + x) / (1 - x))


@xl("FISHERINV", NUMBER)
def FISHERINV(y):
    return math.tanh(y)


@xl("PROB", ARRAY, ARRAY, NUMBER, NUMBER)
def PROB(x_range, probs, lower, upper=None):
    fx = list(x_range.flat())
    fp = list(probs.flat())
    if len(fx) != len(fp):
        raise V.NA
    xs, ps = [], []
    for x, p in zip(fx, fp):
        if isinstance(x, XLError):
            raise x
        if isinstance(p, XLError):
            raise p
        if isinstance(x, float) and isinstance(p, float):
            if p < 0 or p > 1:
                raise V.NUM
            xs.append(x)
            ps.append(p)
    if abs(total(ps) - 1.0) > 1e-7:
        raise V.NUM
    if upper is None:
        upper = lower
    return total(p for x, p in zip(xs, ps) if lower <= x <= upper)


@xl("GAUSS", NUMBER)
def GAUSS(z):
    return 0.5 * math.erf(z / _SQRT2)


@xl("PHI", NUMBER)
def PHI(x):
    return norm_pdf(x)


# =========================================================================================
# normal and log-normal
# =========================================================================================

@xl("NORM.DIST", NUMBER, NUMBER, NUMBER, BOOL)
def NORM_DIST(x, m, sd, cumulative):
    if sd <= 0:
        raise V.NUM
    z = (x - m) / sd
    return norm_cdf(z) if cumulative else norm_pdf(z) / sd


@xl("NORMDIST", NUMBER, NUMBER, NUMBER, BOOL)
def NORMDIST(x, m, sd, cumulative):
    return NORM_DIST(x, m, sd, cumulative)


@xl("NORM.INV", NUMBER, NUMBER, NUMBER, aliases=("NORMINV",))
def NORM_INV(p, m, sd):
    if sd <= 0 or p <= 0 or p >= 1:
        raise V.NUM
    return m + sd * norm_ppf(p)


@xl("NORM.S.DIST", NUMBER, BOOL)
def NORM_S_DIST(z, cumulative):
    return norm_cdf(z) if cumulative else norm_pdf(z)


@xl("NORMSDIST", NUMBER)
def NORMSDIST(z):
    return norm_cdf(z)


@xl("NORM.S.INV", NUMBER, aliases=("NORMSINV",))
def NORM_S_INV(p):
    return norm_ppf(p)


@xl("LOGNORM.DIST", NUMBER, NUMBER, NUMBER, BOOL)
def LOGNORM_DIST(x, m, sd, cumulative):
    if x <= 0 or sd <= 0:
        raise V.NUM
    z = (math.log(x) - m) / sd
    return norm_cdf(z) if cumulative else norm_pdf(z) / (sd * x)


@xl("LOGNORMDIST", NUMBER, NUMBER, NUMBER)
def LOGNORMDIST(x, m, sd):
    return LOGNORM_DIST(x, m, sd, True)


@xl("LOGNORM.INV", NUMBER, NUMBER, NUMBER, aliases=("LOGINV",))
def LOGNORM_INV(p, m, sd):
    if sd <= 0 or p <= 0 or p >= 1:
        raise V.NUM
    return math.exp(m + sd * norm_ppf(p))


# =========================================================================================
# Student's t
# =========================================================================================

def _df(x: float, lo: float = 1.0) -> float:
    d = math.trunc(x)
    if d < lo:
        raise V.NUM
    return float(d)


@xl("T.DIST", NUMBER, NUMBER, BOOL)
def T_DIST(x, df, cumulative):
    if not cumulative and 0 <= df < 1:
        raise V.DIV0
    df = _df(df)
    return t_cdf(x, df) if cumulative else t_pdf(x, df)


@xl("T.DIST.2T", NUMBER, NUMBER)
def T_DIST_2T(x, df):
    df = _df(df)
    if x < 0:
        raise V.NUM
    return min(2.0 * t_cdf(-x, df), 1.0)


@xl("T.DIST.RT", NUMBER, NUMBER)
def T_DIST_RT(x, df):
    df = _df(df)
    return t_cdf(-x, df)


@xl("TDIST", NUMBER, NUMBER, NUMBER)
def TDIST(x, df, tails):
    df = _df(df)
    tails = math.trunc(tails)
    if x < 0 or tails not in (1, 2):
        raise V.NUM
    return t_cdf(-x, df) * tails


def t_ppf(p: float, df: float) -> float:
    """Left-tail inverse of Student's t."""
    if p == 0.5:
        return 0.0
    if p > 0.5:
        return -t_ppf(1.0 - p, df)
    # p < 0.5: solve the lower tail on the negative axis through the incomplete beta
    z0 = norm_ppf(p)

    def f(t):
        return t_cdf(t, df)

    return solve_increasing(f, p, min(z0 * 2, -1.0), 0.0, deriv=lambda t: t_pdf(t, df),
                            x0=z0, upper_bound=0.0)


@xl("T.INV", NUMBER, NUMBER)
def T_INV(p, df):
    df = _df(df)
    if p <= 0 or p >= 1:
        raise V.NUM
    return t_ppf(p, df)


@xl("T.INV.2T", NUMBER, NUMBER, aliases=("TINV",))
def T_INV_2T(p, df):
    df = _df(df)
    if p <= 0 or p > 1:
        raise V.NUM
    if p == 1:
        return 0.0
    return -t_ppf(p / 2.0, df)


def _ttest(a, b, tails, kind):
    tails = math.trunc(tails)
    kind = math.trunc(kind)
    if tails not in (1, 2) or kind not in (1, 2, 3):
        raise V.NUM
    if kind == 1:
        xs, ys = paired(a, b)
        d = [x - y for x, y in zip(xs, ys)]
        n = len(d)
        if n < 2:
            raise V.DIV0
        s = math.sqrt(var_s(d))
        if s == 0:
            raise V.DIV0
        t = abs(mean(d)) / (s / math.sqrt(n))
        df = n - 1.0
    else:
        xs = nums_skip_null(a)
        ys = nums_skip_null(b)
        n1, n2 = len(xs), len(ys)
        if n1 < 2 or n2 < 2:
            raise V.DIV0
        m1, m2 = mean(xs), mean(ys)
        v1, v2 = var_s(xs), var_s(ys)
        if kind == 2:
            df = n1 + n2 - 2.0
            sp = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
            se = math.sqrt(sp * (1.0 / n1 + 1.0 / n2))
        else:
            q1, q2 = v1 / n1, v2 / n2
            se = math.sqrt(q1 + q2)
            if se == 0:
                raise V.DIV0
            df = (q1 + q2) ** 2 / (q1 * q1 / (n1 - 1) + q2 * q2 / (n2 - 1))
        if se == 0:
            raise V.DIV0
        t = abs(m1 - m2) / se
    return t_cdf(-t, df) * tails


@xl("T.TEST", ARRAY, ARRAY, NUMBER, NUMBER, aliases=("TTEST",))
def T_TEST(a, b, tails, kind):
    return _ttest(a, b, tails, kind)


# =========================================================================================
# chi-squared and F
# =========================================================================================

def _chidf(k):
    k = math.trunc(k)
    if k < 1 or k > 1e10:
        raise V.NUM
    return float(k)


@xl("CHISQ.DIST", NUMBER, NUMBER, BOOL)
def CHISQ_DIST(x, k, cumulative):
    k = _chidf(k)
    if x < 0:
        raise V.NUM
    return chi2_cdf(x, k)[0] if cumulative else chi2_pdf(x, k)


@xl("CHISQ.DIST.RT", NUMBER, NUMBER, aliases=("CHIDIST",))
def CHISQ_DIST_RT(x, k):
    k = _chidf(k)
    if x < 0:
        raise V.NUM
    return chi2_cdf(x, k)[1]


def chi2_ppf(p: float, k: float, upper: bool = False) -> float:
    """x with P(X <= x) = p (or P(X > x) = p when upper)."""
    if upper:
        if p == 1:
            return 0.0
        f = lambda x: -chi2_cdf(x, k)[1]  # noqa: E731
        target = -p
    else:
        if p == 0:
            return 0.0
        f = lambda x: chi2_cdf(x, k)[0]  # noqa: E731
        target = p
    # Newton steps on either tail (d/dx of -Q is the density too): bisection alone stops
    # within 1e-15 relative, a few ulps off Excel's result
    return solve_increasing(f, target, 0.0, max(k, 1.0) * 2,
                            deriv=lambda x: chi2_pdf(x, k) if x > 0 else 0.0, lower_bound=0.0)


@xl("CHISQ.INV", NUMBER, NUMBER)
def CHISQ_INV(p, k):
    k = _chidf(k)
    if p < 0 or p >= 1:
        raise V.NUM
    return chi2_ppf(p, k)


@xl("CHISQ.INV.RT", NUMBER, NUMBER, aliases=("CHIINV",))
def CHISQ_INV_RT(p, k):
    k = _chidf(k)
    if p <= 0 or p > 1:
        raise V.NUM
    return chi2_ppf(p, k, upper=True)


@xl("CHISQ.TEST", ARRAY, ARRAY, aliases=("CHITEST",))
def CHISQ_TEST(actual, expected):
    xs, es = paired(actual, expected, by_array=True)
    if not xs:
        raise V.DIV0
    stat = 0.0
    for x, e in zip(xs, es):
        if e == 0:
            raise V.DIV0
        stat += (x - e) ** 2 / e
    r, c = actual.nrows, actual.ncols
    df = (r - 1) * (c - 1) if r > 1 and c > 1 else (r * c - 1)
    if df < 1:
        raise V.NA
    return chi2_cdf(stat, float(df))[1]


def _fdf(d):
    d = math.trunc(d)
    if d < 1 or d >= 1e10:
        raise V.NUM
    return float(d)


@xl("F.DIST", NUMBER, NUMBER, NUMBER, BOOL)
def F_DIST(x, d1, d2, cumulative):
    d1, d2 = _fdf(d1), _fdf(d2)
    if x < 0:
        raise V.NUM
    return f_cdf(x, d1, d2)[0] if cumulative else f_pdf(x, d1, d2)


@xl("F.DIST.RT", NUMBER, NUMBER, NUMBER, aliases=("FDIST",))
def F_DIST_RT(x, d1, d2):
    d1, d2 = _fdf(d1), _fdf(d2)
    if x < 0:
        raise V.NUM
    return f_cdf(x, d1, d2)[1]


def f_ppf(p, d1, d2, upper=False):
    # through the beta quantile: x = d2 * b / (d1 * (1 - b))
    b = beta_ppf(p, d1 / 2.0, d2 / 2.0, upper=upper)
    if b >= 1:
        raise V.NUM
    return d2 * b / (d1 * (1.0 - b))


@xl("F.INV", NUMBER, NUMBER, NUMBER)
def F_INV(p, d1, d2):
    d1, d2 = _fdf(d1), _fdf(d2)
    if p < 0 or p > 1:
        raise V.NUM
    if p == 0:
        return 0.0
    return f_ppf(p, d1, d2)


@xl("F.INV.RT", NUMBER, NUMBER, NUMBER, aliases=("FINV",))
def F_INV_RT(p, d1, d2):
    d1, d2 = _fdf(d1), _fdf(d2)
    if p <= 0 or p > 1:
        raise V.NUM
    if p == 1:
        return 0.0
    return f_ppf(p, d1, d2, upper=True)


@xl("F.TEST", ARRAY, ARRAY, aliases=("FTEST",))
def F_TEST(a, b):
    xs = nums_skip_null(a)
    ys = nums_skip_null(b)
    if len(xs) < 2 or len(ys) < 2:
        raise V.DIV0
    v1, v2 = var_s(xs), var_s(ys)
    if v1 == 0 or v2 == 0:
        raise V.DIV0
    lo, up = f_cdf(v1 / v2, len(xs) - 1.0, len(ys) - 1.0)
    return min(2.0 * min(lo, up), 1.0)


# =========================================================================================
# beta and gamma
# =========================================================================================

def beta_ppf(p: float, a: float, b: float, upper: bool = False) -> float:
    if upper:
        f = lambda x: -ibeta(a, b, x)[1]  # noqa: E731
        target = -p
    else:
        f = lambda x: ibeta(a, b, x)[0]  # noqa: E731
        target = p
    d = lambda x: beta_pdf(x, a, b)  # noqa: E731 - of either tail (see chi2_ppf)
    lo, hi = 0.0, 1.0
    # bisection with Newton on the bounded interval
    x = solve_increasing(f, target, lo, hi, deriv=d, x0=a / (a + b), lower_bound=0.0,
                         upper_bound=1.0)
    return x


def _beta_args(x, a, b, lo, hi):
    if lo is None:
        lo = 0.0
    if hi is None:
        hi = 1.0
    if a <= 0 or b <= 0 or lo >= hi or x < lo or x > hi:
        raise V.NUM
    return (x - lo) / (hi - lo), lo, hi


@xl("BETA.DIST", NUMBER, NUMBER, NUMBER, BOOL, NUMBER, NUMBER)
def BETA_DIST(x, a, b, cumulative, lo=None, hi=None):
    t, lo, hi = _beta_args(x, a, b, lo, hi)
    if cumulative:
        return ibeta(a, b, t)[0]
    return beta_pdf(t, a, b) / (hi - lo)


@xl("BETADIST", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER)
def BETADIST(x, a, b, lo=None, hi=None):
    t, lo, hi = _beta_args(x, a, b, lo, hi)
    return ibeta(a, b, t)[0]


@xl("BETA.INV", NUMBER, NUMBER, NUMBER, NUMBER, NUMBER, aliases=("BETAINV",))
def BETA_INV(p, a, b, lo=None, hi=None):
    lo = 0.0 if lo is None else lo
    hi = 1.0 if hi is None else hi
    if p <= 0 or p >= 1 or a <= 0 or b <= 0 or lo >= hi:
        raise V.NUM
    return lo + (hi - lo) * beta_ppf(p, a, b)


@xl("GAMMA", NUMBER)
def GAMMA(x):
    if x <= 0 and x == math.floor(x):
        raise V.NUM
    return math.gamma(x)


@xl("GAMMALN", NUMBER, aliases=("GAMMALN.PRECISE",))
def GAMMALN(x):
    if x <= 0:
        raise V.NUM
    return math.lgamma(x)


@xl("GAMMA.DIST", NUMBER, NUMBER, NUMBER, BOOL, aliases=("GAMMADIST",))
def GAMMA_DIST(x, a, b, cumulative):
    if x < 0 or a <= 0 or b <= 0:
        raise V.NUM
    if cumulative:
        return gammainc(a, x / b)[0]
    return gamma_pdf(x, a, b)


@xl("GAMMA.INV", NUMBER, NUMBER, NUMBER, aliases=("GAMMAINV",))
def GAMMA_INV(p, a, b):
    if p < 0 or p >= 1 or a <= 0 or b <= 0:
        raise V.NUM
    if p == 0:
        return 0.0
    x = solve_increasing(lambda t: gammainc(a, t)[0], p, 0.0, max(a, 1.0) * 2,
                         deriv=lambda t: gamma_pdf(t, a, 1.0) if t > 0 else 0.0,
                         lower_bound=0.0)
    return x * b


@xl("EXPON.DIST", NUMBER, NUMBER, BOOL, aliases=("EXPONDIST",))
def EXPON_DIST(x, lam, cumulative):
    if x < 0 or lam <= 0:
        raise V.NUM
    if cumulative:
        return -math.expm1(-lam * x)
    return lam * math.exp(-lam * x)


@xl("WEIBULL.DIST", NUMBER, NUMBER, NUMBER, BOOL, aliases=("WEIBULL",))
def WEIBULL_DIST(x, a, b, cumulative):
    if x < 0 or a <= 0 or b <= 0:
        raise V.NUM
    if cumulative:
        return -math.expm1(-((x / b) ** a))
    if x == 0:
        if a < 1:
            raise V.NUM
        return 1.0 / b if a == 1 else 0.0
    return a / b ** a * x ** (a - 1) * math.exp(-((x / b) ** a))


# =========================================================================================
# discrete distributions
# =========================================================================================

def _log_comb(n: float, k: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def binom_pmf(k: int, n: int, p: float) -> float:
    if p == 0:
        return 1.0 if k == 0 else 0.0
    if p == 1:
        return 1.0 if k == n else 0.0
    if n <= 1000:
        return math.comb(n, k) * p ** k * (1 - p) ** (n - k)
    return math.exp(_log_comb(n, k) + k * math.log(p) + (n - k) * math.log1p(-p))


def binom_cdf(k: int, n: int, p: float) -> float:
    if k >= n:
        return 1.0
    if p == 0:
        return 1.0
    if p == 1:
        return 0.0
    if n <= 1000:
        return min(total(binom_pmf(i, n, p) for i in range(k + 1)), 1.0)
    return ibeta(n - k, k + 1.0, 1.0 - p)[0]


@xl("BINOM.DIST", INT, INT, NUMBER, BOOL, aliases=("BINOMDIST",))
def BINOM_DIST(k, n, p, cumulative):
    if k < 0 or k > n or p < 0 or p > 1:
        raise V.NUM
    return binom_cdf(k, n, p) if cumulative else binom_pmf(k, n, p)


@xl("BINOM.DIST.RANGE", INT, NUMBER, INT, INT)
def BINOM_DIST_RANGE(n, p, s, s2=None):
    if s2 is None:
        s2 = s
    if n < 0 or p < 0 or p > 1 or s < 0 or s > n or s2 < s or s2 > n:
        raise V.NUM
    return total(binom_pmf(i, n, p) for i in range(s, s2 + 1)) if s2 - s <= 100000 else \
        binom_cdf(s2, n, p) - (binom_cdf(s - 1, n, p) if s > 0 else 0.0)


@xl("BINOM.INV", INT, NUMBER, NUMBER, aliases=("CRITBINOM",))
def BINOM_INV(n, p, alpha):
    if n < 0 or p < 0 or p > 1 or alpha < 0 or alpha > 1:
        raise V.NUM
    target = alpha * (1 - 1e-15)
    if n > 100000:
        # the walk below would take up to n steps (CRITBINOM(1E15, 0.5, 0.5) never ended):
        # bisect for the least k with binom_cdf(k) >= target instead (the cdf increases)
        lo, hi = -1, n                  # cdf(lo) < target (cdf(-1) = 0), cdf(hi) >= target
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if binom_cdf(mid, n, p) >= target:
                hi = mid
            else:
                lo = mid
        return float(hi)
    total = 0.0
    for k in range(n + 1):
        total += binom_pmf(k, n, p)
        if total >= target:
            return float(k)
    return float(n)


# HYPGEOM.DIST's cumulative sum runs over s - lo + 1 terms: HYPGEOM.DIST(5E8, 1E9, 1E9,
# 2E9, TRUE) summed half a billion. Past this many, only the terms that count are summed.
_HYPGEOM_TERMS = 100000
_HYPGEOM_MAX_TERMS = 1_000_000


def _hypgeom_cdf_tail(pmf, s: int, lo: int, hi: int, mode: int) -> float:
    """P(X <= s) from the terms nearest s, which fall away geometrically on the far side
    of the mode (the pmf is unimodal): below the mode sum down from s, above it take 1 -
    the sum up from s + 1, each stopping once a term no longer moves the sum. A spread so
    wide that this still needs millions of terms is #NUM! (a bound of ours)."""
    acc = 0.0
    if s < mode:
        seq = range(s, lo - 1, -1)
    else:
        seq = range(s + 1, hi + 1)
    for count, i in enumerate(seq):
        t = pmf(i)
        if acc + t == acc:
            break
        acc += t
        if count > _HYPGEOM_MAX_TERMS:
            raise V.NUM
    return min(acc, 1.0) if s < mode else max(1.0 - acc, 0.0)


@xl("HYPGEOM.DIST", INT, INT, INT, INT, BOOL)
def HYPGEOM_DIST(s, n, K, N, cumulative):
    if s < 0 or n < 0 or K < 0 or N < 0 or n > N or K > N:
        raise V.NUM
    lo, hi = max(0, n - N + K), min(n, K)

    def pmf(i):
        return math.exp(_log_comb(K, i) + _log_comb(N - K, n - i) - _log_comb(N, n)) \
            if N > 1000 else math.comb(K, i) * math.comb(N - K, n - i) / math.comb(N, n)

    if cumulative:
        if s < lo:
            return 0.0
        if s >= hi:
            return 1.0
        if s - lo <= _HYPGEOM_TERMS:
            return min(total(pmf(i) for i in range(lo, s + 1)), 1.0)
        sd = math.sqrt(n * (K / N) * (1 - K / N) * (N - n) / max(N - 1, 1))
        if 10 * sd > _HYPGEOM_MAX_TERMS:
            raise V.NUM                 # the tail alone would need too many terms
        return _hypgeom_cdf_tail(pmf, s, lo, hi, (n + 1) * (K + 1) // (N + 2))
    if s < lo or s > hi:
        return 0.0
    return pmf(s)


@xl("HYPGEOMDIST", INT, INT, INT, INT)
def HYPGEOMDIST(s, n, K, N):
    return HYPGEOM_DIST(s, n, K, N, False)


def _negbinom_pmf(f, s, p):
    if p == 1:
        return 1.0 if f == 0 else 0.0
    if p == 0:
        return 0.0
    if f + s <= 1000:
        return math.comb(f + s - 1, s - 1) * p ** s * (1 - p) ** f
    return math.exp(_log_comb(f + s - 1, s - 1) + s * math.log(p) + f * math.log1p(-p))


@xl("NEGBINOM.DIST", INT, INT, NUMBER, BOOL)
def NEGBINOM_DIST(f, s, p, cumulative):
    if f < 0 or s < 1 or p <= 0 or p > 1:     # [excel] p = 0 is #NUM! too
        raise V.NUM
    if cumulative:
        if p == 0:
            return 0.0
        if p == 1:
            return 1.0
        return ibeta(float(s), f + 1.0, p)[0]
    return _negbinom_pmf(f, s, p)


@xl("NEGBINOMDIST", INT, INT, NUMBER)
def NEGBINOMDIST(f, s, p):
    return NEGBINOM_DIST(f, s, p, False)


@xl("POISSON.DIST", INT, NUMBER, BOOL, aliases=("POISSON",))
def POISSON_DIST(x, m, cumulative):
    if x < 0 or m < 0:
        raise V.NUM
    if m == 0:
        return 1.0 if (cumulative or x == 0) else 0.0
    if cumulative:
        if x <= 1000:
            term = math.exp(-m)
            if term > 0:
                total = term
                for i in range(1, x + 1):
                    term *= m / i
                    total += term
                return min(total, 1.0)
        return gammainc(x + 1.0, m)[1]
    return math.exp(x * math.log(m) - m - math.lgamma(x + 1.0))


# =========================================================================================
# confidence intervals and z test
# =========================================================================================

@xl("CONFIDENCE.NORM", NUMBER, NUMBER, INT, aliases=("CONFIDENCE",))
def CONFIDENCE_NORM(alpha, sd, n):
    if alpha <= 0 or alpha >= 1 or sd <= 0 or n < 1:
        raise V.NUM
    return norm_ppf(1 - alpha / 2) * sd / math.sqrt(n)


@xl("CONFIDENCE.T", NUMBER, NUMBER, INT)
def CONFIDENCE_T(alpha, sd, n):
    if alpha <= 0 or alpha >= 1 or sd <= 0 or n < 1:
        raise V.NUM
    if n == 1:
        raise V.DIV0
    return -t_ppf(alpha / 2, n - 1.0) * sd / math.sqrt(n)


@xl("Z.TEST", ARRAY, NUMBER, NUMBER, aliases=("ZTEST",))
def Z_TEST(arr, x, sigma=None):
    xs = nums_of_array(arr)
    n = len(xs)
    if n == 0:
        raise V.NA
    if sigma is not None and sigma <= 0:
        raise V.NUM
    if n < 2:
        raise V.DIV0
    if sigma is None:
        sigma = math.sqrt(var_s(xs))
    if sigma == 0:
        raise V.DIV0
    z = (mean(xs) - x) / (sigma / math.sqrt(n))
    return 0.5 * math.erfc(z / _SQRT2)



# =========================================================================================
# FORECAST.ETS, FORECAST.ETS.CONFINT, FORECAST.ETS.SEASONALITY, FORECAST.ETS.STAT
# =========================================================================================
# Excel's "AAA" exponential triple smoothing: additive error, additive trend, additive
# season (Holt-Winters), on a timeline with a constant step. Excel does not document its
# optimiser; what follows is Microsoft's documented behaviour plus our own choices, kept in
# one place:
#   * the series: pairs sorted by time, duplicate times aggregated (`aggregation` 1 or
#     omitted AVERAGE, 2 COUNT, 3 COUNTA, 4 MAX, 5 MEDIAN, 6 MIN, 7 SUM, Excel's
#     XlForecastAggregation numbering; 0, which the support pages call the default, is
#     AVERAGE too), the step is the smallest gap between times and every gap must be a
#     multiple of it (#NUM!), missing points (at most 30%, else #NUM!) filled by linear
#     interpolation between their neighbours (`data_completion` 1) or with 0 (0); a given
#     seasonality needs two seasons of data (#VALUE!, as LibreOffice documents);
#   * initial level, trend and season: least squares of the first max(2m, 10) points on a
#     line plus one offset per season phase (exact for a series that is a line plus a
#     repeating pattern, so such a series is fitted with zero error, as Excel's cached
#     values show);
#   * alpha, beta, gamma in [0, 1] minimise the sum of squared one-step errors: a grid,
#     then a shrinking local grid (numpy, all candidates stepped through the series at once);
#   * a target between timeline points is interpolated linearly between the values at the
#     neighbouring points: in-sample one-step fits inside the timeline, forecasts after it
#     (Excel's cached FORECAST.ETS(0.1, ...) on a timeline 1..9 extrapolates its first two
#     fitted values, although the support pages say a target before the end of the
#     timeline is #NUM!); a target one step or more before the start is #NUM!;
#   * CONFINT: z((1+level)/2) times the forecast error's standard deviation, from the mean
#     squared one-step error and the AAA model's variance growth with the horizon;
#   * STAT's MASE divides the mean absolute error by that of the naive forecast y[t-1];
#   * seasonality detection: the highest peak of the autocorrelation of the detrended
#     series among lags 2..(n-2)//2 above max(0.3, 2/sqrt(n)), else none (0).

_ETS_MAX_SEASON = 8760          # hours in a year: Excel's documented maximum seasonality
_ETS_MISSING_MAX = 0.3          # Excel completes up to 30% missing points


def _ets_option(v, default: float) -> float:
    """An optional numeric argument: blank or omitted -> the default, else a number."""
    if v is None:
        return default
    n = V.to_number(v)
    if isinstance(n, XLError):
        raise n
    return n


def _ets_choices(completion, aggregation) -> tuple[int, int]:
    """data_completion (0 or 1) and aggregation (0..7) as ints, #NUM! when out of range."""
    dc = _ets_option(completion, 1.0)
    ag = _ets_option(aggregation, 1.0)
    if dc not in (0.0, 1.0):
        raise V.NUM
    ag = math.trunc(ag)
    if not 0 <= ag <= 7:
        raise V.NUM
    return int(dc), int(ag) or 1


def _ets_seasonality_arg(v) -> int:
    """seasonality: 1 (or blank) auto-detect -> -1, 0 none, 2..8760 as given."""
    m = math.trunc(_ets_option(v, 1.0))
    if m < 0 or m > _ETS_MAX_SEASON:
        raise V.NUM
    return -1 if m == 1 else m


def _ets_aggregate(vals: list, how: int) -> float | None:
    """The value of one time point with several (or one) values; None: no number."""
    if how == 2:
        return float(sum(1 for v in vals if isinstance(v, float)))
    if how == 3:
        return float(sum(1 for v in vals if v is not None))
    nums = [v for v in vals if isinstance(v, float)]
    if not nums:
        return None
    if len(nums) == 1:
        return nums[0]
    if how == 4:
        return max(nums)
    if how == 5:
        return median(nums)
    if how == 6:
        return min(nums)
    if how == 7:
        return total(nums)
    return total(nums) / len(nums)


def _ets_series(values: Array, timeline: Array, completion: int,
                aggregation: int) -> tuple[float, float, tuple[float, ...]]:
    """(first time, step, the evenly spaced series) from values and timeline."""
    vs = list(values.flat())
    ts = list(timeline.flat())
    if len(vs) != len(ts):
        raise V.NA
    groups: dict[float, list] = {}
    for v, t in zip(vs, ts):
        if isinstance(v, XLError):
            raise v
        if isinstance(t, XLError):
            raise t
        if t is None:
            continue                    # a blank timeline cell: no point
        if not isinstance(t, float):
            raise V.VALUE               # text or a logical in the timeline
        groups.setdefault(t, []).append(v)
    times = sorted(groups)
    if len(times) < 2:
        raise V.NUM
    step = min(b - a for a, b in zip(times, times[1:]))
    x0 = times[0]
    slots: dict[int, float | None] = {}
    for t in times:
        k = (t - x0) / step
        ki = round(k)
        if abs(k - ki) > 1e-6 * max(1.0, abs(k)):
            raise V.NUM                 # no constant step
        slots[ki] = _ets_aggregate(groups[t], aggregation)
    n = max(slots) + 1
    known = [(k, v) for k, v in sorted(slots.items()) if v is not None]
    if n - len(known) > _ETS_MISSING_MAX * n or len(known) < 2:
        raise V.NUM
    y = [0.0] * n
    if completion == 0:
        for k, v in known:
            y[k] = v
    else:
        # linear interpolation between known neighbours; the ends take the nearest value
        for i in range(known[0][0] + 1):
            y[i] = known[0][1]
        for (ka, va), (kb, vb) in zip(known, known[1:]):
            for k in range(ka, kb + 1):
                y[k] = va + (vb - va) * (k - ka) / (kb - ka)
        for i in range(known[-1][0], n):
            y[i] = known[-1][1]
    return x0, step, tuple(y)


def _ets_detect(y: tuple[float, ...]) -> int:
    """Season length of y by autocorrelation of the detrended series (0: none)."""
    n = len(y)
    top = min((n - 2) // 2, _ETS_MAX_SEASON)
    if top < 2:
        return 0
    tm = (n - 1) / 2.0
    ym = total(y) / n
    sxx = total((t - tm) ** 2 for t in range(n))
    slope = total((t - tm) * (v - ym) for t, v in enumerate(y)) / sxx
    z = [v - ym - slope * (t - tm) for t, v in enumerate(y)]
    den = total(v * v for v in z)
    if den <= 1e-20 * max(1.0, total(v * v for v in y)):
        return 0                        # a straight line: nothing periodic
    import numpy as np
    za = np.asarray(z)
    # r[p] = sum_t z[t] * z[t + p] / den for p = 0..n-1 (numpy: O(n^2) in C, not Python)
    r = (np.correlate(za, za, "full")[n - 1:] / den).tolist()
    best, best_r = 0, max(0.3, 2.0 / math.sqrt(n))
    for p in range(2, top + 1):
        if r[p] > best_r and r[p] > r[p - 1] and r[p] >= r[p + 1]:
            best, best_r = p, r[p]
    return best


class _EtsFit:
    """A fitted AAA model: smoothing parameters, one-step fitted values, final states."""

    __slots__ = ("y", "m", "alpha", "beta", "gamma", "fitted", "level", "trend", "season")

    def __init__(self, y, m, alpha, beta, gamma, fitted, level, trend, season):
        self.y, self.m = y, m
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.fitted, self.level, self.trend, self.season = fitted, level, trend, season

    def at(self, k: int) -> float:
        """The model's value at time index k >= 0: the one-step fit inside the series, the
        forecast after it."""
        n = len(self.y)
        if k < n:
            return self.fitted[k]
        h = k - n + 1
        s = self.season[k % self.m] if self.m else 0.0
        return self.level + h * self.trend + s

    def sse(self) -> float:
        return total((a - b) ** 2 for a, b in zip(self.y, self.fitted))

    def half_width(self, k: int, z: float) -> float:
        """z times the standard deviation of the forecast error at time index k (one-step
        for points inside the series), with the AAA model's variance sum_j c_j^2, c_j =
        alpha*(1 + j*beta) + gamma*(1 - alpha) on whole seasons, in closed form."""
        n = len(self.y)
        sigma2 = self.sse() / n
        hh = max(k - n, 0)              # h - 1 forecast steps beyond the first
        a = self.alpha
        c = a * self.beta
        g = self.gamma * (1.0 - a) if self.m else 0.0
        acc = hh * a * a + a * c * hh * (hh + 1) + c * c * hh * (hh + 1) * (2 * hh + 1) / 6.0
        if self.m and g:
            kk = hh // self.m
            acc += kk * (2.0 * g * a + g * g) + g * c * self.m * kk * (kk + 1)
        return z * math.sqrt(sigma2 * (1.0 + acc))


def _ets_initial(y: tuple[float, ...], m: int) -> tuple[float, float, list[float]]:
    """Level before the first point, trend, and season offsets by phase, by least squares
    on the first max(2m, 10) points (a line plus one offset per phase)."""
    import numpy as np
    w = min(len(y), max(2 * m, 10))
    t = np.arange(w, dtype=float)
    if m:
        X = np.zeros((w, m + 1))
        X[:, 0] = t
        X[np.arange(w), 1 + np.arange(w) % m] = 1.0
    else:
        X = np.column_stack([t, np.ones(w)])
    coef = np.linalg.lstsq(X, np.asarray(y[:w], dtype=float), rcond=None)[0]
    trend = float(coef[0])
    if m:
        offs = coef[1:]
        base = float(offs.mean())
        season = [float(v) - base for v in offs]
    else:
        base, season = float(coef[1]), []
    return base - trend, trend, season


def _ets_sse(y, m: int, init, alpha, beta, gamma):
    """Sum of squared one-step errors for arrays of candidate (alpha, beta, gamma)."""
    import numpy as np
    level0, trend0, season0 = init
    k = alpha.shape[0]
    lv = np.full(k, level0)
    tr = np.full(k, trend0)
    se = np.tile(np.asarray(season0 or [0.0], dtype=float), (k, 1))
    ab = alpha * beta
    ga = gamma * (1.0 - alpha)
    sse = np.zeros(k)
    for i, yi in enumerate(y):
        ph = i % m if m else 0
        e = yi - (lv + tr + se[:, ph])
        sse += e * e
        lv = lv + tr + alpha * e
        tr = tr + ab * e
        if m:
            se[:, ph] += ga * e
    return sse


def _ets_optimise(y, m: int, init) -> tuple[float, float, float]:
    """alpha, beta, gamma in [0, 1] with the smallest squared one-step error: an 11-point
    grid per parameter, then a 5-point grid around the best, shrinking."""
    import numpy as np
    dims = 3 if m else 2
    g = np.linspace(0.0, 1.0, 11)
    mesh = np.array(np.meshgrid(*([g] * dims), indexing="ij")).reshape(dims, -1)
    best = None
    best_sse = math.inf
    d = 0.05
    while True:
        a = mesh[0]
        b = mesh[1]
        c = mesh[2] if m else np.zeros_like(a)
        sse = _ets_sse(y, m, init, a, b, c)
        i = int(np.argmin(sse))
        if sse[i] < best_sse:
            best_sse = float(sse[i])
            best = mesh[:, i].copy()
        if d < 1e-5 or best_sse == 0.0:
            break
        offs = np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) * d
        axes = [np.clip(best[j] + offs, 0.0, 1.0) for j in range(dims)]
        mesh = np.array(np.meshgrid(*axes, indexing="ij")).reshape(dims, -1)
        d /= 2.5
    alpha, beta = float(best[0]), float(best[1])
    return alpha, beta, (float(best[2]) if m else 0.0)


def _ets_run(y, m: int, init, alpha: float, beta: float, gamma: float) -> _EtsFit:
    """Step the model through y with the given parameters."""
    level, trend, season0 = init
    season = list(season0)
    fitted = []
    ga = gamma * (1.0 - alpha)
    for i, yi in enumerate(y):
        ph = i % m if m else 0
        s = season[ph] if m else 0.0
        f = level + trend + s
        fitted.append(f)
        e = yi - f
        level = level + trend + alpha * e
        trend = trend + alpha * beta * e
        if m:
            season[ph] = s + ga * e
    return _EtsFit(y, m, alpha, beta, gamma, fitted, level, trend, season)


_ETS_CACHE: dict[tuple, _EtsFit] = {}


def _ets_fit(y: tuple[float, ...], m: int) -> _EtsFit:
    """The fitted model of series y with season length m (0: none), cached: an array of
    targets, or CONFINT next to FORECAST.ETS on the same data, fits once."""
    key = (y, m)
    fit = _ETS_CACHE.get(key)
    if fit is None:
        init = _ets_initial(y, m)
        fit = _ets_run(y, m, init, *_ets_optimise(y, m, init))
        if len(_ETS_CACHE) > 64:
            _ETS_CACHE.clear()
        _ETS_CACHE[key] = fit
    return fit


def _ets_model(values: Array, timeline: Array, seasonality, completion, aggregation):
    """(x0, step, fit) for the arguments every FORECAST.ETS function shares."""
    m = _ets_seasonality_arg(seasonality)
    dc, ag = _ets_choices(completion, aggregation)
    x0, step, y = _ets_series(values, timeline, dc, ag)
    if m < 0:
        m = _ets_detect(y)
    elif m and len(y) < 2 * m:
        raise V.VALUE                   # fewer than two seasons of data
    return x0, step, _ets_fit(y, m)


def _ets_position(target: float, x0: float, step: float) -> float:
    """The target as a (fractional) time index; #NUM! a step or more before the start."""
    p = (target - x0) / step
    if p <= -1.0:
        raise V.NUM
    return p


def _ets_interpolate(p: float, f) -> float:
    """f at fractional index p: linear between the neighbouring whole indices (before index
    0, the line through indices 0 and 1)."""
    lo = max(math.floor(p), 0)
    frac = p - lo
    v = f(lo)
    return v if frac == 0.0 else v + frac * (f(lo + 1) - v)


@xl("FORECAST.ETS", NUMBER, ARRAY, ARRAY, ANY, ANY, ANY)
def FORECAST_ETS(target: float, values: Array, timeline: Array, seasonality=None,
                 data_completion=None, aggregation=None) -> float:
    """The AAA exponential smoothing forecast of values at target (see above)."""
    _ets_errors(seasonality, data_completion, aggregation)
    x0, step, fit = _ets_model(values, timeline, seasonality, data_completion, aggregation)
    return _ets_interpolate(_ets_position(target, x0, step), fit.at)


@xl("FORECAST.ETS.CONFINT", NUMBER, ARRAY, ARRAY, ANY, ANY, ANY, ANY)
def FORECAST_ETS_CONFINT(target: float, values: Array, timeline: Array,
                         confidence_level=None, seasonality=None, data_completion=None,
                         aggregation=None) -> float:
    """Half the width of the confidence interval around FORECAST.ETS's value at target."""
    _ets_errors(confidence_level, seasonality, data_completion, aggregation)
    level = _ets_option(confidence_level, 0.95)
    if not 0.0 < level < 1.0:
        raise V.NUM
    x0, step, fit = _ets_model(values, timeline, seasonality, data_completion, aggregation)
    z = norm_ppf((1.0 + level) / 2.0)
    return _ets_interpolate(_ets_position(target, x0, step), lambda k: fit.half_width(k, z))


@xl("FORECAST.ETS.SEASONALITY", ARRAY, ARRAY, ANY, ANY)
def FORECAST_ETS_SEASONALITY(values: Array, timeline: Array, data_completion=None,
                             aggregation=None) -> float:
    """The season length FORECAST.ETS detects for values (0: no seasonality)."""
    _ets_errors(data_completion, aggregation)
    return float(_ets_model(values, timeline, 1.0, data_completion, aggregation)[2].m)


_ETS_STATS = ("alpha", "beta", "gamma", "MASE", "SMAPE", "MAE", "RMSE", "step")


@xl("FORECAST.ETS.STAT", ARRAY, ARRAY, ANY, ANY, ANY, ANY)
def FORECAST_ETS_STAT(values: Array, timeline: Array, statistic_type, seasonality=None,
                      data_completion=None, aggregation=None) -> float:
    """A statistic of the fitted model: 1 alpha, 2 beta, 3 gamma, 4 MASE, 5 SMAPE, 6 MAE,
    7 RMSE, 8 the timeline's step."""
    _ets_errors(statistic_type, seasonality, data_completion, aggregation)
    kind = math.trunc(_ets_option(statistic_type, 0.0))
    if not 1 <= kind <= len(_ETS_STATS):
        raise V.NUM
    x0, step, fit = _ets_model(values, timeline, seasonality, data_completion, aggregation)
    if kind <= 3:
        return (fit.alpha, fit.beta, fit.gamma)[kind - 1]
    if kind == 8:
        return step
    y, f = fit.y, fit.fitted
    n = len(y)
    mae = total(abs(a - b) for a, b in zip(y, f)) / n
    if kind == 6:
        return mae
    if kind == 7:
        return math.sqrt(fit.sse() / n)
    if kind == 5:
        return total(0.0 if a == b else 2.0 * abs(a - b) / (abs(a) + abs(b))
                     for a, b in zip(y, f)) / n
    # MASE: the mean absolute error over that of the naive one-step forecast y[t-1]
    naive = total(abs(b - a) for a, b in zip(y, y[1:])) / (n - 1)
    if mae <= 1e-12 * max(1.0, max(abs(v) for v in y)):
        return 0.0
    if naive == 0.0:
        raise V.DIV0
    return mae / naive


def _ets_errors(*args) -> None:
    """Raise the first error among the optional arguments (they are ANY: a blank must stay
    distinguishable from 0, so the registry passes them as they are)."""
    for a in args:
        if isinstance(a, XLError):
            raise a
