"""What formula cells read, for compiled models and incremental recalculation.

The dependency graph (graph/build.py) only has formula cells as nodes: a constant cell is
nobody's node, so "which formulas depend on the constant I just changed" needs the other
direction: the rectangles each formula reads. `ReadIndex` computes them once per plan from
the same shape templates the graph builder uses (references, names, structured references,
data-table inputs) and answers `readers(cells)`; `Plan.tainted` then follows the graph from
those readers to every dependent.

Cells whose reads are not visible statically are reported separately (`unbounded`):
dynamic references (INDIRECT, OFFSET, `A1:INDEX(..)`, data tables, Python functions) and
functions that look at formulas or the sheet rather than values (ISFORMULA, FORMULATEXT,
CELL, INFO), and spill references `A1#`. Callers treat them conservatively (always recompute them).
"""
from __future__ import annotations

from collections import defaultdict

from ..graph.build import _rect, _templates
from ..parser.ast import Postfix, walk

# functions whose result depends on more than the values their references hold
_FORMULA_READERS = frozenset({"ISFORMULA", "FORMULATEXT", "CELL", "INFO", "SHEET", "SHEETS"})


class ReadIndex:
    """The rectangles read by every formula cell of a prepared engine."""

    def __init__(self, engine):
        engine.prepare()
        self.engine = engine
        # sheet -> list of (r1, c1, r2, c2, (s, r, c) of the reader)
        self.rects: dict[int, list[tuple[int, int, int, int, tuple[int, int, int]]]] = \
            defaultdict(list)
        self.by_cell: dict[tuple[int, int, int], list[tuple[int, int, int, int, int]]] = {}
        self.unbounded: set[tuple[int, int, int]] = set()   # reads not known statically
        self.volatile: set[tuple[int, int, int]] = set()
        templates: dict[int, object] = {}
        # shape id -> a data table, or reads a spill range `A1#` (a family's template
        # answers for its members, whose key is not kept: see FamilyShape)
        unbounded_fam: dict[int, bool] = {}
        for s in range(engine.n_local):
            for (r, c), shape in engine.cell_shape[s].items():
                # per family: its members differ only in their numbers (same references)
                fam = shape.family if shape.family >= 0 else shape.id
                tpl = templates.get(fam)
                if tpl is None:
                    base = engine.shapes[fam]
                    tpl = templates[fam] = _templates(engine, base)
                    unbounded_fam[fam] = base.key.startswith("TABLE|") or (
                        base.tree is not None and any(
                            isinstance(n, Postfix) and n.op == "#" for n in walk(base.tree)))
                key = (s, r, c)
                if shape.info.volatile:
                    self.volatile.add(key)
                if (tpl.dynamic or shape.info.dynamic or unbounded_fam[fam]
                        or shape.info.functions & _FORMULA_READERS):
                    self.unbounded.add(key)
                mine = self.by_cell[key] = []
                for sheets, ref in tpl.refs:
                    r1, c1, r2, c2 = _rect(ref, r, c)
                    for sh in sheets:
                        if sh >= engine.n_local:
                            continue          # another workbook: cached link values
                        mr, mc = engine.extent[sh]
                        mine.append((sh, r1, c1, min(r2, max(mr, r1)), min(c2, max(mc, c1))))
                if tpl.structs:
                    from ..functions.registry import Context
                    cx = Context(engine, s, r, c)
                    for node in tpl.structs:
                        rng = engine.structured_ref(node.table, node.spec, cx)
                        if hasattr(rng, "r1"):
                            mine.append((rng.sheet, rng.r1, rng.c1, rng.r2, rng.c2))
                for sh, r1, c1, r2, c2 in mine:
                    self.rects[sh].append((r1, c1, r2, c2, key))

    def readers(self, cells) -> set[tuple[int, int, int]]:
        """Formula cells whose references cover one of `cells` ((sheet, row, col) keys)."""
        per_sheet: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for s, r, c in cells:
            per_sheet[s].append((r, c))
        out: set = set()
        for s, pts in per_sheet.items():
            rects = self.rects.get(s, ())
            if len(pts) == 1:
                (r, c), = pts
                for r1, c1, r2, c2, key in rects:
                    if r1 <= r <= r2 and c1 <= c <= c2:
                        out.add(key)
                continue
            rows = [p[0] for p in pts]
            cols = [p[1] for p in pts]
            lo_r, hi_r, lo_c, hi_c = min(rows), max(rows), min(cols), max(cols)
            for r1, c1, r2, c2, key in rects:
                if r2 < lo_r or r1 > hi_r or c2 < lo_c or c1 > hi_c or key in out:
                    continue
                for r, c in pts:
                    if r1 <= r <= r2 and c1 <= c <= c2:
                        out.add(key)
                        break
        return out


def sub_plan(plan, keep: set):
    """The part of `plan` that evaluates the cells in `keep` ((sheet, row, col) keys), in the
    same order: layers filtered, and every tail component with a kept cell whole (a cycle
    iterates as a unit). Run it with `scheduler.serial.run_serial`."""
    from ..graph.build import Plan, WorkUnit
    layers = []
    for layer in plan.layers:
        units = []
        for u in layer:
            s = u.sheet
            cells = [rc for rc in u.cells if (s, rc[0], rc[1]) in keep]
            if cells:
                units.append(WorkUnit(u.shape, s, cells))
        if units:
            layers.append(units)
    tail, cycles = [], []
    cyc = {tuple(c) for c in plan.cycles}     # the plan lists cycles as equal copies
    for comp in plan.tail:
        if any(k in keep for k in comp):
            tail.append(comp)
            if tuple(comp) in cyc:
                cycles.append(comp)
    return Plan(layers, tail=tail, cycles=cycles)


def reached_by(plan, reads: ReadIndex, cells, within: set | None = None,
               exclude: set | frozenset = frozenset()) -> set:
    """Formula cells whose values may change when the values of `cells` ((sheet, row, col)
    keys) change: their readers and everything depending on those, and whatever reads
    cells known only at run time (volatile functions, INDIRECT, OFFSET...); only those in
    `within` when given, never those in `exclude`; a cycle is evaluated as a whole, so one
    reached takes all its cells."""
    formulas = reads.engine.formulas
    seeds = reads.readers(cells) | {k for k in cells if (k[1], k[2]) in formulas[k[0]]}
    dynamic = reads.volatile | reads.unbounded
    seeds |= dynamic if within is None else dynamic & within
    out = plan.tainted(seeds) if seeds else set()
    if within is not None:
        out &= within
    out -= exclude
    for comp in plan.tail:
        if any(k in out for k in comp):
            out |= set(comp) - exclude
    return out


def reset_keys(engine, cells) -> list[tuple[int, tuple[int, int]]]:
    """(sheet, (row, col)) of `cells` and of the cells their array formulas cover: what must
    be marked pending before they are evaluated again."""
    out = []
    for s, r, c in cells:
        out.append((s, (r, c)))
        fc = engine.formulas[s].get((r, c))
        if fc is not None and fc.kind in ("array", "dataTable") and fc.ref is not None:
            r1, c1, r2, c2 = fc.ref
            for rr in range(r1, r2 + 1):
                for cc in range(c1, c2 + 1):
                    if (rr, cc) != (r, c):
                        out.append((s, (rr, cc)))
    return out
