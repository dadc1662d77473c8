"""What-if data tables ({=TABLE(row_input, col_input)}): each result cell is the table's
formula recalculated with the input cell(s) replaced by that row's/column's header value.

Recalculation happens in a sandbox: every formula cell is marked pending in a copy of the
value store, the inputs are set, and the formula cell is computed by pulling only what it
needs; the store is then restored."""
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
