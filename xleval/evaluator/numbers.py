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
    them (None: no such sheet). Built from arrays over the cells (int32 where it fits), with
    no list of the cells' objects: the build's temporaries are freed before the workers'
    results arrive, but its high-water mark is the process's."""
    import numpy as np

    from .engine import FamilyShape
    columns: list[dict[int, ColumnTable]] = []
    fns: list = []
    numbers: list[array] = []
    sizes: list[int] = []
    fn_index: dict[int, int] = {}
    any_table = False
    shapes = engine.shapes
    # per shape id: a family member or not (array formulas keep their shapes' path), its
    # family (the template's id)
    member = np.fromiter(map(is_, map(type, shapes), repeat(FamilyShape)), bool, len(shapes))
    if engine.has_array_shapes():
        member &= ~np.fromiter(map(attrgetter("array"), shapes), bool, len(shapes))
    family = np.full(len(shapes), -1, np.int32)
    family[member] = np.fromiter(map(attrgetter("family"), compress(shapes, member)),
                                 np.int32, int(member.sum()))
    k0s = np.frombuffer(engine._k0, dtype=np.int64)
    if len(k0s) and k0s.max() >= 2 ** 31:
        return None                  # (more numbers than an int32 offset holds)
    for s in range(engine.n_local):
        cs = engine.cell_shape[s]
        # C-level passes only (a Python loop over every cell costs what the table saves)
        sid = np.fromiter(map(attrgetter("id"), cs.values()), np.int32, len(cs))
        at = np.flatnonzero(member[sid])            # the members, in the cells' order
        if len(at) < max(1, min_cells):
            columns.append({})
            continue
        any_table = True
        sid = sid[at]
        fam = family[sid]
        first_at, inverse = group_ids(fam)
        local = np.empty(len(first_at), dtype=np.int32)
        for j, (f, i) in enumerate(zip(fam[first_at].tolist(), sid[first_at].tolist())):
            got = fn_index.get(f)
            if got is None:
                got = fn_index[f] = len(fns)
                sh = shapes[i]
                fns.append(sh.fn)
                numbers.append(sh.nums)
                sizes.append(len(sh._fam.slots))
            local[j] = got
        fidx = local[inverse]
        offs = k0s[sid].astype(np.int32)
        del fam, inverse, first_at, sid
        rc = np.fromiter(chain.from_iterable(cs.keys()), np.int32, 2 * len(cs)).reshape(-1, 2)
        rows, cols = rc[at, 0], rc[at, 1]
        del rc, at
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
            r -= first
            fa = np.full(size, -1, dtype=np.int32)
            fa[r] = fidx[sel]
            oa = np.zeros(size, dtype=np.int32)
            oa[r] = offs[sel]
            by_col[int(cols_sorted[a])] = ColumnTable(
                first, first + size, array("i", fa.tobytes()), array("i", oa.tobytes()))
        columns.append(by_col)
    del k0s                          # (a view of engine._k0, which grows: let it go)
    if not any_table:
        return None
    return NumberTables(columns, fns, numbers, sizes)
