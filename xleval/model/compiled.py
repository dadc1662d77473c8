"""Compiled models: a workbook reduced to the calculation from some input cells to some
output cells, evaluated many times (data pipelines, scenario batches).

    model = xleval.compile("book.xlsx", inputs=["Inputs!B2:B5", "Rates"],
                           outputs=["Summary!B7", "Result"])
    model({"Inputs!B2": 3})          # -> {"Summary!B7": ..., "Result": ...}
    model.run_batch(df)              # one row per scenario (see batch.py)
    model.save("book.model"); xleval.load_model("book.model")

Compiling calculates the workbook once, then keeps only the sub-graph the outputs need:

  * the *closure*: the formula cells the outputs depend on (precedents in the plan's graph,
    through range block nodes); an input cell that holds a formula becomes a constant and the
    closure stops there;
  * of the closure, the *tainted* cells (readers of an input cell and their dependents,
    plus volatile cells) are the formulas a scenario evaluates, in the plan's order; every
    other closure cell is computed once, now, and stored as a constant, and formulas
    outside the closure are dropped;
  * the constants kept are those the tainted formulas' references cover, the input and
    output cells' values, and every defined name, table and calculation setting.

A workbook loaded with `unknown="cached"` compiles each cell that kept Excel's cached value
for an unknown function (VBA, add-in...) as that constant: the model gives what the
workbook gives, where its own engine would have no cached value and show #NAME?.

Dynamic references (INDIRECT, OFFSET, `A1:INDEX(..)`, spill references, data tables) and
functions that look at formulas rather than values (ISFORMULA, FORMULATEXT, CELL, INFO) can
read any cell. When the closure holds one, the model keeps the *whole workbook* (every
constant, every formula with its computed value) and evaluates per scenario the tainted
cells plus every such dynamic cell and its dependents; a formula the dynamic cell reaches at
run time that is not scheduled is read with its compiled-time value, or computed on demand
if it is pending (the engine's pull fallback). `describe()["whole_workbook"]` says which.

Nothing compiled is stored: `to_bytes` writes plain data (formula texts with their origin,
constants, names, tables, settings) as zlib-compressed JSON behind a magic header and a
format version, and loading compiles the formulas again.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import zlib
from typing import Iterable

from .. import values as V
from ..errors import XlevalError
from ..evaluator.engine import PENDING, Engine
from ..graph.build import _rect, build_plan
from ..loader.model import (CalcSettings, DefinedName, ExternalBook, FormulaCell,
                            PivotDataField, PivotItem, PivotTable, SheetData, Table,
                            WorkbookData)
from ..parser.ast import Ref
from ..refs import cell_name, parse_range, split_sheet_ref
from ..values import XLError
from .deps import ReadIndex, reached_by, reset_keys, sub_plan

MAGIC = b"XLEVAL-MODEL\n"
FORMAT_VERSION = 1


class ModelError(XlevalError):
    """A model could not be compiled, called, saved or loaded as asked."""


# ---------------------------------------------------------------------------------------
# references given by the user
# ---------------------------------------------------------------------------------------

def _canon(sheet: str, r: int, c: int) -> str:
    return f"{sheet}!{cell_name(r, c)}"


def _norm_key(key: str) -> str:
    """A reference or name as a lookup key: sheet unquoted, no '$', upper case."""
    sheet, body = split_sheet_ref(str(key))
    body = body.replace("$", "").strip().upper()
    return f"{sheet.upper()}!{body}" if sheet is not None else body


def _resolve(ev: Engine, ref: str) -> tuple[list[tuple[int, int, int]], int, int]:
    """The cells of a reference ('Sheet!B2', 'Sheet!B2:B5') or a defined name that refers to
    one rectangle, row by row, with its row and column counts."""
    if not isinstance(ref, str) or not ref.strip():
        raise ModelError(f"bad reference {ref!r}: give 'Sheet!A1', 'Sheet!A1:B5' or a name")
    sheet, body = split_sheet_ref(ref)
    rect = None
    s = None
    try:
        rect = parse_range(body)
    except ValueError:
        pass
    if rect is not None:
        if sheet is None:
            raise ModelError(f"reference {ref!r} needs a sheet name, like 'Sheet1!{body}'")
        try:
            s = ev.sheet_index(sheet)
        except KeyError:
            raise ModelError(f"{ref!r}: no sheet named {sheet!r}") from None
    else:
        scope = None
        if sheet is not None:
            try:
                scope = ev.sheet_index(sheet)
            except KeyError:
                raise ModelError(f"{ref!r}: no sheet named {sheet!r}") from None
        got = ev.name_tree(body.strip(), sheet, None, scope if scope is not None else 0)
        if got is None or ev._find_name(body.strip(), sheet,
                                        scope if scope is not None else -1) is None:
            raise ModelError(f"{ref!r} is neither a cell reference nor a defined name")
        tree, at = got
        if not isinstance(tree, Ref) or tree.invalid or tree.sheet2 is not None:
            raise ModelError(f"defined name {ref!r} does not refer to one cell range")
        try:
            sheets = ev.resolve_sheets(tree.sheet, tree.sheet2, tree.book, at)
        except KeyError:
            raise ModelError(f"defined name {ref!r} refers to a missing sheet") from None
        if len(sheets) != 1 or sheets[0] >= ev.n_local:
            raise ModelError(f"defined name {ref!r} must refer to a range of this workbook")
        s = sheets[0]
        rect = _rect(tree, 1, 1)
    r1, c1, r2, c2 = rect
    if (r2 - r1 + 1) * (c2 - c1 + 1) > 1_000_000:
        raise ModelError(f"{ref!r} covers more than 1,000,000 cells")
    cells = [(s, r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]
    return cells, r2 - r1 + 1, c2 - c1 + 1


# ---------------------------------------------------------------------------------------
# plain-data encoding of values
# ---------------------------------------------------------------------------------------

def _enc(v):
    if isinstance(v, XLError):
        return {"e": v.code}
    return v


def _dec(v):
    if isinstance(v, dict):
        return V.ERRORS.get(v.get("e"), V.VALUE)
    return v


# ---------------------------------------------------------------------------------------
# compiling
# ---------------------------------------------------------------------------------------

def compile(source, inputs: list[str], outputs: list[str], *,
            now: float | None = None) -> "Model":
    """Compile the calculation from `inputs` to `outputs` of a workbook (a path or an
    xleval.Workbook, calculated here if it is not) into a Model. Refs are 'Sheet!B2',
    'Sheet!B2:B5' or defined names; `now` fixes NOW()/TODAY() (a serial number, a
    datetime or an ISO text)."""
    from ..dates import parse_now
    from ..workbook import Workbook, load
    now = parse_now(now)
    if isinstance(inputs, str) or isinstance(outputs, str):
        raise ModelError("inputs and outputs must be lists of references or names")
    if not isinstance(inputs, (list, tuple)) or not isinstance(outputs, (list, tuple)):
        raise ModelError("inputs and outputs must be lists of references or names")
    if not outputs:
        raise ModelError("a model needs at least one output")
    if isinstance(source, Workbook):
        wb = source
        if now is not None and wb.engine.now != now:
            wb.engine.now = now
            wb.calculated = False
        origin = wb.data.path
    elif isinstance(source, (str, os.PathLike)):
        wb = load(source, now=now)
        origin = os.fspath(source)
    else:
        raise ModelError(f"compile() takes a path or an xleval.Workbook, not "
                         f"{type(source).__name__}")
    if not wb.calculated:
        wb.calculate()
    spec = _build_spec(wb, list(inputs), list(outputs), origin)
    return Model(spec, user_functions=wb.engine.user_functions)


def _build_spec(wb, inputs: list[str], outputs: list[str], origin: str) -> dict:
    ev = wb.engine
    plan = wb.graph()
    names = ev.sheet_names
    in_groups, out_groups = [], []
    in_cells: list[tuple[int, int, int]] = []
    for ref in inputs:
        cells, nr, nc = _resolve(ev, ref)
        for key in cells:
            s, r, c = key
            if (r, c) in ev.covered[s] and (r, c) not in ev.formulas[s]:
                raise ModelError(f"input {_canon(names[s], r, c)} is inside an array formula")
            if key not in in_cells:
                in_cells.append(key)
        in_groups.append([ref, [_canon(names[s], r, c) for s, r, c in cells], nr, nc])
    out_cells: list[tuple[int, int, int]] = []
    for ref in outputs:
        cells, nr, nc = _resolve(ev, ref)
        for key in cells:
            if key not in out_cells:
                out_cells.append(key)
        out_groups.append([ref, [_canon(names[s], r, c) for s, r, c in cells], nr, nc])
    in_set = set(in_cells)

    # the closure: formula cells the outputs depend on, stopping at input cells
    ids = {cell: i for i, cell in enumerate(plan.node_cell)}
    n_cells = len(plan.node_cell)
    stack = []
    for key in out_cells:
        a = ev.anchor_of(key)
        if a in ids and a not in in_set:
            stack.append(ids[a])
    seen = set(stack)
    while stack:
        v = stack.pop()
        for p in plan.preds[v]:
            if p not in seen and not (p < n_cells and plan.node_cell[p] in in_set):
                seen.add(p)
                stack.append(p)
    closure = {plan.node_cell[v] for v in seen if v < n_cells}

    reads = ReadIndex(ev)
    whole = bool(closure & reads.unbounded)
    if whole:
        closure = set(plan.node_cell) - in_set
    tainted = reached_by(plan, reads, in_cells, within=closure, exclude=in_set)
    # unknown="cached": a cell that kept Excel's cached value keeps it whatever the inputs,
    # as in the workbook, so the model holds that value as a constant (a model has no
    # cached values to go back to: compiled again, the formula would be #NAME?)
    if ev.kept:
        tainted -= ev.kept
        if whole:
            closure -= ev.kept

    kept = closure if whole else tainted
    # values the model starts from: constants and compile-time results
    values: list[dict] = [dict() for _ in range(ev.n_local)]
    if whole:
        for s in range(ev.n_local):
            for k, v in ev.cells[s].items():
                if v is not None and v is not PENDING:
                    values[s][k] = v
    else:
        per_sheet: dict[int, list] = {}
        for key in tainted:
            for sh, r1, c1, r2, c2 in reads.by_cell.get(key, ()):
                per_sheet.setdefault(sh, []).append((r1, c1, r2, c2))
        for sh, rects in per_sheet.items():
            _copy_rects(ev.cells[sh], rects, values[sh])
        for s, r, c in list(in_cells) + list(out_cells):
            v = ev.cells[s].get((r, c))
            if v is not None and v is not PENDING:
                values[s][(r, c)] = v
    for s, r, c in in_cells:                 # an input that held a formula: its value stays
        if (r, c) in ev.formulas[s]:
            v = ev.cells[s].get((r, c))
            if v is not None and v is not PENDING:
                values[s][(r, c)] = v
    for s in range(ev.n_local):
        # the cells an array the model recalculates fills are its results, not constants
        # (as constants they would be in its way: #SPILL!)
        cov = ev.covered[s]
        if cov:
            for k in [k for k in values[s] if k in cov and (s, *cov[k]) in kept]:
                del values[s][k]

    data = wb.data
    sheets = []
    for s, sd in enumerate(data.sheets):
        formulas = []
        for (r, c), fc in sd.formulas.items():
            if (s, r, c) in kept:
                formulas.append([r, c, fc.text, fc.origin[0], fc.origin[1], fc.kind,
                                 list(fc.ref) if fc.ref else None, fc.dynamic,
                                 _plain_dt(fc.dt)])
        sheets.append({
            "name": sd.name, "max_row": ev.extent[s][0], "max_col": ev.extent[s][1],
            "values": [[r, c, _enc(v)] for (r, c), v in values[s].items()],
            "formulas": formulas, "state": sd.state, "kind": sd.kind,
            "hidden_rows": sorted(sd.hidden_rows), "filtered_rows": sorted(sd.filtered_rows),
        })
    calc = data.calc
    return {
        "version": FORMAT_VERSION,
        "source": origin,
        "now": ev.now,
        "whole_workbook": whole,
        "inputs": in_groups,
        "outputs": out_groups,
        "input_cells": [[s, r, c] for s, r, c in in_cells],
        "output_cells": [[s, r, c] for s, r, c in out_cells],
        "tainted": sorted([s, r, c] for s, r, c in tainted),
        "sheets": sheets,
        "names": [[d.name, d.text, d.scope, d.hidden] for d in data.names],
        "tables": [[t.name, t.sheet, list(t.ref), list(t.columns), t.header_rows,
                    t.totals_rows] for t in data.tables],
        "externals": [{"index": eb.index, "target": eb.target,
                       "sheet_names": list(eb.sheet_names), "names": dict(eb.names),
                       "values": {n: [[r, c, _enc(v)] for (r, c), v in vals.items()]
                                  for n, vals in eb.values.items()}}
                      for eb in data.externals],
        "pivots": [_plain_pivot(p) for p in data.pivots],
        "date1904": data.date1904,
        "application": data.application,
        "calc": {"iterate": calc.iterate, "max_iterations": calc.max_iterations,
                 "max_change": calc.max_change, "calc_mode": calc.calc_mode,
                 "full_calc_on_load": calc.full_calc_on_load},
    }


def _plain_pivot(p: PivotTable) -> dict:
    """A pivot table's layout as plain data (GETPIVOTDATA reads it in the model too)."""
    def lines(items):
        return [[it.kind, [[f, _enc(v), cap] for f, v, cap in it.labels], it.data]
                for it in items]
    return {"name": p.name, "sheet": p.sheet, "ref": list(p.ref),
            "first": [p.first_data_row, p.first_data_col], "fields": list(p.fields),
            "row_fields": list(p.row_fields), "col_fields": list(p.col_fields),
            "row_items": lines(p.row_items), "col_items": lines(p.col_items),
            "data_fields": [[d.name, d.field] for d in p.data_fields],
            "page_fields": [[f, None if sel is None else [_enc(sel[0]), sel[1]]]
                            for f, sel in p.page_fields],
            "page_rows": p.page_rows}


def _pivot(d: dict) -> PivotTable:
    def lines(rows):
        return [PivotItem(kind, [(f, _dec(v), cap) for f, v, cap in labels], data)
                for kind, labels, data in rows]
    return PivotTable(
        name=d["name"], sheet=d["sheet"], ref=tuple(d["ref"]), first_data_row=d["first"][0],
        first_data_col=d["first"][1], fields=list(d["fields"]),
        row_fields=list(d["row_fields"]), col_fields=list(d["col_fields"]),
        row_items=lines(d["row_items"]), col_items=lines(d["col_items"]),
        data_fields=[PivotDataField(n, f) for n, f in d["data_fields"]],
        page_fields=[(f, None if sel is None else (_dec(sel[0]), sel[1]))
                     for f, sel in d["page_fields"]],
        page_rows=d["page_rows"])


def _plain_dt(dt):
    if not dt:
        return None
    return {str(k): (v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
            for k, v in dt.items()}


def _copy_rects(src: dict, rects: list, out: dict) -> None:
    """Copy the values of `src` inside any of `rects` into `out`."""
    n = len(src)
    big = []
    for r1, c1, r2, c2 in set(rects):
        if (r2 - r1 + 1) * (c2 - c1 + 1) <= 4 * n:
            get = src.get
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    v = get((r, c))
                    if v is not None and v is not PENDING:
                        out[(r, c)] = v
        else:
            big.append((r1, c1, r2, c2))
    if big:
        for (r, c), v in src.items():
            if v is None or v is PENDING:
                continue
            for r1, c1, r2, c2 in big:
                if r1 <= r <= r2 and c1 <= c <= c2:
                    out[(r, c)] = v
                    break


# ---------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------

class Model:
    """A compiled calculation: call it with input values, get output values."""

    def __init__(self, spec: dict, *, user_functions: dict | None = None):
        t0 = time.perf_counter()
        self._spec = spec
        self.last_batch: dict | None = None      # what the last run_batch did
        self.inputs: list[str] = [g[0] for g in spec["inputs"]]
        self.outputs: list[str] = [g[0] for g in spec["outputs"]]
        sheet_names = [sh["name"] for sh in spec["sheets"]]
        self.input_cells: list[str] = [_canon(sheet_names[s], r, c)
                                       for s, r, c in spec["input_cells"]]
        self.output_cells: list[str] = [_canon(sheet_names[s], r, c)
                                        for s, r, c in spec["output_cells"]]
        ev = self._engine = Engine(_workbook_data(spec), now=spec.get("now"))
        if user_functions:
            ev.user_functions.update(user_functions)
        ev.prepare()
        plan = build_plan(ev)
        tainted = {tuple(k) for k in spec["tainted"]}
        self._plan = sub_plan(plan, tainted)
        self._order = list(self._plan.order())
        self._reset = reset_keys(ev, self._order)
        # engine.compute over the cells is the tightest loop; run_serial is needed for
        # cycles (iteration) and pays for units of several cells (the vector fast path)
        self._simple = not self._plan.tail and all(
            len(u.cells) == 1 for layer in self._plan.layers for u in layer)
        cells = ev.cells
        self._defaults = [(s, (r, c), cells[s].get((r, c))) for s, r, c in spec["input_cells"]]
        # keys callers may use: canonical cells and the inputs as given
        self._keys: dict[str, tuple[list[tuple[int, tuple[int, int]]], int, int]] = {}
        for (s, r, c), name in zip(spec["input_cells"], self.input_cells):
            self._keys[_norm_key(name)] = ([(s, (r, c))], 1, 1)
        for given, cells_, nr, nc in spec["inputs"]:
            targets = []
            for name in cells_:
                targets.extend(self._keys[_norm_key(name)][0])
            self._keys[_norm_key(given)] = (targets, nr, nc)
        self._outs = []
        for given, cells_, nr, nc in spec["outputs"]:
            pos = []
            for name in cells_:
                sh, body = split_sheet_ref(name)
                r, c, _, _ = parse_range(body)
                pos.append((sheet_names.index(sh), (r, c)))
            self._outs.append((given, pos, nr, nc))
        self.build_seconds = time.perf_counter() - t0     # compiling it (batch.py's estimate)

    # ----------------------------------------------------------------------------------
    def _assignments(self, values: dict) -> list[tuple[int, tuple[int, int], object]]:
        """Input values as (sheet, (row, col), value); a clear error for a bad key/shape."""
        from ..workbook import _normalise
        if not isinstance(values, dict):
            raise ModelError(f"model inputs must be a dict, not {type(values).__name__}")
        out = []
        for key, value in values.items():
            got = self._keys.get(_norm_key(key)) if isinstance(key, str) else None
            if got is None:
                raise ModelError(f"unknown model input {key!r}; inputs are "
                                 f"{', '.join(self.inputs)}")
            targets, nr, nc = got
            if len(targets) == 1:
                if isinstance(value, (list, tuple)):
                    flat = _flatten(value)
                    if len(flat) != 1:
                        raise ModelError(f"input {key!r} is one cell; got {len(flat)} values")
                    value = flat[0]
                out.append((targets[0][0], targets[0][1], _normalise(value)))
                continue
            if not isinstance(value, (list, tuple)) and not hasattr(value, "tolist"):
                raise ModelError(f"input {key!r} is a {nr}x{nc} range; give a list of "
                                 f"{len(targets)} values or of {nr} row lists")
            flat = _flatten(value.tolist() if hasattr(value, "tolist") else value)
            if len(flat) != len(targets):
                raise ModelError(f"input {key!r} is a {nr}x{nc} range ({len(targets)} cells); "
                                 f"got {len(flat)} values")
            for (s, rc), v in zip(targets, flat):
                out.append((s, rc, _normalise(v)))
        return out

    def _evaluate(self, assign: Iterable) -> None:
        """Evaluate one scenario: inputs at their defaults, then `assign`, then the tainted
        cells."""
        ev = self._engine
        cells = ev.cells
        for s, k, v in self._defaults:
            if v is None:
                cells[s].pop(k, None)
            else:
                cells[s][k] = v
        for s, k, v in assign:
            if v is None:
                cells[s].pop(k, None)
            else:
                cells[s][k] = v
        for s, k in self._reset:
            cells[s][k] = PENDING
        ev.forget_run_caches()         # lookup indexes hold the last scenario's values
        from ..scheduler.serial import run_serial
        if self._simple:
            ev.compute(self._order)
        else:
            run_serial(ev, self._plan)
        for _ in range(2):
            # a dynamic array that spilled into other cells than the file recorded: their
            # readers are not among the cells the inputs reach (the graph has no edge from
            # them to it), so this scenario is calculated in full; twice at most, as
            # run_plan does, when the spill filled cells nothing owned
            moved = ev.__dict__.pop("_spill_moved", False)
            if not (ev.__dict__.pop("_spill_grew", False) or moved):
                break
            ev.reset_pending()
            run_serial(ev, build_plan(ev))

    def _read_outputs(self) -> dict[str, object]:
        cells = self._engine.cells
        out = {}
        for given, pos, nr, nc in self._outs:
            vals = [cells[s].get(k) for s, k in pos]
            vals = [None if v is PENDING else v for v in vals]
            if nr == 1 and nc == 1:
                out[given] = vals[0]
            else:
                out[given] = [vals[i * nc:(i + 1) * nc] for i in range(nr)]
        return out

    def __call__(self, values: dict[str, object] | None = None) -> dict[str, object]:
        """Evaluate one scenario. `values` maps inputs (canonical cells, or the inputs as
        given: a range or name takes a list or a list of row lists) to values; inputs not
        given keep their workbook value. Returns {output as given: value} (a range output:
        a list of row lists); error values are XLError."""
        self._evaluate(self._assignments(values or {}))
        return self._read_outputs()

    def _row_outputs(self) -> list:
        """The output cells' values of the last scenario, flat (batch rows)."""
        cells = self._engine.cells
        out = []
        for _given, pos, _nr, _nc in self._outs:
            for s, k in pos:
                v = cells[s].get(k)
                out.append(None if v is PENDING else v)
        return out

    # ----------------------------------------------------------------------------------
    def run_batch(self, df, *, workers: int | None = None, strategy: str = "auto",
                  client=None, start_method: str | None = None):
        """Evaluate one scenario per DataFrame row (columns named by inputs); returns a
        DataFrame of outputs with the same index. strategy 'serial', 'pool' or 'auto' (see
        xleval.model.batch); `client` (a dask.distributed Client) runs it on a cluster."""
        if client is not None:
            from ..distributed import run_batch_dask
            return run_batch_dask(self, df, client)
        from .batch import run_batch
        return run_batch(self, df, workers=workers, strategy=strategy,
                         start_method=start_method)

    def output_columns(self) -> list[str]:
        """Batch output column names: outputs as given, a range output one per cell."""
        cols = []
        for given, cells_, nr, nc in self._spec["outputs"]:
            if nr == 1 and nc == 1:
                cols.append(given)
            else:
                cols.extend(cells_)
        return cols

    def describe(self) -> dict:
        """A JSON-safe summary of the model."""
        spec = self._spec
        return {
            "inputs": list(self.inputs), "outputs": list(self.outputs),
            "input_cells": list(self.input_cells), "output_cells": list(self.output_cells),
            "formulas": len(self._order),
            "source": spec["source"],
            "constants": sum(len(sh["values"]) for sh in spec["sheets"]),
            "formulas_kept": sum(len(sh["formulas"]) for sh in spec["sheets"]),
            "whole_workbook": bool(spec["whole_workbook"]),
            "version": spec["version"],
        }

    # ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The model as plain data (versioned, compressed JSON): nothing compiled."""
        body = json.dumps(self._spec, separators=(",", ":"), allow_nan=False).encode()
        return MAGIC + f"{FORMAT_VERSION}\n".encode() + zlib.compress(body, 6)

    @classmethod
    def from_bytes(cls, b: bytes) -> "Model":
        """Rebuild a model written by `to_bytes` (formulas are compiled again)."""
        if not isinstance(b, (bytes, bytearray, memoryview)):
            raise ModelError(f"model bytes expected, not {type(b).__name__}")
        b = bytes(b)
        if not b.startswith(MAGIC):
            raise ModelError("not an xleval model (bad header)")
        head, sep, body = b[len(MAGIC):].partition(b"\n")
        try:
            version = int(head)
        except ValueError:
            raise ModelError("not an xleval model (bad version line)") from None
        if not sep or version != FORMAT_VERSION:
            raise ModelError(f"model format version {version} is not supported "
                             f"(this xleval reads version {FORMAT_VERSION})")
        try:
            spec = json.loads(zlib.decompress(body))
        except (zlib.error, ValueError) as e:
            raise ModelError(f"corrupt model data ({type(e).__name__})") from None
        if not isinstance(spec, dict) or spec.get("version") != FORMAT_VERSION:
            raise ModelError("corrupt model data (bad contents)")
        try:
            return cls(spec)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ModelError(f"corrupt model data ({type(e).__name__}: {e})") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to `path` atomically (a temp file in the same folder, renamed)."""
        path = os.fspath(path)
        data = self.to_bytes()
        if os.path.isdir(path):
            raise ModelError(f"{path}: cannot write the model (is a directory, not a file)")
        folder = os.path.dirname(os.path.abspath(path))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".xleval-model-", dir=folder)
        except OSError as e:
            raise ModelError(f"{path}: cannot write the model ({e.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(e, OSError):    # disk full, the path became a folder meanwhile...
                raise ModelError(f"{path}: cannot write the model "
                                 f"({e.strerror or type(e).__name__})") from None
            raise

    def __reduce__(self):
        # pickling a model (multiprocessing, dask) ships its plain data, never closures
        return (Model.from_bytes, (self.to_bytes(),))

    def __repr__(self) -> str:
        return (f"<xleval.Model {len(self.input_cells)} input cells -> "
                f"{len(self.output_cells)} output cells, {len(self._order)} formulas>")


def load_model(path: str | os.PathLike) -> Model:
    """Load a model written by `Model.save` (no workbook needed)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelError(f"{path}: cannot read the model ({e.strerror})") from None
    try:
        return Model.from_bytes(data)
    except ModelError as e:
        raise ModelError(f"{path}: {e}") from None


def _flatten(value) -> list:
    out = []
    for x in value:
        if isinstance(x, (list, tuple)):
            out.extend(x)
        else:
            out.append(x)
    return out


def _workbook_data(spec: dict) -> WorkbookData:
    """The reduced workbook a model evaluates, rebuilt from its plain data."""
    data = WorkbookData(path=spec["source"], fmt="xlsx", sheets=[])
    for i, sh in enumerate(spec["sheets"]):
        sd = SheetData(name=sh["name"], index=i, part="", max_row=sh["max_row"],
                       max_col=sh["max_col"], state=sh["state"], kind=sh["kind"])
        sd.values = {(r, c): _dec(v) for r, c, v in sh["values"]}
        for r, c, text, orow, ocol, kind, ref, dyn, dt in sh["formulas"]:
            sd.formulas[(r, c)] = FormulaCell(text, (orow, ocol), kind,
                                              tuple(ref) if ref else None, dyn, dt)
        sd.hidden_rows = set(sh["hidden_rows"])
        sd.filtered_rows = set(sh["filtered_rows"])
        data.sheets.append(sd)
    data.names = [DefinedName(n, t, sc, h) for n, t, sc, h in spec["names"]]
    data.tables = [Table(n, s, tuple(ref), list(cols), hr, tr)
                   for n, s, ref, cols, hr, tr in spec["tables"]]
    data.externals = [ExternalBook(e["index"], e["target"], list(e["sheet_names"]),
                                   {n: {(r, c): _dec(v) for r, c, v in vals}
                                    for n, vals in e["values"].items()},
                                   dict(e["names"]))
                      for e in spec["externals"]]
    # (models saved before pivot tables were read have none: GETPIVOTDATA gives #REF!)
    data.pivots = [_pivot(p) for p in spec.get("pivots", [])]
    data.date1904 = bool(spec["date1904"])
    data.application = spec.get("application", "")
    data.calc = CalcSettings(**spec["calc"])
    return data
