"""Excel number-format rendering (xleval.functions.numfmt.format_number).

Sources of the expected values:
  [TEXT]  Microsoft support, "TEXT function" (examples table).
  [FMT]   Microsoft support, "Review guidelines for customizing a number format" and
          "Number format codes" (digit placeholders, thousands separator/scaling, fractions,
          scientific, dates and times, sections, conditions).
  [hand]  derived by hand from those rules (noted where the reasoning is not obvious).
"""
import pytest

from xleval.functions.numfmt import format_number, general
from xleval.values import XLError

VALUE = XLError("#VALUE!")


def f(v, fmt, **kw):
    return format_number(v, fmt, **kw)


# --- digits, decimals, thousands -----------------------------------------------------
@pytest.mark.parametrize("value,fmt,expected", [
    (1234.59, "####.#", "1234.6"),          # [FMT]
    (8.9, "#.000", "8.900"),                # [FMT]
    (0.631, "0.#", "0.6"),                  # [FMT]
    (12, "#.0#", "12.0"),                   # [FMT]
    (1234.568, "#.0#", "1234.57"),          # [FMT]
    (44.398, "???.???", " 44.398"),         # [FMT] decimal alignment with ?
    (102.65, "???.???", "102.65 "),         # [FMT]
    (2.8, "???.???", "  2.8  "),            # [FMT]
    (12000, "#,###", "12,000"),             # [FMT]
    (12000, "#,", "12"),                    # [FMT] trailing comma scales by 1000
    (12200000, "0.0,,", "12.2"),            # [FMT]
    (1234.567, "$#,##0.00", "$1,234.57"),   # [TEXT]
    (0.285, "0.0%", "28.5%"),               # [TEXT]
    (1234567, "#,##0", "1,234,567"),
    (0, "#,##0", "0"),                      # [hand] the 0 placeholder shows zero
    (0, "#", ""),                           # [hand] # shows no insignificant zero
    (0.5, "#.##", ".5"),                    # [hand]
    (1, "0.##", "1."),                      # [hand] the point stays
    (123456789, "000-00-0000", "123-45-6789"),   # [TEXT] social security number
    (5551234, "[<=9999999]###-####;(###) ###-####", "555-1234"),   # [FMT] condition
    (5551234567, "[<=9999999]###-####;(###) ###-####", "(555) 123-4567"),
    (1.005, "0.00", "1.01"),                # [hand] half away from zero at 15 digits
    (2.5, "0", "3"),
    (12345678901234567, "0", "12345678901234600"),   # [hand] 15 significant digits
    (1e20, "0", "100000000000000000000"),
    (1234567, ",#", ",1234567"),            # [hand] a comma before any placeholder is literal
    (1234567, "?,?????????", "    1,234,567"),   # [hand] separator between ? pads is a space
    (890123.456789, "#.###.#.#", "890123.456.7.9"),   # [hand] later points are literal
])
def test_number_placeholders(value, fmt, expected):
    assert f(value, fmt) == expected


# --- sections and signs ---------------------------------------------------------------
@pytest.mark.parametrize("value,fmt,expected", [
    (5, "0.00;(0.00)", "5.00"),
    (-5, "0.00;(0.00)", "(5.00)"),          # [FMT] the negative section supplies the sign
    (-5, "0.00", "-5.00"),                  # [FMT] one section: minus added
    (0, '0;-0;"zero"', "zero"),             # [FMT] third section is for zero
    (-5, "0.00;;", ""),                     # [FMT] empty section hides the value
    (-1, "", "-"),                          # [hand] empty format, minus remains
    (1, "", ""),
    (100, '[>50]"big";"small"', "big"),     # [FMT] conditions
    (10, '[>50]"big";"small"', "small"),
    (10, '[<10]#" Wow"', "10"),             # [hand] unmatched single condition: General
    (-9, '[>-10]#" Big"', "-9 Big"),        # [hand] conditional section keeps the minus
    (5, "[Red]0.00", "5.00"),               # [FMT] colours are ignored
    (5, "[Color10]0", "5"),
    (5, "[$€-407]0.00", "€5.00"),           # [FMT] currency tag
    (5, "[$-409]0", "5"),
    (3.5, '0.0 "kg"', "3.5 kg"),
    (3, "0\\x", "3x"),
    (3, "0_)", "3 "),                       # [FMT] _ leaves a space
    (3, "*-0", "3"),                        # fill character ignored in TEXT
])
def test_sections_and_literals(value, fmt, expected):
    assert f(value, fmt) == expected


def test_text_values():
    assert f("abc", "0.00") == "abc"                   # [TEXT] text passes through
    assert f("abc", '0;0;0;"<"@">"') == "<abc>"        # [FMT] fourth section for text
    assert f("abc", "@@") == "abcabc"
    assert f(True, "0") == "TRUE"                      # [hand] logicals are text to TEXT
    assert f(True, ';;;"x"@') == "xTRUE"


def test_invalid_formats():
    with pytest.raises(XLError):
        f(1.23, '#"F')                                 # unterminated quote
    with pytest.raises(XLError):
        f(1, '#,#"ZZ"#.0"YY"00@')                      # @ mixed with digits
    with pytest.raises(XLError):
        f("X", ';-  ##.0;"ZERO"@;"X"')                 # @ outside the text section


# --- percent, scientific --------------------------------------------------------------
@pytest.mark.parametrize("value,fmt,expected", [
    (0.5, "0%", "50%"),
    (0.1234, "0.00%", "12.34%"),
    (12200000, "0.00E+00", "1.22E+07"),     # [FMT]
    (0.00012, "0.0E+0", "1.2E-4"),
    (12345, "##0.0E+0", "12.3E+3"),         # [FMT] engineering: exponent multiple of 3
    (1, "0.00E+00", "1.00E+00"),
    (0, "0.00E+00", "0.00E+00"),
    (9.9999, "0.00E+00", "1.00E+01"),       # [hand] mantissa rounds to 10
    (123456.789, "0.00e-00", "1.23e05"),    # [hand] e- shows no plus sign, case kept
    (1.2345678e-142, "0.0E+000", "1.2E-142"),
])
def test_percent_and_scientific(value, fmt, expected):
    assert f(value, fmt) == expected


# --- fractions ------------------------------------------------------------------------
@pytest.mark.parametrize("value,fmt,expected", [
    (1.5, "# ?/?", "1 1/2"),                # [FMT]
    (0.75, "?/?", "3/4"),
    (5.25, "# ?/?", "5 1/4"),
    (2.3333, "# ??/??", "2  1/3 "),         # [hand] numerator right, denominator left
    (1.25, "# ??/100", "1 25/100"),         # [FMT] fixed denominator
    (0.3, "# ?/8", " 2/8"),                 # [hand] 0.3*8=2.4 -> 2; zero integer blank
    (3.75, "?/?", "15/4"),                  # [hand] improper without integer part
    (1, "# ?/?", "1    "),                  # [hand] zero fraction blanked with spaces
])
def test_fractions(value, fmt, expected):
    assert f(value, fmt) == expected


# --- dates and times ------------------------------------------------------------------
D = 45292.0          # 2024-01-01, a Monday (DATE(2024,1,1))


@pytest.mark.parametrize("value,fmt,expected", [
    (D, "yyyy-mm-dd", "2024-01-01"),
    (D, "m/d/yy", "1/1/24"),
    (D, "dddd, mmmm d, yyyy", "Monday, January 1, 2024"),
    (D, "ddd mmm", "Mon Jan"),
    (D, "mmmmm", "J"),                      # [FMT] first letter of the month
    (D + 0.75, "h:mm AM/PM", "6:00 PM"),
    (D + 0.75, "hh:mm:ss", "18:00:00"),
    (D + 0.75, "h:mm a/p", "6:00 p"),
    (0.5 + 1 / 86400, "h:mm:ss", "12:00:01"),
    (1.5, "[h]:mm:ss", "36:00:00"),         # [FMT] elapsed hours
    (1.5, "[mm]", "2160"),
    (0.5000116, "h:mm:ss.00", "12:00:01.00"),   # [hand] 0.5000116 d = 43201.00 s
    (0.99999999, "h:mm:ss", "0:00:00"),     # [hand] rounds up into the next day
    (60, "yyyy-mm-dd", "1900-02-29"),       # Excel's fictitious leap day
    (0, "yyyy-mm-dd", "1900-01-00"),
    (1, "dddd", "Sunday"),                  # serial 1 is a Sunday in Excel
    (D, "mmm-yy", "Jan-24"),
    (3.14159, "[s]", "271433"),             # [hand] 3.14159*86400 = 271433.4
    (-1, "[h]", "-24"),                     # [excel] pycel text.xlsx TextDates!C18
])
def test_dates(value, fmt, expected):
    assert f(value, fmt) == expected


@pytest.mark.parametrize("value,fmt,expected", [
    # Excel-cached, poi ElapsedFormatTests.xlsx (a 1904 workbook): a negative duration
    # through any format with an elapsed unit is "-" and the duration
    (-(2 / 24 + 3 / 1440 + 4 / 86400), "[h]:m:s.000", "-2:3:4.000"),
    (-(2 / 24 + 3 / 1440 + 4 / 86400), "[mm]:ss.0", "-123:04.0"),
    (-3.14159, '"It was "[h]" [yes, "h"] hours and "mm:ss',
     "-It was 75 [yes, 75] hours and 23:53"),
])
def test_negative_durations_1904(value, fmt, expected):
    assert f(value, fmt, date1904=True) == expected


@pytest.mark.parametrize("fmt", ["[h]:m", "[m]:s", "[s].000"])
def test_negative_durations_1900_need_a_lone_elapsed_unit(fmt):
    # [excel] pycel text.xlsx TextDates!C19, C23, C27 (1900 date system): TEXT(-1, fmt) is
    # #VALUE! once the elapsed unit comes with another field or fractions
    with pytest.raises(XLError):
        f(-1, fmt)
    assert f(-1, "[m]") == "-1440"          # [hand] a lone elapsed unit: a plain count


def test_date_errors():
    with pytest.raises(XLError):
        f(-1, "yyyy-mm-dd")                 # negative date
    with pytest.raises(XLError):
        f(2958466, "yyyy")                  # after 9999-12-31
    with pytest.raises(XLError):
        f(-0.5, "h:mm")                     # a clock time cannot be negative
    assert f(2958466, "[h]") == "71003184"  # elapsed hours have no upper limit


def test_1904_system():
    assert f(0, "yyyy-mm-dd", date1904=True) == "1904-01-01"
    assert f(0, "dddd", date1904=True) == "Friday"


# --- General --------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    (0, "0"), (1, "1"), (-1.5, "-1.5"), (1 / 3, "0.333333333"),
    (123456789012, "1.23457E+11"),          # [hand] more than 11 characters
    (12345678901, "12345678901"),
    (0.00001, "0.00001"),
    (1.23456789e-5, "1.23457E-05"),
    (1e-10, "1E-10"),
    (1e100, "1E+100"),
])
def test_general(value, expected):
    assert general(value) == expected
    assert f(value, "General") == expected


def test_general_with_literal():
    assert f(5, 'General" units"') == "5 units"
