"""External workbook links ([N]Sheet!A1 references).

Three modes, chosen with `xleval.load(path, links=...)`, `Workbook.calculate(links=...)` or
`xleval calc --links`:

  cached  (default) Excel's "don't update": the values Excel cached in the external-link
          parts, as loaded.
  update  every linked workbook is loaded from disk and recalculated first (its own links
          too, down to 5 levels, cycles cut), each in its own process, concurrently, with a
          per-link timeout (`update.py`); formulas then read the fresh values, and `save`
          writes them into the external-link caches so Excel shows the same numbers.
  off     every external reference gives #REF!.

Which files may be opened is decided by `resolve.py`: only files inside the workbook's own
folder or `links_dir`. A link that cannot be used keeps its cached values (#REF! where
nothing is cached) and adds a warning to `report.warnings`; a link never stops a run.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .resolve import Resolved, allowed_folders, inside, resolve_target
from .update import DEFAULT_DEPTH, DEFAULT_TIMEOUT, apply_fresh, scan_links, update_links

__all__ = ["MODES", "LinkState", "check_mode", "configure", "prepare", "apply_links",
           "external_values", "list_links", "Resolved", "allowed_folders", "inside",
           "resolve_target", "scan_links", "update_links", "DEFAULT_TIMEOUT", "DEFAULT_DEPTH"]

MODES = ("cached", "update", "off")


@dataclass
class LinkState:
    key: tuple
    mode: str
    pristine: dict[int, tuple[dict, dict]]          # index -> (cached values, names)
    updated: set[int] = field(default_factory=set)  # indices holding fresh values
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    processes: int = 0
    max_running: int = 0


def check_mode(mode: str | None) -> str:
    m = (mode or "cached").lower()
    if m not in MODES:
        from ..errors import XlevalError
        raise XlevalError(f"links: unknown mode {mode!r}; choose from {', '.join(MODES)}")
    return m


def check_settings(links_dir=None, timeout: float | None = None) -> None:
    """A links folder that is not a folder, or a timeout that is not a positive number:
    an XlevalError now, whatever the mode (a typo shows before it matters)."""
    from ..errors import XlevalError
    if links_dir is not None and not os.path.isdir(os.fspath(links_dir)):
        raise XlevalError(f"links folder {os.fspath(links_dir)}: no such folder")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(
            timeout, (int, float)) or not 0 < timeout < 1e9):
        raise XlevalError(f"link timeout: expected a number of seconds > 0 (and below 1e9), "
                          f"not {timeout!r}")


def configure(wb, links: str | None = "cached", links_dir=None,
              timeout: float | None = None) -> None:
    """Remember a workbook's link settings (applied by its next calculate)."""
    check_settings(links_dir, timeout)
    wb.link_options = {"mode": check_mode(links),
                       "links_dir": os.fspath(links_dir) if links_dir else None,
                       "timeout": timeout}


def prepare(wb, links: str | None = None, links_dir=None, timeout: float | None = None) -> None:
    """Called by `Workbook.calculate` before the graph is built: bring the engine's external
    sheets to the requested mode (a no-op when nothing changed)."""
    check_settings(links_dir, timeout)
    opts = getattr(wb, "link_options", None) or {}
    mode = check_mode(links or opts.get("mode"))
    ldir = links_dir if links_dir is not None else opts.get("links_dir")
    tmo = timeout if timeout is not None else opts.get("timeout")
    apply_links(wb, mode, ldir, tmo, max_depth=opts.get("max_depth", DEFAULT_DEPTH),
                max_parallel=opts.get("max_parallel"))


def apply_links(wb, mode: str, links_dir=None, timeout: float | None = None, *,
                max_depth: int = DEFAULT_DEPTH, max_parallel: int | None = None,
                force: bool = False) -> LinkState | None:
    """Bring the workbook's external sheets to `mode` (and make these settings the
    workbook's own, kept by later calculations). Returns the link state."""
    mode = check_mode(mode)
    wb.link_options = {"mode": mode, "links_dir": os.fspath(links_dir) if links_dir else None,
                       "timeout": timeout, "max_depth": max_depth,
                       "max_parallel": max_parallel}
    ldir = os.path.realpath(os.fspath(links_dir)) if links_dir else None
    key = (mode, ldir, timeout if mode == "update" else None, max_depth)
    state: LinkState | None = getattr(wb, "_link_state", None)
    if state is not None and state.key == key and not force:
        _report(wb, state.warnings)
        return state
    data = wb.data
    if state is None:
        if mode == "cached" or not data.externals:
            wb._link_state = LinkState(key, mode, _pristine(data))
            return wb._link_state
        state = LinkState(key, mode, _pristine(data))
    else:
        state = LinkState(key, mode, state.pristine)
    for eb in data.externals:               # back to what was loaded
        values, names = state.pristine.get(eb.index, ({}, {}))
        eb.values, eb.names = values, names
    t0 = time.perf_counter()
    if mode == "off":
        for eb in data.externals:
            eb.values = {}
    elif mode == "update" and data.externals:
        folders = allowed_folders(data.path, ldir)
        got = update_links(data.path, data.externals, folders, links_dir=ldir,
                           timeout=timeout, max_depth=max_depth, max_parallel=max_parallel)
        by_index = {eb.index: eb for eb in data.externals}
        for idx, result in got.fresh.items():
            apply_fresh(by_index[idx], result)
            state.updated.add(idx)
        state.warnings = _update_warnings(got, by_index) + got.warnings
        state.processes, state.max_running = got.processes, got.max_running
    state.seconds = time.perf_counter() - t0
    wb._link_state = state
    rebuild_engine(wb)
    wb.engine.report.timings["links"] = state.seconds
    _report(wb, state.warnings)
    return state


def _pristine(data) -> dict[int, tuple[dict, dict]]:
    return {eb.index: (eb.values, eb.names) for eb in data.externals}


def _report(wb, warnings: list[str]) -> None:
    rep = wb.engine.report.warnings
    for w in warnings:
        if w not in rep:
            rep.append(w)


def rebuild_engine(wb) -> None:
    """A new engine for the workbook's data: the external sheets an engine holds and the
    functions its formulas call are fixed when it compiles. Keeps the workbook's own Python
    functions and its mode for unknown functions; the plan is rebuilt by the next
    calculate."""
    from ..evaluator.engine import Engine
    old = wb.engine
    new = Engine(wb.data, now=old.now, unknown=old.unknown)
    new.user_functions = old.user_functions
    load = old.report.timings.get("load")
    if load is not None:
        new.report.timings["load"] = load
    wb.engine = new
    wb.plan = None
    wb.calculated = False


def _has_cache(values: dict) -> bool:
    return any(bool(v) for v in values.values())


def _update_warnings(got, by_index) -> list[str]:
    out: list[str] = []
    root = None
    for key, node in got.nodes.items():
        if node.state == "root":
            root = key
    for key, node in got.nodes.items():
        where = "" if key == root else f"{os.path.basename(key)}: "
        for e in node.edges:
            if e.cut:
                continue                 # cycles were reported when they were cut
            if key == root:
                eb = by_index.get(e.index)
                fallback = "cached values used" if eb is not None and _has_cache(eb.values) \
                    else "nothing cached: its references give #REF!"
            else:
                fallback = "cached values used"
            label = f"links: {where}[{e.index}] {e.target or '(no target)'}"
            r = e.resolved
            if r is None:
                continue
            if not r.ok:
                out.append(f"{label}: {r.status} ({r.reason}); {fallback}")
                continue
            ch = got.nodes.get(e.child)
            if ch is not None and ch.state == "failed":
                out.append(f"{label}: could not be recalculated ({ch.error}); {fallback}")
    return out


def external_values(wb) -> dict | None:
    """{external-link part: {sheet: {(row, col): value}}} for the writer: the cells each
    updated link had cached, with their fresh values (None when the cell is now blank)."""
    state: LinkState | None = getattr(wb, "_link_state", None)
    if state is None or state.mode != "update" or not state.updated:
        return None
    out: dict[str, dict] = {}
    for eb in wb.data.externals:
        if eb.index not in state.updated or not eb.part:
            continue
        old_values = state.pristine.get(eb.index, ({}, {}))[0]
        names = set(eb.sheet_names)
        sheets = {}
        for sname, cells in old_values.items():
            if sname not in names or sname not in eb.values or not cells:
                continue
            fresh = eb.values[sname]
            sheets[sname] = {k: fresh.get(k) for k in cells}
        if sheets:
            out[eb.part] = sheets
    return out or None


# ---------------------------------------------------------------------------------------
# `xleval links`
# ---------------------------------------------------------------------------------------

def _books_of_shape(ev, shape, memo: dict) -> set[int]:
    from ..parser.ast import Name, Ref, walk
    if 0 <= shape.family != shape.id:
        shape = ev.shapes[shape.family]     # a family's members share their references
    got = memo.get(shape.id)
    if got is not None:
        return got
    books: set[int] = set()
    if shape.tree is not None:
        stack = [(shape.tree, shape.sheet)]
        seen: set = set()
        while stack:
            tree, sheet = stack.pop()
            for n in walk(tree):
                if isinstance(n, (Ref, Name)) and n.book:
                    books.add(n.book)
                elif isinstance(n, Name) and n.book is None:
                    k = (n.name.upper(), n.sheet, sheet)
                    if k in seen:
                        continue
                    seen.add(k)
                    try:
                        t = ev.name_tree(n.name, n.sheet, None, sheet)
                    except Exception:  # noqa: BLE001
                        t = None
                    if t is not None:
                        stack.append(t)
    memo[shape.id] = books
    return books


def link_usage(ev, limit: int = 5) -> dict[int, tuple[int, list[str]]]:
    """book index -> (cells whose formula reads it, the first `limit` of them)."""
    from ..refs import cell_name
    ev.prepare()
    memo: dict = {}
    out: dict[int, list] = {}
    for s in range(ev.n_local):
        for (r, c), shape in ev.cell_shape[s].items():
            for b in _books_of_shape(ev, shape, memo):
                ent = out.setdefault(b, [0, []])
                ent[0] += 1
                if len(ent[1]) < limit:
                    ent[1].append(f"{_quote(ev.sheet_names[s])}!{cell_name(r, c)}")
    return {b: (n, cells) for b, (n, cells) in out.items()}


def _quote(name: str) -> str:
    if name.replace("_", "").replace(".", "").isalnum() and not name[0].isdigit():
        return name
    return "'" + name.replace("'", "''") + "'"


def list_links(wb, links_dir=None, limit: int = 5) -> list[dict]:
    """Each external link: index, target, resolved path, status, reason, cached sheets and
    the cells that use it."""
    data = wb.data
    folders = allowed_folders(data.path, links_dir)
    base = os.path.dirname(os.path.realpath(data.path)) if data.path != "<memory>" else None
    usage = link_usage(wb.engine, limit)
    rows = []
    for eb in data.externals:
        r = resolve_target(eb.target, folders, base, links_dir)
        n, cells = usage.get(eb.index, (0, []))
        rows.append({"index": eb.index, "target": eb.target, "resolved": r.path,
                     "status": r.status, "reason": r.reason,
                     "sheets": list(eb.sheet_names or list(eb.values)),
                     "cached_cells": sum(len(v) for v in eb.values.values()),
                     "cells": n, "first_cells": cells, "part": eb.part})
    return rows
