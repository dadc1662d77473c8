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

`invoke` runs every call. Most calls get plain numbers, text, logicals, blanks or errors
(or one-cell references to them): a fast path, planned once per function and argument
count, converts those inline; anything else (arrays to broadcast, REF/ARRAY parameters, a
wrong argument count) takes the general path. Both give the same results.
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
    # at the top of a legacy array formula filling a larger range, the array argument is
    # read at every cell of the range (see invoke_filling)
    fills_range: bool = False
    # per argument count: invoke's fast-path plan (see _plan), or False (general path only)
    plans: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def kind(self, i: int) -> str:
        return self.kinds[i] if i < len(self.kinds) else self.kinds[-1] if self.kinds else RAW


REGISTRY: dict[str, FunctionSpec] = {}


def param_counts(fn: Callable, skip: int = 0) -> tuple[int, float]:
    """(required, maximum) number of arguments fn takes after its first `skip` parameters
    (maximum inf with *args). A plain function's code object answers directly: about 450
    functions register at start-up and inspect.signature costs ~10 us each; anything else
    (wrappers, keyword-only parameters, a *args taken by `skip`) goes through inspect."""
    code = fn.__code__ if inspect.isfunction(fn) else None     # not a bound method
    if (code is not None and code.co_argcount >= skip and not code.co_kwonlyargcount
            and not code.co_flags & inspect.CO_VARKEYWORDS
            and not hasattr(fn, "__wrapped__") and not hasattr(fn, "__signature__")):
        n = code.co_argcount
        required = n - len(getattr(fn, "__defaults__", None) or ())
        most: float = math.inf if code.co_flags & inspect.CO_VARARGS else n - skip
        return max(required - skip, 0), most
    lo, hi = 0, 0
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
        if p.kind == p.VAR_POSITIONAL:
            hi = math.inf
        elif p.default is p.empty:
            lo += 1
            hi += 1
        else:
            hi += 1
    return lo, hi


def xl(name: str, *kinds: str, ctx: bool = False, volatile: bool = False,
       category: str = "", aliases: tuple[str, ...] = (), dynamic_ref: bool = False,
       fills_range: bool = False):
    """Register an Excel function implemented natively."""

    def deco(fn: Callable) -> Callable:
        min_args, max_args = param_counts(fn, 1 if ctx else 0)
        if kinds and kinds[-1] in COLLECTING:
            max_args = math.inf
            min_args = max(min_args - 1, 0) + (1 if min_args >= len(kinds) else 0)
        cat = category or fn.__module__.rsplit(".", 1)[-1]
        spec = FunctionSpec(name.upper(), fn, tuple(kinds), min_args, max_args, ctx, volatile,
                            cat, dynamic_ref=dynamic_ref, fills_range=fills_range)
        for n in (name, *aliases):
            REGISTRY[n.upper()] = spec
        return fn

    return deco


class Context:
    """Where a formula is being evaluated: the engine, sheet index, row, column, and whether
    the formula is an array formula (ranges expand instead of intersecting), and the
    cell's own number constants when its formula is one of a family of formulas that
    differ only in their numbers (one closure serves the family; see Engine._family_shape):
    the i-th is k[k0 + i], `k` being the family's flat array of every member's numbers
    (no tuple made per cell evaluated) or a sequence of this cell's numbers alone (k0 0)."""

    __slots__ = ("ev", "sheet", "row", "col", "array_mode", "env", "_twin", "k", "k0")

    def __init__(self, ev, sheet: int, row: int, col: int, array_mode: bool = False,
                 env: dict | None = None, k=None, k0: int = 0):
        self.ev = ev
        self.sheet = sheet
        self.row = row
        self.col = col
        self.array_mode = array_mode
        self.env = env          # LET / LAMBDA variables
        self._twin = None
        self.k = k
        self.k0 = k0

    def as_array(self) -> "Context":
        """The same position in array mode (arguments of array-typed parameters)."""
        if self.array_mode:
            return self
        if self._twin is None:
            self._twin = Context(self.ev, self.sheet, self.row, self.col, True, self.env,
                                 self.k, self.k0)
        return self._twin

    def with_env(self, env: dict) -> "Context":
        return Context(self.ev, self.sheet, self.row, self.col, self.array_mode, env, self.k,
                       self.k0)


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
    """Run the function body on converted arguments; exceptions become Excel errors."""
    try:
        result = spec.fn(cx, *args) if spec.ctx else spec.fn(*args)
    except Exception as e:  # noqa: BLE001 - mapped to an Excel error by _failed
        return _failed(spec, cx, e)
    if type(result) is float:
        # the usual result, checked inline: inf - inf and nan - nan are nan, not 0.0
        return result if result - result == 0.0 else V.NUM
    return _finish(result)


def _failed(spec: FunctionSpec, cx, e: Exception):
    """The Excel error for an exception raised by a function body (NeedCell propagates:
    the engine computes the missing cell and evaluates the formula again)."""
    if isinstance(e, XLError):
        return e
    if isinstance(e, ZeroDivisionError):
        return V.DIV0
    if isinstance(e, (ValueError, OverflowError, RecursionError)):
        return V.NUM
    from ..evaluator.engine import NeedCell
    if isinstance(e, NeedCell):
        raise e
    # a bug in one function must not stop the run
    ev = getattr(cx, "ev", None)
    if ev is not None:
        msg = f"{spec.name} failed internally ({type(e).__name__}); cell gets #VALUE!"
        if msg not in ev.report.warnings:
            ev.report.warnings.append(msg)
    return V.VALUE


_FLOAT = {float}
_FLOAT_OR_BLANK = {float, type(None)}


def as_array(cx, a) -> Array:
    """An ARRAY argument's value: a reference's values, an array as it is, a scalar (an
    error value included) as a 1x1 array."""
    if isinstance(a, (Range, RefList)):
        return cx.ev.ref_array(a)
    if isinstance(a, Array):
        return a
    return Array([[a]])


def _flatten_numbers(cx, args: list):
    """Excel's aggregate argument rule (SUM, AVERAGE, MAX...)."""
    ev = cx.ev
    out: list[float] = []
    for a in args:
        if type(a) is float:      # the common case first
            out.append(a)
        elif type(a) is Range and a.r1 == a.r2 and a.c1 == a.c2:
            # one cell: read it directly (iter_ref_values would set up a generator)
            v = ev.value_at(a.sheet, a.r1, a.c1)
            if isinstance(v, float):
                out.append(v)
            elif isinstance(v, XLError):
                raise v
        elif isinstance(a, (Range, RefList)):
            vals = ev.dense_values(a) if type(a) is Range else None
            if vals is not None:
                # a range's values read at once: only numbers and blanks is the usual case
                kinds = set(map(type, vals))
                if kinds == _FLOAT:
                    out += vals
                    continue
                if kinds <= _FLOAT_OR_BLANK:
                    out += [v for v in vals if v is not None]
                    continue
            for v in ev.iter_ref_values(a) if vals is None else vals:
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


_CANONICAL = {k: k for k in (NUMBER, INT, TEXT, BOOL, SCALAR, ANY, REF, ARRAY, RAW, LAZY,
                              NUMBERS, VALUES)}


def _plan(spec: FunctionSpec, n: int):
    """What invoke's fast path needs for a call with n arguments: the kinds of the leading
    positions, the collecting kind (NUMBERS/VALUES) that takes the rest or None, and the
    number of leading positions. False when only the general path applies (a wrong
    argument count, or a REF/ARRAY parameter). Kinds are the module's own string objects,
    so the fast path compares them with `is`."""
    if n < spec.min_args or n > spec.max_args:
        return False
    lead: list[str] = []
    for i in range(n):
        k = _CANONICAL.get(spec.kind(i))
        if k is None or k is REF or k is ARRAY:
            return False
        if k in COLLECTING:
            return tuple(lead), k, len(lead)
        lead.append(k)
    return tuple(lead), None, len(lead)


def invoke(spec: FunctionSpec, cx, args: list):
    """Call a registered function on evaluated arguments (thunks for LAZY kinds)."""
    plan = spec.plans.get(len(args))
    if plan is None:
        plan = spec.plans[len(args)] = _plan(spec, len(args))
    if plan is not False:
        # Fast path for the usual call: every scalar argument is (or dereferences to) a
        # plain float/str/bool/blank or an error, so nothing broadcasts. It converts
        # exactly as the general path does, and reports the first error in argument order
        # (then the aggregate's own error). Anything else (an array, a 1x1 array to
        # unwrap, an unusual type) goes to the general path; the work done so far is only
        # reading cells, which the general path repeats with the same result.
        lead, tail, nlead = plan
        conv = []
        err = None
        for k, a in zip(lead, args):
            if k is RAW or k is LAZY:
                conv.append(None if a is OMITTED else a)
                continue
            t = type(a)
            if t is Range:
                if a.r1 == a.r2 and a.c1 == a.c2:     # one cell, the usual reference
                    a = cx.ev.value_at(a.sheet, a.r1, a.c1)
                else:
                    a = cx.ev.deref(a, cx)
                t = type(a)
            elif t is RefList:
                a = cx.ev.deref(a, cx)
                t = type(a)
            elif a is OMITTED:
                a = None
            if t is float:
                if k is INT:        # _coerce(INT, a) inline: int() truncates towards zero
                    a = int(a) if a - a == 0.0 else V.NUM
                elif k is not NUMBER and k is not SCALAR and k is not ANY:
                    a = _coerce(k, a)
            elif t is str or t is bool or a is None:
                if k is not SCALAR and k is not ANY:
                    a = _coerce(k, a)
            elif t is not XLError:
                break
            if err is None and k is not ANY and type(a) is XLError:
                err = a     # later arguments are still read: one may be an array
            conv.append(a)
        else:
            if tail is NUMBERS:
                try:
                    conv.append(_flatten_numbers(cx, args[nlead:]))
                except XLError as e:
                    if err is None:
                        err = e
            elif tail is VALUES:
                conv.append([None if x is OMITTED else x for x in args[nlead:]])
            if err is not None:
                return err
            # _call inline (one call less per function call)
            try:
                result = spec.fn(cx, *conv) if spec.ctx else spec.fn(*conv)
            except Exception as e:  # noqa: BLE001 - mapped to an Excel error by _failed
                return _failed(spec, cx, e)
            if type(result) is float:
                return result if result - result == 0.0 else V.NUM
            return _finish(result)
    return _invoke_general(spec, cx, args)


def invoke_filling(spec: FunctionSpec, cx, args: list):
    """invoke for the top-level call of an array formula, for functions declared with
    fills_range. In a legacy array formula that fills a range larger than the array
    argument of such a function, Excel reads the argument at every cell of the range, #N/A
    beyond its end: {=ISNA(A1:A3)} entered in four cells gives TRUE in the fourth, where
    padding the result gives #N/A (Excel-saved: formulas' test.xlsx, INFORMATION!AW12;
    the same file shows ERROR.TYPE, SUMIF and XLOOKUP padding their results instead)."""
    if cx.array_mode:
        size = cx.ev.legacy_array_size(cx)
        if size is not None:
            return _invoke_general(spec, cx, args, size)
    return invoke(spec, cx, args)


def _invoke_general(spec: FunctionSpec, cx, args: list, fill: tuple[int, int] | None = None):
    """invoke for every case: arrays broadcast over scalar parameters, REF and ARRAY
    parameters, wrong argument counts. `fill`: the (rows, columns) the broadcast result
    covers at least (see invoke_filling)."""
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
            conv.append(None if a is OMITTED else as_array(cx, a))
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
    if fill is not None:
        nr, nc = max(nr, fill[0]), max(nc, fill[1])
    if V.too_large(nr, nc):
        return V.NUM
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
