"""What-if data tables ({=TABLE(row_input, col_input)}): each result cell is the table's
formula recalculated with the input cell(s) replaced by that row's/column's header value.

Recalculation happens in a sandbox: the formula cells that depend on the input cells (found
once through the calculation's graph, `model.deps.reached_by`) are marked pending, the inputs are set,
and the formula cell is computed by pulling only what it needs; their values are then put
back. Without a graph at hand (a compiled model), every formula cell is marked pending in a
copy of the value store, which costs a pass over the whole workbook per table cell."""
from __future__ import annotations

from .. import values as V
from ..refs import parse_cell
from ..values import Array


def data_table_fn(ev, fc):
    dt = fc.dt or {}
    two_d = str(dt.get("dt2D", "0")).lower() in ("1", "true")
    row_input = str(dt.get("dtr", "0")).lower() in ("1", "true")
    inputs = []
    for key in ("r1", "r2"):
        ref = dt.get(key)
        if ref:
            try:
                inputs.append(parse_cell(ref))
            except ValueError:
                inputs.append(None)
        else:
            inputs.append(None)
    deleted = [str(dt.get(k, "0")).lower() in ("1", "true") for k in ("del1", "del2")]

    def table(cx):
        from .engine import PENDING
        s = cx.sheet
        r1, c1, r2, c2 = fc.ref
        d = ev.cells[s]
        jobs = []   # (result cell, formula cell, [(input cell, value)])
        for rr in range(r1, r2 + 1):
            for cc in range(c1, c2 + 1):
                if two_d:
                    target = (r1 - 1, c1 - 1)
                    sets = [(inputs[0], ev.value_at(s, r1 - 1, cc)),
                            (inputs[1], ev.value_at(s, rr, c1 - 1))]
                elif row_input:
                    target = (rr, c1 - 1)
                    sets = [(inputs[0], ev.value_at(s, r1 - 1, cc))]
                else:
                    target = (r1 - 1, cc)
                    sets = [(inputs[0], ev.value_at(s, rr, c1 - 1))]
                jobs.append(((rr, cc), target, sets))
        if any(x is None for x, dl in zip(inputs[: 2 if two_d else 1], deleted) if not dl) or \
                any(deleted[: 2 if two_d else 1]):
            return V.REF
        # the formula cells of the table must be computed (read) before sandboxing
        for _, target, _ in jobs:
            ev.value_at(s, *target)
        pending = _pending_cells(ev, s, [x for x in inputs if x is not None])
        if pending is not None:
            return _run_jobs(ev, s, fc, jobs, pending)
        saved = [dict(x) for x in ev.cells]
        out = {}
        try:
            for pos, target, sets in jobs:
                for i in range(len(ev.cells)):
                    ev.cells[i] = dict(saved[i])
                for si in range(ev.n_local):
                    dd = ev.cells[si]
                    for k, f in ev.formulas[si].items():
                        if f.kind != "dataTable":
                            dd[k] = PENDING
                    for k, a in ev.covered[si].items():
                        if ev.formulas[si].get(a) is not None and \
                                ev.formulas[si][a].kind != "dataTable":
                            dd[k] = PENDING
                for cell, val in sets:
                    ev.cells[s][cell] = val
                if target not in ev.formulas[s]:
                    out[pos] = ev.cells[s].get(target)
                    continue
                ev.compute([(s, *target)])
                v = ev.cells[s].get(target)
                out[pos] = 0.0 if v is None or v is PENDING else v
        finally:
            for i in range(len(ev.cells)):
                ev.cells[i] = saved[i]
        rows = [[out[(rr, cc)] for cc in range(c1, c2 + 1)] for rr in range(r1, r2 + 1)]
        del d
        return Array(rows)

    return table


def _pending_cells(ev, s: int, inputs: list) -> list | None:
    """The (sheet, (row, col)) cells to recalculate for each table cell: the formula cells
    depending on the input cells (and the cells their arrays fill), data tables aside; None
    when the calculation's graph is not at hand."""
    plan = ev.__dict__.get("_full_plan")
    if plan is None or not hasattr(plan, "tainted"):
        return None
    cache = ev.__dict__.setdefault("_table_pending", {})
    key = (s, tuple(inputs))
    got = cache.get(key)
    if got is not None and got[0] is plan:
        return got[1]
    from ..model.deps import ReadIndex, reached_by
    reads = ev.__dict__.get("_table_reads")
    if reads is None or reads[0] is not plan:
        reads = ev._table_reads = (plan, ReadIndex(ev))
    affected = reached_by(plan, reads[1], [(s, r, c) for r, c in inputs])
    out = []
    for si, r, c in affected:
        f = ev.formulas[si].get((r, c))
        if f is not None and f.kind != "dataTable":
            out.append((si, (r, c)))
    for si in range(ev.n_local):
        for k, a in ev.covered[si].items():
            f = ev.formulas[si].get(a)
            if f is not None and f.kind != "dataTable" and (si, *a) in affected:
                out.append((si, k))
    cache[key] = (plan, out)
    return out


_ABSENT = object()


def _run_jobs(ev, s: int, fc, jobs: list, pending: list) -> Array:
    from .engine import PENDING
    cells = ev.cells
    keep = {(si, k): cells[si].get(k, _ABSENT) for si, k in pending}
    for _, _, sets in jobs:
        for cell, _ in sets:
            keep.setdefault((s, cell), cells[s].get(cell, _ABSENT))
    out = {}
    try:
        for pos, target, sets in jobs:
            ev.forget_run_caches()          # lookup indexes hold the last job's values
            for si, k in pending:
                cells[si][k] = PENDING
            for cell, val in sets:
                cells[s][cell] = val
            if target not in ev.formulas[s]:
                out[pos] = cells[s].get(target)
                continue
            ev.compute([(s, *target)])
            v = cells[s].get(target)
            out[pos] = 0.0 if v is None or v is PENDING else v
    finally:
        for (si, k), v in keep.items():
            if v is _ABSENT:
                cells[si].pop(k, None)
            else:
                cells[si][k] = v
        ev.forget_run_caches()
    r1, c1, r2, c2 = fc.ref
    return Array([[out[(rr, cc)] for cc in range(c1, c2 + 1)] for rr in range(r1, r2 + 1)])
