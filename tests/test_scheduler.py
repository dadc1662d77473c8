"""The parallel schedulers: every strategy gives serial's values (fork and spawn), worker
deaths are recovered from with a warning, Ctrl-C stops promptly, no child process is left.

No wall-clock assertions here (see benchmarks/ and `xleval bench` for speed)."""
import csv
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

import pytest

import xleval
from xleval.functions.registry import NUMBER, xl
from xleval.evaluator import numbers as numbers_mod
from xleval.scheduler import auto as auto_mod
from xleval.scheduler import base as base_mod
from xleval.scheduler import pool as pool_mod
from xleval.scheduler import process as process_mod
from xleval.scheduler import run_plan, worker

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "workbooks"
CONFORMANCE = ROOT / ".." / "shared" / "conformance"
MAIN_PID = os.getpid()


# test-only functions: they misbehave only in a (forked) worker process, where MAIN_PID is
# inherited from the test process; in the main process they return their argument
@xl("XLTEST.EXIT", NUMBER)
def _exit_in_worker(x):
    if os.getpid() != MAIN_PID:
        os._exit(3)
    return x


@xl("XLTEST.SLOW", NUMBER)
def _slow(x):
    end = time.perf_counter() + 0.002            # an expensive cell: 2 ms of CPU
    while time.perf_counter() < end:
        pass
    return x * 2


@xl("XLTEST.KILL", NUMBER)
def _kill_in_worker(x):
    if os.getpid() != MAIN_PID:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------
def _children():
    """Live child processes of this process, minus multiprocessing's own long-lived
    helpers (the resource tracker and the forkserver, started once per process by
    spawn/forkserver and shared by every pool)."""
    helpers = set()
    from multiprocessing import resource_tracker
    rt = getattr(resource_tracker, "_resource_tracker", None)
    if rt is not None and getattr(rt, "_pid", None):
        helpers.add(rt._pid)
    try:
        from multiprocessing import forkserver
        fs = forkserver._forkserver
        if getattr(fs, "_forkserver_pid", None):
            helpers.add(fs._forkserver_pid)
    except Exception:  # noqa: BLE001
        pass
    try:
        import psutil
        kids = psutil.Process().children(recursive=True)
        return [p.pid for p in kids if p.pid not in helpers and p.status() != psutil.STATUS_ZOMBIE]
    except ImportError:
        me = os.getpid()
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == me and fields[0] != "Z" and int(d) not in helpers:
                out.append(int(d))
        return out


def assert_no_children(timeout=3.0):
    deadline = time.time() + timeout
    while True:
        kids = _children()
        if not kids or time.time() > deadline:
            break
        time.sleep(0.05)
    assert kids == [], f"child processes left behind: {kids}"


def _wide(n=300):
    """Several sheets, copied-down columns, cross-sheet reads, errors, text, booleans, an
    array formula and a small chain: enough layers and cells to be cut into tasks."""
    a = {}
    for r in range(1, n + 1):
        a[f"A{r}"] = r * 1.5
        a[f"B{r}"] = (r % 7) - 3
        a[f"C{r}"] = f"=A{r}*B{r}+1"
        a[f"D{r}"] = f"=C{r}/B{r}"                       # #DIV/0! where B is 0
        a[f"E{r}"] = f'=IF(C{r}>10,"big","small")'
        a[f"F{r}"] = f"=C{r}>0"
        a[f"G{r}"] = f"=IFERROR(D{r},-1)*2+C{r}"
        a[f"H{r}"] = f'=E{r}&"-"&F{r}'
    a["J1"] = "=G1"
    for r in range(2, 16):
        a[f"J{r}"] = f"=J{r - 1}+G{r}"                  # a chain: one cell per layer
    a["K1:K3"] = "{=C1:C3*10}"
    a["L1"] = "=K2+K3"
    b = {f"A{r}": f"=Data!G{r}*2-Data!C{r}" for r in range(1, n + 1)}
    b.update({f"B{r}": f"=A{r}+Data!J{min(r, 15)}" for r in range(1, n + 1)})
    b["C1"] = "=Data!L1+B5"
    return {"Data": a, "Calc": b}


def _cycle():
    cells = {f"A{r}": f"={r}*3" for r in range(1, 80)}
    cells.update({f"B{r}": f"=A{r}+1" for r in range(1, 80)})
    cells["C1"] = "=C2+1"
    cells["C2"] = "=C1*2"          # a cycle: the tail, always serial
    cells["D1"] = "=C1+B3"
    return {"S": cells}


BUILT = {"wide": _wide, "cycle": _cycle}


def _serial_values(make):
    wb = make()
    wb.calculate(strategy="serial")
    return wb.formula_values(), list(wb.report.cycles)


def _run(wb, strategy, method, workers=2):
    wb.graph()
    wb.engine.reset_pending()
    stats = run_plan(wb.engine, wb.plan, strategy=strategy, workers=workers,
                     start_method=method)
    return stats


@pytest.fixture
def dispatch_everything(monkeypatch):
    """Send every layer out, whatever its size, and make `auto` always choose the pool
    (its model would keep these small workbooks inline)."""
    monkeypatch.setattr(pool_mod, "POOL_MIN_CELLS", 1)
    # forked workers read family members' numbers from tables, however few (numbers.py)
    monkeypatch.setattr(numbers_mod, "MIN_CELLS", 1)
    # (a process per block of every one-cell layer of a long chain would take minutes)
    monkeypatch.setattr(process_mod, "PROCESS_MIN_CELLS", 2)
    monkeypatch.setattr(auto_mod.AutoPolicy, "min_cells", lambda self: 2)
    monkeypatch.setattr(auto_mod.AutoPolicy, "floor", lambda self: 0.0)
    monkeypatch.setattr(auto_mod.AutoPolicy, "_pool_time", lambda self, k, C, n, s: (0.0, 2))
    monkeypatch.setattr(auto_mod.AutoPolicy, "_start_cost_one", lambda self: 0.0)
    monkeypatch.setattr(auto_mod.AutoPolicy, "_pool_start_cost", lambda self: 0.0)


def _workbooks():
    out = []
    for name, fn in BUILT.items():
        out.append((name, lambda fn=fn: xleval.Workbook.from_dict(fn())))
    for f in sorted(FIXTURES.glob("*.xlsx")):
        out.append((f.stem, lambda f=f: xleval.load(f, now=45000.25)))
    return out


WORKBOOKS = _workbooks()


# ----------------------------------------------------------------------------------------
# identical values
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["pool", "process", "auto"])
@pytest.mark.parametrize("name,make", WORKBOOKS, ids=[w[0] for w in WORKBOOKS])
def test_same_values_as_serial_fork(name, make, strategy, dispatch_everything):
    want, cycles = _serial_values(make)
    wb = make()
    stats = _run(wb, strategy, "fork")
    assert wb.formula_values() == want
    assert sorted(wb.report.cycles) == sorted(cycles)
    assert not [w for w in wb.report.warnings if "worker" in w]
    if name in BUILT:
        assert stats.tasks > 0                 # something really went to workers
    assert_no_children()


@pytest.mark.parametrize("strategy", ["pool", "auto", "process"])
def test_same_values_as_serial_spawn(strategy, dispatch_everything):
    if strategy == "process":
        # one process per block of each layer, each rebuilding the engine: keep it small
        make = lambda: xleval.Workbook.from_dict(_cycle())          # noqa: E731
    else:
        make = lambda: xleval.Workbook.from_dict(_wide(120))        # noqa: E731
    want, _ = _serial_values(make)
    wb = make()
    stats = _run(wb, strategy, "spawn")
    assert wb.formula_values() == want
    assert stats.tasks > 0
    assert_no_children()


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_fixture_workbook_under_spawn_pool(dispatch_everything, method):
    make = lambda: xleval.load(FIXTURES / "quarterly_model.xlsx", now=45000.25)  # noqa: E731
    want, _ = _serial_values(make)
    wb = make()
    stats = _run(wb, "pool", method)
    assert wb.formula_values() == want
    # the workers really worked: none died at start (under forkserver the process that
    # forks them is the fork server, not ours: they once took that for our death)
    assert stats.tasks > 0
    assert not [w for w in wb.report.warnings if "worker died" in w], wb.report.warnings
    assert_no_children()


def test_calculate_api_and_repeated_runs(dispatch_everything):
    wb = xleval.Workbook.from_dict(_wide(100))
    wb.calculate(strategy="serial")
    want = wb.formula_values()
    for strategy in ("pool", "process", "auto", "pool"):
        wb.calculate(strategy=strategy, workers=2)
        assert wb.formula_values() == want
    wb.set_value("Data!A5", 1000)
    wb.calculate(strategy="serial")
    want2 = wb.formula_values()
    assert want2 != want
    wb.calculate(strategy="pool", workers=2)
    assert wb.formula_values() == want2
    assert_no_children()


def test_start_method_from_environment(monkeypatch):
    monkeypatch.setenv("XLEVAL_START_METHOD", "spawn")
    assert base_mod.resolve_start_method() == "spawn"
    assert base_mod.resolve_start_method("fork") == "fork"
    monkeypatch.setenv("XLEVAL_START_METHOD", "teleport")
    with pytest.raises(ValueError, match="teleport"):
        base_mod.resolve_start_method()


def test_unknown_strategy_and_bad_workers():
    wb = xleval.Workbook.from_dict({"S": {"A1": 1, "B1": "=A1+1"}})
    with pytest.raises(ValueError, match="strategy"):
        wb.calculate(strategy="threads")
    with pytest.raises(ValueError, match="workers"):
        wb.calculate(strategy="pool", workers=0)


def test_auto_keeps_small_work_inline():
    wb = xleval.Workbook.from_dict(_wide(50))
    wb.calculate(strategy="auto", workers=2)
    stats = wb.engine.schedule_stats
    assert set(stats.counts) == {"inline"}
    assert stats.tasks == 0
    assert_no_children()


@pytest.mark.timeout(120)
def test_auto_sends_expensive_layers_out():
    """Cells worth ~2 ms each: the model sends the wide layers to workers (and the values
    are serial's)."""
    cells = {f"A{r}": float(r) for r in range(1, 201)}
    cells.update({f"B{r}": f"=XLTEST.SLOW(A{r})" for r in range(1, 201)})
    cells.update({f"C{r}": f"=XLTEST.SLOW(B{r})+1" for r in range(1, 201)})
    make = lambda: xleval.Workbook.from_dict({"S": cells})        # noqa: E731
    want, _ = _serial_values(make)
    wb = make()
    stats = _run(wb, "auto", "fork")
    assert wb.formula_values() == want
    assert set(stats.counts) & {"pool", "process"}, stats.counts
    first = next(c for c in stats.choices if c.choice != "inline")
    assert first.predicted["inline"] > first.predicted[first.choice]
    assert_no_children()


def test_auto_with_one_worker_is_serial():
    wb = xleval.Workbook.from_dict(_wide(50))
    wb.calculate(strategy="auto", workers=1)
    assert wb.engine.schedule_stats.tasks == 0


def test_main_only_shapes_stay_in_main_process(dispatch_everything):
    """Volatile cells are never sent out (their values come back through deltas)."""
    from xleval.functions import lookup_function
    if lookup_function("NOW") is None:
        pytest.skip("NOW not available")
    cells = {f"A{r}": f"=NOW()+{r}" for r in range(1, 50)}
    cells.update({f"B{r}": f"=A{r}*2" for r in range(1, 50)})
    make = lambda: xleval.Workbook.from_dict({"S": cells}, now=45000.5)   # noqa: E731
    want, _ = _serial_values(make)
    wb = make()
    _run(wb, "pool", "fork")
    assert wb.formula_values() == want
    run = base_mod.Run(wb.engine, wb.plan, "pool", 2, "fork")
    kinds = {wb.engine.shapes[u.shape].text: run.main_only(u)
             for layer in wb.plan.layers for u in layer}
    assert any(kinds.values()) and not all(kinds.values())


def test_spill_references_stay_in_main_process():
    """A1# and its file form _xlfn.ANCHORARRAY(A1) read a range known only once the
    anchor has spilled, so neither may be sent to a worker; a plain reference may."""
    wb = xleval.Workbook.from_dict({"S": {"A1:A3": "{={1;2;3}}",
                                          "B1": "=SUM(A1#)",
                                          "C1": "=SUM(_xlfn.ANCHORARRAY(A1))",
                                          "D1": "=A2*2"}})
    wb.calculate()
    run = base_mod.Run(wb.engine, wb.plan, "pool", 2, "fork")
    kinds = {wb.engine.shapes[u.shape].text: run.main_only(u)
             for layer in wb.plan.layers for u in layer}
    assert kinds["SUM(A1#)"] is True
    assert kinds["SUM(_xlfn.ANCHORARRAY(A1))"] is True
    assert kinds["A2*2"] is False


def test_make_tasks_splits_by_cells():
    from xleval.graph.build import WorkUnit
    units = [WorkUnit(0, 0, [(r, 1) for r in range(1, 101)]),
             WorkUnit(1, 0, [(r, 2) for r in range(1, 11)]),
             WorkUnit(2, 1, [(r, 1) for r in range(1, 5)])]
    tasks = base_mod.Run.make_tasks(units, 4)
    sizes = [sum(len(c) for _, _, c in t) for t in tasks]
    assert sum(sizes) == 114 and len(tasks) == 4 and max(sizes) - min(sizes) <= 1
    # every cell once, in order, with its sheet; units of one sheet merge into one chunk
    flat = [(s, rc) for t in tasks for _, s, cells in t for rc in cells]
    assert flat == [(u.sheet, rc) for u in units for rc in u.cells]
    shape_of = {(u.sheet, rc): u.shape for u in units for rc in u.cells}
    for t in tasks:
        for sid, s, cells in t:
            assert sid == -1 or all(shape_of[(s, rc)] == sid for rc in cells)
    assert units[0].cells == [(r, 1) for r in range(1, 101)]      # units left untouched


# ----------------------------------------------------------------------------------------
# faults
# ----------------------------------------------------------------------------------------
def _dying(fn_name, n=200):
    cells = {f"A{r}": r * 2.0 for r in range(1, n + 1)}
    cells.update({f"B{r}": f"=A{r}*3" for r in range(1, n + 1)})
    # SUM keeps the column off the vector fast path, which would compute it in-process and
    # leave the worker only the dying cell (too little to send out)
    cells.update({f"C{r}": f"=SUM(B{r},1)" for r in range(1, n + 1)})
    cells["C7"] = f"={fn_name}(B7)+1"                 # this cell kills its worker
    cells.update({f"D{r}": f"=C{r}*2" for r in range(1, n + 1)})
    return lambda: xleval.Workbook.from_dict({"S": cells})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("strategy,fn,code", [("pool", "XLTEST.EXIT", "3"),
                                              ("pool", "XLTEST.KILL", "-9"),
                                              ("process", "XLTEST.EXIT", "3"),
                                              ("auto", "XLTEST.KILL", "-9")])
def test_dead_worker_recomputed_in_process(strategy, fn, code, dispatch_everything):
    make = _dying(fn)
    want, _ = _serial_values(make)
    wb = make()
    _run(wb, strategy, "fork")
    assert wb.formula_values() == want
    layer = wb.plan.cell_layer[(0, 7, 3)]
    pat = (rf"worker died while evaluating layer {layer} \(pid \d+, exit {re.escape(code)}\); "
           r"layer recomputed in-process")
    assert any(re.fullmatch(pat, w) for w in wb.report.warnings), wb.report.warnings
    assert_no_children()


@pytest.mark.timeout(120)
def test_task_exception_in_worker_recovered(dispatch_everything, monkeypatch):
    real = worker.evaluate_chunks

    def broken(engine, chunks):
        if os.getpid() != MAIN_PID:
            raise MemoryError("simulated")
        return real(engine, chunks)
    monkeypatch.setattr(worker, "evaluate_chunks", broken)   # inherited by forked workers
    make = lambda: xleval.Workbook.from_dict(_wide(60))      # noqa: E731
    want, _ = _serial_values(make)
    wb = make()
    _run(wb, "pool", "fork")
    assert wb.formula_values() == want
    assert any("worker failed while evaluating layer" in w and "MemoryError" in w
               for w in wb.report.warnings)
    assert any("parallel evaluation stopped" in w for w in wb.report.warnings)
    assert_no_children()


@pytest.mark.timeout(120)
def test_exception_in_main_process_leaves_no_children(dispatch_everything, monkeypatch):
    calls = {"n": 0}
    real = base_mod.Run.store_results

    def failing(self, chunks, results):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return real(self, chunks, results)
    monkeypatch.setattr(base_mod.Run, "store_results", failing)
    wb = xleval.Workbook.from_dict(_wide(60))
    with pytest.raises(RuntimeError, match="boom"):
        _run(wb, "pool", "fork")
    assert_no_children()


@pytest.mark.timeout(120)
def test_keyboard_interrupt_terminates_workers(dispatch_everything, monkeypatch):
    real = base_mod.Run.store_results

    def interrupted(self, chunks, results):
        raise KeyboardInterrupt
    monkeypatch.setattr(base_mod.Run, "store_results", interrupted)
    wb = xleval.Workbook.from_dict(_wide(60))
    with pytest.raises(KeyboardInterrupt):
        _run(wb, "pool", "fork")
    monkeypatch.setattr(base_mod.Run, "store_results", real)
    assert_no_children()


@pytest.fixture(scope="module")
def slow_book(tmp_path_factory):
    """A workbook whose evaluation takes a few seconds: 125k formulas of distinct shapes
    (no copied-down shape the vector fast path could take, no lookup an index serves)."""
    book = tmp_path_factory.mktemp("slow") / "slow.xlsx"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "hetero",
                    "--rows", "25000", "-o", str(book)], check=True, capture_output=True)
    return book


def _start_calc_and_wait_for_workers(book):
    psutil = pytest.importorskip("psutil")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLEVAL_START_METHOD": "fork"}
    proc = subprocess.Popen([sys.executable, "-m", "xleval", "calc", str(book), "--strategy",
                             "pool", "--workers", "2", "-q"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    kids = []
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            kids = [k for k in parent.children(recursive=True)
                    if "resource_tracker" not in " ".join(k.cmdline() or [])]
        except psutil.Error:
            kids = []
        if len(kids) >= 2:
            break
        time.sleep(0.05)
    if proc.poll() is not None or not kids:
        proc.kill()
        pytest.fail("the calculation finished before its workers were seen")
    time.sleep(0.3)
    return proc, kids


def _alive(kids):
    import psutil
    out = []
    for k in kids:
        try:
            if k.is_running() and k.status() != psutil.STATUS_ZOMBIE:
                out.append(k.pid)
        except psutil.Error:
            pass
    return out


@pytest.mark.timeout(180)
def test_ctrl_c_on_cli_exits_promptly_without_children(slow_book):
    proc, kids = _start_calc_and_wait_for_workers(slow_book)
    try:
        proc.send_signal(signal.SIGINT)
        t0 = time.time()
        out, err = proc.communicate(timeout=30)
        assert time.time() - t0 < 10
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        time.sleep(0.2)
        assert _alive(kids) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(180)
def test_workers_die_with_a_killed_parent(slow_book):
    """SIGKILL leaves the parent no chance to clean up: the workers must go by themselves."""
    proc, kids = _start_calc_and_wait_for_workers(slow_book)
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while _alive(kids) and time.time() < deadline:
        time.sleep(0.05)
    assert _alive(kids) == []


# ----------------------------------------------------------------------------------------
# the conformance corpus
# ----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(not (CONFORMANCE / "MANIFEST.tsv").is_file(),
                    reason="conformance corpus not present")
def test_conformance_workbooks_identical_under_pool(dispatch_everything):
    rows = list(csv.DictReader(open(CONFORMANCE / "MANIFEST.tsv"), delimiter="\t"))
    bad = []
    compared = 0
    for row in rows:
        path = CONFORMANCE / row["path"]
        try:
            a = xleval.load(path, now=45000.5)
            random.seed(1)       # RAND & co.: fixed draws, so the comparison is repeatable
            a.calculate(strategy="serial")
        except Exception:  # noqa: BLE001 - not this test's business
            continue
        want = a.formula_values()
        again = xleval.load(path, now=45000.5)
        random.seed(2)
        again.calculate(strategy="serial")
        second = again.formula_values()
        b = xleval.load(path, now=45000.5)
        random.seed(3)
        _run(b, "pool", "fork")
        got = b.formula_values()
        ev = a.engine
        for s_i, sheet in enumerate(ev.sheet_names[:ev.n_local]):
            # volatile cells (RAND...) differ between two runs of any strategy (and two
            # serial runs may agree by chance)
            drawn = {rc for rc, sh in ev.cell_shape[s_i].items() if sh.info.volatile}
            for rc in drawn:
                want.get(sheet, {}).pop(rc, None)
        for sheet, vals in want.items():
            for k, v in vals.items():
                if second[sheet].get(k) != v:
                    continue
                compared += 1
                if got[sheet].get(k) != v:
                    bad.append((row["path"], sheet, k, v, got[sheet].get(k)))
    assert bad == []
    assert compared > 50_000           # (the corpus holds ~107,000 formula cells)
    assert_no_children()


# ----------------------------------------------------------------------------------------
# shapes that differ only in numbers: compiled where they are evaluated
# ----------------------------------------------------------------------------------------
def _hand_typed(n=400):
    """Every formula its own shape (hand-typed constants), all of one skeleton per column."""
    cells = {f"A{r}": float(r) for r in range(1, n + 1)}
    cells.update({f"B{r}": f"=A{r}*{r}.5+{r % 7}" for r in range(1, n + 1)})
    cells.update({f"C{r}": f"=IF(B{r}>{r * 3},B{r}-{r},-{r}E-1)" for r in range(1, n + 1)})
    return cells


def _hand_typed_expected(n=400):
    out = {}
    for r in range(1, n + 1):
        b = r * (r + 0.5) + r % 7
        out[(r, 2)] = b
        out[(r, 3)] = b - r if b > r * 3 else -r / 10
    return out


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_numbers_only_shapes_share_a_closure_in_the_workers(method, dispatch_everything):
    wb = xleval.Workbook.from_dict({"S": _hand_typed()})
    stats = _run(wb, "pool", method)
    assert stats.tasks > 0
    values = wb.engine.cells[0]
    for key, want in _hand_typed_expected().items():
        assert values[key] == pytest.approx(want, rel=1e-15)
    # every cell is its own shape, but a column is one family: its template's closure and
    # one family closure that reads each cell's numbers (the workers run the same ones)
    shapes = wb.engine.shapes
    assert len(shapes) == 800
    assert len({id(sh.fn) for sh in shapes}) == 4
    assert_no_children()


def test_error_values_cross_to_workers_after_distributed_import(dispatch_everything):
    """Importing dask.distributed makes tblib pickle every exception class with its
    traceback and chain; error values are raised singletons whose tracebacks grow deep, so
    a pool worker's answer holding #DIV/0! hit the recursion limit. They must still cross
    as their code."""
    import pickle

    pytest.importorskip("distributed")
    import distributed  # noqa: F401 - the import is the point

    def deep(n):
        if n == 0:
            raise xleval.values.DIV0
        deep(n - 1)
    try:
        deep(600)          # a traceback of 600 frames now hangs off the singleton
    except xleval.XLError:
        pass
    want, _ = _serial_values(lambda: xleval.Workbook.from_dict(_wide(60)))
    wb = xleval.Workbook.from_dict(_wide(60))
    stats = _run(wb, "pool", "fork")
    assert stats.tasks > 0
    assert wb.formula_values() == want
    assert xleval.values.DIV0 in want["Data"].values()
    assert pickle.loads(pickle.dumps(xleval.values.DIV0)) is xleval.values.DIV0
    assert_no_children()


def _columns(n=400, cols=5, mirror_at=None):
    """Column A constants; each next column reads the previous one on the same row, with a
    different constant in every cell (one shape per cell); the column `mirror_at` also
    reads the mirrored row (n + 1 - r). Returns the cells and the values worked out here."""
    cells = {f"A{r}": float(r) for r in range(1, n + 1)}
    want = {(r, 1): float(r) for r in range(1, n + 1)}
    for j in range(2, cols + 1):
        letter, prev = chr(64 + j), chr(63 + j)
        for r in range(1, n + 1):
            k = r * 10 + j
            if j == mirror_at:
                cells[f"{letter}{r}"] = f"={prev}{r}*2+{prev}{n + 1 - r}+{k}"
                want[(r, j)] = want[(r, j - 1)] * 2 + want[(n + 1 - r, j - 1)] + k
            else:
                cells[f"{letter}{r}"] = f"={prev}{r}*2+{k}"
                want[(r, j)] = want[(r, j - 1)] * 2 + k
    return cells, want


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_layers_whose_rows_stay_with_their_worker_run_in_one_batch(method,
                                                                   dispatch_everything):
    cells, want = _columns()
    wb = xleval.Workbook.from_dict({"S": cells})
    stats = _run(wb, "pool", method)
    # four formula layers in one batch: one task per worker per layer, nothing handed back
    assert stats.batched == 4 and stats.handed_back == 0 and stats.tasks == 8
    # under fork the batch started the workers, which inherited every task prepared
    # before: each was sent as its index, not as a pickled list of cells
    assert stats.tasks_inherited == (8 if method == "fork" else 0)
    values = wb.engine.cells[0]
    for key, v in want.items():
        assert values[key] == v
    assert_no_children()


def test_batches_stop_when_rows_move_to_another_worker(dispatch_everything):
    # column C also reads column B upside down: each worker's block of C needs the other
    # worker's block of B, so the batch hands those cells back to the main process
    cells, want = _columns(cols=7, mirror_at=3)
    wb = xleval.Workbook.from_dict({"S": cells})
    stats = _run(wb, "pool", "fork")
    assert stats.handed_back >= 300          # most of column C (400 cells)
    # the batch took B and C, D (prepared when C was sent) and E (prepared when D was sent
    # ahead, while the workers were on C); it ends once C's answers show the cells handed
    # back, and F and G run alone
    assert stats.batched == 4
    assert wb.formula_values() == _serial_values(
        lambda: xleval.Workbook.from_dict({"S": cells}))[0]
    values = wb.engine.cells[0]
    for key, v in want.items():
        assert values[key] == v
    assert_no_children()
