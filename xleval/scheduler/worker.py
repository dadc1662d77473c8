"""The worker side of the parallel strategies: what runs inside a pool worker or a spawned
evaluation process.

Nothing compiled crosses a process boundary (closures and the `formulas` package's
functions do not pickle). A worker evaluates with its own `Engine`:

  * fork: the parent's prepared engine, inherited through the module global `_PARENTS`
    that the parent sets just before it starts the workers (cheapest: nothing is rebuilt);
  * spawn / forkserver: an engine rebuilt from the pickled `WorkbookData` (plain data) in
    the initializer. Shapes are compiled lazily, on a cell's first evaluation, so a worker
    only compiles the shapes it evaluates.

Work is plain data: a task is `(layer, deltas, chunks)` with `chunks` a list of
`(shape id, sheet, [(row, col), ...])` (shape id -1: cells of several shapes); cells are
looked up in the worker's own engine.

Deltas. Each worker keeps its own value store. Values computed in layer k are read by later
layers, so a worker's first task of a layer carries the deltas of the layers it lacks (the
parent knows each worker's sync point); a worker applies only the layers after `_SYNCED`
(the last layer it holds) and returns `_SYNCED` with every result. A delta is the
pickled bytes (pickled once, however many tasks carry it) of
`(meta, [(sheet, rows, cols, values), ...])`: rows/cols are `array('i')`, values a list;
`meta` carries the sheets' used extents and dynamic-array spill extents.
Layer -1 is the state before the first layer (formula cells that were not pending when the
run started): fork workers have it, spawned workers get it with their first task.

Results, per chunk: `(values, covered, not_done)`: the values of the chunk's cells in order;
`(index, values)` for each array formula of the chunk, with the values of the cells it
covers (row-major, anchor excluded); and the indices of cells the worker could not evaluate (it hit `NeedCell`: a
value it does not have); the main process evaluates those itself.
"""
from __future__ import annotations

import gc
import importlib
import os
import pickle
import signal
import sys
import time

from ..evaluator.engine import PENDING, Engine, NeedCell

_ENGINE: Engine | None = None
_SYNCED = -2            # highest layer whose values this process holds
# slot -> (engine, synced): set by the parent before it forks workers ("pool": the pool's
# workers and any replacement the pool forks later; "process": one-shot processes)
_PARENTS: dict = {}
_TASKS: list = []       # under fork: tasks prepared before the fork, sent as their index


# ----------------------------------------------------------------------------------------
# building the worker's engine
# ----------------------------------------------------------------------------------------
class _LazyShapes(dict):
    """`engine.cell_shape[sheet]` that compiles a cell's shape on first use."""

    def __init__(self, engine, sheet, by_text):
        super().__init__()
        self.ev = engine
        self.s = sheet
        self.by_text = by_text

    def __missing__(self, key):
        fc = self.ev.formulas[self.s][key]
        tk = (self.s, fc.text, fc.origin, fc.kind)
        shape = self.by_text.get(tk)
        if shape is None:
            shape = self.by_text[tk] = self.ev._make_shape(self.s, fc)
        self[key] = shape
        return shape


def build_engine(wb, now, unknown: str = "name") -> Engine:
    """An engine for `wb` ready to evaluate, compiling shapes lazily (`unknown`: the
    parent engine's mode for unknown functions, see evaluator/unknown.py)."""
    ev = Engine(wb, now=now, unknown=unknown)
    by_text: dict = {}
    for s in range(ev.n_local):
        ev.cell_shape[s] = _LazyShapes(ev, s, by_text)
        for (r, c), fc in ev.formulas[s].items():
            ev.mark_covered(s, r, c, fc)
    ev._prepared = True
    ev.reset_pending()
    return ev


def spawn_payload(engine) -> bytes:
    """What a spawned worker needs to rebuild the engine (plain, picklable data)."""
    from ..functions.registry import REGISTRY
    mods = sorted({getattr(spec.fn, "__module__", None) or "" for spec in REGISTRY.values()}
                  - {""})
    mods = [m for m in mods if not m.startswith("xleval.") and m != "__main__"]
    users = {}
    for name, spec in engine.user_functions.items():
        try:
            pickle.dumps(spec)
            users[name] = spec
        except Exception:  # noqa: BLE001 - a closure: the worker cannot have it
            pass
    return pickle.dumps((engine.wb, engine.now, mods, users, engine.unknown),
                        protocol=pickle.HIGHEST_PROTOCOL)


def _die_with_parent() -> None:
    """Linux: be killed when the parent dies (even if it is SIGKILLed mid-run), so no
    worker outlives the process that started it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import multiprocessing as mp
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)          # PR_SET_PDEATHSIG
        # (under forkserver the process that forked us is the fork server, which exits
        # with the main process: so the main process is asked, not our OS parent)
        parent = mp.parent_process()
        if parent is not None and not parent.is_alive():
            os._exit(1)                   # the parent died before prctl took effect
    except Exception:  # noqa: BLE001 - best effort
        pass


def _quiet_signals() -> None:
    # Ctrl-C goes to the whole foreground process group: the parent handles it and
    # terminates the workers, which must not print tracebacks of their own.
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        pass


def init_fork(slot: str = "pool") -> None:
    """Set-up under fork: adopt the engine inherited from the parent."""
    global _ENGINE, _SYNCED, _TASKS
    _quiet_signals()
    engine, synced = _PARENTS[slot]
    _ENGINE = engine
    _SYNCED = synced
    _TASKS = _PARENTS.get(slot + " tasks") or []
    # the lookup cache may hold vectors of an earlier calculation
    engine.forget_run_caches()
    # inherited objects never need collecting here: keep the collector off them, so it does
    # not write to (and copy) every inherited page; and, as the main process does while it
    # calculates, no cyclic collection while evaluating (a worker lives for one calculation)
    gc.freeze()
    gc.disable()


def read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def init_spawn(payload_path: str) -> None:
    """Set-up under spawn / forkserver: rebuild the engine from plain data.

    The data comes through a file, not through the process arguments: a spawned child
    reads its arguments from a pipe only after importing the main module, and if that
    import fails the parent would block forever writing a large payload into the pipe."""
    global _ENGINE, _SYNCED
    _quiet_signals()
    wb, now, mods, users, unknown = pickle.loads(read_file(payload_path))
    for m in mods:
        try:
            importlib.import_module(m)
        except Exception:  # noqa: BLE001 - best effort: user-registered function modules
            pass
    _ENGINE = build_engine(wb, now, unknown)
    _ENGINE.user_functions.update(users)
    _SYNCED = -2
    gc.freeze()
    gc.disable()


# ----------------------------------------------------------------------------------------
# deltas and tasks
# ----------------------------------------------------------------------------------------
def apply_delta(engine, delta) -> int:
    meta, parts = delta
    cells = engine.cells
    n = 0
    for s, rows, cols, vals in parts:
        cells[s].update(zip(zip(rows, cols), vals))
        n += len(vals)
    if meta is not None:
        extent, spill = meta
        for s, (mr, mc) in enumerate(extent):
            e = engine.extent[s]
            if mr > e[0]:
                e[0] = mr
            if mc > e[1]:
                e[1] = mc
        if spill:
            if not hasattr(engine, "_spill_extent"):
                engine._spill_extent = {}
            engine._spill_extent.update(spill)
    return n


def evaluate_chunks(engine, chunks):
    """Evaluate the cells of `chunks`; returns one `(values, covered, not_done)` per chunk."""
    out = []
    formulas = engine.formulas
    eval_cell = engine.eval_cell
    for shape_id, s, cells in chunks:
        not_done = []
        covered = []
        d = engine.cells[s]
        if shape_id != -1 and len(cells) > 1:
            engine.eval_unit(s, cells)      # vector fast path; what it skips stays pending
        for i, (r, c) in enumerate(cells):
            if d.get((r, c)) is not PENDING:
                continue            # this process already holds it (or the fast path did)
            try:
                eval_cell(s, r, c)
            except NeedCell:
                not_done.append(i)
        d = engine.cells[s]
        vals = list(map(d.get, cells))
        for i in not_done:
            vals[i] = None
        if shape_id == -1 or (cells and engine.cell_shape[s][cells[0]].array):
            fsheet = formulas[s]
            nd = set(not_done)
            for i, rc in enumerate(cells):
                fc = fsheet[rc]
                if fc.ref is None or fc.kind != "array" or i in nd:
                    continue
                r1, c1, r2, c2 = fc.ref
                covered.append((i, [d.get((rr, cc)) for rr in range(r1, r2 + 1)
                                    for cc in range(c1, c2 + 1) if (rr, cc) != rc]))
        out.append((vals, covered, not_done))
    return out


def run_task(task):
    """Pool task: apply the deltas this worker lacks, evaluate the chunks.
    Returns (pid, synced, results, warnings, seconds applying deltas, seconds evaluating,
    CPU seconds evaluating)."""
    global _SYNCED
    layer, deltas, chunks = task
    if type(chunks) is int:          # a task inherited at the fork (see PoolExecutor)
        chunks = _TASKS[chunks]
    ev = _ENGINE
    t0 = time.perf_counter()
    for j, data in deltas:
        if j > _SYNCED:
            if _SYNCED >= -1 and j != _SYNCED + 1:
                raise RuntimeError(f"worker lacks layers {_SYNCED + 1}..{j - 1}")
            apply_delta(ev, pickle.loads(data))
            _SYNCED = j
    t1 = time.perf_counter()
    nwarn = len(ev.report.warnings)
    c1 = time.process_time()
    results = evaluate_chunks(ev, chunks)
    t2 = time.perf_counter()
    cpu = time.process_time() - c1
    if chunks:
        _SYNCED = max(_SYNCED, layer - 1)
    return (os.getpid(), _SYNCED, results, ev.report.warnings[nwarn:], t1 - t0, t2 - t1, cpu)


def serve(conn, source, inherited=()) -> None:
    """Main loop of a `pool` worker: set up the engine (`source` None: inherited under
    fork; else the path of the workbook data), then answer messages until "stop" or the
    pipe closes: ("probe",) -> (pid, synced); ("task", task) -> run_task(task). Every
    answer is pickled ("ok", result) or ("error", text). `inherited`: the parent's ends of
    the workers' pipes, which a forked child holds copies of and must close (or it would
    never see the parent go away)."""
    _quiet_signals()
    _die_with_parent()
    for c in inherited:
        try:
            c.close()
        except OSError:
            pass
    try:
        if source is None:
            init_fork("pool")
        else:
            init_spawn(source)
    except BaseException as e:  # noqa: BLE001 - reported to the parent at its first probe
        _answer(conn, ("error", f"worker start failed: {type(e).__name__}: {e}"))
        return
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            break
        try:
            msg = pickle.loads(data)
            if msg[0] == "stop":
                break
            if msg[0] == "probe":
                res = (os.getpid(), _SYNCED)
            else:
                res = run_task(msg[1])
            out = ("ok", res)
        except Exception as e:  # noqa: BLE001 - MemoryError...: the parent recomputes
            out = ("error", f"{type(e).__name__}: {e}")
        if not _answer(conn, out):
            break
    conn.close()


def _answer(conn, msg) -> bool:
    try:
        conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
        return True
    except (OSError, EOFError, pickle.PicklingError):
        return False


# ----------------------------------------------------------------------------------------
# one-shot evaluation processes (strategy `process`)
# ----------------------------------------------------------------------------------------
def process_main(conn, payload_path, task) -> None:
    """Entry point of a `process` worker: evaluate one block of a layer, send the result
    through `conn`, exit. Under fork `payload_path` is None (the parent's engine is
    inherited, with every value computed so far) and `task` the task itself; otherwise
    both are paths of files holding the workbook data and the pickled task."""
    global _ENGINE, _SYNCED
    _quiet_signals()
    _die_with_parent()
    try:
        if payload_path is None:
            init_fork("process")
        else:
            init_spawn(payload_path)
            task = pickle.loads(read_file(task))
        result = run_task(task)
        conn.send_bytes(pickle.dumps(("ok", result), protocol=pickle.HIGHEST_PROTOCOL))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which recomputes
        try:
            conn.send_bytes(pickle.dumps(("error", f"{type(e).__name__}: {e}")))
        except Exception:  # noqa: BLE001
            pass
    finally:
        conn.close()
