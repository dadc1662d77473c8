"""Strategy `pool`: a persistent set of worker processes for one run of the plan.

It is a pool of `multiprocessing` processes, one duplex pipe each, rather than a
`multiprocessing.Pool`, because workers here must be addressable:

  * affinity: a layer is cut into contiguous blocks and block i goes to worker i in every
    layer. Consecutive layers of a workbook are laid out alike (a column after a column,
    a month after a month), so a worker keeps evaluating the same rows. Under fork this
    matters a lot: evaluating inherited compiled formulas writes reference counts, and
    every first write to an inherited page copies it (a page fault: ~4 us here). With
    100,000 distinct shapes, handing rows to whichever worker is free made each worker copy
    nearly every page (measured: 2x the faults, and worker CPU +47% over the main process
    instead of +21% with affinity);
  * deltas: each worker gets each layer's delta exactly once (its exact sync point is
    known), instead of once per task;
  * faults: a dead worker is seen at once (its process sentinel), and stopping never
    waits on locks a killed worker held (Pool.terminate can hang on those).

Balance: a worker's block is cut into a few tasks, sent one at a time; a worker that has
finished its own block takes the last unsent task of the most loaded other worker.

The pool starts at the first layer worth sending out: under fork the workers inherit the
main process's engine and every value computed so far; under spawn/forkserver they rebuild
the engine from plain data (a file) and get a snapshot of the values with their first task.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
import pickle
import time
from multiprocessing.connection import wait

from . import worker
from .base import Run, StartFailure, WorkerFailure

TASKS_PER_WORKER = 3
# A batch (run_batch) sends a worker its next task while it still works on the current one,
# so it never waits on the main process between tasks. Only a message that fits in the
# pipe's buffer goes ahead (a blocked send to a busy worker could deadlock with that
# worker's blocked answer): SEND_BUFFER is asked of the OS, half of what it grants is used.
AHEAD = 2                    # tasks in flight per worker in a batch
SEND_BUFFER = 1 << 22
# A batch that starts the workers prepares its layers' tasks before the fork, up to this
# many cells: splitting a layer then costs a third of what it costs while the workers run
# (every page the main process writes is then shared with them), and the workers inherit
# those tasks, which are then sent as an index instead of pickled lists of cells.
PRE_FORK_CELLS = 400_000
MIN_TASK_CELLS = 32          # never cut a layer into tasks smaller than this
POOL_MIN_CELLS = int(os.environ.get("XLEVAL_POOL_MIN_CELLS", "256"))   # smaller: inline
_POLL = 1.0                  # seconds: wait() wakes at least this often


class _Worker:
    __slots__ = ("index", "proc", "conn", "synced", "queue", "inflight", "held")

    def __init__(self, index, proc, conn, synced):
        self.index = index
        self.proc = proc
        self.conn = conn
        self.synced = synced        # last layer whose values this worker has (or was sent)
        self.queue: list = []       # tasks of the current layer not sent yet
        self.inflight: list = []    # tasks sent (or held), answers due in this order
        self.held: bytes | None = None   # the last of those, too big to queue: sent when
        #                                  the worker has answered the ones before it


class PoolExecutor:
    kind = "pool"

    def __init__(self, run: Run):
        self.run = run
        self.workers: list[_Worker] = []
        self.rtt: float | None = None        # seconds: an empty task's round trip
        self.snap = -2                       # spawn: the layer of the start snapshot
        self.ahead_bytes = 0                 # largest message sent to a busy worker
        self._inherited: dict[int, int] = {}  # id(task) -> its index in the workers' copy
        self._inherited_tasks: list = []      # (those tasks, kept alive while in use)

    @property
    def pool(self):
        """Truthy while the workers are running (auto asks)."""
        return self.workers or None

    # ---------------------------------------------------------------------------------
    def start(self, k: int) -> None:
        run = self.run
        if run.start_method == "fork":
            # (once per workbook: not part of the start cost auto measures per start)
            t0 = time.perf_counter()
            run.engine.number_tables()
            run.stats.dispatch += time.perf_counter() - t0
        t0 = time.perf_counter()
        ctx = mp.get_context(run.start_method)
        if run.start_method == "fork":
            # the workers adopt this engine, with every layer completed so far
            worker._PARENTS["pool"] = (run.engine, run.layer)
            worker._PARENTS["pool tasks"] = self._inherited_tasks
            source, synced = None, run.layer
        else:
            source = run.payload_path()
            run.snapshot(run.layer)          # everything computed so far, as one delta
            self.snap = run.layer
            synced = -2
        try:
            fork = run.start_method == "fork"
            for i in range(run.workers):
                mine, theirs = ctx.Pipe(duplex=True)
                # under fork the child inherits our ends of every pipe: it closes them
                ours = tuple(w.conn for w in self.workers) + (mine,) if fork else ()
                p = ctx.Process(target=worker.serve, args=(theirs, source, ours), daemon=True,
                                name=f"xleval-worker-{i}")
                try:
                    p.start()
                finally:
                    theirs.close()
                self.workers.append(_Worker(i, p, mine, synced))
            self.ahead_bytes = min(_send_room(w.conn) for w in self.workers)
        except (OSError, AssertionError, ValueError) as e:
            # a daemonic process may not have children; fork can fail (EAGAIN, ENOMEM)
            raise StartFailure(k, "could not start worker processes",
                               f"{type(e).__name__}: {e}") from None
        finally:
            worker._PARENTS.pop("pool", None)      # the children have their copy
            worker._PARENTS.pop("pool tasks", None)
        # probes: the first waits for the workers to be up, the second is a round trip
        self._probe(k)
        t1 = time.perf_counter()
        self._probe(k)
        self.rtt = (time.perf_counter() - t1) / max(1, len(self.workers))
        run.stats.pool_start += t1 - t0
        run.stats.dispatch += time.perf_counter() - t0

    def _probe(self, k: int) -> None:
        for w in self.workers:
            self._send(w, ("probe",), k)
        for w in self.workers:
            self._recv(w, k)

    # ---------------------------------------------------------------------------------
    def _send(self, w: _Worker, msg, k: int) -> None:
        self._send_bytes(w, pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL), k)

    def _send_bytes(self, w: _Worker, data: bytes, k: int) -> None:
        try:
            w.conn.send_bytes(data)
        except (OSError, EOFError):
            self._died(w, k)

    def _recv(self, w: _Worker, k: int):
        """Wait for worker w's answer."""
        while True:
            ready = wait([w.conn, w.proc.sentinel], timeout=_POLL)
            if w.conn in ready:
                return self._read(w, k)
            if w.proc.sentinel in ready:
                self._died(w, k)

    def _read(self, w: _Worker, k: int):
        try:
            data = w.conn.recv_bytes()
        except (OSError, EOFError):
            self._died(w, k)
        status, res = pickle.loads(data)
        if status != "ok":
            raise WorkerFailure(k, "worker failed", f"pid {w.proc.pid}: {res}")
        return res

    def _died(self, w: _Worker, k: int):
        w.proc.join(timeout=5)
        raise WorkerFailure(k, "worker died", f"pid {w.proc.pid}, exit {w.proc.exitcode}")

    # ---------------------------------------------------------------------------------
    def run_layer(self, k: int, units, n_tasks: int | None = None) -> list:
        """Evaluate `units` of layer k on the workers; returns the cells not done."""
        run = self.run
        t0 = time.perf_counter()
        W = len(self.workers) or run.workers
        n = run.count(k, units)
        if n_tasks is None:
            n_tasks = W * TASKS_PER_WORKER
        n_tasks = max(1, min(n_tasks, max(1, math.ceil(n / MIN_TASK_CELLS))))
        per = max(1, math.ceil(n_tasks / W))
        # tasks first: under fork, the main process's writes to pages it shares with
        # running workers copy them
        tasks = run.layer_tasks(k, units, per * W, n)
        t0 = self._started(k, t0)
        # contiguous blocks: tasks i*per .. i*per+per-1 belong to worker i (affinity)
        for w in self.workers:
            w.queue = tasks[w.index * per:(w.index + 1) * per]
            w.queue.reverse()                      # pop() takes the first
        run.stats.tasks += len(tasks)
        return self._drive(k, t0, lambda w: self._next(w, k))

    def run_batch(self, layers: list, more) -> tuple[list, bool]:
        """Evaluate consecutive layers `[(k, units), ...]` in one go, with no barrier
        between them: worker i gets block i of every layer, in layer order, and goes on to
        its next block as soon as it is done with one. Its cells read values of earlier
        layers of the batch; those it computed itself it has, those of another worker's
        block it finds pending and hands back not done (NeedCell), for the main process
        to compute. That costs little when rows stay with their worker from layer to layer
        (columns reading their own row).

        The batch grows while it runs: when the first worker starts on the last layer the
        batch has, `more(j, cells so far)` gives the next layer's units (None: the batch
        ends), appended to `layers`; unless more than BATCH_GIVE_UP of the cells answered so
        far came back not done, which ends the batch (and batching, see Run.batch_result),
        so a batch whose rows move costs a layer or two, not all of it. Preparing a layer
        while the workers run costs less than a barrier in which they wait. Returns (the
        cells not done, whether it gave up)."""
        from .base import BATCH_GIVE_UP
        run = self.run
        k0 = layers[0][0]
        t0 = time.perf_counter()
        W = len(self.workers) or run.workers
        # tasks before the workers start (see run_layer); blocks[i]: one task per worker
        sizes = [run.count(j, units) for j, units in layers]
        blocks = [run.layer_tasks(j, units, W, n) for (j, units), n in zip(layers, sizes)]
        total = sum(sizes)
        ready: list = []          # layers prepared before the fork: (units, cells, tasks)
        if not self.workers:
            got = total
            while len(blocks) + len(ready) < run.batch_layers and got < PRE_FORK_CELLS:
                j = k0 + len(blocks) + len(ready)
                units = more(j, got)
                if not units:
                    ready.append(None)          # the batch ends there
                    break
                n = run.sizes[j]                # (more() gives whole layers)
                got += n
                ready.append((units, n, run.layer_tasks(j, units, W, n)))
            if run.start_method == "fork":
                self._inherit([t for b in blocks for t in b] +
                              [t for x in ready if x for t in x[2]])
        try:
            t0 = self._started(k0, t0)
        except BaseException:
            self._inherit([])
            raise
        pos = {w.index: 0 for w in self.workers}       # each worker's next layer
        state = {"answered": 0, "handed": 0, "end": False, "gave_up": False}

        def grow() -> None:
            """Add the next layer to the batch, or end the batch."""
            nonlocal total
            if state["end"]:
                return
            if state["handed"] > BATCH_GIVE_UP * max(1, state["answered"]):
                state["end"] = state["gave_up"] = True
                return
            if len(blocks) >= run.batch_layers:
                state["end"] = True
                return
            t1 = time.perf_counter()
            if ready:
                item = ready.pop(0)
                units, n, tasks = item if item else (None, 0, None)
            else:
                j = k0 + len(blocks)
                units = more(j, total)
                n = run.sizes[j] if units else 0
                tasks = run.layer_tasks(j, units, W, n) if units else None
            if units:
                total += n
                layers.append((k0 + len(blocks), units))
                blocks.append(tasks)
            else:
                state["end"] = True
            run.stats.dispatch += time.perf_counter() - t1

        def feed(w) -> None:
            while True:
                i = pos[w.index]
                if i >= len(blocks):
                    grow()
                    if i >= len(blocks):
                        return
                pos[w.index] = i + 1
                if w.index < len(blocks[i]):
                    task = blocks[i][w.index]
                    run.stats.tasks += 1
                    # sent as layer k0's: a worker holds the layers before k0 (their deltas
                    # come with its first task) and only part of the batch's own layers
                    self._send_task(w, k0, task)
                    if i == len(blocks) - 1:
                        grow()        # the next layer, prepared while the workers run
                    return
                # (a layer with fewer blocks than workers: nothing for w in it)

        def seen(chunks, res) -> None:
            state["answered"] += sum([len(c[2]) for c in chunks])
            state["handed"] += sum([len(r[2]) for r in res[2]])

        try:
            return self._drive(k0, t0, feed, seen, AHEAD), state["gave_up"]
        finally:
            self._inherit([])

    def _inherit(self, tasks: list) -> None:
        """Tasks the workers about to be forked will hold: sent as their index."""
        self._inherited_tasks = tasks
        self._inherited = {id(t): i for i, t in enumerate(tasks)}

    def _started(self, k: int, t0: float) -> float:
        """Start the workers if they are not running; returns `t0` moved past the start
        (start() counts its own time, the caller's dispatch time must not count it too)."""
        if not self.workers:
            t1 = time.perf_counter()
            self.start(k)
            t0 += time.perf_counter() - t1
        return t0

    def _drive(self, k: int, t0: float, feed, seen=None, ahead: int = 1) -> list:
        """Keep the workers busy and store their answers: `feed(w)` sends worker w its next
        task (see _send_task; nothing sent: it has none left), called until w has `ahead`
        tasks in flight; `seen(chunks, answer)` looks at each answer before its worker is
        fed again. Returns the cells not done."""
        run = self.run
        for w in self.workers:
            w.inflight = []
            w.held = None
        not_done: list = []
        warnings = run.engine.report.warnings

        def top_up(w) -> None:
            while len(w.inflight) < ahead and w.held is None:
                n = len(w.inflight)
                feed(w)
                if len(w.inflight) == n:
                    return
        for w in self.workers:
            top_up(w)
        run.stats.dispatch += time.perf_counter() - t0
        while True:
            busy = [w for w in self.workers if w.inflight]
            if not busy:
                break
            handles = {w.conn: w for w in busy}
            handles.update({w.proc.sentinel: w for w in busy})
            for h in wait(list(handles), timeout=_POLL):
                w = handles[h]
                if not w.inflight:
                    continue
                if h is w.proc.sentinel and not w.conn.poll():
                    self._died(w, k)
                res = self._read(w, k)
                t1 = time.perf_counter()
                chunks = w.inflight.pop(0)
                if w.held is not None:                 # its next task: it is free now
                    data, w.held = w.held, None
                    self._send_bytes(w, data, k)
                if seen is not None:
                    seen(chunks, res)
                top_up(w)                              # keep it busy while we store
                not_done += run.take_answer(chunks, res, warnings)
                run.stats.dispatch += time.perf_counter() - t1
        t2 = time.perf_counter()
        run.forget_deltas(self.base())
        run.stats.dispatch += time.perf_counter() - t2
        return not_done

    def _next(self, w: _Worker, k: int) -> None:
        """Send worker w its next task of layer k (its own first, else one taken from the
        worker with the most left), with the deltas it lacks."""
        task = None
        if w.queue:
            task = w.queue.pop()
        else:
            donor = max(self.workers, key=lambda x: len(x.queue))
            if donor.queue:
                task = donor.queue.pop(0)          # the donor's last block part
        if task is not None:
            self._send_task(w, k, task)

    def _send_task(self, w: _Worker, k: int, task) -> None:
        """Send worker w a task of layer k, with the deltas of the layers before k it
        lacks. To a worker busy with another task, only a message that fits in the pipe's
        buffer goes now; a bigger one is held until the worker answers (see AHEAD)."""
        deltas = []
        if w.synced < k - 1:
            deltas = self.run.deltas_after(w.synced, k - 1, self._floor())
            w.synced = k - 1
        w.inflight.append(task)
        ix = self._inherited.get(id(task))
        if ix is not None:
            self.run.stats.tasks_inherited += 1
        data = pickle.dumps(("task", (k, deltas, task if ix is None else ix)),
                            protocol=pickle.HIGHEST_PROTOCOL)
        if len(w.inflight) > 1 and len(data) > self.ahead_bytes:
            w.held = data
        else:
            self._send_bytes(w, data, k)

    def _floor(self) -> int:
        # spawn: the snapshot taken at start stands for every earlier layer
        return self.snap

    def base(self) -> int:
        """The last layer every worker holds."""
        return min((w.synced for w in self.workers), default=self.run.layer)

    # ---------------------------------------------------------------------------------
    def close(self, *, kill: bool = False) -> None:
        workers, self.workers = self.workers, []
        worker._PARENTS.pop("pool", None)
        if not workers:
            return
        t0 = time.perf_counter()
        try:
            if not kill:
                for w in workers:
                    try:
                        w.conn.send_bytes(pickle.dumps(("stop",)))
                    except (OSError, EOFError):
                        pass
                for w in workers:
                    w.proc.join(timeout=5)
        finally:
            for w in workers:
                if w.proc.exitcode is None:
                    try:
                        w.proc.kill()
                    except Exception:  # noqa: BLE001
                        pass
            for w in workers:
                w.proc.join(timeout=10)
                w.conn.close()
            self.run.stats.dispatch += time.perf_counter() - t0


def _send_room(conn) -> int:
    """Bytes that can be written to `conn` without its reader reading: a quarter of the
    send buffer the OS grants (it reports twice what it grants). 0 where the connection is
    not a socket (Windows pipes): then nothing is sent ahead."""
    try:
        import socket
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except (OSError, ValueError, AttributeError):
        return 0
    try:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        except OSError:
            pass
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 4
    except OSError:
        return 0
    finally:
        sock.close()
