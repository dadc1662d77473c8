"""The evaluation engine: the value store of every sheet, shape compilation, reference
resolution, and the evaluation of formula cells in the order the dependency graph gives.

Dynamic references (INDIRECT, OFFSET, `A1:INDEX(...)`, names built at run time) are
resolved at evaluation time: a read of a formula cell that has not been computed yet raises
`NeedCell`, the driver pushes that cell on an explicit stack, computes it, and evaluates the
reader again. The static graph orders everything it can see, so this fallback is rare, and
it never recurses (a 1,000,000-cell chain calculates).
"""
from __future__ import annotations

import math
import re
import time
from array import array
from dataclasses import dataclass, field
from itertools import chain, islice, product, repeat
from operator import is_

from .. import values as V
from ..functions import registry as R
from ..loader.model import FormulaCell, WorkbookData
from ..parser.ast import Func, Name, Node, StructRef, walk
from ..parser.parser import (TOO_DEEP, fast_shape_key, parse, parse_template, shape_key,
                             skeleton_key, template_builder)
from ..parser.tokenizer import FormulaSyntaxError, tokenize
from ..refs import MAX_COL, MAX_ROW, cell_name
from ..values import Array, XLError
from .compiler import SPECIAL_FORMS, CompileInfo, Compiler
from .refs import Range, RefList


class _Pending:
    __slots__ = ()

    def __repr__(self):
        return "<pending>"


PENDING = _Pending()
# family members findable by their numbers while preparing: the last this many made
MEMBER_WINDOW = 4096


class NeedCell(Exception):
    """Raised when a formula reads a formula cell that has not been computed yet."""

    def __init__(self, key: tuple[int, int, int]):
        self.key = key


@dataclass(slots=True)
class Shape:
    """One compiled formula shape (shared by every cell with the same R1C1 form)."""
    id: int
    key: str
    sheet: int
    array: bool
    fn: object
    tree: Node | None
    info: CompileInfo
    error: str | None = None       # parse error message
    text: str = ""
    origin: tuple[int, int] = (1, 1)
    # shapes that differ only in number literals share a family (the id of the first):
    # the same references, names and functions, so the graph scans one tree per family
    family: int = -1
    k: tuple | None = None         # a family member's numbers: only FamilyShape has them


class FamilyShape:
    """A shape of a family other than its first (see Engine._family_shape): one per cell
    where hand-typed constants make every cell its own shape, so it holds only what is its
    own (its id, its closure `fn`, read for every cell evaluated, and the formula `_fc` it
    was made from) and reads the rest from `_fam`, its _Family: what the family shares
    (sheet, array or not, compile info, tree builder) and its numbers, from `k0` in the
    family's flat array `nums`. Kept per cell,
    the numbers cost a tuple and a float object per number (~140 B a cell), against 8 B a
    number in the array; where they start is in one array for all shapes (an int object
    per cell otherwise). Its tree (the template's with these numbers) is built only if
    something asks for it (the vector path, checks), as most members are evaluated and
    never inspected."""

    __slots__ = ("id", "fn", "_fam", "_fc")
    error = None

    def __init__(self, id: int, fn, fam: _Family, fc: FormulaCell):
        self.id = id
        self.fn = fn
        self._fam = fam
        self._fc = fc

    @property
    def array(self) -> bool:
        return self._fam.base.array

    @property
    def family(self) -> int:
        return self._fam.base.family

    @property
    def k0(self) -> int:
        """Where its numbers start in `nums`."""
        return self._fam.k0s[self.id]

    @property
    def nums(self):
        """The family's flat array of numbers: this member's are nums[k0:] (Context.k)."""
        return self._fam.nums

    @property
    def k(self) -> tuple[float, ...]:
        """Its numbers, in text order."""
        fam = self._fam
        k0 = fam.k0s[self.id]
        return tuple(fam.nums[k0:k0 + len(fam.slots)])

    @property
    def sheet(self) -> int:
        return self._fam.base.sheet

    @property
    def text(self) -> str:
        return self._fc.text

    @property
    def origin(self) -> tuple[int, int]:
        return self._fc.origin

    @property
    def info(self) -> CompileInfo:
        return self._fam.base.info

    @property
    def key(self) -> str:
        """The fast shape key, made again when asked (not kept: it is a string per cell)."""
        return skeleton_key(self.text, self.origin)[2]

    @property
    def tree(self) -> Node | None:
        trees = self._fam.trees
        t = trees.get(self.id)
        if t is None:
            try:
                t = self._fam.built[0](list(self.k))
            except RecursionError:         # as deep as the template, which parsed: unlikely
                return None
            trees[self.id] = t
        return t

    def __repr__(self) -> str:
        return f"FamilyShape(id={self.id}, family={self.family}, k={self.k}, text={self.text!r})"


class _Family:
    """A family's record (see Engine._family_shape): its template (`base`, the first
    member's Shape) and number `slots` (the template's Literal nodes that become
    parameters), once a second member comes the (tree builder, family closure) pair
    (`built`), its members by their numbers (`members`: None once prepared, see
    _family_shape), the _Shared of a formula met on another sheet first (`shared`, else
    None: the family closure is then sheet-free, compiled once for all those sheets), every
    member's numbers one after the other (`nums`, doubles), the engine's array of where
    each shape's numbers start in its family's (`k0s`, by shape id), members' trees once
    built (`trees`, by shape id)."""

    __slots__ = ("base", "slots", "built", "members", "shared", "nums", "k0s", "trees")

    def __init__(self, base: Shape, slots: list, shared: _Shared | None, k0s: array):
        self.base = base
        self.slots = slots
        self.built = None
        self.members: dict | None = {}
        self.shared = shared
        self.nums = array("d")
        self.k0s = k0s
        self.trees: dict = {}


class _Shared:
    """One parse and compile of a formula for every sheet that holds it (see
    Engine._shared_shape): its R1C1 key, tree and compile info, the number slots of its
    family (None when the family is not usable), and, made when a second sheet holds the
    formula, the sheet-free closure and family (tree builder, closure), and the sheet-free
    vector program once asked for (vector.program_for; False: outside the vector path)."""

    __slots__ = ("key", "tree", "info", "slots", "fn", "fam", "vec")

    def __init__(self, key: str, tree: Node, info: CompileInfo, slots: list | None):
        self.key = key
        self.tree = tree
        self.info = info
        self.slots = slots
        self.fn = None
        self.fam = None
        self.vec = None


@dataclass
class RunReport:
    formulas: int = 0
    shapes: int = 0
    evaluated: int = 0
    parse_errors: list[tuple[str, str, str]] = field(default_factory=list)  # cell, formula, why
    unsupported: dict[str, int] = field(default_factory=dict)                 # name -> cells
    cycles: list[list[str]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)                      # code -> cells
    timings: dict[str, float] = field(default_factory=dict)
    iterations: int = 0
    warnings: list[str] = field(default_factory=list)
    recalculated: int = 0      # formula cells the last calculate() evaluated (incremental)
    layers: int = 0            # the plan's layers, set when the graph is built
    vectorized: int = 0        # formula cells the last run evaluated on the vector path
    # unknown="cached": formula cells that kept Excel's cached value, and per unknown
    # function the cells calling it (see evaluator/unknown.py)
    kept_cached: int = 0
    kept_functions: dict[str, int] = field(default_factory=dict)

    def to_json(self, workbook: str) -> dict:
        """The report as `xleval calc --report` writes it (the Dask executor too)."""
        return {"workbook": workbook, "formulas": self.formulas, "shapes": self.shapes,
                "errors": self.errors, "cycles": self.cycles, "unsupported": self.unsupported,
                "kept_cached": self.kept_cached, "kept_functions": self.kept_functions,
                "parse_errors": [{"cell": c, "formula": f, "error": e}
                                 for c, f, e in self.parse_errors],
                "timings": self.timings, "warnings": self.warnings}


_LAMBDA_PREFIX = re.compile(r"^_xlpm\.", re.I)


class Engine:
    def __init__(self, wb: WorkbookData, *, now: float | None = None, unknown: str = "name"):
        self.wb = wb
        self.now = now
        # formulas calling a function nobody implements: 'name' (#NAME?) or 'cached'
        # (Excel's cached value); fixed when shapes compile (see unknown.py)
        self.unknown = unknown
        self.kept: set[tuple[int, int, int]] = set()     # cells keeping a cached value
        self.sheet_names: list[str] = [s.name for s in wb.sheets]
        self.cells: list[dict] = [dict(s.values) for s in wb.sheets]
        self.formulas: list[dict[tuple[int, int], FormulaCell]] = [s.formulas for s in wb.sheets]
        self.extent: list[list[int]] = [[s.max_row, s.max_col] for s in wb.sheets]
        self.n_local = len(wb.sheets)
        self.ext_index: dict[tuple[int, str], int] = {}
        for eb in wb.externals:
            # a linked sheet with no cached cells at all cannot be read: #REF! like Excel
            for sname in [n for n in (eb.sheet_names or list(eb.values)) if eb.values.get(n)]:
                idx = len(self.sheet_names)
                self.sheet_names.append(f"[{eb.index}]{sname}")
                vals = dict(eb.values.get(sname, {}))
                self.cells.append(vals)
                self.formulas.append({})
                mr = max((r for r, _ in vals), default=0)
                mc = max((c for _, c in vals), default=0)
                self.extent.append([mr, mc])
                self.ext_index[(eb.index, sname.lower())] = idx
        self._sheet_idx = {n.lower(): i for i, n in enumerate(self.sheet_names[:self.n_local])}
        self.names: dict[tuple[int | None, str], object] = {}
        for dn in wb.names:
            self.names[(dn.scope, dn.name.upper())] = dn
        self._name_trees: dict = {}
        self.tables = {t.name.upper(): t for t in wb.tables}
        self.compiler = Compiler(self)
        self.shapes: list[Shape] = []
        # per (sheet, array formula or not) as 2 * sheet + array: shape keys -> shape, and
        # skeleton keys -> _Family | False (families); no key tuple kept per cell
        self._shape_by_key: dict[int, dict[str, Shape]] = {}
        self._families: dict[int, dict] = {}
        # (shape key or fast key, array formula or not) -> _Shared, for formulas whose
        # meaning does not depend on their sheet (see _shared_shape)
        self._shared: dict[tuple[str, bool], _Shared] = {}
        self.cell_shape: list[dict[tuple[int, int], Shape]] = [{} for _ in self.sheet_names]
        # cells covered by an array formula -> the anchor cell that computes them
        self.covered: list[dict[tuple[int, int], tuple[int, int]]] = [{} for _ in self.sheet_names]
        self.report = RunReport()
        self.user_functions: dict[str, R.FunctionSpec] = {}
        self.progress = None     # optional callable(n): n more cells evaluated (CLI bar)
        self._prepared = False
        self._numbers = None     # numbers.NumberTables while workers are forked from here
        self._members = [0] * len(self.sheet_names)   # family members made, per sheet
        # by shape id: where a family member's numbers start in its family's array
        self._k0 = array("q")
        # the families' members-by-numbers lookups holding entries, and how many (see
        # _family_shape)
        self._recent: list[dict] = []
        self._recent_count = 0

    # ------------------------------------------------------------------------------------
    # functions, sheets and names
    # ------------------------------------------------------------------------------------
    def function(self, name: str):
        spec = self.user_functions.get(name)
        if spec is not None:
            return spec
        # cached per name; a function registered later (REGISTRY grows) invalidates misses
        cache = self.__dict__.setdefault("_fn_cache", {})
        version = len(R.REGISTRY)
        hit = cache.get(name)
        if hit is not None and (hit[1] is not None or hit[0] == version):
            return hit[1]
        from ..evaluator.compiler import SPECIAL_FORMS
        if name in SPECIAL_FORMS:
            cache[name] = (version, None)      # compiled by the compiler itself
            return None
        from ..functions import lookup_function
        spec = lookup_function(name)
        cache[name] = (len(R.REGISTRY), spec)
        return spec

    def sheet_index(self, name: str) -> int:
        return self._sheet_idx[name.lower()]

    def resolve_sheets(self, sheet: str | None, sheet2: str | None, book: int | None,
                       current: int) -> list[int]:
        if book == 0:
            book = None          # [0] is the workbook itself
        if book is not None:
            if sheet is None:
                raise KeyError("external book without sheet")
            idx = self.ext_index.get((book, sheet.lower()))
            if idx is None:
                raise KeyError(sheet)
            return [idx]
        if sheet is None:
            return [current]
        a = self._sheet_idx[sheet.lower()]
        if sheet2 is None:
            return [a]
        b = self._sheet_idx[sheet2.lower()]
        if a > b:
            a, b = b, a
        return list(range(a, b + 1))

    def _find_name(self, name: str, sheet: str | None, current: int):
        key = name.upper()
        if sheet is not None:
            try:
                scope = self._sheet_idx[sheet.lower()]
            except KeyError:
                return None
            return self.names.get((scope, key)) or self.names.get((None, key))
        return self.names.get((current, key)) or self.names.get((None, key))

    def name_tree(self, name: str, sheet: str | None, book: int | None, current: int):
        """The parsed definition of a defined name and the sheet it is evaluated on."""
        if book == 0:
            book = None
        if book is not None:
            for eb in self.wb.externals:
                if eb.index == book and name in eb.names:
                    text = eb.names[name]
                    ck = ("ext", book, name)
                    if ck not in self._name_trees:
                        try:
                            tree = parse(_prefix_external(text, book))
                        except FormulaSyntaxError:
                            tree = None
                        self._name_trees[ck] = tree
                    tree = self._name_trees[ck]
                    return (tree, current) if tree is not None else None
            return None
        dn = self._find_name(name, sheet, current)
        if dn is None:
            return None
        ck = (dn.scope, dn.name.upper())
        if ck not in self._name_trees:
            self._name_trees[ck] = None   # guards a name defined through itself
            try:
                tree = parse(dn.text, (1, 1))
            except FormulaSyntaxError:
                from ..parser.ast import Literal
                tree = Literal(V.NAME)
            self._name_trees[ck] = tree
        tree = self._name_trees[ck]
        if tree is None:
            from ..parser.ast import Literal
            return Literal(V.NAME), current
        return tree, (dn.scope if dn.scope is not None else current)

    def lambda_name(self, name: str, current: int):
        """A defined name whose definition is a LAMBDA, called like a function."""
        dn = self._find_name(name, None, current)
        if dn is None:
            return None
        got = self.name_tree(name, None, None, current)
        if got is None:
            return None
        tree, scope = got
        if isinstance(tree, Func) and tree.name == "LAMBDA":
            return tree, scope
        return None

    def local_name(self, cx, key: str):
        env = cx.env
        if env:
            k = _LAMBDA_PREFIX.sub("", key)
            if k in env:
                return env[k]
        return V.NAME

    # ------------------------------------------------------------------------------------
    # reading values
    # ------------------------------------------------------------------------------------
    def value_at(self, s: int, r: int, c: int):
        v = self.cells[s].get((r, c))
        if v is PENDING:
            raise NeedCell((s, r, c))
        return v

    def deref(self, v, cx):
        """A reference as the value(s) an operator or scalar argument sees."""
        if isinstance(v, Range):
            if v.r1 == v.r2 and v.c1 == v.c2:
                return self.value_at(v.sheet, v.r1, v.c1)
            if cx.array_mode:
                return self.ref_array(v)
            return self.implicit_intersection(v, cx)
        if isinstance(v, RefList):
            if len(v.areas) == 1:
                return self.deref(v.areas[0], cx)
            return V.VALUE
        return v

    value_of = deref

    def implicit_intersection(self, v, cx):
        if isinstance(v, RefList):
            if len(v.areas) != 1:
                return V.VALUE
            v = v.areas[0]
        if v.r1 == v.r2 and v.c1 == v.c2:
            return self.value_at(v.sheet, v.r1, v.c1)
        if v.sheet != cx.sheet and False:
            return V.VALUE
        if v.c1 == v.c2 and v.r1 <= cx.row <= v.r2:
            return self.value_at(v.sheet, cx.row, v.c1)
        if v.r1 == v.r2 and v.c1 <= cx.col <= v.c2:
            return self.value_at(v.sheet, v.r1, cx.col)
        return V.VALUE

    def _trim(self, rng: Range) -> tuple[int, int, int, int]:
        """Clip whole-column/row style ranges to the sheet's used extent and one blank row
        (column) beyond it: what the clipped cells would add is more of that blank, so
        the first blank cell of a column, MATCH(TRUE,ISBLANK(A:A),0), is still found."""
        mr, mc = self.extent[rng.sheet]
        r2, c2 = rng.r2, rng.c2
        if r2 > mr + 1 and rng.nrows > 65536:
            r2 = max(mr + 1, rng.r1)
        if c2 > mc + 1 and rng.ncols > 256:
            c2 = max(mc + 1, rng.c1)
        return rng.r1, rng.c1, r2, c2

    def ref_array(self, ref) -> Array:
        """The values of a reference as an Array (blank cells as None)."""
        if isinstance(ref, RefList):
            if len(ref.areas) != 1:
                return Array([[V.VALUE]])
            ref = ref.areas[0]
        r1, c1, r2, c2 = self._trim(ref)
        vals = self._area_values(ref.sheet, r1, c1, r2, c2)
        if c1 == c2:
            return Array([[v] for v in vals])
        w = c2 - c1 + 1
        return Array([vals[i:i + w] for i in range(0, len(vals), w)])

    def _area_values(self, s: int, r1: int, c1: int, r2: int, c2: int) -> list:
        """The values of an area row by row (blank cells as None), looked up at C speed
        (map over the keys, not a loop); NeedCell for its first pending cell."""
        get = self.cells[s].get
        if c1 == c2:
            if "_result_cache" in self.__dict__:   # vector units stored whole columns
                from .vector import kept_column
                vals = kept_column(self, s, c1, r1, r2)
                if vals is not None:
                    return vals
            vals = list(map(get, zip(range(r1, r2 + 1), repeat(c1))))
        else:
            vals = list(map(get, product(range(r1, r2 + 1), range(c1, c2 + 1))))
        if any(map(is_, vals, repeat(PENDING))):
            self._raise_first_pending(s, r1, c1, r2, c2)
        return vals

    def dense_values(self, ref: Range) -> list | None:
        """The values of a range's used part row by row (blank cells as None), when it is
        not much larger than the sheet's cells (else None: iter_ref_values walks the
        sheet's cells instead of the range's positions). NeedCell for a pending cell."""
        r1, c1, r2, c2 = self._trim(ref)
        if not self._dense(ref.sheet, (r2 - r1 + 1) * (c2 - c1 + 1)):
            return None
        return self._area_values(ref.sheet, r1, c1, r2, c2)

    def _dense(self, s: int, area: int) -> bool:
        """Read an area of this many positions cell by cell (else walk the sheet's cells:
        a whole column of a small sheet)."""
        return area <= 4 * len(self.cells[s]) or area <= 4096

    def _raise_first_pending(self, s, r1, c1, r2, c2):
        d = self.cells[s]
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if d.get((r, c)) is PENDING:
                    raise NeedCell((s, r, c))

    def iter_ref_values(self, ref):
        """The non-blank values inside a reference, row by row (order kept for small areas)."""
        areas = ref.areas if isinstance(ref, RefList) else [ref]
        for a in areas:
            r1, c1, r2, c2 = self._trim(a)
            d = self.cells[a.sheet]
            area = (r2 - r1 + 1) * (c2 - c1 + 1)
            if self._dense(a.sheet, area):
                get = d.get
                for r in range(r1, r2 + 1):
                    for c in range(c1, c2 + 1):
                        v = get((r, c))
                        if v is not None:
                            if v is PENDING:
                                raise NeedCell((a.sheet, r, c))
                            yield v
            else:
                items = sorted((k, v) for k, v in d.items()
                               if r1 <= k[0] <= r2 and c1 <= k[1] <= c2)
                for (r, c), v in items:
                    if v is PENDING:
                        raise NeedCell((a.sheet, r, c))
                    if v is not None:
                        yield v

    # ------------------------------------------------------------------------------------
    # reference operators
    # ------------------------------------------------------------------------------------
    def range_op(self, a, b):
        if isinstance(a, XLError):
            return a
        if isinstance(b, XLError):
            return b
        if isinstance(a, RefList) and len(a.areas) == 1:
            a = a.areas[0]
        if isinstance(b, RefList) and len(b.areas) == 1:
            b = b.areas[0]
        if not isinstance(a, Range) or not isinstance(b, Range) or a.sheet != b.sheet:
            return V.VALUE
        return Range(a.sheet, min(a.r1, b.r1), min(a.c1, b.c1), max(a.r2, b.r2), max(a.c2, b.c2))

    def intersect_op(self, a, b):
        if isinstance(a, XLError):
            return a
        if isinstance(b, XLError):
            return b
        if isinstance(a, RefList) or isinstance(b, RefList):
            areas = []
            for x in (a.areas if isinstance(a, RefList) else [a]):
                for y in (b.areas if isinstance(b, RefList) else [b]):
                    z = self.intersect_op(x, y)
                    if isinstance(z, Range):
                        areas.append(z)
            if not areas:
                return V.NULL
            return areas[0] if len(areas) == 1 else RefList(areas)
        if not isinstance(a, Range) or not isinstance(b, Range):
            return V.VALUE
        if a.sheet != b.sheet:
            return V.NULL
        r1, c1 = max(a.r1, b.r1), max(a.c1, b.c1)
        r2, c2 = min(a.r2, b.r2), min(a.c2, b.c2)
        if r1 > r2 or c1 > c2:
            return V.NULL
        return Range(a.sheet, r1, c1, r2, c2)

    def union_op(self, a, b):
        if isinstance(a, XLError):
            return a
        if isinstance(b, XLError):
            return b
        areas = []
        for x in (a, b):
            if isinstance(x, Range):
                areas.append(x)
            elif isinstance(x, RefList):
                areas.extend(x.areas)
            else:
                return V.VALUE
        return RefList(areas)

    def legacy_array_size(self, cx) -> tuple[int, int] | None:
        """(rows, columns) of the legacy (Ctrl+Shift+Enter) array formula being evaluated
        at cx, when it fills more than one cell; else None."""
        fc = self.formulas[cx.sheet].get((cx.row, cx.col))
        if fc is None or fc.kind != "array" or fc.ref is None or fc.dynamic:
            return None
        r1, c1, r2, c2 = fc.ref
        if r1 == r2 and c1 == c2:
            return None
        return r2 - r1 + 1, c2 - c1 + 1

    def spill_range(self, v):
        if not isinstance(v, Range):
            return V.REF
        fc = self.formulas[v.sheet].get((v.r1, v.c1))
        if fc is None or fc.kind != "array" or fc.ref is None:
            return V.REF
        r1, c1, r2, c2 = fc.ref
        if fc.dynamic:
            # the range it spills into now (grown or shrunk since the file was saved):
            # known once the anchor has run
            self.value_at(v.sheet, v.r1, v.c1)
            now = self.__dict__.get("_spill_now", {}).get((v.sheet, v.r1, v.c1))
            if now is not None:
                r2, c2 = now
        return Range(v.sheet, r1, c1, r2, c2)

    # ------------------------------------------------------------------------------------
    # structured references (Excel tables)
    # ------------------------------------------------------------------------------------
    def table_at(self, sheet: int, row: int, col: int):
        name = self.sheet_names[sheet].lower()
        for t in self.tables.values():
            if t.sheet.lower() == name:
                r1, c1, r2, c2 = t.ref
                if r1 <= row <= r2 and c1 <= col <= c2:
                    return t
        return None

    def structured_ref(self, table: str | None, spec: str, cx):
        from .structured import resolve_structured
        return resolve_structured(self, table, spec, cx)

    # ------------------------------------------------------------------------------------
    # preparing: one compiled shape per distinct R1C1 form
    # ------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Give every formula cell its shape (one parse and compile per distinct form)."""
        if self._prepared:
            return
        t0 = time.perf_counter()
        by_fc: dict[int, Shape] = {}
        rep = self.report
        for s in range(self.n_local):
            shapes = self.cell_shape[s]
            formulas = self.formulas[s]
            for rc, fc in formulas.items():
                # the cells of a shared formula hold one FormulaCell (see loader.model):
                # one shape for all, found by the object (formulas keeps it alive). A
                # formula's own cell (or anchor) is not recorded by object: most belong to
                # no group; a group's first member finds the anchor's shape instead
                if fc.origin == rc:
                    shape = self._make_shape(s, fc)
                else:
                    shape = by_fc.get(id(fc))
                    if shape is None:
                        if formulas.get(fc.origin) is fc:
                            shape = shapes.get(fc.origin)
                        if shape is None:
                            shape = self._make_shape(s, fc)
                        by_fc[id(fc)] = shape
                shapes[rc] = shape        # the formulas' key object: one tuple per cell
                if fc.ref is not None:
                    self.mark_covered(s, *rc, fc)
        rep.formulas = sum(len(f) for f in self.formulas)
        rep.shapes = len(self.shapes)
        counts: dict[str, int] = {}
        # cells are counted only if some shape calls an unknown function (family members
        # share their template's info: the templates answer for them)
        any_unsupported = any([sh.info.unsupported for sh in self.shapes
                               if type(sh) is not FamilyShape])
        for s in range(self.n_local if any_unsupported else 0):
            for sh in self.cell_shape[s].values():
                for name in sh.info.unsupported:
                    counts[name] = counts.get(name, 0) + 1
        rep.unsupported = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
        if self.unknown == "cached" and counts:
            from .unknown import kept_cells
            self.kept, rep.kept_functions = kept_cells(self)
            rep.kept_cached = len(self.kept)
        # a family's members by their numbers find a member typed again while preparing;
        # kept, they would cost a dict entry per member (with hand-typed constants: per
        # cell) for the rare formula set afterwards, which rebuilds them (_members_again)
        for fam in self._usable_families():
            fam.members = None
        self._recent.clear()
        self._recent_count = 0
        self._prepared = True
        rep.timings["compile"] = time.perf_counter() - t0

    def mark_covered(self, s: int, r: int, c: int, fc: FormulaCell) -> None:
        """Record the cells an array/data-table formula at (r, c) fills, and grow the
        sheet's extent to its range."""
        if fc.kind not in ("array", "dataTable") or fc.ref is None:
            return
        covered = self.covered[s]
        r1, c1, r2, c2 = fc.ref
        a = (r, c)
        if r1 == r2 and c1 == c2:
            if a != (r1, c1):
                covered[(r1, c1)] = a
        else:
            # at C speed (2.5x the loop), every cell sharing one anchor tuple; the anchor
            # itself is not covered (or stays covered by what covered it before)
            prev = covered.get(a)
            covered.update(zip(product(range(r1, r2 + 1), range(c1, c2 + 1)), repeat(a)))
            if prev is None:
                covered.pop(a, None)
            else:
                covered[a] = prev
        self.extent[s][0] = max(self.extent[s][0], r2)
        self.extent[s][1] = max(self.extent[s][1], c2)

    def _make_shape(self, s: int, fc: FormulaCell) -> Shape:
        is_array = fc.kind in ("array", "dataTable")
        if fc.kind == "dataTable":
            key = f"TABLE|{fc.origin}"
            return self._new_shape(key, s, is_array, None, fc, "data table")
        # one pass gives both keys: the fast shape key (copied formulas: found in one
        # lookup) and the skeleton (formulas that differ only in their numbers)
        skel = skeleton_key(fc.text, fc.origin)
        fast = skel[2] if skel is not None else fast_shape_key(fc.text, fc.origin)
        slot = 2 * s + is_array
        keyed = self._shape_by_key.get(slot)
        if keyed is None:
            keyed = self._shape_by_key[slot] = {}
            self._families[slot] = {}
        if fast is not None:
            shape = keyed.get(fast)
            if shape is not None:
                return shape
        if skel is not None:
            # fast path: a formula that differs from an earlier one only in its numbers
            # (hand-typed constants make every cell its own shape) reuses that parse
            fam = self._families[slot].get(skel[0])
            if fam:
                # found by its numbers within the family, not by its fast key: that is a
                # string per cell, kept as long as the engine
                k = tuple(map(float, skel[1]))
                members = fam.members
                if members is None:
                    members = self._members_again(fam)
                shape = members.get(k)
                if shape is None:
                    shape = self._family_shape(fam, s, is_array, fc, k)
                return shape
        if fast is not None:
            shared = self._shared.get((fast, is_array))
            if shared is not None:       # the formula met on another sheet
                return self._shared_shape(shared, s, is_array, fc, skel, fast, keyed)
        try:
            key, toks = shape_key(fc.text, fc.origin)
        except FormulaSyntaxError as e:
            return self._new_shape(f"ERR|{fc.text}|{fc.origin}", s, is_array, None, fc, str(e))
        shape = keyed.get(key)
        if shape is not None:
            if fast is not None:
                keyed[fast] = shape
            return shape
        shared = self._shared.get((key, is_array))
        if shared is not None:
            return self._shared_shape(shared, s, is_array, fc, skel, fast, keyed)
        try:
            tree, slots = parse_template(fc.text, fc.origin, toks)
        except FormulaSyntaxError as e:
            shape = self._new_shape(key, s, is_array, None, fc, str(e))
        else:
            shape = self._new_shape(key, s, is_array, tree, fc, None)
            if shape.error is None:
                ok = skel is not None and _family_ok(skel, slots)
                if ok:
                    self._families[slot][skel[0]] = _Family(shape, slots, None, self._k0)
                elif skel is not None:
                    self._families[slot][skel[0]] = False
                if self._sheet_free(tree):
                    shared = _Shared(key, tree, shape.info, slots if ok else None)
                    self._shared[(key, is_array)] = shared
                    if fast is not None:
                        self._shared[(fast, is_array)] = shared
        keyed[key] = shape
        if fast is not None:
            keyed[fast] = shape
        return shape

    def _sheet_free(self, tree: Node) -> bool:
        """Does the formula mean the same on every sheet but for the sheet its unqualified
        references are on? Then one parse, compile info and sheet-free closure (see
        Compiler.compile) serve it on every sheet. Not for what compiling resolves
        against the formula's sheet: defined names (a sheet-scoped name may differ per
        sheet), LAMBDA/LET (their parameters are names), structured references, functions
        nobody implements (lambda names, unknown="cached" reads the sheet's cached values);
        nor, to keep the sharing simple, dynamic references (INDIRECT, OFFSET...)."""
        function = self.function
        try:
            for node in walk(tree):
                t = type(node)
                if t is Name or t is StructRef:
                    return False
                if t is Func:
                    name = node.name
                    if name in SPECIAL_FORMS:
                        if name in ("LET", "LAMBDA"):
                            return False
                        continue
                    spec = function(name)        # None for CALL and unknown functions
                    if spec is None or spec.dynamic_ref:
                        return False
        except RecursionError:
            return False
        return True

    def _shared_shape(self, shared: _Shared, s: int, is_array: bool, fc: FormulaCell,
                      skel, fast: str | None, keyed: dict) -> Shape:
        """The shape of a formula met on another sheet first (`shared`): this sheet's own
        Shape (cheap: the code reading shape.sheet stays as it is), sharing the tree, the
        compile info and one sheet-free closure with every other sheet but the first
        (which keeps the closure compiled for it), so the same formulas on 250 sheets
        cost one parse and two compiles, not 250 of each."""
        shape = keyed.get(shared.key)
        if shape is not None:        # this sheet's, met by another spelling (fast key)
            if fast is not None:
                keyed[fast] = shape
            return shape
        fn = shared.fn
        if fn is None:
            try:
                fn, _info = self.compiler.compile(shared.tree, None, is_array)
            except RecursionError:       # as deep as the first sheet's, which compiled
                return self._new_shape(shared.key, s, is_array, shared.tree, fc, None)
            shared.fn = fn
        n = len(self.shapes)
        shape = Shape(n, shared.key, s, is_array, fn, shared.tree, shared.info, None,
                      fc.text, fc.origin, n)
        self.shapes.append(shape)
        if skel is not None:
            # this sheet's family record; its family closure is sheet-free too
            ok = shared.slots is not None and _family_ok(skel, shared.slots)
            self._families[2 * s + is_array][skel[0]] = (
                _Family(shape, shared.slots, shared, self._k0) if ok else False)
        keyed[shared.key] = shape
        if fast is not None:
            keyed[fast] = shape
        return shape

    def shared_of(self, shape) -> _Shared | None:
        """The record of the tree and closures `shape` shares with the same formula on
        other sheets (see _shared_shape), or None (a formula on one sheet only)."""
        if type(shape) is not Shape:
            return None
        shared = self._shared.get((shape.key, shape.array))
        if shared is None or shared.tree is not shape.tree or shared.fn is None:
            return None
        return shared

    def _family_shape(self, fam: _Family, s: int, is_array: bool, fc: FormulaCell,
                      k: tuple[float, ...]) -> FamilyShape:
        """A shape of family `fam` with numbers `k`.
        Numbers change neither references nor functions, so the member takes the
        template's compile info, and one closure compiled from the template with its
        numbers as parameters (cx.k) evaluates every member: hand-typed constants (every
        cell its own shape) cost a small object and their numbers in an array per cell,
        not a parse and a compile.

        The member is then found by its numbers in fam.members. While preparing, only the last
        MEMBER_WINDOW members made are (all families' lookups are emptied then): a member
        typed again (a formula copied down but saved unshared) comes rows later, not
        thousands of cells, and kept to the end of prepare() the lookups would hold a dict
        entry, a tuple and a float per number for every member (~190 B per cell where
        hand-typed constants make every cell a member), freed amid the shapes kept, where
        the allocator can hardly give it back."""
        base = fam.base
        if fam.built is None:     # the family's second member: compile the family closure
            shared = fam.shared
            if shared is not None and shared.fam is not None:
                fam.built = shared.fam         # another sheet's sheet-free family closure
            else:
                fn, _info = self.compiler.compile(
                    base.tree, None if shared is not None else base.sheet, base.array,
                    slots=fam.slots)
                fam.built = (template_builder(base.tree, fam.slots),
                             self._unknown_fn(fn, base.info, base.sheet, base.array))
                if shared is not None:
                    shared.fam = fam.built
        nums = fam.nums
        n = len(self.shapes)
        k0s = self._k0
        if len(k0s) < n:                 # (other shapes have no numbers: 0)
            k0s.frombytes(bytes(k0s.itemsize * (n - len(k0s))))
        k0s.append(len(nums))
        nums.extend(k)
        shape = FamilyShape(n, fam.built[1], fam, fc)
        self._members[s] += 1
        self.shapes.append(shape)
        members = fam.members
        if not members and not self._prepared:
            self._recent.append(members)
        members[k] = shape
        self._recent_count += 1
        if self._recent_count >= MEMBER_WINDOW and not self._prepared:
            for d in self._recent:
                d.clear()
            self._recent.clear()
            self._recent_count = 0
        return shape

    def _members_again(self, fam: _Family) -> dict:
        """Every family's members by their numbers again (prepare() drops them), for a
        formula set after preparing; returns `fam`'s."""
        for f in self._usable_families():
            f.members = {}
        for sh in self.shapes:
            if type(sh) is FamilyShape:
                sh._fam.members[sh.k] = sh
        return fam.members

    def _usable_families(self):
        """Every _Family; False marks a skeleton no family uses."""
        for fams in self._families.values():
            yield from filter(None, fams.values())

    def _unknown_fn(self, fn, info: CompileInfo, s: int, is_array: bool):
        """A compiled closure as unknown="cached" wants it: one calling a function nobody
        implements reads the cell's cached value first (see unknown.py); else fn."""
        if info.unsupported and self.unknown == "cached":
            from .unknown import kept_fn
            return kept_fn(self, s, is_array, fn)
        return fn

    def _new_shape(self, key, s, is_array, tree, fc, err) -> Shape:
        info = CompileInfo()
        if tree is None:
            if fc.kind == "dataTable":
                from .datatable import data_table_fn
                fn = data_table_fn(self, fc)
            else:
                fn = _const(V.NAME)
        else:
            try:
                fn, info = self.compiler.compile(tree, s, is_array)
            except RecursionError:     # too deep to compile (see parser.MAX_NESTING): as
                fn, err = _const(V.NAME), TOO_DEEP     # if it had not parsed, #NAME?
            else:
                fn = self._unknown_fn(fn, info, s, is_array)
        shape = Shape(len(self.shapes), key, s, is_array, fn, tree, info, err, fc.text,
                      fc.origin, len(self.shapes))
        self.shapes.append(shape)
        if err is not None and fc.kind != "dataTable":
            self.report.parse_errors.append((f"{self.sheet_names[s]}!{cell_name(*fc.origin)}",
                                             "=" + fc.text, err))
        return shape

    # ------------------------------------------------------------------------------------
    # evaluation
    # ------------------------------------------------------------------------------------
    def release_compiled(self) -> None:
        """Drop the compiled formulas and every cache made to calculate, keeping the values
        (cells, covered ranges, spills) and the report: see Workbook.release_compiled. This
        engine must not prepare or evaluate again (the workbook makes a new one)."""
        self.forget_run_caches()
        self.compiler = None
        self.shapes = []
        self._shape_by_key = {}
        self._families = {}
        self._shared = {}
        self.cell_shape = [{} for _ in self.sheet_names]
        self._name_trees = {}
        self._numbers = None
        self._k0 = array("q")
        self._recent = []
        for k in ("_fn_cache", "_vector_programs", "_scan_plans", "_full_plan"):
            self.__dict__.pop(k, None)

    def forget_run_caches(self) -> None:
        """Drop what one calculation keeps about values (they may change before the next):
        the lookup indexes (functions/lookup.calc_cache) and vector.py's gathered columns
        and kept unit results."""
        self.__dict__.pop("_lookup_cache", None)
        self.__dict__.pop("_gather_cache", None)
        self.__dict__.pop("_result_cache", None)

    def reset_pending(self) -> None:
        """Mark every formula cell (and array-covered cell) as not yet computed."""
        self.forget_run_caches()
        self.report.vectorized = 0
        for s in range(self.n_local):
            d = self.cells[s]
            d.update(zip(self.formulas[s], repeat(PENDING)))
            if self.covered[s]:
                d.update(zip(self.covered[s], repeat(PENDING)))

    def eval_unit(self, s: int, cells: list[tuple[int, int]], shape: Shape | None = None) -> int:
        """Fast path for a work unit (cells of one shape, none reading another): evaluate at
        once, with numpy, the cells whose values the vector path reproduces exactly (see
        vector.py). Returns how many it stored; the others stay pending for eval_cell."""
        from .vector import eval_unit
        return eval_unit(self, s, cells, shape)

    def number_tables(self, min_cells: int | None = None) -> None:
        """Read family members' numbers from flat tables from now on (see numbers.py): done
        before forking workers, whose first pass then copies far fewer inherited pages.
        Sheets with fewer than `min_cells` members (default numbers.MIN_CELLS) get none."""
        if self._numbers is None and self._prepared:
            from ..arrays import release_freed_memory
            from . import numbers
            self._numbers = numbers.build(
                self, numbers.MIN_CELLS if min_cells is None else min_cells)
            release_freed_memory()

    def number_tables_cost(self) -> float:
        """Predicted seconds number_tables() would take now (0 once built)."""
        if self._numbers is not None or not self._prepared:
            return 0.0
        from . import numbers
        return numbers.SECONDS_PER_MEMBER * sum(
            [n for n in self._members if n >= numbers.MIN_CELLS])

    def has_array_shapes(self) -> bool:
        """Is any shape an array formula? (Shapes are only ever added: the answer is kept
        with the count it was found for.)"""
        n = len(self.shapes)
        got = self.__dict__.get("_has_arrays")
        if got is None or got[0] != n:
            got = self._has_arrays = (n, any([sh.array for sh in self.shapes]))
        return got[1]

    def forget_number_tables(self) -> None:
        """A cell's shape changed: the tables no longer hold."""
        self._numbers = None

    def eval_cell(self, s: int, r: int, c: int) -> None:
        """Evaluate one formula cell and store its value (array formulas fill their range).
        May raise NeedCell."""
        nt = self._numbers
        tab = nt.columns[s].get(c) if nt is not None else None
        if tab is not None and tab.first <= r < tab.end and tab.fn[r - tab.first] >= 0:
            # a family member: read from the tables, no object of its own is touched
            shape = None
            i = r - tab.first
            j = tab.fn[i]
            fn = nt.fns[j]
            cx = R.Context(self, s, r, c, False, None, nt.numbers[j], tab.off[i])
        else:
            shape = self.cell_shape[s][(r, c)]
            fn = shape.fn
            if type(shape) is FamilyShape:
                fam = shape._fam
                cx = R.Context(self, s, r, c, fam.base.array, None, fam.nums,
                               fam.k0s[shape.id])
            else:
                cx = R.Context(self, s, r, c, shape.array, None)
        try:
            v = fn(cx)
        except XLError as e:
            v = e
        except NeedCell:
            raise
        except RecursionError:
            v = V.NUM
        if shape is not None and shape.array:
            fc = self.formulas[s][(r, c)]
            if fc.ref is not None:
                self._store_array(s, r, c, fc, v, cx)
                return
        self.cells[s][(r, c)] = self.finish_value(v, cx)

    def finish_value(self, v, cx):
        """The value a cell shows for a formula result."""
        if isinstance(v, (Range, RefList)):
            v = self.implicit_intersection(v, cx) if not cx.array_mode else self.deref(v, cx)
        if isinstance(v, Array):
            v = v.rows[0][0] if v.rows and v.rows[0] else V.VALUE
        if v is None:
            return 0.0
        if isinstance(v, float):
            if v != v or v in (math.inf, -math.inf):
                return V.NUM
            return v
        if isinstance(v, R.Omitted):
            return 0.0
        if isinstance(v, (str, bool, XLError)):
            return v
        if isinstance(v, int):
            return float(v)
        from .lambdas import Lambda
        if isinstance(v, Lambda):
            return V.CALC           # a lambda value cannot be shown in a cell
        return V.VALUE

    def _store_array(self, s, r, c, fc: FormulaCell, v, cx) -> None:
        r1, c1, r2, c2 = fc.ref
        d = self.cells[s]
        if isinstance(v, RefList) and len(v.areas) == 1:
            v = v.areas[0]
        if isinstance(v, Range):
            # read the referenced cells directly: whole rows/columns are not trimmed here
            src, rows_, cols_ = v, v.nrows, v.ncols
            if fc.dynamic:
                if rows_ * cols_ <= (r2 - r1 + 1) * (c2 - c1 + 1):
                    vals = self._area_values(src.sheet, src.r1, src.c1, src.r2, src.c2)
                    v = Array([[0.0 if x is None else x for x in vals[i:i + cols_]]
                               for i in range(0, len(vals), cols_)])
                else:
                    v = self.ref_array(v)
                self._spill(s, r, c, fc, v, cx)
                return
            sd = self.cells[src.sheet]
            out = {}
            for rr in range(r1, r2 + 1):
                for cc in range(c1, c2 + 1):
                    i, j = rr - r1, cc - c1
                    if rows_ == 1:
                        i = 0
                    if cols_ == 1:
                        j = 0
                    if i < rows_ and j < cols_:
                        x = sd.get((src.r1 + i, src.c1 + j))
                        if x is PENDING:
                            raise NeedCell((src.sheet, src.r1 + i, src.c1 + j))
                        out[(rr, cc)] = 0.0 if x is None else x
                    else:
                        out[(rr, cc)] = V.NA
            d.update(out)    # only now: a NeedCell above must leave the anchor pending
            return
        elif isinstance(v, RefList):
            v = V.VALUE
        if not isinstance(v, Array):
            v = Array([[v]])
        if fc.dynamic:
            self._spill(s, r, c, fc, v, cx)
            return
        for rr in range(r1, r2 + 1):
            for cc in range(c1, c2 + 1):
                x = v.get(rr - r1, cc - c1)
                if isinstance(x, (Range, RefList)):
                    x = self.deref(x, cx)
                d[(rr, cc)] = self.finish_value(x, cx)

    def _spill(self, s, r, c, fc, v: Array, cx) -> None:
        """Store the dynamic array v anchored at (r, c) at its own size: Excel's recorded
        `ref` is only its last spill. It shows #SPILL! (Excel's SpillErrorCellValueSubType:
        collision, worksheetEdge, table, mergedCell) when a cell of its area holds a
        constant or a formula or belongs to another array formula, when the area passes
        the sheet's edge or meets merged cells, or when a multi-cell result is anchored in
        a table. Blocking is decided by the sheet's constants and formulas, never by the
        values left from the last calculation (those are this or another spill's own).
        The anchor owns its recorded range and the cells of its area beyond it (in
        `covered`: pending until it has run, so their readers wait for it, and a constant
        typed or cleared there recalculates everything, see Workbook.set_value); blocked,
        it still owns the free cells of its area, so clearing the obstruction lets it spill
        again. It writes its values there, puts back what the others hold (blank, or the
        constant reset_pending covered over) and gives back the cells beyond the recorded
        range it no longer needs."""
        nr, nc = v.nrows, v.ncols
        if not nr or not nc:
            v, nr, nc = Array([[V.VALUE]]), 1, 1
        d = self.cells[s]
        covered = self.covered[s]
        formulas = self.formulas[s]
        consts = self.wb.sheets[s].values
        key, anchor = (s, r, c), (r, c)
        spills = self.__dict__.setdefault("_spill_now", {})  # anchor -> (r2, c2) spilled now
        owns = self.__dict__.setdefault("_spill_own", {})    # -> (r2, c2, filled) owned
        _, _, x2, y2 = fc.ref                                # the recorded range's end
        p2, q2, filled = owns.get(key, (x2, y2, False))
        a2, b2 = min(r + nr - 1, MAX_ROW), min(c + nc - 1, MAX_COL)   # its area, on the sheet
        blocked = a2 < r + nr - 1 or b2 < c + nc - 1 or (
            (nr > 1 or nc > 1) and (self.table_at(s, r, c) is not None or any(
                m[0] <= a2 and r <= m[2] and m[1] <= b2 and c <= m[3]   # (mergedCell)
                for m in self.wb.sheets[s].merged)))
        keys = list(product(range(r, a2 + 1), range(c, b2 + 1)))      # the anchor first
        if not blocked and len(keys) > 1:
            blocked = (not formulas.keys().isdisjoint(islice(keys, 1, None))
                       or not consts.keys().isdisjoint(islice(keys, 1, None))
                       or bool(set(map(covered.get, islice(keys, 1, None))) - {None, anchor}))
        # what it owned outside its area now
        for k in chain(_rect_minus(r, c, x2, y2, a2, b2), _rect_minus(r, c, p2, q2, a2, b2)):
            if k not in formulas:
                d[k] = consts.get(k)
            if (k[0] > x2 or k[1] > y2) and covered.get(k) == anchor:
                del covered[k]
        if blocked:
            for k in islice(keys, 1, None):
                if k not in formulas and covered.get(k, anchor) == anchor:
                    d[k] = consts.get(k)
            d[anchor] = V.SPILL
        else:
            fin = self.finish_value
            # (text and finite numbers show as they are: no call for most elements)
            d.update(zip(keys, [x if (t := type(x)) is str or (t is float and x - x == 0.0)
                                else fin(x, cx) for row in v.rows for x in row]))
        if filled or (not blocked and (a2 > x2 or b2 > y2)):
            self._spill_moved = True   # values beyond the recorded range changed: serial.py
        if a2 > x2 or b2 > y2:
            w = b2 - c + 1
            new = []
            if b2 > y2:
                for i in range(min(a2, x2) - r + 1):
                    new.append(islice(keys, i * w + (y2 - c + 1), (i + 1) * w))
            if a2 > x2:
                new.append(islice(keys, (x2 - r + 1) * w, None))
            new = chain.from_iterable(new)
            if blocked:
                new = [k for k in new if k not in formulas and covered.get(k, anchor) == anchor]
            covered.update(zip(new, repeat(anchor)))
            owns[key] = (a2, b2, not blocked)
            if not blocked:
                if a2 > p2 or b2 > q2:
                    # it filled cells nothing owned when the calculation began: their
                    # readers may have read them blank (the graph has no edge to the
                    # anchor): run_plan calculates once more
                    self._spill_grew = True
                ext = self.extent[s]
                ext[0], ext[1] = max(ext[0], a2), max(ext[1], b2)
                # every cell a spill ever filled, for the writer and the workers' deltas
                se = self.__dict__.setdefault("_spill_extent", {})
                old = se.get(key, (a2, b2))
                se[key] = (max(old[0], a2), max(old[1], b2))
        else:
            owns.pop(key, None)
        spills[key] = anchor if blocked else (a2, b2)

    def anchor_of(self, key: tuple[int, int, int]) -> tuple[int, int, int]:
        s, r, c = key
        a = self.covered[s].get((r, c))
        if a is not None and (r, c) not in self.formulas[s]:
            return (s, a[0], a[1])
        return key

    def compute(self, order, on_cycle=None) -> int:
        """Evaluate formula cells in `order` (an iterable of (sheet, row, col)); cells a
        formula needs that are still pending are computed first through an explicit stack.
        Returns the number of cells evaluated."""
        cells = self.cells
        evaluated = 0
        progress = self.progress
        for key in order:
            s, r, c = key
            if cells[s].get((r, c)) is not PENDING:
                continue
            try:
                self.eval_cell(s, r, c)
                evaluated += 1
                if progress is not None and not evaluated % 4096:
                    progress(4096)
                continue
            except NeedCell as e:
                need = e.key
            stack = [key]
            on_stack = {key}
            attempts: dict = {}
            self._push_need(stack, on_stack, need, on_cycle)
            while stack:
                k = stack[-1]
                ks, kr, kc = k
                if cells[ks].get((kr, kc)) is not PENDING:
                    stack.pop()
                    on_stack.discard(k)
                    continue
                n_try = attempts[k] = attempts.get(k, 0) + 1
                if n_try > 10_000:
                    # safety net: never spin on a cell that cannot make progress
                    cells[ks][(kr, kc)] = V.VALUE
                    self.report.warnings.append(
                        f"{self.sheet_names[ks]}!{cell_name(kr, kc)}: evaluation made no "
                        "progress; cell set to #VALUE!")
                    continue
                try:
                    self.eval_cell(ks, kr, kc)
                    evaluated += 1
                    stack.pop()
                    on_stack.discard(k)
                except NeedCell as e:
                    self._push_need(stack, on_stack, e.key, on_cycle)
        return evaluated

    def _push_need(self, stack, on_stack, need, on_cycle) -> None:
        dep = self.anchor_of(need)
        if dep != need and self.cells[dep[0]].get(dep[1:]) is not PENDING:
            # the anchor is done but did not fill this covered cell (its evaluation was cut
            # short by a circular reference): the cell shows 0 like the rest of the cycle
            self.cells[need[0]][need[1:]] = 0.0
            return
        if dep in on_stack or dep[1:] not in self.formulas[dep[0]]:
            # a circular reference found at run time (through INDIRECT/OFFSET...), or a
            # covered cell whose anchor vanished: break it like Excel does, with 0
            cyc = stack[stack.index(dep):] if dep in on_stack else [dep]
            if on_cycle is not None:
                on_cycle(cyc)
            s, r, c = need
            self.cells[s][(r, c)] = 0.0
            if dep != need and dep[1:] in self.formulas[dep[0]]:
                self.cells[dep[0]][dep[1:]] = 0.0
            return
        stack.append(dep)
        on_stack.add(dep)


def _family_ok(skel, slots: list) -> bool:
    """Is a family usable: are the skeleton's numbers exactly the parser's number tokens
    (e.g. not the 0 of #DIV/0!)?"""
    nums = skel[1]
    return len(nums) == len(slots) and all(float(t) == lit.value
                                           for t, lit in zip(nums, slots))


def _const(v):
    return lambda cx: v


def _rect_minus(r, c, a2, b2, x2, y2):
    """The cells of r..a2 x c..b2 outside r..x2 x c..y2 (two areas with the same top-left
    corner), as (row, col) keys."""
    parts = []
    if b2 > y2:
        parts.append(product(range(r, min(a2, x2) + 1), range(max(c, y2 + 1), b2 + 1)))
    if a2 > x2:
        parts.append(product(range(max(r, x2 + 1), a2 + 1), range(c, b2 + 1)))
    return chain.from_iterable(parts)


def _prefix_external(text: str, book: int) -> str:
    """Definitions inside an external book refer to its own sheets: qualify them."""
    return re.sub(r"(?<![\]\w])('(?:[^']|'')+'|[A-Za-z_][\w.]*)!",
                  lambda m: f"[{book}]{m.group(1)}!", text.lstrip("="))
