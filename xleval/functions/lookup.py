"""Lookup & Reference functions.

Functions that Excel defines as returning references (INDEX, OFFSET, INDIRECT, XLOOKUP over
a range, TRIMRANGE) return `Range`/`RefList` values, so that `SUM(OFFSET(...))`,
`INDEX(...):A5` and `ROW(INDEX(...))` work; the engine dereferences them where a value is
needed.

Matching rules shared by the lookups
  exact match     numbers match numbers (at 15 significant digits), text matches text
                  case-insensitively ("1" never matches 1), booleans match booleans; blanks
                  and errors in the searched vector never match; `*`, `?` and `~` are
                  wildcards for text in MATCH(...,0), VLOOKUP/HLOOKUP(...,FALSE) and
                  XLOOKUP/XMATCH match_mode 2.
  approximate     MATCH(...,1), VLOOKUP/HLOOKUP(...,TRUE), LOOKUP: Excel's binary search over
                  the whole vector (so unsorted data gives Excel's own "odd" answers) among
                  values of the lookup value's type; MATCH(...,-1) walks from the start;
                  XLOOKUP/XMATCH order all types (numbers < text < logicals) and search
                  linearly, or by plain binary search for search_mode 2/-2.
  The details were measured against Excel-saved results (see _bsearch, _desc_scan, _xcmp).

Speed: a copied-down column of exact lookups searches the same unchanged range thousands of
times. A range that has been searched twice gets a dictionary from normalised key to
first/last position, cached on the engine for the calculation (see `_vector`, `calc_cache`);
XLOOKUP/XMATCH next smaller/larger searches get its sorted keys (`_Entry.ordered`). The
SUMIFS family keeps its grouped criteria indexes in the same cache (math._conditional,
criteria.GroupIndex). `index_stats` tells how often the indexes answered.
"""
from __future__ import annotations

import math
import re
from bisect import bisect_left
from functools import cmp_to_key

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..refs import MAX_COL, MAX_ROW, col_to_num, num_to_col
from ..values import Array, Entity, XLError
from .criteria import GroupIndex, has_wildcards, wildcard_regex
from .text import regex_search
from .registry import (ANY, ARRAY, BOOL, INT, OMITTED, RAW, SCALAR, TEXT, FunctionSpec,
                       invoke, xl)


class _Missing:
    """Default of an optional parameter the formula did not pass at all."""

    __slots__ = ()

    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------

def _is_ref(v) -> bool:
    return isinstance(v, (Range, RefList))


def _single_area(ref):
    """The one area of a reference; #REF! for a multi-area union."""
    if isinstance(ref, RefList):
        if len(ref.areas) != 1:
            raise V.REF
        return ref.areas[0]
    return ref


def _to_array(cx, v) -> Array:
    """Any argument as an Array (references expanded, blanks as None)."""
    if isinstance(v, Array):
        return v
    if isinstance(v, (Range, RefList)):
        if isinstance(v, RefList) and len(v.areas) != 1:
            raise V.VALUE
        return cx.ev.ref_array(v)
    if isinstance(v, XLError):
        raise v
    if v is OMITTED or v is _MISSING:
        v = None
    return Array([[v]])


def _int_arg(v, default=None):
    """An optional integer argument (truncated); `default` when missing or empty."""
    if v is _MISSING or v is None or v is OMITTED:
        return default
    if isinstance(v, Array):
        v = v.rows[0][0]
    n = V.to_number(v)
    if isinstance(n, XLError):
        raise n
    if not math.isfinite(n):
        raise V.NUM
    return int(n) if n >= 0 else -int(-n)


def _scalar(cx, v):
    """A reference or array argument reduced to one value."""
    if isinstance(v, (Range, RefList)):
        v = cx.ev.deref(v, cx)
    if isinstance(v, Array):
        v = v.rows[0][0] if v.rows else None
    if v is OMITTED or v is _MISSING:
        return None
    return v


def _norm(v, fold: bool = False):
    """Key of a value for exact matching (None for values that never match). Text is
    case-insensitive; `fold` is the fuller folding of XLOOKUP/XMATCH ('ß' equals 'ss',
    which MATCH and VLOOKUP do not find)."""
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, float):
        return V.round15(v)
    if isinstance(v, str):
        return v.casefold() if fold else v.lower()
    return None


def _cls(v) -> int:
    """Type class for approximate comparisons: 0 number, 1 text, 2 boolean, -1 other."""
    if isinstance(v, bool):
        return 2
    if isinstance(v, float):
        return 0
    if isinstance(v, str):
        return 1
    return -1


# ---------------------------------------------------------------------------------------
# lookup vectors and the per-range cache
# ---------------------------------------------------------------------------------------

_CACHE_MIN = 16              # smaller vectors are cheaper to scan than to cache
_CACHE_MAX_CELLS = 20_000_000


class _Entry:
    """A cached lookup vector: its values, and (built on the second exact search) the first
    and last position of every key."""

    __slots__ = ("vals", "index", "searches", "hits")

    def __init__(self, vals):
        self.vals = vals
        self.index = {}             # fold -> (first, last)
        self.searches = 0
        self.hits = 0               # searches answered by the indexes (index_stats)

    def positions(self, fold: bool):
        """(first, last) position dictionaries, or None while it is not worth building."""
        got = self.index.get(fold)
        if got is not None:
            return got
        self.searches += 1
        if self.searches < 2:
            return None
        first, last = {}, {}
        for i, v in enumerate(self.vals):
            k = _norm(v, fold)
            if k is not None:
                if k not in first:
                    first[k] = i
                last[k] = i
        self.index[fold] = got = (first, last)
        return got

    def first_positions(self, searches: int) -> dict:
        """The first position of every key (positions(False)[0]), built now: the vector
        path (evaluator/vector_lookup.py) looks a whole column of `searches` keys up at
        once."""
        got = self.index.get(False)
        if got is None:
            self.searches = max(self.searches, 1)
            got = self.positions(False)
        self.hits += searches
        return got[0]

    def ordered(self):
        """For XLOOKUP/XMATCH match_mode -1/1: (the distinct keys of `_xkey` sorted, first
        position, last position of each), or None while it is not worth building or when
        a value has no key (the linear walk then decides)."""
        got = self.index.get("ordered")
        if got is not None:
            return got or None
        self.searches += 1
        if self.searches < 2:
            return None
        first, last = {}, {}
        for i, v in enumerate(self.vals):
            if v is None or isinstance(v, XLError):
                continue                # never a candidate of the walk
            k = _xkey(v)
            if k is None:
                self.index["ordered"] = ()
                return None
            if k not in first:
                first[k] = i
            last[k] = i
        self.index["ordered"] = got = (sorted(first), first, last)
        return got


def calc_cache(ev) -> dict | None:
    """The engine's lookup cache for this calculation (None: do not cache); the *IFS
    functions keep their grouped criteria indexes here too (math._conditional).

    Values do not change during one calculation, so nothing is invalidated within one: an
    entry is only created from `ev.ref_array`, which raises NeedCell while any cell of the
    range is still pending, so a cached vector only ever holds computed values. The engine
    may clear `_lookup_cache` between calculations; as a safeguard the cache is also
    dropped when the engine's report shows another calculation has finished since it was
    made (after set_value + calculate), or when a dynamic array first spills past the area
    Excel recorded for it (cells the graph saw as blank get values). With iterative calculation
    values change between iterations, so nothing is cached then."""
    calc = getattr(ev.wb, "calc", None)
    if calc is not None and calc.iterate:
        return None
    token = (ev.report.timings.get("evaluate"), len(ev.__dict__.get("_spill_extent") or ()))
    c = ev.__dict__.get("_lookup_cache")
    if c is None or c.get("#token", token) != token:
        c = ev.__dict__["_lookup_cache"] = {"#cells": 0, "#token": token}
    return c


def index_stats(ev) -> dict[str, int]:
    """How much the indexes of the current (or last) calculation were used: lookup vectors
    cached and exact searches answered by their dictionaries, grouped *IFS indexes built
    and the calls they answered. For tests and profiling."""
    c = ev.__dict__.get("_lookup_cache") or {}
    vecs = [e for e in c.values() if isinstance(e, _Entry)]
    groups = [e for e in c.values() if isinstance(e, GroupIndex)]
    return {"lookup_vectors": len(vecs), "lookup_hits": sum(e.hits for e in vecs),
            "ifs_indexes": len(groups), "ifs_hits": sum(e.hits for e in groups)}


class _Vec:
    """A lookup vector: its values and, for a reference, the cache entry it came from."""

    __slots__ = ("vals", "entry", "n")

    def __init__(self, vals, entry=None, n=None):
        self.vals = vals
        self.entry = entry
        self.n = len(vals) if n is None else n

    def __len__(self):
        return len(self.vals)


def _vector_of_range(cx, rng: Range, vertical: bool) -> _Vec:
    """The first column (vertical) or first row of a range as a lookup vector."""
    if vertical:
        key = ("v", rng.sheet, rng.r1, rng.c1, rng.r2)
    else:
        key = ("h", rng.sheet, rng.r1, rng.c1, rng.c2)
    ev = cx.ev
    cache = calc_cache(ev)
    ent = cache.get(key) if cache is not None else None
    full = rng.nrows if vertical else rng.ncols
    if ent is not None:
        return _Vec(ent.vals, ent, full)
    if vertical:
        sub = Range(rng.sheet, rng.r1, rng.c1, rng.r2, rng.c1)
    else:
        sub = Range(rng.sheet, rng.r1, rng.c1, rng.r1, rng.c2)
    arr = ev.ref_array(sub)          # raises NeedCell while a cell is pending: propagate
    vals = [row[0] for row in arr.rows] if vertical else list(arr.rows[0]) if arr.rows else []
    if (cache is not None and len(vals) >= _CACHE_MIN
            and cache["#cells"] + len(vals) <= _CACHE_MAX_CELLS):
        ent = _Entry(vals)
        cache[key] = ent
        cache["#cells"] += len(vals)
        return _Vec(vals, ent, full)
    return _Vec(vals, None, full)


def _vector(cx, src, vertical: bool) -> _Vec:
    """First column/row of a reference or array as a lookup vector."""
    if isinstance(src, RefList):
        src = _single_area(src)
    if isinstance(src, Range):
        return _vector_of_range(cx, src, vertical)
    arr = _to_array(cx, src)
    if vertical:
        return _Vec([row[0] for row in arr.rows])
    return _Vec(list(arr.rows[0]) if arr.rows else [])


def _one_d(cx, src) -> tuple[_Vec, bool]:
    """A one-row or one-column lookup array: (vector, vertical). #N/A when 2-D."""
    if isinstance(src, RefList):
        src = _single_area(src)
    if isinstance(src, Range):
        nr, nc = src.nrows, src.ncols
    else:
        src = _to_array(cx, src)
        nr, nc = src.nrows, src.ncols
    if nr != 1 and nc != 1:
        raise V.NA
    vertical = nc == 1
    return _vector(cx, src, vertical), vertical


# ---------------------------------------------------------------------------------------
# searching
# ---------------------------------------------------------------------------------------

def _wild(x) -> bool:
    return isinstance(x, str) and has_wildcards(x)


def _find_exact(vec: _Vec, x, *, wildcard: bool, reverse: bool = False,
                fold: bool = False) -> int:
    """Position of the first (last with reverse) value equal to x; -1 when none."""
    vals = vec.vals
    if wildcard and _wild(x):
        rx = wildcard_regex(x)
        rng = range(len(vals) - 1, -1, -1) if reverse else range(len(vals))
        for i in rng:
            v = vals[i]
            if isinstance(v, str) and rx.fullmatch(v) is not None:
                return i
        return -1
    k = _norm(x, fold)
    if k is None:
        return -1
    ent = vec.entry
    if ent is not None:
        pos = ent.positions(fold)
        if pos is not None:
            ent.hits += 1
            return pos[1 if reverse else 0].get(k, -1)
    norm = _norm
    if reverse:
        for i in range(len(vals) - 1, -1, -1):
            if norm(vals[i], fold) == k:
                return i
        return -1
    for i, v in enumerate(vals):
        if norm(v, fold) == k:
            return i
    return -1


def _cmp_same(a, b, fold: bool = False) -> int:
    """Compare two values of the same type class (text case-insensitively; `fold` as in
    `_norm`)."""
    if type(a) is float:
        if a == b:
            return 0
        d = a - b
        if abs(d) > 1e-13 * max(abs(a), abs(b)):   # plainly different: skip rounding
            return -1 if d < 0 else 1
        a, b = V.round15(a), V.round15(b)
    elif isinstance(a, str):
        a, b = (a.casefold(), b.casefold()) if fold else (a.lower(), b.lower())
    if a == b:
        return 0
    return -1 if a < b else 1


def _bsearch(vals, x, n: int | None = None) -> int:
    """Approximate match of MATCH(...,1), VLOOKUP/HLOOKUP(...,TRUE) and LOOKUP: Excel's binary
    search for the last value <= x. Only values of x's own type take part: a probe that lands
    on another type (or a blank or an error) moves up to the next value of the type within
    the window, or, when there is none, the window closes above the probe. An exact hit
    returns at once (after the run of equal values that follows it). On unsorted data this
    reproduces Excel's answers. `n` is the length of the searched area: a whole column
    searched by Excel has blanks past the used cells that `vals` leaves out."""
    k = _cls(x)
    if k < 0:
        return -1
    m = len(vals)
    lo, hi = 0, (m if n is None else max(n, m)) - 1
    best = -1
    cls = _cls
    while lo <= hi:
        mid = (lo + hi) // 2
        if mid >= m:
            hi = mid - 1
            continue
        j = mid
        top = min(hi, m - 1)
        while j <= top and cls(vals[j]) != k:
            j += 1
        if j > top:
            hi = mid - 1
            continue
        c = _cmp_same(vals[j], x)
        if c == 0:
            while j + 1 < m and cls(vals[j + 1]) == k and _cmp_same(vals[j + 1], x) == 0:
                j += 1
            return j
        if c < 0:
            best = j
            lo = j + 1
        else:
            hi = j - 1
    return best


def _desc_scan(vals, x) -> int:
    """MATCH(...,-1): the smallest value >= x in data sorted descending. Excel walks the
    vector from the start and stops at the first value (of x's type) below x; an exact value
    ends the walk at once."""
    k = _cls(x)
    if k < 0:
        return -1
    best = -1
    for i, v in enumerate(vals):
        if _cls(v) != k:
            continue
        c = _cmp_same(v, x)
        if c == 0:
            return i
        if c > 0:
            best = i
        else:
            break
    return best


# XLOOKUP/XMATCH compare across types in Excel's sort order (numbers < text < logicals);
# a blank lookup value ranks above everything.
def _xrank(v) -> int:
    if isinstance(v, bool):
        return 2
    if isinstance(v, float):
        return 0
    if isinstance(v, str):
        return 1
    if v is None:
        return 4
    return 3


def _xcmp(a, b) -> int:
    ra, rb = _xrank(a), _xrank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra >= 3:
        return 0
    return _cmp_same(a, b, True)


def _xkey(v):
    """A sort key that orders values as `_xcmp` does (numbers at 15 digits < text folded <
    logicals); None for other values."""
    t = type(v)
    if t is float:
        return (0, V.round15(v)) if v == v else None
    if t is str:
        return (1, v.casefold())
    if t is bool:
        return (2, v)
    return None


def _x_nearest(ordered, x, match_mode: int, reverse: bool) -> int:
    """The answer of the walk in `_x_search` for match_mode -1/1, from the sorted keys: an
    equal key, else the largest key below x (-1) or the smallest above it (1); among equal
    values the first one met in the search direction."""
    keys, first, last = ordered
    kx = _xkey(x)
    j = bisect_left(keys, kx)
    if j < len(keys) and keys[j] == kx:
        k = keys[j]
    elif match_mode == -1:
        if j == 0:
            return -1
        k = keys[j - 1]
    else:
        if j == len(keys):
            return -1
        k = keys[j]
    return (last if reverse else first)[k]


def _x_binary(vals, x, match_mode: int, desc: bool, n: int) -> int:
    """XLOOKUP/XMATCH search_mode 2 / -2: a plain binary search under the cross-type
    order; when x is not found the neighbour on the requested side is the answer."""
    m = len(vals)
    lo, hi = 0, max(n, m) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        v = vals[mid] if mid < m else None
        c = _xcmp(v, x) if v is not None else 1
        if c == 0:
            return mid
        if (c < 0) != desc:
            lo = mid + 1
        else:
            hi = mid - 1
    if match_mode == 0:
        return -1
    smaller, larger = (hi, lo) if not desc else (lo, hi)
    i = smaller if match_mode == -1 else larger
    if i < 0 or i >= m or vals[i] is None:
        return -1
    return i


def _x_search(vec: _Vec, x, match_mode: int, search_mode: int) -> int:
    """XLOOKUP/XMATCH search: position or -1."""
    vals = vec.vals
    if search_mode in (2, -2):
        if match_mode in (2, 3):
            raise V.VALUE
        return _x_binary(vals, x, match_mode, search_mode == -2, vec.n)
    reverse = search_mode == -1
    if match_mode in (0, 2):
        if x is None:
            return -1
        if match_mode == 2 and _wild(x):
            return _find_exact(vec, x, wildcard=True, reverse=reverse)
        return _find_exact(vec, x, wildcard=False, reverse=reverse, fold=match_mode == 0)
    if match_mode == 3:
        return _regex_search(vals, x, reverse)
    if vec.entry is not None and _xkey(x) is not None:
        # an unchanged range searched again: a binary search in its sorted keys gives the
        # answer of the walk below
        ordered = vec.entry.ordered()
        if ordered is not None:
            vec.entry.hits += 1
            return _x_nearest(ordered, x, match_mode, reverse)
    best = -1
    bestv = None
    n = len(vals)
    order = range(n - 1, -1, -1) if reverse else range(n)
    for i in order:
        v = vals[i]
        if v is None or isinstance(v, XLError):
            continue
        c = _xcmp(v, x)
        if c == 0:
            return i
        if match_mode == -1:
            if c < 0 and (best < 0 or _xcmp(v, bestv) > 0):
                best, bestv = i, v
        elif c > 0 and (best < 0 or _xcmp(v, bestv) < 0):
            best, bestv = i, v
    return best


def _regex_search(vals, x, reverse) -> int:
    if x is None:
        x = ""
    if not isinstance(x, str):
        x = V.to_text(x)
        if isinstance(x, XLError):
            raise x
    import regex            # (regex_search matches with a timeout: see REGEX_TIMEOUT)
    try:
        rx = regex.compile(x)
    except (regex.error, OverflowError, RecursionError):
        raise V.VALUE from None
    order = range(len(vals) - 1, -1, -1) if reverse else range(len(vals))
    for i in order:
        v = vals[i]
        if isinstance(v, XLError) or v is None:
            continue
        # a runaway backtracking match is #VALUE! (PCRE2's match limit in Excel), as in
        # REGEXTEST; like PCRE2's limit, the budget is per value matched
        if regex_search(rx, V.to_text(v)):
            return i
    return -1


def _legacy_lookup_value(x):
    """VLOOKUP/HLOOKUP/MATCH/LOOKUP lookup value: errors propagate, long text is #VALUE!."""
    if isinstance(x, XLError):
        raise x
    if isinstance(x, str) and len(x) > 255:
        raise V.VALUE
    return x


def _match_pos(vec: _Vec, x, mode: int) -> int:
    """Legacy lookups: mode 1 approximate ascending, 0 exact (wildcards), -1 descending.
    A blank lookup value is 0 for the approximate modes and matches nothing exactly."""
    if mode == 0:
        if x is None:
            return -1
        return _find_exact(vec, x, wildcard=True)
    if x is None:
        x = 0.0
    if mode > 0:
        return _bsearch(vec.vals, x, vec.n)
    return _desc_scan(vec.vals, x)


# ---------------------------------------------------------------------------------------
# VLOOKUP, HLOOKUP, MATCH, LOOKUP
# ---------------------------------------------------------------------------------------

def _range_lookup_flag(cx, v) -> bool:
    if v is _MISSING:
        return True
    if isinstance(v, (Range, RefList)):
        v = _scalar(cx, v)
    if isinstance(v, Array):
        v = v.rows[0][0]
    b = V.to_bool(v)
    if isinstance(b, XLError):
        raise b
    return b


def _table_get(cx, table, r: int, c: int):
    """Value at (r, c) (0-based) of a reference or array table."""
    if isinstance(table, Range):
        return cx.ev.value_at(table.sheet, table.r1 + r, table.c1 + c)
    return table.rows[r][c]


def _lookup_table(cx, table):
    if isinstance(table, RefList):
        table = _single_area(table)
    if isinstance(table, XLError):
        raise table
    if not isinstance(table, Range):
        table = _to_array(cx, table)
    return table


def _index_arg(cx, v) -> int:
    """A row/column index: an array or a reference gives its first value."""
    if isinstance(v, (Range, RefList, Array)):
        v = _scalar(cx, v) if not isinstance(v, Array) else v.rows[0][0]
    n = _int_arg(v, 0)
    return n


def _legacy_lookup(cx, x, table, index, range_lookup, vertical: bool):
    """VLOOKUP (vertical) and HLOOKUP: search the first column (row) of `table`, return
    the `index`-th column (row) of the match, in Excel's order of error checks."""
    x = _legacy_lookup_value(x)
    table = _lookup_table(cx, table)
    index = _index_arg(cx, index)
    approx = _range_lookup_flag(cx, range_lookup)
    if index < 1:
        return V.VALUE
    if index > (table.ncols if vertical else table.nrows):
        return V.REF
    vec = _vector(cx, table, vertical)
    i = _match_pos(vec, x, 1 if approx else 0)
    if i < 0:
        return V.NA
    if vertical:
        return _table_get(cx, table, i, index - 1)
    return _table_get(cx, table, index - 1, i)


@xl("VLOOKUP", SCALAR, RAW, RAW, RAW, ctx=True)
def VLOOKUP(cx, x, table, col, range_lookup=_MISSING):
    return _legacy_lookup(cx, x, table, col, range_lookup, True)


@xl("HLOOKUP", SCALAR, RAW, RAW, RAW, ctx=True)
def HLOOKUP(cx, x, table, row, range_lookup=_MISSING):
    return _legacy_lookup(cx, x, table, row, range_lookup, False)


@xl("MATCH", SCALAR, RAW, RAW, ctx=True)
def MATCH(cx, x, arr, match_type=_MISSING):
    x = _legacy_lookup_value(x)
    if isinstance(arr, XLError):
        return arr
    if match_type is _MISSING:
        mt = 1.0
    else:
        mt = V.to_number(_scalar(cx, match_type))
        if isinstance(mt, XLError):
            return mt
    vec, _ = _one_d(cx, arr)
    i = _match_pos(vec, x, 0 if mt == 0 else (1 if mt > 0 else -1))
    return V.NA if i < 0 else float(i + 1)


# LOOKUP evaluates its vectors as arrays even in a plain formula (the classic
# LOOKUP(2,1/(A1:A9="x"),B1:B9) needs no array entry), so the lookup vector is ARRAY-typed;
# the result stays a reference so that a short result range can be extended.
@xl("LOOKUP", SCALAR, ARRAY, RAW, ctx=True)
def LOOKUP(cx, x, lookup, result=_MISSING):
    x = _legacy_lookup_value(x)
    if isinstance(lookup, XLError):
        return lookup
    if isinstance(lookup, RefList):
        lookup = _single_area(lookup)
    if not isinstance(lookup, Range):
        lookup = _to_array(cx, lookup)
    nr, nc = lookup.nrows, lookup.ncols
    # the searched vector: the first row of a wide area, else the first column
    vertical = not (nc > nr)
    vec = _vector(cx, lookup, vertical)
    i = _match_pos(vec, x, 1)
    if i < 0:
        return V.NA
    if result is _MISSING or result is None:
        # array form: the same position in the last row/column
        if vertical:
            return _table_get(cx, lookup, i, nc - 1)
        return _table_get(cx, lookup, nr - 1, i)
    if isinstance(result, XLError):
        return result
    if isinstance(result, RefList):
        result = _single_area(result)
    if isinstance(result, Range):
        # a result reference is extended along its own direction when it is shorter
        if result.nrows == 1 and result.ncols > 1:
            c = result.c1 + i
            if c > MAX_COL:
                return V.REF
            return cx.ev.value_at(result.sheet, result.r1, c)
        if result.nrows > 1 and result.ncols > 1:
            return V.NA
        r = result.r1 + i
        if r > MAX_ROW:
            return V.REF
        return cx.ev.value_at(result.sheet, r, result.c1)
    res = _to_array(cx, result)
    if res.nrows > 1 and res.ncols > 1:
        return V.NA
    flat = list(res.flat())
    if i >= len(flat):
        return V.NA
    return flat[i]


# ---------------------------------------------------------------------------------------
# XLOOKUP, XMATCH
# ---------------------------------------------------------------------------------------

def _floor_arg(v, default):
    if v is _MISSING or v is None or v is OMITTED:
        return default
    n = V.to_number(v)
    if isinstance(n, XLError):
        raise n
    if not math.isfinite(n):
        raise V.VALUE
    return math.floor(n)


def _x_modes(match_mode, search_mode):
    # Excel rounds these down: search_mode -1.1 is -2 (binary, descending)
    mm = _floor_arg(match_mode, 0)
    sm = _floor_arg(search_mode, 1)
    if mm not in (0, -1, 1, 2, 3) or sm not in (1, -1, 2, -2):
        raise V.VALUE
    return mm, sm


@xl("XLOOKUP", SCALAR, RAW, RAW, RAW, SCALAR, SCALAR, ctx=True)
def XLOOKUP(cx, x, lookup, ret, if_not_found=_MISSING, match_mode=_MISSING,
            search_mode=_MISSING):
    if isinstance(x, XLError):
        return x
    for a in (lookup, ret):
        if isinstance(a, XLError):
            return a
    mm, sm = _x_modes(match_mode, search_mode)
    if isinstance(lookup, RefList):
        lookup = _single_area(lookup)
    if not isinstance(lookup, Range):
        lookup = _to_array(cx, lookup)
    if isinstance(ret, RefList):
        ret = _single_area(ret)
    if not isinstance(ret, Range):
        ret = _to_array(cx, ret)
    nr, nc = lookup.nrows, lookup.ncols
    if nc == 1 and ret.nrows == nr:
        vertical = True
    elif nr == 1 and ret.ncols == nc:
        vertical = False
    else:
        return V.VALUE
    vec = _vector(cx, lookup, vertical)
    i = _x_search(vec, x, mm, sm)
    if i < 0:
        if if_not_found is _MISSING or if_not_found is None or if_not_found is OMITTED:
            return V.NA             # XLOOKUP(x,a,b,,1): an empty if_not_found is not given
        return if_not_found
    if isinstance(ret, Range):
        if vertical:
            return Range(ret.sheet, ret.r1 + i, ret.c1, ret.r1 + i, ret.c2)
        return Range(ret.sheet, ret.r1, ret.c1 + i, ret.r2, ret.c1 + i)
    if vertical:
        row = ret.rows[i]
        return row[0] if len(row) == 1 else Array([list(row)])
    if ret.nrows == 1:
        return ret.rows[0][i]
    return Array([[row[i]] for row in ret.rows])


@xl("XMATCH", SCALAR, RAW, SCALAR, SCALAR, ctx=True)
def XMATCH(cx, x, lookup, match_mode=_MISSING, search_mode=_MISSING):
    if isinstance(x, XLError):
        return x
    if isinstance(lookup, XLError):
        return lookup
    mm, sm = _x_modes(match_mode, search_mode)
    if isinstance(lookup, RefList):
        lookup = _single_area(lookup)
    if not isinstance(lookup, Range):
        lookup = _to_array(cx, lookup)
    if lookup.nrows != 1 and lookup.ncols != 1:
        return V.VALUE
    vec = _vector(cx, lookup, lookup.ncols == 1)
    i = _x_search(vec, x, mm, sm)
    return V.NA if i < 0 else float(i + 1)


# ---------------------------------------------------------------------------------------
# INDEX, OFFSET, INDIRECT
# ---------------------------------------------------------------------------------------

def _index_pos(nr: int, nc: int, row, col, is_ref: bool) -> tuple[int, int]:
    """Row and column (1-based, 0 = whole) INDEX selects in an nr x nc area."""
    if row < 0 or (col is not _MISSING and col < 0):
        raise V.VALUE
    if col is _MISSING:
        if nr == 1 and nc != 1:
            r, c = 1, row               # a single row: the one index is the column
        elif nc == 1:
            r, c = row, 1
        elif is_ref:
            raise V.REF                 # a 2-D reference needs both indexes
        else:
            r, c = row, 0               # a 2-D array: the whole row
    else:
        r, c = row, col
    if r > nr or c > nc:
        raise V.REF
    return r, c


def _index_num(cx, v):
    """An INDEX position argument (truncated; blank or omitted-in-place is 0)."""
    if v is _MISSING:
        return v
    if isinstance(v, (Range, RefList)):
        v = _scalar(cx, v)
    if isinstance(v, Array):
        v = v.rows[0][0]
    if v is None or v is OMITTED:
        return 0
    n = V.to_number(v)
    if isinstance(n, XLError):
        raise n
    if not math.isfinite(n):
        raise V.NUM
    return int(n) if n >= 0 else -int(-n)


@xl("INDEX", RAW, RAW, RAW, RAW, ctx=True)
def INDEX(cx, ref, row, col=_MISSING, area=_MISSING):
    if isinstance(ref, XLError):
        return ref

    def pick(row, col, area):
        return _index(cx, ref, _index_num(cx, row), _index_num(cx, col),
                      _index_num(cx, area))
    if any(isinstance(a, Array) for a in (row, col, area)) or (cx.array_mode and any(
            isinstance(a, (Range, RefList)) and not (isinstance(a, Range) and a.is_cell)
            for a in (row, col, area))):
        # array positions: one INDEX per element (Excel lifts the call over them)
        def one(row, col, area):
            v = pick(row, col, area)
            if isinstance(v, (Range, RefList)):
                v = cx.ev.deref(v, cx) if _single_cell(v) else cx.ev.ref_array(v)
            return v
        return _lift(cx, one, [row, col, area])
    return pick(row, col, area)


def _single_cell(v) -> bool:
    return isinstance(v, Range) and v.is_cell


def _index(cx, ref, row, col, area):
    if _is_ref(ref):
        areas = ref.areas if isinstance(ref, RefList) else [ref]
        a = 1 if area is _MISSING else area
        if a < 1 or a > len(areas):
            return V.REF
        rng = areas[a - 1]
        r, c = _index_pos(rng.nrows, rng.ncols, row, col, True)
        s = rng.sheet
        if r == 0 and c == 0:
            return rng
        if r == 0:
            return Range(s, rng.r1, rng.c1 + c - 1, rng.r2, rng.c1 + c - 1)
        if c == 0:
            return Range(s, rng.r1 + r - 1, rng.c1, rng.r1 + r - 1, rng.c2)
        return Range(s, rng.r1 + r - 1, rng.c1 + c - 1, rng.r1 + r - 1, rng.c1 + c - 1)
    if area is not _MISSING and area != 1:
        return V.REF
    arr = _to_array(cx, ref)
    r, c = _index_pos(arr.nrows, arr.ncols, row, col, False)
    if r == 0 and c == 0:
        return arr
    if r == 0:
        out = Array([[row_[c - 1]] for row_ in arr.rows])
    elif c == 0:
        out = Array([list(arr.rows[r - 1])])
    else:
        return arr.rows[r - 1][c - 1]
    if out.nrows == 1 and out.ncols == 1:
        return out.rows[0][0]
    return out


def _check_bounds(r1, c1, r2, c2):
    if r1 < 1 or c1 < 1 or r2 > MAX_ROW or c2 > MAX_COL:
        raise V.REF


def _size_arg(cx, v, default: int) -> int:
    """OFFSET's height/width: `default` when omitted or left empty; a reference is read
    as a number, so a blank cell is 0 (which is #REF!), not an omitted argument."""
    if isinstance(v, (Range, RefList)):
        # (a multi-cell reference: the cell in the formula's row or column, as any scalar)
        v = _scalar(cx, v) if cx.array_mode else cx.ev.implicit_intersection(v, cx)
        return _int_arg(0.0 if v is None else v, default)
    return _int_arg(v, default)


# height/width are RAW so that a blank cell (the number 0) stays apart from an omitted one
@xl("OFFSET", RAW, INT, INT, RAW, RAW, ctx=True, volatile=True, dynamic_ref=True)
def OFFSET(cx, ref, rows, cols, height=_MISSING, width=_MISSING):
    if isinstance(ref, XLError):
        return ref
    if not _is_ref(ref):
        return V.VALUE
    if isinstance(ref, RefList):
        if len(ref.areas) != 1:
            return V.VALUE
        ref = ref.areas[0]
    h = _size_arg(cx, height, ref.nrows)
    w = _size_arg(cx, width, ref.ncols)
    if h == 0 or w == 0:
        return V.REF
    r = ref.r1 + rows
    c = ref.c1 + cols
    r1, r2 = (r, r + h - 1) if h > 0 else (r + h + 1, r)
    c1, c2 = (c, c + w - 1) if w > 0 else (c + w + 1, c)
    _check_bounds(r1, c1, r2, c2)
    return Range(ref.sheet, r1, c1, r2, c2)


_A1_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_A1_COL = re.compile(r"^\$?([A-Za-z]{1,3})$")
_A1_ROW = re.compile(r"^\$?([0-9]{1,7})$")
_RC_PART = r"(?:\[([+-]?[0-9]+)\]|([0-9]+))?"
_R1C1_CELL = re.compile(rf"^[Rr]{_RC_PART}[Cc]{_RC_PART}$")
_R1C1_ROW = re.compile(rf"^[Rr]{_RC_PART}$")
_R1C1_COL = re.compile(rf"^[Cc]{_RC_PART}$")


class _LazyRegex:
    """A pattern compiled on its first use: a class mixing \\w with the whole non-ASCII
    plane takes ~4 ms to compile, and only INDIRECT and sheet-name quoting need these."""

    __slots__ = ("_args", "_rx")

    def __init__(self, *args):
        self._args = args
        self._rx = None

    def __getattr__(self, name):            # match, fullmatch, ...
        if self._rx is None:
            self._rx = re.compile(*self._args)
        return getattr(self._rx, name)


_NAME_RE = _LazyRegex(r"^[A-Za-z_\\\u00a0-\uffff][\w.\\?\u00a0-\uffff]*$")
_STRUCT_RE = _LazyRegex(r"^([A-Za-z_\\\u00a0-\uffff][\w.\\\u00a0-\uffff]*)?\[(.*)\]$", re.S)


def _split_sheet_text(text: str):
    """'[1]Sheet 1'!A1 -> (book, sheet, body); no sheet -> (None, None, text)."""
    if text.startswith("'"):
        out = []
        i = 1
        n = len(text)
        while True:
            if i >= n:
                raise V.REF
            ch = text[i]
            if ch == "'":
                if i + 1 < n and text[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                break
            out.append(ch)
            i += 1
        prefix = "".join(out)
        rest = text[i + 1:]
        if not rest.startswith("!"):
            raise V.REF
        body = rest[1:]
    elif "!" in text:
        prefix, _, body = text.partition("!")
    else:
        return None, None, text
    book = None
    if prefix.startswith("["):
        close = prefix.find("]")
        if close < 0:
            raise V.REF
        book, prefix = prefix[1:close], prefix[close + 1:]
    return book, (prefix if prefix or book is None else None), body


def _a1_part(part: str):
    m = _A1_CELL.match(part)
    if m:
        return "cell", int(m.group(2)), col_to_num(m.group(1))
    m = _A1_COL.match(part)
    if m:
        return "col", None, col_to_num(m.group(1))
    m = _A1_ROW.match(part)
    if m:
        return "row", int(m.group(1)), None
    return None


def _rc_value(rel, absolute, here):
    if absolute is not None:
        return int(absolute)
    if rel is not None:
        return here + int(rel)
    return here


def _r1c1_part(part: str, cx):
    m = _R1C1_CELL.match(part)
    if m:
        return ("cell", _rc_value(m.group(1), m.group(2), cx.row),
                _rc_value(m.group(3), m.group(4), cx.col))
    m = _R1C1_ROW.match(part)
    if m:
        return "row", _rc_value(m.group(1), m.group(2), cx.row), None
    m = _R1C1_COL.match(part)
    if m:
        return "col", None, _rc_value(m.group(1), m.group(2), cx.col)
    return None


def _parse_body(body: str, a1: bool, cx):
    """(r1, c1, r2, c2) of an A1 / R1C1 reference text, or None when it is not one."""
    parts = body.split(":")
    if len(parts) > 2 or not body:
        return None
    got = [(_a1_part(p) if a1 else _r1c1_part(p, cx)) for p in parts]
    if any(g is None for g in got):
        return None
    if len(got) == 1:
        kind, r, c = got[0]
        if kind == "cell":
            return r, c, r, c
        if a1:
            return None            # a lone 'A' or '1' is not a reference in A1 style
        if kind == "row":
            return r, 1, r, MAX_COL
        return 1, c, MAX_ROW, c
    (k1, ra, ca), (k2, rb, cb) = got
    if k1 != k2:
        return None
    if k1 == "cell":
        return min(ra, rb), min(ca, cb), max(ra, rb), max(ca, cb)
    if k1 == "col":
        return 1, min(ca, cb), MAX_ROW, max(ca, cb)
    return min(ra, rb), 1, max(ra, rb), MAX_COL


def _book_index(ev, book: str):
    if book.isdigit():
        return int(book)
    low = book.lower()
    for eb in ev.wb.externals:
        target = eb.target.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if target == low:
            return eb.index
    raise V.REF


def _eval_name(cx, name: str, sheet, book):
    ev = cx.ev
    key = (name.upper(), sheet.lower() if sheet else None, book, cx.sheet, cx.array_mode)
    fns = ev.__dict__.setdefault("_indirect_names", {})
    fn = fns.get(key)
    if fn is None:
        got = ev.name_tree(name, sheet, book, cx.sheet)
        if got is None:
            fns[key] = fn = lambda c: V.REF
        else:
            tree, scope = got
            fn, _info = ev.compiler.compile(tree, scope, cx.array_mode)
            fns[key] = fn
    v = fn(cx)
    return v if _is_ref(v) else V.REF


def _indirect(cx, text: str, a1: bool):
    ev = cx.ev
    book, sheet, body = _split_sheet_text(text)
    if book is not None:
        if sheet is None:
            if _NAME_RE.match(body):
                return _eval_name(cx, body, None, _book_index(ev, book))
            raise V.REF
        idx = ev.ext_index.get((_book_index(ev, book), sheet.lower()))
        if idx is None:
            raise V.REF
        s = idx
    elif sheet is not None:
        try:
            s = ev.sheet_index(sheet)
        except KeyError:
            raise V.REF from None
    else:
        s = cx.sheet
    rect = _parse_body(body, a1, cx)
    if rect is not None:
        r1, c1, r2, c2 = rect
        _check_bounds(r1, c1, r2, c2)
        return Range(s, r1, c1, r2, c2)
    if book is None:
        m = _STRUCT_RE.match(body)
        if m and sheet is None and "[" in body:
            return ev.structured_ref(m.group(1), m.group(2), cx)
        if _NAME_RE.match(body) and not _A1_CELL.match(body):
            return _eval_name(cx, body, sheet, None)
    raise V.REF


@xl("INDIRECT", TEXT, BOOL, ctx=True, volatile=True, dynamic_ref=True)
def INDIRECT(cx, text, a1=True):
    if not text:
        return V.REF
    return _indirect(cx, text, a1)


# ---------------------------------------------------------------------------------------
# ROW, COLUMN, ROWS, COLUMNS, AREAS, ADDRESS
# ---------------------------------------------------------------------------------------

def _row_col(cx, ref, rows: bool):
    if ref is _MISSING or ref is None:
        return float(cx.row if rows else cx.col)
    if isinstance(ref, XLError):
        return ref
    if not _is_ref(ref):
        return V.VALUE
    if isinstance(ref, RefList):
        if len(ref.areas) != 1:
            return V.REF
        ref = ref.areas[0]
    r1, c1, r2, c2 = cx.ev._trim(ref)
    # several rows/columns give an array (a plain cell shows its first value)
    if rows:
        if r1 == r2:
            return float(r1)
        return Array([[float(r)] for r in range(r1, r2 + 1)])
    if c1 == c2:
        return float(c1)
    return Array([[float(c) for c in range(c1, c2 + 1)]])


@xl("ROW", RAW, ctx=True)
def ROW(cx, ref=_MISSING):
    return _row_col(cx, ref, True)


@xl("COLUMN", RAW, ctx=True)
def COLUMN(cx, ref=_MISSING):
    return _row_col(cx, ref, False)


def _dims(v):
    if isinstance(v, XLError):
        raise v
    if isinstance(v, RefList):
        if len(v.areas) != 1:
            raise V.REF
        v = v.areas[0]
    if isinstance(v, (Range, Array)):
        return v.nrows, v.ncols
    return 1, 1


@xl("ROWS", RAW)
def ROWS(v):
    return float(_dims(v)[0])


@xl("COLUMNS", RAW)
def COLUMNS(v):
    return float(_dims(v)[1])


@xl("AREAS", RAW)
def AREAS(v):
    if isinstance(v, XLError):
        return v
    if isinstance(v, Range):
        return 1.0
    if isinstance(v, RefList):
        return float(len(v.areas))
    return V.VALUE


_PLAIN_SHEET = _LazyRegex(r"^[A-Za-z_\u00a0-\uffff][\w.\u00a0-\uffff]*$")


def _quote_sheet_text(name: str) -> str:
    book = ""
    sheet = name
    if name.startswith("[") and "]" in name:
        close = name.index("]")
        book, sheet = name[:close + 1], name[close + 1:]
    plain = (sheet == "" or (_PLAIN_SHEET.match(sheet) and not _A1_CELL.match(sheet)
                             and not _R1C1_CELL.match(sheet) and not _R1C1_ROW.match(sheet)
                             and not _R1C1_COL.match(sheet)))
    if plain:
        return name
    return "'" + name.replace("'", "''") + "'"


@xl("ADDRESS", INT, INT, SCALAR, SCALAR, SCALAR)
def ADDRESS(row, col, abs_num=_MISSING, a1=_MISSING, sheet=_MISSING):
    mode = _int_arg(abs_num, 1)
    if a1 is _MISSING:
        style_a1 = True
    else:
        style_a1 = V.to_bool(a1)
        if isinstance(style_a1, XLError):
            return style_a1
    if sheet is _MISSING:
        prefix = ""
    else:
        t = V.to_text(sheet)
        if isinstance(t, XLError):
            return t
        prefix = _quote_sheet_text(t) + "!"
    if mode not in (1, 2, 3, 4):
        return V.VALUE
    if row < 1 or col < 1 or row > MAX_ROW or col > MAX_COL:
        return V.VALUE
    abs_row = mode in (1, 2)
    abs_col = mode in (1, 3)
    if style_a1:
        return (f"{prefix}{'$' if abs_col else ''}{num_to_col(col)}"
                f"{'$' if abs_row else ''}{row}")
    rtxt = f"R{row}" if abs_row else f"R[{row}]"
    ctxt = f"C{col}" if abs_col else f"C[{col}]"
    return prefix + rtxt + ctxt


@xl("HYPERLINK", SCALAR, SCALAR)
def HYPERLINK(link, friendly=_MISSING):
    if friendly is _MISSING:
        return link
    return friendly


# dynamic_ref: the value read is a cell of the pivot table that the formula does not
# reference (only some cell of the report); the graph cannot see it, so the cell runs in the
# main process, after anything pending it reads (NeedCell), and is re-read on every change
@xl("GETPIVOTDATA", TEXT, RAW, SCALAR, ctx=True, dynamic_ref=True)
def GETPIVOTDATA(cx, data_field, pivot, *pairs):
    """The value a pivot table report shows for a data field and field/item pairs (see
    functions/pivot.py): read from the report's cells, as Excel does; #REF! when
    `pivot` is not in a pivot table or the value is not shown."""
    if isinstance(pivot, XLError):
        return pivot
    if not _is_ref(pivot) or len(pairs) % 2:
        return V.REF
    ev = cx.ev
    pivots = getattr(ev.wb, "pivots", None)
    if not pivots:
        return V.REF
    from .pivot import locate, pivot_at
    areas = pivot.areas if isinstance(pivot, RefList) else [pivot]
    for a in areas:
        if a.sheet >= ev.n_local:
            continue                     # another workbook: its pivot tables are not read
        p = pivot_at(pivots, ev.sheet_names[a.sheet], a.r1, a.c1, a.r2, a.c2)
        if p is None:
            continue
        at = locate(p, data_field, list(zip(pairs[::2], pairs[1::2])))
        if isinstance(at, XLError):
            return at
        return ev.value_at(a.sheet, at[0], at[1])
    return V.REF


# ---------------------------------------------------------------------------------------
# dynamic arrays: TRANSPOSE, FILTER, SORT, SORTBY, UNIQUE, SEQUENCE
# ---------------------------------------------------------------------------------------

def _flat_ints(cx, v) -> list[int]:
    arr = _to_array(cx, v)
    out = []
    for x in arr.flat():
        if isinstance(x, XLError):
            raise x
        n = V.to_number(x)
        if isinstance(n, XLError):
            raise n
        out.append(int(n) if n >= 0 else -int(-n))
    return out


def _cols(arr: Array) -> list[list]:
    return [list(col) for col in zip(*arr.rows)] if arr.rows else []


def _t(arr: Array) -> Array:
    return Array(_cols(arr))


@xl("TRANSPOSE", ARRAY, ctx=True)
def TRANSPOSE(cx, arr):
    return _t(arr)


def _truthy(v):
    if isinstance(v, XLError):
        raise v
    if v is None:
        return False
    if isinstance(v, str):
        raise V.VALUE
    return bool(v)


@xl("FILTER", ARRAY, ARRAY, RAW, ctx=True)
def FILTER(cx, arr, include, if_empty=_MISSING):
    nr, nc = arr.nrows, arr.ncols
    if include.ncols == 1 and include.nrows == nr:
        keep = [_truthy(row[0]) for row in include.rows]
        rows = [row for row, k in zip(arr.rows, keep) if k]
        out = Array(rows) if rows else None
    elif include.nrows == 1 and include.ncols == nc:
        keep = [_truthy(v) for v in include.rows[0]]
        rows = [[v for v, k in zip(row, keep) if k] for row in arr.rows]
        out = Array(rows) if rows and rows[0] else None
    else:
        return V.VALUE
    if out is None:
        if if_empty is _MISSING:
            return V.CALC
        return None if if_empty is OMITTED else if_empty
    return out


_RANK_NUM, _RANK_TEXT, _RANK_BOOL, _RANK_ERR = 0, 1, 2, 3


def _rank(v) -> int:
    if isinstance(v, bool):
        return _RANK_BOOL
    if isinstance(v, float):
        return _RANK_NUM
    if isinstance(v, str):
        return _RANK_TEXT
    return _RANK_ERR


def _sort_cmp(a, b, desc: bool) -> int:
    """Sort order of SORT/SORTBY/GROUPBY: numbers < text < booleans < errors, blanks last
    in either direction; errors by their ERROR.TYPE number (#NULL! 1, #DIV/0! 2, #VALUE! 3,
    #REF! 4, #NAME? 5, #NUM! 6, #N/A 7: Excel's order, seen in Excel-saved workbooks)."""
    if a is None or b is None:
        if a is None and b is None:
            return 0
        return 1 if a is None else -1
    ra, rb = _rank(a), _rank(b)
    if ra != rb:
        c = -1 if ra < rb else 1
    elif ra == _RANK_ERR:
        ea = V.ERROR_TYPE.get(getattr(a, "code", ""), 99)
        eb = V.ERROR_TYPE.get(getattr(b, "code", ""), 99)
        c = (ea > eb) - (ea < eb)
    else:
        c = V.compare(a, b)
    return -c if desc else c


def _sort_rows(rows: list, keys: list[tuple[int, bool]]) -> list:
    """Rows sorted (stably) on (column index, descending) keys."""
    def cmp(x, y):
        for i, desc in keys:
            c = _sort_cmp(x[i], y[i], desc)
            if c:
                return c
        return 0
    return sorted(rows, key=cmp_to_key(cmp))


def _orders(cx, v, n: int) -> list[bool]:
    if v is _MISSING or v is None:
        return [False] * n
    ords = _flat_ints(cx, v)
    if any(o not in (1, -1) for o in ords):
        raise V.VALUE
    if len(ords) == 1:
        ords = ords * n
    if len(ords) != n:
        raise V.VALUE
    return [o == -1 for o in ords]


@xl("SORT", ARRAY, ARRAY, ARRAY, SCALAR, ctx=True)
def SORT(cx, arr, sort_index=_MISSING, sort_order=_MISSING, by_col=_MISSING):
    col_mode = False if by_col in (_MISSING, None) else V.to_bool(by_col)
    if isinstance(col_mode, XLError):
        return col_mode
    data = _t(arr) if col_mode else arr
    idx = [1] if sort_index is _MISSING or sort_index is None else _flat_ints(cx, sort_index)
    if any(i < 1 or i > data.ncols for i in idx):
        return V.VALUE
    desc = _orders(cx, sort_order, len(idx))
    rows = _sort_rows(data.rows, [(i - 1, d) for i, d in zip(idx, desc)])
    out = Array(rows)
    return _t(out) if col_mode else out


@xl("SORTBY", ARRAY, ARRAY, ctx=True)
def SORTBY(cx, arr, *by):
    if not by:
        return V.VALUE
    pairs = []
    i = 0
    while i < len(by):
        b = by[i]
        o = by[i + 1] if i + 1 < len(by) else _MISSING
        pairs.append((b, o))
        i += 2
    col_mode = None
    keys = []
    for b, o in pairs:
        if b is None:
            return V.VALUE
        if b.ncols == 1 and b.nrows == arr.nrows and (col_mode is not True):
            mode = False
            vec = [row[0] for row in b.rows]
        elif b.nrows == 1 and b.ncols == arr.ncols and (col_mode is not False):
            mode = True
            vec = list(b.rows[0])
        else:
            return V.VALUE
        if col_mode is None:
            col_mode = mode
        keys.append((vec, _orders(cx, o, 1)[0]))
    n = arr.ncols if col_mode else arr.nrows
    items = _cols(arr) if col_mode else arr.rows

    def cmp(x, y):
        for vec, desc in keys:
            c = _sort_cmp(vec[x], vec[y], desc)
            if c:
                return c
        return 0
    order = sorted(range(n), key=cmp_to_key(cmp))
    sel = [items[j] for j in order]
    return _t(Array(sel)) if col_mode else Array(sel)


def _ukey(v):
    if v is None:
        return ("blank",)
    if isinstance(v, XLError):
        return ("err", v.code)
    return _norm(v)


@xl("UNIQUE", ARRAY, SCALAR, SCALAR, ctx=True)
def UNIQUE(cx, arr, by_col=_MISSING, exactly_once=_MISSING):
    col_mode = False if by_col in (_MISSING, None) else V.to_bool(by_col)
    once = False if exactly_once in (_MISSING, None) else V.to_bool(exactly_once)
    for b in (col_mode, once):
        if isinstance(b, XLError):
            return b
    items = _cols(arr) if col_mode else arr.rows
    counts: dict = {}
    first: dict = {}
    for it in items:
        k = tuple(_ukey(v) for v in it)
        counts[k] = counts.get(k, 0) + 1
        if k not in first:
            first[k] = it
    sel = [first[k] for k in first if not once or counts[k] == 1]
    if not sel:
        return V.VALUE
    out = Array([list(r) for r in sel])
    return _t(out) if col_mode else out


@xl("SEQUENCE", SCALAR, SCALAR, SCALAR, SCALAR)
def SEQUENCE(rows, cols=_MISSING, start=_MISSING, step=_MISSING):
    for a in (rows, cols, start, step):
        if isinstance(a, XLError):
            return a
    nr = _int_arg(rows, 1)
    nc = _int_arg(cols, 1)
    s = 1.0 if start in (_MISSING, None) else V.to_number(start)
    d = 1.0 if step in (_MISSING, None) else V.to_number(step)
    for x in (s, d):
        if isinstance(x, XLError):
            return x
    if nr < 0 or nc < 0:
        return V.VALUE
    if nr == 0 or nc == 0:
        return V.CALC
    if nr > V.MAX_ARRAY_SIDE or nc > V.MAX_ARRAY_SIDE:
        return V.VALUE
    if V.too_large(nr, nc):
        return V.NUM
    return Array([[s + d * (r * nc + c) for c in range(nc)] for r in range(nr)])


# ---------------------------------------------------------------------------------------
# TAKE, DROP, CHOOSEROWS, CHOOSECOLS, EXPAND, HSTACK, VSTACK, TOCOL, TOROW, WRAPROWS,
# WRAPCOLS, TRIMRANGE
# ---------------------------------------------------------------------------------------

def _count_arg(cx, v, default):
    """A row/column count of TAKE/DROP/EXPAND: omitted -> default; a blank cell is 0."""
    if v is _MISSING or v is None or v is OMITTED:
        return default
    if isinstance(v, (Range, RefList)):
        v = _scalar(cx, v)
        if v is None:
            return 0
    return _int_arg(v, default)


def _lift(cx, fn, args: list):
    """Call fn(*args) elementwise when some of `args` are arrays (or multi-cell references
    in an array formula), Excel's broadcasting of scalar parameters; each call contributes
    its first value."""
    grid = []
    for a in args:
        if isinstance(a, (Range, RefList)) and cx.array_mode:
            if not (isinstance(a, Range) and a.is_cell):
                a = _to_array(cx, a)
        if isinstance(a, Array):
            grid.append(a)
    if not grid:
        return fn(*args)
    nr = max(a.nrows for a in grid)
    nc = max(a.ncols for a in grid)
    conv = [_to_array(cx, a) if isinstance(a, (Range, RefList)) and cx.array_mode
            and not (isinstance(a, Range) and a.is_cell) else a for a in args]
    rows = []
    for r in range(nr):
        row = []
        for c in range(nc):
            el = [a.get(r, c) if isinstance(a, Array) else a for a in conv]
            try:
                res = fn(*el)
            except XLError as e:
                res = e
            if isinstance(res, Array):
                res = res.rows[0][0]
            row.append(res)
        rows.append(row)
    return Array(rows)


def _take_range(n: int, k):
    if k is None:
        return 0, n
    if k == 0:
        raise V.VALUE
    if k > 0:
        return 0, min(k, n)
    return max(n + k, 0), n


def _drop_range(n: int, k):
    if k is None or k == 0:
        return 0, n
    if k > 0:
        return min(k, n), n
    return 0, max(n + k, 0)


def _slice(arr: Array, rr, cc) -> Array:
    r0, r1 = rr
    c0, c1 = cc
    if r0 >= r1 or c0 >= c1:
        raise V.VALUE
    return Array([row[c0:c1] for row in arr.rows[r0:r1]])


@xl("TAKE", ARRAY, RAW, RAW, ctx=True)
def TAKE(cx, arr, rows=_MISSING, cols=_MISSING):
    if rows is _MISSING:
        return V.VALUE

    def take(rows, cols):
        r = _count_arg(cx, rows, None)
        c = _count_arg(cx, cols, None)
        return _slice(arr, _take_range(arr.nrows, r), _take_range(arr.ncols, c))
    return _lift(cx, take, [rows, cols])


@xl("DROP", ARRAY, RAW, RAW, ctx=True)
def DROP(cx, arr, rows=_MISSING, cols=_MISSING):
    if rows is _MISSING:
        return V.VALUE

    def drop(rows, cols):
        r = _count_arg(cx, rows, None)
        c = _count_arg(cx, cols, None)
        return _slice(arr, _drop_range(arr.nrows, r), _drop_range(arr.ncols, c))
    return _lift(cx, drop, [rows, cols])


def _choose_idx(cx, nums, n: int) -> list[int]:
    if not nums:
        raise V.VALUE
    out = []
    for v in nums:
        if v is None:
            raise V.VALUE
        if isinstance(v, Array) and v.nrows > 1 and v.ncols > 1:
            raise V.VALUE
        for i in _flat_ints(cx, v):
            if i == 0 or abs(i) > n:
                raise V.VALUE
            out.append(i - 1 if i > 0 else n + i)
    return out


@xl("CHOOSEROWS", ARRAY, ARRAY, ctx=True)
def CHOOSEROWS(cx, arr, *nums):
    idx = _choose_idx(cx, nums, arr.nrows)
    return Array([list(arr.rows[i]) for i in idx])


@xl("CHOOSECOLS", ARRAY, ARRAY, ctx=True)
def CHOOSECOLS(cx, arr, *nums):
    idx = _choose_idx(cx, nums, arr.ncols)
    return Array([[row[i] for i in idx] for row in arr.rows])


@xl("EXPAND", ARRAY, RAW, RAW, RAW, ctx=True)
def EXPAND(cx, arr, rows, cols=_MISSING, pad=_MISSING):
    fill = V.NA if pad is _MISSING else _scalar(cx, pad)

    def expand(rows, cols):
        nr = _count_arg(cx, rows, arr.nrows)
        nc = _count_arg(cx, cols, arr.ncols)
        if nr < arr.nrows or nc < arr.ncols:
            raise V.VALUE
        if nr > MAX_ROW or nc > MAX_COL or V.too_large(nr, nc):
            raise V.NUM
        out = [list(row) + [fill] * (nc - arr.ncols) for row in arr.rows]
        out += [[fill] * nc for _ in range(nr - arr.nrows)]
        return Array(out)
    return _lift(cx, expand, [rows, cols])


@xl("HSTACK", ARRAY, ctx=True)
def HSTACK(cx, *arrs):
    arrs = [a if a is not None else Array([[None]]) for a in arrs]
    nr = max(a.nrows for a in arrs)
    out = [[] for _ in range(nr)]
    for a in arrs:
        for r in range(nr):
            if r < a.nrows:
                out[r].extend(a.rows[r])
            else:
                out[r].extend([V.NA] * a.ncols)
    return Array(out)


@xl("VSTACK", ARRAY, ctx=True)
def VSTACK(cx, *arrs):
    arrs = [a if a is not None else Array([[None]]) for a in arrs]
    nc = max(a.ncols for a in arrs)
    out = []
    for a in arrs:
        for row in a.rows:
            out.append(list(row) + [V.NA] * (nc - len(row)))
    return Array(out)


def _ignore_mode(v) -> tuple[bool, bool]:
    m = _int_arg(v, 0)
    if m not in (0, 1, 2, 3):
        raise V.VALUE
    return m in (1, 3), m in (2, 3)


def _to_vector(cx, arr: Array, ignore, by_col) -> list:
    skip_blank, skip_err = _ignore_mode(ignore)
    col_scan = False if by_col in (_MISSING, None) else V.to_bool(_scalar(cx, by_col))
    if isinstance(col_scan, XLError):
        raise col_scan
    items = (v for col in _cols(arr) for v in col) if col_scan else arr.flat()
    out = [v for v in items
           if not (skip_blank and v is None) and not (skip_err and isinstance(v, XLError))]
    if not out:
        raise V.CALC
    return out


@xl("TOCOL", ARRAY, SCALAR, SCALAR, ctx=True)
def TOCOL(cx, arr, ignore=_MISSING, by_col=_MISSING):
    return Array([[v] for v in _to_vector(cx, arr, ignore, by_col)])


@xl("TOROW", ARRAY, SCALAR, SCALAR, ctx=True)
def TOROW(cx, arr, ignore=_MISSING, by_col=_MISSING):
    return Array([_to_vector(cx, arr, ignore, by_col)])


def _wrap(cx, vec: Array, count, pad) -> list[list]:
    if vec.nrows != 1 and vec.ncols != 1:
        raise V.VALUE
    n = _int_arg(count)
    if n is None or n < 1:
        raise V.NUM
    items = list(vec.flat())
    fill = V.NA if pad is _MISSING else _scalar(cx, pad)
    out = [items[i:i + n] for i in range(0, len(items), n)]
    if out and len(out[-1]) < n:
        out[-1] = out[-1] + [fill] * (n - len(out[-1]))
    return out


@xl("WRAPROWS", ARRAY, SCALAR, RAW, ctx=True)
def WRAPROWS(cx, vec, count, pad=_MISSING):
    return Array(_wrap(cx, vec, count, pad))


@xl("WRAPCOLS", ARRAY, SCALAR, RAW, ctx=True)
def WRAPCOLS(cx, vec, count, pad=_MISSING):
    return _t(Array(_wrap(cx, vec, count, pad)))


def _trim_mode(v) -> int:
    if v is _MISSING or v is None or v is OMITTED:
        return 3
    n = V.to_number(v)
    if isinstance(n, XLError):
        raise n
    if n != int(n) or n not in (0, 1, 2, 3):
        raise V.VALUE
    return int(n)


@xl("TRIMRANGE", RAW, SCALAR, SCALAR, ctx=True)
def TRIMRANGE(cx, ref, trim_rows=_MISSING, trim_cols=_MISSING):
    if isinstance(ref, XLError):
        return ref
    tr, tc = _trim_mode(trim_rows), _trim_mode(trim_cols)
    if isinstance(ref, RefList):
        ref = _single_area(ref)
    arr = _to_array(cx, ref)
    nr, nc = arr.nrows, arr.ncols
    used_rows = [i for i, row in enumerate(arr.rows) if any(v is not None for v in row)]
    used_cols = [j for j in range(nc) if any(row[j] is not None for row in arr.rows)]
    if not used_rows:
        return V.REF
    r0, r1 = 0, nr - 1
    c0, c1 = 0, nc - 1
    if tr in (1, 3):
        r0 = used_rows[0]
    if tr in (2, 3):
        r1 = used_rows[-1]
    if tc in (1, 3):
        c0 = used_cols[0]
    if tc in (2, 3):
        c1 = used_cols[-1]
    if isinstance(ref, Range):
        return Range(ref.sheet, ref.r1 + r0, ref.c1 + c0, ref.r1 + r1, ref.c1 + c1)
    return Array([row[c0:c1 + 1] for row in arr.rows[r0:r1 + 1]])


# ---------------------------------------------------------------------------------------
# GROUPBY, PIVOTBY
# ---------------------------------------------------------------------------------------

def _agg_numbers(arr: Array) -> list[float]:
    out = []
    for v in arr.flat():
        if isinstance(v, XLError):
            raise v
        if isinstance(v, float):
            out.append(v)
    return out


def _percentof(subset: Array, total: Array):
    """PERCENTOF: SUM(data_subset) / SUM(data_all), each summed in order like SUM; an
    error value anywhere in either is #NUM!, whichever error it is (Excel-cached: every
    error kind in formulas/test.xlsx MATH & TRIG!W49:AF49)."""
    s = t = 0.0
    try:
        xs, ts = _agg_numbers(subset), _agg_numbers(total)
    except XLError:
        return V.NUM
    for x in xs:
        s += x
    for x in ts:
        t += x
    if t == 0:
        return V.DIV0
    return s / t


# used when the registry has no implementation of an eta-reduced aggregate
_NATIVE_AGG = {
    "SUM": lambda a: math.fsum(_agg_numbers(a)),
    "COUNT": lambda a: float(len(_agg_numbers(a))),
    "COUNTA": lambda a: float(sum(1 for v in a.flat() if v is not None)),
    "MAX": lambda a: max(_agg_numbers(a), default=0.0),
    "MIN": lambda a: min(_agg_numbers(a), default=0.0),
    "PRODUCT": lambda a: math.prod(_agg_numbers(a)),
}


class _Agg:
    """One aggregation of GROUPBY/PIVOTBY: call(subset, total) -> value."""

    __slots__ = ("name", "call")

    def __init__(self, name, call):
        self.name = name
        self.call = call


def _agg_from_value(cx, f, name_hint=None) -> _Agg:
    from ..evaluator.lambdas import EtaLambda, Lambda, call_lambda
    if isinstance(f, EtaLambda):          # a function passed by name (SUM, _xleta.SUM)
        return _agg_from_spec(cx, f.spec.name, f.spec)
    if isinstance(f, Lambda):
        if len(f.params) >= 2:
            return _Agg(name_hint or "LAMBDA", lambda a, t: call_lambda(f, [a, t], cx))
        return _Agg(name_hint or "LAMBDA", lambda a, t: call_lambda(f, [a], cx))
    if isinstance(f, FunctionSpec):
        return _agg_from_spec(cx, f.name, f)
    raise V.VALUE


def _agg_from_spec(cx, name: str, spec) -> _Agg:
    if name == "PERCENTOF":
        if spec is not None:
            return _Agg(name, lambda a, t: invoke(spec, cx, [a, t]))
        return _Agg(name, _percentof)
    if spec is not None:
        if spec.max_args < 1:
            return _Agg(name, lambda a, t: V.VALUE)
        return _Agg(name, lambda a, t: invoke(spec, cx, [a]))
    native = _NATIVE_AGG.get(name)
    if native is not None:
        return _Agg(name, lambda a, t: native(a))
    return _Agg(name, lambda a, t: V.VALUE)


def _eta_names(node):
    """Function names of an eta-reduced argument node (SUM, _xleta.SUM, HSTACK(SUM,MAX))."""
    from ..parser.ast import Func, Name
    if isinstance(node, Name) and node.sheet is None and node.book is None:
        return [re.sub(r"^_xleta\.", "", node.name, flags=re.I).upper()]
    if isinstance(node, Func) and node.name in ("HSTACK", "VSTACK") and node.args:
        out = []
        for a in node.args:
            got = _eta_names(a)
            if got is None:
                return None
            out.extend(got)
        return out
    return None


def _eta_from_formula(cx, fname: str, argpos: int):
    """The eta-reduced function names written as argument `argpos` of `fname` in the
    formula being evaluated (an eta name such as _xleta.SUM evaluates to #NAME? otherwise)."""
    from ..parser.ast import Func, walk
    ev = cx.ev
    try:
        shape = ev.cell_shape[cx.sheet].get((cx.row, cx.col))
    except (IndexError, AttributeError):
        return None
    if shape is None or shape.tree is None:
        return None
    for node in walk(shape.tree):
        if isinstance(node, Func) and node.name == fname and len(node.args) > argpos:
            got = _eta_names(node.args[argpos])
            if got:
                return got
    return None


def _aggregations(cx, f, fname: str, argpos: int) -> list[_Agg]:
    if isinstance(f, (Range, RefList)):
        f = _scalar(cx, f)
    if isinstance(f, Array):
        items = list(f.flat())
    else:
        items = [f]
    if any(isinstance(x, XLError) for x in items):
        names = _eta_from_formula(cx, fname, argpos)
        if names is None or not all(isinstance(x, XLError) and x == V.NAME for x in items):
            raise next(x for x in items if isinstance(x, XLError))
        return [_agg_from_spec(cx, n, cx.ev.function(n) if n != "PERCENTOF"
                               else cx.ev.function(n)) for n in names]
    return [_agg_from_value(cx, x) for x in items]


def _agg_value(agg: _Agg, subset: Array, total: Array):
    try:
        v = agg.call(subset, total)
    except XLError as e:
        return e
    except ZeroDivisionError:
        return V.DIV0
    except (ValueError, OverflowError):
        return V.NUM
    if isinstance(v, (Range, RefList)):
        v = V.VALUE if not (isinstance(v, Range) and v.is_cell) else None
    if isinstance(v, Array):
        v = v.rows[0][0] if v.rows else V.CALC
    if isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return V.NUM
    return "" if v is None else v


def _headers_mode(cx, fh, values: Array | None, n: int):
    """(has headers, show headers, generate names) from field_headers."""
    if fh is _MISSING or fh is None or fh is OMITTED:
        has = False
        if values is not None and n >= 2:
            a, b = values.rows[0][0], values.rows[1][0]
            has = isinstance(a, str) and isinstance(b, float)
        return has, False, False
    m = _int_arg(_scalar_any(fh))
    if m not in (0, 1, 2, 3):
        raise V.VALUE
    return m in (1, 3), m in (2, 3), m == 2


def _scalar_any(v):
    if isinstance(v, Array):
        return v.rows[0][0]
    return v


def _filter_rows(cx, filt, n: int, has_hdr: bool) -> list[int]:
    start = 1 if has_hdr else 0
    if filt is _MISSING or filt is None:
        return list(range(start, n))
    if filt.nrows != n:
        raise V.VALUE
    keep = []
    for i in range(n):
        v = filt.rows[i][0]
        if i < start:
            continue
        if isinstance(v, XLError):
            raise v
        if isinstance(v, str):
            raise V.VALUE
        if v:
            keep.append(i)
    return keep


def _sort_specs(cx, v, nfields: int, nvals: int) -> list[int]:
    if v is _MISSING or v is None or v is OMITTED:
        return []
    if isinstance(v, (Range, RefList)):
        v = _to_array(cx, v)
    items = list(v.flat()) if isinstance(v, Array) else [v]
    out = []
    for x in items:
        if x is None:
            continue
        n = _int_arg(x)
        if n == 0 or abs(n) > nfields + nvals:
            raise V.VALUE
        out.append(n)
    return out


class _Group:
    """A group on one axis: leaf, subtotal (prefix shorter than the levels) or total."""

    __slots__ = ("kind", "disp", "rows", "prefix")

    def __init__(self, kind, disp, rows, prefix):
        self.kind = kind            # 'leaf', 'sub', 'total'
        self.disp = disp            # display values of the prefix
        self.rows = rows            # data row indices
        self.prefix = prefix        # normalised key prefix


def _axis(keys: dict, levels: int, depth: int, specs: list[int], table: bool,
          value_key) -> tuple[list[_Group], dict]:
    """Order the groups of one axis and insert totals and subtotals.
    keys: normalised key tuple -> (display tuple, row indices).
    value_key(rows, j) -> aggregated value of value column j (for value sorts).
    Returns (groups in output order, prefix -> rows for every prefix)."""
    leaves = [(k, d, r) for k, (d, r) in keys.items()]
    field_dir = {}
    value_specs = []
    for s in specs:
        i = abs(s)
        if i <= levels:
            field_dir.setdefault(i - 1, s < 0)
        else:
            value_specs.append((i - levels - 1, s < 0))
    vcache = {}

    def vkey(leaf, j):
        key = (leaf[0], j)
        if key not in vcache:
            vcache[key] = value_key(leaf[2], j)
        return vcache[key]

    def field_cmp(a, b, l):
        return _sort_cmp(_blank_none(a[1][l]), _blank_none(b[1][l]), field_dir.get(l, False))

    def cmp(a, b):
        if table:
            order = []
            for s in specs:
                i = abs(s)
                order.append(("f", i - 1) if i <= levels else ("v", i - levels - 1))
            for l in range(levels):
                if ("f", l) not in order:
                    order.append(("f", l))
            for kind, i in order:
                if kind == "f":
                    c = field_cmp(a, b, i)
                else:
                    c = _sort_cmp(vkey(a, i), vkey(b, i), dict(value_specs)[i])
                if c:
                    return c
            return 0
        for l in range(levels):
            if value_specs and l == levels - 1:
                for j, desc in value_specs:
                    c = _sort_cmp(vkey(a, j), vkey(b, j), desc)
                    if c:
                        return c
            c = field_cmp(a, b, l)
            if c:
                return c
        return 0
    leaves.sort(key=cmp_to_key(cmp))
    prefix_rows: dict = {(): []}
    for k, d, rows in leaves:
        prefix_rows[()].extend(rows)
        for p in range(1, levels + 1):
            prefix_rows.setdefault(k[:p], []).extend(rows)
    sub_levels = [] if table else list(range(1, min(abs(depth), levels + 1)))
    sub_levels = [p for p in sub_levels if p < levels]
    out: list[_Group] = []
    top = depth < 0
    n = len(leaves)
    for i, (k, d, rows) in enumerate(leaves):
        if top:
            for p in sub_levels:
                if i == 0 or leaves[i - 1][0][:p] != k[:p]:
                    out.append(_Group("sub", d[:p], prefix_rows[k[:p]], k[:p]))
        out.append(_Group("leaf", d, rows, k))
        if not top:
            for p in reversed(sub_levels):
                if i == n - 1 or leaves[i + 1][0][:p] != k[:p]:
                    out.append(_Group("sub", d[:p], prefix_rows[k[:p]], k[:p]))
    if depth != 0:
        total = _Group("total", (), prefix_rows[()], ())
        if top:
            out.insert(0, total)
        else:
            out.append(total)
    return out, prefix_rows


def _blank_none(v):
    return None if v == "" else v


def _total_label(depth: int, levels: int, table: bool) -> str:
    return "Grand Total" if (not table and abs(depth) >= 2 and levels >= 2) else "Total"


def _group_keys(fields: Array, rows: list[int]) -> dict:
    keys: dict = {}
    for i in rows:
        vals = fields.rows[i]
        k = tuple(_ukey(v) for v in vals)
        got = keys.get(k)
        if got is None:
            keys[k] = (tuple("" if v is None else v for v in vals), [i])
        else:
            got[1].append(i)
    return keys


def _labels(g: _Group, levels: int, total_label: str) -> list:
    if g.kind == "total":
        return [total_label] + [""] * (levels - 1)
    return list(g.disp) + [""] * (levels - len(g.disp))


def _column_subset(values: Array, j: int, rows) -> Array:
    return Array([[values.rows[i][j]] for i in rows])


def _depth_arg(v, default: int, levels: int) -> int:
    d = _int_arg(_scalar_any(v), default)
    d = default if d is None else d
    if abs(d) > max(levels, 1):
        raise V.VALUE            # subtotals deeper than the fields
    return d


def _relationship(v) -> bool:
    m = _int_arg(_scalar_any(v), 0)
    if m not in (0, 1):
        raise V.VALUE
    return m == 1


def _check_rows(n, *arrs):
    for a in arrs:
        if a is not None and a.nrows != n:
            raise V.VALUE


@xl("GROUPBY", ARRAY, ARRAY, RAW, RAW, RAW, RAW, ARRAY, RAW, ctx=True)
def GROUPBY(cx, row_fields, values, function, field_headers=_MISSING, total_depth=_MISSING,
            sort_order=_MISSING, filter_array=_MISSING, field_relationship=_MISSING):
    if row_fields is None:
        return V.VALUE
    n = row_fields.nrows
    _check_rows(n, values)
    aggs = _aggregations(cx, function, "GROUPBY", 2) if values is not None else []
    has_hdr, show_hdr, gen = _headers_mode(cx, field_headers, values, n)
    table = _relationship(field_relationship)
    kr = row_fields.ncols
    kv = values.ncols if values is not None else 0
    nval = kv * len(aggs)
    depth = _depth_arg(total_depth, 1, kr)
    specs = _sort_specs(cx, sort_order, kr, nval)
    rows = _filter_rows(cx, filter_array, n, has_hdr)
    if not rows:
        return V.CALC
    allrows = rows
    cols = [(a, j) for a in aggs for j in range(kv)]

    def value_of(rs, j):
        a, vj = cols[j]
        return _agg_value(a, _column_subset(values, vj, rs),
                          _column_subset(values, vj, allrows))
    groups, _ = _axis(_group_keys(row_fields, rows), kr, depth, specs, table, value_of)
    label = _total_label(depth, kr, table)
    out = []
    if show_hdr:
        if gen:
            names = [f"Row Field {i + 1}" if kr > 1 else "Row Field" for i in range(kr)]
            vnames = [f"Value {j + 1}" if kv > 1 else "Value" for _a, j in cols]
        else:
            names = ["" if v is None else v for v in row_fields.rows[0]]
            vnames = ["" if values.rows[0][j] is None else values.rows[0][j] for _a, j in cols]
        if len(aggs) > 1:
            vnames = [f"{a.name}" if not vn else f"{vn}" for (a, _j), vn in zip(cols, vnames)]
        out.append(names + vnames)
    for g in groups:
        out.append(_labels(g, kr, label) + [value_of(g.rows, j) for j in range(nval)])
    return Array(out)


@xl("PIVOTBY", ARRAY, ARRAY, ARRAY, RAW, RAW, RAW, RAW, RAW, RAW, ARRAY, RAW, ctx=True)
def PIVOTBY(cx, row_fields, col_fields, values, function, field_headers=_MISSING,
            row_total_depth=_MISSING, row_sort_order=_MISSING, col_total_depth=_MISSING,
            col_sort_order=_MISSING, filter_array=_MISSING, relative_to=_MISSING):
    if row_fields is None or col_fields is None or values is None:
        return V.VALUE
    n = row_fields.nrows
    _check_rows(n, col_fields, values)
    aggs = _aggregations(cx, function, "PIVOTBY", 3)
    has_hdr, show_hdr, gen = _headers_mode(cx, field_headers, values, n)
    kr, kc, kv = row_fields.ncols, col_fields.ncols, values.ncols
    nval = kv * len(aggs)
    rdepth = _depth_arg(row_total_depth, 1, kr)
    cdepth = _depth_arg(col_total_depth, 1, kc)
    rspecs = _sort_specs(cx, row_sort_order, kr, nval)
    cspecs = _sort_specs(cx, col_sort_order, kc, nval)
    rel = _int_arg(_scalar_any(relative_to), 0)
    if rel not in (0, 1, 2, 3, 4):
        return V.VALUE
    rows = _filter_rows(cx, filter_array, n, has_hdr)
    if not rows:
        return V.CALC
    cols = [(a, j) for a in aggs for j in range(kv)]
    allrows = rows

    def agg(rs, j, denom):
        a, vj = cols[j]
        if not rs:
            return ""
        return _agg_value(a, _column_subset(values, vj, rs), _column_subset(values, vj, denom))

    def value_of(rs, j):
        return agg(rs, j, allrows)
    rgroups, rprefix = _axis(_group_keys(row_fields, rows), kr, rdepth, rspecs, False,
                             value_of)
    cgroups, cprefix = _axis(_group_keys(col_fields, rows), kc, cdepth, cspecs, False,
                             value_of)
    rlabel = _total_label(rdepth, kr, False)
    clabel = _total_label(cdepth, kc, False)

    def parent_rows(g: _Group, prefix_rows):
        if g.kind == "total" or len(g.prefix) <= 1:
            return prefix_rows[()]
        return prefix_rows[g.prefix[:-1]]

    out = []
    if show_hdr:
        if gen:
            cnames = [f"Col Field {i + 1}" if kc > 1 else "Col Field" for i in range(kc)]
        else:
            cnames = ["" if v is None else V.to_text(v) for v in col_fields.rows[0]]
        top = [""] * kr + [", ".join(str(x) for x in cnames)] + [""] * (
            len(cgroups) * nval - 1)
        out.append(top)
    for level in range(kc):
        row = [""] * kr
        for g in cgroups:
            lab = _labels(g, kc, clabel)[level]
            row.extend([lab] * nval)
        out.append(row)
    if show_hdr:
        if gen:
            names = [f"Row Field {i + 1}" if kr > 1 else "Row Field" for i in range(kr)]
            vnames = [f"Value {j + 1}" if kv > 1 else "Value" for _a, j in cols]
        else:
            names = ["" if v is None else v for v in row_fields.rows[0]]
            vnames = ["" if values.rows[0][j] is None else values.rows[0][j] for _a, j in cols]
        out.append(names + vnames * len(cgroups))
    cset = [set(g.rows) for g in cgroups]
    for rg in rgroups:
        line = _labels(rg, kr, rlabel)
        for cg, cs in zip(cgroups, cset):
            cell_rows = [i for i in rg.rows if i in cs]
            if rel == 0:
                denom = cg.rows
            elif rel == 1:
                denom = rg.rows
            elif rel == 2:
                denom = allrows
            elif rel == 3:
                prs = set(parent_rows(cg, cprefix))
                denom = [i for i in rg.rows if i in prs]
            else:
                prs = parent_rows(rg, rprefix)
                denom = [i for i in prs if i in cs]
            for j in range(nval):
                line.append(agg(cell_rows, j, denom))
        out.append(line)
    return Array(out)


# ---------------------------------------------------------------------------------------
# Linked data types (Stocks, Geography...): field access
# ---------------------------------------------------------------------------------------

def _field_value(value, field_name):
    """A field of a linked data type value (values.Entity, read from the workbook's rich
    data): the number, text or logical it holds, a nested entity (which shows as #VALUE! in
    a cell, as Excel saves it), or an array (which spills). #FIELD! when the entity has no
    such field, #VALUE! when `value` is not an entity; other errors pass through."""
    if isinstance(value, Entity):
        v = value.field(field_name)
        return Array([[x if x is not None else 0.0 for x in row] for row in v.rows]) \
            if isinstance(v, Array) else v
    if isinstance(value, XLError):
        return value
    return V.VALUE


@xl("FIELDVALUE", ANY, TEXT)
def FIELDVALUE(value, field_name):
    """FIELDVALUE(value, field_name): the field `field_name` of the linked data type in
    `value`."""
    return _field_value(value, field_name)


@xl("_FV", ANY, TEXT, ANY)
def _FV(value, field_name, flag=None):
    """How a file stores the dot notation `=A9.High` (`_FV(A9,"High")`). Excel writes a
    third argument TRUE for some fields (in sheetjs/metadata_2019.xlsx: "Leader(s)", a name
    the dot notation must bracket, A2.[Leader(s)]); it is not documented, and the values
    Excel cached for those cells are the field's value itself, so it is accepted and does
    not change the result."""
    return _field_value(value, field_name)
