"""Batches of scenarios: one DataFrame row per scenario, evaluated inline or on a process
pool.

  serial  every row in this process, one after another
  pool    a `multiprocessing` pool: the model's bytes go to each worker once (the pool's
          initializer rebuilds the model there), rows travel as plain lists in chunks and
          outputs come back as plain lists (error values as {"e": code}); works under fork,
          spawn and forkserver (`start_method=`, else XLEVAL_START_METHOD, else Python's)
  auto    the first few rows run inline and time a scenario; the pool is used when its
          predicted time (start-up + rebuilding the model in each worker + rows / workers
          that can run at once, from the load average + shipping rows) beats the rest of the
          batch inline by 20%, else inline

Batches run inline in a daemonic process (no children allowed) and for a model with
functions registered on its workbook only (`wb.register_function`: workers would lack them).
A DataFrame cell that is NaN or None leaves that input at its workbook value; a column named
by a range input takes a list (or list of row lists) per row. The pool is closed and joined
before returning, also on errors: no worker outlives the call. `model.last_batch` says what
ran (strategy, workers, seconds, the estimate).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import time

from .compiled import Model, ModelError, _dec, _enc

STRATEGIES = ("serial", "pool", "auto")
# measured on the 2-core dev machine (benchmarks/bench_model.py): starting a pool and
# shipping a row. Rebuilding the model in a worker is measured per model (Model.build_seconds)
START_SECONDS = {"fork": 0.03, "spawn": 0.45, "forkserver": 0.45}
ROW_IPC_SECONDS = 4e-6
AUTO_MARGIN = 0.8            # the pool must be predicted at least 20% faster
PROBE_ROWS = 8               # rows timed inline by auto before deciding
CHUNKS_PER_WORKER = 4

_WORKER: dict = {}           # in a pool worker: the model and the column targets


def run_batch(model: Model, df, *, workers: int | None = None, strategy: str = "auto",
              start_method: str | None = None):
    """Evaluate each row of `df` as a scenario; returns a DataFrame of outputs (columns from
    `model.output_columns()`, the same index as `df`)."""
    import pandas as pd
    from ..scheduler.base import default_workers, resolve_start_method
    if strategy not in STRATEGIES:
        raise ModelError(f"unknown batch strategy {strategy!r}; choose from "
                         f"{', '.join(STRATEGIES)}")
    if workers is not None and workers < 1:
        raise ModelError(f"workers must be at least 1, not {workers}")
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
            out.extend(_run_pool(model, columns, rows[len(out):], w, method))
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


def _run_pool(model: Model, columns: list[str], rows: list[list], w: int,
              method: str) -> list[list]:
    if not rows:
        return []
    from ..values import keep_error_pickling
    keep_error_pickling()          # error values cross to workers as their code (values.py)
    ctx = mp.get_context(method)
    size = max(1, math.ceil(len(rows) / (w * CHUNKS_PER_WORKER)))
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
    pool = ctx.Pool(min(w, len(chunks)), initializer=_init_worker,
                    initargs=(model.to_bytes(), columns))
    ok = False
    try:
        out: list[list] = []
        for part in pool.imap(_run_chunk, chunks):
            out.extend([_dec(v) for v in row] for row in part)
        ok = True
        return out
    finally:
        if ok:
            pool.close()
        else:
            pool.terminate()
        pool.join()


def _init_worker(model_bytes: bytes, columns: list[str]) -> None:
    """Pool initializer: rebuild the model once per worker."""
    model = Model.from_bytes(model_bytes)
    _WORKER["model"] = model
    _WORKER["targets"] = column_targets(model, columns)


def _run_chunk(rows: list[list]) -> list[list]:
    model = _WORKER["model"]
    res = evaluate_rows(model, _WORKER["targets"], rows)
    return [[_enc(v) for v in row] for row in res]

