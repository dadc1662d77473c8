"""Executing an evaluation plan.

  serial   every layer in order in this process (serial.py, the reference)
  pool     persistent worker processes for the run (one pipe each, so a worker keeps the
           same rows in every layer); layers below XLEVAL_POOL_MIN_CELLS (256) run inline
           (pool.py)
  process  one short-lived process per block of a layer's units, results through a pipe;
           layers below XLEVAL_PROCESS_MIN_CELLS (2000) run inline (process.py)
  auto     per layer, a cost model picks inline / pool / process (auto.py); stays serial
           with one worker or in a daemonic process

Nothing compiled is ever pickled: workers inherit the main process's engine (fork) or
rebuild it from the plain workbook data (spawn, forkserver), and work, deltas and results
are plain data (worker.py, base.py).

Every strategy gives the values `serial` gives. Cells with dynamic references, volatile
functions, data tables and dynamic arrays always run in the main process, and so does the
tail (strongly connected components, cycles). The start method is the `start_method=`
argument, else XLEVAL_START_METHOD, else multiprocessing's (fork, spawn and forkserver all
work). `run_plan` returns a RunStats (also left on `engine.schedule_stats`).
"""
from __future__ import annotations

import sys
import time

from ..errors import XlevalError
from ..forking import MAX_WORKERS
from .base import RunStats, default_workers, resolve_start_method
from .serial import run_serial

STRATEGIES = ("serial", "pool", "process", "auto")


class SchedulerError(XlevalError, ValueError):
    """A bad strategy, worker count or start method (the CLI's exit code 2)."""


def run_plan(engine, plan, *, strategy: str = "serial", workers: int | None = None,
             start_method: str | None = None, _again: bool = False) -> RunStats:
    if strategy not in STRATEGIES:
        raise SchedulerError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if workers is not None and workers < 1:
        raise SchedulerError(f"workers must be at least 1, not {workers}")
    if workers is not None and workers > MAX_WORKERS:
        raise SchedulerError(f"workers: at most {MAX_WORKERS}, not {workers}")
    t0 = time.perf_counter()
    engine.__dict__.pop("_spill_grew", None)
    engine._full_plan = plan        # (an incremental run may fall back on it: serial.py)
    from ..values import keep_error_pickling
    keep_error_pickling()        # error values cross to workers as their code (values.py)
    w = workers or default_workers()
    if strategy == "auto" and _daemonic():
        w = 1                        # a daemonic process may not start workers
    if strategy == "serial" or (strategy == "auto" and w < 2) or not plan.layers:
        stats = RunStats("serial" if strategy == "serial" else strategy, 1 if
                         strategy == "serial" else w)
        run_serial(engine, plan)
        n = sum(plan.sizes)
        stats.main_eval = time.perf_counter() - t0
        if strategy != "serial":
            stats.counts["inline"] = [len(plan.layers), n]
    else:
        from . import base
        from .pool import POOL_MIN_CELLS, PoolExecutor
        from .process import PROCESS_MIN_CELLS, ProcessExecutor
        try:
            method = resolve_start_method(start_method)
        except ValueError as e:
            raise SchedulerError(str(e)) from None
        run = base.Run(engine, plan, strategy, w, method)
        executors = {"pool": PoolExecutor(run), "process": ProcessExecutor(run)}
        if strategy == "auto":
            from .auto import AutoPolicy
            policy = AutoPolicy(run, executors)
        elif strategy == "pool":
            policy = base.FixedPolicy("pool", POOL_MIN_CELLS, w, run)
        else:
            policy = base.FixedPolicy("process", PROCESS_MIN_CELLS, w, run)
        base.execute(run, policy, executors)
        _report_cycles(engine, run.cycles)
        stats = run.stats
    stats.seconds = time.perf_counter() - t0
    engine.schedule_stats = stats
    if engine.__dict__.pop("_spill_grew", False) and not _again:
        # a dynamic array spilled past the range the file recorded into cells the graph
        # did not know as its own: they are now (engine.covered), so a second pass makes
        # their readers wait for it (once: a spill that grows again, RANDARRAY of a random
        # size, is volatile anyway)
        engine.reset_pending()
        return run_plan(engine, plan, strategy=strategy, workers=workers,
                        start_method=start_method, _again=True)
    return stats


def _daemonic() -> bool:
    # (a daemonic process was started by multiprocessing: when it is not imported yet, this
    # is none, and the ~6 ms import waits for a stage that really starts processes)
    mp = sys.modules.get("multiprocessing")
    return mp is not None and bool(getattr(mp.current_process(), "daemon", False))


def _report_cycles(engine, cycles_found) -> None:
    from ..refs import cell_name
    for cyc in cycles_found:
        names = [f"{engine.sheet_names[s]}!{cell_name(r, c)}" for s, r, c in cyc]
        if names not in engine.report.cycles:
            engine.report.cycles.append(names)
