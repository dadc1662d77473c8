"""Excel's Math & Trig functions: sums and products, the *IF(S) conditional aggregates,
rounding, powers and logarithms, trigonometry, combinatorics, SUBTOTAL/AGGREGATE, matrix
functions and number-system conversions.

Rounding works on the decimal number at 15 significant digits, as Excel does, so ROUND(2.675,
2) is 2.68 although the binary double is slightly below 2.675 (see `_decimal_round`).
"""
from __future__ import annotations

import math
import random
import re
from functools import lru_cache

from .. import values as V
from ..evaluator.engine import PENDING, NeedCell
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from . import statistical as S
from .criteria import GroupIndex, Unindexable, criterion_key, make_criterion
from .datetime import atp
from .lookup import _CACHE_MAX_CELLS, _percentof, calc_cache
from .registry import (ANY, ARRAY, BOOL, INT, NUMBER, NUMBERS, RAW, REF, SCALAR, TEXT, VALUES,
                       xl)

_TRIG_LIMIT = 134217728.0          # 2**27: Excel's SIN/COS/TAN give #NUM! from here on
_MAX_EXACT = 9007199254740992.0    # 2**53


def _r15(x: float) -> float:
    return V.round15(x)


# =========================================================================================
# sums and products
# =========================================================================================

@xl("SUM", NUMBERS)
def SUM(xs):
    total = 0.0
    for x in xs:
        total += x
    return total


@xl("PERCENTOF", ARRAY, ARRAY)
def PERCENTOF(data_subset, data_all):
    """SUM(data_subset) / SUM(data_all), as Microsoft documents it (GROUPBY and PIVOTBY
    take it as their aggregate too, see lookup._percentof)."""
    return _percentof(data_subset, data_all)


@xl("SUMSQ", NUMBERS)
def SUMSQ(xs):
    return S.total(x * x for x in xs)


@xl("PRODUCT", NUMBERS)
def PRODUCT(xs):
    if not xs:
        return 0.0
    p = 1.0
    for x in xs:
        p *= x
    return p


@xl("SUMPRODUCT", ARRAY)
def SUMPRODUCT(*arrays):
    # errors come before the size check; text that reads as a number is #VALUE!, other
    # non-numbers count as 0
    flats = [list(a.flat()) for a in arrays]
    seen: dict[str, bool] = {}
    for fl in flats:
        for v in fl:
            if type(v) is not float:
                if isinstance(v, XLError):
                    raise v
                if isinstance(v, str):
                    numeric = seen.get(v)
                    if numeric is None:
                        numeric = seen[v] = V.text_to_number(v) is not None
                    if numeric:
                        raise V.VALUE
    first = arrays[0]
    nr, nc = first.nrows, first.ncols
    for a in arrays:
        if a.nrows != nr or a.ncols != nc:
            raise V.VALUE
    total = 0.0
    if len(flats) == 1:
        for v in flats[0]:
            if type(v) is float:
                total += v
        return total
    for vals in zip(*flats):
        p = 1.0
        for v in vals:
            if type(v) is float:
                p *= v
            else:
                p = 0.0
                break
        total += p
    return total


def _pair_values(a: Array, b: Array):
    """Pairs of numbers of two same-size arrays; none at all is #DIV/0!."""
    xs, ys = S.paired(a, b)
    if not xs:
        raise V.DIV0
    return list(zip(xs, ys))


@xl("SUMX2MY2", ARRAY, ARRAY)
def SUMX2MY2(a, b):
    return S.total(x * x - y * y for x, y in _pair_values(a, b))


@xl("SUMX2PY2", ARRAY, ARRAY)
def SUMX2PY2(a, b):
    return S.total(x * x + y * y for x, y in _pair_values(a, b))


@xl("SUMXMY2", ARRAY, ARRAY)
def SUMXMY2(a, b):
    return S.total((x - y) ** 2 for x, y in _pair_values(a, b))


@atp("SERIESSUM", SCALAR, SCALAR, SCALAR, ARRAY)
def SERIESSUM(x, n, m, coefs):
    x, n, m = _atp_value(x), _atp_value(n), _atp_value(m)
    total = []
    i = 0
    for c in coefs.flat():
        if isinstance(c, XLError):
            raise c
        if not isinstance(c, float):
            raise V.VALUE
        p = n + i * m
        if x == 0 and p <= 0:
            if p == 0:
                raise V.NUM
            raise V.DIV0
        total.append(c * x ** p)
        i += 1
    return S.total(total)


# =========================================================================================
# Analysis ToolPak functions (MROUND, SQRTPI, GCD...): their number arguments reject
# TRUE/FALSE with #VALUE!. The single-value ones are registered with `atp`: a multi-cell
# reference is #VALUE! in an array formula (implicitly intersected in an ordinary one),
# while a computed array or array constant is lifted elementwise (MROUND(--A1:A3,2)).
# =========================================================================================

def _atp_value(v):
    if isinstance(v, XLError):
        raise v
    if isinstance(v, bool):
        raise V.VALUE
    if v is None:
        return 0.0
    if isinstance(v, str):
        n = V.text_to_number(v) if v else None
        if n is None:
            raise V.VALUE
        return n
    return float(v)


def atp_number(cx, v) -> float:
    if isinstance(v, RefList):
        if len(v.areas) != 1:
            raise V.VALUE
        v = v.areas[0]
    if isinstance(v, Range):
        if not v.is_cell:
            raise V.VALUE
        v = cx.ev.value_at(v.sheet, v.r1, v.c1)
    elif isinstance(v, Array):
        if v.nrows != 1 or v.ncols != 1:
            raise V.VALUE
        v = v.rows[0][0]
    return _atp_value(v)


def atp_numbers(cx, args) -> list[float]:
    """The numbers of GCD/LCM/MULTINOMIAL: blanks inside references are skipped, text and
    booleans anywhere are #VALUE!, an empty argument (LCM(24,)) is the number 0 as in every
    Excel function but ADDRESS."""
    out = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            for v in cx.ev.iter_ref_values(a):
                if isinstance(v, float):
                    out.append(v)
                elif isinstance(v, XLError):
                    raise v
                else:
                    raise V.VALUE
        elif isinstance(a, Array):
            for v in a.flat():
                if v is not None:
                    out.append(_atp_value(v))
        else:       # a typed value; None is an empty argument: 0
            out.append(_atp_value(a))
    return out


# =========================================================================================
# conditional aggregates
# =========================================================================================

def _area(ref) -> Range:
    if isinstance(ref, RefList):
        if len(ref.areas) != 1:
            raise V.VALUE
        ref = ref.areas[0]
    if not isinstance(ref, Range):
        raise V.VALUE
    return ref


_OPS = ("<>", ">=", "<=", "=", ">", "<")
_EQUAL_OK = {"=": True, "<>": False, ">": False, ">=": True, "<": False, "<=": True}


def _numeric_criterion(crit):
    """(operator, number) when a criterion compares with a number, else None."""
    if isinstance(crit, float):
        return "=", crit
    if isinstance(crit, str):
        op, rest = "=", crit
        for o in _OPS:
            if crit.startswith(o):
                op, rest = o, crit[len(o):]
                break
        if rest and rest.upper() not in V.ERRORS:
            n = V.text_to_number(rest)
            if isinstance(n, float):
                return op, n
    return None


def _matcher(crit):
    """make_criterion's predicate, with a fast path for numbers against a numeric criterion:
    when two numbers differ by more than 1e-13 relative, comparing them at 15 significant
    digits cannot change the outcome, so the plain comparison decides."""
    pred = make_criterion(crit)
    num = _numeric_criterion(crit)
    if num is None:
        return pred
    op, n = num
    an = abs(n)
    eq = _EQUAL_OK[op]
    if op == "=":
        def decide(d):
            return False
    elif op == "<>":
        def decide(d):
            return True
    elif op in (">", ">="):
        def decide(d):
            return d > 0
    else:
        def decide(d):
            return d < 0

    def match(v):
        if type(v) is float:
            if v == n:
                return eq
            d = v - n
            if abs(d) > 1e-13 * max(abs(v), an):
                return decide(d)
        return pred(v)
    return match


_NUMPY_MIN = 256           # fewer values are tested one by one as fast


def _numeric_matches(crit, vals: list) -> list[int] | None:
    """The positions in `vals` that a numeric criterion (">500", 3.5, "<>0") matches, when
    every value is a number: the comparisons made with numpy at once, by _matcher's rule
    (an equal number gives the operator's equal case; a number within 1e-13 relative of the
    criterion goes to the predicate, compared at 15 digits; any other is decided by the
    plain comparison). None where this does not apply."""
    if len(vals) < _NUMPY_MIN:
        return None
    num = _numeric_criterion(crit)
    if num is None or set(map(type, vals)) != {float}:
        return None
    import numpy as np
    op, n = num
    arr = np.array(vals, dtype=np.float64)
    d = arr - n
    if op == "=":
        hit = np.zeros(len(vals), dtype=bool)
    elif op == "<>":
        hit = np.ones(len(vals), dtype=bool)
    elif op in (">", ">="):
        hit = d > 0
    else:
        hit = d < 0
    exact = arr == n
    hit[exact] = _EQUAL_OK[op]
    near = (np.abs(d) <= 1e-13 * np.maximum(np.abs(arr), abs(n))) & ~exact
    if near.any():
        m = _matcher_of(crit)
        for i in np.flatnonzero(near).tolist():
            hit[i] = m(vals[i])
    return np.flatnonzero(hit).tolist()


@lru_cache(maxsize=4096, typed=True)
def _cached_matcher(crit):
    return _matcher(crit)


def _matcher_of(crit):
    """_matcher, built once per distinct scalar criterion (the predicates are pure)."""
    if crit is None or type(crit) in (str, float, bool):
        return _cached_matcher(crit)
    return _matcher(crit)


def _plain_text(crit):
    """The lower-cased text of a criterion that is a plain text equality ("apples",
    "=apples": no wildcard, not a number, boolean or error), else None."""
    if not isinstance(crit, str):
        return None
    return _plain_text_str(crit)


@lru_cache(maxsize=4096)
def _plain_text_str(crit: str):
    t = crit[1:] if crit.startswith("=") and not crit.startswith(("=<", "=>", "==")) else crit
    if not t or t.startswith(("<", ">", "=")) or any(ch in t for ch in "*?~"):
        return None
    if t.upper() in V.ERRORS or t.lower() in ("true", "false") or V.text_to_number(t) is not None:
        return None
    return t.lower()


def _flat_values(ev, rng: Range, nr: int, nc: int) -> list:
    """The values of the nr x nc block at rng's top-left, row by row (blank cells None)."""
    get = ev.cells[rng.sheet].get
    r1, c1 = rng.r1, rng.c1
    if nc == 1:
        vals = [get((r, c1)) for r in range(r1, r1 + nr)]
    else:
        vals = [get((r, c)) for r in range(r1, r1 + nr) for c in range(c1, c1 + nc)]
    if PENDING in vals:
        i = vals.index(PENDING)
        raise NeedCell((rng.sheet, r1 + i // nc, c1 + i % nc))
    return vals


def _values_at(ev, rng: Range, idx: list, nc: int) -> list:
    """The values at positions idx of the block at rng's top-left (as _value_at, at once)."""
    get = ev.cells[rng.sheet].get
    r1, c1 = rng.r1, rng.c1
    if nc == 1:
        vals = [get((r1 + i, c1)) for i in idx]
    else:
        vals = [get((r1 + i // nc, c1 + i % nc)) for i in idx]
    if PENDING in vals:
        i = idx[vals.index(PENDING)]
        raise NeedCell((rng.sheet, r1 + i // nc, c1 + i % nc))
    return vals


def _value_at(ev, rng: Range, i: int, nc: int):
    r, c = rng.r1 + i // nc, rng.c1 + i % nc
    v = ev.cells[rng.sheet].get((r, c))
    if v is PENDING:
        raise NeedCell((rng.sheet, r, c))
    return v


_INDEX_MIN_CELLS = 64       # a smaller range is scanned as fast as it is indexed


def _indexed_positions(ev, areas, pairs, matchers, nr: int, nc: int):
    """(The positions matched by every pair, the group's key when they are a whole group of
    the index, else None) from the grouped index (criteria.GroupIndex) of the ranges whose
    criteria are equalities; the other criteria, and numeric keys over ranges holding
    numeric text, are tested on those positions only. (None, None) when there is no index:
    the first call over some ranges scans, the second builds the index, which serves the
    rest of the calculation. A range with a cell still pending is never indexed."""
    keys = [criterion_key(c) for _, c in pairs]
    sel = [i for i, k in enumerate(keys) if k is not None]
    if not sel or nr * nc < _INDEX_MIN_CELLS:
        return None, None
    cache = calc_cache(ev)
    if cache is None:
        return None, None
    ck = ("ifs", nr, nc) + tuple((areas[i].sheet, areas[i].r1, areas[i].c1) for i in sel)
    ent = cache.get(ck)
    if not isinstance(ent, GroupIndex):
        size = nr * nc * len(sel)
        if ent is None or ent is False or cache["#cells"] + size > _CACHE_MAX_CELLS:
            if ent is None:
                cache[ck] = True        # seen once: index it if it is asked again
            return None, None
        try:
            ent = GroupIndex([_flat_values(ev, areas[i], nr, nc) for i in sel])
        except NeedCell:
            return None, None           # not computed yet: the scan reads (and waits)
        except Unindexable:
            cache[ck] = False
            return None, None
        cache[ck] = ent
        cache["#cells"] += size
    gkey = tuple(keys[i] for i in sel)
    idx = ent.positions(gkey)
    whole = idx
    for j, i in enumerate(sel):
        if ent.numtext[j] and keys[i][0] == "n" and idx:
            # text that reads as a number matches only an exactly equal number
            a, m = areas[i], matchers[i]
            idx = [p for p in idx if m(_value_at(ev, a, p, nc))]
    for i, k in enumerate(keys):
        if k is None and idx:
            a, m = areas[i], matchers[i]
            idx = [p for p in idx if m(_value_at(ev, a, p, nc))]
    return idx, (ck, gkey) if idx is whole else None


def _target_values(ev, target: Range, idx: list, nc: int, group) -> list:
    """_values_at, kept per (target, whole index group) for the calculation: a copied-down
    SUMIFS asks the same few groups over and over."""
    cache = calc_cache(ev) if group is not None else None
    if cache is None:
        return _values_at(ev, target, idx, nc)
    key = ("ifs-target", target.sheet, target.r1, target.c1, group)
    tvals = cache.get(key)
    if tvals is None:
        tvals = cache[key] = _GroupValues(_values_at(ev, target, idx, nc))   # all computed
        cache["#cells"] += len(tvals)
    return tvals


def _conditional(ev, pairs, target: Range | None, resize: bool):
    """The cells matched by every (range, criterion) pair: (the target's values at the
    matched positions, or None without a target; the number matched; the number of cells
    beyond the sheet's used area that match, since all criteria accept blanks there).
    resize: the target takes the first range's shape from its own top-left (SUMIF)."""
    areas = [_area(r) for r, _ in pairs]
    a0 = areas[0]
    full_r, full_c = a0.nrows, a0.ncols
    if not resize:
        for a in areas[1:]:
            if a.nrows != full_r or a.ncols != full_c:
                raise V.VALUE
        if target is not None and (target.nrows != full_r or target.ncols != full_c):
            raise V.VALUE
    # whole columns/rows are read only as far as the largest used area reaches
    nr = nc = 0
    for a in areas:
        r1, c1, r2, c2 = ev._trim(a)
        nr = max(nr, r2 - r1 + 1)
        nc = max(nc, c2 - c1 + 1)
    nr, nc = min(nr, full_r), min(nc, full_c)
    matchers = [_matcher_of(c) for _, c in pairs]
    # the same ranges asked again and again: their grouped index answers (fast path)
    idx, group = _indexed_positions(ev, areas, pairs, matchers, nr, nc)
    if idx is None:                 # the general path: test the cells
        for a, m, (_, crit) in zip(areas, matchers, pairs):
            if idx is None:
                vals = _flat_values(ev, a, nr, nc)
                low = _plain_text(crit)
                if low is not None:     # the common case, without a call per cell
                    idx = [i for i, v in enumerate(vals)
                           if type(v) is str and v.lower() == low]
                else:
                    idx = _numeric_matches(crit, vals)
                    if idx is None:
                        idx = [i for i, v in enumerate(vals) if m(v)]
            else:
                idx = [i for i in idx if m(_value_at(ev, a, i, nc))]
            if not idx:
                break
    outside = full_r * full_c - nr * nc
    if outside and not all(m(None) for m in matchers):
        outside = 0
    tvals = None
    if target is not None:
        tvals = _target_values(ev, target, idx, nc, group)
    return tvals, len(idx), outside


class _GroupValues(list):
    """A target's values at a whole index group, kept for the calculation (_target_values),
    with their numbers and sum once asked: the SUMIFS copied down a column ask the same
    few groups over and over. Never modified once made."""

    __slots__ = ("numbers", "sum")

    def __init__(self, vals: list):
        super().__init__(vals)
        self.numbers = None         # _numbers_of(self), or the error it raises
        self.sum = None


def _numbers_of(tvals) -> list:
    out = []
    for v in tvals:
        if type(v) is float:
            out.append(v)
        elif isinstance(v, XLError):
            raise v
    return out


def _matched_numbers(tvals) -> list:
    """The numbers among the matched values (not to be modified); their first error
    raised."""
    if type(tvals) is not _GroupValues:
        return _numbers_of(tvals)
    got = tvals.numbers
    if got is None:
        try:
            got = _numbers_of(tvals)
        except XLError as e:
            got = e
        tvals.numbers = got
    if isinstance(got, XLError):
        raise got
    return got


def _matched_sum(tvals) -> float:
    """S.total of _matched_numbers, kept with a whole group's values."""
    if type(tvals) is not _GroupValues:
        return S.total(_numbers_of(tvals))
    if tvals.sum is None:
        tvals.sum = S.total(_matched_numbers(tvals))
    return tvals.sum


def _criteria_pairs(args):
    if len(args) % 2:
        raise V.VALUE
    return [(args[i], args[i + 1]) for i in range(0, len(args), 2)]


_PAIR_KINDS = (REF, ANY) * 127


@xl("SUMIF", REF, ANY, REF, ctx=True)
def SUMIF(cx, rng, criterion, sum_range=None):
    target = _area(sum_range) if sum_range is not None else _area(rng)
    tvals, _, _ = _conditional(cx.ev, [(rng, criterion)], target, True)
    return _matched_sum(tvals)


@xl("SUMIFS", REF, *_PAIR_KINDS, ctx=True)
def SUMIFS(cx, sum_range, *args):
    if len(args) < 2:
        raise V.VALUE
    tvals, _, _ = _conditional(cx.ev, _criteria_pairs(args), _area(sum_range), False)
    return _matched_sum(tvals)


@xl("COUNTIF", REF, ANY, ctx=True)
def COUNTIF(cx, rng, criterion):
    _, matched, outside = _conditional(cx.ev, [(rng, criterion)], None, True)
    return float(matched + outside)


@xl("COUNTIFS", *_PAIR_KINDS, ctx=True)
def COUNTIFS(cx, *args):
    if len(args) < 2:
        raise V.VALUE
    _, matched, outside = _conditional(cx.ev, _criteria_pairs(args), None, False)
    return float(matched + outside)


@xl("AVERAGEIF", REF, ANY, REF, ctx=True)
def AVERAGEIF(cx, rng, criterion, avg_range=None):
    target = _area(avg_range) if avg_range is not None else _area(rng)
    tvals, _, _ = _conditional(cx.ev, [(rng, criterion)], target, True)
    xs = _matched_numbers(tvals)
    if not xs:
        raise V.DIV0
    return S.total(xs) / len(xs)


@xl("AVERAGEIFS", REF, *_PAIR_KINDS, ctx=True)
def AVERAGEIFS(cx, avg_range, *args):
    if len(args) < 2:
        raise V.VALUE
    tvals, _, _ = _conditional(cx.ev, _criteria_pairs(args), _area(avg_range), False)
    xs = _matched_numbers(tvals)
    if not xs:
        raise V.DIV0
    return S.total(xs) / len(xs)


@xl("MAXIFS", REF, *_PAIR_KINDS, ctx=True)
def MAXIFS(cx, max_range, *args):
    if len(args) < 2:
        raise V.VALUE
    tvals, _, _ = _conditional(cx.ev, _criteria_pairs(args), _area(max_range), False)
    xs = _matched_numbers(tvals)
    return max(xs) if xs else 0.0


@xl("MINIFS", REF, *_PAIR_KINDS, ctx=True)
def MINIFS(cx, min_range, *args):
    if len(args) < 2:
        raise V.VALUE
    tvals, _, _ = _conditional(cx.ev, _criteria_pairs(args), _area(min_range), False)
    xs = _matched_numbers(tvals)
    return min(xs) if xs else 0.0


# =========================================================================================
# rounding
# =========================================================================================

_POW10 = [10.0 ** k for k in range(16)]


def _decimal_round(x: float, digits: int, mode: str) -> float:
    """x rounded to `digits` decimals (negative: tens, hundreds...) the way Excel does it:
    the decimal number x shows at 15 significant digits is rounded, in decimal, half away
    from zero ("half"), away from zero ("up") or toward zero ("down"). So ROUND(2.675, 2)
    and ROUND(37.785, 2) are 2.68 and 37.79 although their doubles lie just below the half,
    ROUNDUP(1.1, 2) is 1.1 and ROUNDDOWN(4.35, 2) is 4.35 although 1.1 * 100 and 4.35 * 100
    come out just above and below an integer in binary (LibreOffice agrees on each; a
    computed 0.049999999999999975 rounds to 0.1 at one decimal, Excel-cached). Integer
    arithmetic on the 15 digits, exact; the result is the double nearest the decimal one."""
    if x == 0 or not math.isfinite(x):
        return x
    if digits < -400:
        # every double is below 1e309, so it rounds to 0 here, or away from zero to beyond
        # the largest double (#NUM!, as ROUNDUP(1, -309)); 10 ** -cut below would build an
        # integer of a billion digits for ROUND(1, -1E9)
        if mode == "up":
            raise V.NUM
        return 0.0
    if 0 <= digits <= 15:
        # fast path: x * 10**digits in binary is within ~6e-15 relative of the decimal
        # value scaled, so unless it lies within 1e-13 relative of where the rounding
        # turns (a half for ROUND, an integer for ROUNDUP/ROUNDDOWN) its floor/ceiling is
        # the decimal result's, and q / 10**digits is the double nearest to that
        ax = -x if x < 0 else x
        p = _POW10[digits]
        y = ax * p
        if y < 1e15:
            t = y + 0.5 if mode == "half" else y
            q = math.floor(t)
            gap = t - q
            m = 1e-13 * (y if y > 1.0 else 1.0)
            if m < gap < 1.0 - m:
                if mode == "up":
                    q += 1
                if q == 0:
                    return 0.0
                out = q / p
                return out if x > 0 else -out
    text = f"{x:.14e}"                              # '-3.03525000000000e+02'
    mant, exp = text.split("e")
    cut = int(exp) - 14 + digits        # x = M * 10**(exp - 14), M the 15-digit integer
    if cut >= 0:
        return float(text)              # no digit below the one asked for
    unit = 10 ** -cut
    q, rest = divmod(int(mant.replace(".", "").lstrip("-")), unit)
    if rest and (mode == "up" or (mode == "half" and 2 * rest >= unit)):
        q += 1
    if q == 0:
        return 0.0
    try:
        out = q / 10 ** digits if digits >= 0 else float(q * 10 ** -digits)
    except OverflowError:
        raise V.NUM from None            # ROUNDUP(1, -309): beyond the largest double
    return out if x > 0 else -out


@xl("ROUND", NUMBER, INT)
def ROUND(x, digits=0):
    return _decimal_round(x, digits, "half")


@xl("ROUNDUP", NUMBER, INT)
def ROUNDUP(x, digits=0):
    return _decimal_round(x, digits, "up")


@xl("ROUNDDOWN", NUMBER, INT)
def ROUNDDOWN(x, digits=0):
    return _decimal_round(x, digits, "down")


@xl("TRUNC", NUMBER, INT)
def TRUNC(x, digits=0):
    return _decimal_round(x, digits, "down")


@xl("INT", NUMBER)
def INT_(x):
    return float(math.floor(x))


@xl("ABS", NUMBER)
def ABS(x):
    return abs(x)


@xl("SIGN", NUMBER)
def SIGN(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _multiple(n: float, s: float, fn) -> float:
    """fn(n / s) * s with the quotient taken at 15 significant digits."""
    q = _r15(n / s)
    return _r15(fn(q) * s)


def _half_up(q: float) -> float:
    return math.floor(abs(q) + 0.5) * (1 if q >= 0 else -1)


@atp("MROUND", SCALAR, SCALAR)
def MROUND(n, m):
    n, m = _atp_value(n), _atp_value(m)
    if m == 0 or n == 0:
        return 0.0
    if (n > 0) != (m > 0):
        raise V.NUM
    return _multiple(n, m, _half_up)


@xl("CEILING", NUMBER, NUMBER)
def CEILING(n, s=None):
    if s is None:
        raise V.VALUE
    if n == 0 or s == 0:
        return 0.0
    if n > 0 and s < 0:
        raise V.NUM
    if n < 0 and s < 0:
        return -_multiple(-n, -s, math.ceil)
    return _multiple(n, s, math.ceil)


@xl("ECMA.CEILING", NUMBER, NUMBER)
def ECMA_CEILING(n, s):
    """CEILING as ECMA-376 defines it (Excel 2007's): also #NUM! for a negative number
    with a positive significance, which Excel 2010's CEILING rounds toward zero."""
    if n < 0 < s:
        raise V.NUM
    return CEILING(n, s)


@xl("FLOOR", NUMBER, NUMBER)
def FLOOR(n, s=None):
    if s is None:
        raise V.VALUE
    if s == 0:
        if n == 0:
            return 0.0
        raise V.DIV0
    if n > 0 and s < 0:
        raise V.NUM
    if n == 0:
        return 0.0
    if n < 0 and s < 0:
        return -_multiple(-n, -s, math.floor)
    return _multiple(n, s, math.floor)


@xl("CEILING.MATH", NUMBER, NUMBER, NUMBER)
def CEILING_MATH(n, s=None, mode=None):
    s = 1.0 if s is None else abs(s)
    if s == 0 or n == 0:
        return 0.0
    if n < 0 and mode:
        return -_multiple(-n, s, math.ceil)
    return _multiple(n, s, math.ceil)


@xl("FLOOR.MATH", NUMBER, NUMBER, NUMBER)
def FLOOR_MATH(n, s=None, mode=None):
    s = 1.0 if s is None else abs(s)
    if s == 0 or n == 0:
        return 0.0
    if n < 0 and mode:
        return -_multiple(-n, s, math.floor)
    return _multiple(n, s, math.floor)


@xl("CEILING.PRECISE", NUMBER, NUMBER, aliases=("ISO.CEILING",))
def CEILING_PRECISE(n, s=None):
    s = 1.0 if s is None else abs(s)
    if s == 0 or n == 0:
        return 0.0
    return _multiple(n, s, math.ceil)


@xl("FLOOR.PRECISE", NUMBER, NUMBER)
def FLOOR_PRECISE(n, s=None):
    s = 1.0 if s is None else abs(s)
    if s == 0 or n == 0:
        return 0.0
    return _multiple(n, s, math.floor)


@xl("EVEN", NUMBER)
def EVEN(x):
    k = math.ceil(abs(x))
    if k % 2:
        k += 1
    return float(k if x >= 0 else -k)


@xl("ODD", NUMBER)
def ODD(x):
    k = math.ceil(abs(x))
    if k % 2 == 0:
        k += 1
    return float(k if x >= 0 else -k)


# =========================================================================================
# arithmetic, powers, logarithms
# =========================================================================================

@xl("MOD", NUMBER, NUMBER)
def MOD(n, d):
    if d == 0:
        raise V.DIV0
    q = n / d
    if abs(q) >= 1e15:
        raise V.NUM
    r = n - d * math.floor(q)
    if r != 0 and abs(r) < 1e-15 * abs(n):
        return 0.0
    if (r < 0 < d) or (d < 0 < r):
        r += d
    return r


@atp("QUOTIENT", SCALAR, SCALAR)
def QUOTIENT(n, d):
    n, d = _atp_value(n), _atp_value(d)
    if d == 0:
        raise V.DIV0
    return float(math.trunc(n / d))


@xl("POWER", NUMBER, NUMBER)
def POWER(x, y):
    if x == 0:
        if y == 0:
            raise V.NUM
        if y < 0:
            raise V.DIV0
        return 0.0
    if x < 0 and y != math.floor(y):
        raise V.NUM
    return math.pow(x, y)


@xl("SQRT", NUMBER)
def SQRT(x):
    if x < 0:
        raise V.NUM
    return math.sqrt(x)


@atp("SQRTPI", SCALAR)
def SQRTPI(x):
    x = _atp_value(x)
    if x < 0:
        raise V.NUM
    return math.sqrt(x * math.pi)


@xl("EXP", NUMBER)
def EXP(x):
    return math.exp(x)


@xl("LN", NUMBER)
def LN(x):
    if x <= 0:
        raise V.NUM
    return math.log(x)


@xl("LOG", NUMBER, NUMBER)
def LOG(x, base=None):
    if base is None:
        base = 10.0
    if x <= 0 or base <= 0:
        raise V.NUM
    if base == 1:
        raise V.DIV0
    if base == 10:
        return math.log10(x)
    return math.log(x) / math.log(base)


@xl("LOG10", NUMBER)
def LOG10(x):
    if x <= 0:
        raise V.NUM
    return math.log10(x)


@xl("PI")
def PI():
    return math.pi


@xl("RADIANS", NUMBER)
def RADIANS(x):
    return x * math.pi / 180.0


@xl("DEGREES", NUMBER)
def DEGREES(x):
    return x * 180.0 / math.pi


# =========================================================================================
# trigonometry
# =========================================================================================

def _trig_arg(x):
    if abs(x) >= _TRIG_LIMIT:
        raise V.NUM
    return x


@xl("SIN", NUMBER)
def SIN(x):
    return math.sin(_trig_arg(x))


@xl("COS", NUMBER)
def COS(x):
    return math.cos(_trig_arg(x))


@xl("TAN", NUMBER)
def TAN(x):
    return math.tan(_trig_arg(x))


@xl("ASIN", NUMBER)
def ASIN(x):
    if abs(x) > 1:
        raise V.NUM
    return math.asin(x)


@xl("ACOS", NUMBER)
def ACOS(x):
    if abs(x) > 1:
        raise V.NUM
    return math.acos(x)


@xl("ATAN", NUMBER)
def ATAN(x):
    return math.atan(x)


@xl("ATAN2", NUMBER, NUMBER)
def ATAN2(x, y):
    if x == 0 and y == 0:
        raise V.DIV0
    return math.atan2(y, x)


@xl("SINH", NUMBER)
def SINH(x):
    return math.sinh(x)


@xl("COSH", NUMBER)
def COSH(x):
    return math.cosh(x)


@xl("TANH", NUMBER)
def TANH(x):
    return math.tanh(x)


@xl("ASINH", NUMBER)
def ASINH(x):
    return math.asinh(x)


@xl("ACOSH", NUMBER)
def ACOSH(x):
    if x < 1:
        raise V.NUM
    return math.acosh(x)


@xl("ATANH", NUMBER)
def ATANH(x):
    if abs(x) >= 1:
        raise V.NUM
    return math.atanh(x)


@xl("COT", NUMBER)
def COT(x):
    if x == 0:
        raise V.DIV0
    return 1.0 / math.tan(_trig_arg(x))


@xl("COTH", NUMBER)
def COTH(x):
    if x == 0:
        raise V.DIV0
    if abs(x) >= _TRIG_LIMIT:
        raise V.NUM
    return 1.0 / math.tanh(x)


@xl("CSC", NUMBER)
def CSC(x):
    if x == 0:
        raise V.DIV0
    return 1.0 / math.sin(_trig_arg(x))


@xl("CSCH", NUMBER)
def CSCH(x):
    if x == 0:
        raise V.DIV0
    if abs(x) >= _TRIG_LIMIT:
        raise V.NUM
    return 1.0 / math.sinh(x)


@xl("SEC", NUMBER)
def SEC(x):
    return 1.0 / math.cos(_trig_arg(x))


@xl("SECH", NUMBER)
def SECH(x):
    if abs(x) >= _TRIG_LIMIT:
        raise V.NUM
    if abs(x) > 710:
        return 0.0
    return 1.0 / math.cosh(x)


@xl("ACOT", NUMBER)
def ACOT(x):
    return math.pi / 2 - math.atan(x)


@xl("ACOTH", NUMBER)
def ACOTH(x):
    if abs(x) <= 1:
        raise V.NUM
    return 0.5 * math.log((x + 1) / (x - 1))


# =========================================================================================
# combinatorics
# =========================================================================================

def _big(n: int) -> float:
    try:
        return float(n)
    except OverflowError:
        raise V.NUM from None


@xl("FACT", NUMBER)
def FACT(x):
    if x < 0:
        raise V.NUM
    n = math.floor(x)
    if n > 170:
        raise V.NUM
    return float(math.factorial(n))


@atp("FACTDOUBLE", SCALAR)
def FACTDOUBLE(x):
    x = _atp_value(x)
    if x < -1:
        raise V.NUM
    n = math.floor(x)
    if n > 300:
        raise V.NUM
    p = 1
    while n > 1:
        p *= n
        n -= 2
    return _big(p)


def _comb(n: int, k: int) -> float:
    m = min(k, n - k)
    if m > 1100:
        raise V.NUM
    return _big(math.comb(n, k))


@xl("COMBIN", INT, INT)
def COMBIN(n, k):
    if n < 0 or k < 0 or n < k:
        raise V.NUM
    return _comb(n, k)


@xl("COMBINA", INT, INT)
def COMBINA(n, k):
    # Excel's documented constraints: number >= 0 and number >= number_chosen >= 0
    if n < 0 or k < 0 or n < k:
        raise V.NUM
    if k == 0:
        return 1.0
    return _comb(n + k - 1, k)


@xl("PERMUT", INT, INT)
def PERMUT(n, k):
    if n <= 0 or k < 0 or n < k:
        raise V.NUM
    if k > 400:
        raise V.NUM
    return _big(math.perm(n, k))


@xl("PERMUTATIONA", INT, INT)
def PERMUTATIONA(n, k):
    if n < 0 or k < 0:
        raise V.NUM
    return float(n) ** k


def _gcd_args(xs):
    out = []
    for x in xs:
        if x < 0 or x >= _MAX_EXACT:
            raise V.NUM
        out.append(int(x))
    return out


@xl("GCD", VALUES, ctx=True)
def GCD(cx, args):
    xs = atp_numbers(cx, args)
    return float(math.gcd(*_gcd_args(xs))) if xs else V.VALUE


@xl("LCM", VALUES, ctx=True)
def LCM(cx, args):
    ns = _gcd_args(atp_numbers(cx, args))
    if not ns:
        raise V.VALUE
    r = 1
    for n in ns:
        if n == 0:
            return 0.0
        r = r * n // math.gcd(r, n)
    return _big(r)


@xl("MULTINOMIAL", VALUES, ctx=True)
def MULTINOMIAL(cx, args):
    xs = atp_numbers(cx, args)
    if not xs:
        raise V.VALUE
    ns = []
    for x in xs:
        if x < 0:
            raise V.NUM
        ns.append(int(x))
    total = sum(ns)
    if total > 1000:
        raise V.NUM
    r = math.factorial(total)
    for n in ns:
        r //= math.factorial(n)
    return _big(r)


# =========================================================================================
# random numbers
# =========================================================================================

@xl("RAND", volatile=True)
def RAND():
    return random.random()


@xl("RANDBETWEEN", RAW, RAW, ctx=True, volatile=True)
def RANDBETWEEN(cx, lo, hi):
    lo, hi = atp_number(cx, lo), atp_number(cx, hi)
    a, b = math.ceil(lo), math.floor(hi)
    if a > b:
        raise V.NUM
    return float(random.randint(a, b))


@xl("RANDARRAY", INT, INT, NUMBER, NUMBER, BOOL, volatile=True)
def RANDARRAY(rows=None, cols=None, lo=None, hi=None, whole=None):
    rows = 1 if rows is None else rows
    cols = 1 if cols is None else cols
    lo = 0.0 if lo is None else lo
    hi = 1.0 if hi is None else hi
    if rows < 0 or cols < 0 or lo > hi:
        raise V.VALUE
    if rows == 0 or cols == 0:
        raise V.CALC
    if V.too_large(rows, cols):
        raise V.NUM
    if whole:
        if lo != math.floor(lo) or hi != math.floor(hi):
            raise V.VALUE
        return Array([[float(random.randint(int(lo), int(hi))) for _ in range(cols)]
                      for _ in range(rows)])
    return Array([[lo + (hi - lo) * random.random() for _ in range(cols)] for _ in range(rows)])


# =========================================================================================
# SUBTOTAL and AGGREGATE
# =========================================================================================

_NESTED_RE = re.compile(r"(?<![A-Z0-9_.])(?:_xlfn\.)?(?:SUBTOTAL|AGGREGATE)\s*\(", re.I)
_nested_cache: dict[str, bool] = {}


def _is_nested(fc) -> bool:
    if fc is None:
        return False
    t = fc.text
    r = _nested_cache.get(t)
    if r is None:
        r = _nested_cache[t] = _NESTED_RE.search(t) is not None
    return r


def _hidden_rows(ev, sheet: int, which: str):
    """The rows of a sheet the loader marked hidden (`hidden_rows`, filtered rows included)
    or hidden by a filter (`filtered_rows`), when it provides them."""
    sheets = ev.wb.sheets
    if 0 <= sheet < len(sheets):
        return getattr(sheets[sheet], which, None) or ()
    return ()


def _gather(cx, args, skip_nested: bool, skip_errors: bool, skip_rows: str | None = None) -> list:
    """Every non-blank value of the reference/array arguments, leaving out cells that hold a
    SUBTOTAL/AGGREGATE formula (when asked), error values (when asked) and the cells of
    hidden rows (skip_rows: 'hidden_rows' or 'filtered_rows')."""
    ev = cx.ev
    out = []
    for a in args:
        if isinstance(a, (Range, RefList)):
            for area in (a.areas if isinstance(a, RefList) else [a]):
                forms = ev.formulas[area.sheet]
                hidden = _hidden_rows(ev, area.sheet, skip_rows) if skip_rows else ()
                arr = ev.ref_array(area)
                for i, row in enumerate(arr.rows):
                    if hidden and area.r1 + i in hidden:
                        continue
                    for j, v in enumerate(row):
                        if v is None:
                            continue
                        if skip_nested and forms and _is_nested(forms.get((area.r1 + i, area.c1 + j))):
                            continue
                        if skip_errors and isinstance(v, XLError):
                            continue
                        out.append(v)
        elif isinstance(a, Array):
            for v in a.flat():
                if v is None or (skip_errors and isinstance(v, XLError)):
                    continue
                out.append(v)
        elif a is None:
            continue
        else:
            if skip_errors and isinstance(a, XLError):
                continue
            out.append(a)
    return out


def _numbers(vals) -> list[float]:
    out = []
    for v in vals:
        if isinstance(v, float):
            out.append(v)
        elif isinstance(v, XLError):
            raise v
    return out


def _apply(fn: int, vals: list):
    if fn == 2:
        return float(sum(1 for v in vals if isinstance(v, float)))
    if fn == 3:
        return float(len(vals))
    xs = _numbers(vals)
    if fn == 1:
        return S.mean(xs)
    if fn == 4:
        return max(xs) if xs else 0.0
    if fn == 5:
        return min(xs) if xs else 0.0
    if fn == 6:
        return PRODUCT(xs)
    if fn == 7:
        return math.sqrt(S.var_s(xs))
    if fn == 8:
        return math.sqrt(S.var_p(xs))
    if fn == 9:
        return S.total(xs)
    if fn == 10:
        return S.var_s(xs)
    if fn == 11:
        return S.var_p(xs)
    if fn == 12:
        return S.median(xs)
    if fn == 13:
        return S.mode_sngl(xs)
    raise V.VALUE


@xl("SUBTOTAL", INT, RAW, ctx=True)
def SUBTOTAL(cx, fn, *refs):
    if not refs:
        raise V.VALUE
    f = fn - 100 if fn > 100 else fn
    if f < 1 or f > 11:
        raise V.VALUE
    for r in refs:
        if isinstance(r, XLError):
            raise r
    # 1-11 leave out rows a filter hides, 101-111 every hidden row
    return _apply(f, _gather(cx, refs, True, False, "hidden_rows" if fn > 100 else "filtered_rows"))


@xl("AGGREGATE", INT, INT, RAW, ctx=True)
def AGGREGATE(cx, fn, options, *refs):
    if fn < 1 or fn > 19 or options < 0 or options > 7 or not refs:
        raise V.VALUE
    skip_nested = options <= 3
    skip_errors = options in (2, 3, 6, 7)
    skip_rows = "hidden_rows" if options in (1, 3, 5, 7) else None
    if fn <= 13:
        for r in refs:
            if isinstance(r, XLError):
                raise r
        return _apply(fn, _gather(cx, refs, skip_nested, skip_errors, skip_rows))
    if len(refs) < 2:
        raise V.VALUE
    data, k = refs[0], refs[1]
    if isinstance(data, XLError):
        raise data
    if isinstance(k, (Range, RefList)):
        k = cx.ev.deref(k, cx)
    if isinstance(k, Array):
        k = k.rows[0][0]
    k = V.to_number(k)
    if isinstance(k, XLError):
        raise k
    xs = _numbers(_gather(cx, [data], skip_nested, skip_errors, skip_rows))
    if fn == 14:
        return S.large(xs, k)
    if fn == 15:
        return S.small(xs, k)
    if fn == 16:
        return S.percentile_inc(xs, k)
    if fn == 17:
        return S.quartile_inc(xs, k)
    if fn == 18:
        return S.percentile_exc(xs, k)
    return S.quartile_exc(xs, k)


# AGGREGATE's data arguments are array-typed in Excel (AGGREGATE(15,6,A1:A9/(B1:B9="x"),1)):
# a hint for the compiler to evaluate them in array mode while keeping plain references.
from .registry import REGISTRY as _REGISTRY  # noqa: E402

_REGISTRY["AGGREGATE"].array_args = frozenset(range(2, 255))


# =========================================================================================
# matrices
# =========================================================================================

def _matrix(a: Array) -> list[list[float]]:
    out = []
    for row in a.rows:
        r = []
        for v in row:
            if isinstance(v, XLError):
                raise v
            if not isinstance(v, float):
                raise V.VALUE
            r.append(v)
        out.append(r)
    return out


@xl("MMULT", ARRAY, ARRAY)
def MMULT(a, b):
    A, B = _matrix(a), _matrix(b)
    if a.ncols != b.nrows:
        raise V.VALUE
    if V.too_large(a.nrows, b.ncols):
        raise V.NUM
    cols = list(zip(*B))
    return Array([[S.total(x * y for x, y in zip(row, col)) for col in cols] for row in A])


def _lu(A: list[list[float]]):
    """Gaussian elimination with partial pivoting: (det, inverse or None if singular)."""
    n = len(A)
    M = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(A)]
    det = 1.0
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(M[r][c]))
        if M[p][c] == 0:
            return 0.0, None
        if p != c:
            M[c], M[p] = M[p], M[c]
            det = -det
        piv = M[c][c]
        det *= piv
        inv = 1.0 / piv
        M[c] = [v * inv for v in M[c]]
        for r in range(n):
            if r != c:
                f = M[r][c]
                if f:
                    Mr, Mc = M[r], M[c]
                    M[r] = [x - f * y for x, y in zip(Mr, Mc)]
    return det, [row[n:] for row in M]


@xl("MDETERM", ARRAY)
def MDETERM(a):
    A = _matrix(a)
    if a.nrows != a.ncols:
        raise V.VALUE
    return _lu(A)[0]


@xl("MINVERSE", ARRAY)
def MINVERSE(a):
    A = _matrix(a)
    if a.nrows != a.ncols:
        raise V.VALUE
    det, inv = _lu(A)
    if inv is None or det == 0:
        raise V.NUM
    return Array(inv)


@xl("MUNIT", INT)
def MUNIT(n):
    if n < 1:
        raise V.VALUE
    if V.too_large(n, n):
        raise V.NUM
    return Array([[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)])


# =========================================================================================
# number systems
# =========================================================================================

_ROMAN_BASE = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
               (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
# the subtractive pairs each more concise form adds (form n uses those of forms 0..n)
_ROMAN_EXTRA = {1: [(950, "LM"), (450, "LD"), (95, "VC"), (45, "VL")],
                2: [(990, "XM"), (490, "XD"), (99, "IC"), (49, "IL")],
                3: [(995, "VM"), (495, "VD")],
                4: [(999, "IM"), (499, "ID")]}
_ROMAN_TABLES: dict[int, list] = {}


def _roman_table(form: int):
    t = _ROMAN_TABLES.get(form)
    if t is None:
        t = list(_ROMAN_BASE)
        for f in range(1, form + 1):
            t.extend(_ROMAN_EXTRA[f])
        t.sort(key=lambda p: -p[0])
        _ROMAN_TABLES[form] = t
    return t


@xl("ROMAN", NUMBER, ANY)
def ROMAN(x, form=None):
    if isinstance(form, XLError):
        raise form
    if form is None:
        f = 0
    elif isinstance(form, bool):
        f = 0 if form else 4
    else:
        n = V.to_number(form)
        if isinstance(n, XLError):
            raise n
        f = math.trunc(n)
    if f < 0 or f > 4:
        raise V.VALUE
    n = math.trunc(x)
    if n < 0 or n > 3999:
        raise V.VALUE
    out = []
    for val, sym in _roman_table(f):
        while n >= val:
            out.append(sym)
            n -= val
    return "".join(out)


_ROMAN_VAL = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


@xl("ARABIC", TEXT)
def ARABIC(s):
    t = s.strip()
    if len(t) > 255:
        raise V.VALUE
    neg = t.startswith("-")
    if neg:
        t = t[1:]
    vals = []
    for ch in t.upper():
        v = _ROMAN_VAL.get(ch)
        if v is None:
            raise V.VALUE
        vals.append(v)
    # right to left: a numeral smaller than the largest one seen so far is subtracted
    # (so "IIIIIIV" is 5 - 6 = -1, as in Excel)
    total = 0
    top = 0
    for v in reversed(vals):
        if v < top:
            total -= v
        else:
            total += v
            top = v
    return float(-total if neg else total)


_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@xl("BASE", NUMBER, INT, INT)
def BASE(x, radix, min_length=None):
    if x < 0 or x >= _MAX_EXACT or radix < 2 or radix > 36:
        raise V.NUM
    if min_length is not None and (min_length < 0 or min_length > 255):
        raise V.NUM
    n = int(x)
    out = []
    while n:
        n, r = divmod(n, radix)
        out.append(_DIGITS[r])
    s = "".join(reversed(out)) or "0"
    if min_length:
        s = s.rjust(min_length, "0")
    return s


@xl("DECIMAL", TEXT, INT)
def DECIMAL(s, radix):
    if radix < 2 or radix > 36 or len(s) > 255:
        raise V.NUM
    t = s.strip().upper()
    n = 0
    for ch in t:
        d = _DIGITS.find(ch)
        if d < 0 or d >= radix:
            raise V.NUM
        n = n * radix + d
    if n >= _MAX_EXACT:
        raise V.NUM
    return float(n)
