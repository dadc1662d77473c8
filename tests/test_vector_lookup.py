"""The vector path for copied-down exact lookups (evaluator/vector_lookup.py): VLOOKUP,
MATCH, INDEX/MATCH and INDEX columns must give exactly what the per-cell path gives, on
every kind of key and result (the unusual rows fall back to the per-cell path), and really
run (report.vectorized). Hand-derived values are checked on the plain rows."""
from __future__ import annotations

import pytest

import xleval.evaluator.vector as vector
from xleval import values as V
from xleval.evaluator import vector_lookup as VL
from xleval.refs import num_to_col
from xleval.workbook import Workbook

N = 40                      # rows of keys (more than vector.MIN_CELLS)

# the product table on sheet P: A code, B name, C price, D a row with odd contents
PRODUCTS = [
    (101.0, "Apple", 1.5, None), (102.0, "Pear", 2.25, "x"), (103.0, "Fig", 0.75, V.DIV0),
    ("k7", "Kiwi", 3.0, True), ("K8", "Plum", 4.0, 1.0), (101.0, "Dup", 9.0, 2.0),
    (104.0, "Lime", None, 3.0), (1e-20, "Tiny", 5.0, 4.0), (0.3, "Third", 6.0, 5.0),
    ("a*b", "Star", 7.0, 6.0), ("", "Empty", 8.0, 7.0), (False, "No", 10.0, 8.0),
] + [(1000.0 + i, f"Item{i}", float(i), float(i)) for i in range(30)]

# keys on sheet S column A: every kind (cycled over the N rows)
KEYS = [101.0, 102.0, 103.0, "K7", "k8", 104.0, 999.0, None, 1e-20, 0.1 + 0.2, "A*B", "a?b",
        "", True, False, V.NA, "102", 1.9, 0.0, -3.0, 45.0, 1005.0, "x" * 300, "apple"]

FORMULAS = {
    "B": "=VLOOKUP(A{r},P!$A$1:$D$50,2,FALSE)",
    "C": "=VLOOKUP(A{r},P!$A$1:$D$50,3,0)",
    "D": "=VLOOKUP(A{r},P!$A$1:$D$50,4,FALSE)",
    "E": "=MATCH(A{r},P!$A$1:$A$50,0)",
    "F": "=INDEX(P!$C$1:$C$50,MATCH(A{r},P!$A$1:$A$50,0))",
    "G": "=INDEX(P!$D$1:$D$3,MATCH(A{r},P!$A$1:$A$50,0))",     # past its end: #REF!
    "H": "=INDEX(P!$B$1:$B$50,A{r})",
    "I": "=INDEX(P!$E$1:$AZ$1,A{r})",                           # a row vector
    "J": "=MATCH(A{r},P!$E$2:$AZ$2,0)",                         # a horizontal search
}


def _book() -> dict:
    p = {}
    for i, row in enumerate(PRODUCTS, 1):
        for col, v in zip("ABCD", row):
            if v is not None:
                p[f"{col}{i}"] = v
    for j in range(48):                       # row 1 and row 2 of columns E.. (E=5)
        col = num_to_col(5 + j)
        p[f"{col}1"] = f"r{j}"
        p[f"{col}2"] = float(100 + j)
    return {"S": _keyed_rows(KEYS, FORMULAS, N), "P": p}


def _keyed_rows(keys: list, formulas: dict, rows: int) -> dict:
    """Column A: the keys, cycled over `rows` rows; the formulas ({column: text with
    {r}}) copied down beside them."""
    s = {}
    for r in range(1, rows + 1):
        s[f"A{r}"] = keys[(r - 1) % len(keys)]
        for col, f in formulas.items():
            s[f"{col}{r}"] = f.format(r=r)
    return s


def _calc(book: dict) -> Workbook:
    wb = Workbook.from_dict(book)
    wb.calculate(strategy="serial")
    return wb


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex()
    return type(a) is type(b) and a == b


def _assert_same_columns(on: Workbook, off: Workbook, cols, rows: int) -> None:
    """Every formula column of sheet S has the same values (types and bits) in both."""
    for col in cols:
        a = [on[f"S!{col}{r}"] for r in range(1, rows + 1)]
        b = [off[f"S!{col}{r}"] for r in range(1, rows + 1)]
        bad = [(r, x, y) for r, (x, y) in enumerate(zip(a, b), 1) if not _same(x, y)]
        assert not bad, (col, bad[:5])


def test_every_kind_of_key_gives_the_per_cell_values(monkeypatch):
    on = _calc(_book())
    monkeypatch.setattr(vector, "ENABLED", False)
    off = _calc(_book())
    assert off.report.vectorized == 0
    _assert_same_columns(on, off, FORMULAS, N)
    # most rows took the fast path, the unusual ones (logical and error keys, wildcards,
    # long text, INDEX positions below 1, ...) the per-cell path
    assert len(FORMULAS) * N // 2 < on.report.vectorized < len(FORMULAS) * N


def test_hand_derived_rows():
    wb = _calc(_book())

    def at(col, key):
        return wb[f"S!{col}{KEYS.index(key) + 1}"]
    assert at("B", 101.0) == "Apple"            # the first of two 101s
    assert at("C", 101.0) == 1.5
    assert at("D", 101.0) == 0.0                # a blank result cell shows 0
    assert at("D", 102.0) == "x" and at("D", 103.0) == V.DIV0
    assert at("B", "K7") == "Kiwi" and at("B", "k8") == "Plum"     # text without case
    assert at("C", 104.0) == 0.0
    assert at("B", 999.0) == V.NA and at("E", 999.0) == V.NA
    assert at("B", None) == V.NA                # a blank key matches nothing exactly
    assert at("B", 0.1 + 0.2) == "Third"        # 0.30000000000000004 = 0.3 at 15 digits
    assert at("B", "A*B") == "Star"             # a wildcard: A, anything, B (per-cell path)
    assert at("B", "") == "Empty"
    assert at("E", 101.0) == 1.0 and at("E", "k8") == 5.0
    assert at("F", 102.0) == 2.25
    assert at("G", 102.0) == "x" and at("G", 104.0) == V.REF       # position 7 of 3
    assert at("H", 1.9) == "Apple"              # INDEX truncates 1.9 to 1
    assert at("H", 45.0) == 0.0                 # row 45 of B1:B50 is blank
    assert at("H", 1005.0) == V.REF
    assert at("I", 45.0) == "r44"
    assert at("J", 104.0) == 5.0                # 104 is the 5th of 100, 101, ...
    assert at("B", "x" * 300) == V.VALUE        # long text: #VALUE! (per-cell path)


def test_shapes_outside_the_fast_path_compile_to_nothing():
    wb = Workbook.from_dict({"S": {"A1": 1.0}})
    ev = wb.engine
    from xleval.parser.parser import parse
    for text in ["VLOOKUP(A1,$B$1:$C$9,2,TRUE)",      # approximate
                 "VLOOKUP(A1,$B$1:$C$9,3,FALSE)",     # a column outside the table
                 "VLOOKUP(A1,B1:C9,2,FALSE)",         # a relative table
                 "MATCH(A1,$B$1:$C$9,0)",             # 2-D
                 "MATCH(A1,$B$1:$B$9,1)",
                 "INDEX($B$1:$C$9,A1)",               # 2-D INDEX
                 "INDEX($B$1:$B$9,A1,1)",
                 "VLOOKUP(A1:A2,$B$1:$C$9,2,FALSE)",  # a range key
                 "1+VLOOKUP(A1,$B$1:$C$9,2,FALSE)"]:
        with pytest.raises(VL.Unsupported):
            VL.compile_lookup(ev, parse(text, (1, 4)), 0)
    prog = VL.compile_lookup(ev, parse("INDEX($B$1:$B$9,MATCH(A1,$C$1:$C$9,0))", (1, 4)), 0)
    assert prog.kind == "index_match" and prog.result.nrows == 9


def test_pending_result_cells_fall_back():
    """Result cells computed by formulas of a later layer: the lookup column still gives
    the per-cell values (the fast path leaves the rows it cannot finish pending)."""
    s = {f"A{r}": float(r % 5 + 1) for r in range(1, N + 1)}
    p = {f"A{i}": float(i) for i in range(1, 21)}
    p.update({f"B{i}": f"=A{i}*10" for i in range(1, 21)})
    s.update({f"B{r}": f"=VLOOKUP(A{r},P!$A$1:$B$20,2,FALSE)" for r in range(1, N + 1)})
    wb = _calc({"S": s, "P": p})
    assert [wb[f"S!B{r}"] for r in range(1, 6)] == [20.0, 30.0, 40.0, 50.0, 10.0]


# ----------------------------------------------------------------------------------------
# SUMIFS & co.: one evaluation per distinct key
# ----------------------------------------------------------------------------------------
CRIT_KEYS = ["Red", "red", "Blue", 5.0, "5", ">5", "<>Red", "B*", "", None, True, V.NA,
             "Green", 2.0]

BY_KEY = {
    "B": "=SUMIFS(T!$C$1:$C$30,T!$A$1:$A$30,A{r})",
    "C": "=SUMIFS(T!$C$1:$C$30,T!$A$1:$A$30,A{r},T!$B$1:$B$30,\">1\")",
    "D": "=COUNTIF(T!$A$1:$A$30,A{r})",
    "E": "=COUNTIFS(T!$B$1:$B$30,\"<4\",T!$A$1:$A$30,A{r})",
    "F": "=AVERAGEIFS(T!$C$1:$C$30,T!$A$1:$A$30,A{r})",
    "G": "=MAXIFS(T!$C$1:$C$30,T!$A$1:$A$30,A{r})",
    "H": "=SUMIF(T!$A$1:$A$30,A{r},T!$C$1:$C$30)",
    "I": "=MINIFS(T!$C$1:$C$30,T!$B$1:$B$30,A{r})",
}


def _crit_book(rows: int = 6 * len(CRIT_KEYS)) -> dict:
    colours = ["Red", "Blue", "Green", "red", "Black", 5.0, "5", ">5", None, "B*"]
    t = {}
    for i in range(1, 31):
        c = colours[i % len(colours)]
        if c is not None:
            t[f"A{i}"] = c
        t[f"B{i}"] = float(i % 6)
        t[f"C{i}"] = float(i * 10)
    return {"S": _keyed_rows(CRIT_KEYS, BY_KEY, rows), "T": t}


def test_conditional_aggregates_by_key_give_the_per_cell_values(monkeypatch):
    rows = 6 * len(CRIT_KEYS)
    on = _calc(_crit_book())
    assert on.report.vectorized == len(BY_KEY) * rows
    monkeypatch.setattr(vector, "ENABLED", False)
    off = _calc(_crit_book())
    _assert_same_columns(on, off, BY_KEY, rows)
    # [hand] "Red" matches Red (rows 10, 20, 30) and red (rows 3, 13, 23); C is 10 x row
    assert on["S!B1"] == on["S!H1"] == 10.0 * (10 + 20 + 30 + 3 + 13 + 23) and on["S!D1"] == 6.0


def test_mostly_distinct_keys_stay_per_cell():
    s = {f"A{r}": float(r) for r in range(1, 41)}
    s.update({f"B{r}": f"=COUNTIF($A$1:$A$40,A{r})" for r in range(1, 41)})
    wb = _calc({"S": s})
    assert wb["S!B7"] == 1.0 and wb.report.vectorized == 0


def test_by_key_needs_absolute_ranges_and_cell_criteria():
    """A criterion range is intersected with the formula's row: such a formula is not a
    function of its key alone, so it stays per cell; so do relative ranges."""
    wb = Workbook.from_dict({"S": {"A1": 1.0}})
    ev = wb.engine
    from xleval.parser.parser import parse
    for text in ["SUMIFS($C$1:$C$9,$A$1:$A$9,E2,$B$1:$B$9,$D$1:$D$9)",   # a criterion range
                 "SUMIFS(C1:C9,$A$1:$A$9,E2)",                          # a relative range
                 "SUMIFS($C$1:$C$9,$A$1:$A$9,E2,$B$1:$B$9,F2)",         # two key cells
                 "COUNTIF(A2,$B$1)",                                     # a relative range
                 "SUMIFS($C$1:$C$9,$A$1:$A$9,\">\"&E2)"]:               # a computed criterion
        with pytest.raises(VL.Unsupported):
            VL.compile_lookup(ev, parse(text, (2, 7)), 0)
    prog = VL.compile_lookup(ev, parse("SUMIFS($C$1:$C$9,$A$1:$A$9,E2,$B$1:$B$9,$F$1)",
                                       (2, 7)), 0)
    assert prog.kind == "by_key" and prog.key[1:] == (0, False, -2, False)

    # and the values: a row-intersected criterion range gives per-row results
    s = {f"A{r}": "x" for r in range(1, 41)}
    s.update({f"B{r}": float(r % 3) for r in range(1, 41)})
    s.update({f"C{r}": float(r) for r in range(1, 41)})
    s.update({f"D{r}": float(r % 3) for r in range(1, 41)})
    s.update({f"E{r}": f"=SUMIFS($C$1:$C$40,$A$1:$A$40,A{r},$B$1:$B$40,$D$1:$D$40)"
              for r in range(1, 41)})
    wb = _calc({"S": s})
    # [hand] row r: the rows with B = r mod 3: r mod 3 = 1 -> 1+4+...+40 = 287
    assert wb["S!E1"] == 287.0 and wb["S!E2"] == sum(x for x in range(1, 41) if x % 3 == 2)
