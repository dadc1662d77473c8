"""Strategy `process`: one short-lived `multiprocessing.Process` per block of a layer's work
units (one block per worker), results through a pipe.

Under fork a process inherits the main process's engine with every value computed so far,
so nothing but the cell list and the results crosses a process boundary: no deltas at all.
That suits few large (or slow, IO-bound) layers. Under spawn/forkserver each process
rebuilds the engine from the pickled workbook data and gets one snapshot delta of every
value computed so far, which is expensive: `auto` only picks it when a layer is worth it.

A process that dies before sending its result (EOF on the pipe; its exit code tells why)
or reports an exception raises `WorkerFailure`; the driver recomputes the layer
in-process. Every process started here is killed (if still running) and joined before
`run_layer` returns or raises.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import time
from multiprocessing.connection import wait

from . import worker
from .base import Run, StartFailure, WorkerFailure

PROCESS_MIN_CELLS = int(os.environ.get("XLEVAL_PROCESS_MIN_CELLS", "2000"))  # smaller: inline


class ProcessExecutor:
    kind = "process"

    def __init__(self, run: Run):
        self.run = run
        self.start_cost: float | None = None     # seconds to start one process (measured)

    def run_layer(self, k: int, units, n_blocks: int | None = None) -> list:
        run = self.run
        t0 = time.perf_counter()
        method = run.start_method
        ctx = mp.get_context(method)
        n = run.count(k, units)
        blocks = run.layer_tasks(k, units, min(n_blocks or run.workers, run.workers, n))
        if method == "fork":
            run.engine.number_tables()
            worker._PARENTS["process"] = (run.engine, k - 1)
            payload = None
        else:
            payload = run.payload_path()
            deltas = [(k - 1, run.snapshot(k - 1, cache=False))]
        live = []          # (process, reader, block)
        files = []
        done = False
        try:
            ts = time.perf_counter()
            for chunks in blocks:
                r, w = ctx.Pipe(duplex=False)
                task = (k, [], chunks)
                if payload is not None:        # spawn: large data goes through files
                    task = run.temp_file(pickle.dumps((k, deltas, chunks),
                                                      pickle.HIGHEST_PROTOCOL), "task")
                    files.append(task)
                p = ctx.Process(target=worker.process_main, args=(w, payload, task),
                                daemon=True, name=f"xleval-layer{k}")
                try:
                    p.start()
                except (OSError, AssertionError, ValueError) as e:
                    r.close()
                    w.close()
                    raise StartFailure(k, "could not start worker processes",
                                       f"{type(e).__name__}: {e}") from None
                w.close()
                live.append((p, r, chunks))
            started = time.perf_counter() - ts
            self.start_cost = started / max(1, len(blocks))
            run.stats.tasks += len(blocks)
            run.stats.dispatch += time.perf_counter() - t0
            not_done: list = []
            waiting = {r: (p, chunks) for p, r, chunks in live}
            warnings = run.engine.report.warnings
            while waiting:
                for r in wait(list(waiting), timeout=0.5):
                    p, chunks = waiting.pop(r)
                    try:
                        data = r.recv_bytes()
                    except (EOFError, OSError):
                        p.join(timeout=5)
                        raise WorkerFailure(k, "worker died", f"pid {p.pid}, exit {p.exitcode}")
                    t1 = time.perf_counter()
                    status, res = pickle.loads(data)
                    if status != "ok":
                        raise WorkerFailure(k, "worker failed", f"pid {p.pid}: {res}")
                    not_done += run.take_answer(chunks, res, warnings)
                    run.stats.dispatch += time.perf_counter() - t1
            done = True
            return not_done
        finally:
            t2 = time.perf_counter()
            for p, r, _ in live:
                if done and p.exitcode is None:
                    p.join(timeout=5)        # it sent its result and is exiting
                if p.exitcode is None:
                    p.kill()
                    p.join()
                r.close()
            if method == "fork":
                worker._PARENTS.pop("process", None)
            for path in files:
                run.remove_file(path)
            run.stats.dispatch += time.perf_counter() - t2

    def close(self, *, kill: bool = False) -> None:
        """Nothing outlives run_layer."""
