"""Serial numbers of the 1900 and 1904 date systems and the parsing of date/time text.
Expected serials are derived by hand from Python's calendar (days since 30 Dec 1899 for
dates from 1 Mar 1900, since 31 Dec 1899 before it, since 1 Jan 1904 in the 1904 system)."""
import datetime as dt

import pytest

from xleval import dates as D


def s1900(y, m, d):
    """Hand derivation of a 1900-system serial."""
    day = dt.date(y, m, d)
    if day < dt.date(1900, 3, 1):
        return (day - dt.date(1899, 12, 31)).days
    return (day - dt.date(1899, 12, 30)).days


def s1904(y, m, d):
    return (dt.date(y, m, d) - dt.date(1904, 1, 1)).days


@pytest.mark.parametrize("ymd", [(1900, 1, 1), (1900, 2, 28), (1900, 3, 1), (1999, 12, 31),
                                 (2000, 2, 29), (2024, 7, 15), (9999, 12, 31)])
def test_date_serial_1900(ymd):
    assert D.date_serial(*ymd) == s1900(*ymd)
    assert D.from_serial(s1900(*ymd)) == ymd


@pytest.mark.parametrize("ymd", [(1904, 1, 1), (1904, 2, 29), (2024, 7, 15), (9999, 12, 31)])
def test_date_serial_1904(ymd):
    assert D.date_serial(*ymd, date1904=True) == s1904(*ymd)
    assert D.from_serial(s1904(*ymd), True) == ymd


def test_fictitious_29_feb_1900():
    # Excel's 1900 leap-year bug: serial 60 is 29 Feb 1900, serial 61 is 1 Mar 1900
    assert D.from_serial(60) == (1900, 2, 29)
    assert D.from_serial(59) == (1900, 2, 28)
    assert D.from_serial(61) == (1900, 3, 1)
    assert D.ymd_to_serial(1900, 2, 29) == 60
    assert D.ymd_to_serial(1900, 3, 0) == 60
    assert D.days_in_month(1900, 2) == 29
    assert D.days_in_month(1900, 2, True) == 28
    assert D.is_leap(1900) and not D.is_leap(1900, True)
    assert not D.is_leap_gregorian(1900) and D.is_leap_gregorian(2000)


def test_serial_zero_is_january_0():
    assert D.from_serial(0) == (1900, 1, 0)
    assert D.serial_to_date(0) == dt.date(1899, 12, 31)
    assert D.serial_to_date(60) == dt.date(1900, 3, 1)


def test_ymd_overflow_rolls():
    assert D.ymd_to_serial(2008, 14, 2) == s1900(2009, 2, 2)
    assert D.ymd_to_serial(2008, -3, 2) == s1900(2007, 9, 2)
    assert D.ymd_to_serial(2008, 1, 35) == s1900(2008, 2, 4)
    assert D.ymd_to_serial(2008, 1, -15) == s1900(2007, 12, 16)
    assert D.ymd_to_serial(2008, 0, 1) == s1900(2007, 12, 1)


def test_weekday_on_excels_calendar():
    # serial 1 (1 Jan 1900) is a Sunday in Excel; 0 = Sunday
    assert D.weekday(1) == 0
    assert D.weekday(0) == 6
    assert D.weekday(s1900(2024, 7, 15)) == 1          # a Monday
    assert D.weekday(s1904(2024, 7, 15), True) == 1


def test_time_parts_round_to_the_second():
    assert D.time_parts(0.75) == (18, 0, 0)
    assert D.time_parts(0.5 + 29.6 / 86400) == (12, 0, 30)
    assert D.time_parts(1 - 0.2 / 86400) == (0, 0, 0)    # rounds up to midnight


def test_to_serial_roundtrip():
    assert D.to_serial(dt.datetime(2024, 7, 15, 6, 0)) == s1900(2024, 7, 15) + 0.25
    assert D.to_serial(dt.date(2024, 7, 15), True) == s1904(2024, 7, 15)
    assert D.to_serial(dt.time(12, 0)) == 0.5


@pytest.mark.parametrize("text, expected", [
    ("8/22/2011", s1900(2011, 8, 22)),
    ("22-MAY-2011", s1900(2011, 5, 22)),
    ("2011/02/23", s1900(2011, 2, 23)),
    ("2011-02-23", s1900(2011, 2, 23)),
    ("January 5, 2011", s1900(2011, 1, 5)),
    ("5 January 2011", s1900(2011, 1, 5)),
    ("Jan 2011", s1900(2011, 1, 1)),
    ("1/5/29", s1900(2029, 1, 5)),          # two-digit years: 00-29 -> 20xx
    ("1/5/30", s1900(1930, 1, 5)),          # 30-99 -> 19xx
    ("2/29/1900", 60),
    ("1/1/1900", 1),
    ("26/08/1987", s1900(1987, 8, 26)),    # day-first text when it cannot be m/d
])
def test_parse_dates(text, expected):
    assert D.parse_date_time(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("2:24 AM", 0.1),
    ("12:00", 0.5),
    ("12:59:59 AM", (59 * 60 + 59) / 86400),
    ("6 PM", 0.75),
    ("25:00", 25 / 24),
])
def test_parse_times(text, expected):
    assert D.parse_date_time(text) == pytest.approx(expected, abs=1e-12)


def test_parse_date_and_time():
    assert D.parse_date_time("22-Aug-2011 6:35 AM") == pytest.approx(
        s1900(2011, 8, 22) + (6 * 60 + 35) / 1440, abs=1e-9)
    assert D.parse_date_parts("22-Aug-2011 6:35 AM") == (
        s1900(2011, 8, 22), pytest.approx((6 * 60 + 35) / 1440))
    assert D.parse_date_parts("6:35") == (None, pytest.approx(395 / 1440))


@pytest.mark.parametrize("text", ["", "abc", "2/30/2020 x", "13/13/2020", "1/1/1899", "1.5",
                                  "24:61", "13:00 PM", "2/30/2020"])
def test_parse_rejects(text):
    assert D.parse_date_time(text) is None


def test_parse_in_1904_system():
    assert D.parse_date_time("1/2/1904", True) == 1
    assert D.parse_date_time("1/1/1903", True) is None
    assert D.parse_date_time("2/29/1900", True) is None
    assert D.parse_date_time("12:00", True) == 0.5


def test_max_serial():
    assert D.max_serial() == s1900(9999, 12, 31)
    assert D.max_serial(True) == s1904(9999, 12, 31)


# Excel-cached values (pycel text.xlsx, sheet TextDates: TEXT(text, "#.#####") of time text)
# and hand-derived day fractions: the last unit of time text may run over (below 10000)
# when the units before it stay within a day.
@pytest.mark.parametrize("text,want", [
    ("0:59:99", (59 * 60 + 99) / 86400),
    ("23:99", (23 * 60 + 99) / 1440),
    ("23:9999", (23 * 60 + 9999) / 1440),
    ("0:0:9999", 9999 / 86400),
    ("23:59:9999", (23 * 3600 + 59 * 60 + 9999) / 86400),
    ("59:9999.0", (59 * 60 + 9999) / 86400),              # minutes:seconds.fraction
    ("59:9999.012345", (59 * 60 + 9999.012345) / 86400),
    ("23:59.", (23 * 60 + 59) / 1440),                     # a bare dot: hours and minutes
    ("23:59.5", (23 * 60 + 59.5) / 86400),
    ("25:00", 25 / 24),
    ("1:30 PM", 13.5 / 24),
    ("60:99", None), ("24:99", None), ("23:10000", None), ("0:0:10000", None),
    ("23:60:9999", None), ("59:10000.0", None), ("60:9999.012345", None),
    ("23:59.:0", None), ("13:30 pm", None), ("1:75 PM", None),
])
def test_time_text_with_a_running_over_last_unit(text, want):
    from xleval.dates import parse_date_time
    got = parse_date_time(text)
    assert got == (pytest.approx(want, rel=1e-12) if want is not None else None)
