"""Batches of scenarios: one DataFrame row per scenario, evaluated inline or on a process
pool.

  serial  every row in this process, one after another
  pool    worker processes, one pipe each: the model's bytes go to each worker once (it
          rebuilds the model), rows travel as plain lists in chunks, a chunk at a time to
          whichever worker is free, and outputs come back as plain lists (error values as
          {"e": code}); works under fork, spawn and forkserver (`start_method=`, else
          XLEVAL_START_METHOD, else Python's)
  auto    the first few rows run inline and time a scenario; the pool is used when its
          predicted time (start-up + rebuilding the model in each worker + rows / workers
          that can run at once, from the load average + shipping rows) beats the rest of the
          batch inline by 20%, else inline

Batches run inline in a daemonic process (no children allowed) and for a model with
functions registered on its workbook only (`wb.register_function`: workers would lack them).
A DataFrame cell that is NaN or None leaves that input at its workbook value; a column named
by a range input takes a list (or list of row lists) per row. The workers are joined before
returning, also on errors (terminated then; Ctrl-C too): no worker outlives the call. Not a
`multiprocessing.Pool`: that one replaces a worker that dies (a Python function calling
os._exit, a segfault, the OOM killer) and waits forever for its chunk. Here the main process
waits on each worker's pipe and process sentinel, so a death is seen at once and is a
one-line ModelError naming the rows that worker held; an exception a worker raises is raised
here. `model.last_batch` says what ran (strategy, workers, seconds, the estimate).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import signal
import sys
import time
from multiprocessing.connection import wait

from .compiled import Model, ModelError, _dec, _enc

STRATEGIES = ("serial", "pool", "auto")
# measured on the 2-core dev machine (benchmarks/bench_model.py): starting a pool and
# shipping a row. Rebuilding the model in a worker is measured per model (Model.build_seconds)
START_SECONDS = {"fork": 0.03, "spawn": 0.45, "forkserver": 0.45}
ROW_IPC_SECONDS = 4e-6
AUTO_MARGIN = 0.8            # the pool must be predicted at least 20% faster
PROBE_ROWS = 8               # rows timed inline by auto before deciding
CHUNKS_PER_WORKER = 4


def run_batch(model: Model, df, *, workers: int | None = None, strategy: str = "auto",
              start_method: str | None = None):
    """Evaluate each row of `df` as a scenario; returns a DataFrame of outputs (columns from
    `model.output_columns()`, the same index as `df`)."""
    import pandas as pd
    from ..forking import MAX_WORKERS
    from ..scheduler.base import default_workers, resolve_start_method
    if strategy not in STRATEGIES:
        raise ModelError(f"unknown batch strategy {strategy!r}; choose from "
                         f"{', '.join(STRATEGIES)}")
    if workers is not None and workers < 1:
        raise ModelError(f"workers must be at least 1, not {workers}")
    if workers is not None and workers > MAX_WORKERS:
        raise ModelError(f"workers: at most {MAX_WORKERS}, not {workers}")
    if not isinstance(df, pd.DataFrame):
        raise ModelError(f"run_batch takes a pandas DataFrame, not {type(df).__name__}")
    t0 = time.perf_counter()
    columns = [str(c) for c in df.columns]
    targets = column_targets(model, columns)
    rows = [_plain_row(r) for r in df.itertuples(index=False, name=None)]
    n = len(rows)
    w = workers or default_workers()
    stats = {"strategy": strategy, "workers": 1, "rows": n, "estimate": None}
    out: list[list] = []
    # functions registered on one workbook live only in this process: workers lack them
    local_fns = bool(model._engine.user_functions)
    if strategy != "serial" and w >= 2 and n >= 2 and not _daemonic() and not local_fns:
        try:
            method = resolve_start_method(start_method)
        except ValueError as e:
            raise ModelError(str(e)) from None
        use_pool = strategy == "pool"
        if strategy == "auto":
            k = min(PROBE_ROWS, n)
            t1 = time.perf_counter()
            out.extend(evaluate_rows(model, targets, rows[:k]))
            per_row = (time.perf_counter() - t1) / k
            rest = n - k
            serial_est = rest * per_row
            par = _free_parallelism(w)
            pool_est = (START_SECONDS.get(method, 0.5) + model.build_seconds
                        + rest * per_row / par + rest * ROW_IPC_SECONDS)
            stats["estimate"] = {"per_row": per_row, "serial": serial_est, "pool": pool_est,
                                 "parallelism": par}
            use_pool = rest > 0 and pool_est < AUTO_MARGIN * serial_est
        if use_pool:
            out.extend(_run_pool(model, columns, rows[len(out):], w, method, len(out)))
            stats.update(strategy="pool", workers=w, start_method=method)
        else:
            stats["strategy"] = "serial"
    else:
        stats["strategy"] = "serial"
    if len(out) < n:
        out.extend(evaluate_rows(model, targets, rows[len(out):]))
    stats["seconds"] = time.perf_counter() - t0
    model.last_batch = stats
    return pd.DataFrame(out, index=df.index, columns=model.output_columns())


def column_targets(model: Model, columns: list[str]) -> list:
    """Per column, the input cells it sets (a clear error for a column that is no input)."""
    from .compiled import _norm_key
    got = []
    for col in columns:
        t = model._keys.get(_norm_key(col))
        if t is None:
            raise ModelError(f"column {col!r} is not a model input; inputs are "
                             f"{', '.join(model.inputs)}")
        got.append(t)
    return got


def evaluate_rows(model: Model, targets: list, rows: list[list]) -> list[list]:
    """Evaluate plain rows in this process; returns the flat output values per row."""
    from ..workbook import _normalise
    from .compiled import _flatten
    out = []
    for row in rows:
        assign = []
        for (cells, nr, nc), v in zip(targets, row):
            if v is None:
                continue                          # keep the workbook value
            if len(cells) == 1:
                assign.append((cells[0][0], cells[0][1], _normalise(v)))
                continue
            flat = _flatten(v) if isinstance(v, (list, tuple)) else None
            if flat is None or len(flat) != len(cells):
                raise ModelError(f"a range input of {len(cells)} cells needs a list of "
                                 f"{len(cells)} values per row, got {v!r}")
            assign.extend((s, k, _normalise(x)) for (s, k), x in zip(cells, flat))
        model._evaluate(assign)
        out.append(model._row_outputs())
    return out


def _plain_row(row: tuple) -> list:
    """A DataFrame row as plain Python values; NaN/NaT/None become None (not given)."""
    out = []
    for v in row:
        if v is None:
            out.append(None)
            continue
        if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
            v = v.tolist()                      # numpy scalars and arrays
        if isinstance(v, float) and math.isnan(v):
            out.append(None)
        elif type(v).__name__ in ("NaTType", "NAType"):
            out.append(None)
        elif hasattr(v, "to_pydatetime"):
            out.append(v.to_pydatetime())
        else:
            out.append(v)
    return out


# ---------------------------------------------------------------------------------------
# the pool
# ---------------------------------------------------------------------------------------

def _free_parallelism(w: int) -> float:
    """How many workers can really run at once: `w`, fewer when other processes keep the
    cores busy now (scheduler.base.free_workers)."""
    from ..scheduler.base import free_workers
    return float(free_workers(w))


def _daemonic() -> bool:
    return bool(getattr(mp.current_process(), "daemon", False))


class _Worker:
    __slots__ = ("proc", "conn", "ready", "chunk")

    def __init__(self, proc, conn):
        self.proc = proc
        self.conn = conn
        self.ready = False          # it has rebuilt the model
        self.chunk: int | None = None    # the chunk it is evaluating


def _run_pool(model: Model, columns: list[str], rows: list[list], w: int,
              method: str, first: int = 0) -> list[list]:
    """Evaluate `rows` on worker processes, a chunk at a time to whichever is free; outputs
    in row order. `first`: the DataFrame position of rows[0] (for messages)."""
    if not rows:
        return []
    from ..values import keep_error_pickling
    keep_error_pickling()          # error values cross to workers as their code (values.py)
    ctx = mp.get_context(method)
    size = max(1, math.ceil(len(rows) / (w * CHUNKS_PER_WORKER)))
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    results: list = [None] * len(chunks)
    todo = list(range(len(chunks) - 1, -1, -1))      # chunks not sent yet; pop() the first
    workers: list[_Worker] = []

    def where(wk: _Worker) -> str:
        if not wk.ready:
            return "while starting (rebuilding the model)"
        if wk.chunk is None:
            return "between chunks"
        a = first + wk.chunk * size
        return (f"while evaluating rows {a}-{a + len(chunks[wk.chunk]) - 1} "
                f"(0-based positions in the DataFrame)")

    def died(wk: _Worker):
        wk.proc.join(timeout=5)
        code = wk.proc.exitcode
        how = ("still running" if code is None else f"exit code {code}" if code >= 0
               else f"killed by {_signal_name(-code)}")
        raise ModelError(f"run_batch: a worker process died ({how}) {where(wk)}; a Python "
                         f"function it called may have exited or crashed, or memory ran out")

    def send(wk: _Worker, msg) -> None:
        try:
            if isinstance(msg, bytes):
                wk.conn.send_bytes(msg)
            else:
                wk.conn.send(msg)
        except (OSError, EOFError):
            died(wk)

    def give(wk: _Worker) -> None:
        if todo:
            wk.chunk = todo.pop()
            send(wk, chunks[wk.chunk])

    ok = False
    try:
        fork = method == "fork"
        for i in range(min(w, len(chunks))):
            mine, theirs = ctx.Pipe(duplex=True)
            # a forked child inherits our ends of the pipes so far (its own too): it closes
            # them, or it would never see the end of its pipe when this process dies
            ours = tuple(x.conn for x in workers) + (mine,) if fork else ()
            p = ctx.Process(target=_serve, args=(theirs, columns, ours), daemon=True,
                            name=f"xleval-batch-{i}")
            try:
                p.start()
            finally:
                theirs.close()
            workers.append(_Worker(p, mine))
        # the model's bytes go through the pipe, not the process arguments: a spawned child
        # reads those only after importing the main module, and were that import to fail,
        # writing a large model into its start-up pipe would block forever
        payload = model.to_bytes()
        for wk in workers:
            send(wk, payload)
        for wk in workers:
            give(wk)
        left = len(chunks)
        while left:
            ready = set(wait([x for wk in workers for x in (wk.conn, wk.proc.sentinel)]))
            for wk in workers:
                if wk.conn in ready:
                    try:
                        status, res = wk.conn.recv()
                    except (OSError, EOFError):
                        died(wk)
                    if status == "ready":
                        wk.ready = True
                    elif status == "ok":
                        results[wk.chunk] = res
                        wk.chunk = None
                        left -= 1
                        give(wk)
                    elif isinstance(res, MemoryError):
                        raise ModelError(f"run_batch: a worker process ran out of memory "
                                         f"{where(wk)}")
                    else:
                        raise res               # what evaluating the rows raised
                elif wk.proc.sentinel in ready:
                    died(wk)
        ok = True
    finally:
        _stop(workers, ok)
    return [[_dec(v) for v in row] for part in results for row in part]


def _stop(workers: list[_Worker], ok: bool) -> None:
    """Stop the workers: done, they leave when their pipe closes; on an error (Ctrl-C
    too), they are terminated. Either way every one is joined: none outlives the batch."""
    for wk in workers:
        wk.conn.close()
        if not ok:
            wk.proc.terminate()
    for wk in workers:
        wk.proc.join(timeout=5)
        if wk.proc.exitcode is None:            # stuck (in C code, say): kill it
            wk.proc.kill()
            wk.proc.join()


def _signal_name(n: int) -> str:
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def _serve(conn, columns: list[str], inherited: tuple) -> None:
    """A worker: rebuild the model from the bytes it is sent first, then evaluate chunks of
    rows until its pipe closes. Answers are ("ready", None), ("ok", rows) or ("error", exc)."""
    for c in inherited:
        try:
            c.close()
        except OSError:
            pass
    _tie_to_parent()
    try:
        model = Model.from_bytes(conn.recv_bytes())
        targets = column_targets(model, columns)
        msg = ("ready", None)
    except EOFError:
        return
    except Exception as e:  # noqa: BLE001 - sent to the main process, raised there
        msg = ("error", e)
    while True:
        try:
            conn.send(msg)
        except Exception as e:  # noqa: BLE001 - something that does not pickle
            bad = msg[1] if msg[0] == "error" else e
            msg = ("error", ModelError(f"run_batch: {type(bad).__name__}: {bad}"))
            conn.send(msg)
        if msg[0] == "error":
            return
        try:
            rows = conn.recv()
        except (EOFError, OSError):
            return                                 # done (or the main process is gone)
        try:
            res = evaluate_rows(model, targets, rows)
            msg = ("ok", [[_enc(v) for v in row] for row in res])
        except Exception as e:  # noqa: BLE001
            msg = ("error", e)


def _tie_to_parent() -> None:
    """Leave Ctrl-C to the main process (it terminates the workers: no tracebacks from
    them), and on Linux be killed when the parent dies, even SIGKILLed mid-chunk."""
    from ..scheduler.worker import _die_with_parent, _quiet_signals
    _quiet_signals()
    _die_with_parent()
