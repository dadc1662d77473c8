"""The dependency graph of the formula cells and its evaluation plan.

Nodes are formula cells (an array formula is one node; the cells it covers resolve to it).
A reference to a range is not exploded into one edge per cell: formula cells are indexed
per column in sorted order, and a range that holds more than a few of them is covered by
O(log n) *block* nodes of a segment tree over that column (a block depends on its two
halves), so `SUM(A1:A100000)` over 100k formula cells costs ~17 edges, and the running
total `SUM($A$1:A1)` copied down n rows costs O(n log n) edges, not O(n^2).

Kahn's algorithm gives the topological *layers* (cells whose inputs are all in earlier
layers, mutually independent); what is left over contains the cycles, which an iterative
Tarjan pass splits into strongly connected components in evaluation order. Nothing here
recurses.

Dynamic references (INDIRECT, OFFSET, `A1:INDEX(...)`) are not visible statically: such cells
are scheduled like the others on their static precedents, and the engine resolves what they
actually read at evaluation time (it computes a pending precedent first, see engine.py).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from ..parser.ast import Binary, Func, Name, Ref, StructRef, walk
from ..refs import MAX_COL, MAX_ROW

_DIRECT_LIMIT = 8     # at most this many formula cells of a column: direct edges


@dataclass
class WorkUnit:
    """Cells of one layer that share one compiled shape on one sheet."""
    shape: int
    sheet: int
    cells: list[tuple[int, int]]


@dataclass
class Plan:
    layers: list[list[WorkUnit]]
    # cells left after the layers, in dependency order; each entry is one strongly connected
    # component: a single cell, or a cycle (several cells, or one that reads itself)
    tail: list[list[tuple[int, int, int]]] = field(default_factory=list)
    cycles: list[list[tuple[int, int, int]]] = field(default_factory=list)
    dynamic_cells: int = 0
    edges: int = 0
    block_nodes: int = 0
    cell_layer: dict = field(default_factory=dict)     # (s, r, c) -> layer index
    # kept for analyses over the graph (volatility, precedents): node ids 0..n-1 are cells
    # (node_cell[i] = (s, r, c)), higher ids are range blocks; topo = acyclic part in order
    node_cell: list = field(default_factory=list, repr=False)
    preds: list = field(default_factory=list, repr=False)
    topo: list = field(default_factory=list, repr=False)

    def tainted(self, seeds: set) -> set:
        """Cells that are in `seeds` or depend on one of them (directly or through other
        formulas), e.g. the dependents of volatile cells."""
        n = len(self.node_cell)
        bad = [False] * len(self.preds)
        ids = {cell: i for i, cell in enumerate(self.node_cell)}
        for cell in seeds:
            if cell in ids:
                bad[ids[cell]] = True
        order = list(self.topo) + [ids[c] for comp in self.tail for c in comp if c in ids]
        for _ in range(2 if self.tail else 1):
            for v in order:
                if not bad[v] and any(bad[p] for p in self.preds[v]):
                    bad[v] = True
        return {self.node_cell[i] for i in range(n) if bad[i]}

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
        return sum(len(u.cells) for layer in self.layers for u in layer) + \
            sum(len(c) for c in self.tail)


@dataclass
class _Template:
    refs: list            # (sheets, Ref)
    structs: list         # StructRef nodes
    dynamic: bool


def _templates(engine, shape) -> _Template:
    refs, structs, dynamic = [], [], False
    if shape.tree is None:
        fc_kind = "dataTable" if shape.key.startswith("TABLE|") else ""
        return _Template(refs, structs, fc_kind == "dataTable")
    stack = [(shape.tree, shape.sheet)]
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
                    if user is not None:
                        stack.append(user)
            elif t is Binary and node.op == ":":
                if not (isinstance(node.left, Ref) and isinstance(node.right, Ref)):
                    dynamic = True
    return _Template(refs, structs, dynamic)


def _split_refs(tpl: _Template, n_local: int) -> tuple[_Template, list, list]:
    """A template's references as (single cells, the rest): a single cell on one sheet of
    this workbook as (sheet, row, col, row absolute, col absolute), for build_plan's fast
    path; everything else (ranges, 3-D and external references) as in `tpl.refs`."""
    singles, rects = [], []
    for sheets, ref in tpl.refs:
        if (len(sheets) == 1 and sheets[0] < n_local and not ref.whole
                and ref.row1 == ref.row2 and ref.col1 == ref.col2
                and ref.row1_abs == ref.row2_abs and ref.col1_abs == ref.col2_abs):
            singles.append((sheets[0], ref.row1, ref.col1, ref.row1_abs, ref.col1_abs))
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


class _Index:
    """Formula cells per (sheet, column), sorted by row, for range queries."""

    def __init__(self, engine, ids):
        self.cols: dict[int, list[int]] = {}        # sheet -> sorted columns with formulas
        self.rows: dict[tuple[int, int], list[int]] = {}
        self.nodes: dict[tuple[int, int], list[int]] = {}
        per = defaultdict(list)
        for s in range(engine.n_local):
            for (r, c), nid in ids[s].items():
                per[(s, c)].append((r, nid))
            for (r, c), anchor in engine.covered[s].items():
                if (r, c) not in ids[s] and anchor in ids[s]:
                    per[(s, c)].append((r, ids[s][anchor]))
        bysheet = defaultdict(list)
        for (s, c), lst in per.items():
            lst.sort()
            self.rows[(s, c)] = [x[0] for x in lst]
            self.nodes[(s, c)] = [x[1] for x in lst]
            bysheet[s].append(c)
        for s, cs in bysheet.items():
            self.cols[s] = sorted(cs)


def build_plan(engine) -> Plan:
    """Build the dependency graph of a prepared engine and cut it into layers."""
    engine.prepare()
    ids: list[dict[tuple[int, int], int]] = [dict() for _ in range(engine.n_local)]
    node_cell: list[tuple[int, int, int]] = []
    for s in range(engine.n_local):
        d = ids[s]
        for rc in engine.formulas[s]:
            d[rc] = len(node_cell)
            node_cell.append((s, rc[0], rc[1]))
    n_cells = len(node_cell)
    index = _Index(engine, ids)
    preds: list[list[int]] = [[] for _ in range(n_cells)]
    block_children: list[tuple[int, int]] = []       # for block node n_cells + i
    templates: dict[int, _Template] = {}
    dynamic_cells = 0

    col_levels: dict[tuple[int, int], list[list[int]]] = {}   # level k -> node ids or -1

    def block(s: int, col: int, k: int, i: int) -> int:
        """Node id of the block covering positions [i*2^k, (i+1)*2^k) of a column; the
        blocks under it are created bottom-up, level by level, as needed (no recursion)."""
        nodes = index.nodes[(s, col)]
        if k == 0:
            return nodes[i]
        levels = col_levels.get((s, col))
        if levels is None:
            levels = col_levels[(s, col)] = [nodes]
        n = len(nodes)
        while len(levels) <= k:
            kk = len(levels)
            levels.append([-1] * ((n + (1 << kk) - 1) >> kk))
        got = levels[k][i]
        if got >= 0:
            return got
        for kk in range(1, k + 1):
            below, cur = levels[kk - 1], levels[kk]
            nb = len(below)
            for j in range(i << (k - kk), min((i + 1) << (k - kk), len(cur))):
                if cur[j] < 0:
                    a = 2 * j
                    cur[j] = n_cells + len(block_children)
                    block_children.append((below[a], below[a + 1]) if a + 1 < nb
                                          else (below[a],))
        return levels[k][i]

    def add_rect(out: list[int], s: int, r1: int, c1: int, r2: int, c2: int) -> None:
        cols = index.cols.get(s)
        if not cols:
            return
        if r1 == r2 and c1 == c2:
            nid = ids[s].get((r1, c1))
            if nid is None:
                a = engine.covered[s].get((r1, c1))
                if a is not None:
                    nid = ids[s].get(a)
            if nid is not None:
                out.append(nid)
            return
        lo_c = bisect_left(cols, c1)
        hi_c = bisect_right(cols, c2)
        for col in cols[lo_c:hi_c]:
            rows = index.rows[(s, col)]
            lo = bisect_left(rows, r1)
            hi = bisect_right(rows, r2)
            if hi - lo <= _DIRECT_LIMIT:
                out.extend(index.nodes[(s, col)][lo:hi])
                continue
            while lo < hi:
                k = 0
                while lo % (1 << (k + 1)) == 0 and lo + (1 << (k + 1)) <= hi:
                    k += 1
                out.append(block(s, col, k, lo >> k))
                lo += 1 << k

    n_local = engine.n_local
    covered = engine.covered
    cell_shape = engine.cell_shape
    split: dict[int, tuple] = {}          # family -> (template, single cells, other refs)
    for nid in range(n_cells):
        s, r, c = node_cell[nid]
        shape = cell_shape[s][(r, c)]
        got = split.get(shape.family)
        if got is None:
            # shapes of one family (formulas that differ only in numbers) read alike
            tpl = templates.get(shape.id)
            if tpl is None:
                tpl = templates[shape.id] = _templates(engine, shape)
            got = split[shape.family] = _split_refs(tpl, n_local)
        tpl, singles, rects = got
        out = preds[nid]
        if tpl.dynamic:
            dynamic_cells += 1
        # fast path for the common reference, one cell on a sheet of this workbook: a dict
        # lookup instead of add_rect (same result: a single cell is never clipped)
        for sh, dr, dc, ra, ca in singles:
            rr = dr if ra else r + dr
            cc = dc if ca else c + dc
            if rr < 1 or rr > MAX_ROW:
                rr = (rr - 1) % MAX_ROW + 1
            if cc < 1 or cc > MAX_COL:
                cc = (cc - 1) % MAX_COL + 1
            v = ids[sh].get((rr, cc))
            if v is None:
                a = covered[sh].get((rr, cc))
                if a is not None:
                    v = ids[sh].get(a)
            if v is not None:
                out.append(v)
        for sheets, ref in rects:
            r1, c1, r2, c2 = _rect(ref, r, c)
            for sh in sheets:
                if sh >= n_local:
                    continue             # external workbook: cached values, no formulas
                mr = engine.extent[sh][0]
                mc = engine.extent[sh][1]
                add_rect(out, sh, r1, c1, min(r2, max(mr, r1)), min(c2, max(mc, c1)))
        if tpl.structs:
            from ..functions.registry import Context
            cx = Context(engine, s, r, c)
            for node in tpl.structs:
                rng = engine.structured_ref(node.table, node.spec, cx)
                if hasattr(rng, "r1"):
                    add_rect(out, rng.sheet, rng.r1, rng.c1, rng.r2, rng.c2)
        fc = engine.formulas[s][(r, c)]
        if fc.kind == "dataTable" and fc.ref is not None:
            # a data table reads its formula row/column and headers around its range
            r1, c1, r2, c2 = fc.ref
            add_rect(out, s, r1 - 1, c1 - 1, r2, c1 - 1)
            add_rect(out, s, r1 - 1, c1, r1 - 1, c2)
        # a cell reading itself stays in its own preds: Tarjan reports it as a cycle

    n_total = n_cells + len(block_children)
    all_preds = preds + [list(ch) for ch in block_children]
    succs: list[list[int]] = [[] for _ in range(n_total)]
    indeg = list(map(len, all_preds))
    edges = sum(indeg)
    for v, ps in enumerate(all_preds):
        for p in ps:
            succs[p].append(v)
    level = [0] * n_total
    queue = [v for v in range(n_total) if indeg[v] == 0]
    append = queue.append
    head = 0
    while head < len(queue):
        v = queue[head]
        head += 1
        lv = level[v] + (1 if v < n_cells else 0)
        for w in succs[v]:
            if lv > level[w]:
                level[w] = lv
            indeg[w] -= 1
            if indeg[w] == 0:
                append(w)
    done = [False] * n_total
    for v in queue:
        done[v] = True
    # block levels passed through +0, cells +1: a cell's level is its layer
    layers_map: dict[int, dict[tuple[int, int], list]] = defaultdict(dict)
    cell_layer = {}
    for v in queue:
        if v >= n_cells:
            continue
        s, r, c = node_cell[v]
        shape = engine.cell_shape[s][(r, c)]
        lv = level[v]
        units = layers_map[lv]
        key = (shape.id, s)
        if key not in units:
            units[key] = WorkUnit(shape.id, s, [])
        units[key].cells.append((r, c))
        cell_layer[(s, r, c)] = lv
    nl = (max(layers_map) + 1) if layers_map else 0
    layers = [list(layers_map[i].values()) for i in range(nl) if i in layers_map]
    plan = Plan(layers, dynamic_cells=dynamic_cells, edges=edges,
                block_nodes=len(block_children), cell_layer=cell_layer,
                node_cell=node_cell, preds=all_preds, topo=queue)
    rest = [v for v in range(n_total) if not done[v]]
    if rest:
        comps = _tarjan(rest, succs, done)
        for comp in comps:
            cells = [node_cell[v] for v in comp if v < n_cells]
            is_cycle = len(comp) > 1 or comp[0] in all_preds[comp[0]]
            if not cells:
                continue
            if is_cycle:
                # blocks inside a component are parts of it; cells are what we report
                plan.cycles.append(sorted(cells))
                plan.tail.append(sorted(cells))
            else:
                plan.tail.append(cells)
    return plan


def _tarjan(nodes: list[int], succs: list[list[int]], done: list[bool]) -> list[list[int]]:
    """Strongly connected components of the sub-graph `nodes`, in dependency order
    (a component comes after every component it depends on). Iterative."""
    index = {}
    low = {}
    on = set()
    st: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work[-1]
            if i == 0 and v not in index:
                index[v] = low[v] = counter
                counter += 1
                st.append(v)
                on.add(v)
            ss = succs[v]
            advanced = False
            while i < len(ss):
                w = ss[i]
                i += 1
                if done[w]:
                    continue
                if w not in index:
                    work[-1] = (v, i)
                    work.append((w, 0))
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
