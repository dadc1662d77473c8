"""Helpers shared by the function tests: evaluate one formula, an array formula over a
block, and compare with Excel's value (floats to 1e-9 relative)."""
import pytest

import xleval
from xleval.values import XLError

VALUE = XLError("#VALUE!")
DIV0 = XLError("#DIV/0!")
NUM = XLError("#NUM!")
NA = XLError("#N/A")
REF = XLError("#REF!")
NULL = XLError("#NULL!")


def ev(formula, **cells):
    return xleval.evaluate(formula, cells)


def block(formula, target, **cells):
    """An array formula entered over `target` (e.g. "A20:B21"); its values as row lists."""
    sheet = dict(cells)
    sheet[target] = "{" + formula + "}"
    wb = xleval.Workbook.from_dict({"Sheet1": sheet})
    wb.calculate()
    return wb["Sheet1!" + target]


def check(got, expected):
    if isinstance(expected, float) and not isinstance(expected, bool):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    else:
        assert got == expected
