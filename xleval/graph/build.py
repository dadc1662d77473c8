"""The dependency graph of the formula cells and its evaluation plan.

Nodes are formula cells (an array formula is one node; the cells it covers resolve to it).
A reference to a range is not exploded into one edge per cell when that would be costly:
formula cells are indexed per column in sorted order, and where the ranges read from a
column would add many more edges than the column has cells (several large readers, or a
running total `SUM($A$1:A1)` copied down), a range that holds more than a few of them is
covered by O(log n) *block* nodes of a segment tree over that column (a block depends on
its two halves), so `SUM(A1:A100000)` read by many cells costs ~17 edges each, and the
running total copied down n rows costs O(n log n) edges, not O(n^2). A column read by one
total (or a few) gets direct edges: cheaper than building its tree.

The build works on whole arrays (numpy), not per cell: formulas that differ only in their
numbers (a shape *family*) read alike, so each family's references are found once and
applied to all its cells at once; single-cell references resolve through one sorted key
table, ranges through the per-column index (binary search, vectorized).

Kahn's algorithm gives the topological *layers* (cells whose inputs are all in earlier
layers, mutually independent), processed a whole frontier at a time while frontiers are
wide, node by node once they get narrow (long chains); what is left over contains the
cycles, which an iterative Tarjan pass splits into strongly connected components in
evaluation order. Nothing here recurses. Within a layer, cells come in node order (the
order of the sheets' formulas), grouped into one work unit per shape.

Dynamic references (INDIRECT, OFFSET, `A1:INDEX(...)`) are not visible statically: such cells
are scheduled like the others on their static precedents, and the engine resolves what they
actually read at evaluation time (it computes a pending precedent first, see engine.py).
"""
from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, compress
from operator import attrgetter

import numpy as np

from ..arrays import release_freed_memory
from ..parser.ast import Binary, Func, Name, Ref, StructRef, walk
from ..refs import MAX_COL, MAX_ROW

_DIRECT_LIMIT = 8     # a range holding at most this many formula cells of a column: direct edges
_BLOCK_DEMAND = 8     # blocks for a column only if direct edges would be > 8x its formula cells
_NARROW = 64          # frontiers narrower than this, _NARROW_ROUNDS times: finish node by node
_NARROW_ROUNDS = 64
_CHUNK = 1 << 13      # cells per batch when resolving single-cell references (bounds memory)
_BIG_FAMILY = 64      # families with at least this many cells: their references one by one
_K = MAX_COL + 1      # key = (sheet * _RK + row) * _K + col, and (sheet * _K + col) * _RK + row
_RK = MAX_ROW + 1


@dataclass(slots=True)
class WorkUnit:
    """Cells of one layer that share one compiled shape on one sheet."""
    shape: int
    sheet: int
    cells: list[tuple[int, int]]


class _Made:
    """Layers already made into WorkUnits, shared by a Layers and its views: a wide layer
    (at least WIDE units: hand-typed formulas, a unit per cell) stays made for the plan's
    life, as the scheduler reads its units several times per run and again every run; the
    other layers stay while they hold at most RECENT units in all (a chain has thousands
    of narrow layers: kept, they would cost ~130 B per formula)."""
    WIDE = 256
    RECENT = 1 << 13
    __slots__ = ("kept", "recent", "n_recent")

    def __init__(self):
        self.kept: dict[int, list] = {}
        self.recent: dict[int, list] = {}
        self.n_recent = 0

    def get(self, j: int) -> list | None:
        got = self.kept.get(j)
        return got if got is not None else self.recent.get(j)

    def put(self, j: int, units: list) -> None:
        if len(units) >= self.WIDE:
            self.kept[j] = units
            return
        if self.n_recent + len(units) > self.RECENT:
            self.recent.clear()
            self.n_recent = 0
        self.recent[j] = units
        self.n_recent += len(units)


class Layers(Sequence):
    """The plan's layers, each a list of work units, stored as flat arrays: every unit's
    cells in one list of the sheets' own (r, c) key tuples, in unit order, and per unit its
    start in it, shape and sheet; per layer its first unit. A layer's WorkUnit objects are
    made when it is read (see _Made for which stay made): a chain puts each row in its own
    layer, and an object and a list per single-cell unit cost ~130 B per formula. Reads
    like a list of lists; a slice is a view of the same arrays. The serial order reads
    spans of the flat list instead (`spans`)."""
    __slots__ = ("flat", "u_start", "u_shape", "u_sheet", "l_start", "r_start", "l_runs",
                 "_lo", "_hi", "_made")

    def __init__(self, flat: list, u_start, u_shape, u_sheet, l_start, r_start, l_runs,
                 lo: int = 0, hi: int | None = None, made: _Made | None = None):
        self.flat = flat                  # every unit's cells, in unit order
        self.u_start = u_start            # array: unit k's cells are flat[u_start[k]:...[k+1]]
        self.u_shape = u_shape            # arrays: unit k's shape id and sheet
        self.u_sheet = u_sheet
        self.l_start = l_start            # array: layer j's units are l_start[j]:l_start[j+1]
        self.r_start = r_start            # array: runs of consecutive units on one sheet
        self.l_runs = l_runs              # array: layer j's runs are l_runs[j]:l_runs[j+1]
        self._lo = lo                     # this view's layers: lo..hi-1
        self._hi = len(l_start) - 1 if hi is None else hi
        self._made = _Made() if made is None else made

    def __len__(self) -> int:
        return self._hi - self._lo

    def __getitem__(self, j):
        if isinstance(j, slice):
            a, b, step = j.indices(len(self))
            if step != 1:
                return [self[k] for k in range(a, b, step)]
            return Layers(self.flat, self.u_start, self.u_shape, self.u_sheet, self.l_start,
                          self.r_start, self.l_runs, self._lo + a, self._lo + max(a, b),
                          self._made)
        if j < 0:
            j += len(self)
        if not 0 <= j < len(self):
            raise IndexError("layer index out of range")
        j += self._lo
        got = self._made.get(j)
        if got is None:
            got = self._make(j)
            self._made.put(j, got)
        return got

    def __iter__(self):
        made = self._made
        for j in range(self._lo, self._hi):
            got = made.get(j)
            yield got if got is not None else self._make(j)

    def _make(self, j: int) -> list[WorkUnit]:
        a, b = self.l_start[j], self.l_start[j + 1]
        flat, us = self.flat, self.u_start
        if b - a == 1:
            return [WorkUnit(self.u_shape[a], self.u_sheet[a], flat[us[a]:us[a + 1]])]
        bd = us[a:b + 1].tolist()
        return list(map(WorkUnit, self.u_shape[a:b], self.u_sheet[a:b],
                        map(flat.__getitem__, map(slice, bd[:-1], bd[1:]))))

    def view(self, j: int) -> LayerView:
        """Layer j as a sequence of units that are made only when read one by one."""
        return LayerView(self, j)

    def layer_arrays(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Layer j's units as read-only numpy views of the plan's arrays: (shape id per
        unit, sheet per unit, bounds: unit i's cells are flat[bounds[i]:bounds[i + 1]])."""
        j += self._lo
        a, b = self.l_start[j], self.l_start[j + 1]
        return (np.frombuffer(self.u_shape, np.int64)[a:b],
                np.frombuffer(self.u_sheet, np.int64)[a:b],
                np.frombuffer(self.u_start, np.int64)[a:b + 1])

    def widest(self, j: int) -> int:
        """The most cells any unit of layer j holds."""
        j += self._lo
        a, b = self.l_start[j], self.l_start[j + 1]
        if b <= a:
            return 0
        return int(np.diff(np.frombuffer(self.u_start, np.int64)[a:b + 1]).max())

    def spans(self, j: int) -> tuple[list[int], list[int]]:
        """Layer j's units without making them: (sheet per unit, bounds) where unit k's
        cells are flat[bounds[k]:bounds[k + 1]] (the serial order reads these: a layer of
        hand-typed formulas has a unit per cell)."""
        j += self._lo
        a, b = self.l_start[j], self.l_start[j + 1]
        return self.u_sheet[a:b].tolist(), self.u_start[a:b + 1].tolist()

    def unit_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every unit of this view's layers as read-only numpy views of the plan's arrays:
        (sheet per unit, bounds: unit k's cells are flat[bounds[k]:bounds[k + 1]]); a
        chain's run of thousands of one-cell layers is read so, with no WorkUnit made."""
        a, b = self.l_start[self._lo], self.l_start[self._hi]
        return (np.frombuffer(self.u_sheet, np.int64)[a:b],
                np.frombuffer(self.u_start, np.int64)[a:b + 1])

    def counts(self) -> tuple[list[int], list[int]]:
        """(units, cells) per layer of this view, without making the units."""
        ls = self.l_start[self._lo:self._hi + 1].tolist()
        us = self.u_start
        return ([b - a for a, b in zip(ls, ls[1:])],
                [us[b] - us[a] for a, b in zip(ls, ls[1:])])

    def segments(self, j: int) -> list[tuple[int, int, int, int]]:
        """Layer j's runs of consecutive units on one sheet, as (sheet, start, end, shape
        id or -1 for several shapes): its cells are flat[start:end] (see
        scheduler.base.Run.layer_tasks)."""
        j += self._lo
        rs, us = self.r_start, self.u_start
        runs = rs[self.l_runs[j]:self.l_runs[j + 1] + 1].tolist()
        return [(self.u_sheet[a], us[a], us[b], self.u_shape[a] if b - a == 1 else -1)
                for a, b in zip(runs, runs[1:])]


class LayerView(Sequence):
    """Layer j of a Layers, read as its list of WorkUnits, which are made (see _Made) only
    when something reads them one by one. The scheduler passes a whole layer along as
    this: deciding where it goes and cutting it into the workers' tasks read the plan's
    arrays (Layers.layer_arrays, widest, segments), so a wide layer of hand-typed formulas
    sent to the pool never costs a WorkUnit per cell (~160 B each)."""
    __slots__ = ("layers", "j")

    def __init__(self, layers: Layers, j: int):
        self.layers = layers
        self.j = j

    def __len__(self) -> int:
        j = self.j + self.layers._lo
        return self.layers.l_start[j + 1] - self.layers.l_start[j]

    def __getitem__(self, i):
        return self.layers[self.j][i]

    def __iter__(self):
        return iter(self.layers[self.j])



def layer_counts(layers) -> tuple[list[int], list[int]]:
    """(units, cells) per layer of a plan's layers: a Layers or a list of lists."""
    if isinstance(layers, Layers):
        return layers.counts()
    return ([len(layer) for layer in layers],
            [sum([len(u.cells) for u in layer]) for layer in layers])


class Adjacency:
    """Per-node lists of node ids, stored flat (CSR): `adj[v]` is a list, `len(adj)` the
    number of nodes. Much smaller than one list per node."""
    __slots__ = ("ptr", "flat")

    def __init__(self, ptr: list[int], flat: list[int]):
        self.ptr = ptr
        self.flat = flat

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def __getitem__(self, v: int) -> list[int]:
        return self.flat[self.ptr[v]:self.ptr[v + 1]]

    def __iter__(self):
        ptr, flat = self.ptr, self.flat
        for v in range(len(ptr) - 1):
            yield flat[ptr[v]:ptr[v + 1]]


@dataclass
class Plan:
    """The evaluation plan: layers of work units, then the tail (cycles and what depends
    on them), with the graph kept for `tainted` and the model's closures."""
    layers: Sequence[list[WorkUnit]]         # a Layers (build_plan) or a list of lists
    # cells left after the layers, in dependency order; each entry is one strongly connected
    # component: a single cell, or a cycle (several cells, or one that reads itself)
    tail: list[list[tuple[int, int, int]]] = field(default_factory=list)
    cycles: list[list[tuple[int, int, int]]] = field(default_factory=list)
    dynamic_cells: int = 0
    edges: int = 0
    block_nodes: int = 0
    # the graph, kept compact for analyses over it (volatility, precedents) and expanded on
    # first use by node_cell / preds / topo / cell_layer
    _keys: list = field(default_factory=list, repr=False)   # per sheet: (r, c) by node id
    _sizes: tuple | None = field(default=None, repr=False, compare=False)   # layer_counts
    _src: object = field(default=None, repr=False, compare=False)   # edges p -> v: numpy
    _dst: object = field(default=None, repr=False, compare=False)   # int32 arrays
    _topo: object = field(default=None, repr=False, compare=False)
    _n_nodes: int = 0
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def sizes(self) -> list[int]:
        """Cells per layer (computed once: a layer of hand-typed formulas has a unit per
        cell)."""
        return self._counts()[1]

    @property
    def unit_counts(self) -> list[int]:
        """Work units per layer."""
        return self._counts()[0]

    def _counts(self) -> tuple[list[int], list[int]]:
        if self._sizes is None or len(self._sizes[1]) != len(self.layers):
            self._sizes = layer_counts(self.layers)
        return self._sizes

    @property
    def node_cell(self) -> list[tuple[int, int, int]]:
        """Node ids 0..n-1 are the formula cells: node_cell[i] = (s, r, c); higher ids are
        range blocks."""
        got = self._cache.get("node_cell")
        if got is None:
            got = self._cache["node_cell"] = [
                (s, r, c) for s, keys in enumerate(self._keys) for r, c in keys]
        return got

    @property
    def preds(self) -> Adjacency:
        """preds[v]: the nodes v reads (cells and blocks; a block reads its two halves)."""
        return self._adjacency("preds", self._dst, self._src)

    @property
    def succs(self) -> Adjacency:
        """succs[v]: the nodes that read v."""
        return self._adjacency("succs", self._src, self._dst)

    def _adjacency(self, name: str, by, to) -> Adjacency:
        got = self._cache.get(name)
        if got is None:
            n = self._n_nodes
            if by is None or not n:
                got = Adjacency([0] * (n + 1), [])
            else:
                key = by.astype(np.int64) * n + to
                key.sort()
                head = key // n
                ptr = np.zeros(n + 1, np.int64)
                np.cumsum(np.bincount(head, minlength=n), out=ptr[1:])
                got = Adjacency(ptr.tolist(), (key - head * n).tolist())
            self._cache[name] = got
        return got

    @property
    def topo(self) -> list[int]:
        """The acyclic part of the graph (cells and blocks) in a dependency order."""
        got = self._cache.get("topo")
        if got is None:
            got = self._cache["topo"] = [] if self._topo is None else self._topo.tolist()
        return got

    @property
    def cell_layer(self) -> dict[tuple[int, int, int], int]:
        """(s, r, c) -> index of the layer that evaluates it."""
        got = self._cache.get("cell_layer")
        if got is None:
            got = self._cache["cell_layer"] = {
                (u.sheet, r, c): i for i, layer in enumerate(self.layers) for u in layer
                for r, c in u.cells}
        return got

    def tainted(self, seeds: set, stop: set | frozenset = frozenset()) -> set:
        """Cells that are in `seeds` or depend on one of them (directly or through other
        formulas, cycles included), e.g. the dependents of volatile cells; not through the
        cells in `stop` (left out unless they are seeds)."""
        node_cell = self.node_cell
        succs = self.succs
        ptr, flat = succs.ptr, succs.flat
        ids = self._cache.get("ids")
        if ids is None:
            ids = self._cache["ids"] = {cell: i for i, cell in enumerate(node_cell)}
        bad = bytearray(len(succs))
        stack = []
        for cell in seeds:
            v = ids.get(cell)
            if v is not None and not bad[v]:
                bad[v] = 1
                stack.append(v)
        n_cells = len(node_cell)
        while stack:                       # everything reachable from the seeds
            v = stack.pop()
            for w in flat[ptr[v]:ptr[v + 1]]:
                if not bad[w] and not (stop and w < n_cells and node_cell[w] in stop):
                    bad[w] = 1
                    stack.append(w)
        return {node_cell[i] for i in compress(range(len(node_cell)), bad)}

    def order(self):
        """Every formula cell in a valid serial evaluation order (layers, then the tail)."""
        for layer in self.layers:
            for unit in layer:
                s = unit.sheet
                for r, c in unit.cells:
                    yield (s, r, c)
        for comp in self.tail:
            yield from comp

    @property
    def n_cells(self) -> int:
        return sum(self.sizes) + sum(len(c) for c in self.tail)


@dataclass
class _Template:
    refs: list            # (sheets, Ref)
    structs: list         # StructRef nodes
    dynamic: bool


def _templates(engine, shape, sheet_free: bool = False) -> _Template:
    """What a shape's tree reads: references with the sheets they resolve to (`sheet_free`:
    a tree several sheets share, see Engine.shared_of: its unqualified references on
    sheet None, for _split_refs to place on each shape's sheet), structured references,
    and whether anything is dynamic."""
    refs, structs, dynamic = [], [], False
    if shape.tree is None:
        fc_kind = "dataTable" if shape.key.startswith("TABLE|") else ""
        return _Template(refs, structs, fc_kind == "dataTable")
    stack = [(shape.tree, None if sheet_free else shape.sheet)]
    seen_names = set()
    while stack:
        root, sheet = stack.pop()
        for node in walk(root):
            t = type(node)
            if t is Ref:
                if node.invalid:
                    continue
                try:
                    sheets = engine.resolve_sheets(node.sheet, node.sheet2, node.book, sheet)
                except KeyError:
                    continue
                refs.append((sheets, node))
            elif t is Name:
                key = (node.name.upper(), node.sheet, node.book, sheet)
                if key in seen_names:
                    continue
                seen_names.add(key)
                got = engine.name_tree(node.name, node.sheet, node.book, sheet)
                if got is not None:
                    stack.append(got)
            elif t is StructRef:
                structs.append(node)
            elif t is Func:
                spec = engine.function(node.name)
                if spec is not None and spec.dynamic_ref:
                    dynamic = True
                elif spec is None and node.name not in ("IF", "IFERROR", "IFNA", "CHOOSE",
                                                        "IFS", "SWITCH", "LET", "LAMBDA"):
                    user = engine.lambda_name(node.name, sheet)
                    key = (node.name.upper(), None, None, sheet)
                    if user is not None and key not in seen_names:
                        seen_names.add(key)     # (a recursive LAMBDA names itself)
                        stack.append(user)
            elif t is Binary and node.op == ":":
                if not (isinstance(node.left, Ref) and isinstance(node.right, Ref)):
                    dynamic = True
    return _Template(refs, structs, dynamic)


def _split_refs(tpl: _Template, n_local: int, own: int) -> tuple[_Template, list, list]:
    """A template's references as (single cells, the rest) for a shape on sheet `own`: a
    single cell on one sheet of this workbook as (sheet, row, col, row absolute, col
    absolute), resolved by key lookup; everything else (ranges, 3-D and external
    references) as in `tpl.refs`, sheet None (a sheet-free template's) as `own`."""
    singles, rects = [], []
    for sheets, ref in tpl.refs:
        if sheets[0] is None:
            sheets = [own]
        if (len(sheets) == 1 and sheets[0] < n_local and not ref.whole
                and ref.row1 == ref.row2 and ref.col1 == ref.col2
                and ref.row1_abs == ref.row2_abs and ref.col1_abs == ref.col2_abs):
            singles.append((sheets[0], ref.row1, ref.col1, int(ref.row1_abs),
                            int(ref.col1_abs)))
        else:
            rects.append((sheets, ref))
    return tpl, singles, rects


def _rect(ref: Ref, r: int, c: int):
    r1 = ref.row1 if ref.row1_abs else r + ref.row1
    c1 = ref.col1 if ref.col1_abs else c + ref.col1
    r2 = ref.row2 if ref.row2_abs else r + ref.row2
    c2 = ref.col2 if ref.col2_abs else c + ref.col2
    if not ref.row1_abs:
        r1 = (r1 - 1) % MAX_ROW + 1
    if not ref.row2_abs:
        r2 = (r2 - 1) % MAX_ROW + 1
    if not ref.col1_abs:
        c1 = (c1 - 1) % MAX_COL + 1
    if not ref.col2_abs:
        c2 = (c2 - 1) % MAX_COL + 1
    if r1 > r2:
        r1, r2 = r2, r1
    if c1 > c2:
        c1, c2 = c2, c1
    return r1, c1, r2, c2


def _wrap(x: np.ndarray, mx: int) -> np.ndarray:
    """Relative positions past the sheet's edge wrap around, like Excel (in place; the
    modulo only where needed, it is the slow part)."""
    out = (x < 1) | (x > mx)
    if out.any():
        x[out] = (x[out] - 1) % mx + 1
    return x


def _rect_arrays(ref: Ref, R: np.ndarray, C: np.ndarray):
    """`_rect` for many cells at once: arrays r1, c1, r2, c2 (same length as R)."""
    def one(off, absolute, base, mx):
        if absolute:
            return np.full(len(base), off, np.int64)
        return _wrap(base + off, mx)
    r1 = one(ref.row1, ref.row1_abs, R, MAX_ROW)
    r2 = one(ref.row2, ref.row2_abs, R, MAX_ROW)
    c1 = one(ref.col1, ref.col1_abs, C, MAX_COL)
    c2 = one(ref.col2, ref.col2_abs, C, MAX_COL)
    return np.minimum(r1, r2), np.minimum(c1, c2), np.maximum(r1, r2), np.maximum(c1, c2)


def _ragged(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ranges [starts[i], starts[i] + counts[i]) as one index array."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, np.int64)
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return shift + np.arange(total, dtype=np.int64)


class _Index:
    """The formula cells of every local sheet (plus cells covered by an array formula,
    which resolve to its anchor) as sorted key arrays: by (sheet, row, col) for single
    cells, by (sheet, col, row) for ranges (a column's cells are one contiguous run)."""

    def __init__(self, engine, S: np.ndarray, R: np.ndarray, C: np.ndarray):
        n = len(S)
        nid = np.arange(n, dtype=np.int64)
        k1 = (S * _RK + R) * _K + C
        o = np.argsort(k1, kind="stable")
        self.k1, self.v1 = k1[o], nid[o]
        cs, cr, cc, ca = [], [], [], []       # covered cells -> their anchor
        for s in range(engine.n_local):
            f = engine.formulas[s]
            cov = engine.covered[s]
            n = len(cov)
            if not n:
                continue
            # read at C speed into arrays (a 5,000,000-cell array formula: ~1 s and 0.2 GB
            # where Python lists of ints took ~5 s and 0.9 GB)
            rc = np.fromiter(chain.from_iterable(cov), np.int64, 2 * n).reshape(n, 2)
            an = np.fromiter(chain.from_iterable(cov.values()), np.int64, 2 * n).reshape(n, 2)
            keep = ~np.fromiter(map(f.__contains__, cov), bool, n)
            keep &= np.fromiter(map(f.__contains__, cov.values()), bool, n)
            cs.append(np.full(int(keep.sum()), s, np.int64))
            cr.append(rc[keep, 0])
            cc.append(rc[keep, 1])
            ca.append((s * _RK + an[keep, 0]) * _K + an[keep, 1])
            del rc, an, keep
        if cs and sum(map(len, cs)):
            S = np.concatenate([S, *cs])
            R = np.concatenate([R, *cr])
            C = np.concatenate([C, *cc])
            nid = np.concatenate([nid, self.lookup_keys(np.concatenate(ca))])
            k1 = (S * _RK + R) * _K + C
            o = np.argsort(k1, kind="stable")
            self.k1, self.v1 = k1[o], nid[o]
        k2 = (S * _K + C) * _RK + R
        o = np.argsort(k2, kind="stable")
        self.k2 = k2[o]                     # positions in a column run: sorted by row
        self.nodes = nid[o]
        colkey = self.k2 // _RK
        starts = np.flatnonzero(np.r_[True, colkey[1:] != colkey[:-1]]) if len(colkey) \
            else np.zeros(0, np.int64)
        self.colkeys = colkey[starts]       # sheet * _K + col, sorted
        self.col_start = np.r_[starts, len(colkey)].astype(np.int64)
        # dense grids (a sheet's rows x cols -> node id, -1 where none) when they are small
        # enough: one indexed read per reference instead of a binary search
        n_local = engine.n_local
        self.nrow = np.zeros(n_local, np.int64)
        self.ncol = np.zeros(n_local, np.int64)
        np.maximum.at(self.nrow, S, R)
        np.maximum.at(self.ncol, S, C)
        area = self.nrow * self.ncol
        self.grid = None
        if int(area.sum()) <= 4 * len(S) + (1 << 20):
            self.goff = np.r_[0, np.cumsum(area)[:-1]].astype(np.int64)
            self.grid = np.full(int(area.sum()) + 1, -1, np.int64)    # + 1: a miss slot
            self.grid[self.goff[S] + (R - 1) * self.ncol[S] + (C - 1)] = nid

    def lookup(self, sh, rr, cc) -> np.ndarray:
        """Node ids of cells (rr, cc) on sheets sh (arrays or scalars, rows and columns
        within the sheet's limits), -1 where no formula cell is there."""
        if self.grid is None:
            return self.lookup_keys((sh * _RK + rr) * _K + cc)
        nr, nc = self.nrow[sh], self.ncol[sh]
        pos = self.goff[sh] + (rr - 1) * nc + (cc - 1)
        return self.grid[np.where((rr <= nr) & (cc <= nc), pos, -1)]

    def lookup_keys(self, q: np.ndarray) -> np.ndarray:
        """Node ids of single-cell keys, -1 where no formula cell is there."""
        if not len(self.k1):
            return np.full(len(q), -1, np.int64)
        pos = np.searchsorted(self.k1, q)
        np.minimum(pos, len(self.k1) - 1, out=pos)
        return np.where(self.k1[pos] == q, self.v1[pos], -1)

    def columns(self, sh, r1, c1, r2, c2):
        """For each rectangle i (arrays; `sh` may be a scalar) and each column with formula
        cells inside it: (i, column number j, lo, hi) where positions lo..hi-1 of the index
        are its formula cells in the rectangle (non-empty only)."""
        a = np.searchsorted(self.colkeys, sh * _K + c1, "left")
        b = np.searchsorted(self.colkeys, sh * _K + c2, "right")
        cnt = b - a
        j = _ragged(a, cnt)
        i = np.repeat(np.arange(len(cnt), dtype=np.int64), cnt)
        base = self.colkeys[j] * _RK
        lo = np.searchsorted(self.k2, base + r1[i], "left")
        hi = np.searchsorted(self.k2, base + r2[i], "right")
        keep = hi > lo
        return i[keep], j[keep], lo[keep], hi[keep]


class _Blocks:
    """Segment-tree blocks over the columns that need them, created on demand: node ids
    from `first` on; block first + i reads children[i]."""

    def __init__(self, index: _Index, first: int):
        self.index = index
        self.first = first
        self.children: list[tuple[int, ...]] = []
        self.levels: dict[int, list[list[int]]] = {}     # column j -> level k -> ids or -1

    def block(self, j: int, k: int, i: int) -> int:
        """Node id of the block covering positions [i*2^k, (i+1)*2^k) of column j; the
        blocks under it are created bottom-up, level by level, as needed (no recursion)."""
        levels = self.levels.get(j)
        if levels is None:
            a, b = self.index.col_start[j], self.index.col_start[j + 1]
            levels = self.levels[j] = [self.index.nodes[a:b].tolist()]
        nodes = levels[0]
        if k == 0:
            return nodes[i]
        n = len(nodes)
        while len(levels) <= k:
            kk = len(levels)
            levels.append([-1] * ((n + (1 << kk) - 1) >> kk))
        got = levels[k][i]
        if got >= 0:
            return got
        children = self.children
        for kk in range(1, k + 1):
            below, cur = levels[kk - 1], levels[kk]
            nb = len(below)
            for jj in range(i << (k - kk), min((i + 1) << (k - kk), len(cur))):
                if cur[jj] < 0:
                    a = 2 * jj
                    cur[jj] = self.first + len(children)
                    children.append((below[a], below[a + 1]) if a + 1 < nb else (below[a],))
        return levels[k][i]

    def cover(self, j: int, lo: int, hi: int) -> list[int]:
        """O(log n) blocks covering positions lo..hi-1 (column-relative) of column j."""
        out = []
        while lo < hi:
            k = 0
            while lo % (1 << (k + 1)) == 0 and lo + (1 << (k + 1)) <= hi:
                k += 1
            out.append(self.block(j, k, lo >> k))
            lo += 1 << k
        return out


def _family_base(engine, shape):
    """The shape whose tree stands for the family (every member reads alike; the first
    member's tree is built already, other members build theirs only on demand)."""
    f = shape.family
    if 0 <= f < len(engine.shapes):
        base = engine.shapes[f]
        if base.family == f and base.sheet == shape.sheet:
            return base
    return shape


def build_plan(engine) -> Plan:
    """Build the dependency graph of a prepared engine and cut it into layers."""
    plan = _make_plan(engine)
    release_freed_memory()           # once every temporary of the build is freed
    return plan


def _make_plan(engine) -> Plan:
    engine.prepare()
    n_local = engine.n_local
    keys = [list(engine.formulas[s]) for s in range(n_local)]     # node id order
    counts = [len(k) for k in keys]
    n_cells = sum(counts)
    if not n_cells:
        return Plan([], _keys=keys)
    rc = np.fromiter(chain.from_iterable(chain.from_iterable(keys)), np.int64, 2 * n_cells)
    R, C = rc[0::2].copy(), rc[1::2].copy()
    del rc
    S = np.repeat(np.arange(n_local, dtype=np.int64), counts)
    get_id = attrgetter("id")

    def shape_ids(s: int):
        cs = engine.cell_shape[s]
        if list(cs) == keys[s]:              # the usual case: filled in the formulas' order
            return map(get_id, cs.values())
        return map(get_id, map(cs.__getitem__, keys[s]))
    sid = np.fromiter(chain.from_iterable(map(shape_ids, range(n_local))), np.int64, n_cells)
    all_shapes = engine.shapes
    if any(sh.id != i for i, sh in enumerate(all_shapes)):   # ids are list positions
        all_shapes = {sh.id: sh for sh in all_shapes}
        all_shapes = [all_shapes.get(i) for i in range(max(all_shapes, default=-1) + 1)]
    fam = np.fromiter((-1 if sh is None else sh.family for sh in all_shapes), np.int64,
                      len(all_shapes))[sid]
    fam = np.where(fam >= 0, fam, -1 - sid)          # no family: a group of its own

    # cells grouped by family (shapes that differ only in numbers read alike), node order
    by_fam = np.argsort(fam, kind="stable")
    fs = fam[by_fam]
    g_start = np.flatnonzero(np.r_[True, fs[1:] != fs[:-1]])
    g_bound = np.r_[g_start, n_cells]
    n_groups = len(g_start)
    group_of = np.empty(n_cells, np.int64)
    group_of[by_fam] = np.repeat(np.arange(n_groups, dtype=np.int64), np.diff(g_bound))
    del fs

    index = _Index(engine, S, R, C)
    srcs: list[np.ndarray] = []                       # edges pred -> cell, in chunks
    dsts: list[np.ndarray] = []
    templates: dict = {}                              # shape id or _Shared -> _Template
    single_rows: list[tuple] = []                     # (sheet, row, col, row abs, col abs)
    big_singles: list[tuple[int, int, list]] = []     # (first, end in by_fam, singles)
    g_ref_start = np.zeros(n_groups, np.int64)
    g_ref_n = np.zeros(n_groups, np.int64)
    dynamic_cells = 0
    # range reads: per reader rows (reader, column j, lo, hi) and per family rows for a
    # rectangle every cell of the family reads (absolute references)
    q_reader: list[np.ndarray] = []
    q_col: list[np.ndarray] = []
    q_lo: list[np.ndarray] = []
    q_hi: list[np.ndarray] = []
    shared_q: list[tuple[np.ndarray, int, int, int]] = []     # (readers, j, lo, hi)
    odd: list[tuple[int, int, int, int, int, int]] = []       # (reader, s, r1, c1, r2, c2)
    firsts = by_fam[g_start].tolist()
    g_bound_l = g_bound.tolist()
    extent = engine.extent
    offsets = np.cumsum([0] + counts).tolist()
    for g in range(n_groups):
        shape = _family_base(engine, all_shapes[sid[firsts[g]]])
        # one template for a formula several sheets share
        shared = engine.shared_of(shape)
        tkey = shape.id if shared is None else shared
        tpl = templates.get(tkey)
        if tpl is None:
            tpl = templates[tkey] = _templates(engine, shape, shared is not None)
        tpl, singles, rects = _split_refs(tpl, n_local, shape.sheet)
        a, b = g_bound_l[g], g_bound_l[g + 1]
        if tpl.dynamic:
            dynamic_cells += b - a
        if singles and b - a >= _BIG_FAMILY:
            big_singles.append((a, b, singles))
        elif singles:
            g_ref_start[g] = len(single_rows)
            g_ref_n[g] = len(singles)
            single_rows.extend(singles)
        cells = None
        for sheets, ref in rects:
            fixed = ref.row1_abs and ref.row2_abs and ref.col1_abs and ref.col2_abs
            if cells is None:
                cells = by_fam[a:b]
            if fixed:          # the same rectangle for every cell of the family
                r1, c1, r2, c2 = (np.array([x], np.int64) for x in _rect(ref, 0, 0))
            else:
                r1, c1, r2, c2 = _rect_arrays(ref, R[cells], C[cells])
            for sh in sheets:
                if sh >= n_local:
                    continue             # external workbook: cached values, no formulas
                mr, mc = extent[sh]
                rr2 = np.minimum(r2, np.maximum(mr, r1))
                cc2 = np.minimum(c2, np.maximum(mc, c1))
                i, j, lo, hi = index.columns(sh, r1, c1, rr2, cc2)
                if fixed:
                    shared_q.extend((cells, jj, ll, hh) for jj, ll, hh in
                                    zip(j.tolist(), lo.tolist(), hi.tolist()))
                elif len(i):
                    q_reader.append(cells[i])
                    q_col.append(j)
                    q_lo.append(lo)
                    q_hi.append(hi)
        if tpl.structs or shape.tree is None:
            # structured references and data tables: per cell (their rectangles depend on
            # the table or on the cell's own formula)
            _odd_reads(engine, tpl, by_fam[a:b].tolist(), node_sheet=S, keys=keys,
                       offsets=offsets, out=odd)
    if odd:
        arr = np.array(odd, np.int64)
        i, j, lo, hi = index.columns(arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5])
        q_reader.append(arr[i, 0])
        q_col.append(j)
        q_lo.append(lo)
        q_hi.append(hi)
    del odd
    # single-cell references: a few array operations per reference of a big family, the
    # small families all at once (ragged arrays), in batches of cells
    for a, b, singles in big_singles:
        _family_single_edges(index, by_fam[a:b], R, C, singles, srcs, dsts)
    if single_rows:
        refs = np.array(single_rows, np.int64)
        todo = np.flatnonzero(g_ref_n[group_of] > 0)
        for a in range(0, len(todo), _CHUNK):
            part = todo[a:a + _CHUNK]
            g = group_of[part]
            cnt = g_ref_n[g]
            cell = np.repeat(part, cnt)
            ref = refs[_ragged(g_ref_start[g], cnt)]
            rr = _wrap(np.where(ref[:, 3] == 1, 0, R[cell]) + ref[:, 1], MAX_ROW)
            cc = _wrap(np.where(ref[:, 4] == 1, 0, C[cell]) + ref[:, 2], MAX_COL)
            v = index.lookup(ref[:, 0], rr, cc)
            ok = v >= 0
            srcs.append(v[ok])
            dsts.append(cell[ok])

    n_blocks = _range_edges(index, n_cells, q_reader, q_col, q_lo, q_hi, shared_q,
                            srcs, dsts)
    n_total = n_cells + n_blocks
    del index, by_fam, group_of, R, C, fam, q_reader, q_col, q_lo, q_hi, shared_q
    # the graph stage's peak memory: each list of chunks freed once joined
    src = np.concatenate(srcs) if srcs else np.zeros(0, np.int64)
    del srcs
    dst = np.concatenate(dsts) if dsts else np.zeros(0, np.int64)
    del dsts
    # a cell reading itself keeps its self-edge: Tarjan reports it as a cycle

    level, topo, succ_lists = _levels(n_total, n_cells, src, dst)
    if len(topo) == n_total:
        succ_lists = None       # no cycle: the narrow path's lists go before the layers come
    done = np.zeros(n_total, bool)
    done[topo] = True
    # the plan keeps the edges as int32: made now, the int64 ones freed before the layers
    # are made (the graph stage's peak: hetero_10000 -0.7 MB)
    n_edges = len(src)
    src, dst, topo = src.astype(np.int32), dst.astype(np.int32), topo.astype(np.int32)
    layers = _layers(n_cells, n_local, done[:n_cells], level[:n_cells], S, sid, keys)
    plan = Plan(layers, dynamic_cells=dynamic_cells, edges=n_edges, block_nodes=n_blocks,
                _keys=keys, _src=src, _dst=dst, _topo=topo, _n_nodes=n_total)
    if len(topo) < n_total:
        sp, su = succ_lists()
        rest = np.flatnonzero(~done).tolist()
        comps = _tarjan(rest, sp, su, done.tolist())
        node_cell = plan.node_cell
        for comp in comps:
            cells = [node_cell[v] for v in comp if v < n_cells]
            v0 = comp[0]
            is_cycle = len(comp) > 1 or v0 in su[sp[v0]:sp[v0 + 1]]
            if not cells:
                continue
            if is_cycle:
                # blocks inside a component are parts of it; cells are what we report
                plan.cycles.append(sorted(cells))
                plan.tail.append(sorted(cells))
            else:
                plan.tail.append(cells)
    return plan


def _family_single_edges(index: _Index, cells: np.ndarray, R: np.ndarray, C: np.ndarray,
                         singles: list, srcs: list, dsts: list) -> None:
    """Edges of a big family's single-cell references: one array operation per reference
    for all its cells (sorted node ids `cells`)."""
    Rg, Cg = R[cells], C[cells]
    for sh, dr, dc, ra, ca in singles:
        rr = np.array([dr], np.int64) if ra else _wrap(Rg + dr, MAX_ROW)
        cc = np.array([dc], np.int64) if ca else _wrap(Cg + dc, MAX_COL)
        v = index.lookup(sh, rr, cc)
        if len(v) == 1:            # absolute: one cell for the whole family
            v = np.repeat(v, len(cells))
        ok = v >= 0
        srcs.append(v[ok])
        dsts.append(cells[ok])


def _range_edges(index: _Index, n_cells: int, q_reader: list, q_col: list, q_lo: list,
                 q_hi: list, shared_q: list, srcs: list, dsts: list) -> int:
    """Edges of the range reads: rows (reader, column j, lo, hi) in the q_ arrays, and
    (readers, j, lo, hi) in `shared_q` for a rectangle a whole family reads. Direct edges,
    or blocks where direct edges would be many more than the column has cells (several
    big readers, running totals). Returns the number of blocks (nodes n_cells on)."""
    blocks = _Blocks(index, n_cells)
    if q_reader or shared_q:
        col_len = np.diff(index.col_start)
        demand = np.zeros(len(col_len), np.int64)
        if q_reader:
            qr, qj = np.concatenate(q_reader), np.concatenate(q_col)
            ql, qh = np.concatenate(q_lo), np.concatenate(q_hi)
            span = qh - ql
            big = span > _DIRECT_LIMIT
            np.add.at(demand, qj[big], span[big])
        for readers, jj, ll, hh in shared_q:
            if hh - ll > _DIRECT_LIMIT:
                demand[jj] += (hh - ll) * len(readers)
        use_blocks = demand > _BLOCK_DEMAND * col_len
        nodes = index.nodes
        starts = index.col_start.tolist()
        if q_reader:
            direct = ~big | ~use_blocks[qj]
            srcs.append(nodes[_ragged(ql[direct], span[direct])])
            dsts.append(np.repeat(qr[direct], span[direct]))
            bs, bd = [], []
            for reader, jj, ll, hh in zip(qr[~direct].tolist(), qj[~direct].tolist(),
                                          ql[~direct].tolist(), qh[~direct].tolist()):
                cov = blocks.cover(jj, ll - starts[jj], hh - starts[jj])
                bs.extend(cov)
                bd.extend([reader] * len(cov))
            srcs.append(np.array(bs, np.int64))
            dsts.append(np.array(bd, np.int64))
        for readers, jj, ll, hh in shared_q:
            if hh - ll <= _DIRECT_LIMIT or not use_blocks[jj]:
                got = nodes[ll:hh]
            else:
                got = np.array(blocks.cover(jj, ll - starts[jj], hh - starts[jj]), np.int64)
            srcs.append(np.tile(got, len(readers)))
            dsts.append(np.repeat(readers, len(got)))
    ch = blocks.children
    if ch:
        lens = np.fromiter(map(len, ch), np.int64, len(ch))
        srcs.append(np.fromiter(chain.from_iterable(ch), np.int64, int(lens.sum())))
        dsts.append(np.repeat(np.arange(n_cells, n_cells + len(ch), dtype=np.int64), lens))
    return len(ch)


def _odd_reads(engine, tpl: _Template, nids: list[int], *, node_sheet, keys, offsets,
               out: list) -> None:
    """Rectangles read by structured references and data tables, cell by cell, as rows
    (reader, sheet, r1, c1, r2, c2) appended to `out`."""
    from ..functions.registry import Context
    for nid in nids:
        s = int(node_sheet[nid])
        r, c = keys[s][nid - offsets[s]]
        if tpl.structs:
            cx = Context(engine, s, r, c)
            for node in tpl.structs:
                rng = engine.structured_ref(node.table, node.spec, cx)
                if hasattr(rng, "r1"):
                    out.append((nid, rng.sheet, rng.r1, rng.c1, rng.r2, rng.c2))
        fc = engine.formulas[s][(r, c)]
        if fc.kind == "dataTable" and fc.ref is not None:
            # a data table reads its formula row/column and headers around its range
            r1, c1, r2, c2 = fc.ref
            out.append((nid, s, r1 - 1, c1 - 1, r2, c1 - 1))
            out.append((nid, s, r1 - 1, c1, r1 - 1, c2))


def _levels(n_total: int, n_cells: int, src: np.ndarray, dst: np.ndarray):
    """Kahn's algorithm: (level per node, the nodes it ordered, a function giving the
    successor lists (ptr, flat) as Python lists). A cell's level is its layer: one more
    than its highest cell precedent's (blocks pass levels through). Wide frontiers go a
    whole frontier at a time (numpy); once frontiers stay narrow (a long chain), node by
    node over Python lists, which costs less per node there."""
    key = src * n_total + dst
    key.sort()                             # successors by node, each list in node order
    by = key // n_total
    succ = key - by * n_total
    del key
    sptr = np.zeros(n_total + 1, np.int64)
    np.cumsum(np.bincount(by, minlength=n_total), out=sptr[1:])
    del by
    indeg = np.bincount(dst, minlength=n_total)
    level = np.zeros(n_total, np.int64)
    front = np.flatnonzero(indeg == 0)
    topo: list[np.ndarray] = []
    narrow = 0
    while len(front):
        if len(front) < _NARROW:
            narrow += 1
            if narrow > _NARROW_ROUNDS:
                break
        topo.append(front)
        st = sptr[front]
        cnt = sptr[front + 1] - st
        w = succ[_ragged(st, cnt)]
        if not len(w):
            front = w
            break
        lv = level[front] + (front < n_cells)
        np.maximum.at(level, w, np.repeat(lv, cnt))
        np.subtract.at(indeg, w, 1)
        front = w[indeg[w] == 0]           # a node read twice by the frontier: twice here
        if len(front) > 1:
            front.sort()
            front = front[np.r_[True, front[1:] != front[:-1]]]
    cache = []

    def lists():
        if not cache:
            cache.append((sptr.tolist(), succ.tolist()))
        return cache[0]
    if len(front):
        # successors read through memoryviews of the arrays: no int object per edge (a
        # chain's lists would hold ~3 MB per 40k cells); ~6% slower than lists here
        sp, su = memoryview(sptr), memoryview(succ)
        deg = indeg.tolist()
        lev = level.tolist()
        queue = front.tolist()
        append = queue.append
        for v in queue:                    # grows while it is walked: plain Kahn
            lv = lev[v] + (v < n_cells)
            for w in su[sp[v]:sp[v + 1]]:
                if lv > lev[w]:
                    lev[w] = lv
                d = deg[w] - 1
                deg[w] = d
                if not d:
                    append(w)
        topo.append(np.array(queue, np.int64))
        level = np.array(lev, np.int64)
    order = np.concatenate(topo) if topo else np.zeros(0, np.int64)
    return level, order, lists


def _layers(n_cells: int, n_local: int, done: np.ndarray, level: np.ndarray,
            S: np.ndarray, sid: np.ndarray, keys: list) -> Layers:
    """Layers of work units from the cells' levels: a layer's cells in node order, one
    unit per (shape, sheet), units in the order of their first cell; as arrays (see
    Layers), also each layer's runs of consecutive units on one sheet."""
    cells = np.flatnonzero(done)
    if not len(cells):
        e = array("q", [0])
        return Layers([], e, array("q"), array("q"), e, e, e)
    lv = level[cells]
    unit = sid[cells] * n_local + S[cells]
    n_units = int(unit.max()) + 1
    g = lv * n_units + unit
    o = np.argsort(g, kind="stable")                       # by (layer, unit), node order
    g = g[o]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    lens = np.diff(np.r_[starts, len(g)])
    head = cells[o[starts]]                                # a unit's first (lowest) node
    u_lv = g[starts] // n_units
    del g
    by_first = np.argsort(u_lv * n_cells + head)           # units: by layer, first node
    cells = cells[o[_ragged(starts[by_first], lens[by_first])]]
    del o, starts
    lens = lens[by_first]
    lv = u_lv[by_first]
    head = head[by_first]
    del by_first, u_lv
    u_start = np.r_[0, np.cumsum(lens)]
    del lens
    # the sheets' own (r, c) key tuples, picked without making an int object per cell
    all_keys = np.fromiter(chain.from_iterable(keys), object, n_cells)
    flat = all_keys[cells].tolist()
    del all_keys, cells
    u_s = S[head]
    new_layer = np.r_[True, lv[1:] != lv[:-1]]
    # runs of consecutive units of one layer on one sheet (a unit is one (shape, sheet),
    # so a run of several units holds several shapes)
    new_run = new_layer | np.r_[True, u_s[1:] != u_s[:-1]]
    l_start = np.r_[np.flatnonzero(new_layer), len(lv)]
    r_start = np.r_[np.flatnonzero(new_run), len(lv)]
    l_runs = np.r_[np.flatnonzero(new_layer[new_run]), len(r_start) - 1]
    return Layers(flat, _array(u_start), _array(sid[head]), _array(u_s), _array(l_start),
                  _array(r_start), _array(l_runs))


def _array(a: np.ndarray) -> array:
    """An int64 numpy array as an array('q'), copied as bytes (no int object per item)."""
    out = array("q")
    out.frombytes(memoryview(np.ascontiguousarray(a, dtype=np.int64)).cast("B"))  # no copy
    return out


def _tarjan(nodes: list[int], sp: list[int], su: list[int],
            done: list[bool]) -> list[list[int]]:
    """Strongly connected components of the sub-graph `nodes` (successors of v:
    su[sp[v]:sp[v+1]]), in dependency order (a component comes after every component it
    depends on). Iterative."""
    index = {}
    low = {}
    on = set()
    st: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, -1)]
        while work:
            v, i = work[-1]
            if i < 0:                      # first visit
                index[v] = low[v] = counter
                counter += 1
                st.append(v)
                on.add(v)
                i = sp[v]
            end = sp[v + 1]
            advanced = False
            while i < end:
                w = su[i]
                i += 1
                if done[w]:
                    continue
                if w not in index:
                    work[-1] = (v, i)
                    work.append((w, -1))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = st.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    out.reverse()
    return out


def plan_stats(engine, plan: Plan) -> dict:
    """Per-sheet and whole-workbook figures for `xleval graph`."""
    sheets = {}
    for s in range(engine.n_local):
        name = engine.sheet_names[s]
        shapes = {sh.id for sh in engine.cell_shape[s].values()}
        widths: dict[int, int] = {}
        for (ss, r, c), lv in plan.cell_layer.items():
            if ss == s:
                widths[lv] = widths.get(lv, 0) + 1
        sheets[name] = {
            "formulas": len(engine.formulas[s]),
            "shapes": len(shapes),
            "layers": len(widths),
            "max_width": max(widths.values(), default=0),
            "longest_chain": (max(widths) + 1) if widths else 0,
            "cycles": sum(1 for comp in plan.cycles if comp[0][0] == s),
        }
    widths_all = [sum(len(u.cells) for u in layer) for layer in plan.layers]
    return {
        "formulas": sum(v["formulas"] for v in sheets.values()),
        "shapes": len(engine.shapes),
        "layers": len(plan.layers),
        "layer_widths": widths_all,
        "longest_chain": len(plan.layers),
        "edges": plan.edges,
        "block_nodes": plan.block_nodes,
        "dynamic_cells": plan.dynamic_cells,
        "cycles": [[f"{engine.sheet_names[s]}!{_a1(r, c)}" for s, r, c in comp]
                   for comp in plan.cycles],
        "tail_cells": sum(len(c) for c in plan.tail),
        "sheets": sheets,
    }


def _a1(r, c):
    from ..refs import cell_name
    return cell_name(r, c)
