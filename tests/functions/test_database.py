"""Database functions. Expected values: the example of Microsoft's support pages for the
D-functions (the orchard table, cited [doc]) or hand derivation (cited [hand])."""
import math

import pytest

import xleval
from xleval.values import XLError

VALUE = XLError("#VALUE!")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")

# [doc] criteria A1:F3 and database A5:E11 of Microsoft's DSUM/DAVERAGE/... pages
ORCHARD = {
    "A1": "Tree", "B1": "Height", "C1": "Age", "D1": "Yield", "E1": "Profit", "F1": "Height",
    "A2": '="=Apple"', "B2": ">10", "F2": "<16",      # the page types ="=Apple"
    "A3": '="=Pear"',
    "A5": "Tree", "B5": "Height", "C5": "Age", "D5": "Yield", "E5": "Profit",
    "A6": "Apple", "B6": 18, "C6": 20, "D6": 14, "E6": 105,
    "A7": "Pear", "B7": 12, "C7": 12, "D7": 10, "E7": 96,
    "A8": "Cherry", "B8": 13, "C8": 14, "D8": 9, "E8": 105,
    "A9": "Apple", "B9": 14, "C9": 15, "D9": 10, "E9": 75,
    "A10": "Pear", "B10": 9, "C10": 8, "D10": 8, "E10": 76.8,
    "A11": "Apple", "B11": 8, "C11": 9, "D11": 6, "E11": 45,
}


def ev(formula, **extra):
    cells = dict(ORCHARD)
    cells.update(extra)
    return xleval.evaluate(formula, cells)


@pytest.mark.parametrize("formula, expected", [
    ('DCOUNT(A5:E11,"Age",A1:F2)', 1.0),          # [doc] apples 10 < height < 16
    ('DCOUNTA(A5:E11,"Profit",A1:F2)', 1.0),      # [doc]
    ('DMAX(A5:E11,"Profit",A1:A3)', 105.0),       # [doc] apples or pears
    ('DMIN(A5:E11,"Profit",A1:B2)', 75.0),        # [doc] apples taller than 10
    ('DSUM(A5:E11,"Profit",A1:A2)', 225.0),       # [doc]
    ('DSUM(A5:E11,"Profit",A1:F2)', 75.0),        # [doc]
    ('DPRODUCT(A5:E11,"Yield",A1:F2)', 10.0),     # [doc]
    ('DAVERAGE(A5:E11,"Yield",A1:B2)', 12.0),     # [doc]
    ("DAVERAGE(A5:E11,3,A5:E11)", 13.0),          # [doc] every record
    ('DVAR(A5:E11,"Yield",A1:A3)', 8.8),          # [doc]
    ('DVARP(A5:E11,"Yield",A1:A3)', 7.04),        # [doc]
    ('DGET(A5:E11,"Yield",A1:A3)', NUM),          # [doc] more than one record
])
def test_doc_examples(formula, expected):
    got = ev(formula)
    if isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-12)
    else:
        assert got == expected


def test_stdev_doc():
    assert ev('DSTDEV(A5:E11,"Yield",A1:A3)') == pytest.approx(math.sqrt(8.8))    # [doc] 2.97
    assert ev('DSTDEVP(A5:E11,"Yield",A1:A3)') == pytest.approx(math.sqrt(7.04))  # [doc] 2.65


def test_field_forms():
    # [hand] a field is a name (any case) or a column number
    assert ev('DSUM(A5:E11,"profit",A1:A2)') == 225.0
    assert ev("DSUM(A5:E11,5,A1:A2)") == 225.0
    assert ev("DSUM(A5:E11,E5,A1:A2)") == 225.0
    assert ev('DSUM(A5:E11,"Weight",A1:A2)') == VALUE
    assert ev("DSUM(A5:E11,6,A1:A2)") == VALUE
    assert ev("DSUM(A5:E11,0,A1:A2)") == VALUE
    assert ev("DSUM(A5:E11,NA(),A1:A2)") == NA


def test_criteria_rules():
    # [hand] plain text matches values that begin with it; "=text" the whole value
    assert ev('DCOUNTA(A5:E11,"Tree",H1:H2)', H1="Tree", H2="P") == 2.0
    assert ev('DCOUNTA(A5:E11,"Tree",H1:H2)', H1="Tree", H2='="=P"') == 0.0
    assert ev('DCOUNTA(A5:E11,"Tree",H1:H2)', H1="Tree", H2="*rr*") == 1.0
    assert ev('DCOUNTA(A5:E11,"Tree",H1:H2)', H1="Tree", H2="<>Apple") == 3.0
    # numbers compare as numbers; several conditions on one row are ANDed
    assert ev('DSUM(A5:E11,"Age",H1:I2)', H1="Height", H2=">=12", I1="Yield",
              I2="<=10") == 41.0
    # rows are ORed
    assert ev('DCOUNT(A5:E11,"Age",H1:H3)', H1="Age", H2=20, H3=8) == 2.0
    # a blank criteria row selects every record
    assert ev('DCOUNT(A5:E11,"Age",H1:H2)', H1="Age") == 6.0
    # no criteria rows: nothing
    assert ev('DCOUNT(A5:E11,"Age",H1)', H1="Age") == 0.0


def test_empty_selection():
    crit = {"H1": "Tree", "H2": '="=Plum"'}
    assert ev('DSUM(A5:E11,"Yield",H1:H2)', **crit) == 0.0
    assert ev('DMAX(A5:E11,"Yield",H1:H2)', **crit) == 0.0
    assert ev('DAVERAGE(A5:E11,"Yield",H1:H2)', **crit) == DIV0
    assert ev('DGET(A5:E11,"Yield",H1:H2)', **crit) == VALUE
    assert ev('DSTDEV(A5:E11,"Yield",H1:H2)', **crit) == DIV0
    assert ev('DVARP(A5:E11,"Yield",H1:H2)', **crit) == DIV0


def test_dget_and_counts():
    crit = {"H1": "Tree", "H2": "Cherry"}
    assert ev('DGET(A5:E11,"Yield",H1:H2)', **crit) == 9.0
    assert ev("DCOUNT(A5:E11,,H1:H2)", **crit) == 1.0      # field omitted: records
    assert ev('DCOUNT(A5:E11,"Tree",A1:A3)') == 0.0         # text is not counted
    assert ev('DCOUNTA(A5:E11,"Tree",A1:A3)') == 5.0


def test_errors_in_values():
    # [hand] an error in a selected value is the result of the arithmetic functions;
    # DCOUNT ignores it
    assert ev('DSUM(A5:E11,"Yield",A1:A2)', D9=NA) == NA
    assert ev('DCOUNT(A5:E11,"Yield",A1:A2)', D9=NA) == 2.0
