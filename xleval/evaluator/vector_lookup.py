"""Vectorized exact-match lookups: a copied-down VLOOKUP, MATCH, INDEX/MATCH or INDEX unit.

`=VLOOKUP(B2,Products!$A$2:$D$1001,3,FALSE)` copied down 10,000 rows costs 10,000 walks of
the compiled closures (a Context, a Range per argument, the registry's conversions, the
lookup vector fetched from the cache) around what is, per row, one dictionary lookup. For a
unit whose whole formula is one of these shapes

    VLOOKUP(key, $table, column, FALSE)        MATCH(key, $vector, 0)
    INDEX($vector, MATCH(key, $vector2, 0))    INDEX($vector, key)
    SUMIFS($sum, $range, key, $range2, "literal", ...) and SUMIF, COUNTIF(S),
    AVERAGEIF(S), MAXIFS, MINIFS with one key cell among their criteria

(`key` a single cell, `$...` an absolute range, the other arguments number or logical
literals), the unit's keys are read at once, each found in the lookup vector's first-
position dictionary -- the very index the scalar path's `_find_exact` consults, built from
the same values with the same keys -- and the result cells read directly. The
conditional aggregates, whose result is a function of the key's value alone, are evaluated
once per distinct key value by the per-cell path itself and the value shared.

The same rule as vector.py: a fast path beside the closures, never a second set of
semantics. A row is left pending for the scalar path whenever anything about it is unusual:
a key that is not a number, a plain text (no wildcard, at most 255 characters) or a blank;
a result cell still pending; an INDEX position below 1. The whole unit is left to the scalar
path when the lookup vector cannot be cached (short, iterative calculation) or still has a
pending cell.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

from .. import values as V
from ..functions.lookup import _vector_of_range as lookup_vector   # the scalar path's own
from ..functions import registry as R
from ..functions.criteria import has_wildcards
from ..parser.ast import Func, Literal, Ref
from ..refs import MAX_COL, MAX_ROW
from .engine import PENDING, NeedCell
from .refs import Range
from .vector import Unsupported, ref_sheet   # (the shape is not one of the lookups here)

_BAD = -2                      # a position the fast path leaves to the scalar path
_BEYOND = -3                   # a position past the end of INDEX's vector: #REF!
_SKIP = object()               # a value the fast path leaves to the scalar path


@dataclass(frozen=True, slots=True)
class LookupProgram:
    """A lookup shape compiled for the vector path. kind: 'vlookup' (result: column `col`
    of `table`), 'match' (the position), 'index_match' (the position in `result`),
    'index' (the key is the position in `result`)."""
    kind: str                   # (or 'by_key': SUMIFS & co., see _by_key)
    key: tuple                  # (sheet, row, row_abs, col, col_abs) of the key cell
    search: Range | None        # the range whose first column (vertical) / row is searched
    vertical: bool
    result: Range | None        # VLOOKUP's table, INDEX's vector
    col: int = 0                # VLOOKUP's column (1-based)


def compile_lookup(engine, tree, sheet: int) -> LookupProgram:
    """The LookupProgram of a shape's tree; Unsupported when it is not one of the shapes."""
    if type(tree) is not Func:
        raise Unsupported("not a function call")
    name, args = tree.name, tree.args
    if name == "VLOOKUP" and len(args) == 4:
        table = _abs_range(engine, args[1], sheet)
        col = _literal_int(args[2])
        if not 1 <= col <= table.ncols or _literal_number(args[3]) != 0.0:
            raise Unsupported("not an exact VLOOKUP of a column inside the table")
        return LookupProgram("vlookup", _key(engine, args[0], sheet), table, True, table, col)
    if name == "MATCH":
        key, search, vertical = _exact_match(engine, tree, sheet)
        return LookupProgram("match", key, search, vertical, None)
    if name in _BY_KEY and len(args) >= 2:
        return _by_key(engine, tree, sheet)
    if name == "INDEX" and len(args) == 2:
        result = _abs_range(engine, args[0], sheet)
        if result.nrows != 1 and result.ncols != 1:
            raise Unsupported("a 2-D INDEX range")
        if type(args[1]) is Func and args[1].name == "MATCH":
            key, search, vertical = _exact_match(engine, args[1], sheet)
            return LookupProgram("index_match", key, search, vertical, result)
        return LookupProgram("index", _key(engine, args[1], sheet), None, True, result)
    raise Unsupported(name)


# the conditional aggregates: their ranges are references (never intersected with the
# formula's cell), so with absolute ranges and one key cell among the criteria the result
# is a function of the key's value alone. name -> (first criterion position, step)
_BY_KEY = {"SUMIF": (1, 9), "COUNTIF": (1, 9), "AVERAGEIF": (1, 9), "SUMIFS": (2, 2),
           "COUNTIFS": (1, 2), "AVERAGEIFS": (2, 2), "MAXIFS": (2, 2), "MINIFS": (2, 2)}


def _by_key(engine, tree: Func, sheet: int) -> LookupProgram:
    """SUMIFS & co. with absolute ranges, literal criteria and one key cell as a criterion:
    evaluated once per distinct key value (kind 'by_key')."""
    first, step = _BY_KEY[tree.name]
    key = None
    for i, a in enumerate(tree.args):
        if i < first or (i - first) % step:     # a range: absolute (never intersected)
            _abs_range(engine, a, sheet)        # (raises for anything else)
            continue
        # a criterion: a literal, one absolute cell, or the key cell (a criterion range
        # would be intersected with the formula's own row or column)
        if type(a) is Literal:
            continue
        k = _key(engine, a, sheet)
        if k[2] and k[4]:                       # $F$1: the same value for every cell
            continue
        if key is not None:
            raise Unsupported("more than one key cell")
        key = k
    if key is None:
        raise Unsupported("no key cell")
    return LookupProgram("by_key", key, None, True, None)


def _eval_by_key(engine, s: int, cells: list[tuple[int, int]], keys: list) -> int:
    """One evaluation (the per-cell path's own) per distinct key value, its value given to
    every cell with that key. Cells whose key is pending stay pending."""
    groups: dict = {}
    for k, x in zip(cells, keys):
        if x is not PENDING:
            groups.setdefault((type(x), x), []).append(k)
    if len(groups) * 4 > len(cells):
        return 0                # mostly distinct keys: nothing to share
    d = engine.cells[s]
    done = 0
    for members in groups.values():
        rep = members[0]
        try:
            engine.eval_cell(s, *rep)
        except NeedCell:
            return done         # what is stored is final; the rest waits for its inputs
        v = d[rep]
        d.update(zip(members, repeat(v)))
        done += len(members)
    return done


def _exact_match(engine, node: Func, sheet: int) -> tuple[tuple, Range, bool]:
    if len(node.args) != 3 or _literal_number(node.args[2]) != 0.0:
        raise Unsupported("not an exact MATCH")
    search = _abs_range(engine, node.args[1], sheet)
    if search.nrows != 1 and search.ncols != 1:
        raise Unsupported("a 2-D MATCH range")
    return _key(engine, node.args[0], sheet), search, search.ncols == 1


def _abs_range(engine, node, sheet: int) -> Range:
    if type(node) is not Ref or not (node.row1_abs and node.col1_abs and node.row2_abs
                                     and node.col2_abs):
        raise Unsupported("not an absolute range")
    s = ref_sheet(engine, node, sheet)
    return Range(s, min(node.row1, node.row2), min(node.col1, node.col2),
                 max(node.row1, node.row2), max(node.col1, node.col2))


def _key(engine, node, sheet: int) -> tuple:
    if (type(node) is not Ref or node.row1 != node.row2 or node.col1 != node.col2
            or node.row1_abs != node.row2_abs or node.col1_abs != node.col2_abs):
        raise Unsupported("the key is not a single cell")
    return (ref_sheet(engine, node, sheet), node.row1, node.row1_abs, node.col1,
            node.col1_abs)


def _literal_number(node) -> float | None:
    """A number or logical literal as a number (what the functions' own conversions give)."""
    if type(node) is Literal and type(node.value) in (float, bool):
        return float(node.value)
    return None


def _literal_int(node) -> int:
    v = _literal_number(node)
    if v is None or v != int(v):
        raise Unsupported("not an integral literal")
    return int(v)


# ----------------------------------------------------------------------------------------
# running a program over a unit's cells
# ----------------------------------------------------------------------------------------

def _keys(engine, prog: LookupProgram, cells: list[tuple[int, int]]) -> list | None:
    """The key cell's value for every cell (None when a relative key leaves the sheet)."""
    s, ro, ra, co, ca = prog.key
    rows = [r for r, _ in cells]
    cols = [c for _, c in cells]
    if not ra and not (1 <= min(rows) + ro and max(rows) + ro <= MAX_ROW):
        return None
    if not ca and not (1 <= min(cols) + co and max(cols) + co <= MAX_COL):
        return None
    rr = repeat(ro) if ra else map(ro.__add__, rows)
    cc = repeat(co) if ca else map(co.__add__, cols)
    return list(map(engine.cells[s].get, zip(rr, cc)))


def _positions(first: dict, keys: list) -> list[int]:
    """Each key's first position (-1: not found, _BAD: left to the scalar path), as
    _match_pos(vec, key, 0) finds it: numbers by their 15-digit value, text without case,
    a blank key matching nothing."""
    out = []
    get = first.get
    round15 = V.round15
    for x in keys:
        t = type(x)
        if t is float:
            out.append(get(round15(x), -1))
        elif t is str:
            out.append(get(x.lower(), -1) if len(x) <= 255 and not has_wildcards(x) else _BAD)
        elif x is None:
            out.append(-1)
        else:                   # a logical, an error, a pending cell
            out.append(_BAD)
    return out


def _cell_values(engine, rng: Range, at: list[int], vertical: bool, col: int = 1) -> list:
    """The value at each position (0-based) along `rng` (its column `col` when vertical),
    as the formula shows it (a blank is 0); -1 is #N/A, _BEYOND #REF!, and _BAD or a
    pending cell _SKIP."""
    get = engine.cells[rng.sheet].get
    out = []
    r1, c1 = rng.r1, rng.c1
    for i in at:
        if i < 0:
            out.append(V.NA if i == -1 else V.REF if i == _BEYOND else _SKIP)
            continue
        v = get((r1 + i, c1 + col - 1) if vertical else (r1 + col - 1, c1 + i))
        out.append(0.0 if v is None else _SKIP if v is PENDING else v)
    return out


def eval_lookup_unit(engine, s: int, cells: list[tuple[int, int]],
                     prog: LookupProgram) -> int:
    """Store the values of the cells of `cells` the fast path is exact for; how many."""
    keys = _keys(engine, prog, cells)
    if keys is None:
        return 0
    if prog.kind == "by_key":
        return _eval_by_key(engine, s, cells, keys)
    if prog.kind == "index":
        # INDEX(vector, k): k truncated; 1..n the k-th cell, beyond #REF!, the rest (0: the
        # whole vector, negative, text, logicals...) to the scalar path
        n = _length(prog.result)
        at = [(int(k) - 1 if k < n + 1 else _BEYOND) if type(k) is float and k >= 1.0
              else _BAD for k in keys]
        return _store(engine, s, cells, _cell_values(engine, prog.result, at,
                                                     prog.result.ncols == 1))
    cx = R.Context(engine, s, cells[0][0], cells[0][1])
    try:
        vec = lookup_vector(cx, prog.search, prog.vertical)
    except NeedCell:
        return 0                # the vector is not computed yet: the scalar path waits
    if vec.entry is None:
        return 0                # not cached (short vector, iterative calculation)
    at = _positions(vec.entry.first_positions(len(keys)), keys)
    if prog.kind == "match":
        vals = [float(i + 1) if i >= 0 else V.NA if i == -1 else _SKIP for i in at]
    elif prog.kind == "vlookup":
        vals = _cell_values(engine, prog.result, at, True, prog.col)
    else:                       # index_match: the MATCH position in the INDEX vector
        n = _length(prog.result)
        vals = _cell_values(engine, prog.result, [_BEYOND if i >= n else i for i in at],
                            prog.result.ncols == 1)
    return _store(engine, s, cells, vals)


def _length(rng: Range) -> int:
    """The number of positions of an INDEX vector (a column, else a row)."""
    return rng.nrows if rng.ncols == 1 else rng.ncols


def _store(engine, s: int, cells: list, vals: list) -> int:
    d = engine.cells[s]
    if any(v is _SKIP for v in vals):
        got = [(k, v) for k, v in zip(cells, vals) if v is not _SKIP]
        d.update(got)
        return len(got)
    d.update(zip(cells, vals))
    return len(cells)
