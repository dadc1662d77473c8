"""Strategy `pool`: a persistent `multiprocessing.Pool` for one run of the plan.

The pool starts at the first layer worth sending out (under fork the workers inherit the
main process's engine and every value computed so far; under spawn/forkserver they rebuild
the engine from plain data and get a snapshot of the values with their first task). A
layer's parallel units are cut into ~3 tasks per worker; each task carries the deltas the
least up-to-date live worker may lack (see worker.py). Results come back per task.

Faults: results are collected with a timeout; between results the pool's worker processes
are checked (exit code of every worker the pool started). A dead worker (os._exit,
SIGKILL, the OOM killer) or a task that raised (MemoryError) raises `WorkerFailure`; the
driver stops the pool, recomputes the layer in-process and warns. Stopping kills the
workers first and then releases the pool's queue locks a killed worker may have held
(multiprocessing.Pool.terminate would otherwise wait forever for them).
"""
from __future__ import annotations

import math
import multiprocessing as mp
import multiprocessing.pool as mpp
import os
import queue
import time

from . import worker
from .base import Run, StartFailure, WorkerFailure, n_cells

CHUNKS_PER_WORKER = 3
MIN_TASK_CELLS = 32          # never cut a layer into tasks smaller than this
POOL_MIN_CELLS = int(os.environ.get("XLEVAL_POOL_MIN_CELLS", "256"))   # smaller: inline
_POLL = 0.05                 # seconds between liveness checks while waiting


class PoolExecutor:
    kind = "pool"

    def __init__(self, run: Run):
        self.run = run
        self.pool = None
        self.procs: dict[int, object] = {}
        self.synced: dict[int, int] = {}
        self.default_synced = -2
        self.floor = -2
        self.rtt: float | None = None        # seconds: an empty task's round trip

    # ---------------------------------------------------------------------------------
    def start(self, k: int) -> None:
        run = self.run
        t0 = time.perf_counter()
        ctx = mp.get_context(run.start_method)
        try:
            if run.start_method == "fork":
                # workers (and any replacement the pool forks later) adopt this engine; they
                # hold every layer the main process has completed at the time of the fork
                worker._PARENTS["pool"] = (run.engine, run.layer)
                self.default_synced = run.layer
                self.floor = run.layer + 1
                self.pool = ctx.Pool(run.workers, initializer=worker.init_fork,
                                     initargs=("pool",))
            else:
                path = run.payload_path()
                run.snapshot(run.layer)          # everything computed so far, as one delta
                self.default_synced = -2
                self.floor = run.layer
                self.pool = ctx.Pool(run.workers, initializer=worker.init_spawn,
                                     initargs=(path,))
        except (OSError, AssertionError, ValueError) as e:
            # a daemonic process may not have children; fork can fail (EAGAIN, ENOMEM)
            raise StartFailure(k, "could not start worker processes",
                               f"{type(e).__name__}: {e}") from None
        self.procs = {p.pid: p for p in self.pool._pool}
        self.synced = {}
        # a probe measures the round trip (and, the first time, waits for a worker to be up)
        self._roundtrip(k)
        t1 = time.perf_counter()
        self._roundtrip(k)
        self.rtt = time.perf_counter() - t1
        run.stats.pool_start += t1 - t0
        run.stats.dispatch += time.perf_counter() - t0

    def _roundtrip(self, layer: int) -> None:
        q: queue.SimpleQueue = queue.SimpleQueue()
        self.pool.apply_async(worker.probe, callback=lambda r: q.put((True, r)),
                              error_callback=lambda e: q.put((False, e)))
        while True:
            try:
                ok, res = q.get(timeout=_POLL)
            except queue.Empty:
                self.check_alive(layer)
                continue
            if not ok:
                raise WorkerFailure(layer, "worker failed", f"{type(res).__name__}: {res}")
            return

    def check_alive(self, layer: int) -> None:
        for pid, p in self.procs.items():
            code = p.exitcode
            if code is not None:
                raise WorkerFailure(layer, "worker died", f"pid {pid}, exit {code}")

    def live_pids(self):
        return [p.pid for p in self.pool._pool if p.exitcode is None]

    def base(self) -> int:
        """The last layer every live worker holds."""
        pids = self.live_pids() or list(self.procs)
        return min(self.synced.get(pid, self.default_synced) for pid in pids)

    # ---------------------------------------------------------------------------------
    def run_layer(self, k: int, units, n_tasks: int | None = None) -> list:
        """Evaluate `units` of layer k in the pool; returns the cells not done."""
        run = self.run
        if self.pool is None:
            self.start(k)
        t0 = time.perf_counter()
        n = n_cells(units)
        if n_tasks is None:
            n_tasks = min(run.workers * CHUNKS_PER_WORKER, max(1, math.ceil(n / MIN_TASK_CELLS)))
        tasks = run.make_tasks(units, n_tasks)
        deltas = run.deltas_after(self.base(), k - 1, self.floor)
        q: queue.SimpleQueue = queue.SimpleQueue()
        for i, chunks in enumerate(tasks):
            self.pool.apply_async(worker.run_task, ((k, deltas, chunks),),
                                  callback=lambda r, i=i: q.put((i, True, r)),
                                  error_callback=lambda e, i=i: q.put((i, False, e)))
        run.stats.tasks += len(tasks)
        run.stats.dispatch += time.perf_counter() - t0
        not_done: list = []
        remaining = len(tasks)
        warnings = run.engine.report.warnings
        while remaining:
            try:
                i, ok, res = q.get(timeout=_POLL)
            except queue.Empty:
                self.check_alive(k)
                continue
            if not ok:
                raise WorkerFailure(k, "worker failed", f"{type(res).__name__}: {res}")
            t1 = time.perf_counter()
            pid, synced, results, warns, t_sync, t_eval, t_cpu = res
            self.synced[pid] = synced
            not_done += run.store_results(tasks[i], results)
            for w in warns:
                if w not in warnings:
                    warnings.append(w)
            run.stats.worker_sync += t_sync
            run.stats.worker_eval += t_eval
            run.stats.worker_cpu += t_cpu
            remaining -= 1
            run.stats.dispatch += time.perf_counter() - t1
        run.forget_deltas(self.base())
        return not_done

    # ---------------------------------------------------------------------------------
    def close(self, *, kill: bool = False) -> None:
        pool, self.pool = self.pool, None
        if pool is None:
            worker._PARENTS.pop("pool", None)
            return
        t0 = time.perf_counter()
        try:
            if kill:
                _kill_pool(pool)
            else:
                pool.close()
                pool.join()
        finally:
            worker._PARENTS.pop("pool", None)
            self.procs = {}
            self.run.stats.dispatch += time.perf_counter() - t0


def _kill_pool(pool) -> None:
    """Stop a pool whose workers may be dead or busy, without waiting on them."""
    try:
        pool._worker_handler._state = mpp.TERMINATE     # no replacement workers from now
        pool._change_notifier.put(None)
    except Exception:  # noqa: BLE001 - internals differ: terminate() below still runs
        pass
    procs = list(pool._pool)
    for p in procs:
        if p.exitcode is None:
            try:
                p.kill()
            except Exception:  # noqa: BLE001
                pass
    for p in procs:
        p.join(timeout=5)
    # a worker killed while reading a task or writing a result holds a queue lock forever;
    # nobody else can hold these two now
    for lock in (getattr(pool._inqueue, "_rlock", None), getattr(pool._outqueue, "_wlock", None)):
        if lock is None:
            continue
        if lock.acquire(False):
            lock.release()
        else:
            try:
                lock.release()
            except (ValueError, AssertionError):
                pass
    pool.terminate()
    pool.join()
