"""Worker processes for `xleval serve`: the CPU work never runs on the event loop.

The pool is N *slots*, each a `ProcessPoolExecutor` with one process. A request takes a
free slot (waiting in a bounded queue when all are busy), runs one job there and gives the
slot back. One process per executor is what makes timeouts safe: when a job overruns the
request's deadline, only that slot's process is killed and replaced (cancel, shutdown
without waiting, kill, new executor), and the jobs running in the other slots carry on.
Knowing which process runs a job also lets a model's bytes be sent once per worker.

Workers start with the `forkserver` method (preloading the engine), not `fork`: the server
process has threads (the event loop's executors), and forking a threaded process can copy
a held lock into the child.
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import multiprocessing
import threading
import time
from typing import Callable

from . import jobs


class Busy(Exception):
    """Every slot is busy and the waiting queue is full (answered 503)."""


class Timeout(Exception):
    """The request's deadline passed (answered 504)."""


class Slot:
    """One worker process behind its own single-process executor."""

    def __init__(self, index: int, ctx):
        self.index = index
        self.ctx = ctx
        self.executor = cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx)
        self.models: set[str] = set()        # model ids this worker has been sent
        self.pid: int | None = None
        self.busy = False

    def start(self) -> None:
        """Start the process now (executors start lazily) and learn its pid."""
        self.pid = self.executor.submit(jobs.warm).result(timeout=120)

    def processes(self) -> list:
        return list((getattr(self.executor, "_processes", None) or {}).values())

    def kill(self) -> None:
        """Stop this slot's process at once, whatever it is doing, and reap it."""
        procs = self.processes()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            try:
                p.kill()
            except (OSError, AttributeError):
                pass
        for p in procs:
            try:
                p.join(5)
            except (OSError, AssertionError, AttributeError):
                pass


class WorkerPool:
    """N worker slots, a bounded queue of requests waiting for one, per-request deadlines."""

    def __init__(self, workers: int, max_queue: int):
        self.size = max(1, int(workers))
        self.max_queue = max(0, int(max_queue))
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["xleval", "xleval.workbook", "xleval.service.jobs"])
        self.ctx = ctx
        self.slots = [Slot(i, ctx) for i in range(self.size)]
        self.free: asyncio.Queue[Slot] | None = None
        self.waiting = 0
        self.running = 0
        self.restarts = 0
        self._lock = threading.Lock()

    async def start(self) -> None:
        """Start every worker (in threads: it takes a moment) and open the slots."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, s.start) for s in self.slots))
        self.free = asyncio.Queue()
        for s in self.slots:
            self.free.put_nowait(s)

    def pids(self) -> list[int]:
        return [s.pid for s in self.slots if s.pid]

    async def run(self, deadline: float, fn: Callable, *args, **kw):
        """Run fn(*args, **kw) in a worker before `deadline` (time.monotonic()). Raises
        Busy when the queue is full, Timeout when the deadline passes (the worker is then
        replaced), jobs.JobError for failures to report."""
        slot = await self.acquire(deadline)
        try:
            return await self.run_on(slot, deadline, fn, *args, **kw)
        finally:
            self.release(slot)

    async def acquire(self, deadline: float) -> Slot:
        """A free slot, waiting for one until the deadline."""
        assert self.free is not None, "WorkerPool.start() was not awaited"
        if self.free.empty() and self.waiting >= self.max_queue:
            raise Busy(f"all {self.size} workers are busy and {self.waiting} requests are "
                       "waiting; try again shortly")
        self.waiting += 1
        try:
            return await asyncio.wait_for(self.free.get(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise Timeout("timed out waiting for a free worker") from None
        finally:
            self.waiting -= 1

    def release(self, slot: Slot) -> None:
        assert self.free is not None
        self.free.put_nowait(slot)

    async def run_on(self, slot: Slot, deadline: float, fn: Callable, *args, **kw):
        """Run one job on `slot`; on timeout replace the slot's process."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout("timed out waiting for a free worker")
        try:
            fut = slot.executor.submit(fn, *args, **kw)
        except (RuntimeError, cf.process.BrokenProcessPool):
            await self._restart(slot)
            fut = slot.executor.submit(fn, *args, **kw)
        self.running += 1
        slot.busy = True
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), remaining)
        except asyncio.TimeoutError:
            await self._restart(slot)
            raise Timeout("the calculation took longer than this server's per-request "
                          "timeout") from None
        except cf.process.BrokenProcessPool:
            # the worker died (out of memory, a crash in a C extension): replace it
            await self._restart(slot)
            raise jobs.JobError(500, "internal error: the worker process died") from None
        finally:
            self.running -= 1
            slot.busy = False

    async def _restart(self, slot: Slot) -> None:
        """Kill the slot's process and start a fresh one (off the event loop)."""
        def restart():
            with self._lock:
                slot.kill()
                slot.executor = cf.ProcessPoolExecutor(max_workers=1, mp_context=self.ctx)
                slot.models = set()
                slot.start()
                self.restarts += 1
        await asyncio.get_running_loop().run_in_executor(None, restart)

    def shutdown(self) -> None:
        """Stop every worker: idle ones exit, busy ones are killed."""
        for s in self.slots:
            if s.busy:
                s.kill()
            else:
                s.executor.shutdown(wait=True, cancel_futures=True)
        # the forkserver process exits when this process does; nothing else is left
