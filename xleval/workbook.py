"""The Python API: load a workbook, recalculate, read and change values, write it back.

    wb = xleval.load("model.xlsx")
    wb.calculate()
    wb["Sheet1!B2"]
    wb.set_value("Sheet1!A1", 42); wb.calculate()
    wb.to_frame("Sheet1"); wb.save("out.xlsx")

Recalculation is incremental: after a full `calculate()`, constants changed with `set_value`
are recorded, and the next `calculate()` evaluates only the formulas that read them and
their dependents (plus volatile cells, dynamic references and what depends on those);
`report.recalculated` counts the cells evaluated. Setting a formula, registering a function,
changed link settings or io functions make the next calculate a full one, and so does a
`calculate()` with nothing changed since the last one (a forced recalculation).
"""
from __future__ import annotations

import contextlib
import gc
import os
import time
from itertools import repeat
from operator import is_
from typing import Iterable

from . import values as V
from .errors import OutputError, ReferenceError_, XlevalError
from .forking import MAX_WORKERS, workers_ok
from .evaluator.engine import PENDING, Engine, RunReport
from .graph.build import Plan, build_plan, plan_stats
from .loader.model import FormulaCell, SheetData, WorkbookData
from .refs import cell_name, parse_range, range_name, split_sheet_ref
from .values import XLError


# the most cells wb[ref] reads or set_value sets at once
MAX_AREA_CELLS = 5_000_000


class Workbook:
    """A loaded workbook and its calculation state."""

    def __init__(self, data: WorkbookData, *, now: float | None = None,
                 unknown: str = "name"):
        from .dates import parse_now
        from .evaluator.unknown import check_mode
        self.data = data
        self.engine = Engine(data, now=parse_now(now), unknown=check_mode(unknown))
        self.plan: Plan | None = None
        self.calculated = False
        self.load_seconds = 0.0
        # incremental recalculation: constants changed since the last calculate (None: the
        # next calculate is a full one) and the (engine, plan) those changes are relative to
        self._dirty: set[tuple[int, int, int]] | None = None
        self._base: tuple | None = None
        self._reads = None           # model.deps.ReadIndex of the current plan
        self._reads_plan: Plan | None = None
        self._released = False       # release_compiled(): the engine holds values only

    def _drop_array(self, s: int, r: int, c: int) -> None:
        """Before (r, c) gets a new content: if it anchors an array formula, the cells the
        array filled are its no longer (they kept its values, and a dynamic array's kept
        its claim on them) and everything is calculated again."""
        old = self.data.sheets[s].formulas.get((r, c))
        if old is None or old.kind not in ("array", "dataTable"):
            return
        ev, anchor = self.engine, (r, c)
        cov, d, consts = ev.covered[s], ev.cells[s], self.data.sheets[s].values
        for k in [k for k, a in cov.items() if a == anchor]:
            del cov[k]
            d[k] = consts.get(k)
            if d[k] is None:
                del d[k]
        for name in ("_spill_now", "_spill_own"):
            ev.__dict__.get(name, {}).pop((s, r, c), None)
        self.plan = None
        self._dirty = None

    # ------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, sheets: dict[str, dict[str, object]], **kw) -> "Workbook":
        """Build a workbook in memory: {"Sheet1": {"A1": 1, "B1": "=A1*2"}}. Strings that
        start with '=' are formulas; '{=...}' marks an array formula over one cell."""
        data = WorkbookData(path="<memory>", fmt="xlsx", sheets=[])
        for i, (name, cells) in enumerate(sheets.items()):
            sd = SheetData(name=name, index=i, part="")
            for ref, v in cells.items():
                r1, c1, r2, c2 = parse_range(ref)
                if isinstance(v, str) and v.startswith("{=") and v.endswith("}"):
                    sd.formulas[(r1, c1)] = FormulaCell(v[2:-1], (r1, c1), "array",
                                                        (r1, c1, r2, c2))
                elif isinstance(v, str) and v.startswith("=") and len(v) > 1:
                    sd.formulas[(r1, c1)] = FormulaCell(v[1:], (r1, c1))
                elif v is not None:
                    sd.values[(r1, c1)] = _normalise(v)
                sd.max_row = max(sd.max_row, r2)
                sd.max_col = max(sd.max_col, c2)
            data.sheets.append(sd)
        return cls(data, **kw)

    # ------------------------------------------------------------------------------------
    @property
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.data.sheets]

    @property
    def report(self) -> RunReport:
        return self.engine.report

    def release_compiled(self) -> None:
        """Free what only calculating needs and keep the values: the compiled formulas, the
        dependency graph and the calculation's caches. For a one-shot run (the CLI calls it
        before writing): the write then reuses that memory instead of growing the process
        (hetero_10000: peak RSS -0.7 MB). Reading values and saving are unchanged;
        calculating or setting a cell afterwards works on a new engine (compiled again, a
        full recalculation)."""
        self.engine.release_compiled()
        self.plan = None
        self._base = self._reads = self._reads_plan = None
        self._dirty = None
        self._released = True

    def _unrelease(self) -> None:
        """After release_compiled(): a new engine for the workbook's data (its constants,
        set_value's included); the values computed before are gone until calculate."""
        if self._released:
            from .links import rebuild_engine
            rebuild_engine(self)
            self._released = False

    def graph(self) -> Plan:
        """The dependency graph's evaluation plan (built once, reused)."""
        self._unrelease()
        if self.plan is None:
            with _no_gc():
                self.engine.prepare()
                t0 = time.perf_counter()
                self.plan = build_plan(self.engine)
                self.engine.report.timings["graph"] = time.perf_counter() - t0
                self.engine.report.layers = len(self.plan.layers)
            self.engine.report.cycles = [
                [f"{self.engine.sheet_names[s]}!{cell_name(r, c)}" for s, r, c in comp]
                for comp in self.plan.cycles]
        return self.plan

    def graph_stats(self) -> dict:
        return plan_stats(self.engine, self.graph())

    def calculate(self, *, strategy: str = "serial", workers: int | None = None,
                  links: str | None = None, links_dir: str | None = None,
                  link_timeout: float | None = None, unknown: str | None = None) -> RunReport:
        """Recalculate every formula cell. Returns the run report. `links` ('cached',
        'update', 'off'), `links_dir` and `link_timeout` override the settings given to
        `load` (see xleval.links); so does `unknown` ('name', 'cached': see
        xleval.evaluator.unknown), kept for later calculations."""
        from .links import prepare as prepare_links
        self._unrelease()
        if unknown is not None:
            self._set_unknown(unknown)
        prepare_links(self, links, links_dir, link_timeout)
        plan = self.graph()
        ev = self.engine
        t0 = time.perf_counter()
        from .functions.custom import run_with_io
        from .scheduler import run_plan

        def run_once():
            ev.reset_pending()
            run_plan(ev, plan, strategy=strategy, workers=workers)
        dirty, self._dirty = self._dirty, None
        with _no_gc():
            base = self._base
            # nothing changed since the last calculate: a full recalculation, as asked
            if (dirty and base is not None and base[0] is ev and base[1] is plan
                    and self._can_increment()):
                ev.report.recalculated = self._recalculate(dirty)
            else:
                run_with_io(ev, run_once)    # one pass, or deferred passes with io functions
                ev.report.recalculated = ev.report.formulas
        ev.report.timings["evaluate"] = time.perf_counter() - t0
        self._dirty = set()
        self._base = (ev, plan)
        self._count_errors()
        self.calculated = True
        return ev.report

    def _set_unknown(self, mode: str) -> None:
        """Switch the mode for unknown functions: shapes compiled under the other mode are
        dropped (a new engine; the next calculate is a full one)."""
        from .evaluator.unknown import check_mode
        mode = check_mode(mode)
        if mode == self.engine.unknown:
            return
        self.engine.unknown = mode
        if self.engine._prepared:
            from .links import rebuild_engine
            rebuild_engine(self)

    def _can_increment(self) -> bool:
        """Io functions run in deferred passes over the whole workbook: no increments."""
        from .functions.custom import _io_cells
        return not _io_cells(self.engine)

    def _recalculate(self, changed: set) -> int:
        """Evaluate only what the changed constants affect (see the module docstring), in
        the plan's order. Returns the number of formula cells evaluated."""
        from .model.deps import ReadIndex, reset_keys, sub_plan
        from .scheduler.serial import run_serial
        ev, plan = self.engine, self.plan
        if self._reads is None or self._reads.engine is not ev or self._reads_plan is not plan:
            self._reads = ReadIndex(ev)
            self._reads_plan = plan
        reads = self._reads
        seeds = reads.readers(changed) | reads.volatile | reads.unbounded
        if not seeds:
            return 0
        sub = sub_plan(plan, plan.tainted(seeds))
        todo = list(sub.order())
        ev.forget_run_caches()
        cells = ev.cells
        for s, k in reset_keys(ev, todo):
            cells[s][k] = PENDING
        run_serial(ev, sub)
        return len(todo)

    def register_function(self, name: str, fn, *, io: bool = False,
                          timeout: float | None = None, replace: bool = False) -> None:
        """Make a Python function callable from this workbook's formulas (see
        `xleval.function` for arguments, results and io=True; a built-in Excel function is
        only replaced with replace=True)."""
        from .functions.custom import register_on_engine
        register_on_engine(self.engine, name, fn, io=io, timeout=timeout, replace=replace)
        if self.engine._prepared:           # formulas were compiled without it: recompile
            from .links import rebuild_engine
            rebuild_engine(self)

    def _count_errors(self) -> None:
        """The report's error counts by code and number of formula cells evaluated (the
        values typed at C speed, formula cells looked up only in a sheet holding an error:
        600k formulas in ~10 ms, not ~0.3 s)."""
        counts: dict[str, int] = {}
        n = 0
        for s in range(self.engine.n_local):
            fs = self.engine.formulas[s]
            n += len(fs)
            d = self.engine.cells[s]
            if XLError not in set(map(type, d.values())):
                continue                # no error in the sheet at all (no lookups needed)
            for v in map(d.get, fs):
                if type(v) is XLError:
                    counts[v.code] = counts.get(v.code, 0) + 1
        self.engine.report.errors = dict(sorted(counts.items()))
        self.engine.report.evaluated = n

    # ------------------------------------------------------------------------------------
    def _locate(self, ref: str, default_sheet: str | None = None):
        if not isinstance(ref, str):
            raise ReferenceError_(f"a cell reference is a text like 'Sheet1!A1', not "
                                  f"{type(ref).__name__}")
        sheet, body = split_sheet_ref(ref)
        if sheet == "":
            raise ReferenceError_(f"no sheet name before '!' in {ref!r}")
        s = self._sheet(sheet or default_sheet or self.data.sheets[0].name)
        try:
            r1, c1, r2, c2 = parse_range(body)
        except ValueError as e:
            raise ReferenceError_(str(e)) from None
        return s, r1, c1, r2, c2

    def _locate_area(self, ref: str):
        """_locate, refusing areas larger than MAX_AREA_CELLS (a list of row lists of
        A1:XFD1048576 would be 17 billion entries)."""
        s, r1, c1, r2, c2 = self._locate(ref)
        n = (r2 - r1 + 1) * (c2 - c1 + 1)
        if n > MAX_AREA_CELLS:
            raise ReferenceError_(f"{ref} covers {n:,} cells; read or set at most "
                                  f"{MAX_AREA_CELLS:,} at a time")
        return s, r1, c1, r2, c2

    def __getitem__(self, ref: str):
        """A cell's value (a list of row lists for a range). Errors are XLError values.
        Before the first calculate, a formula cell reads the value the workbook was saved
        with (Excel's cached value)."""
        s, r1, c1, r2, c2 = self._locate_area(ref)
        d = self.engine.cells[s]
        cached = self.data.sheets[s].cached

        def get(r, c):
            v = d.get((r, c))
            if v is PENDING or (v is None and not self.calculated and (r, c) in cached):
                v = cached.get((r, c))
            return v
        if r1 == r2 and c1 == c2:
            return get(r1, c1)
        return [[get(r, c) for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]

    def get(self, ref: str, default=None):
        try:
            return self[ref]
        except XlevalError:
            return default

    def set_value(self, ref: str, value) -> None:
        """Set a constant (a formula if the text starts with '='); recalculate afterwards.
        A range takes one value for every cell, or a list of row lists of its shape (a
        flat list for one row or column)."""
        s, r1, c1, r2, c2 = self._locate_area(ref)
        grid = _value_grid(value, r2 - r1 + 1, c2 - c1 + 1, ref)
        if grid is None:
            _normalise(value)                # (a value no cell can hold: raise before any change)
        self._unrelease()
        ev = self.engine
        sd = self.data.sheets[s]
        ev.forget_number_tables()
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if grid is not None:
                    value = grid[r - r1][c - c1]
                self._drop_array(s, r, c)
                if isinstance(value, str) and value.startswith("=") and len(value) > 1:
                    fc = FormulaCell(value[1:], (r, c))
                    sd.formulas[(r, c)] = fc
                    # Excel's cached value was the old formula's: never kept for this one
                    sd.cached.pop((r, c), None)
                    ev.kept.discard((s, r, c))
                    ev.cell_shape[s][(r, c)] = ev._make_shape(s, fc)
                    self.plan = None
                    self._dirty = None           # the graph changes: full recalculation
                else:
                    if (r, c) in sd.formulas or (r, c) in ev.covered[s]:
                        self._dirty = None
                    if (r, c) in sd.formulas:
                        del sd.formulas[(r, c)]
                        ev.kept.discard((s, r, c))
                        ev.cell_shape[s].pop((r, c), None)
                        self.plan = None
                    if self._dirty is not None:
                        self._dirty.add((s, r, c))
                    v = _normalise(value)
                    if v is None:
                        sd.values.pop((r, c), None)
                        ev.cells[s].pop((r, c), None)
                    else:
                        sd.values[(r, c)] = v
                        ev.cells[s][(r, c)] = v
                if r > ev.extent[s][0] or c > ev.extent[s][1]:
                    self._dirty = None       # whole-column reads were clipped to the extent
                ev.extent[s][0] = max(ev.extent[s][0], r)
                ev.extent[s][1] = max(ev.extent[s][1], c)
        self.calculated = False

    # ------------------------------------------------------------------------------------
    def _sheet(self, sheet: str | int | None) -> int:
        """A sheet's index from its name (any case) or index; None: the first."""
        if sheet is None:
            return 0
        if isinstance(sheet, int) and not isinstance(sheet, bool):
            if 0 <= sheet < len(self.data.sheets):
                return sheet
            raise ReferenceError_(f"no sheet number {sheet} (the workbook has "
                                  f"{len(self.data.sheets)}, numbered from 0)")
        if not isinstance(sheet, str):
            raise ReferenceError_(f"a sheet is a name or a number, not {type(sheet).__name__}")
        try:
            return self.engine.sheet_index(sheet)
        except KeyError:
            raise ReferenceError_(f"no sheet named {sheet!r}") from None

    def sheet_values(self, sheet: str | int) -> dict[tuple[int, int], object]:
        """Every non-blank value of a sheet (constants and formula results)."""
        s = self._sheet(sheet)
        out = {}
        cached = self.data.sheets[s].cached
        for k, v in self.engine.cells[s].items():
            if v is PENDING:
                v = cached.get(k)
            if v is not None:
                out[k] = v
        return out

    def formula_values(self) -> dict[str, dict[tuple[int, int], object]]:
        """The computed value of every formula cell and every array-covered cell."""
        out: dict[str, dict] = {}
        ev = self.engine
        for s in range(ev.n_local):
            d = ev.cells[s]
            # dict(zip(keys, map(d.get, keys))): the lookups at C speed (600k formulas: 0.3 s
            # in a Python loop)
            fs, cov = ev.formulas[s], ev.covered[s]
            vals = dict(zip(fs, map(d.get, fs)))
            if cov:
                vals.update(zip(cov, map(d.get, cov)))
            spill = getattr(ev, "_spill_extent", {})
            for (ss, r1, c1), (r2, c2) in spill.items():
                if ss == s:
                    for r in range(r1, r2 + 1):
                        for c in range(c1, c2 + 1):
                            vals[(r, c)] = d.get((r, c))
            if any(map(is_, vals.values(), repeat(PENDING))):
                vals = {k: (None if v is PENDING else v) for k, v in vals.items()}
            out[ev.sheet_names[s]] = vals
        return out

    def _save_targets(self) -> dict:
        """formula_values() for the writer: a sheet with formula cells only (no array or
        spill ranges) as a CellValues view of the engine's values, so that saving copies
        none of them in this process (600k formulas: ~0.2 s); other sheets as dicts."""
        from .writer.xlsx import CellValues
        ev = self.engine
        spilled = {ss for ss, _r, _c in getattr(ev, "_spill_extent", {})}
        out: dict = {}
        full = None
        for s in range(ev.n_local):
            name = ev.sheet_names[s]
            if ev.covered[s] or s in spilled:
                if full is None:
                    full = self.formula_values()
                out[name] = _resized_anchors(ev, s, full[name])
            else:
                out[name] = CellValues(ev.cells[s], list(ev.formulas[s]), PENDING,
                                       formula_cells=True)
        return out

    def to_frame(self, sheet: str | None = None):
        """One sheet's values as a pandas DataFrame (rows numbered like Excel's, columns
        lettered)."""
        from .writer.tabular import to_frame
        s = self._sheet(sheet)
        mr, mc = self.engine.extent[s]
        return to_frame(self.sheet_values(s), mr, mc)

    def to_frames(self) -> dict:
        return {n: self.to_frame(n) for n in self.sheet_names}

    def save(self, path: str, *, in_place: bool = False, workers: int | None = None) -> None:
        """Write the workbook with fresh cached values, everything else kept. `workers` >= 2
        patches large sheets in that many forked processes (None: 1, in this process)."""
        from .writer.xlsx import check_destination, rich_error_fallbacks, write_values
        if self.data.path == "<memory>":
            raise XlevalError("this workbook was built in memory; save values with to_csv/to_json")
        _check_workers(workers)
        check_destination(path)          # (before calculating, when that is still to do)
        if os.path.splitext(os.fspath(path))[1].lower() not in (".xlsx", ".xlsm"):
            raise OutputError(f"{os.fspath(path)}: a workbook is saved as .xlsx or .xlsm "
                              "(to_csv and to_json write values)")
        if not self.calculated:
            self.calculate()
        parts = {s.name: s.part for s in self.data.sheets if s.part}
        values = {name: vals for name, vals in self._save_targets().items()
                  if name in parts and vals}
        for sd in self.data.sheets:
            if sd.rich and sd.name in values:
                values[sd.name] = rich_error_fallbacks(values[sd.name], sd.rich)
        from .links import external_values
        with _no_gc():
            write_values(self.data.path, path, values, sheet_parts=parts, in_place=in_place,
                         external_values=external_values(self), workers=workers or 1)

    def to_json(self, path: str) -> None:
        from .writer.tabular import write_json
        write_json({n: self.sheet_values(n) for n in self.sheet_names}, path)

    def to_csv(self, path: str, sheet: str | None = None) -> None:
        from .writer.tabular import write_csv
        write_csv(self.sheet_values(self._sheet(sheet)), path)


@contextlib.contextmanager
def _no_gc():
    """Building millions of small objects (shapes, graph lists) makes the cyclic garbage
    collector rescan them over and over; nothing built here forms garbage cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _resized_anchors(ev, s: int, vals: dict) -> dict:
    """`vals` with the anchor of every dynamic array that spilled into another range than
    the file recorded as an ArrayAnchor, so that the writer records the range it fills now
    (the anchor alone when it is #SPILL!); else Excel reads the cells it grew into as
    constants in its way."""
    from .writer.xlsx import ArrayAnchor
    for (ss, r, c), (r2, c2) in ev.__dict__.get("_spill_now", {}).items():
        fc = ev.formulas[ss].get((r, c)) if ss == s else None
        if fc is not None and fc.ref is not None and fc.ref != (r, c, r2, c2):
            vals[(r, c)] = ArrayAnchor(vals.get((r, c)), range_name(r, c, r2, c2))
    return vals


def _check_workers(workers) -> None:
    """XlevalError unless `workers` is None or a whole number from 1 to MAX_WORKERS."""
    if workers is not None and not workers_ok(workers):
        raise XlevalError(f"workers: expected a whole number from 1 to {MAX_WORKERS}, "
                          f"not {workers!r}")


def _normalise(v):
    """A Python value as a cell value; XlevalError for what no cell can hold."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, XLError)):
        if isinstance(v, str) and v in V.ERRORS:
            return V.ERRORS[v]
        return v
    import numbers
    # real numbers: int, float, Fraction, numpy's; Decimal is a Number but not a Complex
    real = isinstance(v, numbers.Real) or (isinstance(v, numbers.Number)
                                           and not isinstance(v, numbers.Complex))
    if real:
        try:
            return float(v)
        except OverflowError:
            raise XlevalError(f"{str(v)[:20]}...: too large for a cell (Excel's numbers "
                              "are 64-bit floats)") from None
    import datetime as _dt
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        from .dates import to_serial
        return to_serial(v)
    if isinstance(v, _dt.timedelta):
        return v.total_seconds() / 86400.0      # a duration in days, as Excel keeps it
    if type(v).__module__ == "numpy" and hasattr(v, "item"):
        return _normalise(v.item())           # numpy bool_, datetime64...
    raise XlevalError(f"a cell holds a number, text, logical, date/time or error value, "
                      f"not {type(v).__name__} ({str(v)[:40]})")


def _value_grid(value, nrows: int, ncols: int, ref: str):
    """set_value's list of row lists for an area (a flat list for one row or column), or
    None for one value for every cell."""
    if not isinstance(value, (list, tuple)):
        return None
    rows = list(value)
    if rows and not any(isinstance(x, (list, tuple)) for x in rows):
        rows = [[x] for x in rows] if ncols == 1 and nrows > 1 else [rows]
    if len(rows) != nrows or any(not isinstance(r, (list, tuple)) or len(r) != ncols
                                 for r in rows):
        raise XlevalError(f"{ref}: the values are not {nrows} row(s) of {ncols} (a list of "
                          "row lists of the range's shape)")
    for row in rows:
        for x in row:
            if not (isinstance(x, str) and x.startswith("=")):
                _normalise(x)
    return rows


def load(path: str | os.PathLike, *, now: float | None = None, links: str = "cached",
         links_dir: str | os.PathLike | None = None,
         link_timeout: float | None = None, workers: int | None = None,
         unknown: str = "name") -> Workbook:
    """Load an .xlsx/.xlsm workbook. Raises xleval.errors.WorkbookError subclasses.
    `links`: 'cached' (Excel's cached values of linked workbooks), 'update' (recalculate the
    linked workbooks found in the workbook's folder or `links_dir`) or 'off' (#REF!).
    `unknown`: what a formula calling a function xleval cannot evaluate (a VBA or add-in
    function...) gives: 'name' (#NAME?, as Excel without the add-in) or 'cached' (the
    value Excel cached for it; its dependents are recalculated from it).
    `workers` >= 2 reads the rows of large sheets in that many forked processes (Linux;
    None: 1, in this process)."""
    from .evaluator.unknown import check_mode as check_unknown
    from .links import check_mode, check_settings, configure as configure_links
    from .loader import load_workbook
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise XlevalError(f"a workbook path is a text or path, not {type(path).__name__}")
    path = os.fsdecode(os.fspath(path))
    _check_workers(workers)
    check_mode(links)
    check_settings(links_dir, link_timeout)
    unknown = check_unknown(unknown)
    t0 = time.perf_counter()
    data = load_workbook(path, workers=workers or 1)
    wb = Workbook(data, now=now, unknown=unknown)
    configure_links(wb, links, links_dir, link_timeout)
    wb.load_seconds = time.perf_counter() - t0
    wb.engine.report.timings["load"] = wb.load_seconds
    return wb


def evaluate(formula: str, cells: dict[str, object] | None = None):
    """Evaluate one formula (with optional cells on Sheet1) and return its value. The
    formula sits in a cell of its own on Sheet1: ZZ1 (ROW() is 1, COLUMN() 702), or where
    `cells` or the formula's text name ZZ, the next column to the left in row 1."""
    if not isinstance(formula, str):
        raise XlevalError(f"a formula is a text, not {type(formula).__name__}")
    sheet: dict[str, object] = {}
    for ref, v in (cells or {}).items():
        if not isinstance(ref, str):
            raise ReferenceError_(f"a cell reference is a text like 'A1', not "
                                  f"{type(ref).__name__}")
        name, body = split_sheet_ref(ref)
        if name is not None and name.lower() != "sheet1":
            raise ReferenceError_(f"evaluate's cells are on Sheet1, not {ref!r}")
        sheet[body] = v
    text = formula if formula.startswith(("=", "{=")) else "=" + formula
    used = {body.replace("$", "").upper() for body in sheet}
    up = text.upper()
    home = next(h for h in (f"{col}1" for col in ("ZZ", "ZY", "ZX", "ZW", "ZV", "ZU", "ZT"))
                if h not in used and h[:2] not in up)
    sheet[home] = text
    wb = Workbook.from_dict({"Sheet1": sheet})
    wb.calculate()
    return wb[f"Sheet1!{home}"]
