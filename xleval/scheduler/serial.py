"""Serial execution of a plan: the layers in order, then the tail (strongly connected
components, cycles among them) with Excel's iterative calculation where the workbook enables
it."""
from __future__ import annotations

from .. import values as V
from ..evaluator.engine import PENDING, NeedCell
from ..refs import cell_name


def run_serial(engine, plan) -> None:
    full = engine.__dict__.get("_full_plan")
    engine.__dict__.pop("_spill_moved", None)
    cycles_found = []
    engine.compute(_layer_order(engine, plan), on_cycle=cycles_found.append)
    run_tail(engine, plan, on_cycle=cycles_found.append)
    keep_last_values(engine, plan, cycles_found)
    if full is not None and plan is not full and engine.__dict__.pop("_spill_moved", False):
        # an incremental run (a part of the last full plan) in which a dynamic array
        # changed cells beyond the range the file recorded: their readers have no edge to
        # it in the graph, so the part may not hold them; calculate everything
        engine.reset_pending()
        run_serial(engine, full)
        return
    for cyc in cycles_found:
        names = [f"{engine.sheet_names[s]}!{cell_name(r, c)}" for s, r, c in cyc]
        if names not in engine.report.cycles:
            engine.report.cycles.append(names)


def _layer_order(engine, plan):
    """The layers' cells in order, consumed lazily by `compute`; units first go through the
    vector fast path, which stores what it can prove exact (see evaluator/vector.py)."""
    from ..evaluator.vector import layer_order
    return layer_order(engine, plan.layers)


def run_tail(engine, plan, on_cycle=None) -> None:
    """Components left after the layers: single cells evaluate normally; cycles iterate
    (workbook setting) or get the circular-reference result."""
    calc = engine.wb.calc
    cyc_ids = {id(c) for c in plan.cycles}
    for comp in plan.tail:
        if id(comp) not in cyc_ids and not (comp in plan.cycles):
            engine.compute(comp, on_cycle=on_cycle)
            continue
        if calc.iterate:
            engine.report.iterations += iterate(engine, comp, calc.max_iterations,
                                                calc.max_change)
        else:
            # Iteration off: evaluate normally; a cell that really reads itself at run time
            # (IF may break a cycle the static graph sees) is left at 0, as Excel shows it
            engine.compute(comp, on_cycle=on_cycle)


def keep_last_values(engine, plan, cycles_found) -> None:
    """Iteration off: the cells of a circular reference met while calculating, and every
    cell that depends on them, show their last calculated values, as Excel does: it does
    not finish a calculation through an unresolved circular reference. That is the value
    the workbook was saved with (Excel's cached value), or 0 when it has none. (They were
    evaluated with the cycle's cells at 0 meanwhile: those values are not Excel's.)
    Excel follows a cycle through an array formula element by element, and the graph knows
    the formula as a whole: a cell that is stale only through a multi-cell array formula
    takes Excel's value when the workbook has one, and otherwise keeps what was computed
    (the element on the cycle was set to 0 when the cycle was met)."""
    if engine.wb.calc.iterate or not cycles_found:
        return
    arrays = set()
    for s, formulas in enumerate(engine.formulas):
        for (r, c), fc in formulas.items():
            if fc.ref is not None and fc.ref[:2] != fc.ref[2:] and fc.origin == (r, c):
                arrays.add((s, r, c))
    seeds = {cell for cyc in cycles_found for cell in cyc}
    # (a plan without its graph, model.deps.sub_plan's, taints nothing: the seeds alone)
    stale = plan.tainted(seeds) | seeds
    sure = plan.tainted(seeds - arrays, stop=arrays) | (seeds - arrays)
    cells = engine.cells
    sheets = engine.wb.sheets
    for s, r, c in stale:
        if s >= len(sheets) or (r, c) not in engine.formulas[s]:
            continue
        cached = sheets[s].cached
        v = cached.get((r, c))
        if v is None and (s, r, c) not in sure:
            continue
        cells[s][(r, c)] = 0.0 if v is None else v
        fc = engine.formulas[s][(r, c)]
        if fc.ref is not None:                  # an array formula's other cells too
            r1, c1, r2, c2 = fc.ref
            for rr in range(r1, r2 + 1):
                for cc in range(c1, c2 + 1):
                    if (rr, cc) != (r, c) and engine.covered[s].get((rr, cc)) == (r, c):
                        v = cached.get((rr, cc))
                        cells[s][(rr, cc)] = 0.0 if v is None else v


def _fill_covered(engine, s, r, c, value) -> None:
    fc = engine.formulas[s].get((r, c))
    if fc is not None and fc.ref is not None:
        r1, c1, r2, c2 = fc.ref
        for rr in range(r1, r2 + 1):
            for cc in range(c1, c2 + 1):
                if engine.cells[s].get((rr, cc)) is PENDING:
                    engine.cells[s][(rr, cc)] = value


def iterate(engine, comp, max_iterations: int, max_change: float) -> int:
    """Gauss-Seidel iteration of a cycle, as Excel's iterative calculation does: start from 0,
    evaluate the cells in order, stop after max_iterations or when no value moves by more
    than max_change. Returns the iterations done."""
    cells = engine.cells
    for s, r, c in comp:
        cells[s][(r, c)] = 0.0
        _fill_covered(engine, s, r, c, 0.0)
    done = 0
    for it in range(max(1, max_iterations)):
        done = it + 1
        biggest = 0.0
        for s, r, c in comp:
            old = cells[s].get((r, c))
            while True:
                try:
                    engine.eval_cell(s, r, c)
                    break
                except NeedCell as e:
                    engine.compute([engine.anchor_of(e.key)])
                    if cells[e.key[0]].get(e.key[1:]) is PENDING:
                        cells[e.key[0]][e.key[1:]] = 0.0
            new = cells[s].get((r, c))
            if isinstance(new, float) and isinstance(old, float):
                biggest = max(biggest, abs(new - old))
            elif new != old:
                biggest = float("inf")
        if biggest < max_change:
            break
    return done
