"""The vector fast path (evaluator/vector.py): copied-down shapes evaluated over columns with
numpy must give exactly the values of the per-cell path, fall back row by row for anything
that is not a plain float computation, and really run (report.vectorized)."""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest

import xleval.evaluator.vector as vector
from xleval import values as V
from xleval.workbook import Workbook, load

N = 20                      # rows per copied-down column (more than vector.MIN_CELLS)


def _calc(sheets: dict, strategy: str = "serial") -> Workbook:
    wb = Workbook.from_dict(sheets)
    wb.calculate(strategy=strategy)
    return wb


def _col(wb: Workbook, letter: str, sheet: str = "S") -> list:
    col = ord(letter) - 64
    s = wb.engine.sheet_index(sheet)
    return [wb.engine.cells[s].get((r, col)) for r in range(1, N + 1)]


def _same(a, b) -> bool:
    """Identical values: floats bit for bit (0.0 and -0.0 differ), others by type and value."""
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex()
    return type(a) is type(b) and a == b


# ----------------------------------------------------------------------------------------
# each operator and function, hand-derived values
# ----------------------------------------------------------------------------------------
FORMULAS = {
    "C": "=A{r}+B{r}", "D": "=A{r}-B{r}", "E": "=A{r}*B{r}", "F": "=A{r}/B{r}",
    "G": "=A{r}^B{r}", "H": "=-A{r}", "I": "=A{r}%", "J": "=ABS(A{r}-10)",
    "K": "=MIN(A{r},10)+MAX(A{r},15)", "L": "=IF(A{r}>10,1,2)", "M": "=ROUND(A{r}/3,2)",
    "N": "=A{r}*$B$1+Other!A{r}", "O": "=SQRT(A{r})*0+INT(A{r}/4)",
}


def _expected(letter: str, r: int) -> float:
    a, b = float(r), 2.0
    return {
        "C": a + 2, "D": a - 2, "E": 2 * a, "F": a / 2, "G": a * a, "H": -a,
        "I": a / 100, "J": abs(a - 10), "K": min(a, 10.0) + max(a, 15.0),
        "L": 1.0 if a > 10 else 2.0,
        "M": float((Decimal(r) / Decimal(3)).quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "N": a * b + 100 * a, "O": float(r // 4),
    }[letter]


def _operator_book() -> dict:
    cells = {}
    other = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = r
        cells[f"B{r}"] = 2
        other[f"A{r}"] = 100 * r
        for col, f in FORMULAS.items():
            cells[f"{col}{r}"] = f.format(r=r)
    return {"S": cells, "Other": other}


def test_each_operator_hand_derived():
    wb = _calc(_operator_book())
    for col in FORMULAS:
        got = _col(wb, col)
        want = [_expected(col, r) for r in range(1, N + 1)]
        assert all(_same(g, w) for g, w in zip(got, want)), (col, got, want)
    # every formula cell went through the fast path
    assert wb.report.vectorized == N * len(FORMULAS)


def test_disabled_switch_gives_the_same_values(monkeypatch):
    on = _calc(_operator_book())
    monkeypatch.setattr(vector, "ENABLED", False)
    off = _calc(_operator_book())
    assert off.report.vectorized == 0
    for col in FORMULAS:
        assert all(_same(a, b) for a, b in zip(_col(on, col), _col(off, col))), col


def test_sum_snaps_to_zero_and_comparison_at_15_digits():
    """Excel: a difference within 15 digits of zero is 0; = compares at 15 digits."""
    cells = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = 0.30000000000000004        # 0.1 + 0.2 in binary
        cells[f"B{r}"] = 0.3
        cells[f"C{r}"] = f"=A{r}-B{r}"
        cells[f"D{r}"] = f"=IF(A{r}=B{r},1,0)"
        cells[f"E{r}"] = f"=IF(A{r}>B{r},1,0)"
    wb = _calc({"S": cells})
    assert _col(wb, "C") == [0.0] * N
    assert _col(wb, "D") == [1.0] * N
    assert _col(wb, "E") == [0.0] * N
    assert wb.report.vectorized == 3 * N


# ----------------------------------------------------------------------------------------
# fallbacks: the rows the fast path must leave to the per-cell path
# ----------------------------------------------------------------------------------------
def _fallback_book(special: dict) -> dict:
    cells = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = special.get(r, float(r))
        cells[f"B{r}"] = f"=10/A{r}"
        cells[f"C{r}"] = f"=A{r}*2"
        cells[f"D{r}"] = f"=MIN(A{r},5)"
        cells[f"E{r}"] = f"=A{r}*1E308"
        cells[f"F{r}"] = f"=A{r}^(A{r}-A{r})"
    return {"S": cells}


def test_fallback_rows():
    special = {3: 0.0, 5: "abc", 6: "3", 7: V.NA, 8: None, 9: True}
    wb = _calc(_fallback_book(special))
    b, c, d, e, f = (_col(wb, x) for x in "BCDEF")
    # division by zero
    assert b[2] == V.DIV0 and c[2] == 0.0 and d[2] == 0.0
    # text: #VALUE!; numeric text is coerced by arithmetic but MIN skips text in a reference
    assert b[4] == V.VALUE and c[4] == V.VALUE and d[4] == 5.0
    assert b[5] == 10 / 3 and c[5] == 6.0 and d[5] == 5.0
    # an error input propagates
    assert b[6] == V.NA and c[6] == V.NA and d[6] == V.NA
    # blank: 0 in arithmetic (10/0 is #DIV/0!), skipped by MIN
    assert b[7] == V.DIV0 and c[7] == 0.0 and d[7] == 5.0
    # TRUE is 1 in arithmetic, skipped by MIN in a reference
    assert b[8] == 10.0 and c[8] == 2.0 and d[8] == 5.0
    # overflow: #NUM! for every row whose product passes 1.8e308 (A >= 2)
    assert e[0] == 1e308 and e[1] == V.NUM and e[19] == V.NUM
    # x^0 is 1, but 0^0 is #NUM!
    assert f[0] == 1.0 and f[2] == V.NUM
    # plain rows are the hand values
    assert b[9] == 1.0 and c[19] == 40.0 and d[0] == 1.0 and d[19] == 5.0
    # overflow rows of E, error rows and the special inputs went to the per-cell path
    assert 0 < wb.report.vectorized < 5 * N


def test_fallback_equals_scalar_path(monkeypatch):
    special = {3: 0.0, 5: "abc", 6: "3", 7: V.NA, 8: None, 9: True, 12: -0.0}
    on = _calc(_fallback_book(special))
    monkeypatch.setattr(vector, "ENABLED", False)
    off = _calc(_fallback_book(special))
    for col in "BCDEF":
        assert all(_same(a, b) for a, b in zip(_col(on, col), _col(off, col))), col


def test_if_takes_only_the_chosen_branch():
    """An error in the branch IF does not take must not send the row to the slow path's
    error: =IF(A=0,0,1/A) is 0 where A is 0."""
    cells = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = float(r % 4)
        cells[f"B{r}"] = f"=IF(A{r}=0,0,12/A{r})"
    wb = _calc({"S": cells})
    assert _col(wb, "B") == [0.0 if r % 4 == 0 else 12 / (r % 4) for r in range(1, N + 1)]
    assert wb.report.vectorized == N


def test_unsupported_shape_uses_per_cell_path():
    cells = {f"A{r}": float(r) for r in range(1, N + 1)}
    cells.update({f"B{r}": f'=A{r}&"x"' for r in range(1, N + 1)})
    wb = _calc({"S": cells})
    assert _col(wb, "B")[:2] == ["1x", "2x"]
    assert wb.report.vectorized == 0


# ----------------------------------------------------------------------------------------
# generated benchmark shapes: the fast path on and off give identical values
# ----------------------------------------------------------------------------------------
def _all_values(wb: Workbook) -> dict:
    return {(sh, k): v for sh, d in wb.formula_values().items() for k, v in d.items()}


@pytest.mark.parametrize("shape", ["wide", "chain", "lookup", "finance", "hetero", "sheets"])
def test_generated_shapes_identical(shape, tmp_path, monkeypatch, bench_generate):
    path = str(tmp_path / f"{shape}.xlsx")
    bench_generate.generate(shape, 60, path)
    on = load(path)
    on.calculate(strategy="serial")
    monkeypatch.setattr(vector, "ENABLED", False)
    off = load(path)
    off.calculate(strategy="serial")
    a, b = _all_values(on), _all_values(off)
    assert a.keys() == b.keys()
    diff = [k for k in b if not _same(a[k], b[k])]
    assert not diff, diff[:5]
    if shape in ("wide", "finance", "sheets", "lookup"):
        assert on.report.vectorized > 0


def test_worker_processes_give_the_serial_values(tmp_path, monkeypatch, bench_generate):
    path = str(tmp_path / "wide.xlsx")
    bench_generate.generate("wide", 200, path)
    par = load(path)
    par.calculate(strategy="process", workers=2)
    monkeypatch.setattr(vector, "ENABLED", False)
    ser = load(path)
    ser.calculate(strategy="serial")
    a, b = _all_values(par), _all_values(ser)
    assert all(_same(a[k], b[k]) for k in b)


def test_a_formula_on_many_sheets_runs_once_for_all(monkeypatch):
    """The same formula copied down on several sheets shares one sheet-free program; a
    layer holds one unit per sheet, and eval_shared_units gathers each sheet's leaves and
    runs the program once for all. Values: those of one unit at a time and of the scalar
    path, with a text, a blank and an error among the inputs and a fixed reference
    ($B$1) read as one value per sheet."""
    sheets = {}
    for k, name in enumerate(["P", "Q", "R", "S"], 1):
        cells = {"B1": float(k)}
        for r in range(2, 2 + N):
            cells[f"A{r}"] = r * k / 3
            cells[f"C{r}"] = f"=A{r}*$B$1+A{r}/7"
        sheets[name] = cells
    sheets["Q"]["A5"] = "text"
    del sheets["R"]["A9"]
    sheets["S"]["A12"] = "=1/0"
    calls: list = []
    real = vector.eval_shared_units
    monkeypatch.setattr(vector, "eval_shared_units",
                        lambda ev, units: calls.append(len(units)) or real(ev, units))
    batched = _all_values(_calc(sheets))
    assert calls and max(calls) == 4
    monkeypatch.setattr(vector, "shared_program", lambda *args: None)
    single = _all_values(_calc(sheets))
    monkeypatch.setattr(vector, "ENABLED", False)
    scalar = _all_values(_calc(sheets))
    assert batched.keys() == scalar.keys()
    for k, v in scalar.items():
        assert _same(batched[k], v) and _same(single[k], v), k
    assert batched[("P", (2, 3))] == 2 / 3 * 1.0 + (2 / 3) / 7
    assert batched[("Q", (5, 3))] == V.VALUE and batched[("R", (9, 3))] == 0.0
    assert batched[("S", (12, 3))] == V.DIV0


# ----------------------------------------------------------------------------------------
# running totals: thin layers regrouped, scans by accumulate
# ----------------------------------------------------------------------------------------
ROWS = 60                   # each row of a running total is its own layer (> THIN_RUN)


def _running_book(amounts: list) -> dict:
    cells = {"B1": "=A1", "C1": "=A1", "D1": "=A1"}
    for r, a in enumerate(amounts, 1):
        cells[f"A{r}"] = a
        if r > 1:
            cells[f"B{r}"] = f"=B{r - 1}+A{r}"          # running total
            cells[f"C{r}"] = f"=MAX(C{r - 1},A{r})"     # running peak
            cells[f"D{r}"] = f"=D{r - 1}*0.5+B{r}"      # smoothing: an affine scan
        cells[f"E{r}"] = f"=B{r}-C{r}"                  # reads the scans: one vector unit
    return {"S": cells}


def _values(wb: Workbook, letter: str, n: int) -> list:
    col = ord(letter) - 64
    return [wb.engine.cells[0].get((r, col)) for r in range(1, n + 1)]


def test_running_total_scan_hand_derived():
    amounts = [float((r * 7) % 11 - 3) for r in range(1, ROWS + 1)]   # integers: exact sums
    wb = _calc(_running_book(amounts))
    total, peak, smooth = 0.0, -math.inf, 0.0
    want_b, want_c, want_d = [], [], []
    for r, a in enumerate(amounts, 1):
        total += a
        peak = max(peak, a)
        smooth = total if r == 1 else smooth * 0.5 + total
        want_b.append(total)
        want_c.append(peak)
        want_d.append(smooth)
    assert _values(wb, "B", ROWS) == want_b
    assert _values(wb, "C", ROWS) == want_c
    assert _values(wb, "D", ROWS) == want_d
    assert _values(wb, "E", ROWS) == [b - c for b, c in zip(want_b, want_c)]
    # B and C (rows 2..) by accumulate, D by a float loop, E as one vector unit; row 1 per
    # cell
    assert wb.report.vectorized == 3 * (ROWS - 1) + ROWS


def test_running_total_that_cancels_falls_back():
    """0.1 + 0.2 - 0.3 is 5.55e-17 in binary; Excel shows 0 (15-digit snap), and the running
    total carries on from 0."""
    amounts = [0.1, 0.2, -0.3] + [1.0] * (ROWS - 3)
    wb = _calc(_running_book(amounts))
    b = _values(wb, "B", ROWS)
    assert b[:4] == [0.1, 0.1 + 0.2, 0.0, 1.0]
    assert b[-1] == float(ROWS - 3)
    # the peak and the smoothing still scan, the total went to the per-cell path
    assert wb.report.vectorized == 2 * (ROWS - 1) + ROWS


def test_thin_run_reads_the_plan_arrays_like_lists(monkeypatch):
    """thin_run_order over the plan's Layers (spans of its flat cell list, no WorkUnit
    made) and over the same layers as plain lists of units: the same cells left to the
    per-cell path, in the same order, the same cells vectorized and the same values; with
    the vector path off (every cell, in the layers' order) and on (a sum Excel snaps to
    zero sends the running total to the per-cell path, see the test below), on one sheet
    and on two (their layers' units alternate between the sheets)."""
    amounts = [0.1, 0.2, -0.3] + [1.0] * (ROWS - 3)
    one = _running_book(amounts)
    two = {"S": one["S"], "T": _running_book([float(r % 7) for r in range(ROWS)])["S"]}
    odd = {"S": dict(one["S"])}             # a shape outside the vector path: layer order
    odd["S"].update({f"D{r}": f"=D{r - 1}+ISTEXT(A{r})" for r in range(2, ROWS + 1)})
    for enabled, book in ((False, one), (True, one), (True, two), (True, odd)):
        monkeypatch.setattr(vector, "ENABLED", enabled)
        wb = Workbook.from_dict(book)
        plan = wb.graph()
        ev = wb.engine
        run = plan.layers[1:]               # (row 1's cells, =A1, are outside the run)
        got = []
        for layers in (run, [list(layer) for layer in run]):
            ev.reset_pending()
            ev.compute([(u.sheet, r, c) for u in plan.layers[0] for r, c in u.cells])
            left: list = []

            def noted(cells):
                for key in cells:           # (compute takes them one by one, lazily)
                    left.append(key)
                    yield key
            ev.compute(noted(vector.thin_run_order(ev, layers)))
            got.append((left, ev.report.vectorized, _all_values(wb)))
        assert got[0][0] == got[1][0] and got[0][1] == got[1][1]
        assert all(_same(got[0][2][k], v) for k, v in got[1][2].items())
        n = sum(plan.sizes[1:])
        if book is odd:
            assert len(got[0][0]) == n
        elif enabled:
            assert 0 < len(got[0][0]) < n and got[0][1] > 0
        else:
            assert len(got[0][0]) == n and got[0][1] == 0


def test_running_total_equals_scalar_path(monkeypatch):
    amounts = [round(math.sin(r) * 1e3, 2) for r in range(1, ROWS + 1)]
    amounts[10] = -0.0
    amounts[20] = "text"
    on = _calc(_running_book(amounts))
    monkeypatch.setattr(vector, "ENABLED", False)
    off = _calc(_running_book(amounts))
    for col in "BCDE":
        assert all(_same(a, b) for a, b in zip(_values(on, col, ROWS), _values(off, col, ROWS)))


# ----------------------------------------------------------------------------------------
# ROUND over a column: numpy with the 15-digit cases handed to ROUND itself
# ----------------------------------------------------------------------------------------
def test_round_column_hand_derived():
    """Excel: ROUND(2.675,2) is 2.68 (2.675 is 2.67499999... in binary, but Excel rounds
    the 15-digit value), halves go away from zero, ROUND(-0.001,2) is 0, ROUND(0.125,0) 0."""
    xs = [2.675, 0.125, -2.5, 0.5, 1234.5678, -0.001, 0.0, 0.049999999999999975,
          1e15 + 0.5, 7.0]
    # 1e15 + 0.5 has 16 digits: Excel holds it as 1E+15
    want2 = [2.68, 0.13, -2.5, 0.5, 1234.57, 0.0, 0.0, 0.05, 1e15, 7.0]
    want0 = [3.0, 0.0, -3.0, 1.0, 1235.0, 0.0, 0.0, 0.0, 1e15, 7.0]
    cells = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = xs[(r - 1) % len(xs)]
        cells[f"B{r}"] = f"=ROUND(A{r},2)"
        cells[f"C{r}"] = f"=ROUND(A{r},0)"
    wb = _calc({"S": cells})
    assert _col(wb, "B") == [want2[(r - 1) % len(xs)] for r in range(1, N + 1)]
    assert _col(wb, "C") == [want0[(r - 1) % len(xs)] for r in range(1, N + 1)]
    assert wb.report.vectorized == 2 * N


def test_round_column_equals_round_function():
    import random

    import numpy as np

    from xleval.functions.math import ROUND
    rnd = random.Random(11)
    xs = []
    for _ in range(20000):
        k = rnd.random()
        if k < 0.4:      # decimals ending in 5 at many places: the half-way cases
            scale, half = 10 ** rnd.randint(0, 7), 5 * 10.0 ** -rnd.randint(1, 8)
            xs.append(rnd.randint(-10**7, 10**7) / scale + half)
        elif k < 0.7:
            xs.append(rnd.uniform(-1e6, 1e6))
        else:
            xs.append(math.ldexp(rnd.random(), rnd.randint(-60, 60)) * rnd.choice([1, -1]))
    xs += [-0.0, 0.0, 1e300, -1e300, 9.999999999999999e14, 123456789012345.6]
    x = np.array(xs)
    for digits in range(0, 16):
        out, bad = vector._round_half(ROUND, digits, x, None)
        assert bad is None
        want = [ROUND(v, digits) for v in xs]
        assert all(_same(a, b) for a, b in zip(out.tolist(), want)), digits


def test_constant_formulas_copied_down():
    cells = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = "=1E308*10"
        cells[f"B{r}"] = "=2*3+1"
        cells[f"C{r}"] = "=IF(1>2,1,0)+SIN(1)"
        cells[f"D{r}"] = "=1/0"
    wb = _calc({"S": cells})
    assert _col(wb, "A") == [V.NUM] * N
    assert _col(wb, "B") == [7.0] * N
    assert _col(wb, "C") == [math.sin(1.0)] * N
    assert _col(wb, "D") == [V.DIV0] * N
    assert wb.report.vectorized == 2 * N


def test_column_read_by_many_layers_is_gathered_once_and_refreshed_by_set_value():
    """$A{r} read by every month of a projection: gathered once per calculation (the
    cache holds it); each month's column is read by the next from the values its unit
    kept; and a changed input is seen by the next calculation [hand]."""
    cells = {}
    for r in range(1, N + 1):
        cells[f"A{r}"] = float(r)
        cells[f"B{r}"] = f"=$A{r}*2"
        for c in "CDEF":
            prev = chr(ord(c) - 1)
            cells[f"{c}{r}"] = f"={prev}{r}+$A{r}"
    wb = _calc({"S": cells})
    assert _col(wb, "F") == [6.0 * r for r in range(1, N + 1)]     # 2a + 4a
    assert wb.engine.__dict__.get("_gather_cache")
    assert wb.engine.__dict__.get("_result_cache")      # the previous month's column
    wb.set_value("S!A5", 100.0)
    wb.calculate()
    assert _col(wb, "F")[4] == 600.0 and _col(wb, "F")[3] == 24.0
    # every input changed: the incremental recalculation's units are the full run's
    for r in range(1, N + 1):
        wb.set_value(f"S!A{r}", float(-r))
    wb.calculate()
    assert _col(wb, "F") == [-6.0 * r for r in range(1, N + 1)]


def test_column_read_one_row_off_is_read_from_the_values_its_unit_kept():
    """A month reading the previous month one row up or down (finance_10000's rows in
    threes): when the rows read are exactly a unit's rows, its kept values serve [hand]."""
    cells = {f"A{r}": float(r) for r in range(1, N + 2)}
    for r in range(1, N + 1):
        cells[f"B{r}"] = f"=A{r}*2"
        cells[f"D{r}"] = f"=C{r + 1}*10"
    for r in range(2, N + 2):
        cells[f"C{r}"] = f"=B{r - 1}+A{r}"
    before = vector.CACHE_STATS["result_hits"]
    wb = _calc({"S": cells})
    assert vector.CACHE_STATS["result_hits"] - before >= 2
    assert _col(wb, "C")[1:] == [3.0 * r - 2 for r in range(2, N + 1)]
    assert _col(wb, "D") == [(3.0 * r + 1) * 10 for r in range(1, N + 1)]
    assert wb.report.vectorized == 3 * N


def test_affine_scans_equal_the_scalar_path(monkeypatch):
    """Balances growing by a rate plus a deposit, decay, smoothing written every way round
    (prev * A + X, X + A * prev, prev * A - X, prev * A): the float loop gives the per-cell
    path's values, and leaves it the columns where a sum snaps to zero or overflows."""
    rows = 80
    cells = {"H1": 0.0125}
    for r in range(1, rows + 1):
        cells[f"A{r}"] = round(math.cos(r) * 250, 2)
        cells[f"G{r}"] = 1e10                            # F overflows by row 32
        if r == 1:
            for c in "BCDEFI":
                cells[f"{c}1"] = 100.0
            cells["J1"] = 0.3
            continue
        cells[f"B{r}"] = f"=B{r - 1}*(1+$H$1)+A{r}"      # balance: rate and deposit
        cells[f"C{r}"] = f"=A{r}+0.8*C{r - 1}"           # X + A * prev
        cells[f"D{r}"] = f"=D{r - 1}*0.97-A{r}/10"       # prev * A - X
        cells[f"E{r}"] = f"=E{r - 1}*1.01"               # prev * A
        cells[f"F{r}"] = f"=F{r - 1}*G{r}"               # overflow: #NUM! from there on
        cells[f"I{r}"] = f"=I{r - 1}*1-I{r - 1}+A{r}"    # reads prev twice: per cell
        cells[f"J{r}"] = f"=J{r - 1}*1-0.30000000000000004"    # 0.3 - that snaps to 0
    on = _calc({"S": cells})
    monkeypatch.setattr(vector, "ENABLED", False)
    off = _calc({"S": cells})
    for col in "BCDEFIJ":
        a, b = _values(on, col, rows), _values(off, col, rows)
        assert all(_same(x, y) for x, y in zip(a, b)), col
    e = 100.0
    for _ in range(rows - 1):
        e *= 1.01
    assert _values(on, "E", rows)[-1] == e
    assert _values(on, "F", rows)[-1] == V.NUM
    assert _values(on, "J", 3) == [0.3, 0.0, -0.30000000000000004]     # Excel's 0, as typed
    # B, C, D and E scanned (rows 2..), F, I and J per cell
    assert on.report.vectorized == 4 * (rows - 1)


def test_totals_row_reads_the_column_a_unit_kept(monkeypatch):
    """SUM/AVERAGE under a copied-down column read the values its unit kept (whole rows in
    order), and give what the per-cell reads give [hand]."""
    from xleval.evaluator.engine import Engine
    cells = {f"A{r}": r * 0.1 for r in range(1, N + 1)}
    for r in range(1, N + 1):
        cells[f"B{r}"] = f"=A{r}*3"
    cells[f"B{N + 1}"] = f"=SUM(B1:B{N})"
    cells[f"C{N + 1}"] = f"=AVERAGE(B1:B{N})"
    reads = []
    real = Engine._area_values

    def spy(self, s, r1, c1, r2, c2):
        reads.append(vector.kept_column(self, s, c1, r1, r2) is not None)
        return real(self, s, r1, c1, r2, c2)
    monkeypatch.setattr(Engine, "_area_values", spy)
    wb = _calc({"S": cells})
    total = 0.0
    for r in range(1, N + 1):
        total += r * 0.1 * 3
    assert wb["S!B" + str(N + 1)] == total
    assert wb["S!C" + str(N + 1)] == total / N
    assert reads and all(reads)
