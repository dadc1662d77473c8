"""Main-process side shared by the parallel strategies: which cells may leave the main
process, deltas, cutting a layer into tasks, storing results, run statistics.

A layer's work units are split into
  * parallel units: evaluated by workers (or inline when a layer is too small to pay);
  * main-only units: shapes with dynamic references (INDIRECT, OFFSET, `A1:INDEX(..)`, spill
    references `A1#`), volatile functions, data tables and dynamic-array anchors (which may
    spill past their recorded range). They run in the main process after the parallel part
    of their layer, through `engine.compute` and its pull fallback.
A worker that hits a value it does not have returns the cell as not done; the main process
evaluates it after the layer. Values a worker sends back are the same values the serial
evaluation computes, so every strategy gives identical results.
"""
from __future__ import annotations

import math
import os
import pickle
import time
from array import array
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from ..evaluator.engine import PENDING
from ..forking import MAX_WORKERS
from ..graph.build import Layers, LayerView, WorkUnit
from ..parser.ast import Postfix, walk

_CELLS = attrgetter("cells")      # a unit's cells, for C-level maps over units

START_METHODS = ("fork", "spawn", "forkserver")


class WorkerFailure(Exception):
    """A worker died or failed while evaluating a layer."""

    def __init__(self, layer: int, what: str, detail: str = ""):
        super().__init__(f"{what} ({detail})" if detail else what)
        self.layer = layer
        self.what = what
        self.detail = detail

    def warning(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return (f"{self.what} while evaluating layer {self.layer}{detail}; "
                "layer recomputed in-process")


class StartFailure(WorkerFailure):
    """Worker processes could not be started at all (a daemonic process, no fork...)."""


def resolve_start_method(start_method: str | None = None) -> str:
    """The explicit argument, else XLEVAL_START_METHOD, else multiprocessing's current
    method (which is the platform default unless the program set another)."""
    import multiprocessing as mp
    m = start_method or os.environ.get("XLEVAL_START_METHOD") or mp.get_start_method()
    m = m.strip().lower()
    if m not in START_METHODS or m not in mp.get_all_start_methods():
        raise ValueError(f"start method {m!r} is not available here; choose from "
                         f"{', '.join(x for x in START_METHODS if x in mp.get_all_start_methods())}")
    return m


def lenient_context():
    """The multiprocessing context of XLEVAL_START_METHOD, or the default one when it is
    unset or not available here: the helper processes of links and io functions must start
    whatever the setting says."""
    import multiprocessing as mp
    try:
        return mp.get_context(os.environ.get("XLEVAL_START_METHOD") or None)
    except ValueError:
        return mp.get_context()


def default_workers() -> int:
    """One worker per core this process may use (at most MAX_WORKERS)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return min(MAX_WORKERS, max(1, n))


def free_workers(workers: int) -> int:
    """How many of `workers` processes can really run at once: fewer when other programs
    keep the cores busy right now (see running_others), never fewer than one."""
    others = running_others()
    if others is None:
        return workers
    return max(1, min(workers, default_workers() - others))


def running_others() -> int | None:
    """Tasks of other processes running or ready to run now. Linux: the runnable count of
    /proc/loadavg less this process's own runnable threads (numpy's BLAS threads may be
    spinning), the least of three looks 1 ms apart; it does not lag as the load average
    does, so a run that just finished (this process's own workers, the previous program)
    does not count. Elsewhere: the 1-minute load average less this process, or None."""
    got = []
    try:
        for i in range(3):
            if i:
                time.sleep(0.001)
            with open("/proc/loadavg") as fh:
                running = int(fh.read().split()[3].split("/")[0])
            own = 0
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/stat") as fh:
                        own += fh.read().rsplit(")", 1)[1].split()[0] == "R"
                except OSError:
                    pass                     # a thread that just ended
            got.append(running - own)
    except (OSError, ValueError, IndexError):
        try:
            return max(0, round(os.getloadavg()[0] - 1.0))
        except (AttributeError, OSError):
            return None
    return max(0, min(got))


@dataclass
class LayerChoice:
    layer: int
    cells: int
    choice: str                       # inline / pool / process
    predicted: dict | None = None     # auto: predicted seconds per option


@dataclass
class RunStats:
    """What a run of a plan did, for `xleval bench` and debugging."""
    strategy: str = "serial"
    workers: int = 1
    start_method: str = ""
    seconds: float = 0.0              # wall time of run_plan
    main_eval: float = 0.0            # evaluating in the main process
    dispatch: float = 0.0             # main process: starting workers, building tasks and
    #                                   deltas, storing results, recovering from failures
    worker_eval: float = 0.0          # summed over workers (wall time)
    worker_cpu: float = 0.0           # the same, CPU time
    worker_sync: float = 0.0          # workers applying deltas, summed
    pool_start: float = 0.0
    delta_bytes: int = 0
    tasks: int = 0
    tasks_inherited: int = 0          # of those, sent as an index (prepared before a fork)
    batched: int = 0                  # layers evaluated in batches (PoolExecutor.run_batch)
    handed_back: int = 0              # cells of batches that workers handed back not done
    choices: list[LayerChoice] = field(default_factory=list)
    counts: dict = field(default_factory=dict)       # choice -> [layers, cells]

    def choose(self, layer: int, cells: int, choice: str, predicted=None, keep=True) -> None:
        c = self.counts.setdefault(choice, [0, 0])
        c[0] += 1
        c[1] += cells
        if keep and len(self.choices) < 500:
            self.choices.append(LayerChoice(layer, cells, choice, predicted))

    def dispatch_share(self) -> float:
        """Share of the wall time spent on dispatch and transfer: the main process's own
        dispatch work plus the workers' delta work (spread over the workers)."""
        if self.seconds <= 0:
            return 0.0
        over = self.dispatch + self.worker_sync / max(1, self.workers)
        return min(1.0, over / self.seconds)

    def as_dict(self) -> dict:
        return {
            "strategy": self.strategy, "workers": self.workers,
            "start_method": self.start_method, "seconds": self.seconds,
            "main_eval": self.main_eval, "dispatch": self.dispatch,
            "worker_eval": self.worker_eval, "worker_cpu": self.worker_cpu,
            "worker_sync": self.worker_sync,
            "pool_start": self.pool_start, "delta_bytes": self.delta_bytes,
            "tasks": self.tasks, "tasks_inherited": self.tasks_inherited,
            "dispatch_share": self.dispatch_share(),
            "batched": self.batched, "handed_back": self.handed_back,
            "counts": {k: {"layers": v[0], "cells": v[1]} for k, v in self.counts.items()},
            "layers": [{"layer": c.layer, "cells": c.cells, "choice": c.choice,
                        **({"predicted": c.predicted} if c.predicted else {})}
                       for c in self.choices],
        }



def n_cells(units) -> int:
    return sum(map(len, map(_CELLS, units)))


class Run:
    """State of one parallel run of a plan: the engine, the plan, deltas, statistics."""

    def __init__(self, engine, plan, strategy: str, workers: int, start_method: str):
        self.engine = engine
        self.plan = plan
        self.workers = workers
        self.start_method = start_method
        self.stats = RunStats(strategy, workers, start_method)
        self.cycles: list = []
        # which shapes must stay in the main process, per family (its members differ only
        # in their numbers): cached on the engine (shape ids are stable; a shape never
        # changes once made)
        got = engine.__dict__.get("_schedule_main_only")
        if got is None:
            got = engine.__dict__["_schedule_main_only"] = {}
        self._main_only: dict[int, int] = got       # family id -> code (see _classify)
        fam = engine.__dict__.get("_schedule_family_of")
        if fam is None or len(fam) != len(engine.shapes):
            fam = engine.__dict__["_schedule_family_of"] = [
                sh.family if sh.family >= 0 else sh.id for sh in engine.shapes]
        self._family_of: list[int] = fam            # shape id -> family id
        self._names: list[str] | None = None
        self._deltas: dict[int, bytes] = {}
        self.layer = -1               # layers <= this one are complete in the main process
        self.failures = 0
        self._has_arrays: bool | None = None
        self.sizes = plan.sizes
        self._files: list[str] = []
        self._payload_path: str | None = None
        # pool: consecutive layers in batches (run_batch) of at most this many layers; 0
        # after a batch that handed back too many cells
        self.batch_layers = BATCH_LAYERS

    @property
    def has_arrays(self) -> bool:
        if self._has_arrays is None:
            self._has_arrays = self.engine.has_array_shapes()
        return self._has_arrays

    # ---------------------------------------------------------------------------------
    # files handed to spawned workers (see worker.init_spawn)
    # ---------------------------------------------------------------------------------
    def temp_file(self, data: bytes, what: str) -> str:
        import tempfile
        d = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        fd, path = tempfile.mkstemp(prefix=f"xleval-{what}-", suffix=".pickle", dir=d)
        self._files.append(path)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path

    def payload_path(self) -> str:
        """The workbook data a spawned worker rebuilds its engine from (written once)."""
        if self._payload_path is None:
            from .worker import spawn_payload
            self._payload_path = self.temp_file(spawn_payload(self.engine), "workbook")
        return self._payload_path

    def remove_file(self, path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass
        if path in self._files:
            self._files.remove(path)

    def remove_files(self) -> None:
        for path in self._files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._files.clear()
        self._payload_path = None

    # ---------------------------------------------------------------------------------
    # which work may leave the main process
    # ---------------------------------------------------------------------------------
    def layer_units(self, j: int):
        """Layer j's units: a LayerView of the plan's arrays (units made only if read)."""
        layers = self.plan.layers
        return layers.view(j) if isinstance(layers, Layers) else layers[j]

    def whole(self, j: int, units) -> bool:
        """Is `units` all of layer j, as layer_units gave it? split and vector_first hand
        such a layer on untouched when every unit may leave and the vector path takes
        none, and counts and tasks then come from the plan's arrays (units are only ever
        dropped or cut into new lists, never changed in place)."""
        return (type(units) is LayerView and units.j == j
                and units.layers is self.plan.layers)

    def count(self, j: int, units) -> int:
        """The cells of `units` of layer j."""
        return self.sizes[j] if self.whole(j, units) else n_cells(units)

    def main_only(self, unit: WorkUnit) -> bool:
        fid = self._family_of[unit.shape]
        code = self._main_only.get(fid)
        if code is None:
            self._classify([fid])
            code = self._main_only[fid]
        return self._code_keeps(code, unit)

    def _code_keeps(self, code: int, unit: WorkUnit) -> bool:
        if code == 2:              # an array formula: a dynamic array may spill anywhere
            f = self.engine.formulas[unit.sheet]
            return any(f[rc].dynamic for rc in unit.cells)
        return code == 1

    def _classify(self, fids) -> None:
        """Fill the codes of families `fids` (a shape outside families is its own): 1, main
        process only; 2, array formula (per cell: dynamic arrays are main only); 0, may go
        to a worker. A shape stays in the main process when it calls a volatile or a
        dynamic-reference function (INDIRECT, OFFSET, Python functions...), is a data table,
        or (beyond what the compiler flags) has a range operator with a computed end
        (A1:INDEX(..)) or a spill reference (A1#, stored as _xlfn.ANCHORARRAY(A1)), also
        inside defined names. The family's template answers for its members (whose own
        trees are built only on demand, see FamilyShape)."""
        shapes = self.engine.shapes
        codes = self._main_only
        for fid in fids:
            sh = shapes[fid]
            info = sh.info
            if info.dynamic or info.volatile or sh.key.startswith("TABLE|"):
                code = 1
            elif sh.tree is None:
                code = 0
            else:
                t = sh.text
                code = 1 if (":" in t or "#" in t or "ANCHORARRAY" in t.upper()
                             or self._maybe_name(t)) and \
                    self._dynamic_tree(sh) else 0
            if code == 0 and sh.array:
                code = 2
            codes[fid] = code

    def _dynamic_tree(self, shape) -> bool:
        from ..graph.build import _templates
        try:
            if _templates(self.engine, shape).dynamic:
                return True
        except Exception:  # noqa: BLE001 - when in doubt, keep it in the main process
            return True
        return any(isinstance(n, Postfix) and n.op == "#" for n in walk(shape.tree))

    def _maybe_name(self, text: str) -> bool:
        """Could `text` use a defined name (whose definition might be dynamic)?"""
        names = self._names
        if names is None:
            names = self._names = [n for (_, n) in self.engine.names]
        if not names:
            return False
        up = text.upper()
        return any(n in up for n in names)

    def split(self, layer, j: int | None = None):
        """(units that may go to workers, units that stay in the main process). When
        `layer` is all of layer j as layer_units gives it (see whole), its families are
        read from the plan's arrays, with no pass over its units (a layer of hand-typed
        formulas has a unit per cell), and it is handed on itself if every unit may leave."""
        codes = self._main_only
        fam = self._family_of
        whole = j is not None and self.whole(j, layer)
        if whole:
            fids = list(set(map(fam.__getitem__, self.plan.layers.layer_arrays(j)[0].tolist())))
        else:
            fids = [fam[u.shape] for u in layer]
        flags = list(map(codes.get, fids))
        if None in flags:
            self._classify({f for f, c in zip(fids, flags) if c is None})
            flags = list(map(codes.get, fids))
        if not any(flags):            # the usual case: every unit may leave
            return (layer if whole else list(layer)), []
        if whole:
            flags = [codes[fam[u.shape]] for u in layer]
        par, main = [], []
        for u, code in zip(layer, flags):
            if code and self._code_keeps(code, u):
                main.append(u)
            else:
                par.append(u)
        return par, main

    # ---------------------------------------------------------------------------------
    # evaluating in the main process
    # ---------------------------------------------------------------------------------
    def compute(self, keys) -> int:
        t0 = time.perf_counter()
        n = self.engine.compute(keys, on_cycle=self.cycles.append)
        self.stats.main_eval += time.perf_counter() - t0
        return n

    def vector_first(self, units: list, j: int | None = None) -> list:
        """Compute here, at once, what the vector fast path takes of `units` (numpy over a
        column in this process costs less than any dispatch, see evaluator/vector.py) and
        return the units with only the cells it left pending. The layer's delta reads every
        cell's value from this process, so workers of later layers see these too."""
        from ..evaluator.vector import MIN_CELLS
        ev = self.engine
        t0 = time.perf_counter()
        if not units:
            return units
        widest = (self.plan.layers.widest(j) if j is not None and self.whole(j, units)
                  else max(map(len, map(_CELLS, units))))
        if widest < MIN_CELLS:
            return units               # one cell per shape (hand-typed constants): none
        out = []
        for u in units:
            done = ev.eval_unit(u.sheet, u.cells) if len(u.cells) >= MIN_CELLS else 0
            if not done:
                out.append(u)
            elif done < len(u.cells):            # (all stored: nothing to look for)
                d = ev.cells[u.sheet]
                rest = [k for k in u.cells if d.get(k) is PENDING]
                if rest:
                    out.append(WorkUnit(u.shape, u.sheet, rest))
        self.stats.main_eval += time.perf_counter() - t0
        return out

    # ---------------------------------------------------------------------------------
    # batches of layers without a barrier (pool, see PoolExecutor.run_batch)
    # ---------------------------------------------------------------------------------
    def batch_next(self, j: int, threshold: float, total: int) -> list | None:
        """Layer j's units if it may join a batch of layers holding `total` cells so far:
        large (at least `threshold` cells, so every worker gets a block), wholly for the
        workers, with nothing for the vector path (which runs here, on complete earlier
        layers) and no array formulas, within BATCH_CELLS cells in all. Else None."""
        from ..evaluator.vector import ENABLED, MIN_CELLS, program_for
        if self.has_arrays or j >= len(self.plan.layers):
            return None
        n = self.sizes[j]
        if n < threshold or n < 2 * self.workers or total + n > BATCH_CELLS:
            return None
        par, main = self.split(self.layer_units(j), j)
        if main:
            return None
        if ENABLED and n > len(par):          # (one cell per unit: nothing to vectorize)
            ev = self.engine
            shapes = ev.shapes
            if any(len(u.cells) >= MIN_CELLS and program_for(ev, shapes[u.shape]) is not None
                   for u in par):
                return None
        return par

    def batch_result(self, layers: list, not_done: list, gave_up: bool) -> None:
        """Count a batch; give up batching for this run when one handed back too many cells
        (its rows did not stay with their worker, and the main process computed them)."""
        self.stats.batched += len(layers)
        self.stats.handed_back += len(not_done)
        if gave_up:
            self.batch_layers = 0

    def compute_units(self, units) -> int:
        # through the vector fast path first (evaluator/vector.py), as the serial strategy
        from ..evaluator.vector import layer_order
        return self.compute(layer_order(self.engine, [units]))

    # ---------------------------------------------------------------------------------
    # tasks and results
    # ---------------------------------------------------------------------------------
    def layer_tasks(self, j: int, units, n_tasks: int, total: int | None = None):
        """make_tasks for units of layer j: when they are the whole layer, its runs of
        units on one sheet are slices of the plan's flat cell list (Layers.segments),
        instead of flattening a unit per cell of hand-typed formulas (4 ms per 20k
        units). Units are only ever dropped or cut (split, vector_first), never grown:
        as many units holding as many cells as the layer are the whole layer."""
        layers = self.plan.layers
        if not self.whole(j, units) and (
                not isinstance(layers, Layers) or j >= len(layers)
                or len(units) != self.plan.unit_counts[j]
                or sum(map(len, map(_CELLS, units))) != self.sizes[j]):
            return self.make_tasks(units, n_tasks, total)
        flat = layers.flat
        return self._cut([(sheet, flat[a:b], sid) for sheet, a, b, sid in layers.segments(j)],
                         n_tasks, total)

    @staticmethod
    def make_tasks(units, n_tasks: int, total: int | None = None):
        """Cut units into `n_tasks` lists of chunks (shape id, sheet, cells) with about the
        same number of cells, in order. Consecutive units of one sheet are merged into one
        chunk (shape id -1: several shapes; the worker looks each cell's shape up itself)
        and a chunk is split where a task ends."""
        # runs of consecutive units on one sheet, flattened (units are never modified);
        # a layer of hand-typed formulas has a unit per cell: one comprehension per run
        segs: list[tuple] = []            # (sheet, cells, shape id or -1)
        for sheet, run in groupby(units, key=attrgetter("sheet")):
            run = list(run)
            sid = run[0].shape
            if len(run) == 1:
                segs.append((sheet, run[0].cells, sid))
                continue
            if any(u.shape != sid for u in run):    # (stops at the first other shape)
                sid = -1
            segs.append((sheet, [c for u in run for c in u.cells], sid))
        return Run._cut(segs, n_tasks, total)

    @staticmethod
    def _cut(segs: list[tuple], n_tasks: int, total: int | None) -> list[list]:
        """Cut segments (sheet, cells, shape id) into `n_tasks` lists of chunks (shape id,
        sheet, cells) of about the same number of cells, in order (see make_tasks)."""
        if total is None:
            total = sum([len(seg[1]) for seg in segs])
        n_tasks = max(1, min(n_tasks, total))
        bounds = [round(total * (t + 1) / n_tasks) for t in range(n_tasks)]
        tasks: list[list] = [[] for _ in range(n_tasks)]
        t = pos = 0
        for sheet, cells, sid in segs:
            i, size = 0, len(cells)
            while i < size:
                while pos >= bounds[t]:
                    t += 1
                take = min(size - i, bounds[t] - pos)
                part = cells if (i == 0 and take == size) else cells[i:i + take]
                tasks[t].append((sid, sheet, part))
                i += take
                pos += take
        return [t for t in tasks if t]

    def take_answer(self, chunks, answer, warnings: list) -> list:
        """Take a worker's answer to `chunks` (worker.run_task's tuple): store its values,
        keep its warnings (each once) and add up its timings. Returns the cells it could
        not compute (pulled a pending cell from elsewhere), for the main process."""
        _pid, _synced, results, warns, t_sync, t_eval, t_cpu = answer
        not_done = self.store_results(chunks, results)
        for x in warns:
            if x not in warnings:
                warnings.append(x)
        st = self.stats
        st.worker_sync += t_sync
        st.worker_eval += t_eval
        st.worker_cpu += t_cpu
        return not_done

    def store_results(self, chunks, results) -> list:
        """Write a task's results into the main store; returns the keys not done."""
        cells = self.engine.cells
        formulas = self.engine.formulas
        not_done = []
        for (sid, s, keys), (vals, covered, nd) in zip(chunks, results):
            d = cells[s]
            d.update(zip(keys, vals))
            for i, cvals in covered:
                rc = keys[i]
                r1, c1, r2, c2 = formulas[s][rc].ref
                it = iter(cvals)
                for rr in range(r1, r2 + 1):
                    for cc in range(c1, c2 + 1):
                        if (rr, cc) != rc:
                            d[(rr, cc)] = next(it)
            for i in nd:
                d[keys[i]] = PENDING
                not_done.append((s, *keys[i]))
        return not_done

    # ---------------------------------------------------------------------------------
    # deltas
    # ---------------------------------------------------------------------------------
    def _meta(self):
        """The sheets' used extents and the dynamic arrays' spill extents (both only ever
        grow, and are small): sent whole with every delta."""
        ev = self.engine
        spill = dict(getattr(ev, "_spill_extent", {}) or {})
        return ([tuple(e) for e in ev.extent[:ev.n_local]], spill)

    def _pack(self, triples) -> bytes:
        """Pickle per-sheet cell/value lists as a delta."""
        per: dict[int, tuple] = {}
        for s, keys, vals in triples:
            if not keys:
                continue
            got = per.get(s)
            if got is None:
                got = per[s] = (array("i"), array("i"), [])
            rows, cols, out = got
            if PENDING in vals:          # (never after a complete layer; a snapshot filters)
                keep = [(k, v) for k, v in zip(keys, vals) if v is not PENDING]
                if not keep:
                    continue
                keys = [k for k, _ in keep]
                vals = [v for _, v in keep]
            rs, cs = zip(*keys)
            rows.extend(rs)
            cols.extend(cs)
            out.extend(vals)
        parts = [(s, rows, cols, vals) for s, (rows, cols, vals) in per.items() if vals]
        data = pickle.dumps((self._meta(), parts), protocol=pickle.HIGHEST_PROTOCOL)
        self.stats.delta_bytes += len(data)
        return data

    def _extra_cells(self, s, keys):
        """Cells besides `keys` whose values a layer produced: what array formulas cover
        and dynamic arrays spilled past their recorded range."""
        ev = self.engine
        f = ev.formulas[s]
        spill = getattr(ev, "_spill_extent", None) or {}
        out = []
        for rc in keys:
            fc = f.get(rc)
            if fc is None or fc.ref is None:
                continue
            r1, c1, r2, c2 = fc.ref
            ext = spill.get((s, *rc))
            if ext:
                r2, c2 = max(r2, ext[0]), max(c2, ext[1])
            for rr in range(r1, r2 + 1):
                for cc in range(c1, c2 + 1):
                    if (rr, cc) != rc:
                        out.append((rr, cc))
        return out

    def layer_delta(self, j: int) -> bytes:
        got = self._deltas.get(j)
        if got is not None:
            return got
        ev = self.engine
        per: dict[int, list] = {}
        arrays = []
        layer = self.plan.layers[j]
        for u in layer:
            got = per.get(u.sheet)
            if got is None:
                per[u.sheet] = list(u.cells)
            else:
                got.extend(u.cells)
        if self.has_arrays:
            shapes = ev.shapes
            arrays = [u for u in layer if shapes[u.shape].array]
        for u in arrays:
            per[u.sheet].extend(self._extra_cells(u.sheet, u.cells))
        triples = [(s, keys, list(map(ev.cells[s].get, keys))) for s, keys in per.items()]
        data = self._deltas[j] = self._pack(triples)
        return data

    def snapshot(self, j: int, *, cache: bool = True) -> bytes:
        """One delta holding every formula (and covered) cell value the main process has
        now: what a freshly spawned worker needs to be in sync with layers <= j."""
        ev = self.engine
        triples = []
        for s in range(ev.n_local):
            d = ev.cells[s]
            keys = [k for k in ev.formulas[s] if d.get(k) is not PENDING]
            keys += [k for k in ev.covered[s] if d.get(k) is not PENDING]
            spill = getattr(ev, "_spill_extent", None) or {}
            for (ss, r1, c1), (r2, c2) in spill.items():
                if ss == s:
                    keys += [(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)]
            triples.append((s, keys, list(map(d.get, keys))))
        data = self._pack(triples)
        if cache:
            self._deltas[j] = data
        return data

    def deltas_after(self, base: int, upto: int, floor: int = -2):
        """The deltas of layers base+1 .. upto (starting no earlier than `floor`, where a
        snapshot stands for every layer before it)."""
        t0 = time.perf_counter()
        out = [(j, self._deltas.get(j) or self.layer_delta(j))
               for j in range(max(base + 1, floor), upto + 1)]
        self.stats.dispatch += time.perf_counter() - t0
        return out

    def forget_deltas(self, upto: int) -> None:
        """Deltas every live worker has applied are not needed any more."""
        for j in [j for j in self._deltas if j <= upto]:
            del self._deltas[j]

    def reset_deltas(self) -> None:
        self._deltas.clear()


# ----------------------------------------------------------------------------------------
# the layer loop shared by pool / process / auto
# ----------------------------------------------------------------------------------------
MAX_FAILURES = 3
BATCH_LAYERS = 64         # at most this many layers in a batch without barriers ...
BATCH_CELLS = 2_000_000   # ... and this many cells (a batch whose rows move ends early)
BATCH_GIVE_UP = 0.02      # a batch takes no further layer once more than 2% of the cells
#                           answered so far came back not done; no batches after it


class FixedPolicy:
    """`pool` / `process`: send out every layer with at least `min_cells` parallel cells."""

    def __init__(self, choice: str, min_cells: int, workers: int, run: Run):
        self.choice = choice
        self.threshold = min_cells
        self.workers = workers
        self.run = run

    def min_cells(self) -> float:
        """Layers with fewer cells run inline without asking decide()."""
        return self.threshold

    def inlined(self, n: int, seconds: float) -> None:
        pass

    def decide(self, k: int, par: list):
        if self.run.count(k, par) < self.threshold:
            return "inline", par, None, None
        return self.choice, par, None, None

    def observe(self, choice: str, predicted, seconds: float) -> None:
        pass


def execute(run: Run, policy, executors: dict) -> None:
    """Evaluate the plan's layers: each either inline (in this process, serial order) or
    sent out by the executor the policy chose; then the tail, serially."""
    from .serial import keep_last_values, run_tail
    engine = run.engine
    plan = run.plan
    stats = run.stats
    # consecutive inline layers batch_from..k-1, evaluated in one go: a slice of the
    # plan's layers when flushed (a chain has thousands, read as spans: no unit is made)
    batch_from = -1
    batch_cells = 0
    quick_layers = quick_cells = 0

    def flush(end: int):
        nonlocal batch_from, batch_cells
        if batch_from < 0:
            return
        t0 = time.perf_counter()
        from ..evaluator.vector import layer_order
        # vector fast path, as serial
        run.compute(layer_order(run.engine, plan.layers[batch_from:end]))
        policy.inlined(batch_cells, time.perf_counter() - t0)
        batch_from = -1
        batch_cells = 0

    ok = False
    try:
        sizes = run.sizes
        threshold = policy.min_cells()
        skip_to = -1              # layers up to this one were evaluated in a batch
        for k in range(len(plan.layers)):
            if k <= skip_to:
                continue
            n = sizes[k]
            if n < threshold:
                if batch_from < 0:
                    batch_from = k
                batch_cells += n
                quick_layers += 1
                quick_cells += n
                continue
            flush(k)
            layer = run.layer_units(k)
            run.layer = k - 1
            par, main = run.split(layer, k)
            par = run.vector_first(par, k)
            choice, todo, predicted, ntasks = (policy.decide(k, par) if par else
                                               ("inline", par, None, None))
            stats.choose(k, n, choice, predicted, keep=choice != "inline" or bool(predicted))
            if choice == "inline":
                t0 = time.perf_counter()
                # what the vector path and the samples left (not the whole layer again)
                run.compute_units([*todo, *main])     # (todo may be a LayerView)
                policy.inlined(n, time.perf_counter() - t0)
                run.layer = k
                threshold = policy.min_cells()
                continue
            # (a cell the main process already computed, pulled ahead by a dynamic reference,
            # is evaluated again by its worker: same value, no harm)
            not_done: list = []
            layers = [(k, todo)]      # the layers sent out (a batch may grow this list)
            if todo:
                ex = executors[choice]
                t0 = time.perf_counter()
                nxt = None
                if choice == "pool" and not main and run.batch_layers > 1:
                    t1 = time.perf_counter()
                    n_todo = run.count(k, todo)
                    nxt = run.batch_next(k + 1, threshold, n_todo)
                    stats.dispatch += time.perf_counter() - t1
                try:
                    if nxt:
                        layers.append((k + 1, nxt))
                        not_done, gave_up = ex.run_batch(
                            layers, lambda j, total: run.batch_next(j, threshold, total))
                        run.batch_result(layers, not_done, gave_up)
                        # (sizes, not the units: while the workers live, every page read
                        # here costs a copy; a batch's later layers are wholly parallel)
                        n_batch = n_todo + sum([sizes[j] for j, _ in layers[1:]])
                        policy.observe(choice, predicted,
                                       (time.perf_counter() - t0) * n_todo / n_batch)
                        for j, _units in layers[1:]:
                            stats.choose(j, sizes[j], choice, None, keep=False)
                    else:
                        not_done = (ex.run_layer(k, todo, ntasks) if ntasks else
                                    ex.run_layer(k, todo))
                        policy.observe(choice, predicted, time.perf_counter() - t0)
                except WorkerFailure as f:
                    engine.report.warnings.append(f.warning())
                    t1 = time.perf_counter()
                    ex.close(kill=True)
                    run.reset_deltas()
                    stats.dispatch += time.perf_counter() - t1
                    run.failures += 1
                    if isinstance(f, StartFailure):
                        threshold = math.inf
                    elif run.failures >= MAX_FAILURES:
                        threshold = math.inf
                        engine.report.warnings.append(
                            f"parallel evaluation stopped after {run.failures} worker failures; "
                            "the remaining layers were evaluated in-process")
                    # what the workers did not deliver (every layer the batch had taken)
                    from ..evaluator.vector import layer_order
                    run.compute(layer_order(engine, [units for _, units in layers]))
            batch_to = layers[-1][0]
            if not_done:
                run.compute(not_done)
            if main:
                run.compute_units(main)
            run.layer = batch_to
            skip_to = batch_to
            if threshold != math.inf:
                threshold = policy.min_cells()
        flush(len(plan.layers))
        run.layer = len(plan.layers) - 1
        if quick_layers:
            c = stats.counts.setdefault("inline", [0, 0])
            c[0] += quick_layers
            c[1] += quick_cells
        ok = True
    finally:
        try:
            for ex in executors.values():
                ex.close(kill=not ok)
        finally:
            run.remove_files()
    run_tail(engine, plan, on_cycle=run.cycles.append)
    keep_last_values(engine, plan, run.cycles)
