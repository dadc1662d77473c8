"""Date & Time functions. Expected values: the examples of Microsoft's support pages for each
function (cited [doc]), or hand derivation from the documented rules and Python's calendar
(cited [hand]). Behaviours seen in Excel-saved workbooks of the conformance corpus are
cited [excel]."""
import datetime as dt

import pytest

import xleval
from xleval.values import XLError

VALUE = XLError("#VALUE!")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def s(y, m, d):
    """[hand] the 1900-system serial of a date."""
    day = dt.date(y, m, d)
    if day < dt.date(1900, 3, 1):
        return float((day - dt.date(1899, 12, 31)).days)
    return float((day - dt.date(1899, 12, 30)).days)


def ev1904(formula, **cells):
    sheet = dict(cells)
    sheet["ZZ1"] = "=" + formula
    wb = xleval.Workbook.from_dict({"Sheet1": sheet})
    wb.data.date1904 = True
    wb.calculate()
    return wb["Sheet1!ZZ1"]


def block(formula, target, **cells):
    sheet = dict(cells)
    sheet[target] = "{=" + formula + "}"
    wb = xleval.Workbook.from_dict({"Sheet1": sheet})
    wb.calculate()
    return wb["Sheet1!" + target]


# ---------------------------------------------------------------------------------------
# DATE, TIME, DATEVALUE, TIMEVALUE
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ("DATE(2008,1,2)", s(2008, 1, 2)),
    ("DATE(108,1,2)", s(2008, 1, 2)),          # [doc] years 0-1899 add 1900
    ("DATE(2008,14,2)", s(2009, 2, 2)),        # [doc] month overflow
    ("DATE(2008,-3,2)", s(2007, 9, 2)),        # [doc] negative month
    ("DATE(2008,1,35)", s(2008, 2, 4)),        # [doc] day overflow
    ("DATE(2008,1,-15)", s(2007, 12, 16)),     # [doc] negative day
    ("DATE(1900,2,29)", 60.0),                 # [hand] Excel's 29 Feb 1900
    ("DATE(1900,3,0)", 60.0),
    ("DATE(1900,1,0)", 0.0),
    ("DATE(1900,1,32)", 32.0),
    ("DATE(2008.9,1.9,2.9)", s(2008, 1, 2)),   # [hand] arguments truncate
    ("DATE(9999,12,31)", s(9999, 12, 31)),
])
def test_date(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula", ["DATE(-1,1,1)", "DATE(10000,1,1)", "DATE(1900,1,-1)",
                                     "DATE(9999,12,32)", "DATE(0,-30000,1)"])
def test_date_out_of_range(formula):
    assert ev(formula) == NUM


def test_date_errors_and_text():
    assert ev("DATE(\"2008\",\"1\",\"2\")") == s(2008, 1, 2)
    assert ev("DATE(\"x\",1,1)") == VALUE
    assert ev("DATE(NA(),1,1)") == NA


@pytest.mark.parametrize("formula, expected", [
    ("TIME(12,0,0)", 0.5),                     # [doc]
    ("TIME(16,48,10)", (16 * 3600 + 48 * 60 + 10) / 86400),  # [doc] 0.700115741
    ("TIME(27,0,0)", 0.125),                   # [doc] hours over 23 wrap
    ("TIME(0,750,0)", (750 % 1440) / 1440),    # [hand]
    ("TIME(1,-1,0)", 59 / 1440),               # [hand] negative parts allowed if total >= 0
])
def test_time(formula, expected):
    assert ev(formula) == pytest.approx(expected, abs=1e-15)


def test_time_errors():
    assert ev("TIME(0,-1,0)") == NUM
    assert ev("TIME(32768,0,0)") == NUM


@pytest.mark.parametrize("formula, expected", [
    ('DATEVALUE("8/22/2011")', s(2011, 8, 22)),      # [doc] 40777
    ('DATEVALUE("22-MAY-2011")', s(2011, 5, 22)),    # [doc] 40685
    ('DATEVALUE("2011/02/23")', s(2011, 2, 23)),     # [doc] 40597
    ('DATEVALUE("22-Aug-2011 6:35 AM")', s(2011, 8, 22)),  # time ignored
    ('DATEVALUE("2/29/1900")', 60.0),
])
def test_datevalue(formula, expected):
    assert ev(formula) == expected


def test_datevalue_current_year():
    assert ev('DATEVALUE("5-JUL")') == s(dt.date.today().year, 7, 5)   # [doc]


@pytest.mark.parametrize("arg", ['"abc"', "40000", "TRUE", '"1/1/1899"', '"2/30/2011"'])
def test_datevalue_rejects(arg):
    # [excel] numbers and logicals are not text: #VALUE!
    assert ev(f"DATEVALUE({arg})") == VALUE


@pytest.mark.parametrize("formula, expected", [
    ('TIMEVALUE("2:24 AM")', 0.1),                           # [doc]
    ('TIMEVALUE("22-Aug-2011 6:35 AM")', 395 / 1440),        # [doc] 0.274305556
    ('TIMEVALUE("12:59:59 AM")', (59 * 60 + 59) / 86400),    # [excel]
    ('TIMEVALUE("1:00:00 AM")', 1 / 24),
    ('TIMEVALUE("8/22/2011")', 0.0),
])
def test_timevalue(formula, expected):
    assert ev(formula) == pytest.approx(expected, abs=1e-12)


def test_timevalue_rejects_numbers():
    assert ev('TIMEVALUE("1.25")') == VALUE       # [excel]
    assert ev("TIMEVALUE(0.5)") == VALUE
    assert ev("TIMEVALUE(A1)", A1=0.5) == VALUE


# ---------------------------------------------------------------------------------------
# parts of a serial
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ('DAY("15-Apr-11")', 15.0),                  # [doc]
    ('MONTH("15-Apr-11")', 4.0),                 # [doc]
    ("YEAR(DATE(2008,7,5))", 2008.0),            # [doc]
    ("YEAR(0)", 1900.0), ("MONTH(0)", 1.0), ("DAY(0)", 0.0),   # [excel] January 0, 1900
    ("DAY(60)", 29.0), ("MONTH(60)", 2.0), ("DAY(61)", 1.0), ("MONTH(61)", 3.0),
    ("YEAR(367)", 1901.0),
    ("DAY(61.99)", 1.0),
    ("YEAR(TRUE)", 1900.0),                      # [excel] logicals are numbers here
    ("YEAR(A1)", 1900.0),                        # blank -> 0
    ('YEAR("61")', 1900.0),
])
def test_year_month_day(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    ("YEAR(-1)", NUM), ("DAY(2958466)", NUM), ('MONTH("x")', VALUE), ("DAY(1/0)", DIV0),
])
def test_year_month_day_errors(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    ("HOUR(0.75)", 18.0),                        # [doc]
    ('HOUR("7/18/2011 7:45")', 7.0),             # [doc]
    ('MINUTE("12:45:00 PM")', 45.0),             # [doc]
    ('SECOND("4:48:18 PM")', 18.0),              # [doc]
    ("SECOND(0.5)", 0.0),
    ("HOUR(1.24)", 5.0), ("MINUTE(1.24)", 45.0), ("SECOND(1.24)", 36.0),   # [hand] 5:45:36
    ("SECOND(PI())", 54.0),      # [excel] 3:23:53.6 rounds to the nearest second
    ("MINUTE(PI())", 23.0),
    ("HOUR(0.9999999)", 0.0), ("MINUTE(0.9999999)", 0.0),  # rounds up to midnight
])
def test_hour_minute_second(formula, expected):
    assert ev(formula) == expected


def test_hour_errors():
    assert ev("HOUR(-1)") == NUM
    assert ev('HOUR("XYZZY")') == VALUE


@pytest.mark.parametrize("rt, expected", [
    (None, 5.0), (1, 5.0), (2, 4.0), (3, 3.0),    # [doc] 14 Feb 2008 is a Thursday
    (11, 4.0), (12, 3.0), (13, 2.0), (14, 1.0), (15, 7.0), (16, 6.0), (17, 5.0),  # [hand]
])
def test_weekday(rt, expected):
    arg = '"2/14/2008"' + ("" if rt is None else f",{rt}")
    assert ev(f"WEEKDAY({arg})") == expected


def test_weekday_edges():
    assert ev("WEEKDAY(0)") == 7.0                 # [excel] serial 0 is a Saturday
    assert ev("WEEKDAY(1)") == 1.0                 # serial 1 is a Sunday
    assert ev("WEEKDAY(60)") == 4.0                # [hand] 29 Feb 1900: a Wednesday
    assert ev("WEEKDAY(1,4)") == NUM
    assert ev("WEEKDAY(-1)") == NUM


@pytest.mark.parametrize("formula, expected", [
    ('WEEKNUM("3/9/2012")', 10.0),                # [doc]
    ('WEEKNUM("3/9/2012",2)', 11.0),              # [doc]
    ("WEEKNUM(DATE(2012,1,1))", 1.0),
    ("WEEKNUM(DATE(2012,1,1),2)", 1.0),           # [hand] 1 Jan 2012 is a Sunday
    ("WEEKNUM(DATE(2012,1,2),2)", 2.0),
    ("WEEKNUM(DATE(2012,1,2),1)", 1.0),
    ("WEEKNUM(DATE(2012,1,7),16)", 2.0),          # weeks start on Saturday
    ("WEEKNUM(DATE(2021,1,1),21)", 53.0),         # [hand] ISO week of 1 Jan 2021
    ("ISOWEEKNUM(DATE(2012,3,9))", 10.0),         # [doc]
    ("ISOWEEKNUM(DATE(2021,1,3))", 53.0),         # [hand]
    ("ISOWEEKNUM(DATE(2021,1,4))", 1.0),
    ("ISOWEEKNUM(DATE(2024,12,30))", 1.0),
])
def test_weeknum(formula, expected):
    assert ev(formula) == expected


def test_weeknum_errors():
    assert ev("WEEKNUM(40000,3)") == NUM
    assert ev("WEEKNUM(TRUE)") == VALUE        # ATP: logicals are rejected


# ---------------------------------------------------------------------------------------
# EDATE, EOMONTH
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ('EDATE("1/15/2011",1)', s(2011, 2, 15)),   # [doc] 40589
    ('EDATE("1/15/2011",-1)', s(2010, 12, 15)),  # [doc]
    ('EDATE("1/15/2011",2)', s(2011, 3, 15)),   # [doc]
    ("EDATE(DATE(2011,1,31),1)", s(2011, 2, 28)),
    ("EDATE(DATE(2012,1,31),1)", s(2012, 2, 29)),
    ("EDATE(DATE(1900,1,31),1)", 60.0),          # [hand] Excel's February 1900 has 29 days
    ("EDATE(DATE(2011,1,15),1.9)", s(2011, 2, 15)),
    ("EDATE(100,100)", s(1908, 8, 9)),
    ('EDATE(161.5,"50")', s(1904, 8, 9)),        # [excel] 1683: 9 Jun 1900 + 50 months
])
def test_edate(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    ('EOMONTH("1/1/2011",1)', s(2011, 2, 28)),     # [doc] 40602
    ('EOMONTH("1/1/2011",-3)', s(2010, 10, 31)),   # [doc] 40482
    ("EOMONTH(DATE(1900,1,15),1)", 60.0),
    ("EOMONTH(100,0)", 121.0),                     # [excel] 30 Apr 1900
    ("EOMONTH(DATE(2024,2,10),0)", s(2024, 2, 29)),
])
def test_eomonth(formula, expected):
    assert ev(formula) == expected


def test_edate_eomonth_errors():
    assert ev("EDATE(-1,1)") == NUM
    assert ev("EDATE(TRUE,1)") == VALUE             # [excel] logicals are rejected
    assert ev("EDATE(40000,FALSE)") == VALUE
    assert ev("EOMONTH(1,-2)") == NUM
    assert ev('EDATE("x",1)') == VALUE
    assert ev("EOMONTH(DATE(9999,12,1),1)") == NUM


def test_atp_functions_reject_ranges_in_array_formulas():
    # [excel] EDATE(A1:A2, 1) as an array formula is #VALUE!; a computed array broadcasts
    cells = {"A1": s(2011, 1, 15), "A2": s(2011, 3, 31)}
    assert block("EDATE(A1:A2,1)", "C1", **cells) == VALUE
    assert block("EDATE(A1:A2+0,1)", "C1:C2", **cells) == [[s(2011, 2, 15)], [s(2011, 4, 30)]]


# ---------------------------------------------------------------------------------------
# DAYS, DAYS360, DATEDIF, YEARFRAC
# ---------------------------------------------------------------------------------------

def test_days():
    assert ev('DAYS("15-MAR-2021","1-FEB-2021")') == 42.0          # [doc]
    assert ev("DAYS(A1,A2)", A1=s(2021, 12, 31), A2=s(2021, 1, 1)) == 364.0   # [doc]
    assert ev("DAYS(10.9,2.1)") == 8.0
    assert ev('DAYS("x",1)') == VALUE
    assert ev("DAYS(-1,1)") == NUM


@pytest.mark.parametrize("formula, expected", [
    ('DAYS360("1/30/2011","2/1/2011")', 1.0),        # [doc]
    ("DAYS360(DATE(2011,1,1),DATE(2011,12,31))", 360.0),   # [doc]
    ("DAYS360(DATE(2011,1,1),DATE(2011,2,1))", 30.0),      # [doc]
    ("DAYS360(DATE(2011,1,30),DATE(2011,12,31))", 330.0),  # [hand] d1 = 30: d2 31 -> 30
    ("DAYS360(DATE(2008,1,16),DATE(2008,5,16))", 120.0),   # [excel]
    ("DAYS360(DATE(1972,2,16),DATE(2012,2,16))", 14400.0),  # [excel]
    ("DAYS360(DATE(2011,2,28),DATE(2011,3,31))", 30.0),     # [hand] US: end of Feb -> 30
    ("DAYS360(DATE(2011,2,28),DATE(2011,3,31),TRUE)", 32.0),  # [hand] European
    ("DAYS360(DATE(2011,1,15),DATE(2011,3,31))", 76.0),     # [hand] d1 < 30 keeps 31
    ("DAYS360(DATE(2011,3,31),DATE(2011,1,15))", -75.0),
])
def test_days360(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("unit, expected", [
    ("Y", 1.0), ("M", 14.0), ("D", 440.0), ("MD", 14.0), ("YM", 2.0), ("YD", 75.0),  # [doc]
    ("y", 1.0), ("md", 14.0),
])
def test_datedif_doc(unit, expected):
    assert ev(f'DATEDIF("6/1/2001","8/15/2002","{unit}")') == expected


@pytest.mark.parametrize("formula, expected", [
    ('DATEDIF(DATE(2001,1,1),DATE(2003,1,1),"Y")', 2.0),     # [doc]
    ('DATEDIF(DATE(2011,1,31),DATE(2011,2,28),"M")', 0.0),   # [hand] day not reached
    ('DATEDIF(DATE(2015,1,31),DATE(2015,3,1),"MD")', -2.0),  # [hand] Excel's MD quirk
    ('DATEDIF(DATE(2015,1,15),DATE(2015,3,10),"MD")', 23.0),
    ('DATEDIF(8,1987,"YD")', 153.0),    # [excel] counts 1900's phantom 29 Feb
    ('DATEDIF(DATE(2012,3,1),DATE(2013,2,28),"YD")', 364.0),
])
def test_datedif(formula, expected):
    assert ev(formula) == expected


def test_datedif_errors():
    assert ev('DATEDIF(DATE(2003,1,1),DATE(2001,1,1),"Y")') == NUM
    assert ev('DATEDIF(1,2,"W")') == NUM
    assert ev('DATEDIF("x",2,"D")') == VALUE


@pytest.mark.parametrize("basis, expected", [
    ("", 0.58055556), (",0", 0.58055556), (",1", 0.57650273), (",2", 0.58611111),
    (",3", 0.57808219), (",4", 0.58055556),
])
def test_yearfrac_doc(basis, expected):
    # [doc] YEARFRAC(1/1/2012, 7/30/2012[, basis]); bases 2 and 4 [hand]: 211/360, 209/360
    assert ev(f"YEARFRAC(DATE(2012,1,1),DATE(2012,7,30){basis})") == pytest.approx(
        expected, abs=5e-9)


@pytest.mark.parametrize("formula, expected", [
    # [hand] basis 0 end-of-February rules (NASD): both last days of Feb count as the 30th
    ("YEARFRAC(DATE(2011,2,28),DATE(2012,2,29),0)", 1.0),
    # the February rule sets d1 = 30 only when no 31st rule applied, and leaves d2 alone
    ("YEARFRAC(DATE(2011,2,28),DATE(2011,3,31),0)", 31 / 360),
    ("YEARFRAC(DATE(2011,1,30),DATE(2011,3,31),0)", 60 / 360),
    ("YEARFRAC(DATE(2011,1,29),DATE(2011,3,31),0)", 62 / 360),
    ("YEARFRAC(DATE(2011,3,31),DATE(2011,1,29),0)", 62 / 360),   # order does not matter
    # [hand] basis 1 within a year: 366-day year when a 29 Feb is covered
    ("YEARFRAC(DATE(2011,6,1),DATE(2012,5,31),1)", 365 / 366),
    ("YEARFRAC(DATE(2011,1,1),DATE(2011,12,31),1)", 364 / 365),
    # [hand] basis 1 over more than a year: average length of the years touched
    ("YEARFRAC(DATE(2011,6,1),DATE(2013,6,1),1)", 731 / ((365 + 366 + 365) / 3)),
    ("YEARFRAC(1987,345,1)", 1642 / (2191 / 6)),   # [excel] 1900 is not leap here
    ("YEARFRAC(10,10,1)", 0.0),
])
def test_yearfrac_rules(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=1e-12)


def test_yearfrac_errors():
    assert ev("YEARFRAC(1,200,5)") == NUM
    assert ev("YEARFRAC(-1,200,0)") == NUM
    assert ev("YEARFRAC(1,200,TRUE)") == VALUE         # [excel]
    assert ev('YEARFRAC(1,200,"plugh")') == VALUE      # [excel]
    assert ev("YEARFRAC(1/0,200,5)") == NUM            # [excel] basis is checked first
    assert ev("YEARFRAC(1/0,200,NA())") == NA


# ---------------------------------------------------------------------------------------
# working days
# ---------------------------------------------------------------------------------------

def test_networkdays_doc():
    # [doc] 1 Oct 2012 .. 1 Mar 2013, holidays 22 Nov 2012, 4 Dec 2012, 21 Jan 2013
    cells = {"A1": s(2012, 10, 1), "A2": s(2013, 3, 1), "A3": s(2012, 11, 22),
             "A4": s(2012, 12, 4), "A5": s(2013, 1, 21)}
    assert ev("NETWORKDAYS(A1,A2)", **cells) == 110.0
    assert ev("NETWORKDAYS(A1,A2,A3)", **cells) == 109.0
    assert ev("NETWORKDAYS(A1,A2,A3:A5)", **cells) == 107.0
    assert ev("NETWORKDAYS(A2,A1,A3:A5)", **cells) == -107.0


def test_networkdays_intl_doc():
    assert ev("NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,1,31))") == 22.0      # [doc]
    assert ev("NETWORKDAYS.INTL(DATE(2006,2,28),DATE(2006,1,31))") == -21.0    # [doc]
    assert ev('NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,2,1),7,'
              '{"2006/1/2","2006/1/16"})') == 22.0                            # [doc]
    assert ev('NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,2,1),"0010001",'
              '{"2006/1/2","2006/1/16"})') == 20.0                            # [doc]
    assert ev('NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,1,31),"1111111")') == 0.0
    assert ev("NETWORKDAYS.INTL(DATE(2006,1,1),DATE(2006,1,31),11)") == 26.0   # [hand]


def test_networkdays_errors_and_blanks():
    assert ev("NETWORKDAYS.INTL(1,100,8)") == NUM
    assert ev('NETWORKDAYS.INTL(1,100,"101")') == VALUE
    assert ev("NETWORKDAYS(1,100,A1:A3)", A2=NA) == NA
    # blank holiday cells are ignored; a holiday on a weekend does not count twice
    assert ev("NETWORKDAYS(DATE(2024,7,1),DATE(2024,7,7),A1:A3)", A1=s(2024, 7, 6)) == 5.0
    assert ev("NETWORKDAYS(TRUE,100)") == VALUE


def test_workday_doc():
    # [doc] WORKDAY(1 Oct 2008, 151) = 30 Apr 2009; with holidays = 5 May 2009
    cells = {"A1": s(2008, 10, 1), "A2": s(2008, 11, 26), "A3": s(2008, 12, 4),
             "A4": s(2009, 1, 21)}
    assert ev("WORKDAY(A1,151)", **cells) == s(2009, 4, 30)
    assert ev("WORKDAY(A1,151,A2:A4)", **cells) == s(2009, 5, 5)


@pytest.mark.parametrize("formula, expected", [
    ("WORKDAY.INTL(DATE(2012,1,1),90,11)", 41013.0),                 # [doc]
    ("WORKDAY.INTL(DATE(2012,1,1),30,17)", s(2012, 2, 5)),          # [doc] 40944
    ("WORKDAY(DATE(2024,7,5),1)", s(2024, 7, 8)),                   # Friday -> Monday
    ("WORKDAY(DATE(2024,7,8),-1)", s(2024, 7, 5)),
    ("WORKDAY(DATE(2024,7,6),0)", s(2024, 7, 6)),                   # 0 days: the start
    ("WORKDAY(DATE(2024,7,6),1)", s(2024, 7, 8)),
    ("WORKDAY(DATE(2024,1,1),1000)", s(2027, 11, 1)),   # [hand] 200 weeks from a Monday
    ('WORKDAY.INTL(DATE(2024,7,5),1,"0000011")', s(2024, 7, 8)),
    ('WORKDAY.INTL(DATE(2024,7,5),1,"1000000")', s(2024, 7, 6)),
])
def test_workday(formula, expected):
    assert ev(formula) == expected


def test_workday_errors():
    assert ev("WORKDAY.INTL(DATE(2012,1,1),30,0)") == NUM        # [doc]
    assert ev('WORKDAY.INTL(DATE(2012,1,1),30,"1111111")') == VALUE
    assert ev("WORKDAY(-1,3)") == NUM
    assert ev("WORKDAY(DATE(9999,12,30),5)") == NUM


# ---------------------------------------------------------------------------------------
# NOW, TODAY and the 1904 system
# ---------------------------------------------------------------------------------------

def test_now_today_pinned():
    sheet = {"A1": "=NOW()", "A2": "=TODAY()"}
    wb = xleval.Workbook.from_dict({"Sheet1": sheet}, now=s(2024, 7, 15) + 0.75)
    wb.calculate()
    assert wb["Sheet1!A1"] == s(2024, 7, 15) + 0.75
    assert wb["Sheet1!A2"] == s(2024, 7, 15)


def test_now_unpinned_is_the_clock():
    today = dt.date.today()
    got = ev("TODAY()")
    assert got in (s(today.year, today.month, today.day),
                   s(today.year, today.month, today.day) + 1)
    assert ev("NOW()") >= got


def test_now_in_1904_system():
    sheet = {"A1": "=TODAY()"}
    wb = xleval.Workbook.from_dict({"Sheet1": sheet}, now=s(2024, 7, 15) + 0.5)
    wb.data.date1904 = True
    wb.calculate()
    assert wb["Sheet1!A1"] == s(2024, 7, 15) - 1462


@pytest.mark.parametrize("formula, expected", [
    ("DATE(1904,1,1)", 0.0),
    ("DATE(2024,7,15)", s(2024, 7, 15) - 1462),
    ("YEAR(0)", 1904.0), ("DAY(0)", 1.0), ("MONTH(59)", 2.0), ("DAY(59)", 29.0),
    ('DATEVALUE("1/2/1904")', 1.0),
    ('YEAR("7/15/2024")', 2024.0),
    ('EDATE("7/15/2024",1)', s(2024, 8, 15) - 1462),
    ("WEEKDAY(0)", 6.0),                    # 1 Jan 1904 was a Friday
    ("DATE(1903,12,31)", NUM),
    ('DATEVALUE("1/1/1903")', VALUE),
])
def test_1904_system(formula, expected):
    assert ev1904(formula) == expected
