"""Number tables: where each family member's numbers are (formulas that differ only in
their numbers, see Engine._family_shape), in flat arrays per column.

Why: a forked worker inherits the main process's objects, and the first write to an
inherited page copies it (a page fault, several microseconds here). Evaluating a family
member through its shape object writes reference counts on objects spread over the heap
(the shape, its family record): ~0.8 copied pages per cell. Read from these tables
instead (array elements are plain memory, and what is read from them is a new object),
the worker copies ~4x fewer pages: measured on 10,000 cells of distinct hand-typed
formulas, 8,145 -> 1,873 page faults and 146 -> 108 ms for its first pass (the main
process: 92 ms).

The numbers themselves are the families' own arrays (each member's from its `k0`), not a
copy. The tables are built just before workers are forked (`build`), from `cell_shape`,
and dropped whenever a cell's shape changes (Engine.forget_number_tables).
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter, is_

from ..arrays import group_ids

MIN_CELLS = 5000     # fewer family members than this on a sheet: not worth a table
SECONDS_PER_MEMBER = 5e-7   # building, measured: ~50 ms per 100,000 members


@dataclass
class ColumnTable:
    """The family members of one column: row r is at index r - first (rows without one:
    fn -1). `fn`: index into NumberTables.fns (and .numbers, .sizes); `off`: where its
    numbers start in that family's array."""
    first: int
    end: int
    fn: array
    off: array


@dataclass
class NumberTables:
    columns: list[dict[int, ColumnTable]]     # per sheet: column -> table
    fns: list                                 # the family closures
    numbers: list[array]                      # per family: its members' numbers, flat
    sizes: list[int]                          # per family: numbers per member


def build(engine, min_cells: int = MIN_CELLS) -> NumberTables | None:
    """Tables of the non-array family members of every sheet with at least `min_cells` of
    them (None: no such sheet)."""
    import numpy as np

    from .engine import FamilyShape
    columns: list[dict[int, ColumnTable]] = []
    fns: list = []
    numbers: list[array] = []
    sizes: list[int] = []
    fn_index: dict[int, int] = {}
    any_table = False
    for s in range(engine.n_local):
        cs = engine.cell_shape[s]
        # C-level passes only (a Python loop over every cell costs what the table saves)
        mask = list(map(is_, map(type, cs.values()), repeat(FamilyShape)))
        if mask.count(True) < max(1, min_cells):
            columns.append({})
            continue
        shapes = list(compress(cs.values(), mask))
        if any(map(attrgetter("array"), shapes)):   # array formulas keep their shapes' path
            mask = [m and not sh.array for m, sh in zip(mask, cs.values())]
            shapes = [sh for sh in shapes if not sh.array]
        any_table = True
        keys = list(compress(cs.keys(), mask))
        ids = np.fromiter(map(attrgetter("id"), shapes), dtype=np.int64, count=len(shapes))
        offs = np.frombuffer(engine._k0, dtype=np.int64)[ids]
        if len(offs) and offs.max() >= 2 ** 31:
            return None              # (more numbers than an int32 offset holds)
        fam = np.fromiter(map(attrgetter("family"), shapes), dtype=np.int64, count=len(shapes))
        first_at, inverse = group_ids(fam)
        uniq = fam[first_at]
        local = np.empty(len(uniq), dtype=np.int32)
        for j, (f, i) in enumerate(zip(uniq.tolist(), first_at.tolist())):
            got = fn_index.get(f)
            if got is None:
                got = fn_index[f] = len(fns)
                sh = shapes[i]
                fns.append(sh.fn)
                numbers.append(sh._fam[5])
                sizes.append(len(sh._fam[1]))
            local[j] = got
        fidx = local[inverse.reshape(-1)]
        del shapes
        rc = np.fromiter(chain.from_iterable(keys), dtype=np.int64, count=2 * len(keys)).reshape(-1, 2)
        del keys
        rows, cols = rc[:, 0], rc[:, 1]
        order = np.argsort(cols, kind="stable")
        cols_sorted = cols[order]
        starts = np.flatnonzero(np.r_[True, cols_sorted[1:] != cols_sorted[:-1]])
        bounds = np.r_[starts, len(order)]
        by_col: dict[int, ColumnTable] = {}
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            sel = order[a:b]
            r = rows[sel]
            first = int(r.min())
            size = int(r.max()) - first + 1
            at = r - first
            fa = np.full(size, -1, dtype=np.int32)
            fa[at] = fidx[sel]
            oa = np.zeros(size, dtype=np.int32)
            oa[at] = offs[sel]
            by_col[int(cols_sorted[a])] = ColumnTable(
                first, first + size, array("i", fa.tobytes()), array("i", oa.tobytes()))
        columns.append(by_col)
    if not any_table:
        return None
    return NumberTables(columns, fns, numbers, sizes)
