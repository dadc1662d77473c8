"""Formulas that call a function xleval cannot evaluate: VBA user-defined functions
(`tround(...)`), XLL add-in functions (`_xll.X(...)`), macros of other workbooks
(`[1]!Macro(...)`) and the functions no implementation serves (cube functions, WEBSERVICE,
RTD, CALL...). Two modes, chosen with `xleval.load(path, unknown=...)`,
`Workbook.calculate(unknown=...)` or `xleval calc --unknown`:

  name    (default) #NAME?, as Excel shows such a cell without the add-in or macro; the
          cells that depend on it get #NAME? too.
  cached  the cell keeps the value Excel last computed for it (its cached value in the
          file; an array formula keeps its whole cached block), and everything that depends
          on it is recalculated from that value, as `links="cached"` does for external
          links. A cell with no cached value is evaluated as in `name` mode (#NAME? when
          the unknown function is reached, e.g. not in IF's other branch, not from a
          deeper cell). The kept value does not follow
          the cell's inputs: changing them (set_value, a compiled model's inputs) leaves it
          as Excel saved it.

"Unknown" is decided when a shape compiles: a function that is neither native, nor served
by the formulas adapter, nor registered with `register_function`, nor a LAMBDA name
(`CompileInfo.unsupported`). A formula that does not parse, or that calls a known function
with bad arguments, is not affected.
"""
from __future__ import annotations

from ..values import Array

MODES = ("name", "cached")

_ABSENT = object()


def check_mode(mode: str | None) -> str:
    """The mode, lower-cased; XlevalError for anything but 'name' or 'cached'."""
    m = (mode or "name").lower()
    if m not in MODES:
        from ..errors import XlevalError
        raise XlevalError(f"unknown: unknown mode {mode!r}; choose from {', '.join(MODES)}")
    return m


def kept_fn(engine, sheet: int, is_array: bool, fallback):
    """The closure a shape calling an unknown function compiles to in `cached` mode: the
    cell's cached value, or, when the file holds none, `fallback(cx)` (the formula as
    compiled, as in `name` mode). Position-independent like every closure, so one serves
    all the cells of the shape (a family: one per family, around the family closure)."""
    cached = engine.wb.sheets[sheet].cached
    if not is_array:
        def kept(cx):
            v = cached.get((cx.row, cx.col), _ABSENT)
            return fallback(cx) if v is _ABSENT else v
        return kept
    formulas = engine.formulas[sheet]

    def kept_block(cx):
        v = cached.get((cx.row, cx.col), _ABSENT)
        if v is _ABSENT:
            return fallback(cx)
        fc = formulas.get((cx.row, cx.col))
        if fc is None or fc.ref is None:
            return v
        r1, c1, r2, c2 = fc.ref
        # a covered cell the file holds no value for shows blank (a dynamic array) or 0
        return Array([[cached.get((r, c)) for c in range(c1, c2 + 1)]
                      for r in range(r1, r2 + 1)])
    return kept_block


def kept_cells(engine) -> tuple[set[tuple[int, int, int]], dict[str, int]]:
    """The formula cells that keep their cached value in `cached` mode, and per unknown
    function the number of those cells calling it (for the run report)."""
    cells: set[tuple[int, int, int]] = set()
    counts: dict[str, int] = {}
    for s in range(engine.n_local):
        cached = engine.wb.sheets[s].cached
        for rc, shape in engine.cell_shape[s].items():
            names = shape.info.unsupported
            if names and shape.error is None and rc in cached:
                cells.add((s, *rc))
                for n in names:
                    counts[n] = counts.get(n, 0) + 1
    return cells, dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
