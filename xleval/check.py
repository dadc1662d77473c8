"""`xleval check`: how far xleval drifts from Excel on one workbook.

Recalculate every formula and compare it with the value Excel cached in the file; classify
each difference so a user can decide whether to trust xleval with the workbook:

  unsupported  the formula calls a function xleval does not implement (or it didn't parse),
               or depends on such a cell (its #NAME? flows into the dependents)
  volatile     the formula calls NOW/RAND/OFFSET/... or depends on such a cell
  external     the formula reads another workbook (its cached link values are used)
  tolerance    both are numbers within 1e-6 relative: floating-point noise, not an error
  real         anything else: a genuine difference

With `unknown="cached"` (xleval.load), a cell calling an unknown function keeps Excel's
cached value: comparing it with that same value says nothing, so such cells are counted
apart (`kept_cached`), not compared; their dependents are compared as usual, recalculated
from the kept values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .evaluator.compiler import SPECIAL_FORMS
from .parser.ast import Ref, walk
from .refs import cell_name
from .values import XLError

NUM_REL = 1e-9
NUM_ABS = 1e-9
TOL_REL = 1e-6

CLASSES = ("unsupported", "volatile", "external", "tolerance", "real")


@dataclass
class Difference:
    cell: str
    formula: str
    excel: object
    xleval: object
    kind: str


@dataclass
class CheckReport:
    workbook: str
    compared: int = 0
    matched: int = 0
    no_cache: int = 0
    kept_cached: int = 0           # cells that kept Excel's value (unknown="cached")
    by_kind: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    coverage: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def match_pct(self) -> float:
        return 100.0 * self.matched / self.compared if self.compared else 100.0

    def to_dict(self) -> dict:
        return {
            "workbook": self.workbook, "compared": self.compared, "matched": self.matched,
            "match_pct": round(self.match_pct, 4), "no_cached_value": self.no_cache,
            "kept_cached": self.kept_cached,
            "differences_by_kind": self.by_kind,
            "differences": [{"cell": d.cell, "formula": d.formula, "excel": _json(d.excel),
                             "xleval": _json(d.xleval), "kind": d.kind}
                            for d in self.differences],
            "coverage": self.coverage, "seconds": round(self.seconds, 4),
        }


def _json(v):
    if isinstance(v, XLError):
        return v.code
    return v


def same_value(excel, got) -> bool:
    """Excel's cached value against ours, with the conformance corpus's rules."""
    if excel is None or excel == "":
        return got is None or got == ""
    if got is None:
        return False
    if isinstance(excel, bool) or isinstance(got, bool):
        return type(excel) is type(got) and excel == got
    if isinstance(excel, float) and isinstance(got, float):
        return math.isclose(excel, got, rel_tol=NUM_REL, abs_tol=NUM_ABS)
    if isinstance(excel, XLError) or isinstance(got, XLError):
        return isinstance(excel, XLError) and isinstance(got, XLError) and excel.code == got.code
    return type(excel) is type(got) and excel == got


def function_coverage(wb) -> list[dict]:
    """The functions a workbook's formulas call, with cell counts and where each comes from."""
    from .functions import load_all
    from .functions.registry import REGISTRY
    load_all()
    ev = wb.engine
    ev.prepare()
    counts: dict[str, int] = {}
    for s in range(ev.n_local):
        for shape in ev.cell_shape[s].values():
            for name in shape.info.functions:
                counts[name] = counts.get(name, 0) + 1
    rows = []
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        spec = REGISTRY.get(name)
        if spec is not None or name in SPECIAL_FORMS:
            source = "native"
        elif ev.function(name) is not None:
            source = "formulas"
        elif ev.lambda_name(name, 0) is not None:
            source = "lambda"
        else:
            source = "missing"
        rows.append({"function": name, "cells": n, "source": source,
                     "volatile": bool(spec.volatile) if spec else False})
    return rows


def check(wb, *, limit: int | None = None) -> CheckReport:
    """Recalculate `wb` (an xleval.Workbook) and compare with Excel's cached values."""
    import time
    t0 = time.perf_counter()
    rep = CheckReport(workbook=wb.data.path)
    rep.coverage = function_coverage(wb)
    ev = wb.engine
    plan = wb.graph()
    volatile_seeds = set()
    for s in range(ev.n_local):
        for (r, c), shape in ev.cell_shape[s].items():
            if shape.info.volatile:
                volatile_seeds.add((s, r, c))
    volatile = plan.tainted(volatile_seeds) if volatile_seeds else set()
    # cells still #NAME? for an unknown function or a parse error (not those that kept
    # Excel's value), and everything their value flows into
    kept = ev.kept
    unknown_seeds = set()
    for s in range(ev.n_local):
        for (r, c), shape in ev.cell_shape[s].items():
            if (shape.info.unsupported or shape.error and not shape.key.startswith("TABLE|")) \
                    and (s, r, c) not in kept:      # (a data table is computed: no seed)
                unknown_seeds.add((s, r, c))
    unknown = plan.tainted(unknown_seeds) if unknown_seeds else set()
    wb.calculate()
    rep.seconds = time.perf_counter() - t0
    by_kind = {k: 0 for k in CLASSES}
    for sd in wb.data.sheets:
        s = sd.index
        cells = ev.cells[s]
        for key, excel in sd.cached.items():
            anchor = ev.anchor_of((s, *key))
            if anchor in kept:
                rep.kept_cached += 1
                continue
            got = cells.get(key)
            rep.compared += 1
            if same_value(excel, got):
                rep.matched += 1
                continue
            shape = ev.cell_shape[s].get(anchor[1:])
            kind = _classify(ev, shape, anchor, volatile, unknown, excel, got)
            by_kind[kind] += 1
            if limit is None or len(rep.differences) < limit:
                fc = ev.formulas[s].get(anchor[1:])
                rep.differences.append(Difference(
                    f"{sd.name}!{cell_name(*key)}", "=" + (fc.text if fc else ""), excel, got,
                    kind))
        for key, fc in sd.formulas.items():
            if key not in sd.cached:
                rep.no_cache += 1
    rep.by_kind = {k: v for k, v in by_kind.items() if v}
    return rep


def _classify(ev, shape, anchor, volatile, unknown, excel, got) -> str:
    if shape is not None and (shape.info.unsupported or shape.error) or anchor in unknown:
        return "unsupported"
    if anchor in volatile:
        return "volatile"
    if shape is not None and shape.tree is not None:
        if any(isinstance(n, Ref) and n.book is not None for n in walk(shape.tree)):
            return "external"
    if isinstance(excel, float) and isinstance(got, float) and not isinstance(got, bool):
        if math.isclose(excel, got, rel_tol=TOL_REL, abs_tol=1e-9):
            return "tolerance"
    return "real"
