"""Strategy `auto`: per layer, a cost model picks inline, pool or process.

The model (all figures in seconds, measured during the run itself):

  c      evaluation cost per cell in the main process: per shape, from timing a strided
         sample of the layer's cells in the main process (those results are kept), else
         the sample's trimmed mean; layers evaluated inline refine a running mean `pc`
  C      predicted inline time of the layer's remaining cells = sum over units of n_u * c_u
  W      workers; T tasks (about C / 25 rtt, at most 3 per worker, never more than cells)
  rtt    round trip of an empty pool task (probe right after the pool starts)
  x      main-process cost per cell sent out and stored back (pickling the cell list and
         the values, dict updates): micro-benchmarked once per run
  d      cost per delta cell (gather + pickle in the main process, unpickle + apply in a
         worker); D = cells of the layers the least synced worker lacks
  start  cost of starting one process: measured once this run has started a pool or a
         process, estimated before (fork: from the resident size; spawn/forkserver:
         interpreter start + rebuilding the engine from the pickled workbook), plus, under
         spawn, compiling the shapes a worker has not met yet
  kappa  per executor, EWMA of actual / predicted time of the layers it ran (clamped)

  inline   = C
  pool     = kappa_pool * (C * eta / min(W, T) + (T / W) * rtt + n * x + D * d)
             (+ starting the pool, see below)
  process  = kappa_proc * (W * start + C * eta / W + n * x)        (fork: no deltas)
             spawn: + every computed value as a snapshot (F * d)

A layer goes out only when the best parallel prediction is < 0.8 x inline. The pool is
started when what it saves on this layer plus the predicted savings on the layers still to
come (same per-cell cost, their sizes known from the plan) exceeds 1.25 x its start cost.
Layers predicted below a few milliseconds skip all of this (one multiplication) and are
evaluated inline together, so chains of tiny layers run at serial speed.
"""
from __future__ import annotations

import os
import pickle
import statistics
import time

from ..evaluator.engine import PENDING
from ..graph.build import WorkUnit
from .base import Run, n_cells

ETA = 1.1                     # a worker evaluates a little slower (cold caches, page faults)
GAIN = 0.8                    # go parallel only below this fraction of the inline time
SAMPLE = 24                   # cells timed per layer in the main process
TASK_RTTS = 25                # aim for tasks of at least this many round trips of work
_CALIBRATED: tuple | None = None


class AutoPolicy:
    def __init__(self, run: Run, executors: dict):
        self.run = run
        self.W = run.workers
        self.pool = executors["pool"]
        self.proc = executors["process"]
        self.fork = run.start_method == "fork"
        self.pc_shape: dict[int, float] = {}
        self.pc: float | None = None
        self.kappa = {"pool": 1.0, "process": 1.0}
        self.x: float | None = None
        self.d: float | None = None
        self.start_one: float | None = None      # seconds to start one process
        self.sizes = [n_cells(layer) for layer in run.plan.layers]
        self.n_formulas = sum(len(f) for f in run.engine.formulas[:run.engine.n_local])
        self.met_shapes: set[int] = set()        # shapes pool workers have compiled (spawn)
        self.declined: tuple | None = None       # (pc, layer) when the pool was not worth it
        ev = run.engine
        shapes = max(1, len(ev.shapes))
        self.compile_per_shape = ev.report.timings.get("compile", 0.0) / shapes

    # ---------------------------------------------------------------------------------
    def floor(self) -> float:
        """Layers predicted below this many seconds are never worth sending out."""
        if self.pool.pool is not None and self.pool.rtt is not None:
            return max(0.002, 4 * self.pool.rtt)
        return 0.004 if self.fork else 0.05

    def quick_inline(self, k: int, n: int) -> bool:
        if n < 2 * self.W:
            return True
        return self.pc is not None and n * self.pc < self.floor()

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
        """Evaluate a strided sample of the layer's cells here, timing each (the values are
        kept). Returns the sample's per-cell mean, and the units without the sampled
        cells."""
        ev = self.run.engine
        total = n_cells(par)
        want = min(SAMPLE, total)
        step = total / want
        picks = sorted({int(i * step) for i in range(want)})
        times: dict[int, list] = {}
        rest = []
        t_all = 0.0
        pos = 0
        pi = 0
        for u in par:
            size = len(u.cells)
            hit = []
            while pi < len(picks) and picks[pi] < pos + size:
                hit.append(picks[pi] - pos)
                pi += 1
            pos += size
            if not hit:
                rest.append(u)
                continue
            for i in hit:
                rc = u.cells[i]
                t0 = time.perf_counter()
                ev.compute([(u.sheet, *rc)], on_cycle=self.run.cycles.append)
                dt = time.perf_counter() - t0
                t_all += dt
                times.setdefault(u.shape, []).append(dt)
            if len(hit) < size:
                hs = set(hit)
                rest.append(WorkUnit(u.shape, u.sheet,
                                     [rc for i, rc in enumerate(u.cells) if i not in hs]))
        self.run.stats.main_eval += t_all
        flat = sorted(t for ts in times.values() for t in ts)
        if not flat:
            return self.pc or 0.0, rest
        if len(flat) >= 8:
            flat = flat[:-1]                      # one outlier (a cache being built)
        mean = sum(flat) / len(flat)
        for sid, ts in times.items():
            self.pc_shape[sid] = statistics.median(ts) if len(ts) >= 3 else sum(ts) / len(ts)
        self._learn(mean)
        return mean, rest

    def _calibrate(self) -> None:
        """Per-cell transfer and delta costs, from a tiny synthetic round (~1 ms, once per
        process)."""
        global _CALIBRATED
        if _CALIBRATED is not None:
            self.x, self.d = _CALIBRATED
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
        got = [store.get(k) for k in keys]
        from array import array
        blob = pickle.dumps((None, [(0, array("i", [k[0] for k in keys]),
                                     array("i", [k[1] for k in keys]), got)]),
                            pickle.HIGHEST_PROTOCOL)
        _, parts = pickle.loads(blob)
        for _s, rows, cols, vs in parts:
            store.update(zip(zip(rows, cols), vs))
        t2 = time.perf_counter()
        # these loops run in a busy interpreter with bigger dicts: keep a margin
        self.x = 1.5 * (t1 - t0) / n
        self.d = 1.5 * (t2 - t1) / n
        _CALIBRATED = (self.x, self.d)

    def _start_cost_one(self) -> float:
        """Seconds to start one worker process: measured once a pool or a process has been
        started in this run, estimated before (fork: copying the page tables of this
        process, ~4 ms per GB resident; spawn/forkserver: a fresh interpreter importing
        xleval, then unpickling and indexing the workbook data)."""
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
        return self.W * self._start_cost_one() + 0.002

    # ---------------------------------------------------------------------------------
    def _estimate(self, par: list, mean: float) -> tuple[float, int, int]:
        """(predicted inline seconds, cells, shapes new to the pool workers)."""
        pcs = self.pc_shape
        met = self.met_shapes
        c_total = 0.0
        n = 0
        new = 0
        for u in par:
            m = len(u.cells)
            n += m
            c_total += m * pcs.get(u.shape, mean)
            if u.shape not in met:
                new += 1
        return c_total, n, new

    def _delta_cells(self, k: int, base: int) -> int:
        return sum(self.sizes[max(0, base + 1):k])

    def _pool_time(self, k: int, C: float, n: int, new_shapes: int) -> tuple[float, int]:
        W = self.W
        rtt = self.pool.rtt if self.pool.rtt is not None else (0.0005 if self.fork else 0.001)
        T = int(max(1, min(3 * W, n, C / (TASK_RTTS * rtt))))
        if self.pool.pool is not None:
            D = self._delta_cells(k, self.pool.base())
        else:
            D = 0 if self.fork else sum(self.sizes[:k])
        t = C * ETA / min(W, T) + (T / W) * rtt + n * self.x + D * self.d
        if not self.fork:
            t += new_shapes * self.compile_per_shape / min(W, T)
        return self.kappa["pool"] * t, T

    def _process_time(self, k: int, C: float, n: int, new_shapes: int) -> float:
        W = min(self.W, n)
        t = W * self._start_cost_one() + C * ETA / W + n * self.x
        if not self.fork:
            t += sum(self.sizes[:k]) * self.d + new_shapes * self.compile_per_shape / W
        return self.kappa["process"] * t

    def _future_savings(self, k: int, per_cell: float) -> float:
        """What the pool would save on the layers after k (same per-cell cost)."""
        W = self.W
        rtt = self.pool.rtt or (0.0005 if self.fork else 0.001)
        total = 0.0
        for j in range(k + 1, len(self.sizes)):
            m = self.sizes[j]
            C = m * per_cell
            if C < self.floor():
                continue
            T = max(1, min(3 * W, m, C / (TASK_RTTS * rtt)))
            par = C * ETA / min(W, T) + (T / W) * rtt + m * (self.x + self.d)
            if par < GAIN * C:
                total += C - par
        return total

    # ---------------------------------------------------------------------------------
    def decide(self, k: int, par: list):
        mean, par = self._sample(par)
        C, n, new_shapes = self._estimate(par, mean)
        if n < 2 or C < self.floor():
            return "inline", par, None, None
        if self.x is None:
            self._calibrate()
        t_pool, T = self._pool_time(k, C, n, new_shapes)
        t_proc = self._process_time(k, C, n, new_shapes)
        pred = {"inline": C, "pool": t_pool, "process": t_proc}
        pool_ok = t_pool < GAIN * C
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
        proc_ok = t_proc < GAIN * C
        if pool_ok and (not proc_ok or self.pool.pool is None or t_pool <= t_proc):
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
            self.met_shapes.update(u.shape for u in par)
        self._predicted = (choice, t_pool if choice == "pool" else t_proc,
                           self.run.stats.pool_start)
        return choice, par, pred, (T if choice == "pool" else None)

    def observe(self, choice: str, predicted, seconds: float) -> None:
        got = getattr(self, "_predicted", None)
        self._predicted = None
        if not got or got[0] != choice or got[1] <= 0:
            return
        # a pool started for this layer: its start is not the model's error
        seconds -= self.run.stats.pool_start - got[2]
        ratio = seconds / got[1]
        k = self.kappa[choice] * (0.5 + 0.5 * ratio)
        self.kappa[choice] = min(5.0, max(0.7, k))


def _rss_gb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
    except (OSError, ValueError, IndexError, AttributeError):
        return 1.0
