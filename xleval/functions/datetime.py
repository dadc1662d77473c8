"""Date & Time functions.

Date arguments are read with `date_arg`: numbers as they are, text through date/number
parsing in the workbook's date system, blank as 0. The functions that came from the
Analysis ToolPak (EDATE, EOMONTH, WORKDAY, NETWORKDAYS, YEARFRAC, WEEKNUM and the
securities functions in financial.py) reject TRUE/FALSE with #VALUE!, as Excel does.
"""
from __future__ import annotations

import bisect
import datetime as _dt
import math

from .. import dates as D
from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from .registry import (ANY, ARRAY, INT, RAW, REGISTRY, SCALAR, SCALAR_KINDS, TEXT,
                       FunctionSpec, invoke, xl)


def atp(name: str, *kinds: str, ctx: bool = False, **kw):
    """Register like `xl`, for the functions that came from the Analysis ToolPak: a
    multi-cell reference where one value is expected is #VALUE! in an array formula (and
    implicitly intersected in an ordinary one) instead of being expanded; computed arrays
    still broadcast (the `EDATE(+A1:A3, 1)` idiom)."""

    def deco(fn):
        xl(name, *kinds, ctx=ctx, **kw)(fn)
        inner = REGISTRY[name.upper()]

        def outer(cx, *args):
            conv = []
            for i, a in enumerate(args):
                if isinstance(a, (Range, RefList)) and inner.kind(i) in SCALAR_KINDS:
                    a = _single_value(cx, a)
                conv.append(a)
            return invoke(inner, cx, conv)

        # scalar positions arrive raw (references intact); array positions keep their kind
        # so the compiler still evaluates them in array mode
        kinds_out = tuple(RAW if k in SCALAR_KINDS else k for k in inner.kinds) or (RAW,)
        spec = FunctionSpec(inner.name, outer, kinds_out, inner.min_args, inner.max_args,
                            ctx=True, volatile=inner.volatile, category=inner.category)
        for n in (name, *kw.get("aliases", ())):
            REGISTRY[n.upper()] = spec
        return fn

    return deco


def _single_value(cx, ref):
    if isinstance(ref, RefList):
        if len(ref.areas) != 1:
            return V.VALUE
        ref = ref.areas[0]
    if ref.is_cell:
        return ref
    if cx.array_mode:
        return V.VALUE
    return cx.ev.implicit_intersection(ref, cx)

# ---------------------------------------------------------------------------------------
# argument helpers (also used by financial.py)
# ---------------------------------------------------------------------------------------


def is1904(cx) -> bool:
    try:
        return bool(cx.ev.wb.date1904)
    except AttributeError:
        return False


def date_arg(cx, v, *, atp: bool = False) -> float:
    """A date/number argument as a float. Raises #VALUE! for text that is neither a number
    nor a date (and for booleans when `atp`)."""
    if isinstance(v, bool):
        if atp:
            raise V.VALUE
        return 1.0 if v else 0.0
    if isinstance(v, float):
        return v
    if v is None:
        return 0.0
    if isinstance(v, int):
        return float(v)
    if isinstance(v, str):
        if is1904(cx):
            p = D.parse_date_time(v, True)
            if p is not None:
                return p
        n = V.text_to_number(v)
        if n is None:
            raise V.VALUE
        return n
    if isinstance(v, XLError):
        raise v
    raise V.VALUE


def serial_arg(cx, v, *, atp: bool = False) -> int:
    """A date argument truncated to a whole day, checked against the date system's range."""
    x = date_arg(cx, v, atp=atp)
    if x < 0:
        raise V.NUM
    n = int(math.floor(x))
    if n > D.max_serial(is1904(cx)):
        raise V.NUM
    return n


def _trunc(x: float) -> int:
    return int(x) if x >= 0 else -int(-x)


def _check(cx, n: float) -> float:
    if n < 0 or n > D.max_serial(is1904(cx)):
        raise V.NUM
    return float(n)


def _year_of(n: int, d1904: bool) -> int:
    y, _, d = D.from_serial(n, d1904)
    return y - 1 if d == 0 else y       # serial 0 (1900 system) is 31 Dec 1899


# ---------------------------------------------------------------------------------------
# construction and parsing
# ---------------------------------------------------------------------------------------

@xl("DATE", INT, INT, INT, ctx=True)
def DATE(cx, year, month, day):
    if year < 0 or year >= 10000:
        return V.NUM
    if year < 1900:
        year += 1900
    d1904 = is1904(cx)
    return _check(cx, D.ymd_to_serial(year, month, day, d1904))


@xl("TIME", INT, INT, INT)
def TIME(hour, minute, second):
    if hour > 32767 or minute > 32767 or second > 32767:
        return V.NUM
    total = hour * 3600 + minute * 60 + second
    if total < 0:
        return V.NUM
    return (total % 86400) / 86400.0


def _text_only(v):
    if not isinstance(v, str):
        raise V.VALUE
    return v


@xl("DATEVALUE", SCALAR, ctx=True)
def DATEVALUE(cx, text):
    parts = D.parse_date_parts(_text_only(text), is1904(cx))
    if parts is None or parts[0] is None:
        return V.VALUE
    return _check(cx, math.floor(parts[0]))


@xl("TIMEVALUE", SCALAR, ctx=True)
def TIMEVALUE(cx, text):
    parts = D.parse_date_parts(_text_only(text), is1904(cx))
    if parts is None:
        return V.VALUE
    t = parts[1]
    if t is None:
        return 0.0
    return t - math.floor(t)


# ---------------------------------------------------------------------------------------
# parts of a serial
# ---------------------------------------------------------------------------------------

def _serial_value(cx, v) -> float:
    x = date_arg(cx, v)
    if x < 0 or x >= D.max_serial(is1904(cx)) + 1:
        raise V.NUM
    return x


@xl("YEAR", SCALAR, ctx=True)
def YEAR(cx, serial):
    x = _serial_value(cx, serial)
    return D.from_serial(x, is1904(cx))[0]


@xl("MONTH", SCALAR, ctx=True)
def MONTH(cx, serial):
    x = _serial_value(cx, serial)
    return D.from_serial(x, is1904(cx))[1]


@xl("DAY", SCALAR, ctx=True)
def DAY(cx, serial):
    x = _serial_value(cx, serial)
    return D.from_serial(x, is1904(cx))[2]


@xl("HOUR", SCALAR, ctx=True)
def HOUR(cx, serial):
    return D.time_parts(_serial_value(cx, serial))[0]


@xl("MINUTE", SCALAR, ctx=True)
def MINUTE(cx, serial):
    return D.time_parts(_serial_value(cx, serial))[1]


@xl("SECOND", SCALAR, ctx=True)
def SECOND(cx, serial):
    return D.time_parts(_serial_value(cx, serial))[2]


_WEEKDAY_START = {1: 0, 2: 1, 11: 1, 12: 2, 13: 3, 14: 4, 15: 5, 16: 6, 17: 0}


@xl("WEEKDAY", SCALAR, SCALAR, ctx=True)
def WEEKDAY(cx, serial, return_type=1.0):
    x = _serial_value(cx, serial)
    # a blank cell (or an empty argument) is the number 0, not "omitted": #NUM! like Excel
    rt = 0 if return_type is None else _trunc(date_arg(cx, return_type))
    wd = D.weekday(x, is1904(cx))            # 0 = Sunday
    if rt == 3:
        return (wd + 6) % 7
    start = _WEEKDAY_START.get(rt)
    if start is None:
        return V.NUM
    return (wd - start) % 7 + 1


def _isoweek(n: int, d1904: bool) -> int:
    iso = (D.weekday(n, d1904) + 6) % 7 + 1      # Monday = 1 ... Sunday = 7
    thursday = n - iso + 4
    y = _year_of(thursday, d1904)
    return (thursday - D.year_start(y, d1904)) // 7 + 1


@atp("WEEKNUM", SCALAR, SCALAR, ctx=True)
def WEEKNUM(cx, serial, return_type=1.0):
    d1904 = is1904(cx)
    n = serial_arg(cx, serial, atp=True)
    rt = 0 if return_type is None else _trunc(date_arg(cx, return_type, atp=True))  # blank: 0
    if rt == 21:
        return _isoweek(n, d1904)
    start = _WEEKDAY_START.get(rt)
    if start is None:
        return V.NUM
    y = D.from_serial(n, d1904)[0]
    jan1 = D.year_start(y, d1904)
    offset = (D.weekday(jan1, d1904) - start) % 7
    return (n - jan1 + offset) // 7 + 1


@xl("ISOWEEKNUM", SCALAR, ctx=True)
def ISOWEEKNUM(cx, serial):
    n = serial_arg(cx, serial)
    return _isoweek(n, is1904(cx))


# ---------------------------------------------------------------------------------------
# month arithmetic
# ---------------------------------------------------------------------------------------

def _months_arg(cx, v) -> int:
    return _trunc(date_arg(cx, v, atp=True))


@atp("EDATE", SCALAR, SCALAR, ctx=True)
def EDATE(cx, start, months):
    d1904 = is1904(cx)
    n = serial_arg(cx, start, atp=True)
    k = _months_arg(cx, months)
    y, m, d = D.from_serial(n, d1904)
    m += k
    y2 = y + (m - 1) // 12
    m2 = (m - 1) % 12 + 1
    if y2 < 1 or y2 > 9999:
        return V.NUM
    d = min(d, D.days_in_month(y2, m2, d1904))
    return _check(cx, D.ymd_to_serial(y2, m2, d, d1904))


@atp("EOMONTH", SCALAR, SCALAR, ctx=True)
def EOMONTH(cx, start, months):
    d1904 = is1904(cx)
    n = serial_arg(cx, start, atp=True)
    k = _months_arg(cx, months)
    y, m, _ = D.from_serial(n, d1904)
    return _check(cx, D.ymd_to_serial(y, m + k + 1, 1, d1904) - 1)


# ---------------------------------------------------------------------------------------
# differences
# ---------------------------------------------------------------------------------------

@xl("DAYS", SCALAR, SCALAR, ctx=True)
def DAYS(cx, end, start):
    e = serial_arg(cx, end)
    s = serial_arg(cx, start)
    return float(e - s)


def days360(s: int, e: int, european: bool, d1904: bool) -> int:
    y1, m1, d1 = D.from_serial(s, d1904)
    y2, m2, d2 = D.from_serial(e, d1904)
    if european:
        if d1 == 31:
            d1 = 30
        if d2 == 31:
            d2 = 30
    else:
        if D.is_last_day_of_month(s, d1904):
            d1 = 30
        if d2 == 31 and d1 >= 30:
            d2 = 30
    return (y2 - y1) * 360 + (m2 - m1) * 30 + (d2 - d1)


@xl("DAYS360", SCALAR, SCALAR, SCALAR, ctx=True)
def DAYS360(cx, start, end, method=False):
    s = serial_arg(cx, start)
    e = serial_arg(cx, end)
    eu = V.to_bool(method) if method is not None else False
    if isinstance(eu, XLError):
        return eu
    return float(days360(s, e, eu, is1904(cx)))


@xl("DATEDIF", SCALAR, SCALAR, TEXT, ctx=True)
def DATEDIF(cx, start, end, unit):
    d1904 = is1904(cx)
    s = serial_arg(cx, start)
    e = serial_arg(cx, end)
    if s > e:
        return V.NUM
    u = unit.strip().upper()
    if u == "D":
        return float(e - s)
    y1, m1, d1 = D.from_serial(s, d1904)
    y2, m2, d2 = D.from_serial(e, d1904)
    months = (y2 - y1) * 12 + (m2 - m1)
    if d2 < d1:
        months -= 1
    if u == "M":
        return float(months)
    if u == "Y":
        return float(months // 12)
    if u == "YM":
        return float(months % 12)
    if u == "MD":
        if d2 >= d1:
            return float(d2 - d1)
        return float(e - D.ymd_to_serial(y2, m2 - 1, d1, d1904))
    if u == "YD":
        # Excel moves the end date into the start date's year (so 1900's phantom 29 Feb
        # counts when the start is in 1900)
        if (m2, d2) >= (m1, d1):
            end = D.ymd_to_serial(y1, m2, d2, d1904)
        else:
            end = D.ymd_to_serial(y1 + 1, m2, d2, d1904)
        return float(end - s)
    return V.NUM


def yearfrac(s: int, e: int, basis: int, d1904: bool) -> float:
    """YEARFRAC of two whole-day serials (any order) for bases 0..4."""
    if s > e:
        s, e = e, s
    if basis == 2:
        return (e - s) / 360.0
    if basis == 3:
        return (e - s) / 365.0
    y1, m1, d1 = D.from_serial(s, d1904)
    y2, m2, d2 = D.from_serial(e, d1904)
    if basis == 4:
        d1 = min(d1, 30)
        d2 = min(d2, 30)
        return ((y2 - y1) * 360 + (m2 - m1) * 30 + (d2 - d1)) / 360.0
    if basis == 0:
        if s == e:
            return 0.0
        feb1 = m1 == 2 and D.is_last_day_of_month(s, d1904)
        feb2 = m2 == 2 and D.is_last_day_of_month(e, d1904)
        if d1 == 31 and d2 == 31:
            d1 = d2 = 30
        elif d1 == 31:
            d1 = 30
        elif d1 == 30 and d2 == 31:
            d2 = 30
        elif feb1 and feb2:
            d1 = d2 = 30
        elif feb1:
            d1 = 30
        return ((y2 - y1) * 360 + (m2 - m1) * 30 + (d2 - d1)) / 360.0
    if basis == 1:
        # year lengths follow the real calendar (1900 is not a leap year here), the day
        # count is the serial difference
        if s == e:
            return 0.0
        if d1 == 0:                      # 'January 0, 1900' is 31 Dec 1899
            y1, m1, d1 = 1899, 12, 31
        leap = D.is_leap_gregorian
        within = y1 == y2 or (y2 == y1 + 1 and (m1, d1) >= (m2, d2))
        if within:
            if y1 == y2:
                length = 366 if leap(y1) else 365
            else:
                feb29 = (leap(y1) and (m1, d1) <= (2, 29)) or \
                    (leap(y2) and (m2, d2) >= (2, 29))
                length = 366 if feb29 else 365
            return (e - s) / length
        years = y2 - y1 + 1
        total = sum(366 if leap(y) else 365 for y in range(y1, y2 + 1))
        return (e - s) / (total / years)
    raise V.NUM


@atp("YEARFRAC", ANY, ANY, ANY, ctx=True)
def YEARFRAC(cx, start, end, basis=0.0):
    # Excel checks the basis (type and range) before it looks at the dates
    b = 0 if basis is None else _trunc(date_arg(cx, basis, atp=True))
    if b < 0 or b > 4:
        return V.NUM
    s = serial_arg(cx, start, atp=True)
    e = serial_arg(cx, end, atp=True)
    return yearfrac(s, e, b, is1904(cx))


# ---------------------------------------------------------------------------------------
# working days
# ---------------------------------------------------------------------------------------

_WEEKEND_CODES = {1: (6, 0), 2: (0, 1), 3: (1, 2), 4: (2, 3), 5: (3, 4), 6: (4, 5), 7: (5, 6),
                  11: (0,), 12: (1,), 13: (2,), 14: (3,), 15: (4,), 16: (5,), 17: (6,)}


def _weekend_mask(cx, weekend) -> tuple[bool, ...]:
    """Weekend days as a 7-tuple indexed Sunday=0..Saturday=6."""
    if weekend is None:
        weekend = 1.0
    if isinstance(weekend, bool):
        raise V.VALUE
    if isinstance(weekend, str):
        w = weekend
        if len(w) == 7 and set(w) <= {"0", "1"}:
            # the string runs Monday..Sunday
            return tuple(w[(i + 6) % 7] == "1" for i in range(7))
        raise V.VALUE
    code = _trunc(float(weekend))
    days = _WEEKEND_CODES.get(code)
    if days is None:
        raise V.NUM
    return tuple(i in days for i in range(7))


def _holidays(cx, arr) -> list[int]:
    """Sorted distinct holiday serials."""
    if arr is None:
        return []
    out = set()
    items = arr.flat() if isinstance(arr, Array) else [arr]
    for v in items:
        if v is None:
            continue
        if isinstance(v, XLError):
            raise v
        if isinstance(v, bool):
            raise V.VALUE
        x = date_arg(cx, v)
        if x < 0:
            raise V.NUM
        out.add(int(math.floor(x)))
    return sorted(out)


def _count_workdays(s: int, e: int, mask, hols: list[int], d1904: bool) -> int:
    """Working days in s..e inclusive (s <= e)."""
    total = e - s + 1
    weeks, rest = divmod(total, 7)
    per_week = 7 - sum(mask)
    n = weeks * per_week
    wd = D.weekday(s, d1904)
    for i in range(rest):
        if not mask[(wd + i) % 7]:
            n += 1
    lo = bisect.bisect_left(hols, s)
    hi = bisect.bisect_right(hols, e)
    for h in hols[lo:hi]:
        if not mask[D.weekday(h, d1904)]:
            n -= 1
    return n


def _networkdays(cx, start, end, mask, holidays):
    d1904 = is1904(cx)
    s = serial_arg(cx, start, atp=True)
    e = serial_arg(cx, end, atp=True)
    hols = _holidays(cx, holidays)
    if s <= e:
        return float(_count_workdays(s, e, mask, hols, d1904))
    return float(-_count_workdays(e, s, mask, hols, d1904))


@atp("NETWORKDAYS", SCALAR, SCALAR, ARRAY, ctx=True)
def NETWORKDAYS(cx, start, end, holidays=None):
    return _networkdays(cx, start, end, (True, False, False, False, False, False, True),
                        holidays)


@atp("NETWORKDAYS.INTL", SCALAR, SCALAR, SCALAR, ARRAY, ctx=True)
def NETWORKDAYS_INTL(cx, start, end, weekend=None, holidays=None):
    mask = _weekend_mask(cx, weekend)
    return _networkdays(cx, start, end, mask, holidays)


def _workday(cx, start, days, mask, holidays):
    d1904 = is1904(cx)
    if all(mask):
        raise V.VALUE
    s = serial_arg(cx, start, atp=True)
    k = _trunc(date_arg(cx, days, atp=True))
    hols = _holidays(cx, holidays)
    if k == 0:
        return float(s)
    step = 1 if k > 0 else -1
    remaining = abs(k)
    per_week = 7 - sum(mask)
    pos = s
    limit = D.max_serial(d1904)
    while remaining > per_week * 2:
        q = (remaining - 1) // per_week
        target = pos + step * 7 * q
        if target < -7 or target > limit + 7:
            raise V.NUM
        lo, hi = (pos + 1, target) if step > 0 else (target, pos - 1)
        h = sum(1 for x in hols[bisect.bisect_left(hols, lo):bisect.bisect_right(hols, hi)]
                if not mask[D.weekday(x, d1904)])
        remaining -= q * per_week - h
        pos = target
    hol_set = set(hols)
    while remaining > 0:
        pos += step
        if pos < 0 or pos > limit:
            raise V.NUM
        if mask[D.weekday(pos, d1904)] or pos in hol_set:
            continue
        remaining -= 1
    return _check(cx, pos)


@atp("WORKDAY", SCALAR, SCALAR, ARRAY, ctx=True)
def WORKDAY(cx, start, days, holidays=None):
    return _workday(cx, start, days, (True, False, False, False, False, False, True),
                    holidays)


@atp("WORKDAY.INTL", SCALAR, SCALAR, SCALAR, ARRAY, ctx=True)
def WORKDAY_INTL(cx, start, days, weekend=None, holidays=None):
    mask = _weekend_mask(cx, weekend)
    return _workday(cx, start, days, mask, holidays)


# ---------------------------------------------------------------------------------------
# the clock
# ---------------------------------------------------------------------------------------

def now_serial(cx) -> float:
    """The current date-time as a serial: the engine's pinned `now` (a 1900-system serial)
    or the local clock."""
    now = getattr(cx.ev, "now", None)
    if now is None:
        now = D.to_serial(_dt.datetime.now())
    if is1904(cx):
        now -= D.OFFSET_1904
    return float(now)


@xl("NOW", ctx=True, volatile=True)
def NOW(cx):
    return now_serial(cx)


@xl("TODAY", ctx=True, volatile=True)
def TODAY(cx):
    return float(math.floor(now_serial(cx)))
