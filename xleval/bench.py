"""`xleval bench`: time the evaluation stage of a workbook under each strategy.

What is timed: the evaluation stage only (loading, compiling and the dependency graph are
done once, before any timing), the minimum over `repeat` rounds in which the strategies
take turns. Every run recomputes every formula from scratch; a parallel strategy's time
includes starting and stopping its worker processes. Each strategy's values are checked
against the serial run's. Every shape is compiled before any timing (formulas that differ
from another only in their numbers share one closure: see Engine._family_shape), so no
timed run includes compiling.

Per sheet: the time to evaluate that sheet's formula cells with every other formula cell
already holding its value (from the serial run): the plan restricted to the sheet's cells,
under the same strategy. That is what the sheet costs on its own; the per-sheet times do
not add up to the workbook's (a workbook run overlaps sheets in the same layers and pays
for starting workers once). The largest sheets are timed one by one (at most 8, each with
at least 2% of the formulas); the others are timed together as one group (no per-sheet
rows when no sheet reaches 2%: that group would be the workbook). Cycles that span sheets
are evaluated with every sheet they touch.

Dispatch share: the time the main process spends starting workers, building tasks and
deltas and storing results, plus the workers' time applying deltas (divided by the number
of workers), as a share of the run's wall time.
"""
from __future__ import annotations

import json
import os
import platform
import time

from .errors import XlevalError
from .forking import MAX_WORKERS

MAX_SHEETS = 8
MIN_SHEET_SHARE = 0.02


def _sheet_plan(plan, sheets: set[int]):
    from .graph.build import Plan
    layers = [[u for u in layer if u.sheet in sheets] for layer in plan.layers]
    layers = [layer for layer in layers if layer]
    tail = [comp for comp in plan.tail if any(s in sheets for s, _, _ in comp)]
    cycles = [comp for comp in plan.cycles if any(s in sheets for s, _, _ in comp)]
    return Plan(layers, tail=tail, cycles=cycles)


def _groups(wb) -> list[tuple[str, set[int]]]:
    ev = wb.engine
    counts = [(len(ev.formulas[s]), s) for s in range(ev.n_local) if ev.formulas[s]]
    if len(counts) < 2:
        return []
    total = sum(n for n, _ in counts)
    counts.sort(key=lambda x: (-x[0], x[1]))
    single = [s for n, s in counts[:MAX_SHEETS] if n >= MIN_SHEET_SHARE * total]
    rest = {s for _, s in counts if s not in single}
    if not single:
        return []                 # one group of every sheet: the workbook row says it all
    out = [(ev.sheet_names[s], {s}) for s in single]
    if rest:
        out.append((f"({len(rest)} other sheets)" if len(rest) > 1 else
                    ev.sheet_names[next(iter(rest))], rest))
    return out


def _pend(ev, plan) -> None:
    """Mark the cells of `plan` (and what their array formulas cover) pending."""
    from .evaluator.engine import PENDING
    for layer in plan.layers:
        for u in layer:
            d = ev.cells[u.sheet]
            f = ev.formulas[u.sheet]
            for rc in u.cells:
                d[rc] = PENDING
                fc = f[rc]
                if fc.ref is not None:
                    r1, c1, r2, c2 = fc.ref
                    for r in range(r1, r2 + 1):
                        for c in range(c1, c2 + 1):
                            d[(r, c)] = PENDING
    for comp in plan.tail:
        for s, r, c in comp:
            ev.cells[s][(r, c)] = PENDING


def bench(path: str, *, strategies=("serial", "pool", "process", "auto"), workers=(1, 2, 4),
          repeat: int = 3, per_sheet: bool = True, log=None) -> dict:
    import xleval
    from .scheduler import STRATEGIES, run_plan
    for s in strategies:
        if s not in STRATEGIES:
            raise XlevalError(f"--strategies: unknown strategy {s!r} "
                              f"(choose from {', '.join(STRATEGIES)})")
    if repeat < 1:
        raise XlevalError("--repeat must be at least 1")
    if any(w < 1 for w in workers):
        raise XlevalError("--workers: every count must be at least 1")
    if any(w > MAX_WORKERS for w in workers):
        raise XlevalError(f"--workers: every count must be at most {MAX_WORKERS}")
    say = log or (lambda msg: None)
    wb = xleval.load(path)
    wb.graph()
    ev = wb.engine
    combos = [("serial", 1)] + [(s, w) for s in strategies if s != "serial" for w in workers]
    results: list[dict] = []
    choices: list[dict] = []
    info: dict = {}

    # -- the whole workbook ---------------------------------------------------------------
    wb.calculate(strategy="serial")            # warm-up, and the reference values
    reference = wb.formula_values()
    n_all = ev.report.formulas
    # the combinations take turns, repeat rounds of each: a slow spell of the machine then
    # falls on all of them alike instead of on whichever ran its repeats during it
    bests: dict[tuple[str, int], tuple] = {}
    for i in range(repeat):
        for strat, w in combos:
            rep = wb.calculate(strategy=strat, workers=w)
            t = rep.timings["evaluate"]
            best = bests.get((strat, w))
            if best is None or t < best[0]:
                bests[(strat, w)] = (t, ev.schedule_stats)
            if i == 0 and strat != "serial" and wb.formula_values() != reference:
                raise XlevalError(f"{strat} with {w} workers gave different values from serial")
    for strat, w in combos:
        t, st = bests[(strat, w)]
        results.append({"sheet": "*", "strategy": strat, "workers": w, "seconds": t,
                        "cells": n_all})
        info[("*", strat, w)] = st
        say(f"  * {strat:<8} {w:>2} workers  {t:8.3f}s")
        if strat == "auto":
            choices.append({"sheet": "*", "workers": w, **_choices(st)})

    # -- sheet by sheet ---------------------------------------------------------------------
    if per_sheet:
        wb.calculate(strategy="serial")
        done = [dict(d) for d in ev.cells[:ev.n_local]]
        for name, sheets in _groups(wb):
            sub = _sheet_plan(wb.plan, sheets)
            n = sum(len(u.cells) for layer in sub.layers for u in layer) + \
                sum(len(c) for c in sub.tail)
            bests = {}
            for _ in range(repeat):                   # taking turns, as above
                for strat, w in combos:
                    for s in range(ev.n_local):
                        ev.cells[s] = dict(done[s])
                    _pend(ev, sub)
                    t0 = time.perf_counter()
                    st = run_plan(ev, sub, strategy=strat, workers=w)
                    t = time.perf_counter() - t0
                    best = bests.get((strat, w))
                    if best is None or t < best[0]:
                        bests[(strat, w)] = (t, st)
            for strat, w in combos:
                t, st = bests[(strat, w)]
                results.append({"sheet": name, "strategy": strat, "workers": w, "seconds": t,
                                "cells": n})
                info[(name, strat, w)] = st
                say(f"  {name} {strat:<8} {w:>2} workers  {t:8.3f}s")
                if strat == "auto":
                    choices.append({"sheet": name, "workers": w, **_choices(st)})
        for s in range(ev.n_local):
            ev.cells[s] = done[s]
    return {
        "workbook": str(path),
        "cpu_count": os.cpu_count() or 1,
        "results": results,
        "auto_choices": choices,
        "dispatch_share": [{"sheet": sh, "strategy": s, "workers": w,
                            "share": round(st.dispatch_share(), 4)}
                           for (sh, s, w), st in info.items()],
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "start_method": _start_method()},
    }


def _start_method() -> str:
    from .scheduler.base import resolve_start_method
    try:
        return resolve_start_method()
    except ValueError as e:
        return str(e)


def _choices(st) -> dict:
    d = st.as_dict()
    return {"summary": d["counts"], "layers": d["layers"]}


def format_table(data: dict) -> str:
    share = {(x["sheet"], x["strategy"], x["workers"]): x["share"]
             for x in data.get("dispatch_share", [])}
    serial = {r["sheet"]: r["seconds"] for r in data["results"] if r["strategy"] == "serial"}
    lines = [f"workbook  {data['workbook']}",
             f"machine   {data['cpu_count']} CPUs, {data['machine']['platform']}, Python "
             f"{data['machine']['python']}, start method {data['machine']['start_method']}",
             "seconds: evaluation stage, best of the repeats; dispatch: share of that time "
             "spent starting workers and moving data", ""]
    sheets: list[str] = []
    for r in data["results"]:
        if r["sheet"] not in sheets:
            sheets.append(r["sheet"])
    width = max(14, *(len(s) for s in sheets))
    lines.append(f"{'sheet':<{width}}  {'strategy':<8} {'workers':>7} {'seconds':>9} "
                 f"{'speedup':>8} {'dispatch':>9} {'cells':>9}")
    for sh in sheets:
        for r in (x for x in data["results"] if x["sheet"] == sh):
            base = serial.get(sh)
            sp = f"{base / r['seconds']:.2f}x" if base and r["seconds"] > 0 else "-"
            ds = share.get((sh, r["strategy"], r["workers"]), 0.0)
            label = "*  (workbook)" if sh == "*" else sh
            lines.append(f"{label:<{width}}  {r['strategy']:<8} {r['workers']:>7} "
                         f"{r['seconds']:>9.3f} {sp:>8} {ds:>8.0%} {r['cells']:>9}")
        lines.append("")
    for ch in data.get("auto_choices", []):
        summ = ", ".join(f"{k} {v['layers']} layers / {v['cells']} cells"
                         for k, v in ch["summary"].items())
        lines.append(f"auto ({ch['sheet']}, {ch['workers']} workers): {summ or 'nothing to do'}")
        shown = [x for x in ch["layers"] if x["choice"] != "inline" or x.get("predicted")]
        for x in shown[:6]:
            p = x.get("predicted") or {}
            pr = ", ".join(f"{k} {v:.4f}s" for k, v in p.items()
                           if k in ("inline", "pool", "process", "pool_start"))
            lines.append(f"    layer {x['layer']}: {x['choice']} ({x['cells']} cells"
                         + (f"; predicted {pr}" if pr else "") + ")")
        if len(shown) > 6:
            lines.append(f"    ... {len(shown) - 6} more layers with a prediction")
    return "\n".join(lines).rstrip() + "\n"


def plot(data: dict, out: str) -> None:
    """Grouped bar chart: seconds per sheet (groups) per strategy and workers (bars)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise XlevalError("--plot needs matplotlib, which is not installed "
                          "(pip install 'xleval[plot]')") from None
    sheets: list[str] = []
    combos: list[tuple[str, int]] = []
    for r in data["results"]:
        if r["sheet"] not in sheets:
            sheets.append(r["sheet"])
        if (r["strategy"], r["workers"]) not in combos:
            combos.append((r["strategy"], r["workers"]))
    secs = {(r["sheet"], r["strategy"], r["workers"]): r["seconds"] for r in data["results"]}
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(sheets) * max(1, len(combos)) / 3), 4.5))
    width = 0.8 / max(1, len(combos))
    for i, (s, w) in enumerate(combos):
        xs = [j + (i - (len(combos) - 1) / 2) * width for j in range(len(sheets))]
        ys = [secs.get((sh, s, w), 0.0) for sh in sheets]
        ax.bar(xs, ys, width, label=f"{s}" + ("" if s == "serial" else f" x{w}"))
    ax.set_xticks(range(len(sheets)))
    ax.set_xticklabels(["workbook" if s == "*" else s for s in sheets], rotation=20, ha="right")
    ax.set_ylabel("seconds (evaluation, best of repeats)")
    ax.set_title(os.path.basename(data["workbook"]))
    ax.legend(fontsize=8)
    fig.tight_layout()
    from .writer.xlsx import atomic_output
    with atomic_output(out) as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)


def write_json(data: dict, out: str) -> None:
    from .writer.xlsx import atomic_output
    with atomic_output(out) as fh:
        fh.write(json.dumps(data, indent=2).encode("utf-8"))
