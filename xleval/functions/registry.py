"""The function registry: Excel functions declared with the argument kinds they take, so the
base does coercion, error propagation and array broadcasting, and a function body is only
its own arithmetic.

    @xl("ROUND", NUMBER, INT)
    def ROUND(x, digits=0): ...

Argument kinds
  scalar kinds (broadcast elementwise when given an array; a multi-cell reference is
  implicitly intersected in ordinary formulas, expanded to an array in array formulas):
    NUMBER  coerced to float (text that looks like a number converts, TRUE -> 1, blank -> 0)
    INT     NUMBER truncated towards zero
    TEXT    coerced to str (numbers as Excel shows them, blank -> "")
    BOOL    coerced to bool ("TRUE"/"FALSE" text, numbers != 0)
    SCALAR  the value as is (None for blank)
    ANY     like SCALAR but errors are passed in instead of short-circuiting
  other kinds:
    REF      the reference itself (Range / RefList); #VALUE! if the argument is not one
    ARRAY    an Array of values (a reference expanded, a scalar as a 1x1 array)
    RAW      whatever the argument evaluated to (reference, array or scalar)
    LAZY     a thunk: call it to evaluate the argument (IF, IFERROR, CHOOSE...)
    NUMBERS  (last) all remaining arguments flattened into one list of floats with Excel's
             aggregate rules: inside references and arrays only numbers count; typed
             arguments are coerced; any error is the result
    VALUES   (last) all remaining arguments as a list of RAW values
A kind can be given per position; the last kind repeats for variadic functions.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Callable

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError

NUMBER = "number"
INT = "int"
TEXT = "text"
BOOL = "bool"
SCALAR = "scalar"
ANY = "any"
REF = "ref"
ARRAY = "array"
RAW = "raw"
LAZY = "lazy"
NUMBERS = "numbers"
VALUES = "values"

SCALAR_KINDS = frozenset({NUMBER, INT, TEXT, BOOL, SCALAR, ANY})
COLLECTING = frozenset({NUMBERS, VALUES})


class Omitted:
    """An argument left empty inside the call: ROUND(1.5,)."""

    __slots__ = ()

    def __repr__(self):
        return "<omitted>"


OMITTED = Omitted()


@dataclass
class FunctionSpec:
    name: str
    fn: Callable
    kinds: tuple[str, ...]
    min_args: int
    max_args: float
    ctx: bool = False
    volatile: bool = False
    category: str = ""
    source: str = "native"          # native / formulas
    dynamic_ref: bool = False       # may return references not visible statically
    array_args: frozenset = field(default_factory=frozenset)

    def kind(self, i: int) -> str:
        return self.kinds[i] if i < len(self.kinds) else self.kinds[-1] if self.kinds else RAW


REGISTRY: dict[str, FunctionSpec] = {}


def xl(name: str, *kinds: str, ctx: bool = False, volatile: bool = False,
       category: str = "", aliases: tuple[str, ...] = (), dynamic_ref: bool = False):
    """Register an Excel function implemented natively."""

    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        if ctx:
            params = params[1:]
        min_args = 0
        max_args: float = 0
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                max_args = math.inf
            elif p.default is p.empty:
                min_args += 1
                max_args += 1
            else:
                max_args += 1
        if kinds and kinds[-1] in COLLECTING:
            max_args = math.inf
            min_args = max(min_args - 1, 0) + (1 if min_args >= len(kinds) else 0)
        cat = category or fn.__module__.rsplit(".", 1)[-1]
        spec = FunctionSpec(name.upper(), fn, tuple(kinds), min_args, max_args, ctx, volatile,
                            cat, dynamic_ref=dynamic_ref)
        for n in (name, *aliases):
            REGISTRY[n.upper()] = spec
        return fn

    return deco


class Context:
    """Where a formula is being evaluated: the engine, sheet index, row, column, and whether
    the formula is an array formula (ranges expand instead of intersecting), and the
    cell's own number constants `k` when its formula is one of a family of formulas that
    differ only in their numbers (one closure serves the family; see Engine._family_shape)."""

    __slots__ = ("ev", "sheet", "row", "col", "array_mode", "env", "_twin", "k")

    def __init__(self, ev, sheet: int, row: int, col: int, array_mode: bool = False,
                 env: dict | None = None, k: tuple | None = None):
        self.ev = ev
        self.sheet = sheet
        self.row = row
        self.col = col
        self.array_mode = array_mode
        self.env = env          # LET / LAMBDA variables
        self._twin = None
        self.k = k

    def as_array(self) -> "Context":
        """The same position in array mode (arguments of array-typed parameters)."""
        if self.array_mode:
            return self
        if self._twin is None:
            self._twin = Context(self.ev, self.sheet, self.row, self.col, True, self.env,
                                 self.k)
        return self._twin

    def with_env(self, env: dict) -> "Context":
        return Context(self.ev, self.sheet, self.row, self.col, self.array_mode, env, self.k)


# ---------------------------------------------------------------------------------------
# coercion of one scalar argument
# ---------------------------------------------------------------------------------------

def _coerce(kind: str, v):
    if kind == NUMBER:
        return V.to_number(v)
    if kind == INT:
        n = V.to_number(v)
        if isinstance(n, XLError):
            return n
        if not math.isfinite(n):
            return V.NUM
        return int(n) if n >= 0 else -int(-n)
    if kind == TEXT:
        return V.to_text(v)
    if kind == BOOL:
        return V.to_bool(v)
    return v


def _finish(result):
    """Normalise a function's return value."""
    if isinstance(result, bool) or result is None or isinstance(result, (str, XLError)):
        return result
    if isinstance(result, float):
        if math.isnan(result) or math.isinf(result):
            return V.NUM
        return result
    if isinstance(result, int):
        return float(result)
    return result


def _call(spec: FunctionSpec, cx, args: list):
    try:
        if spec.ctx:
            return _finish(spec.fn(cx, *args))
        return _finish(spec.fn(*args))
    except XLError as e:
        return e
    except ZeroDivisionError:
        return V.DIV0
    except (ValueError, OverflowError):
        return V.NUM
    except RecursionError:
        return V.NUM
    except Exception as e:  # noqa: BLE001 - a bug in one function must not stop the run
        from ..evaluator.engine import NeedCell
        if isinstance(e, NeedCell):
            raise
        ev = getattr(cx, "ev", None)
        if ev is not None:
            msg = f"{spec.name} failed internally ({type(e).__name__}); cell gets #VALUE!"
            if msg not in ev.report.warnings:
                ev.report.warnings.append(msg)
        return V.VALUE


def _flatten_numbers(cx, args: list):
    """Excel's aggregate argument rule (SUM, AVERAGE, MAX...)."""
    ev = cx.ev
    out: list[float] = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            for v in ev.iter_ref_values(a):
                if isinstance(v, float):
                    out.append(v)
                elif isinstance(v, XLError):
                    raise v
        elif isinstance(a, Array):
            for v in a.flat():
                if isinstance(v, float):
                    out.append(v)
                elif isinstance(v, XLError):
                    raise v
        elif a is OMITTED or a is None:
            out.append(0.0)
        else:
            n = V.to_number(a)
            if isinstance(n, XLError):
                raise n
            out.append(n)
    return out


class _Deferred:
    """An error found while collecting aggregate arguments, raised in argument order."""

    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


def invoke(spec: FunctionSpec, cx, args: list):
    """Call a registered function on evaluated arguments (thunks for LAZY kinds)."""
    n = len(args)
    if n < spec.min_args or n > spec.max_args:
        return V.VALUE
    conv: list = []
    broadcast = None          # list of positions holding arrays to broadcast
    for i, a in enumerate(args):
        kind = spec.kind(i)
        if kind in SCALAR_KINDS:
            if a is OMITTED:
                a = None
            elif isinstance(a, (Range, RefList)):
                a = cx.ev.deref(a, cx)
            if isinstance(a, Array):
                if a.nrows == 1 and a.ncols == 1:
                    a = a.rows[0][0]
                else:
                    broadcast = (broadcast or []) + [i]
                    conv.append(a)
                    continue
            conv.append(a)
        elif kind in COLLECTING:
            rest = [None if x is OMITTED else x for x in args[i:]]
            if kind == NUMBERS:
                try:
                    conv.append(_flatten_numbers(cx, rest))
                except XLError as e:
                    conv.append(_Deferred(e))   # reported after earlier arguments' errors
            else:
                conv.append(rest)
            break
        elif kind == REF:
            if isinstance(a, (Range, RefList)):
                conv.append(a)
            elif isinstance(a, XLError):
                return a
            elif a is OMITTED:
                conv.append(None)
            else:
                return V.VALUE
        elif kind == ARRAY:
            if a is OMITTED:
                conv.append(None)
            elif isinstance(a, (Range, RefList)):
                conv.append(cx.ev.ref_array(a))
            elif isinstance(a, Array):
                conv.append(a)
            else:
                conv.append(Array([[a]]))
        else:  # RAW, LAZY
            conv.append(None if a is OMITTED else a)
    if broadcast is None:
        # Excel reads arguments left to right: the first one that fails decides the error
        for i, a in enumerate(conv):
            kind = spec.kind(i)
            if kind in COLLECTING:
                if isinstance(a, _Deferred):
                    return a.error
                break
            if kind in SCALAR_KINDS and kind != ANY:
                c = _coerce(kind, a) if kind != SCALAR else a
                if isinstance(c, XLError):
                    return c
                conv[i] = c
        return _call(spec, cx, conv)
    for a in conv:
        if isinstance(a, _Deferred):
            return a.error
    # broadcasting: the result is an array as large as the largest argument
    nr = max(conv[i].nrows for i in broadcast)
    nc = max(conv[i].ncols for i in broadcast)
    rows = []
    for r in range(nr):
        row = []
        for c in range(nc):
            el = list(conv)
            err = None
            for i in range(len(el)):
                kind = spec.kind(i)
                if kind in COLLECTING:
                    break
                if kind not in SCALAR_KINDS:
                    continue
                x = el[i]
                if i in broadcast:
                    x = x.get(r, c)
                if isinstance(x, XLError) and kind != ANY:
                    err = x
                    break
                x = _coerce(kind, x) if kind not in (SCALAR, ANY) else x
                if isinstance(x, XLError) and kind != ANY:
                    err = x
                    break
                el[i] = x
            if err is not None:
                row.append(err)
                continue
            res = _call(spec, cx, el)
            if isinstance(res, Array):
                res = res.rows[0][0] if res.rows else V.NA
            elif isinstance(res, (Range, RefList)):
                res = cx.ev.deref(res, Context(cx.ev, cx.sheet, cx.row, cx.col, False))
            row.append(res)
        rows.append(row)
    return Array(rows)


def lookup(name: str) -> FunctionSpec | None:
    return REGISTRY.get(name.upper())
