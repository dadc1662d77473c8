"""Excel date serial numbers: the 1900 system (with its fictitious 29 Feb 1900, serial 60)
and the 1904 system; parsing of date/time text the way DATEVALUE and coercion read it."""
from __future__ import annotations

import datetime as _dt
import re

_EPOCH_1900 = _dt.date(1899, 12, 31)     # serial 1 = 1900-01-01
_EPOCH_1904 = _dt.date(1904, 1, 1)       # serial 0 = 1904-01-01


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
    d = _dt.date(year, month, day)
    if date1904:
        return (d - _EPOCH_1904).days
    n = (d - _EPOCH_1900).days
    if n >= 60:          # dates after 28 Feb 1900 are one higher: 29 Feb 1900 exists in Excel
        n += 1
    return n


def from_serial(serial: float, date1904: bool = False) -> tuple[int, int, int]:
    """(year, month, day) of a serial number's integer part; serial 60 (1900) is 29 Feb 1900,
    serial 0 is 'January 0, 1900' which Excel shows as 1900-01-00."""
    n = int(serial // 1)
    if date1904:
        d = _EPOCH_1904 + _dt.timedelta(days=n)
        return d.year, d.month, d.day
    if n == 60:
        return 1900, 2, 29
    if n == 0:
        return 1900, 1, 0
    if n > 60:
        n -= 1
    d = _EPOCH_1900 + _dt.timedelta(days=n)
    return d.year, d.month, d.day


def serial_to_date(serial: float, date1904: bool = False) -> _dt.date:
    """A real date for a serial (29 Feb 1900 maps to 1 Mar 1900)."""
    y, m, d = from_serial(serial, date1904)
    if (y, m, d) == (1900, 2, 29):
        return _dt.date(1900, 3, 1)
    if d == 0:
        return _dt.date(1899, 12, 31)
    return _dt.date(y, m, d)


_MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], 1)}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9

_TIME_RE = re.compile(
    r"^\s*(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}(?:\.\d+)?))?\s*(am|pm|a|p)?\s*$", re.I)


def _parse_time(t: str):
    m = _TIME_RE.match(t)
    if not m:
        return None
    h, mi, se, ap = m.groups()
    if mi is None and ap is None:
        return None
    h = int(h)
    mi = int(mi or 0)
    se = float(se or 0)
    if ap:
        if h > 12 or h == 0 and False:
            return None
        if ap.lower().startswith("p") and h < 12:
            h += 12
        elif ap.lower().startswith("a") and h == 12:
            h = 0
    if mi >= 60 or se >= 60:
        return None
    return (h * 3600 + mi * 60 + se) / 86400.0


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


def _parse_date(t: str):
    t = t.strip().replace(",", " ")
    t = re.sub(r"\s+", " ", t)
    today = _dt.date.today()
    # ISO / year-first: 2024-01-31, 2024/1/31
    m = re.match(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$", t)
    if m:
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    # month/day/year (US locale, as Excel's default en-US)
    m = re.match(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{1,4})$", t)
    if m:
        return _year(m.group(3)), int(m.group(1)), int(m.group(2))
    m = re.match(r"^(\d{1,2})[-/](\d{1,2})$", t)
    if m:
        return today.year, int(m.group(1)), int(m.group(2))
    # 31-Jan-2024, 31 January 2024, 31-Jan
    m = re.match(r"^(\d{1,2})[- ]([A-Za-z]+)\.?(?:[- ](\d{1,4}))?$", t)
    if m and m.group(2).lower() in _MONTHS:
        y = _year(m.group(3)) if m.group(3) else today.year
        return y, _MONTHS[m.group(2).lower()], int(m.group(1))
    # January 31 2024, Jan 31, Jan-2024 (day 1)
    m = re.match(r"^([A-Za-z]+)\.?[- ](\d{1,4})(?:[- ](\d{1,4}))?$", t)
    if m and m.group(1).lower() in _MONTHS:
        mon = _MONTHS[m.group(1).lower()]
        if m.group(3):
            return _year(m.group(3)), mon, int(m.group(2))
        n = m.group(2)
        if len(n) > 2 or int(n) > 31:
            return _year(n), mon, 1
        return today.year, mon, int(n)
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
    m = re.match(r"^(.*?)[ T](\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?\s*(?:am|pm|a|p)?)$", t, re.I)
    date_part, time_part = (m.group(1), m.group(2)) if m else (t, None)
    ymd = _parse_date(date_part)
    if ymd is None:
        return None
    y, mo, d = ymd
    if y < 1900 or y > 9999 or not _valid(y, mo, d):
        return None
    serial = float(60 if (y, mo, d) == (1900, 2, 29) else date_serial(y, mo, d, date1904))
    if time_part:
        tt = _parse_time(time_part)
        if tt is None:
            return None
        serial += tt
    return serial
