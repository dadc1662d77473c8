"""User functions written in Python, callable from formulas.

    @xleval.function("FXRATE", io=True, timeout=5.0)
    def fxrate(base, quote):
        return fetch_rate(base, quote)          # waits on the network

    wb.register_function("DOUBLE", lambda x: 2 * x)     # for one workbook only

A function gets its arguments as Python values: float, str, bool, None (blank cell or an
omitted argument); a multi-cell range or an array as a list of row lists. An argument that is
an error value (#N/A...) is returned as the result without calling the function. It returns
a scalar (int/float/str/bool/None/date/datetime) or a list of row lists (an array: it spills
from a dynamic-array cell, a plain cell shows its top-left value). An exception gives #VALUE!
and a warning in the run report. Excel stores calls of unknown functions as `_xludf.NAME(...)`;
the parser drops that prefix, so such workbooks call the Python function of the same name.

Cells that call a Python function are always evaluated in the main process (any --strategy).

IO-bound functions (`io=True`) run concurrently, off the main process:

  * `Workbook.calculate` (through `run_with_io`) evaluates the workbook with io calls
    *deferred*: a call whose (name, arguments) result is not known yet is recorded and gives
    a placeholder (#N/A) for now. After the pass, every recorded call runs at once, and the
    workbook is evaluated again with the results cached. Calls whose arguments depend on other
    io results are found in the next pass; passes repeat until no call is missing (at most
    `MAX_ROUNDS`; after that a missing call is made synchronously). A workbook that calls no
    io function is evaluated once, as before. Results are cached per `calculate()` only: the
    next calculate calls the functions again.
  * A batch runs in one helper process started for it (`multiprocessing`, the start method
    from XLEVAL_START_METHOD or Python's default) with one thread per call: IO waits overlap,
    so N calls take about the longest wait, not the sum. Threads are enough for IO-bound work
    and need nothing pickled under fork; the process is what makes timeouts enforceable: when
    a call is still running at its deadline the helper is killed, hung threads and all.
  * A call that raises gives #VALUE!; one that exceeds its timeout gives #N/A; both are
    listed in `report.warnings`. When no helper process can be started (inside a daemonic
    process, or an unpicklable function under spawn), the calls run in daemon threads of this
    process (a timed-out call is abandoned, not stopped) and the report says so.
"""
from __future__ import annotations

import datetime as _dt
import inspect
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .. import values as V
from ..evaluator.refs import Range, RefList
from ..values import Array, XLError
from . import registry as R

__all__ = ["function", "register", "unregister", "make_spec", "register_on_engine",
           "run_with_io", "run_calls", "IOState", "DEFAULT_TIMEOUT", "MAX_ROUNDS",
           "MAX_THREADS"]

DEFAULT_TIMEOUT = 30.0      # seconds, for io functions declared without a timeout
MAX_ROUNDS = 8              # deferred passes before missing calls are made synchronously
MAX_THREADS = 256           # calls run at once in one helper process; more wait their turn

PLACEHOLDER = V.NA          # what a deferred call gives until its result is in


@dataclass
class CustomFunction:
    name: str
    fn: Callable
    io: bool = False
    timeout: float | None = None


# ---------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------

def _arity(fn: Callable) -> tuple[int, float]:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0, math.inf
    lo, hi = 0, 0.0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            hi = math.inf
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            hi += 1
            if p.default is p.empty:
                lo += 1
    return lo, hi


def make_spec(name: str, fn: Callable, *, io: bool = False,
              timeout: float | None = None) -> R.FunctionSpec:
    """A FunctionSpec for a Python function (every argument RAW, converted by the wrapper)."""
    if not callable(fn):
        raise TypeError(f"{name}: not a callable")
    up = name.upper()
    if up.startswith("_XLUDF."):
        up = up[7:]
    if not up or not all(ch.isalnum() or ch in "._" for ch in up) or up[0].isdigit():
        raise ValueError(f"{name!r} is not a valid function name")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"{name}: timeout must be a positive number of seconds")
    cf = CustomFunction(up, fn, io, timeout)
    lo, hi = _arity(fn)

    def call(cx, *args):
        return _call_custom(cf, cx, args)

    call.custom = cf           # type: ignore[attr-defined]
    # dynamic_ref keeps these cells in the main process under every --strategy: workers
    # do not have the Python function (spawn) nor the io cache
    return R.FunctionSpec(up, call, (R.RAW,), lo, hi, ctx=True, category="custom",
                          source="custom", dynamic_ref=True)


def custom_of(spec) -> CustomFunction | None:
    return getattr(getattr(spec, "fn", None), "custom", None)


def register(name: str, fn: Callable, *, io: bool = False, timeout: float | None = None,
             replace: bool = False) -> R.FunctionSpec:
    """Register a Python function for every workbook (a built-in Excel function of the same
    name is only replaced with replace=True)."""
    from . import load_all
    spec = make_spec(name, fn, io=io, timeout=timeout)
    load_all()
    old = R.REGISTRY.get(spec.name)
    if old is not None and custom_of(old) is None and not replace:
        raise ValueError(f"{spec.name} is a built-in function; pass replace=True to override it")
    if old is not None and custom_of(old) is None:
        _replaced.setdefault(spec.name, old)
    R.REGISTRY[spec.name] = spec
    return spec


_replaced: dict[str, R.FunctionSpec] = {}


def unregister(name: str) -> None:
    """Remove a function registered with `function`/`register` (a replaced built-in comes
    back)."""
    up = name.upper()
    spec = R.REGISTRY.get(up)
    if spec is not None and custom_of(spec) is not None:
        del R.REGISTRY[up]
        if up in _replaced:
            R.REGISTRY[up] = _replaced.pop(up)


def function(name: str | None = None, *, io: bool = False, timeout: float | None = None,
             replace: bool = False):
    """Decorator: `@xleval.function("FXRATE", io=True, timeout=5.0)`. The name defaults to
    the Python function's name. The function is returned unchanged."""
    if callable(name):                       # bare @xleval.function
        fn = name
        register(fn.__name__, fn)
        return fn

    def deco(fn: Callable) -> Callable:
        register(name or fn.__name__, fn, io=io, timeout=timeout, replace=replace)
        return fn
    return deco


def register_on_engine(engine, name: str, fn: Callable, *, io: bool = False,
                       timeout: float | None = None, replace: bool = False) -> R.FunctionSpec:
    """Register a Python function for one engine (a built-in Excel function of the same
    name is only replaced with replace=True, as with `register`)."""
    from . import load_all
    spec = make_spec(name, fn, io=io, timeout=timeout)
    load_all()
    old = R.REGISTRY.get(spec.name)
    if old is not None and custom_of(old) is None and not replace:
        raise ValueError(f"{spec.name} is a built-in function; pass replace=True to override it")
    engine.user_functions[spec.name] = spec
    return spec


# ---------------------------------------------------------------------------------------
# calling
# ---------------------------------------------------------------------------------------

def _arg(ev, cx, a):
    """A formula argument as a plain Python value; an XLError scalar is returned as is."""
    if a is R.OMITTED:
        return None
    if isinstance(a, (Range, RefList)):
        if isinstance(a, Range) and a.r1 == a.r2 and a.c1 == a.c2:
            return ev.value_at(a.sheet, a.r1, a.c1)
        a = ev.ref_array(a)
    if isinstance(a, Array):
        if a.nrows == 1 and a.ncols == 1:
            return a.rows[0][0]
        return tuple(tuple(row) for row in a.rows)
    return a


def to_cell(v):
    """A Python function's result as a cell value (tuples of rows for arrays)."""
    if v is None or isinstance(v, (bool, str, XLError)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else V.NUM
    if isinstance(v, int):
        return float(v)
    if isinstance(v, (_dt.datetime, _dt.date)):
        from ..dates import to_serial
        return to_serial(v)
    if isinstance(v, (list, tuple)):
        rows = list(v)
        if not rows:
            return V.CALC
        if not isinstance(rows[0], (list, tuple)):
            rows = [rows]
        out = []
        for row in rows:
            if not isinstance(row, (list, tuple)):
                row = [row]
            out.append(tuple(to_cell(x) if not isinstance(x, (list, tuple)) else V.VALUE
                             for x in row))
        width = max(len(r) for r in out)
        if width == 0:
            return V.CALC
        return tuple(r + (V.NA,) * (width - len(r)) for r in out)
    try:                              # numpy scalars, Decimal, Fraction...
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"returned a {type(v).__name__}, not a cell value") from None
    return f if math.isfinite(f) else V.NUM


def _result(v):
    if isinstance(v, tuple):
        return Array([[None if x is None else x for x in row] for row in v])
    return v


def _call_custom(cf: CustomFunction, cx, args):
    ev = cx.ev
    conv = []
    for a in args:
        x = _arg(ev, cx, a)
        if isinstance(x, XLError):
            return x
        conv.append(x)
    if not cf.io:
        try:
            res = to_cell(cf.fn(*_plain(conv)))
        except XLError as e:                    # raise xleval.XLError("#N/A") works too
            return e
        except Exception as e:  # noqa: BLE001 - a user function's failure is a cell error
            from ..evaluator.engine import NeedCell
            if isinstance(e, NeedCell):
                raise
            _warn(ev, f"{cf.name} raised {_one_line(e)}; the cell gets #VALUE!")
            return V.VALUE
        return _result(res)
    st = io_state(ev)
    key = (cf.name, _key(tuple(conv)))
    got = st.cache.get(key, _MISSING)
    if got is not _MISSING:
        return _result(got)
    if st.collecting:
        if key not in st.pending:
            st.pending[key] = _Call(cf, tuple(conv), _cell(ev, cx))
        return PLACEHOLDER
    # a call the deferred passes did not see: make it now (still in a helper process)
    call = _Call(cf, tuple(conv), _cell(ev, cx))
    _execute(ev, st, {key: call}, ev.report.warnings)
    return _result(st.cache[key])


def _key(v):
    """A cache key that tells TRUE from 1 (they compare and hash equal in Python)."""
    if isinstance(v, tuple):
        return tuple(_key(x) for x in v)
    return (type(v).__name__, v)


def _plain(args):
    """Tuples of rows -> lists of row lists, for the user function."""
    return [[list(r) for r in a] if isinstance(a, tuple) else a for a in args]


_MISSING = object()


def _cell(ev, cx) -> str:
    from ..refs import cell_name
    try:
        return f"{ev.sheet_names[cx.sheet]}!{cell_name(cx.row, cx.col)}"
    except Exception:  # noqa: BLE001
        return "?"


def _warn(ev, msg: str) -> None:
    w = ev.report.warnings
    if msg not in w:
        w.append(msg)


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


# ---------------------------------------------------------------------------------------
# the deferred passes
# ---------------------------------------------------------------------------------------

@dataclass
class _Call:
    cf: CustomFunction
    args: tuple
    cell: str


@dataclass
class IOState:
    cache: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)
    collecting: bool = False
    # statistics of the last calculate
    calls: int = 0
    batches: int = 0
    rounds: int = 0
    max_concurrent: int = 0
    seconds: float = 0.0
    where: str = ""              # 'process' or 'threads'


def io_state(ev) -> IOState:
    st = getattr(ev, "io_state", None)
    if st is None:
        st = ev.io_state = IOState()
    return st


def _io_cells(ev) -> list[tuple[int, int, int]]:
    """The formula cells whose formula calls an io function (directly, through a defined
    name or a LAMBDA), in sheet and load order."""
    io_names = set()
    names: set[str] = set()
    for sh in ev.shapes:
        names |= sh.info.functions
    for n in names:
        cf = custom_of(ev.function(n))
        if cf is not None and cf.io:
            io_names.add(n)
    if not io_names:
        return []
    shapes = {sh.id for sh in ev.shapes if sh.info.functions & io_names}
    return [(s, r, c) for s in range(ev.n_local)
            for (r, c), sh in ev.cell_shape[s].items() if sh.id in shapes]


def run_with_io(ev, run_once: Callable[[], object]) -> None:
    """Evaluate the workbook with `run_once()` (reset + run the plan). When it calls io
    functions: first *targeted* passes evaluate only the io cells and what they read (the
    engine computes a cell's pending precedents on demand), collecting the calls, which then
    run concurrently, until no call is missing; then one full pass with every result cached
    (should it still meet a missing call, e.g. behind an IF that the targeted passes saw
    differently, that call is collected and the full pass repeated)."""
    st = io_state(ev)
    st.cache.clear()
    st.pending.clear()
    st.calls = st.batches = st.rounds = st.max_concurrent = 0
    st.seconds = 0.0
    ev.prepare()
    cells = _io_cells(ev)
    if not cells:
        run_once()
        return
    rep = ev.report
    iterations0 = rep.iterations
    n_warn, n_cyc = len(rep.warnings), len(rep.cycles)
    notes: list[str] = []                       # failed / timed-out calls
    st.collecting = True
    try:
        for _ in range(MAX_ROUNDS):             # targeted passes
            st.rounds += 1
            ev.reset_pending()
            ev.compute(cells)
            if not st.pending:
                break
            batch, st.pending = st.pending, {}
            _execute(ev, st, batch, notes)
        # what the targeted passes reported (they saw placeholders) is redone by the full one
        del rep.warnings[n_warn:]
        del rep.cycles[n_cyc:]
        rep.iterations = iterations0
        st.pending.clear()
        for _ in range(MAX_ROUNDS):             # full passes
            n_warn, n_cyc = len(rep.warnings), len(rep.cycles)
            rep.iterations = iterations0
            st.rounds += 1
            run_once()
            if not st.pending:
                break
            del rep.warnings[n_warn:]
            del rep.cycles[n_cyc:]
            batch, st.pending = st.pending, {}
            _execute(ev, st, batch, notes)
        else:
            st.collecting = False               # still missing: call synchronously
            rep.iterations = iterations0
            st.rounds += 1
            run_once()
    finally:
        st.collecting = False
        st.pending.clear()
    rep.warnings[:] = list(dict.fromkeys(rep.warnings + notes))
    rep.timings["io"] = st.seconds


def _execute(ev, st: IOState, batch: dict, sink: list[str]) -> None:
    """Run a batch of collected calls concurrently; results into st.cache, warnings (failed,
    timed out) into `sink`."""
    t0 = time.perf_counter()
    items = list(batch.items())
    for lo in range(0, len(items), MAX_THREADS):
        part = items[lo:lo + MAX_THREADS]
        calls = [(c.cf.fn, c.args, c.cf.timeout or DEFAULT_TIMEOUT) for _k, c in part]
        outcomes, where, note = run_calls(calls)
        st.batches += 1
        st.calls += len(part)
        st.where = where
        msgs = [note] if note else []
        spans = []
        for (key, call), (status, value, t_start, t_end) in zip(part, outcomes):
            if t_start is not None:
                spans.append((t_start, t_end if t_end is not None else float("inf")))
            label = f"{call.cf.name}({', '.join(_short(a) for a in call.args)})"
            if status == "ok":
                st.cache[key] = value
            elif status == "timeout":
                st.cache[key] = V.NA
                msgs.append(f"{label} at {call.cell}: no answer within "
                            f"{call.cf.timeout or DEFAULT_TIMEOUT:g} s; the cell gets #N/A")
            else:
                st.cache[key] = V.VALUE
                msgs.append(f"{label} at {call.cell} raised {value}; the cell gets #VALUE!")
        for m in msgs:
            if m not in sink:
                sink.append(m)
        st.max_concurrent = max(st.max_concurrent, _max_overlap(spans))
    st.seconds += time.perf_counter() - t0


def _short(a) -> str:
    if isinstance(a, tuple):
        return f"<{len(a)}x{len(a[0]) if a else 0} range>"
    if isinstance(a, str):
        return repr(a if len(a) <= 20 else a[:17] + "...")
    return repr(a)


def _max_overlap(spans) -> int:
    events = []
    for a, b in spans:
        events.append((a, 1))
        events.append((b, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    cur = best = 0
    for _t, d in events:
        cur += d
        best = max(best, cur)
    return best


# ---------------------------------------------------------------------------------------
# running a batch of calls: a helper process with one thread per call
# ---------------------------------------------------------------------------------------

def _run_one(i, fn, args, out) -> None:
    t0 = time.monotonic()
    out.put((i, "start", None, t0, None))
    try:
        v = to_cell(fn(*_plain(args)))
        status = "ok"
    except XLError as e:
        v, status = e, "ok"
    except BaseException as e:  # noqa: BLE001 - reported as the cell's #VALUE!
        v, status = _one_line(e), "error"
    out.put((i, status, v, t0, time.monotonic()))


def _threads(calls, out) -> None:
    for i, (fn, args, _tmo) in enumerate(calls):
        threading.Thread(target=_run_one, args=(i, fn, args, out), daemon=True,
                         name=f"xleval-io-{i}").start()


def _helper_main(conn, calls) -> None:
    """The helper process: start every call in its own thread, forward each message."""
    q: queue.Queue = queue.Queue()
    _threads(calls, q)
    left = len(calls)
    try:
        while left:
            msg = q.get()
            if msg[1] != "start":
                left -= 1
            try:
                conn.send(msg)
            except Exception as e:  # noqa: BLE001 - an unpicklable result
                conn.send((msg[0], "error", f"result cannot be sent ({_one_line(e)})",
                           msg[3], msg[4]))
    finally:
        conn.close()


def _context():
    from ..scheduler.base import lenient_context
    return lenient_context()


def run_calls(calls: list[tuple[Callable, tuple, float]]):
    """Run (fn, args, timeout) calls concurrently. Returns (outcomes, where, note): one
    (status, value, t_start, t_end) per call, status 'ok' / 'error' / 'timeout', value the
    cell value or the error text; `where` is 'process' or 'threads'; `note` a warning."""
    if not calls:
        return [], "process", ""
    note = ""
    try:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_helper_main, args=(child, calls), daemon=True,
                           name="xleval-io")
        proc.start()
        child.close()
    except Exception as e:  # noqa: BLE001 - daemonic parent, unpicklable function...
        note = (f"io functions ran in threads of this process ({_one_line(e)}); a call "
                "that times out is abandoned, not stopped")
        q: queue.Queue = queue.Queue()
        _threads(calls, q)
        return _collect(calls, lambda t: _qget(q, t), lambda: None), "threads", note
    from multiprocessing.connection import wait as _wait    # (here: ~15 ms of start-up)
    try:
        def recv(timeout):
            if not _wait([parent], timeout):
                return None
            try:
                return parent.recv()
            except (EOFError, OSError):
                return "eof"
        outcomes = _collect(calls, recv, lambda: None)
    finally:
        parent.close()
        if proc.is_alive():
            proc.join(0.05)
        if proc.is_alive():
            proc.kill()             # hung calls: their threads die with the process
        proc.join(2.0)
    return outcomes, "process", note


def _qget(q, timeout):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return None


def _collect(calls, recv, _unused):
    n = len(calls)
    out: list = [None] * n
    starts: list = [None] * n
    t0 = time.monotonic()
    deadlines = [t0 + tmo for _fn, _a, tmo in calls]
    left = n
    while left:
        open_ = [i for i in range(n) if out[i] is None]
        wait_for = max(0.0, min(deadlines[i] for i in open_) - time.monotonic())
        msg = recv(wait_for)
        if msg == "eof":
            for i in open_:
                out[i] = ("error", "the helper process ended unexpectedly", starts[i], None)
            break
        if msg is not None:
            i, status, value, ts, te = msg
            if status == "start":
                starts[i] = ts
                continue
            if out[i] is None:
                out[i] = (status, value, ts, te)
                left -= 1
            continue
        now = time.monotonic()
        for i in open_:
            if out[i] is None and now >= deadlines[i]:
                out[i] = ("timeout", None, starts[i], None)
                left -= 1
    return out
