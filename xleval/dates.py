"""Excel date serial numbers: the 1900 system (with its fictitious 29 Feb 1900, serial 60)
and the 1904 system; parsing of date/time text the way DATEVALUE and coercion read it.

Serial arithmetic here works on a proleptic day count, so month/day overflow, negative days
and years outside 1..9999 never raise: callers check the result against 0..max_serial().
In the 1900 system, February 1900 has 29 days and 1 Jan 1900 (serial 1) is a Sunday, both
as Excel has them.
"""
from __future__ import annotations

import datetime as _dt
import math
import re

_EPOCH_1900 = _dt.date(1899, 12, 31)     # serial 1 = 1900-01-01
_EPOCH_1904 = _dt.date(1904, 1, 1)       # serial 0 = 1904-01-01

MAX_SERIAL_1900 = 2958465                # 9999-12-31
MAX_SERIAL_1904 = MAX_SERIAL_1900 - 1462
OFFSET_1904 = 1462                       # serial(1900 system) - serial(1904 system)


def max_serial(date1904: bool = False) -> int:
    """The largest valid serial (31 Dec 9999) of the date system."""
    return MAX_SERIAL_1904 if date1904 else MAX_SERIAL_1900


# ---------------------------------------------------------------------------------------
# proleptic Gregorian day counts (any integer year)
# ---------------------------------------------------------------------------------------

def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (m in 1..12, any y, any d)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400                       # 0..399
    mar = (m + 9) % 12                        # March = 0 ... February = 11
    doy = (153 * mar + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    """Inverse of _days_from_civil."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return y, m, d


_D_1899_12_31 = _days_from_civil(1899, 12, 31)
_D_1899_12_30 = _days_from_civil(1899, 12, 30)
_D_1904_01_01 = _days_from_civil(1904, 1, 1)


def is_leap(year: int, date1904: bool = False) -> bool:
    """Leap year as Excel's calendar has it (1900 is one in the 1900 system)."""
    if year == 1900 and not date1904:
        return True
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_leap_gregorian(year: int) -> bool:
    """Leap year of the real (proleptic Gregorian) calendar."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_in_month(year: int, month: int, date1904: bool = False) -> int:
    if month == 2 and is_leap(year, date1904):
        return 29
    return _MDAYS[month - 1]


def ymd_to_serial(year: int, month: int, day: int, date1904: bool = False) -> int:
    """Serial of year/month/day with DATE's overflow rules: months outside 1..12 roll the
    year, days outside the month count on from its first day. Never raises."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    first = _days_from_civil(year, month, 1)
    if date1904:
        return first - _D_1904_01_01 + day - 1
    if (year, month) <= (1900, 2):
        return first - _D_1899_12_31 + day - 1
    return first - _D_1899_12_30 + day - 1


def to_serial(value, date1904: bool = False) -> float:
    """A date/datetime/time as an Excel serial number."""
    if isinstance(value, _dt.datetime):
        frac = (value.hour * 3600 + value.minute * 60 + value.second
                + value.microsecond / 1e6) / 86400.0
        return date_serial(value.year, value.month, value.day, date1904) + frac
    if isinstance(value, _dt.date):
        return float(date_serial(value.year, value.month, value.day, date1904))
    if isinstance(value, _dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second
                + value.microsecond / 1e6) / 86400.0
    raise TypeError(value)


def date_serial(year: int, month: int, day: int, date1904: bool = False) -> int:
    """Serial of a valid proleptic Gregorian date (1900 system keeps Excel's leap-year bug)."""
    _dt.date(year, month, day)            # validates
    return ymd_to_serial(year, month, day, date1904)


def from_serial(serial: float, date1904: bool = False) -> tuple[int, int, int]:
    """(year, month, day) of a serial number's integer part; serial 60 (1900) is 29 Feb 1900,
    serial 0 is 'January 0, 1900' which Excel shows as 1900-01-00."""
    n = int(serial // 1)
    if date1904:
        return _civil_from_days(n + _D_1904_01_01)
    if n == 60:
        return 1900, 2, 29
    if n == 0:
        return 1900, 1, 0
    if n > 60:
        return _civil_from_days(n + _D_1899_12_30)
    return _civil_from_days(n + _D_1899_12_31)


def serial_to_date(serial: float, date1904: bool = False) -> _dt.date:
    """A real date for a serial (29 Feb 1900 maps to 1 Mar 1900)."""
    y, m, d = from_serial(serial, date1904)
    if (y, m, d) == (1900, 2, 29):
        return _dt.date(1900, 3, 1)
    if d == 0:
        return _dt.date(1899, 12, 31)
    return _dt.date(y, m, d)


def weekday(serial: float, date1904: bool = False) -> int:
    """Day of the week of a serial's integer part: 0 = Sunday ... 6 = Saturday, on Excel's
    calendar (serial 1 of the 1900 system is a Sunday, serial 0 a Saturday)."""
    n = int(serial // 1)
    if date1904:
        n += OFFSET_1904
    return (n + 6) % 7


def year_start(year: int, date1904: bool = False) -> int:
    """Serial of 1 January of a year (may be out of the valid range)."""
    return ymd_to_serial(year, 1, 1, date1904)


def is_last_day_of_month(serial: float, date1904: bool = False) -> bool:
    y, m, d = from_serial(serial, date1904)
    if d == 0:
        return True      # 'January 0, 1900' is 31 Dec 1899
    return d == days_in_month(y, m, date1904)


def time_parts(serial: float) -> tuple[int, int, int]:
    """(hour, minute, second) of a serial's fraction, rounded to the nearest second as
    Excel's HOUR/MINUTE/SECOND do (a fraction that rounds up to 24:00 gives 0:00:00)."""
    frac = serial - math.floor(serial)
    secs = int(math.floor(frac * 86400.0 + 0.5))
    if secs >= 86400:
        secs -= 86400
    return secs // 3600, secs // 60 % 60, secs % 60


# ---------------------------------------------------------------------------------------
# text -> serial
# ---------------------------------------------------------------------------------------

_MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], 1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9

_TIME_RE = re.compile(
    r"^\s*(\d{1,5})(?::(\d{1,5}))?(?::(\d{1,5}(?:\.\d*)?))?\s*(am|pm|a|p)?\s*$", re.I)
_MINSEC_RE = re.compile(r"^\s*(\d{1,5}):(\d{1,5}\.\d+)\s*$")
_HM_DOT_RE = re.compile(r"^\s*\d{1,5}:\d{1,5}\.\s*$")


def _parse_time(t: str):
    """Day fraction (may exceed 1 for hours >= 24) of time text, or None.

    The last unit may run over (below 10000) when the units before it are within a day:
    '0:59:99', '23:9999' and '59:9999.0' (minutes:seconds) are read, '24:99',
    '23:60:9999' and '23:10000' are not; otherwise minutes and seconds are below 60."""
    m = _MINSEC_RE.match(t)
    if m:                                 # mm:ss.0
        mi, se = int(m.group(1)), float(m.group(2))
        if se >= 60 and (se >= 10000 or mi >= 60):
            return None
        return (mi * 60 + se) / 86400.0
    if _HM_DOT_RE.match(t):               # '23:59.' is hours and minutes
        t = t.rstrip()[:-1]
    m = _TIME_RE.match(t)
    if not m:
        return None
    h, mi, se, ap = m.groups()
    if mi is None and ap is None:
        return None
    h = int(h)
    mi = int(mi or 0)
    sec = float(se or 0)
    if ap:
        if h > 12 or mi >= 60 or sec >= 60:
            return None
        if ap.lower().startswith("p") and h < 12:
            h += 12
        elif ap.lower().startswith("a") and h == 12:
            h = 0
    else:
        last = sec if se is not None else mi
        if last >= 60:                    # the last unit runs over
            if last >= 10000 or h >= 24 or (se is not None and mi >= 60):
                return None
        elif h > 9999 or mi >= 60:
            return None
    return (h * 3600 + mi * 60 + sec) / 86400.0


def _valid(y, m, d) -> bool:
    try:
        _dt.date(y, m, d)
        return True
    except ValueError:
        return (y, m, d) == (1900, 2, 29)


def _year(y: str) -> int:
    n = int(y)
    if len(y) <= 2:
        return 2000 + n if n < 30 else 1900 + n
    return n


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
             "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun")


def _parse_date(t: str, today: _dt.date | None = None):
    t = t.strip().replace(",", " ")
    t = re.sub(r"\s+", " ", t)
    # an optional leading day name: "Monday, January 1, 2024"
    m = re.match(r"^([A-Za-z]+)\.? (.*)$", t)
    if m and m.group(1).lower() in _WEEKDAYS:
        t = m.group(2)
    if today is None:
        today = _dt.date.today()
    # ISO / year-first: 2024-01-31, 2024/1/31
    m = re.match(r"^(\d{4})([-/])(\d{1,2})\2(\d{1,2})$", t)
    if m:
        return int(m.group(1)), int(m.group(3)), int(m.group(4))
    # year-month: 2024-01, 2024/1 (day 1)
    m = re.match(r"^(\d{4})[-/](\d{1,2})$", t)
    if m:
        return int(m.group(1)), int(m.group(2)), 1
    # month/day/year (US locale, as Excel's default en-US)
    m = re.match(r"^(\d{1,2})([-/])(\d{1,2})\2(\d{1,4})$", t)
    if m:
        y, a, b = _year(m.group(4)), int(m.group(1)), int(m.group(3))
        if a > 12 and b <= 12:
            return y, b, a            # day-first text from a non-US locale (26/08/1987)
        return y, a, b
    m = re.match(r"^(\d{1,2})[-/](\d{1,4})$", t)
    if m:
        a, b = int(m.group(1)), m.group(2)
        if len(b) <= 2 and 1 <= int(b) <= 31 and _valid(today.year, a, int(b)):
            return today.year, a, int(b)             # 1/31 -> this year
        return _year(b), a, 1                         # 1/2024, 2/30 -> month/year
    # 31-Jan-2024, 31 January 2024, 31-Jan
    m = re.match(r"^(\d{1,2})[-/ ]([A-Za-z]+)\.?(?:[-/ ](\d{1,4}))?$", t)
    if m and m.group(2).lower() in _MONTHS:
        y = _year(m.group(3)) if m.group(3) else today.year
        return y, _MONTHS[m.group(2).lower()], int(m.group(1))
    # January 31 2024, Jan 31, Jan-2024 (day 1)
    m = re.match(r"^([A-Za-z]+)\.?[-/ ](\d{1,4})(?:[-/ ](\d{1,4}))?$", t)
    if m and m.group(1).lower() in _MONTHS:
        mon = _MONTHS[m.group(1).lower()]
        if m.group(3):
            return _year(m.group(3)), mon, int(m.group(2))
        n = m.group(2)
        if len(n) > 2 or int(n) > 31 or not _valid(today.year, mon, int(n)):
            return _year(n), mon, 1
        return today.year, mon, int(n)
    # 2024-Jan-31 / 2024 January 31
    m = re.match(r"^(\d{4})[-/ ]([A-Za-z]+)\.?[-/ ](\d{1,2})$", t)
    if m and m.group(2).lower() in _MONTHS:
        return int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3))
    return None


def parse_date_time(text: str, date1904: bool = False):
    """Serial number for date and/or time text, or None when Excel would not read it."""
    t = text.strip()
    if not t:
        return None
    tm = _parse_time(t)
    if tm is not None:
        return tm
    # split a trailing time part
    m = re.match(r"^(.*?)[ T](\d{1,5}:\d{1,5}(?::\d{1,5}(?:\.\d*)?)?\s*(?:am|pm|a|p)?"
                 r"|\d{1,2}\s*(?:am|pm|a|p))$", t, re.I)
    date_part, time_part = (m.group(1), m.group(2)) if m else (t, None)
    ymd = _parse_date(date_part)
    if ymd is None:
        return None
    y, mo, d = ymd
    if y < (1904 if date1904 else 1900) or y > 9999 or not _valid(y, mo, d):
        return None
    if date1904 and (y, mo, d) == (1900, 2, 29):
        return None
    serial = float(ymd_to_serial(y, mo, d, date1904))
    if time_part:
        tt = _parse_time(time_part)
        if tt is None:
            return None
        serial += tt
    return serial


def parse_date_parts(text: str, date1904: bool = False):
    """(date serial or None, time fraction or None) of date/time text, or None when the text
    is not a date or time. DATEVALUE uses the date part, TIMEVALUE the time part."""
    t = text.strip()
    if not t:
        return None
    tm = _parse_time(t)
    if tm is not None:
        return None, tm
    m = re.match(r"^(.*?)[ T](\d{1,5}:\d{1,5}(?::\d{1,5}(?:\.\d*)?)?\s*(?:am|pm|a|p)?"
                 r"|\d{1,2}\s*(?:am|pm|a|p))$", t, re.I)
    date_part, time_part = (m.group(1), m.group(2)) if m else (t, None)
    full = parse_date_time(t, date1904)
    if full is None:
        return None
    day = float(math.floor(full)) if time_part else full
    return day, (_parse_time(time_part) if time_part else None)


def parse_now(value, what: str = "now"):
    """A pinned NOW()/TODAY() as a serial number: None (the clock), a number (a serial), a
    date/datetime, or a text (ISO 8601 like 2024-06-30T12:00, or a date Excel reads, or a
    serial). Anything else is an XlevalError naming `what`."""
    from .errors import XlevalError
    if value is None:
        return None
    if isinstance(value, _dt.date):            # (a datetime is a date)
        return to_serial(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise XlevalError(f"{what}: {value!r} is not a date/time")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return to_serial(_dt.datetime.fromisoformat(text))
        except ValueError:
            pass
        from .values import text_to_number
        v = text_to_number(text)
        if v is not None:
            return v
        raise XlevalError(f"{what}: cannot read {value!r} as a date/time "
                          "(use ISO format, e.g. 2024-01-31T12:00)")
    raise XlevalError(f"{what}: expected a date/time, a serial number or an ISO text, "
                      f"not {type(value).__name__}")
