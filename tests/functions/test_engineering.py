"""Engineering functions. Expected values: the examples of Microsoft's support pages for each
function (cited [doc]), or hand derivation (cited [hand]). Behaviours seen in Excel-saved
workbooks of the conformance corpus are cited [excel]."""
import cmath
import math
import re

import pytest

import xleval
from xleval.values import XLError

VALUE = XLError("#VALUE!")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def block(formula, target, **cells):
    sheet = dict(cells)
    sheet[target] = "{=" + formula + "}"
    wb = xleval.Workbook.from_dict({"Sheet1": sheet})
    wb.calculate()
    return wb["Sheet1!" + target]


# ---------------------------------------------------------------------------------------
# base conversion
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ("BIN2DEC(1100100)", 100.0), ("BIN2DEC(1111111111)", -1.0),                  # [doc]
    ('BIN2HEX(11111011,4)', "00FB"), ("BIN2HEX(1110)", "E"),                      # [doc]
    ("BIN2HEX(1111111111)", "FFFFFFFFFF"),                                       # [doc]
    ("BIN2OCT(1001,3)", "011"), ("BIN2OCT(1100100)", "144"),                     # [doc]
    ("BIN2OCT(1111111111)", "7777777777"),                                       # [doc]
    ("DEC2BIN(9,4)", "1001"), ("DEC2BIN(-100)", "1110011100"),                   # [doc]
    ("DEC2HEX(100,4)", "0064"), ("DEC2HEX(-54)", "FFFFFFFFCA"),                  # [doc]
    ("DEC2HEX(28)", "1C"), ("DEC2OCT(58,3)", "072"), ("DEC2OCT(-100)", "7777777634"),
    ('HEX2BIN("F",8)', "00001111"), ('HEX2BIN("B7")', "10110111"),               # [doc]
    ('HEX2BIN("FFFFFFFFFF")', "1111111111"),
    ('HEX2DEC("A5")', 165.0), ('HEX2DEC("FFFFFFFF5B")', -165.0),                 # [doc]
    ('HEX2DEC("3DA408B9")', 1034160313.0),
    ('HEX2OCT("F",3)', "017"), ('HEX2OCT("3B4E")', "35516"),                     # [doc]
    ('HEX2OCT("FFFFFFFF00")', "7777777400"),
    ("OCT2BIN(3,3)", "011"), ("OCT2BIN(7777777000)", "1000000000"),              # [doc]
    ("OCT2DEC(54)", 44.0), ("OCT2DEC(7777777533)", -165.0),                      # [doc]
    ("OCT2HEX(100,4)", "0040"), ("OCT2HEX(7777777533)", "FFFFFFFF5B"),           # [doc]
    ('HEX2DEC("a5")', 165.0),                     # lower case digits
    ("DEC2BIN(511.9)", "111111111"),              # [excel] truncates
    ("DEC2BIN(-512.7)", "1000000000"),            # [excel]
    ("DEC2BIN(-25,3)", "1111100111"),             # [excel] places ignored for negatives
    ("DEC2BIN(A1,3)", "000"),                     # blank is 0
    ("BIN2DEC(A1)", 0.0),
    ('DEC2HEX("28")', "1C"),
])
def test_bases(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    ("DEC2HEX(64,1)", NUM),                       # [doc] too few places
    ("DEC2BIN(512)", NUM), ("DEC2BIN(-513)", NUM),
    ("DEC2OCT(536870912)", NUM), ("DEC2HEX(549755813888)", NUM),
    ("DEC2BIN(1,0)", NUM), ("DEC2BIN(1,11)", NUM), ("DEC2BIN(-1,0)", NUM),
    ('DEC2BIN("E",0)', NUM),                      # [excel] places are checked first
    ('DEC2BIN("E",1)', VALUE), ('DEC2BIN("")', VALUE), ("DEC2BIN(TRUE)", VALUE),
    ("BIN2DEC(2)", NUM), ("BIN2DEC(-1)", NUM), ("BIN2DEC(10000000000)", NUM),
    ("BIN2DEC(2.3)", NUM), ("BIN2DEC(TRUE)", VALUE),
    ('HEX2BIN("1FF")', "111111111"), ('HEX2BIN("200")', NUM),
    ('HEX2OCT("20000000")', NUM), ('HEX2DEC("G")', NUM),
    ("OCT2DEC(8)", NUM), ("OCT2BIN(1000)", NUM),
    ("BIN2OCT(10,0)", NUM),
])
def test_bases_errors(formula, expected):
    assert ev(formula) == expected


def test_bases_boundaries():
    # [hand] ten-digit two's complement ranges
    assert ev("DEC2OCT(536870911)") == "3777777777"
    assert ev("DEC2OCT(-536870912)") == "4000000000"
    assert ev("DEC2HEX(549755813887)") == "7FFFFFFFFF"
    assert ev("DEC2HEX(-549755813888)") == "8000000000"
    assert ev('HEX2DEC("8000000000")') == -549755813888.0
    assert ev('OCT2DEC("4000000000")') == -536870912.0


# ---------------------------------------------------------------------------------------
# bits, DELTA, GESTEP, ERF
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ("BITAND(1,5)", 1.0), ("BITAND(13,25)", 9.0), ("BITOR(23,10)", 31.0),      # [doc]
    ("BITXOR(5,3)", 6.0), ("BITLSHIFT(4,2)", 16.0), ("BITRSHIFT(13,2)", 3.0),   # [doc]
    ("BITLSHIFT(99,-1)", 49.0), ("BITRSHIFT(99,-1)", 198.0),                    # [excel]
    ("BITLSHIFT(25,2.3)", 100.0),                # [excel] shift truncates
    ("BITAND(281474976710655,1)", 1.0),
    ("BITAND(281474976710656,1)", NUM),          # 2^48
    ("BITAND(2.3,1)", NUM), ("BITAND(-1,1)", NUM), ("BITAND(TRUE,1)", VALUE),
    ("BITLSHIFT(1,54)", NUM), ("BITLSHIFT(2^47,1)", NUM),
])
def test_bits(formula, expected):
    assert ev(formula) == expected


def test_bits_broadcast_in_array_formulas():
    # [excel] the bit functions (not from the ToolPak) take arrays element by element
    assert block("BITOR(A1:A2,B1:B2)", "C1:C2", A1=1, A2=2, B1=4, B2=8) == [[5.0], [10.0]]


@pytest.mark.parametrize("formula, expected", [
    ("DELTA(5,4)", 0.0), ("DELTA(5,5)", 1.0), ("DELTA(0.5,0)", 0.0),            # [doc]
    ("GESTEP(5,4)", 1.0), ("GESTEP(5,5)", 1.0), ("GESTEP(-4,-5)", 1.0),         # [doc]
    ("GESTEP(-1)", 0.0),                                                        # [doc]
    ('DELTA(2.3,"2.3")', 1.0), ("DELTA(A1)", 1.0),                              # [excel]
    ('GESTEP(25,"30.2")', 0.0), ('GESTEP(2.3,"a")', VALUE),                     # [excel]
    ("DELTA(FALSE)", VALUE), ("GESTEP(TRUE)", VALUE),
])
def test_delta_gestep(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, expected", [
    ("ERF(0.745)", 0.70792892), ("ERF(1)", 0.84270079),                        # [doc]
    ("ERFC(1)", 0.15729921), ("ERF.PRECISE(0.745)", 0.70792892),              # [doc]
    ("ERF.PRECISE(1)", 0.84270079), ("ERFC.PRECISE(1)", 0.15729921),          # [doc]
    ("ERF(0,1)", 0.84270079),
    ("ERF(-1)", -0.84270079),
])
def test_erf(formula, expected):
    assert ev(formula) == pytest.approx(expected, abs=5e-9)


def test_erf_two_arguments():
    # [hand] ERF(lower, upper) = erf(upper) - erf(lower); a blank upper cell is 0
    assert ev("ERF(2.3,2)") == pytest.approx(math.erf(2) - math.erf(2.3), rel=1e-14)
    assert ev("ERF(-0.002,A1)") == pytest.approx(-math.erf(-0.002), rel=1e-14)  # [excel]
    assert ev("ERF(TRUE)") == VALUE
    assert ev('ERF("-1.2")') == pytest.approx(math.erf(-1.2), rel=1e-14)


def test_toolpak_functions_reject_ranges():
    # [excel] DELTA(D20:G20) entered as an array formula is #VALUE!
    assert block("DELTA(A1:A2)", "C1", A1=1, A2=2) == VALUE
    assert block("DEC2BIN(A1:A2)", "C1", A1=1, A2=2) == VALUE


# ---------------------------------------------------------------------------------------
# CONVERT
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ('CONVERT(1,"lbm","kg")', 0.45359237),           # [doc] 0.4535924
    ('CONVERT(68,"F","C")', 20.0),                   # [doc]
    ('CONVERT(6,"tsp","tbs")', 2.0),                 # [doc]
    ('CONVERT(6,"gal","l")', 6 * 3.785411784),       # [doc] 22.71741274
    ('CONVERT(6,"mi","km")', 9.656064),              # [doc]
    ('CONVERT(6,"km","mi")', 6 / 1.609344),          # [doc] 3.728227153
    ('CONVERT(6,"in","ft")', 0.5),                   # [doc]
    ('CONVERT(6,"cm","in")', 6 / 2.54),              # [doc] 2.362204724
    ('CONVERT(1,"byte","bit")', 8.0),
    ('CONVERT(1,"kibyte","byte")', 1024.0),          # [hand] binary prefix
    ('CONVERT(1,"Mibit","kbit")', 1048.576),
    ('CONVERT(1,"km2","m2")', 1e6),                  # [hand] the prefix is squared
    ('CONVERT(1,"cm^3","m3")', 1e-6),
    ('CONVERT(1,"Pang3","L")', 1e18),                # [excel] peta-angstrom cubed
    ('CONVERT(1,"ha","m2")', 10000.0),
    ('CONVERT(1,"har","m2")', 10000.0),               # hecto-are
    ('CONVERT(100,"C","K")', 373.15),
    ('CONVERT(0,"C","Rank")', 491.67),
    ('CONVERT(80,"Reau","C")', 100.0),
    ('CONVERT(1,"mK","K")', 0.001),
    ('CONVERT(1,"hr","mn")', 60.0),
    ('CONVERT(1,"yr","day")', 365.25),
    ('CONVERT(1,"atm","mmHg")', 101325 / 133.322),
    ('CONVERT(1,"kn","m/h")', 1852.0),
    ('CONVERT(1,"mph","m/s")', 0.44704),
    ('CONVERT(1,"HP","W")', 550 * 0.3048 * 0.45359237 * 9.80665),
    ('CONVERT(1,"ly","m")', 9460730472580800.0),
    ('CONVERT(1,"pc","J")', 4.184e-12),              # [excel] pico-calorie, not parsec
    ('CONVERT(1,"ozm","g")', 28.349523125),
    ('CONVERT(1,"uk_pt","l")', 0.56826125),
    ('CONVERT(1,"Nmi","m")', 1852.0),
    ('CONVERT(1,"ang","nm")', 0.1),
    ('CONVERT(1,"GRT","ft3")', 100.0),
    ('CONVERT(1,"T","ga")', 10000.0),
    ('CONVERT(1,"BTU","J")', 1055.05585262),
    ('CONVERT("3.6","C","F")', 38.48),               # [excel] numeric text
])
def test_convert(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("formula, expected", [
    ('CONVERT(2.5,"ft","sec")', NA),                 # [doc] different quantities
    ('CONVERT(1,"xyz","m")', NA),
    ('CONVERT(1,"kft","m")', NA),                    # feet take no prefix
    ('CONVERT(1,"kiHP","W")', NA),                   # binary prefixes: information only
    ('CONVERT(1,"M","m")', NA),                      # case matters
    ('CONVERT(TRUE,"C","F")', VALUE),                # [excel]
    ('CONVERT("x","C","F")', VALUE),
])
def test_convert_errors(formula, expected):
    assert ev(formula) == expected


def test_convert_roundtrip_doc():
    # [doc] CONVERT(CONVERT(100,"ft","m"),"ft","m") = 9.290304
    assert ev('CONVERT(CONVERT(100,"ft","m"),"ft","m")') == pytest.approx(9.290304)


# ---------------------------------------------------------------------------------------
# complex numbers
# ---------------------------------------------------------------------------------------

def cparse(text):
    """[hand] a complex number from Excel's text, read by Python (for tolerant checks)."""
    t = text.replace("E", "e").replace("i", "j")
    t = re.sub(r"(^|[+-])j$", r"\g<1>1j", t)
    return complex(t)


def close(text, z, rel=1e-12):
    got = cparse(text)
    assert abs(got - z) <= rel * max(1.0, abs(z)), (text, z)


@pytest.mark.parametrize("formula, expected", [
    ("COMPLEX(3,4)", "3+4i"), ('COMPLEX(3,4,"j")', "3+4j"), ("COMPLEX(0,1)", "i"),  # [doc]
    ("COMPLEX(1,0)", "1"), ("COMPLEX(0,0)", "0"), ("COMPLEX(99,-1)", "99-i"),
    ('COMPLEX(-1,A1,"j")', "-1"), ('COMPLEX(A1,"3.6","j")', "3.6j"),              # [excel]
    ("COMPLEX(1.5,-2.25)", "1.5-2.25i"),
    ('COMPLEX(1,1,"I")', VALUE), ("COMPLEX(TRUE,1)", VALUE),
    ('IMSUB("13+4i","5+3i")', "8+i"), ('IMSUM("3+4i","5-3i")', "8+i"),           # [doc]
    ('IMPRODUCT("3+4i","5-3i")', "27+11i"), ('IMPRODUCT("1+2i",30)', "30+60i"),  # [doc]
    ('IMDIV("-238+240i","10+24i")', "5+12i"),                                   # [doc]
    ('IMCONJUGATE("3+4i")', "3-4i"), ('IMCONJUGATE("-3-2j")', "-3+2j"),          # [doc]
    ('IMPOWER("2+3i",2)', "-5+12i"),
    ('IMSQRT("4")', "2"),
    ('IMSUM("1+i","-1-i")', "0"),
    ('IMREAL("6-9i")', 6.0), ('IMAGINARY("3+4i")', 4.0), ('IMAGINARY("0-j")', -1.0),  # [doc]
    ("IMAGINARY(4)", 0.0), ('IMABS("5+12i")', 13.0), ('IMREAL("i")', 0.0),
    ('IMAGINARY("-i")', -1.0), ('IMREAL("1e2+3i")', 100.0), ('IMAGINARY(".5j")', 0.5),
    ("IMABS(A1)", 0.0),                                                           # [excel]
])
def test_complex_exact(formula, expected):
    assert ev(formula) == expected


@pytest.mark.parametrize("formula, z", [
    ('IMCOS("1+i")', cmath.cos(1 + 1j)), ('IMCOSH("4+3i")', cmath.cosh(4 + 3j)),   # [doc]
    ('IMCOT("4+3i")', 1 / cmath.tan(4 + 3j)), ('IMCSC("4+3i")', 1 / cmath.sin(4 + 3j)),
    ('IMCSCH("4+3i")', 1 / cmath.sinh(4 + 3j)), ('IMSEC("4+3i")', 1 / cmath.cos(4 + 3j)),
    ('IMSECH("4+3i")', 1 / cmath.cosh(4 + 3j)), ('IMSIN("4+3i")', cmath.sin(4 + 3j)),
    ('IMSINH("4+3i")', cmath.sinh(4 + 3j)), ('IMTAN("4+3i")', cmath.tan(4 + 3j)),
    ('IMEXP("1+i")', cmath.exp(1 + 1j)), ('IMLN("3+4i")', cmath.log(3 + 4j)),
    ('IMLOG10("3+4i")', cmath.log10(3 + 4j)), ('IMLOG2("3+4i")', cmath.log(3 + 4j, 2)),
    ('IMSQRT("1+i")', cmath.sqrt(1 + 1j)), ('IMPOWER("2+3i",3)', (2 + 3j) ** 3),
    ('IMPOWER("7+25j",2.3)', (7 + 25j) ** 2.3),
])
def test_complex_functions(formula, z):
    close(ev(formula), z)


def test_complex_doc_strings():
    # [doc] results as Microsoft's pages print them
    assert ev('IMLN("3+4i")') == "1.6094379124341+0.927295218001612i"
    assert ev('IMSQRT("1+i")') == "1.09868411346781+0.455089860562227i"
    assert ev('IMEXP("1+i")') == "1.46869393991589+2.28735528717884i"
    assert ev('IMLOG10("3+4i")') == "0.698970004336019+0.402719196273373i"


def test_complex_text_format():
    # [excel] 15 significant digits; scientific notation below 1e-5
    assert ev('IMTAN("7+25j")') == "3.82126757337684E-22+j"
    assert ev('IMCOT("13+5j")') == "0.0000692442674613868-1.00005873951153j"
    assert ev('IMCSCH("13+5j")') == "1.28233995888454E-06+4.33496947416312E-06j"
    assert ev('IMCOS("7+25j")') == "27142327967.109-23653126953.379j"
    assert ev('IMARGUMENT("3+4i")') == pytest.approx(0.92729522, abs=5e-9)   # [doc]


@pytest.mark.parametrize("formula, expected", [
    ('IMABS("yvj")', NUM), ('IMABS("1+2")', NUM), ('IMABS("1 + 2i")', NUM),
    ("IMABS(TRUE)", VALUE),
    ('IMARGUMENT("0")', DIV0), ('IMLN("0")', NUM), ('IMCOT("0")', NUM), ('IMCSC(0)', NUM),
    ('IMDIV("1+i","0")', NUM), ('IMPOWER("0",-1)', NUM),
    ('IMSUB("3.1+2j","-3+2i")', NUM),            # [excel] mixed suffixes
    ('IMDIV("3.1+2j","-3+2i")', NUM),            # [excel]
    ('IMSUM("3.1+2j","-3+2i")', VALUE),          # [excel]
    ('IMPRODUCT("3.1+2j","-3+2i")', VALUE),      # [excel]
    ('IMSUM("1+i",TRUE)', VALUE),
])
def test_complex_errors(formula, expected):
    assert ev(formula) == expected


def test_imsum_ranges_and_blanks():
    cells = {"A1": "7+25j", "A2": "13+5j", "A3": "3.1+2j"}
    assert ev("IMSUM(A1:A2,A3)", **cells) == "23.1+32j"          # [excel]
    assert ev("IMPRODUCT(A1:A3)", **cells) == "-825.4+1048j"     # [excel]
    assert ev("IMPRODUCT(B1,A1)", **cells) == "0"                # [excel] blank is 0


# ---------------------------------------------------------------------------------------
# Bessel functions (Excel's approximations are accurate to about 1e-8)
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("formula, expected", [
    ("BESSELI(1.5,1)", 0.981666428), ("BESSELJ(1.9,2)", 0.329925829),          # [doc]
    ("BESSELK(1.5,1)", 0.277387804), ("BESSELY(2.5,1)", 0.145918138),          # [doc]
    ("BESSELJ(0,0)", 1.0), ("BESSELI(0,0)", 1.0),
    ("BESSELJ(-1,1)", -0.44005059), ("BESSELI(-1,1)", -0.565159104),         # odd orders
    ("BESSELJ(10,3)", 0.058379379), ("BESSELY(10,3)", -0.251362657),        # [hand] tables
    ("BESSELK(10,2)", 2.150981700e-5), ("BESSELI(10,2)", 2281.518968),
    ("BESSELJ(2.3,2.9)", 0.413914589),       # order truncates to 2
])
def test_bessel(formula, expected):
    assert ev(formula) == pytest.approx(expected, rel=2e-7, abs=1e-9)


def test_bessel_excel_digits():
    # [excel] Excel's polynomial approximation, not the exact J0(1) = 0.76519768655797
    assert ev("BESSELJ(1,0)") == 0.7651976837548592
    assert ev("BESSELI(1,0)") == 1.2660658480342601


@pytest.mark.parametrize("formula, expected", [
    ("BESSELJ(1,-1)", NUM), ("BESSELY(0,1)", NUM), ("BESSELK(-1,1)", NUM),
    ("BESSELI(10000000,2.3)", NUM),              # [excel] overflow
    ("BESSELK(10000000,2.3)", 0.0),              # [excel] underflow
    ("BESSELJ(0,10000000)", 0.0),                # [excel]
    ("BESSELI(TRUE,1)", VALUE), ('BESSELI("t",1)', VALUE),
])
def test_bessel_edges(formula, expected):
    assert ev(formula) == expected
