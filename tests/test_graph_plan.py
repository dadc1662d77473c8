"""The plan the graph builds, checked against an independent reading of the formulas.

Precedents come from openpyxl (its reader expands shared formulas, its tokenizer finds the
references), not from xleval. For an acyclic workbook the layers are then fixed: a cell
with no formula precedent is in layer 0, any other is one layer after its latest
precedent (the longest-path layering). Cycles, the tail and `tainted` are checked by hand.
"""

from itertools import groupby

import openpyxl
import pytest
from openpyxl.formula import Tokenizer
from openpyxl.formula.tokenizer import Token
from openpyxl.utils.cell import range_boundaries

import xleval
from xleval import Workbook


def _refs(text: str, own: str):
    """(sheet, min_col, min_row, max_col, max_row) of every reference in a formula."""
    for tok in Tokenizer(text if text.startswith("=") else "=" + text).items:
        if tok.type != Token.OPERAND or tok.subtype != Token.RANGE:
            continue
        sheet, _, addr = tok.value.rpartition("!")
        sheet = sheet.strip("'") or own
        yield (sheet, *range_boundaries(addr.replace("$", "")))


def _precedents(formulas: dict) -> dict:
    """{(sheet, r, c): formula text} -> {cell: set of formula cells it reads}."""
    by_sheet: dict = {}
    for s, r, c in formulas:
        by_sheet.setdefault(s, []).append((r, c))
    out = {}
    for (s, r, c), text in formulas.items():
        got = set()
        for sh, c1, r1, c2, r2 in _refs(text, s):
            got |= {(sh, rr, cc) for rr, cc in by_sheet.get(sh, ())
                    if r1 <= rr <= r2 and c1 <= cc <= c2}
        out[(s, r, c)] = got
    return out


def _longest_path_layers(prec: dict) -> dict:
    """Layer of every cell of an acyclic graph, iteratively (no recursion)."""
    layer: dict = {}
    for start in prec:
        stack = [start]
        while stack:
            v = stack[-1]
            if v in layer:
                stack.pop()
                continue
            todo = [p for p in prec[v] if p not in layer]
            if todo:
                stack.extend(todo)
                continue
            layer[v] = 1 + max((layer[p] for p in prec[v]), default=-1)
            stack.pop()
    return layer


def _plan_layers(wb) -> dict:
    plan = wb.graph()
    names = wb.engine.sheet_names
    shapes = wb.engine.cell_shape
    got = {}
    for i, layer in enumerate(plan.layers):
        for u in layer:
            for r, c in u.cells:
                assert shapes[u.sheet][(r, c)].id == u.shape     # one shape per unit
                key = (names[u.sheet], r, c)
                assert key not in got                            # each cell once
                got[key] = i
    return got


def _openpyxl_formulas(path) -> dict:
    book = openpyxl.load_workbook(path)
    return {(ws.title, cell.row, cell.column): cell.value
            for ws in book.worksheets for row in ws.iter_rows() for cell in row
            if isinstance(cell.value, str) and cell.value.startswith("=")}


@pytest.mark.parametrize("shape,rows", [("finance", 30), ("wide", 40), ("chain", 150),
                                        ("hetero", 40), ("sheets", 200), ("lookup", 30)])
def test_generated_workbooks_get_longest_path_layers(shape, rows, tmp_path, bench_generate):
    path = tmp_path / f"{shape}.xlsx"
    bench_generate.generate(shape, rows, str(path))
    expected = _longest_path_layers(_precedents(_openpyxl_formulas(path)))
    wb = xleval.load(str(path))
    assert _plan_layers(wb) == expected
    assert wb.graph().tail == [] and wb.graph().cycles == []


def _dict_formulas(cells: dict, sheet: str = "S") -> dict:
    out = {}
    for a1, v in cells.items():
        if isinstance(v, str) and v.startswith("="):
            c1, r1, _, _ = range_boundaries(a1)
            out[(sheet, r1, c1)] = v
    return out


def test_wide_layers_then_a_long_chain():
    # 300 independent cells, a total of them, then a 400-long chain off the total, each
    # link read by a second column: wide frontiers first, then narrow ones for long
    cells = {f"A{r}": f"={r}*2" for r in range(1, 301)}
    cells["B1"] = "=SUM(A1:A300)"
    cells.update({f"B{r}": f"=B{r - 1}+A{r % 300 + 1}" for r in range(2, 401)})
    cells.update({f"C{r}": f"=B{r}*2" for r in range(1, 401)})
    wb = Workbook.from_dict({"S": cells})
    got = _plan_layers(wb)
    assert got == _longest_path_layers(_precedents(_dict_formulas(cells)))
    assert got[("S", 400, 2)] == 400 and got[("S", 400, 3)] == 401      # by hand
    wb.calculate()
    assert wb["S!B1"] == 300 * 301


def test_sparse_sheet_far_apart_cells():
    # too sparse for a dense grid of the sheet: references resolve by sorted keys
    cells = {"A1": "=XFD1048576+1", "XFD1048576": "=B2*2", "B2": "=5", "C1": "=A1+XFD1"}
    cells["XFD1"] = "=A1*3"
    wb = Workbook.from_dict({"S": cells})
    assert _plan_layers(wb) == {("S", 2, 2): 0, ("S", 1048576, 16384): 1, ("S", 1, 1): 2,
                                ("S", 1, 16384): 3, ("S", 1, 3): 4}
    wb.calculate()
    assert wb["S!C1"] == 11 + 33


def test_one_total_per_column_gets_direct_edges_many_get_blocks():
    n = 3000
    cells = {f"A{r}": f"={r}+0" for r in range(1, n + 1)}
    cells["B1"] = f"=SUM(A1:A{n})"
    plan = Workbook.from_dict({"S": cells}).graph()
    assert plan.block_nodes == 0 and plan.edges == n          # one edge per summed cell
    cells.update({f"C{r}": f"=SUM($A$1:$A${n})/{r}" for r in range(1, 31)})
    wb = Workbook.from_dict({"S": cells})
    plan = wb.graph()
    # 31 readers x 3000 cells would be 93,000 direct edges; blocks: < 2n + a few per reader
    assert 0 < plan.block_nodes < n and plan.edges < 2 * n + 31 * 24
    assert _plan_layers(wb) == _longest_path_layers(_precedents(_dict_formulas(cells)))
    wb.calculate()
    assert wb["S!C3"] == n * (n + 1) / 2 / 3


def test_cycle_through_a_shared_range_and_its_dependents():
    # A50 reads B1:B3, which read A1:A100 (and so A50): one cycle {A50, B1..B3}; B4..B40
    # read the range too, so they depend on the cycle without being part of it
    cells = {f"A{r}": f"={r}" for r in range(1, 101)}
    cells["A50"] = "=SUM(B1:B3)"
    cells.update({f"B{r}": f"=SUM($A$1:$A$100)+{r}" for r in range(1, 41)})
    cells["C1"] = "=A7*2"
    wb = Workbook.from_dict({"S": cells})
    plan = wb.graph()
    assert plan.block_nodes > 0                       # 40 readers of 100 cells: blocks
    cycle = sorted([(0, 50, 1)] + [(0, r, 2) for r in (1, 2, 3)])
    assert plan.cycles == [cycle]
    assert plan.tail[0] == cycle
    assert sorted(c for comp in plan.tail[1:] for c in comp) == [(0, r, 2) for r in range(4, 41)]
    layers = _plan_layers(wb)
    assert layers[("S", 1, 3)] == 1 and layers[("S", 7, 1)] == 0
    assert ("S", 50, 1) not in layers
    # every cell that depends on A1 through the cycle, and nothing else (C1 reads A7 only)
    assert plan.tainted({(0, 1, 1)}) == {(0, 1, 1)} | set(cycle) | {
        (0, r, 2) for r in range(4, 41)}
    assert plan.tainted({(0, 7, 1)}) == {(0, 7, 1), (0, 1, 3)} | set(cycle) | {
        (0, r, 2) for r in range(4, 41)}


def test_tainted_follows_a_cycle_back_to_cells_before_it():
    # B1 <-> C1 is a cycle; a seed at C1 taints B1 (earlier in the cycle) and D1 after it
    wb = Workbook.from_dict({"S": {"A1": "=1", "B1": "=A1+C1", "C1": "=B1*2", "D1": "=C1",
                                   "E1": "=A1"}})
    plan = wb.graph()
    assert plan.cycles == [[(0, 1, 2), (0, 1, 3)]]
    assert plan.tainted({(0, 1, 3)}) == {(0, 1, 2), (0, 1, 3), (0, 1, 4)}
    assert plan.tainted({(0, 1, 1)}) == {(0, 1, c) for c in range(1, 6)}
    assert plan.tainted({(0, 9, 9)}) == set()          # not a formula cell


def test_whole_layer_tasks_are_the_units_tasks():
    """Run.layer_tasks cuts a whole layer from the plan's flat cell list
    (Layers.segments); the tasks must be exactly make_tasks' from the units, for one shape
    per cell, copied columns, and layers whose units alternate between sheets."""
    from xleval.graph.build import Layers, WorkUnit
    from xleval.scheduler.base import Run
    hand = {f"A{r}": float(r) for r in range(1, 41)}
    hand.update({f"B{r}": f"=A{r}*{r}.5" for r in range(1, 41)})
    hand.update({f"C{r}": f"=B{r}+A{r}" for r in range(1, 41)})
    s1 = {f"A{r}": r for r in range(1, 9)} | {f"B{r}": f"=A{r}*{r}" for r in range(1, 9)}
    s2 = {f"A{r}": r for r in range(1, 9)} | {f"B{r}": f"=A{r}-{r}" for r in range(1, 9)}
    s2 |= {f"C{r}": f"=S1!B{r}+B{r}" for r in range(1, 9)} | {"D1": "=SUM(S1!B1:B8)"}
    books = [{"S": hand}, {"S1": s1, "S2": s2}]
    for sheets in books:
        wb = xleval.Workbook.from_dict(sheets)
        plan = wb.graph()
        assert isinstance(plan.layers, Layers)
        run = Run(wb.engine, plan, "pool", 2, "fork")
        for j, layer in enumerate(plan.layers):
            units = list(layer)
            for n_tasks in (1, 2, 3, 7):
                assert run.layer_tasks(j, units, n_tasks) == Run.make_tasks(units, n_tasks)
        # part of a layer (the vector path took some units): the units' own tasks
        j = max(range(len(plan.layers)), key=lambda k: len(plan.layers[k]))
        part = list(plan.layers[j])[1:]
        if part:
            assert run.layer_tasks(j, part, 2) == Run.make_tasks(part, 2)
        # as many units, one of them cut short (the vector path took some of its cells)
        cut = [WorkUnit(u.shape, u.sheet, u.cells[:-1] if k == 0 else u.cells)
               for k, u in enumerate(plan.layers[j])]
        if len(cut[0].cells):
            assert run.layer_tasks(j, cut, 2) == Run.make_tasks(cut, 2)


def test_a_whole_layer_is_split_and_counted_from_the_plan_arrays():
    """Run.split, vector_first, count and layer_tasks given a layer as layer_units gives
    it (a LayerView: read from the arrays, no WorkUnit made) agree with the same units as
    a list (read unit by unit): with every unit free to leave, and with units that must
    stay in the main process (volatile, INDIRECT) among them."""
    from xleval.graph.build import LayerView
    from xleval.scheduler.base import Run
    cells = {f"A{r}": float(r) for r in range(1, 301)}
    cells.update({f"B{r}": f"=A{r}*{r}.5" for r in range(1, 301)})     # a unit per cell
    mixed = dict(cells)
    mixed.update({"B7": "=A7+NOW()*0", "B9": '=INDIRECT("A9")*2', "B11": "=RAND()*0+A11"})
    for sheet in (cells, mixed):
        wb = xleval.Workbook.from_dict({"S": sheet})
        plan = wb.graph()
        j = max(range(len(plan.layers)), key=lambda k: len(plan.layers[k]))
        run = Run(wb.engine, plan, "pool", 2, "fork")
        view = run.layer_units(j)
        assert type(view) is LayerView and len(view) == len(plan.layers[j]) == 300
        units = list(plan.layers[j])
        assert list(view) == units and view[3] == units[3]
        assert run.whole(j, view) and not run.whole(j, units) and not run.whole(j - 1, view)
        par, main = run.split(view, j)
        par_list, main_list = run.split(units)
        assert list(par) == par_list and main == main_list
        assert (par is view) == (not main)                          # handed on itself
        assert run.count(j, par) == sum(len(u.cells) for u in par)
        assert list(run.vector_first(par, j)) == run.vector_first(list(par))
        assert run.layer_tasks(j, par, 3) == Run.make_tasks(list(par), 3)
    assert [len(u.cells) for u in main] == [1, 1, 1]


def test_auto_samples_a_whole_layer_from_the_plan_arrays():
    """auto's sampling and estimate given a whole layer (a LayerView) read the plan's
    arrays: they sample the same cells as from the same units as a list, estimate the same
    cells, shapes and cost, make no WorkUnit (a wide layer made would stay made), and hand
    the layer on whole, its sampled cells computed (the inline path and the workers skip
    computed cells); the run's values are serial's."""
    from xleval.evaluator.engine import PENDING
    from xleval.graph.build import LayerView
    from xleval.scheduler.auto import AutoPolicy
    from xleval.scheduler.base import Run
    from xleval.scheduler.pool import PoolExecutor
    from xleval.scheduler.process import ProcessExecutor
    cells = {f"A{r}": float(r) for r in range(1, 301)}
    cells.update({f"B{r}": f"=A{r}*{r}.5+{r % 7}" for r in range(1, 301)})   # a unit per cell
    cells["C1"] = "=SUM(B1:B300)"
    sampled = []
    for as_view in (True, False):
        wb = xleval.Workbook.from_dict({"S": cells})
        plan = wb.graph()
        wb.engine.reset_pending()
        j = max(range(len(plan.layers)), key=lambda k: plan.unit_counts[k])
        run = Run(wb.engine, plan, "auto", 2, "fork")
        policy = AutoPolicy(run, {"pool": PoolExecutor(run), "process": ProcessExecutor(run)})
        view = run.layer_units(j)
        assert type(view) is LayerView
        par = view if as_view else list(plan.layers[j])
        mean, rest = policy._sample(par)
        assert mean >= 0.0
        done = {rc for rc, v in wb.engine.cells[0].items() if v is not PENDING
                and rc[1] == 2}
        sampled.append((sorted(done), sorted(policy.pc_shape)))
        if as_view:
            assert rest is view and plan.layers._made.get(j) is None
            units = list(plan.layers[j])            # (made now, for the comparison)
            policy.met_shapes.update(u.shape for u in units[:5])
            assert policy._estimate(view, 1e-6) == policy._estimate(units, 1e-6)
        else:
            assert sum(len(u.cells) for u in rest) == 300 - len(done)
    assert sampled[0] == sampled[1] and 0 < len(sampled[0][0]) < 300
    want = xleval.Workbook.from_dict({"S": cells})
    want.calculate(strategy="serial")
    wb = xleval.Workbook.from_dict({"S": cells})
    wb.calculate(strategy="auto", workers=2)
    assert wb.formula_values() == want.formula_values()


def test_layers_read_like_a_list_of_lists():
    """build_plan's Layers (arrays, units made on read) against the same layers as plain
    lists: indexing, negative indexes, slices (views), iteration, counts, segments."""
    from xleval.graph.build import Layers, layer_counts
    sheets = {"S1": {f"A{r}": f"=A{r - 1}+{r}" if r > 1 else "=1" for r in range(1, 30)}
              | {f"B{r}": f"=A{r}*2" for r in range(1, 30)}
              | {f"C{r}": f"=B{r}-{r}" for r in range(1, 30)},
              "S2": {f"A{r}": f"=S1!B{r}+1" for r in range(1, 30)} | {"B1": "=SUM(S1!C1:C29)"}}
    plan = xleval.Workbook.from_dict(sheets).graph()
    lay = plan.layers
    assert isinstance(lay, Layers)
    plain = [list(layer) for layer in lay]
    assert len(plain) == len(lay) > 20
    assert [lay[j] for j in range(len(lay))] == plain
    assert lay[-1] == plain[-1] and lay[-len(lay)] == plain[0]
    with pytest.raises(IndexError):
        lay[len(lay)]
    for a, b in ((0, 5), (3, 17), (10, 10), (7, 1000), (-4, None)):
        view = lay[a:b]
        assert list(view) == plain[a:b] and len(view) == len(plain[a:b])
        assert layer_counts(view) == layer_counts(plain[a:b])
        if len(view) > 1:
            assert view[1] == plain[a:b][1] and list(view[1:]) == plain[a:b][1:]
    assert lay[::2] == plain[::2]
    assert plan.sizes == [sum(len(u.cells) for u in layer) for layer in plain]
    assert plan.unit_counts == [len(layer) for layer in plain]
    for j, layer in enumerate(plain):
        segs = lay.segments(j)
        cells = [c for _, a, b, _ in segs for c in lay.flat[a:b]]
        assert cells == [c for u in layer for c in u.cells]
        assert [s for s, *_ in segs] == [k for k, _ in groupby(u.sheet for u in layer)]


def test_made_layers_keep_wide_ones_and_a_bounded_number_of_narrow_units():
    """Layers' _Made: a wide layer (a unit per hand-typed cell) stays made, read again as
    the same list; narrow layers stay while they hold at most RECENT units in all."""
    from xleval.graph.build import WorkUnit, _Made
    made = _Made()
    wide = [WorkUnit(0, 0, [(r, 1)]) for r in range(made.WIDE)]
    made.put(0, wide)
    for j in range(1, 3 * made.RECENT):                 # a chain: one-unit layers
        made.put(j, [WorkUnit(1, 0, [(j, 2)])])
        assert made.n_recent <= made.RECENT
    assert made.get(0) is wide
    assert made.get(3 * made.RECENT - 1) is not None and made.get(1) is None
    sheets = {"S": {f"A{r}": f"=B{r}*{r}.5" for r in range(1, 301)}}
    lay = xleval.Workbook.from_dict(sheets).graph().layers
    assert len(lay) == 1 and lay[0] is lay[0] and len(lay[0]) == 300
