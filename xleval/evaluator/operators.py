"""Excel's operators on scalars, and their elementwise lifting over arrays (broadcasting)."""
from __future__ import annotations

import math

from .. import values as V
from ..values import Array, XLError
from .lambdas import Lambda


def _num(v):
    return V.to_number(v)


def _arith(op: str, a, b):
    if isinstance(a, XLError):
        return a
    if isinstance(b, XLError):
        return b
    x = _num(a)
    if isinstance(x, XLError):
        return x
    y = _num(b)
    if isinstance(y, XLError):
        return y
    try:
        if op == "+":
            r = x + y
            # Excel snaps a sum that cancels to within 15 digits of zero onto zero
            if r != 0 and abs(r) < 1e-15 * max(abs(x), abs(y)):
                return 0.0
        elif op == "-":
            r = x - y
            if r != 0 and abs(r) < 1e-15 * max(abs(x), abs(y)):
                return 0.0
        elif op == "*":
            r = x * y
        elif op == "/":
            if y == 0:
                return V.DIV0
            r = x / y
        else:  # ^
            if x == 0 and y == 0:
                return V.NUM
            if x == 0 and y < 0:
                return V.DIV0
            if x < 0 and y != int(y):
                # odd roots of negatives (e.g. ^(1/3)) are #NUM! in Excel
                return V.NUM
            r = math.pow(x, y)
    except OverflowError:
        return V.NUM
    if math.isinf(r) or math.isnan(r):
        return V.NUM
    return r


def _concat(a, b):
    if isinstance(a, XLError):
        return a
    if isinstance(b, XLError):
        return b
    x, y = V.to_text(a), V.to_text(b)
    if isinstance(x, XLError):
        return x
    if isinstance(y, XLError):
        return y
    if len(x) + len(y) > 32767:
        # Excel's text limit: a longer result is #VALUE!, as for CONCAT (text.MAX_TEXT)
        return V.VALUE
    return x + y


_CMP = {
    "=": lambda c: c == 0, "<>": lambda c: c != 0, "<": lambda c: c < 0,
    "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
}


def _compare(op: str, a, b):
    if isinstance(a, XLError):
        return a
    if isinstance(b, XLError):
        return b
    if isinstance(a, Lambda) or isinstance(b, Lambda):
        return V.VALUE          # a LAMBDA not called is no value to compare, as in + or &
    return _CMP[op](V.compare(a, b))


def scalar_binary(op: str, a, b):
    if op == "&":
        return _concat(a, b)
    if op in _CMP:
        return _compare(op, a, b)
    return _arith(op, a, b)


def lift2(fn, a, b):
    """Apply a scalar binary function elementwise with Excel's broadcasting: a 1x1 array acts
    as a scalar, a single row/column repeats, and positions outside both give #N/A."""
    aa, ba = isinstance(a, Array), isinstance(b, Array)
    if not aa and not ba:
        return fn(a, b)
    if aa and a.nrows == 1 and a.ncols == 1:
        a, aa = a.rows[0][0], False
    if ba and b.nrows == 1 and b.ncols == 1:
        b, ba = b.rows[0][0], False
    if not aa and not ba:
        return fn(a, b)
    if aa and not ba:
        return Array([[fn(x, b) for x in row] for row in a.rows])
    if ba and not aa:
        return Array([[fn(a, y) for y in row] for row in b.rows])
    nr = max(a.nrows, b.nrows)
    nc = max(a.ncols, b.ncols)
    if V.too_large(nr, nc):                # a column by a row: their product's size
        return V.NUM
    if a.nrows == b.nrows and a.ncols == b.ncols:
        return Array([[fn(x, y) for x, y in zip(ra, rb)] for ra, rb in zip(a.rows, b.rows)])
    return Array([[fn(a.get(r, c), b.get(r, c)) for c in range(nc)] for r in range(nr)])


def lift1(fn, a):
    if isinstance(a, Array):
        return Array([[fn(x) for x in row] for row in a.rows])
    return fn(a)


def negate(v):
    if isinstance(v, XLError):
        return v
    x = _num(v)
    if isinstance(x, XLError):
        return x
    return -x if x != 0 else 0.0


def plus(v):
    return v


def percent(v):
    if isinstance(v, XLError):
        return v
    x = _num(v)
    if isinstance(x, XLError):
        return x
    return x / 100.0
