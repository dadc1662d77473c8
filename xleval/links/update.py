"""Update mode: recalculate the linked workbooks from disk, then hand their fresh values to
the workbook that links them.

1. The link graph is found first, breadth first, without calculating anything: the main
   workbook's links come from its loaded external-link parts, a linked workbook's own links
   from a light scan of its package (`scan_links`: workbook.xml, the external-link parts'
   relationships and sheet names). Links of links are followed down to `max_depth` levels
   (default 5); deeper workbooks use the values their own links have cached.
2. Cycles (A links B links A, or a linked workbook linking the main one) are cut by a
   depth-first pass: the link that closes the cycle is not followed, the workbook at its
   start uses the values it has cached for it, and the report says so.
3. Every linked workbook is loaded and recalculated in its own `multiprocessing.Process`
   (serial strategy inside), as soon as the workbooks it links are done: the leaves all at
   once, then their parents, at most `max_parallel` at a time (default: the CPU count).
   A process that does not answer within `timeout` seconds is terminated.
4. A link that cannot be used (missing, refused, unreadable, corrupt, failed, timed out, in
   a cycle) keeps its cached values and adds a warning; where nothing is cached its
   references give #REF!. Nothing a linked file does can stop the run.
"""
from __future__ import annotations

import os
import time
import zipfile
from dataclasses import dataclass, field

from .resolve import Resolved, resolve_target

__all__ = ["LinkEdge", "LinkNode", "UpdateResult", "scan_links", "update_links",
           "DEFAULT_TIMEOUT", "DEFAULT_DEPTH"]

DEFAULT_TIMEOUT = 60.0
DEFAULT_DEPTH = 5


@dataclass
class LinkEdge:
    index: int                       # [N] in the linking workbook
    target: str
    sheet_names: list[str]
    resolved: Resolved | None = None
    child: str | None = None         # key (real path) of the linked node
    cut: str = ""                    # why the link is not followed ('cycle', 'depth')


@dataclass
class LinkNode:
    path: str                        # real path; the key
    depth: int
    edges: list[LinkEdge] = field(default_factory=list)
    expanded: bool = False
    state: str = "pending"           # pending / running / done / failed
    result: dict | None = None
    error: str = ""
    seconds: float = 0.0


@dataclass
class UpdateResult:
    fresh: dict[int, dict]           # main workbook's link index -> child result
    edges: list[LinkEdge]            # the main workbook's links
    nodes: dict[str, LinkNode]
    warnings: list[str]
    seconds: float = 0.0
    processes: int = 0
    max_running: int = 0


# ---------------------------------------------------------------------------------------
# scanning a package for its links (no sheets read)
# ---------------------------------------------------------------------------------------

def scan_links(path: str) -> list[tuple[int, str, list[str]]]:
    """(index, target, sheet names) of each external link of the workbook at `path`.
    Raises WorkbookError subclasses (or OSError/zipfile errors) for bad files."""
    from lxml import etree

    from ..errors import CorruptWorkbookError
    from ..loader.xlsx import _XML_OPTS, _local, _Reader, _rid
    with zipfile.ZipFile(path) as zf:
        rd = _Reader(path, zf, 1 << 28)     # only small parts are read
        wbp = rd.workbook_part()
        rels = {rid: (typ, target, ext) for rid, typ, target, ext in rd.rels(wbp)}
        root = rd.parse(wbp)
        ids: list[str | None] = []
        for el in root:
            if _local(el.tag) == "externalReferences":
                ids = [_rid(x) for x in el if _local(x.tag) == "externalReference"]
        out = []
        for i, rid in enumerate(ids, start=1):
            _typ, target, ext = rels.get(rid or "", ("", "", False))
            part = None if ext else rd.find(target)
            if part is None:
                out.append((i, "", []))
                continue
            prels = {r: t for r, _ty, t, _e in rd.rels(part, raw=True)}
            book_target, names = "", []
            try:
                with rd.open(part) as fh:
                    for ev, el in etree.iterparse(fh, events=("start", "end"), **_XML_OPTS):
                        ln = _local(el.tag)
                        if ev == "start":
                            if ln == "externalBook":
                                book_target = prels.get(_rid(el) or "", "")
                            elif ln == "sheetDataSet":
                                break
                        elif ln == "sheetName":
                            names.append(el.get("val") or "")
            except etree.LxmlError as e:
                raise CorruptWorkbookError(path, f"malformed XML in part {part}: {e}") from e
            out.append((i, book_target, names))
        return out


# ---------------------------------------------------------------------------------------
# the child process: load, apply the fresh values of its own links, recalculate
# ---------------------------------------------------------------------------------------

def apply_fresh(eb, result: dict) -> None:
    """Replace an ExternalBook's cached values (and names) with a child's fresh ones. Cached
    sheets the linked workbook no longer has end up without values (#REF!)."""
    by_lower = {n.lower(): v for n, v in result["sheets"].items()}
    names = eb.sheet_names or list(eb.values)
    eb.values = {n: by_lower[n.lower()] for n in names if n.lower() in by_lower}
    fresh_names = result.get("names") or {}
    low = {k.lower(): v for k, v in fresh_names.items()}
    merged = dict(fresh_names)
    for k in eb.names:
        if k.lower() in low:
            merged[k] = low[k.lower()]
    eb.names = merged


def recalc_linked(path: str, fresh: dict[int, dict], wanted: list[str] | None) -> dict:
    """Load and recalculate one linked workbook; its sheets' values (only `wanted` sheet
    names when given, case-insensitive) and workbook-level names."""
    from ..loader import load_workbook
    from ..workbook import Workbook
    data = load_workbook(path)
    for eb in data.externals:
        if eb.index in fresh:
            apply_fresh(eb, fresh[eb.index])
    wb = Workbook(data)
    wb.calculate(strategy="serial")
    want = None if wanted is None else {w.lower() for w in wanted}
    sheets = {s.name: wb.sheet_values(s.index) for s in data.sheets
              if want is None or s.name.lower() in want}
    names: dict[str, str] = {}
    for dn in data.names:
        if dn.scope is None:
            names[dn.name] = dn.text
    for dn in data.names:
        if dn.scope is not None and dn.name not in names and 0 <= dn.scope < len(data.sheets):
            sheet = data.sheets[dn.scope].name
            text = dn.text
            if "!" not in text:
                text = f"'{sheet}'!{text}"
            names[dn.name] = text
    return {"sheets": sheets, "names": names, "warnings": list(wb.report.warnings[:20])}


def _child_main(conn, path, fresh, wanted) -> None:
    try:
        res = ("ok", recalc_linked(path, fresh, wanted))
    except BaseException as e:  # noqa: BLE001 - report every failure to the parent
        res = ("error", _one_line(e))
    try:
        conn.send(res)
    except Exception as e:  # noqa: BLE001 - e.g. an unpicklable value
        try:
            conn.send(("error", f"cannot send the results ({_one_line(e)})"))
        except Exception:  # noqa: BLE001
            pass
    finally:
        conn.close()


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


# ---------------------------------------------------------------------------------------
# the graph
# ---------------------------------------------------------------------------------------

def _build_graph(root_path: str, root_edges: list[LinkEdge], folders: list[str],
                 prefer: str | None, max_depth: int,
                 warnings: list[str]) -> dict[str, LinkNode]:
    root = LinkNode(root_path, 0, root_edges, expanded=True, state="root")
    nodes = {root_path: root}
    queue = [root]
    qi = 0
    while qi < len(queue):
        node = queue[qi]
        qi += 1
        base = os.path.dirname(node.path)
        for e in node.edges:
            e.resolved = resolve_target(e.target, folders, base, prefer)
            if not e.resolved.ok:
                continue
            key = e.resolved.path
            e.child = key
            if key in nodes:
                continue
            child = LinkNode(key, node.depth + 1)
            nodes[key] = child
            if child.depth >= max_depth:
                continue             # recalculated, but its own links keep their caches
            try:
                child.edges = [LinkEdge(i, t, names) for i, t, names in scan_links(key)]
                child.expanded = True
            except Exception as ex:  # noqa: BLE001 - a bad file fails when it is loaded too
                child.state, child.error = "failed", _one_line(ex)
                continue
            queue.append(child)
    for node in nodes.values():
        if not node.expanded and node.state == "pending" and node.depth >= max_depth:
            try:
                if scan_links(node.path):
                    warnings.append(f"links: {os.path.basename(node.path)} is {node.depth} "
                                    f"links deep (limit {max_depth}): its own links keep "
                                    "their cached values")
            except Exception:  # noqa: BLE001
                pass
    return nodes


def _cut_cycles(nodes: dict[str, LinkNode], root_path: str, warnings: list[str]) -> None:
    """Iterative depth-first search from the root; a link to a workbook on the current path
    closes a cycle and is not followed."""
    color: dict[str, int] = {}        # 1 on the stack, 2 finished
    stack: list[tuple[str, int]] = [(root_path, 0)]
    path: list[str] = [root_path]
    color[root_path] = 1
    while stack:
        key, i = stack[-1]
        node = nodes[key]
        if i >= len(node.edges):
            stack.pop()
            path.pop()
            color[key] = 2
            continue
        stack[-1] = (key, i + 1)
        e = node.edges[i]
        if e.child is None or e.cut:
            continue
        c = color.get(e.child, 0)
        if c == 1:
            e.cut = "cycle"
            loop = path[path.index(e.child):] + [e.child]
            names = " -> ".join(os.path.basename(p) for p in loop)
            warnings.append(f"links: cycle {names}: {os.path.basename(key)}'s link [{e.index}] "
                            "to " + os.path.basename(e.child) + " keeps its cached values")
        elif c == 0:
            if not nodes[e.child].expanded:
                continue
            color[e.child] = 1
            stack.append((e.child, 0))
            path.append(e.child)


# ---------------------------------------------------------------------------------------
# running the children
# ---------------------------------------------------------------------------------------

def _context():
    from ..scheduler.base import lenient_context
    return lenient_context()


def _fresh_for(node: LinkNode, nodes: dict[str, LinkNode]) -> dict[int, dict]:
    out = {}
    for e in node.edges:
        if e.child and not e.cut:
            ch = nodes[e.child]
            if ch.state == "done" and ch.result is not None:
                out[e.index] = _only(ch.result, e.sheet_names)
    return out


def _only(result: dict, sheet_names: list[str]) -> dict:
    if not sheet_names:
        return result
    want = {n.lower() for n in sheet_names}
    return {"sheets": {k: v for k, v in result["sheets"].items() if k.lower() in want},
            "names": result.get("names") or {}}


def _wanted(nodes: dict[str, LinkNode]) -> dict[str, list[str] | None]:
    want: dict[str, set | None] = {}
    for node in nodes.values():
        for e in node.edges:
            if e.child and not e.cut:
                cur = want.get(e.child, set())
                if cur is None or not e.sheet_names:
                    want[e.child] = None
                else:
                    want[e.child] = cur | {n.lower() for n in e.sheet_names}
    return {k: (None if v is None else sorted(v)) for k, v in want.items()}


def update_links(main_path: str, externals, folders: list[str], *,
                 links_dir: str | None = None, timeout: float | None = None,
                 max_depth: int = DEFAULT_DEPTH,
                 max_parallel: int | None = None) -> UpdateResult:
    """Recalculate the workbooks linked from `externals` (the main workbook's ExternalBooks)
    and return their fresh values per link index. `folders`: the allowed folders;
    `links_dir` (one of them) is searched first."""
    t0 = time.perf_counter()
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    warnings: list[str] = []
    root_path = os.path.realpath(main_path)
    root_edges = [LinkEdge(eb.index, eb.target, list(eb.sheet_names or list(eb.values)))
                  for eb in externals]
    nodes = _build_graph(root_path, root_edges, folders, links_dir, max(1, max_depth),
                         warnings)
    _cut_cycles(nodes, root_path, warnings)
    for node in nodes.values():        # a node that links only the main workbook, etc.
        for e in node.edges:
            if e.child == root_path and not e.cut:
                e.cut = "cycle"
    wanted = _wanted(nodes)
    from ..functions import load_all
    load_all()      # once here: forked children inherit the function library
    todo = [n for k, n in nodes.items() if k != root_path and n.state == "pending"]
    limit = max_parallel or max(1, os.cpu_count() or 1)
    res = UpdateResult({}, root_edges, nodes, warnings)
    _run(todo, nodes, wanted, timeout, limit, res)
    for e in root_edges:
        if e.child and not e.cut:
            ch = nodes[e.child]
            if ch.state == "done":
                res.fresh[e.index] = _only(ch.result, e.sheet_names)
    res.seconds = time.perf_counter() - t0
    return res


def _ready(node: LinkNode, nodes: dict[str, LinkNode]) -> bool:
    for e in node.edges:
        if e.child and not e.cut and nodes[e.child].state in ("pending", "running"):
            return False
    return True


def _run(todo: list[LinkNode], nodes, wanted, timeout: float, limit: int,
         res: UpdateResult) -> None:
    from multiprocessing.connection import wait     # (here: not at start-up)
    ctx = _context()
    running: dict = {}                  # conn -> (node, process, deadline)
    in_process = False
    pending = list(todo)
    while pending or running:
        progressed = False
        for node in list(pending):
            if len(running) >= limit and not in_process:
                break
            if not _ready(node, nodes):
                continue
            pending.remove(node)
            progressed = True
            fresh = _fresh_for(node, nodes)
            want = wanted.get(node.path)
            if not in_process:
                try:
                    parent, child = ctx.Pipe(duplex=False)
                    p = ctx.Process(target=_child_main, args=(child, node.path, fresh, want),
                                    daemon=True, name=f"xleval-link-{os.path.basename(node.path)}")
                    p.start()
                    child.close()
                    node.state = "running"
                    node.seconds = time.perf_counter()
                    running[parent] = (node, p, time.monotonic() + timeout)
                    res.processes += 1
                    res.max_running = max(res.max_running, len(running))
                    continue
                except Exception as e:  # noqa: BLE001 - e.g. inside a daemonic process
                    in_process = True
                    res.warnings.append(f"links: cannot start a process ({_one_line(e)}); "
                                        "linked workbooks are recalculated in this process, "
                                        "without a timeout")
            t = time.perf_counter()
            try:
                node.result, node.state = recalc_linked(node.path, fresh, want), "done"
            except Exception as e:  # noqa: BLE001
                node.state, node.error = "failed", _one_line(e)
            node.seconds = time.perf_counter() - t
        if not running:
            if pending and not progressed:
                # nothing can start: only possible if a dependency never finishes
                for node in pending:
                    node.state, node.error = "failed", "its own links could not be resolved"
                pending = []
            continue
        now = time.monotonic()
        first = min(d for _n, _p, d in running.values())
        ready = wait(list(running), timeout=max(0.0, first - now))
        for conn in ready:
            node, p, _d = running.pop(conn)
            try:
                status, payload = conn.recv()
            except (EOFError, OSError):
                p.join(1.0)
                status, payload = "error", f"the process ended without an answer " \
                    f"(exit code {p.exitcode})"
            except Exception as e:  # noqa: BLE001 - a result that does not unpickle
                status, payload = "error", _one_line(e)
            conn.close()
            node.seconds = time.perf_counter() - node.seconds
            if status == "ok":
                node.state, node.result = "done", payload
            else:
                node.state, node.error = "failed", str(payload)
            p.join(5.0)
            if p.is_alive():
                p.kill()
                p.join(1.0)
        now = time.monotonic()
        for conn, (node, p, deadline) in list(running.items()):
            if conn in ready or now < deadline:
                continue
            running.pop(conn)
            p.terminate()
            p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join(1.0)
            conn.close()
            node.seconds = time.perf_counter() - node.seconds
            node.state, node.error = "failed", f"timed out after {timeout:g} s"
