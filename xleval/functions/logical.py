"""Excel's Logical functions: AND, OR, XOR, NOT, TRUE, FALSE and the LAMBDA helpers MAP,
REDUCE, SCAN, BYROW, BYCOL, MAKEARRAY, ISOMITTED.

IF, IFERROR, IFNA, CHOOSE, IFS, SWITCH, LET and LAMBDA are compiled as special forms (see
evaluator.compiler). The helpers receive the lambda value and call it through
`call_lambda`; a reference argument is handed to the lambda as references (one cell, or a
row/column of the range), as Excel does, so ISBLANK, ISREF or SUMIF work inside the lambda.
"""
from __future__ import annotations

from .. import values as V
from ..evaluator.lambdas import EtaLambda, Lambda, call_lambda
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from .registry import BOOL, RAW, VALUES, xl

# ---------------------------------------------------------------------------------------
# AND / OR / XOR / NOT
# ---------------------------------------------------------------------------------------


def _logicals(cx, args):
    """The logical values of AND/OR/XOR arguments, in Excel's (2016 and later) rules: inside
    references and arrays text and blanks are ignored; a direct argument is coerced, text
    counting only when it reads TRUE or FALSE and being ignored otherwise (AND(TRUE,"0") is
    TRUE); an empty argument is FALSE; the first error in argument order is the result; no
    logical value at all is #VALUE!. (Excel 2013 made other direct text #VALUE!.)"""
    out = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            for v in cx.ev.iter_ref_values(a):
                if isinstance(v, XLError):
                    raise v
                if isinstance(v, bool):
                    out.append(v)
                elif isinstance(v, float):
                    out.append(v != 0)
        elif isinstance(a, Array):
            for v in a.flat():
                if isinstance(v, XLError):
                    raise v
                if isinstance(v, bool):
                    out.append(v)
                elif isinstance(v, (int, float)):
                    out.append(v != 0)
        elif a is None:
            out.append(False)          # an empty argument: AND(TRUE,)
        elif isinstance(a, XLError):
            raise a
        else:
            b = V.to_bool(a)
            if isinstance(b, XLError):
                if isinstance(a, str):
                    continue           # text that is not TRUE/FALSE: ignored
                raise b
            out.append(b)
    if not out:
        raise V.VALUE
    return out


@xl("AND", VALUES, ctx=True)
def AND(cx, args):
    return all(_logicals(cx, args))


@xl("OR", VALUES, ctx=True)
def OR(cx, args):
    return any(_logicals(cx, args))


@xl("XOR", VALUES, ctx=True)
def XOR(cx, args):
    return sum(_logicals(cx, args)) % 2 == 1


@xl("NOT", BOOL)
def NOT(logical):
    return not logical


@xl("TRUE")
def TRUE():
    return True


@xl("FALSE")
def FALSE():
    return False


# ---------------------------------------------------------------------------------------
# LAMBDA helpers
# ---------------------------------------------------------------------------------------

def _lambda(v, nparams: int) -> Lambda:
    if isinstance(v, XLError):
        raise v
    if isinstance(v, EtaLambda):      # a function passed by name: any arity it accepts
        return v
    if not isinstance(v, Lambda) or len(v.params) != nparams:
        raise V.VALUE
    return v


def _scalar(cx, v):
    """One element of a helper's result: a reference becomes its value, a 1x1 array its
    element, a bigger array is #CALC! (nested arrays are not supported by Excel)."""
    if isinstance(v, (Range, RefList)):
        if isinstance(v, RefList):
            if len(v.areas) != 1:
                return V.VALUE
            v = v.areas[0]
        if v.r1 == v.r2 and v.c1 == v.c2:
            v = cx.ev.value_at(v.sheet, v.r1, v.c1)
        else:
            v = cx.ev.ref_array(v)
    if isinstance(v, Array):
        if v.nrows == 1 and v.ncols == 1:
            v = v.rows[0][0]
        else:
            return V.CALC
    if v is None:
        return 0.0
    if isinstance(v, Lambda):
        return V.CALC
    return v


class _Grid:
    """An argument as a grid whose elements are handed to a lambda: cell references for a
    range, values for an array or a scalar."""

    def __init__(self, cx, a):
        self.ref = None
        self.arr = None
        if isinstance(a, RefList):
            if len(a.areas) != 1:
                raise V.VALUE
            a = a.areas[0]
        if isinstance(a, Range):
            r1, c1, r2, c2 = cx.ev._trim(a)
            self.ref = Range(a.sheet, r1, c1, r2, c2)
            self.nrows, self.ncols = r2 - r1 + 1, c2 - c1 + 1
        elif isinstance(a, Array):
            self.arr = a
            self.nrows, self.ncols = a.nrows, a.ncols
        elif isinstance(a, XLError):
            raise a
        else:
            self.arr = Array([[a]])
            self.nrows = self.ncols = 1

    def cell(self, r: int, c: int):
        if r >= self.nrows or c >= self.ncols:
            return V.NA
        if self.ref is not None:
            return Range(self.ref.sheet, self.ref.r1 + r, self.ref.c1 + c,
                         self.ref.r1 + r, self.ref.c1 + c)
        return self.arr.rows[r][c]

    def row(self, r: int):
        if self.ref is not None:
            return Range(self.ref.sheet, self.ref.r1 + r, self.ref.c1,
                         self.ref.r1 + r, self.ref.c2)
        return Array([list(self.arr.rows[r])])

    def col(self, c: int):
        if self.ref is not None:
            return Range(self.ref.sheet, self.ref.r1, self.ref.c1 + c,
                         self.ref.r2, self.ref.c1 + c)
        return Array([[row[c]] for row in self.arr.rows])


@xl("MAP", RAW, ctx=True)
def MAP(cx, *args):
    if len(args) < 2:
        return V.VALUE
    lam = _lambda(args[-1], len(args) - 1)
    grids = [_Grid(cx, a) for a in args[:-1]]
    nr = max(g.nrows for g in grids)
    nc = max(g.ncols for g in grids)
    rows = []
    for r in range(nr):
        row = []
        for c in range(nc):
            vals = []
            for g in grids:
                rr = 0 if g.nrows == 1 else r
                cc = 0 if g.ncols == 1 else c
                vals.append(g.cell(rr, cc))
            row.append(_scalar(cx, call_lambda(lam, vals, cx)))
        rows.append(row)
    return Array(rows)


def _accumulator(cx, v):
    """REDUCE's accumulator keeps arrays; references become values."""
    if isinstance(v, (Range, RefList)):
        if isinstance(v, RefList):
            if len(v.areas) != 1:
                return V.VALUE
            v = v.areas[0]
        if v.r1 == v.r2 and v.c1 == v.c2:
            return cx.ev.value_at(v.sheet, v.r1, v.c1)
        return cx.ev.ref_array(v)
    return v


@xl("REDUCE", RAW, RAW, RAW, ctx=True)
def REDUCE(cx, initial_value, array, function=None):
    if function is None:
        return V.VALUE
    lam = _lambda(function, 2)
    acc = _accumulator(cx, initial_value)
    g = _Grid(cx, array)
    for r in range(g.nrows):
        for c in range(g.ncols):
            acc = _accumulator(cx, call_lambda(lam, [acc, g.cell(r, c)], cx))
    if acc is None:
        return 0.0
    return acc


@xl("SCAN", RAW, RAW, RAW, ctx=True)
def SCAN(cx, initial_value, array, function=None):
    if function is None:
        return V.VALUE
    lam = _lambda(function, 2)
    acc = _accumulator(cx, initial_value)
    g = _Grid(cx, array)
    rows = []
    for r in range(g.nrows):
        row = []
        for c in range(g.ncols):
            acc = _scalar(cx, call_lambda(lam, [acc, g.cell(r, c)], cx))
            row.append(acc)
        rows.append(row)
    return Array(rows)


@xl("BYROW", RAW, RAW, ctx=True)
def BYROW(cx, array, function=None):
    if function is None:
        return V.VALUE
    lam = _lambda(function, 1)
    g = _Grid(cx, array)
    return Array([[_scalar(cx, call_lambda(lam, [g.row(r)], cx))] for r in range(g.nrows)])


@xl("BYCOL", RAW, RAW, ctx=True)
def BYCOL(cx, array, function=None):
    if function is None:
        return V.VALUE
    lam = _lambda(function, 1)
    g = _Grid(cx, array)
    return Array([[_scalar(cx, call_lambda(lam, [g.col(c)], cx)) for c in range(g.ncols)]])


def _dimension_value(v):
    """MAKEARRAY's rows/columns: a whole number (TRUE is 1); text, blanks and fractions
    are #VALUE! (seen in Excel-saved results: 2.3 and "1" are refused)."""
    if isinstance(v, XLError):
        return v
    if isinstance(v, bool):
        return 1 if v else 0
    if not isinstance(v, float) or v != int(v):
        return V.VALUE
    return int(v)


def _dimension(cx, v):
    """An int, an error, or (an array formula passing a range) an Array of them."""
    if isinstance(v, RefList):
        if len(v.areas) != 1:
            return V.VALUE
        v = v.areas[0]
    if isinstance(v, Range):
        if v.r1 == v.r2 and v.c1 == v.c2:
            v = cx.ev.value_at(v.sheet, v.r1, v.c1)
        elif cx.array_mode:
            v = cx.ev.ref_array(v)
        else:
            v = cx.ev.implicit_intersection(v, cx)
    if isinstance(v, Array):
        if v.nrows == 1 and v.ncols == 1:
            return _dimension_value(v.rows[0][0])
        return v.map(_dimension_value)
    return _dimension_value(v)


@xl("MAKEARRAY", RAW, RAW, RAW, ctx=True)
def MAKEARRAY(cx, rows, cols, function=None):
    if function is None:
        return V.VALUE
    rows = _dimension(cx, rows)
    cols = _dimension(cx, cols)
    lam = _lambda(function, 2)

    def make(nr, nc):
        if isinstance(nr, XLError):
            return nr
        if isinstance(nc, XLError):
            return nc
        if nr < 1 or nc < 1:
            return V.VALUE
        if V.too_large(nr, nc):
            return V.NUM
        return Array([[_scalar(cx, call_lambda(lam, [float(r), float(c)], cx))
                       for c in range(1, nc + 1)] for r in range(1, nr + 1)])

    if isinstance(rows, Array) or isinstance(cols, Array):
        # element by element; each element shows the top-left of its own array
        ra = rows if isinstance(rows, Array) else Array([[rows]])
        ca = cols if isinstance(cols, Array) else Array([[cols]])
        nr = max(ra.nrows, ca.nrows)
        nc = max(ra.ncols, ca.ncols)
        out = []
        for i in range(nr):
            row = []
            for j in range(nc):
                res = make(ra.get(i, j), ca.get(i, j))
                row.append(res.rows[0][0] if isinstance(res, Array) else res)
            out.append(row)
        return Array(out)
    return make(rows, cols)


@xl("ISOMITTED", RAW)
def ISOMITTED(argument=None):
    # a LAMBDA parameter the call did not supply is bound to nothing (None); every value a
    # caller can pass (a reference to a blank cell included) is something else
    return argument is None
