"""Strategy `auto`: per layer, a cost model picks inline, pool or process.

The model (seconds, measured during the run itself):

  c      evaluation cost per cell in the main process: per shape, from timing 6 short runs
         of consecutive cells spread over the layer, here (their results are kept), else
         the runs' trimmed mean (minus the call overhead); inline layers refine a running
         mean `pc`
  C      predicted inline time of the layer's remaining cells = sum over units of n_u * c_u
  eta    a worker's time per cell relative to the main process's, per executor, learned
         from the workers' evaluation time on the layers they ran (fork: copy-on-write faults
         on the inherited compiled formulas; `process` starts fresh every layer, so it pays
         more; a busy machine: workers wait for a CPU)
  W, T   workers; tasks (each worth >= 4 rtt, one per worker at least when that holds,
         at most 3 per worker, never more than cells)
  rtt    round trip of an empty task (probe when the pool starts; 0.5 ms before)
  x      main-process cost per cell sent out and stored back (pickling the cell list and
         the values, dict updates), and y per work unit (its chunk's tuple, list, update and
         loop turn, in both processes): micro-benchmarked once per process (~1 ms)
  d      cost per delta cell (gather + pickle in the main process, unpickle + apply in a
         worker); D = cells of the layers the least synced worker lacks
  start  seconds to start one process: measured once this run started one, estimated
         before (fork: from the resident size; spawn/forkserver: interpreter start +
         rebuilding the engine), plus, under spawn, preparing the shapes a worker lacks
         (the compile stage's time per shape: parsing, and compiling family templates);
         starting the pool also counts a first-layer warm-up (fork: pages copied on first
         write, ~30 ms per GB resident per worker), and that layer teaches the model nothing
  kappa  per executor, EWMA of measured / predicted wall time of the layers it ran

  inline   = C
  pool     = kappa_pool * (C * eta_pool / min(W, T) + (T / W) * rtt + n * x + u * y + D * d)
  process  = kappa_proc * (W * start + C * eta_proc / W + n * x + u * y)  (+ spawn: snapshot)

A layer goes out only when the best prediction is < 0.88 x inline (and, to start processes,
it has at least 8 cells per worker); once the pool runs, it
takes every layer predicted faster than inline at all, and `process` is not considered. Starting the pool is an
investment: it must be repaid 1.25 times by this layer's saving plus the savings predicted
for the layers still to come (their sizes are known from the plan). Layers predicted below
a few milliseconds skip all this (one multiplication) and are evaluated inline together,
so chains of tiny layers run at serial speed. Safety: when three layers in a row sent out
were slower than their inline prediction, the rest of the run stays inline.
"""
from __future__ import annotations

import math
import os
import pickle
import time

import numpy as np

from ..evaluator.engine import PENDING
from ..graph.build import LayerView, WorkUnit
from .base import Run, n_cells

# prior worker slowdown before one is measured (see eta): the copy-on-write cost grows with
# the share of distinct closures (a fork worker copies the pages of the closures it calls)
ETA0, ETA_DIVERSE, ETA_PROCESS = 1.05, 0.3, 0.25
# go parallel only below this fraction of the inline time. (0.8 would leave real gains of
# 1.15-1.25x on the table, e.g. a 60-month projection: the model predicts such layers within
# a few per cent, and the loss switch below catches a layer that does not pay.)
GAIN = 0.88
RUNS, RUN_LEN = 6, 8           # runs of consecutive cells timed per layer in the main process
TASK_RTTS = 4                 # a task should be worth at least this many round trips
# starting processes for a layer needs at least this many cells per worker left after the
# vector fast path: a handful of big cells (SUM over a column) never repays forking a large
# process, whatever their sampled cost predicts
START_CELLS_PER_WORKER = 8
_CALIBRATED: tuple | None = None
_OVERHEAD: float | None = None


class AutoPolicy:
    def __init__(self, run: Run, executors: dict):
        self.run = run
        self.W = run.workers
        self.pool = executors["pool"]
        self.proc = executors["process"]
        self.fork = run.start_method == "fork"
        self.pc_shape: dict[int, float] = {}
        self.pc: float | None = None
        self.eta: dict[str, float] = {}         # learned; until then the prior
        self.kappa = {"pool": 1.0, "process": 1.0}
        self.x: float | None = None
        self.d: float | None = None
        self.y = 0.0
        self.start_one: float | None = None      # estimate before anything was started
        self.sizes = run.sizes
        self.n_formulas = sum(len(f) for f in run.engine.formulas[:run.engine.n_local])
        self.met_shapes: set[int] = set()        # shapes pool workers have compiled (spawn)
        self.declined: tuple | None = None       # (pc, layer) when the pool was not worth it
        self.losses = 0                           # consecutive layers sent out that lost
        self._diversity = 0.0
        self._units = 0
        self.off = False
        self._pending: tuple | None = None
        ev = run.engine
        self.compile_per_shape = ev.report.timings.get("compile", 0.0) / max(1, len(ev.shapes))

    # ---------------------------------------------------------------------------------
    def floor(self) -> float:
        """Layers predicted below this many seconds are never worth sending out."""
        if self.pool.pool is not None and self.pool.rtt is not None:
            return max(0.002, 4 * self.pool.rtt)
        return 0.004 if self.fork else 0.05

    def min_cells(self) -> float:
        """Layers with fewer cells run inline without asking decide()."""
        if self.off or self.W < 2:
            return math.inf
        m = 2 * self.W
        if self.pc:
            m = max(m, math.ceil(self.floor() / self.pc))
        return m

    def inlined(self, n: int, seconds: float) -> None:
        if n:
            self._learn(seconds / n, weight=min(1.0, n / 256))

    def _learn(self, per_cell: float, weight: float = 0.5) -> None:
        if self.pc is None:
            self.pc = per_cell
        else:
            self.pc += weight * 0.5 * (per_cell - self.pc)

    # ---------------------------------------------------------------------------------
    def _sample(self, par: list):
        """Evaluate a few short runs of consecutive cells spread over the layer, here,
        timing each run as a whole (the values are kept): timing cells one by one would
        add the call overhead and a cold start to every cell. Returns the per-cell mean
        (trimmed) and the units without the sampled cells.

        Once a fork pool runs, this process shares its pages with the workers and pays a
        copy on its first write to each: scattered samples would then look several times
        dearer than the same cells evaluated inline in a row. So shapes measured before the
        fork keep their estimate and are not sampled again."""
        forked = self.fork and self.pool.pool is not None
        pcs = self.pc_shape
        if isinstance(par, LayerView):
            return self._sample_layer(par, forked)
        if forked:
            todo = [u for u in par if u.shape not in pcs]
            if not todo:
                known = [pcs[u.shape] for u in par]
                return sum(known) / len(known), par
        total = n_cells(par)
        runs = min(RUNS, max(1, total // RUN_LEN))
        step = total / runs
        starts = [int(i * step) for i in range(runs)]
        overhead = self._call_overhead()
        per_run: list[float] = []
        rest = []
        t_all = 0.0
        pos = 0
        si = 0
        for u in par:
            size = len(u.cells)
            if si >= len(starts) or starts[si] >= pos + size:
                pos += size
                rest.append(u)
                continue
            if forked and u.shape in pcs:          # known: keep the pre-fork estimate
                while si < len(starts) and starts[si] < pos + size:
                    si += 1
                pos += size
                rest.append(u)
                continue
            taken = set()
            while si < len(starts) and starts[si] < pos + size:
                a = starts[si] - pos
                b = min(size, a + RUN_LEN)
                keys = [(u.sheet, *rc) for rc in u.cells[a:b]]
                dt, per = self._sample_run(keys, u.shape, overhead)
                t_all += dt
                per_run.append(per)
                taken.update(range(a, b))
                si += 1
            pos += size
            if len(taken) < size:
                rest.append(WorkUnit(u.shape, u.sheet,
                                     [rc for i, rc in enumerate(u.cells) if i not in taken]))
        self.run.stats.main_eval += t_all
        return self._sampled_mean(per_run, [u.shape for u in par], forked), rest

    def _sample_layer(self, view: LayerView, forked: bool):
        """_sample for a whole layer (a LayerView), read from the plan's arrays: the same
        runs, but no WorkUnit made (a layer of hand-typed formulas has one per cell, ~300 B
        with its list and key tuple: 3 MB per 10,000 cells, this process's peak while the
        pool evaluates). The layer is returned whole: the sampled cells are computed, and
        both the inline path (Engine.compute) and the workers skip computed cells; a pool
        forked before the samples computes them again, to the same values (split keeps
        volatile and dynamic shapes out of the layers sent out)."""
        pcs = self.pc_shape
        shapes, sheets, bounds = view.layers.layer_arrays(view.j)
        shape_ids = shapes.tolist()
        if forked:
            known = list(map(pcs.get, shape_ids))
            if None not in known:
                return sum(known) / len(known), view
        base, total = int(bounds[0]), int(bounds[-1] - bounds[0])
        runs = min(RUNS, max(1, total // RUN_LEN))
        step = total / runs
        flat = view.layers.flat
        overhead = self._call_overhead()
        per_run: list[float] = []
        t_all = 0.0
        for i in range(runs):
            a = base + int(i * step)
            u = int(bounds.searchsorted(a, "right")) - 1        # the unit holding cell a
            shape = shape_ids[u]
            if forked and shape in pcs:            # known: keep the pre-fork estimate
                continue
            sheet = int(sheets[u])
            keys = [(sheet, *rc) for rc in flat[a:min(int(bounds[u + 1]), a + RUN_LEN)]]
            dt, per = self._sample_run(keys, shape, overhead)
            t_all += dt
            per_run.append(per)
        self.run.stats.main_eval += t_all
        return self._sampled_mean(per_run, shape_ids, forked), view

    def _sample_run(self, keys: list, shape: int, overhead: float) -> tuple[float, float]:
        """Evaluate one run of cells of `shape` here, timed as a whole: (seconds, seconds
        per cell once the call overhead is taken off); the shape's estimate learns it."""
        pcs = self.pc_shape
        t0 = time.perf_counter()
        self.run.engine.compute(keys, on_cycle=self.run.cycles.append)
        dt = time.perf_counter() - t0
        per = max(0.0, dt - overhead) / len(keys)
        got = pcs.get(shape)
        pcs[shape] = per if got is None else 0.5 * (got + per)
        return dt, per

    def _sampled_mean(self, per_run: list[float], shapes: list[int], forked: bool) -> float:
        """The per-cell mean of a layer's sample runs, one outlier (a cache being built)
        left out; with no sample, the mean of what is known of `shapes`."""
        pcs = self.pc_shape
        if not per_run:
            known = [pcs[s] for s in shapes if s in pcs]
            return sum(known) / len(known) if known else self.pc or 0.0
        per_run.sort()
        if len(per_run) >= 6:
            per_run = per_run[:-1]
        mean = sum(per_run) / len(per_run)
        if not forked:
            self._learn(mean)
        return mean

    def _call_overhead(self) -> float:
        """Seconds `engine.compute` takes for a cell that needs no work."""
        global _OVERHEAD
        if _OVERHEAD is None:
            ev = self.run.engine
            t0 = time.perf_counter()
            for _ in range(50):
                ev.compute([])
            _OVERHEAD = (time.perf_counter() - t0) / 50
        return _OVERHEAD

    def _calibrate(self) -> None:
        """Per-cell transfer and delta costs, from a tiny synthetic round (~1 ms, once per
        process)."""
        global _CALIBRATED
        if _CALIBRATED is not None:
            self.x, self.d, self.y = _CALIBRATED
            return
        n = 400
        keys = [(r, 3) for r in range(1, n + 1)]
        vals = [r * 1.5 for r in range(n)]
        store = dict.fromkeys(keys, PENDING)
        t0 = time.perf_counter()
        task = pickle.loads(pickle.dumps([(0, 0, keys)], pickle.HIGHEST_PROTOCOL))
        res = pickle.loads(pickle.dumps([(vals, [], [])], pickle.HIGHEST_PROTOCOL))
        store.update(zip(task[0][2], res[0][0]))
        t1 = time.perf_counter()
        got = list(map(store.get, keys))
        from array import array
        rs, cs = zip(*keys)
        blob = pickle.dumps((None, [(0, array("i", rs), array("i", cs), got)]),
                            pickle.HIGHEST_PROTOCOL)
        _, parts = pickle.loads(blob)
        for _s, rows, cols, vs in parts:
            store.update(zip(zip(rows, cols), vs))
        t2 = time.perf_counter()
        # per work unit: the same cells as 1-cell chunks (a tuple, a list, a dict update and
        # a loop turn each, here and again in the worker)
        chunks = [(0, 0, [k]) for k in keys]
        t3 = time.perf_counter()
        task = pickle.loads(pickle.dumps(chunks, pickle.HIGHEST_PROTOCOL))
        res = pickle.loads(pickle.dumps([([v], [], []) for v in vals], pickle.HIGHEST_PROTOCOL))
        for (_, _, ks), (vs, _, _) in zip(task, res):
            store.update(zip(ks, vs))
        t4 = time.perf_counter()
        # these loops run in a busy interpreter with bigger dicts: keep a margin
        self.x = 1.5 * (t1 - t0) / n
        self.d = 1.5 * (t2 - t1) / n
        self.y = 2 * 1.5 * max(0.0, (t4 - t3) - (t1 - t0)) / n
        _CALIBRATED = (self.x, self.d, self.y)

    def _start_cost_one(self) -> float:
        """Seconds to start one worker process: measured once this run has started a pool or
        a process, estimated before (fork: copying the page tables of this process, ~4 ms
        per GB resident; spawn/forkserver: a fresh interpreter importing xleval, then
        unpickling and indexing the workbook data)."""
        measured = None
        stats = self.run.stats
        if stats.pool_start > 0:
            measured = stats.pool_start / self.W
        if self.proc.start_cost is not None:
            measured = self.proc.start_cost if measured is None else \
                min(measured, self.proc.start_cost)
        if measured is not None:
            return measured
        if self.start_one is None:
            if self.fork:
                self.start_one = 0.003 + 0.004 * _rss_gb()
            else:
                ev = self.run.engine
                cells = self.n_formulas + sum(len(d) for d in ev.cells[:ev.n_local])
                self.start_one = 0.4 + 4e-6 * cells
        return self.start_one

    def _pool_start_cost(self) -> float:
        # starting, plus the warm-up of the first layer: copy-on-write of the pages the
        # workers and this process then write to (~30 ms per GB resident, per worker)
        # (fork: once per workbook, the number tables, see evaluator/numbers.py)
        tables = self.run.engine.number_tables_cost() if self.fork else 0.0
        return self.W * (self._start_cost_one() + 0.03 * _rss_gb()) + 0.002 + tables

    # ---------------------------------------------------------------------------------
    def _estimate(self, par: list, mean: float) -> tuple[float, int, int]:
        """(predicted inline seconds, cells, shapes new to the pool workers)."""
        pcs = self.pc_shape
        met = self.met_shapes
        c_total = 0.0
        n = 0
        new = 0
        for shape, m in zip(*_shapes_sizes(par)):
            n += m
            c_total += m * pcs.get(shape, mean)
            if shape not in met:
                new += 1
        return c_total, n, new

    def _rtt(self) -> float:
        return self.pool.rtt if self.pool.rtt is not None else (0.0005 if self.fork else 0.001)

    def _eta(self, kind: str) -> float:
        got = self.eta.get(kind)
        if got is not None:
            return got
        e = ETA0 + (ETA_DIVERSE * self._diversity if self.fork else 0.0)
        return e + (ETA_PROCESS if kind == "process" else 0.0)

    def _tasks(self, C: float, n: int, rtt: float) -> int:
        """How many tasks to cut a layer into: up to 3 per worker, each worth a few round
        trips, at least one per worker when that is worth it."""
        W = self.W
        T = int(min(3 * W, n, C / (TASK_RTTS * rtt)))
        if C / W >= TASK_RTTS * rtt:
            T = max(T, min(W, n))
        return max(1, T)

    def _pool_time(self, k: int, C: float, n: int, new_shapes: int) -> tuple[float, int]:
        W = self.W
        rtt = self._rtt()
        T = self._tasks(C, n, rtt)
        if self.pool.pool is not None:
            D = sum(self.sizes[max(0, self.pool.base() + 1):k])
        else:
            D = 0 if self.fork else sum(self.sizes[:k])
        t = C * self._eta("pool") / min(W, T) + (T / W) * rtt + n * self.x + D * self.d + \
            self._units * self.y
        if not self.fork:
            t += new_shapes * self.compile_per_shape / min(W, T)
        return self.kappa["pool"] * t, T

    def _process_time(self, k: int, C: float, n: int, new_shapes: int) -> float:
        W = min(self.W, n)
        t = W * self._start_cost_one() + C * self._eta("process") / W + n * self.x + \
            self._units * self.y
        if not self.fork:
            t += sum(self.sizes[:k]) * self.d + new_shapes * self.compile_per_shape / W
        else:
            t += self.run.engine.number_tables_cost()
        return self.kappa["process"] * t

    def _future_savings(self, k: int, per_cell: float) -> float:
        """What the pool would save on the layers after k (same per-cell cost)."""
        W = self.W
        rtt = self._rtt()
        eta = self._eta("pool") * self.kappa["pool"]
        floor = self.floor()
        total = 0.0
        for j in range(k + 1, len(self.sizes)):
            m = self.sizes[j]
            C = m * per_cell
            if C < floor:
                continue
            T = self._tasks(C, m, rtt)
            par = C * eta / min(W, T) + (T / W) * rtt + m * (self.x + self.d) + \
                self.run.plan.unit_counts[j] * self.y
            if par < GAIN * C:
                total += C - par
        return total

    # ---------------------------------------------------------------------------------
    def decide(self, k: int, par: list):
        mean, par = self._sample(par)
        C, n, new_shapes = self._estimate(par, mean)
        if n < 2 or C < self.floor():
            return "inline", par, None, None
        self._units = len(par)
        # distinct compiled closures per cell (a family's members share one)
        shapes = self.run.engine.shapes
        self._diversity = min(1.0, len({id(shapes[sh].fn) for sh in _shapes_sizes(par)[0]}) / n)
        if self.x is None:
            self._calibrate()
        t_pool, T = self._pool_time(k, C, n, new_shapes)
        t_proc = self._process_time(k, C, n, new_shapes)
        pred = {"inline": C, "pool": t_pool, "process": t_proc}
        # hysteresis: a running pool is used whenever it is predicted faster at all (its
        # start is paid, its workers are warm, and since the fork this process's own inline
        # work pays the same page copies); the loss switch stops it if that is wrong
        pool_ok = t_pool < (1.0 if self.pool.pool is not None else GAIN) * C
        few = n < START_CELLS_PER_WORKER * self.W
        if few and self.pool.pool is None:
            pool_ok = False
        if pool_ok and self.pool.pool is None:
            # starting the pool is an investment: this layer's saving and the savings
            # predicted on the layers to come must repay it
            start = self._pool_start_cost()
            pred["pool_start"] = start
            saving = C - t_pool
            if saving < 1.25 * start:
                pc = self.pc or mean
                if self.declined is not None and self.declined[0] * 1.5 >= pc and \
                        k - self.declined[1] <= 64:
                    pool_ok = False
                elif saving + self._future_savings(k, pc) < 1.25 * start:
                    self.declined = (pc, k)
                    pool_ok = False
        # a running pool is never left for one-shot processes (its workers are warm: they
        # hold the values and have copied the pages of their rows)
        proc_ok = t_proc < GAIN * C and self.pool.pool is None and not few
        if pool_ok:
            choice = "pool"
        elif proc_ok:
            choice = "process"
        else:
            choice = "inline"
        pred = {key: round(v, 6) for key, v in pred.items()}
        pred["per_cell_us"] = round(1e6 * (C / n), 3)
        if choice == "inline":
            return "inline", par, pred, None
        if choice == "pool" and not self.fork:
            self.met_shapes.update(_shapes_sizes(par)[0])
        st = self.run.stats
        self._pending = (choice, C, t_pool if choice == "pool" else t_proc, st.pool_start,
                         st.worker_eval)
        return choice, par, pred, (T if choice == "pool" else None)

    def observe(self, choice: str, predicted, seconds: float) -> None:
        got, self._pending = self._pending, None
        if not got or got[0] != choice:
            return
        _, C, pred, start_before, eval_before = got
        st = self.run.stats
        if st.pool_start != start_before:
            # the pool started for this layer: fresh workers (and this process, which
            # shares its pages with them now) copy every page they first write to. That
            # warm-up is part of the start, not what later layers will cost: learn nothing
            return
        spent = st.worker_eval - eval_before         # the workers' evaluating time (wall:
        if C > 0 and spent > 0:                      # io-bound functions wait, not compute)
            r = max(1.0, spent / C)
            e = self._eta(choice)
            self.eta[choice] = min(6.0, max(1.0, e + 0.5 * (r - e)))
        if pred > 0:
            k = self.kappa[choice] * (0.5 + 0.5 * seconds / pred)
            self.kappa[choice] = min(5.0, max(0.7, k))
        # the safety net: parallel evaluation that is slower than inline is switched off
        if seconds >= C:
            self.losses += 1
            if self.losses >= 3:
                self.off = True
        else:
            self.losses = 0


def _rss_gb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
    except (OSError, ValueError, IndexError, AttributeError):
        return 1.0


def _shapes_sizes(par) -> tuple[list[int], list[int]]:
    """(shape id, cells) of each unit of `par`: a LayerView's from the plan's arrays (no
    WorkUnit made), a list's from its units."""
    if isinstance(par, LayerView):
        shapes, _sheets, bounds = par.layers.layer_arrays(par.j)
        return shapes.tolist(), np.diff(bounds).tolist()
    return [u.shape for u in par], [len(u.cells) for u in par]
