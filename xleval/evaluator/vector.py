"""Vectorized evaluation of a work unit: one formula shape copied over many cells.

A copied-down formula such as `=B2*C2` evaluated for 10,000 rows through the compiled
closures costs 10,000 interpreter walks (Range objects, coercion, operator dispatch per
cell). When a shape is built only from number literals, single-cell references and a
whitelist of operators and functions whose results numpy reproduces *bit for bit*, the
unit's cells are evaluated at once instead: each referenced cell is gathered into a float64
column, the tree is evaluated once over the columns, and the values are stored back.

This is a fast path beside the closures, never a second set of semantics: every operation
mirrors `operators.py` / the registered function exactly, and every row whose scalar result
could be anything other than a plain finite float is left *pending*, so the caller evaluates
it through the general path. A row is left out ("bad") when an input it reads is not a
float (text, bool, error, a pending cell, or a blank where a blank is not simply 0), or when
one of its operations would give an error (division by zero, overflow, 0^0, a function that
raises). Comparisons use Excel's 15-digit rule only where it can matter (operands within
2e-14 of each other), element by element through `values.compare`; ROUND is numpy except
for the rows where its 15-digit step can matter; `^` and the other math functions (SQRT,
SIN...) call the very Python function the scalar path calls, once per row.

Running totals (`=B2+A3` copied down) put every row in its own layer; `layer_order`
regroups such runs of thin layers by shape and column, so that the cells reading only
other columns become one vector unit and a running sum / peak becomes one numpy
accumulate (`scan_group`).

Copied-down exact lookups (VLOOKUP, MATCH, INDEX/MATCH, INDEX of a key cell) take the
same path through `vector_lookup.py`: `program_for` gives their LookupProgram.

`XLEVAL_NO_VECTOR=1` in the environment (or `ENABLED = False`) turns the fast path off;
tests use it to compare both paths.
"""
from __future__ import annotations

import math
import os
from itertools import chain, repeat
from operator import itemgetter
from typing import Iterator, Sequence

import numpy as np

from .. import values as V
from ..arrays import group_ids
from ..functions import registry as R
from ..parser.ast import Binary, Func, Literal, Node, Postfix, Ref, Unary
from ..refs import MAX_COL, MAX_ROW
from . import operators as O
from .compiler import _fast_add, _fast_mul, _fast_sub
from .engine import PENDING

ENABLED = os.environ.get("XLEVAL_NO_VECTOR", "") not in ("1", "true", "yes")
_PENDING_TYPE = type(PENDING)
MIN_CELLS = 16          # below this the numpy set-up costs more than it saves

_ARITH = {"+", "-", "*", "/", "^"}
_COMPARE = {"=", "<>", "<", "<=", ">", ">="}
# functions evaluated row by row through their own registered implementation (exact by
# construction); every parameter must be a NUMBER or INT scalar
_ELEMENTWISE = {"ROUND", "ROUNDUP", "ROUNDDOWN", "TRUNC", "INT", "SIGN", "SQRT", "EXP", "LN",
                "LOG10", "SIN", "COS", "TAN"}
_FUNC_MODULES = ("xleval.functions.math", "xleval.functions.statistical")


class Unsupported(Exception):
    """The shape is outside what the vector path reproduces exactly."""


# ----------------------------------------------------------------------------------------
# compiling a shape tree into a program over columns
# ----------------------------------------------------------------------------------------
# A compiled node is `fn(cols) -> (values, bad)`: `values` a float64 array (or a Python
# float for a constant), `bad` a bool array of rows the vector path must leave to the
# scalar path, or None when no row is bad. Comparison nodes return a bool array instead of
# floats and may only be IF conditions. `cols` holds one (values, bad) per leaf.

def ref_sheet(engine, ref: Ref, sheet: int) -> int:
    """The local sheet a plain reference of a formula on `sheet` points into; Unsupported
    for #REF!, whole rows/columns, 3-D and external references. `sheet` None (a
    sheet-free program, see Program.on_sheet): None for an unqualified reference."""
    if ref.invalid or ref.whole or ref.book is not None or ref.sheet2 is not None:
        raise Unsupported("not a plain reference")
    try:
        s = engine.resolve_sheets(ref.sheet, None, None, sheet)[0]
    except KeyError:
        raise Unsupported("unknown sheet") from None
    if s is not None and s >= engine.n_local:
        raise Unsupported("external sheet")
    return s


class Program:
    """A shape compiled for the vector path: its distinct cell references (leaves) and the
    evaluation closure."""

    __slots__ = ("engine", "sheet", "leaves", "_leaf_ids", "fn")

    def __init__(self, engine, tree: Node, sheet: int | None, blank_zero: bool = False):
        """`blank_zero`: the tree is an arithmetic operand (a blank cell it reads is 0).
        `sheet` None: a sheet-free program, whose unqualified references are leaves on
        sheet None, made for a sheet by `on_sheet`."""
        self.engine = engine
        self.sheet = sheet
        self.leaves: list[tuple] = []        # (sheet, row, row_abs, col, col_abs, blank_zero)
        self._leaf_ids: dict | None = {}
        self.fn, kind = self._c(tree, blank_zero=blank_zero)
        if kind != "num":
            raise Unsupported("result is not a number")
        self._leaf_ids = None                # (only for compiling)

    def on_sheet(self, sheet: int) -> "Program":
        """This sheet-free program for a formula on `sheet`: the same closure, its leaves
        on that sheet (a formula on many sheets compiles once, see Engine.shared_of)."""
        p = Program.__new__(Program)
        p.engine, p.sheet, p.fn, p._leaf_ids = self.engine, sheet, self.fn, None
        p.leaves = [(sheet, *leaf[1:]) if leaf[0] is None else leaf for leaf in self.leaves]
        return p

    # leaves ------------------------------------------------------------------------------
    def _leaf(self, ref: Ref, blank_zero: bool):
        if (ref.row1 != ref.row2 or ref.col1 != ref.col2
                or ref.row1_abs != ref.row2_abs or ref.col1_abs != ref.col2_abs):
            raise Unsupported("not a single-cell reference")
        s = ref_sheet(self.engine, ref, self.sheet)
        key = (s, ref.row1, ref.row1_abs, ref.col1, ref.col1_abs, blank_zero)
        i = self._leaf_ids.get(key)
        if i is None:
            i = self._leaf_ids[key] = len(self.leaves)
            self.leaves.append(key)
        return (lambda cols: cols[i]), "num"

    # nodes -------------------------------------------------------------------------------
    def _c(self, node: Node, blank_zero: bool):
        t = type(node)
        if t is Literal:
            v = node.value
            if type(v) is not float:
                raise Unsupported("non-number literal")
            return (lambda cols: (v, None)), "num"
        if t is Ref:
            return self._leaf(node, blank_zero)
        if t is Unary:
            if node.op == "+":          # `=+A1` passes its operand through unchanged
                return self._c(node.operand, blank_zero)
            if node.op != "-":
                raise Unsupported(node.op)
            f = self._num(node.operand)
            return (lambda cols: _negate(*f(cols))), "num"
        if t is Postfix:
            if node.op != "%":
                raise Unsupported(node.op)
            f = self._num(node.operand)

            def percent(cols):
                x, bad = f(cols)
                return x / 100.0, bad
            return percent, "num"
        if t is Binary:
            if node.op in _ARITH:
                lf, rf = self._num(node.left), self._num(node.right)
                op = _BINARY[node.op]
                return (lambda cols: op(*lf(cols), *rf(cols))), "num"
            if node.op in _COMPARE:
                # operands of a comparison: a blank is not simply 0 (it equals "" too)
                lf, _ = self._typed(node.left, False, "num")
                rf, _ = self._typed(node.right, False, "num")
                op = node.op
                return (lambda cols: _compare(op, *lf(cols), *rf(cols))), "bool"
            raise Unsupported(node.op)
        if t is Func:
            return self._func(node)
        raise Unsupported(t.__name__)

    def _typed(self, node: Node, blank_zero: bool, kind: str):
        f, k = self._c(node, blank_zero)
        if k != kind:
            raise Unsupported("comparison outside IF")
        return f, k

    def _num(self, node: Node):
        """An arithmetic operand: coerced by `to_number`, so a blank cell is 0."""
        return self._typed(node, True, "num")[0]

    def _func(self, node: Func):
        name, args = node.name, node.args
        if any(type(a).__name__ == "Missing" for a in args):
            raise Unsupported("omitted argument")
        if name == "IF":
            return self._if(args)
        ev = self.engine
        if name in ev.user_functions:
            raise Unsupported("user function")
        spec = ev.function(name)
        if spec is None or spec.fn.__module__ not in _FUNC_MODULES:
            raise Unsupported(name)
        if not (spec.min_args <= len(args) <= spec.max_args):
            raise Unsupported("argument count")
        if name == "ABS" and spec.kinds == (R.NUMBER,):
            f = self._num(args[0])

            def abs_(cols):
                x, bad = f(cols)
                return np.abs(x), bad
            return abs_, "num"
        if name in ("MIN", "MAX") and spec.kinds == (R.NUMBERS,):
            # MIN/MAX skip blank and text cells of a reference: only floats are taken
            fs = [self._typed(a, False, "num")[0] for a in args]
            fold = _min_fold if name == "MIN" else _max_fold
            return (lambda cols: fold([f(cols) for f in fs])), "num"
        if name == "ROUND" and spec.kinds == (R.NUMBER, R.INT) and _round_digits(args):
            f, fn, digits = self._num(args[0]), spec.fn, _round_digits(args)[0]
            return (lambda cols: _round_half(fn, digits, *f(cols))), "num"
        if name in _ELEMENTWISE and not spec.ctx and all(
                spec.kind(i) in (R.NUMBER, R.INT) for i in range(len(args))):
            fs = [self._num(a) for a in args]
            kinds = [spec.kind(i) for i in range(len(args))]
            fn = spec.fn
            return (lambda cols: _elementwise(fn, kinds, [f(cols) for f in fs])), "num"
        raise Unsupported(name)

    def _if(self, args: list):
        if len(args) != 3:
            raise Unsupported("IF without both branches")   # the missing branch is a bool
        cf, ck = self._c(args[0], False)
        # a branch's value is shown as is: a blank or text branch goes to the scalar path
        tf, _ = self._typed(args[1], False, "num")
        ff, _ = self._typed(args[2], False, "num")
        return (lambda cols: _select(ck, cf(cols), tf(cols), ff(cols))), "num"


# ----------------------------------------------------------------------------------------
# operations (mirroring operators.py)
# ----------------------------------------------------------------------------------------
def _or(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def _finite(r, bad):
    """Rows whose result overflowed or is NaN become bad (the scalar path gives #NUM!)."""
    r = np.asarray(r)
    nf = ~np.isfinite(r)
    if nf.any():
        return np.where(nf, 0.0, r), _or(bad, nf)
    return r, bad


def _add_sub(sign: float):
    def op(x, xb, y, yb):
        r = x + y if sign > 0 else x - y
        # Excel snaps a sum that cancels to within 15 digits of zero onto zero
        snap = (r != 0) & (np.abs(r) < 1e-15 * np.maximum(np.abs(x), np.abs(y)))
        r = np.where(snap, 0.0, r)
        return _finite(r, _or(xb, yb))
    return op


def _mul(x, xb, y, yb):
    return _finite(np.multiply(x, y), _or(xb, yb))


def _div(x, xb, y, yb):
    zero = np.asarray(y) == 0
    bad = _or(xb, yb)
    if zero.any():                                  # #DIV/0!: the scalar path decides
        bad = _or(bad, np.broadcast_to(zero, np.shape(x + y)).copy())
        y = np.where(zero, 1.0, y)
    return _finite(np.divide(x, y), bad)


def _pow(x, xb, y, yb):
    # math.pow through the scalar operator itself, row by row (numpy's power may differ
    # in the last bit from libm's pow)
    n = max(np.size(x), np.size(y))
    xs = np.broadcast_to(x, (n,)).tolist()
    ys = np.broadcast_to(y, (n,)).tolist()
    arith = O._arith
    out = [arith("^", a, b) for a, b in zip(xs, ys)]
    err = np.fromiter((type(v) is not float for v in out), bool, n)
    vals = np.array([0.0 if e else v for v, e in zip(out, err.tolist())], dtype=np.float64)
    return vals, _or(_or(xb, yb), err if err.any() else None)


_BINARY = {"+": _add_sub(1.0), "-": _add_sub(-1.0), "*": _mul, "/": _div, "^": _pow}


def _negate(x, bad):
    return np.where(np.asarray(x) != 0, np.negative(x), 0.0), bad


_NP_CMP = {"=": np.equal, "<>": np.not_equal, "<": np.less, "<=": np.less_equal,
           ">": np.greater, ">=": np.greater_equal}


def _compare(op, x, xb, y, yb):
    """Excel's comparison of two numbers: equal ones are equal, others compare at 15
    significant digits (values.compare) - only operands closer than 2e-14 relative can be
    affected, and those are compared by values.compare itself."""
    n = max(np.size(x), np.size(y))
    x = np.broadcast_to(np.asarray(x, dtype=np.float64), (n,))
    y = np.broadcast_to(np.asarray(y, dtype=np.float64), (n,))
    res = _NP_CMP[op](x, y)
    close = (x != y) & (np.abs(x - y) <= 2e-14 * np.maximum(np.abs(x), np.abs(y)))
    if close.any():
        res = res.copy()
        test = O._CMP[op]
        for i in np.flatnonzero(close).tolist():
            res[i] = test(V.compare(float(x[i]), float(y[i])))
    return res, _or(xb, yb)


def _select(ckind, cond, t, f):
    c, cb = cond
    if ckind == "num":
        c = np.asarray(c) != 0                      # to_bool of a number
    tv, tb = t
    fv, fb = f
    vals = np.where(c, tv, fv)
    # a row is bad if its condition is, or the branch it takes is (not the other one)
    if tb is None and fb is None:
        bad = cb
    else:
        n = np.size(vals)
        tb_ = np.zeros(n, bool) if tb is None else tb
        fb_ = np.zeros(n, bool) if fb is None else fb
        bad = _or(cb, np.where(c, tb_, fb_))
    return vals, bad


def _fold(items, pick):
    vals, bad = items[0]
    for v, b in items[1:]:
        vals = np.where(pick(v, vals), v, vals)
        bad = _or(bad, b)
    return vals, bad


def _min_fold(items):
    # Python's min keeps the first of equal items: replace only when strictly smaller
    return _fold(items, np.less)


def _max_fold(items):
    return _fold(items, np.greater)


def _round_digits(args: list) -> tuple[int] | None:
    """ROUND's digits when they are a constant 0..15 (the numpy path's range)."""
    if len(args) == 1:
        return (0,)
    d = args[1]
    if type(d) is Literal and type(d.value) is float and d.value == int(d.value) \
            and 0 <= d.value <= 15:
        return (int(d.value),)
    return None


def _round_half(fn, digits: int, x, bad):
    """ROUND(x, digits) over a column. Excel's rounding (functions/math.py
    `_decimal_round`) rounds the decimal value of x at 15 significant digits half away from
    zero. That value is within 5e-15 relative of x, and x * 10**digits in binary within
    a few ulps of it, so the binary floor(x * 10**digits + 0.5) differs only where it is
    that close to a half-integer, or where x is too large to round; those rows call ROUND
    itself, the others are exact in numpy."""
    if not (isinstance(x, np.ndarray) and x.ndim):
        return _elementwise(fn, [R.NUMBER, R.INT], [(x, bad), (float(digits), None)])
    p = 10.0 ** digits
    with np.errstate(all="ignore"):
        ax = np.abs(x)
        y = ax * p
        h = y + 0.5
        near = ~(np.abs(h - np.round(h)) > 1e-13 * np.maximum(y, 1.0))   # NaN/inf: near
        e = np.floor(np.log10(np.where(ax == 0, 1.0, ax)))
        near |= (digits + e >= 15)
        r = np.floor(h)
        out = np.where(r == 0, 0.0, np.where(x > 0, r / p, -(r / p)))
    out = np.where(x == 0, x, out)                  # ROUND(0) is x itself (keeps -0.0)
    idx = np.flatnonzero(near & ~bad) if bad is not None else np.flatnonzero(near)
    if idx.size:
        out = out.copy()
        for i in idx.tolist():
            try:
                v = fn(float(x[i]), digits)
            except Exception:  # noqa: BLE001 - any failure: the scalar path reports it
                v = None
            if type(v) is float and math.isfinite(v):
                out[i] = v
            else:
                bad = _or(bad, np.zeros(x.shape, bool))
                bad[i] = True
    return out, bad


def _elementwise(fn, kinds, args):
    """A registered scalar function row by row, with the registry's coercion; a row whose
    call raises or returns anything but a finite float is bad."""
    if not any(isinstance(a, np.ndarray) and a.ndim for a, _ in args):
        # constant arguments (SIN(D$1) down a column): one call
        try:
            v = fn(*[R._coerce(k, float(a)) if k == R.INT else float(a)
                     for k, (a, _) in zip(kinds, args)])
        except Exception:  # noqa: BLE001 - any failure: the scalar path reports it
            v = None
        bad = None
        for _, b in args:
            bad = _or(bad, b)
        if type(v) is float and math.isfinite(v):
            return v, bad
        return 0.0, np.array(True)
    n = max(np.size(a) for a, _ in args)
    cols = []
    for k, (a, _) in zip(kinds, args):
        if isinstance(a, np.ndarray) and a.ndim:
            a = a.tolist()
            cols.append([R._coerce(k, x) for x in a] if k == R.INT else a)
        else:                                       # a constant: coerced once
            x = float(a)
            cols.append(repeat(R._coerce(k, x) if k == R.INT else x, n))

    def call(*row):
        try:
            return fn(*row)
        except Exception:  # noqa: BLE001 - any failure: the scalar path reports it
            return None
    out = [v if type(v) is float else math.nan for v in map(call, *cols)]
    vals = np.array(out, dtype=np.float64)
    bad = None
    for _, b in args:
        bad = _or(bad, b)
    return _finite(vals, bad)


# ----------------------------------------------------------------------------------------
# running a program over a unit's cells
# ----------------------------------------------------------------------------------------
def program_for(engine, shape):
    """The shape's vector program, or None when the shape is outside the fast path
    (cached per shape on the engine)."""
    cache = engine.__dict__.setdefault("_vector_programs", {})
    hit = cache.get(id(shape))
    if hit is not None:
        return hit[1]
    prog = None
    # (a shape calling an unknown function is #NAME? or, unknown="cached", the cell's
    # cached value: its closure's business, never the vector path's)
    if shape.tree is not None and not shape.array and shape.error is None \
            and not shape.info.dynamic and not shape.info.volatile \
            and not shape.info.unsupported:
        shared = engine.shared_of(shape)
        try:
            if shared is None:
                prog = Program(engine, shape.tree, shape.sheet)
            else:        # the same formula on several sheets: one program for them all
                if shared.vec is None:
                    try:
                        shared.vec = Program(engine, shape.tree, None)
                    except (Unsupported, RecursionError):
                        shared.vec = False
                if shared.vec is False:
                    raise Unsupported("outside the vector path")
                prog = shared.vec.on_sheet(shape.sheet)
        except (Unsupported, RecursionError):
            prog = None
        if prog is None:                 # a copied-down exact lookup (vector_lookup.py)
            from .vector_lookup import compile_lookup
            try:
                prog = compile_lookup(engine, shape.tree, shape.sheet)
            except Unsupported:
                prog = None
    cache[id(shape)] = (shape, prog)     # the shape is kept so its id is not reused
    return prog


def _gather(engine, leaf, cells, rows, cols_, one_row, one_col):
    """One leaf's values for every cell: (float64 column or float, bad mask or None).
    `one_row`/`one_col`: the row/column every cell of the unit is in, else None."""
    s, ro, ra, co, ca, blank_zero = leaf
    get = engine.cells[s].get
    if (ra or one_row is not None) and (ca or one_col is not None):
        # one cell for every row ($A$1, or D$1 read by cells of one column)
        ro = ro if ra else one_row + ro
        co = co if ca else one_col + co
        v = get((ro, co))
        if type(v) is float:
            return v, None
        if v is None and blank_zero:
            return 0.0, None
        return 0.0, np.ones(len(cells), bool)
    # a column read by the units of many layers ($A2 in a projection across 60 months): the
    # same rows give the same values once none is pending (values do not change within a
    # calculation), so the column is gathered once per calculation (engine._gather_cache,
    # dropped by reset_pending; read-only arrays)
    ck = None
    if ca and not ra:        # (a dynamic array spilling into new cells changes the token)
        ck = (s, ro, co, blank_zero, rows[0], rows[-1], len(rows),
              len(engine.__dict__.get("_spill_extent") or ()))
    if ck is not None:
        hit = engine.__dict__.get("_gather_cache", {}).get(ck)
        if hit is not None and (hit[0] is rows or hit[0] == rows):
            return hit[1]
    elif not ra and one_col is not None:
        # the same rows (or rows at one offset) of another column, just stored whole by the
        # unit of an earlier layer (a projection's previous month, E2 read by F2; the row
        # above, E1 read by F2): its values (_keep_result)
        hit = _kept(engine, s, one_col + co if not ca else co, rows[0] + ro, rows[-1] + ro,
                    len(rows))
        if hit is not None:
            want = rows if ro == 0 else list(map(ro.__add__, rows))
            if hit[0] is want or hit[0] == want:
                CACHE_STATS["result_hits"] += 1
                return hit[1], None
    # keys built by C-level map/zip: no interpreter loop per cell
    rr = repeat(ro) if ra else map(ro.__add__, rows)
    cc = repeat(co) if ca else map(co.__add__, cols_)
    raw = list(map(get, zip(rr, cc)))
    kinds = set(map(type, raw))
    if kinds == {float}:
        got = np.array(raw, dtype=np.float64), None
    else:
        ok = [type(v) is float for v in raw]
        if blank_zero:
            ok = [o or v is None for o, v in zip(ok, raw)]
        vals = np.array([v if type(v) is float else 0.0 for v in raw], dtype=np.float64)
        got = vals, ~np.array(ok, dtype=bool)
    if ck is not None and _PENDING_TYPE not in kinds:
        for a in got:
            if a is not None:
                a.flags.writeable = False
        engine.__dict__.setdefault("_gather_cache", {})[ck] = (rows, got)
    return got


_RESULTS_KEPT = 64      # units' results kept for the next layers' gathers and ranges
_RESULTS_VALUES = 4_000_000     # ... holding at most this many values (32 MB)
CACHE_STATS = {"result_hits": 0}        # gathers served by a kept result (tests)


def _kept(engine, s: int, c: int, first: int, last: int, n: int):
    """The result _keep_result kept of a unit of column `c` whose `n` rows run from `first`
    to `last`: (its rows, its values, whether the rows are first..last in order), or None."""
    keep = engine.__dict__.get("_result_cache")
    return None if keep is None else keep.get((s, c, first, last, n))


def kept_column(engine, s: int, c: int, r1: int, r2: int) -> list | None:
    """The values of rows r1..r2 of column `c`, when a unit stored exactly those cells in
    this calculation (a totals row's SUM under a copied-down column); else None."""
    hit = _kept(engine, s, c, r1, r2, r2 - r1 + 1)
    return hit[1].tolist() if hit is not None and hit[2] else None


def _keep_result(engine, s: int, cells: list, vals: np.ndarray) -> None:
    """Keep the values a unit of one column just stored in all its cells, for the units of
    the next layers that read that column on the same rows (_gather) and the ranges over
    exactly those rows (a totals row's SUM, engine._area_values): the values stored
    are these floats, and none changes within a calculation (dropped with the run's other
    caches, engine.forget_run_caches; a spill into new cells is not an issue: the unit's
    cells are formula cells, computed once)."""
    c = cells[0][1]
    if cells[-1][1] != c:
        return
    cols = list(map(itemgetter(1), cells))
    if cols.count(c) != len(cols):
        return
    rows = list(map(itemgetter(0), cells))
    keep = engine.__dict__.setdefault("_result_cache", {})
    while keep and (len(keep) >= _RESULTS_KEPT or
                    sum(len(v[0]) for v in keep.values()) + len(rows) > _RESULTS_VALUES):
        del keep[next(iter(keep))]          # the oldest
    vals.flags.writeable = False
    # whole rows r1..r2 in order: a range over them reads these values (engine._area_values)
    whole = (rows[-1] - rows[0] == len(rows) - 1
             and rows == list(range(rows[0], rows[-1] + 1)))
    keep[(s, c, rows[0], rows[-1], len(rows))] = (rows, vals, whole)


def _run(engine, prog: Program, cells: list[tuple[int, int]]):
    """The program over `cells`: (float64 values, bad mask or None), or None when a
    relative reference would leave the sheet (the scalar path wraps some around)."""
    cols = _leaf_columns(engine, prog, cells)
    return None if cols is None else _apply(prog, cols, len(cells))


def _leaf_columns(engine, prog: Program, cells: list[tuple[int, int]]) -> list | None:
    """Every leaf's values for `cells` (see _gather), or None when a relative reference
    would leave the sheet."""
    rows = list(map(itemgetter(0), cells))
    cols_ = list(map(itemgetter(1), cells))
    r1, r2, c1, c2 = min(rows), max(rows), min(cols_), max(cols_)
    for ls, ro, ra, co, ca, _ in prog.leaves:
        if not ra and not (1 <= r1 + ro and r2 + ro <= MAX_ROW):
            return None
        if not ca and not (1 <= c1 + co and c2 + co <= MAX_COL):
            return None
    one_row = rows[0] if rows.count(rows[0]) == len(rows) else None
    one_col = cols_[0] if cols_.count(cols_[0]) == len(cols_) else None
    return [_gather(engine, leaf, cells, rows, cols_, one_row, one_col)
            for leaf in prog.leaves]


def _apply(prog: Program, leaf_cols: list, n: int):
    """The program's closure over leaf columns of n cells: (values, bad mask or None)."""
    with np.errstate(all="ignore"):
        vals, bad = prog.fn(leaf_cols)
    vals = np.broadcast_to(np.asarray(vals, dtype=np.float64), (n,))
    if bad is not None:
        bad = np.broadcast_to(bad, (n,))
    return vals, bad


def _pending(engine, s: int, cells: list) -> list:
    """`cells` without those already computed."""
    d = engine.cells[s]
    if list(map(d.get, cells)).count(PENDING) != len(cells):
        cells = [k for k in cells if d.get(k) is PENDING]
    return cells


def eval_unit(engine, s: int, cells: list[tuple[int, int]], shape=None) -> int:
    """Evaluate the pending cells `cells` (all of one shape on sheet `s`, none reading
    another) at once where the vector path is exact; store their values and return how many
    it stored. Cells it does not store stay pending for the scalar path."""
    if not ENABLED or len(cells) < MIN_CELLS:
        return 0
    if shape is None:
        try:
            shape = engine.cell_shape[s][cells[0]]   # [] not get: workers compile lazily
        except KeyError:
            return 0
    prog = program_for(engine, shape)
    if prog is None:
        return 0
    cells = _pending(engine, s, cells)
    if len(cells) < MIN_CELLS:
        return 0
    if type(prog) is not Program:
        from .vector_lookup import eval_lookup_unit
        done = eval_lookup_unit(engine, s, cells, prog)
        engine.report.vectorized += done
        if engine.progress is not None and done:
            engine.progress(done)
        return done
    got = _run(engine, prog, cells)
    if got is None:
        return 0
    return _store(engine, s, cells, *got)


def _store(engine, s: int, cells: list, vals: np.ndarray, bad) -> int:
    """Store a unit's values where they are good; returns how many."""
    d = engine.cells[s]
    n = len(cells)
    arr = vals
    vals = vals.tolist()
    if bad is None or not bad.any():
        d.update(zip(cells, vals))
        done = n
        _keep_result(engine, s, cells, arr)
    else:
        keep = (~np.broadcast_to(bad, (n,))).tolist()
        d.update((k, v) for k, v, ok in zip(cells, vals, keep) if ok)
        done = sum(keep)
    engine.report.vectorized += done
    if engine.progress is not None and done:
        engine.progress(done)
    return done


def shared_program(engine, s: int, cells: list) -> Program | None:
    """The sheet-free program the shape of a unit of `cells` on sheet s shares with the
    same formula on other sheets (Engine.shared_of), or None."""
    if not ENABLED or len(cells) < MIN_CELLS:
        return None
    shape = engine.cell_shape[s].get(cells[0])
    shared = None if shape is None else engine.shared_of(shape)
    if shared is None:
        return None
    if shared.vec is None:
        program_for(engine, shape)              # (makes it)
    return shared.vec if type(shared.vec) is Program else None


def eval_shared_units(engine, units: list[tuple[int, list]]) -> list[int]:
    """eval_unit for units (sheet, cells) on different sheets whose shapes share one
    sheet-free program (shared_program): each unit's leaves are gathered on its own sheet,
    the program's closure runs once over all of them (the same formulas on 250 small
    sheets: one numpy pass per formula, not 250), and each unit stores its part. Returns
    how many cells each unit stored."""
    done = [0] * len(units)
    parts = []                                  # (unit index, sheet, cells, leaf columns)
    prog = None
    for i, (s, cells) in enumerate(units):
        p = program_for(engine, engine.cell_shape[s][cells[0]])
        cells = _pending(engine, s, cells)
        if type(p) is not Program or len(cells) < MIN_CELLS:
            continue
        cols = _leaf_columns(engine, p, cells)
        if cols is not None:
            parts.append((i, s, cells, cols))
            prog = p
    if not parts:
        return done
    sizes = [len(part[2]) for part in parts]
    merged = []
    for j in range(len(parts[0][3])):
        vals = np.concatenate([np.broadcast_to(np.asarray(part[3][j][0], np.float64), (n,))
                               for part, n in zip(parts, sizes)])
        bads = [part[3][j][1] for part in parts]
        bad = None
        if any(b is not None for b in bads):
            bad = np.concatenate([np.zeros(n, bool) if b is None else np.broadcast_to(b, (n,))
                                  for b, n in zip(bads, sizes)])
        merged.append((vals, bad))
    vals, bad = _apply(prog, merged, sum(sizes))
    at = 0
    for (i, s, cells, _cols), n in zip(parts, sizes):
        done[i] = _store(engine, s, cells, vals[at:at + n],
                         None if bad is None else bad[at:at + n])
        at += n
    return done


# ----------------------------------------------------------------------------------------
# runs of thin layers: running totals
# ----------------------------------------------------------------------------------------
THIN_LAYER = 8          # a layer of at most this many cells is "thin"
THIN_RUN = 32           # consecutive thin layers worth regrouping


def thin_run_order(engine, layers: Sequence) -> Iterator[tuple[int, int, int]]:
    """Evaluate a run of thin layers (a running total puts every row in its own layer, so
    each unit is one cell) by *groups* instead of layers, and yield the cells left to the
    per-cell path in a valid order (consumed lazily by `Engine.compute`).

    A group is the cells of one shape in one column. When every shape of the run has a
    vector program, its single-cell references are all its dependencies, so the groups'
    order follows from them: a group that reads only other groups is one vector unit
    (`eval_unit`); a group that reads its own earlier rows (`=B2+A3` copied down) is one
    sequential scan, its cells yielded in row order. When a shape is outside the vector
    path, a group reads a later row of itself, or groups read each other both ways, the
    run keeps the layers' order."""
    from ..graph.build import Layers

    def units():
        # (sheet, cells) per unit of the run, in order: the plan's Layers read as spans of
        # its flat cell list (a chain's run is all of its cells: a WorkUnit made per cell
        # cost a third of its evaluation)
        if isinstance(layers, Layers):
            sheets, bounds = (a.tolist() for a in layers.unit_arrays())
            flat = layers.flat
            return zip(sheets, map(flat.__getitem__, map(slice, bounds, bounds[1:])))
        return ((u.sheet, u.cells) for layer in layers for u in layer)

    def order():
        # the layers' order, read again where the run keeps it (no list of every cell)
        return ((s, r, c) for s, cells in units() for r, c in cells)
    if not ENABLED:
        yield from order()
        return
    groups = _run_groups(engine, layers, units)
    if groups is None:                      # a shape outside the vector path
        yield from order()
        return
    keys = list(groups)
    where: dict = {}                        # (sheet, col) -> {row: group}
    for i, (_, s, c) in enumerate(keys):
        where.setdefault((s, c), {}).update(dict.fromkeys(groups[keys[i]][2], i))
    needs: list[set] = []
    scan: list[bool] = []
    for i, (_, s, c) in enumerate(keys):
        _shape, prog, rows = groups[keys[i]]
        deps, own = set(), False
        for ls, ro, ra, co, ca, _ in prog.leaves:
            col = where.get((ls, co if ca else c + co))
            if col is None:
                continue
            # the groups the leaf reads, looked up at C speed
            found = {col.get(ro)} if ra else set(map(col.get, map(ro.__add__, rows)))
            found.discard(None)
            if i in found:
                if not (ra or ro < 0):          # a scan in row order reads earlier rows only
                    yield from order()
                    return
                own = True
                found.discard(i)
            deps |= found
        needs.append(deps)
        scan.append(own)
    # the groups in dependency order (Kahn); a cycle between groups: keep the layers
    users: list[list] = [[] for _ in keys]
    left = [len(d) for d in needs]
    for i, deps in enumerate(needs):
        for j in deps:
            users[j].append(i)
    ready = [i for i in range(len(keys)) if not left[i]]
    topo = []
    while ready:
        i = ready.pop()
        topo.append(i)
        for k in users[i]:
            left[k] -= 1
            if not left[k]:
                ready.append(k)
    if len(topo) != len(keys):
        yield from order()
        return
    for i in topo:
        shape, _prog, rows = groups[keys[i]]
        _, s, c = keys[i]
        cells = [(r, c) for r in sorted(rows)]
        if not scan[i] and eval_unit(engine, s, cells, shape) == len(cells):
            continue
        if scan[i] and scan_group(engine, s, cells, shape):
            continue
        for r, _c in cells:
            yield (s, r, c)


def _run_groups(engine, layers, units) -> dict | None:
    """thin_run_order's groups: (shape id, sheet, col) -> [shape, program, rows], in the
    order of their first cell in the run, each group's rows in the run's order; None when
    a shape has no vector program. `units()`: the run's (sheet, cells) per unit."""
    from ..graph.build import Layers
    groups: dict = {}
    cell_shape = engine.cell_shape
    if isinstance(layers, Layers):
        sheets, bounds = layers.unit_arrays()
        n = len(sheets)
        if n and bounds[-1] - bounds[0] == n:
            # every unit one cell (a chain): grouped by numpy sorts, not a dict per cell
            # (the arrays are freed as soon as read: a chain's run is all of its cells)
            cells = layers.flat[int(bounds[0]):int(bounds[-1])]
            s0 = int(sheets[0])
            if (sheets == s0).all():
                shape_ids = map(id, map(cell_shape[s0].__getitem__, cells))
            else:
                shape_ids = (id(cell_shape[s][k]) for s, k in zip(sheets.tolist(), cells))
            _, key = group_ids(np.fromiter(shape_ids, np.int64, n))
            key = ((key * (len(cell_shape) + 1) + sheets) * (MAX_COL + 1)
                   + np.fromiter(map(itemgetter(1), cells), np.int64, n))
            first, group = group_ids(key)
            del key
            ends = np.cumsum(np.bincount(group)).tolist()
            members = np.argsort(group, kind="stable")      # each group's cells in order
            del group
            for g in np.argsort(first).tolist():
                idx = members[(ends[g - 1] if g else 0):ends[g]].tolist()
                i = idx[0]
                s = int(sheets[i])
                shape = cell_shape[s][cells[i]]
                prog = program_for(engine, shape)
                if prog is None:
                    return None
                groups[(id(shape), s, cells[i][1])] = [
                    shape, prog, list(map(itemgetter(0), map(cells.__getitem__, idx)))]
            return groups
    for s, cells in units():
        shape = cell_shape[s][cells[0]]         # a unit's cells share one shape
        for r, c in cells:
            g = groups.get((id(shape), s, c))
            if g is None:
                prog = program_for(engine, shape)
                if prog is None:
                    return None
                g = groups[(id(shape), s, c)] = [shape, prog, []]
            g[2].append(r)
    return groups


def layer_order(engine, layers: Sequence) -> Iterator[tuple[int, int, int]]:
    """Every cell of `layers` in a valid serial order, for `Engine.compute`: each unit goes
    through the vector fast path first (what it stores is no longer pending, compute skips
    it), and runs of thin layers are regrouped by `thin_run_order`."""
    from ..graph.build import layer_counts
    n_units, n_cells = layer_counts(layers)
    i, n = 0, len(layers)
    while i < n:
        j = i
        while j < n and n_units[j] <= THIN_LAYER and n_cells[j] <= THIN_LAYER:
            j += 1
        if ENABLED and j - i >= THIN_RUN:
            yield from thin_run_order(engine, layers[i:j])
            i = j
            continue
        for k in range(i, max(j, i + 1)):
            yield from _layer_cells(engine, layers, k)
        i = max(j, i + 1)


def _layer_cells(engine, layers: Sequence, k: int) -> Iterator[tuple[int, int, int]]:
    """Layer k's cells in unit order, each unit of several cells through the vector path
    first. The plan's Layers are read as spans of its flat cell list: no WorkUnit is made
    (100k single-cell units: ~40 ms)."""
    from ..graph.build import Layers
    if isinstance(layers, Layers):
        sheets, bounds = layers.spans(k)
        flat = layers.flat
        run: list = []          # consecutive units sharing one sheet-free program
        run_prog = None
        for s, a, b in zip(sheets, bounds, bounds[1:]):
            if b - a == 1:
                r, c = flat[a]
                yield (s, r, c)
                continue
            cells = flat[a:b]
            prog = shared_program(engine, s, cells)
            if prog is not None and prog is run_prog:
                run.append((s, cells))
                continue
            yield from _shared_run(engine, run)
            run, run_prog = ([(s, cells)], prog) if prog is not None else ([], None)
            if prog is None:
                if eval_unit(engine, s, cells) == len(cells):
                    continue
                for r, c in cells:
                    yield (s, r, c)
        yield from _shared_run(engine, run)
        return
    for unit in layers[k]:
        s = unit.sheet
        if len(unit.cells) > 1 and eval_unit(engine, s, unit.cells) == len(unit.cells):
            continue
        for r, c in unit.cells:
            yield (s, r, c)


def _shared_run(engine, run: list) -> Iterator[tuple[int, int, int]]:
    """Units (sheet, cells) of one layer sharing one sheet-free program, through
    eval_shared_units; yields the cells it left."""
    if len(run) == 1:
        s, cells = run[0]
        done = [eval_unit(engine, s, cells)]
    else:
        done = eval_shared_units(engine, run) if run else []
    for (s, cells), n in zip(run, done):
        if n != len(cells):
            for r, c in cells:
                yield (s, r, c)


# A running total / running peak: `=B2+A3`, `=B2-A3`, `=MAX(D2,C3)` copied down, each cell
# reading the one above it. numpy's accumulate is the same sequential loop of the same IEEE
# operation, so the scan is exact once its rows are checked for what the scalar path does
# differently: a sum that Excel snaps to zero, an overflow, a tie between 0.0 and -0.0.
_SCANS = {"+": "add", "-": "sub", "MAX": "max", "MIN": "min"}


def _scan_plan(engine, shape):
    """(kind, program of the other operand, None) when the shape is `prev + X`, `X + prev`,
    `prev - X`, `MAX(prev, X)`, `MAX(X, prev)` (MIN too); (kind, program of A, program of X
    or None) when it is `prev * A + X` (a balance growing by a rate plus a deposit,
    exponential smoothing), `X + prev * A`, `prev * A - X` or `prev * A` (A * prev too);
    prev is the cell above, A and X do not read the column above. Else None. Cached per
    shape."""
    cache = engine.__dict__.setdefault("_scan_plans", {})
    hit = cache.get(id(shape))
    if hit is not None:
        return hit[1]
    plan = None
    tree = shape.tree
    if isinstance(tree, Binary) and tree.op in ("+", "-"):
        parts = [tree.left, tree.right]
        op = tree.op
    elif isinstance(tree, Func) and tree.name in ("MAX", "MIN") and len(tree.args) == 2:
        parts = list(tree.args)
        op = tree.name
    else:
        parts, op = [], None

    def is_prev(n):
        return (type(n) is Ref and n.sheet is None and n.book is None and not n.whole
                and not n.invalid and n.row1 == n.row2 == -1 and n.col1 == n.col2 == 0
                and not (n.row1_abs or n.row2_abs or n.col1_abs or n.col2_abs))
    def program(node, blank_zero: bool):
        # (None when X reads the group's own column above: that would be the recurrence)
        try:
            prog = Program(engine, node, shape.sheet, blank_zero=blank_zero)
        except (Unsupported, RecursionError):
            return None
        if any(ls == shape.sheet and not ca and co == 0 and not ra
               for ls, ro, ra, co, ca, _ in prog.leaves):
            return None
        return prog

    def rate(n):
        # A of `prev * A` / `A * prev`, else None
        if isinstance(n, Binary) and n.op == "*":
            for k in (0, 1):
                if is_prev((n.left, n.right)[k]):
                    return (n.left, n.right)[1 - k]
        return None
    for k in (0, 1):
        if not parts or not is_prev(parts[k]) or (op == "-" and k == 1):
            continue
        if op in ("MAX", "MIN") and not _min_max_spec(engine, op):
            break
        prog = program(parts[1 - k], op in ("+", "-"))
        if prog is not None:
            plan = (_SCANS[op], prog, None)
        break
    node = rate(tree) if plan is None else None
    if node is not None:
        a = program(node, True)
        if a is not None:
            plan = ("mul", a, None)
    for k in (0, 1):
        if plan is not None or not parts or op not in ("+", "-") or (op == "-" and k == 1):
            continue
        node = rate(parts[k])
        if node is None:
            continue
        a, x = program(node, True), program(parts[1 - k], True)
        if a is not None and x is not None:
            plan = ("affine" if op == "+" else "affine-", a, x)
    cache[id(shape)] = (shape, plan)
    return plan


def _min_max_spec(engine, name: str) -> bool:
    spec = engine.function(name)
    return (name not in engine.user_functions and spec is not None
            and spec.fn.__module__ in _FUNC_MODULES and spec.kinds == (R.NUMBERS,))


def _affine_scan(engine, kind: str, prev: float, rates: np.ndarray, prog_x,
                 cells: list) -> list[float] | None:
    """y = prev * A (+ X, or - X) row after row, by the per-cell path's own float operations
    (compiler._fast_mul, _fast_add, _fast_sub: each product and sum rounded once, in the
    same order). None where that path would do something else: an overflow, or a sum
    Excel snaps to zero."""
    if prog_x is None:
        xs = None
    else:
        got = _run(engine, prog_x, cells)
        if got is None or (got[1] is not None and got[1].any()):
            return None
        xs = got[0].tolist()
    out = []
    put = out.append
    y = prev
    if xs is None:                                  # prev * A
        for a in rates.tolist():
            y = _fast_mul(y, a)
            if y is None:
                return None
            put(y)
        return out
    step = _fast_sub if kind == "affine-" else _fast_add
    for a, x in zip(rates.tolist(), xs):
        m = _fast_mul(y, a)
        y = None if m is None else step(m, x)
        if y is None:
            return None
        put(y)
    return out


def scan_group(engine, s: int, cells: list[tuple[int, int]], shape) -> bool:
    """Evaluate a running total over `cells` (consecutive rows of one column, each reading
    the one above) at once: one numpy accumulate, or one float loop for a product with the
    cell above (_affine_scan); True when it stored every cell exactly."""
    if len(cells) < MIN_CELLS:
        return False
    plan = _scan_plan(engine, shape)
    if plan is None:
        return False
    r0, c = cells[0]
    if cells[-1][0] - r0 != len(cells) - 1:
        return False                                # not consecutive rows
    d = engine.cells[s]
    prev0 = d.get((r0 - 1, c))
    if type(prev0) is not float or list(map(d.get, cells)).count(PENDING) != len(cells):
        return False
    kind, prog, prog_x = plan
    got = _run(engine, prog, cells)
    if got is None or (got[1] is not None and got[1].any()):
        return False
    xs = got[0]
    if kind in ("mul", "affine", "affine-"):
        out = _affine_scan(engine, kind, prev0, xs, prog_x, cells)
        if out is None:
            return False
    else:
        out = _accumulate(kind, prev0, xs)
        if out is None:
            return False
    d.update(zip(cells, out))
    engine.report.vectorized += len(cells)
    if engine.progress is not None:
        engine.progress(len(cells))
    return True


def _accumulate(kind: str, prev0: float, xs: np.ndarray) -> list[float] | None:
    """A running total / peak over `xs` from `prev0` by one numpy accumulate, or None where
    the scalar path would do something else (a sum Excel snaps to zero, a 0.0 / -0.0 tie,
    an overflow)."""
    with np.errstate(all="ignore"):
        if kind in ("add", "sub"):
            step = xs if kind == "add" else -xs     # a - x is a + (-x) exactly
            out = np.cumsum(np.concatenate(([prev0], step)))
            prevs, out = out[:-1], out[1:]
            snap = (out != 0) & (np.abs(out) < 1e-15 * np.maximum(np.abs(prevs), np.abs(xs)))
            if snap.any():
                return None
        else:
            acc = np.maximum if kind == "max" else np.minimum
            out = acc.accumulate(np.concatenate(([prev0], xs)))
            prevs, out = out[:-1], out[1:]
            if ((xs == 0) & (prevs == 0)).any():
                return None                        # 0.0 / -0.0 ties: Python keeps the first
        if not np.isfinite(out).all():
            return None
    return out.tolist()
