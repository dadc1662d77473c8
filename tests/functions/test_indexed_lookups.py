"""Indexed lookups and the grouped index of the *IFS functions (xleval issue 7).

A range searched again and again within one calculation is answered from an index built
once (lookup.calc_cache): exact VLOOKUP/HLOOKUP/MATCH/XLOOKUP/XMATCH from a dictionary,
SUMIFS/COUNTIFS/... equality criteria from criteria.GroupIndex. The tables below are large
enough (>= 64 cells) and every formula is copied a few times, so the indexed path answers
most calls; `index_stats` proves it did. Expected values are derived by hand from the data
(the arithmetic is written out in comments or in plain Python over the generating rule),
never taken from xleval."""
import pytest

import xleval
from xleval.functions.lookup import index_stats
from xleval.refs import num_to_col
from xleval.values import XLError

NA = XLError("#N/A")
DIV0 = XLError("#DIV/0!")
VALUE = XLError("#VALUE!")

FILL = 100      # rows per table: padded with rows no criterion below matches


def padded(rows: list[tuple], cols: str = "ABC", fill=lambda i: ("zz", 9999.0, 0.0)) -> dict:
    """Cells of a table: `rows` first (from row 1), then filler rows up to FILL."""
    cells = {}
    for i in range(FILL):
        vals = rows[i] if i < len(rows) else fill(i)
        for col, v in zip(cols, vals):
            if v is not None:
                cells[f"{col}{i + 1}"] = v
    return cells


def run(cells: dict, formulas: dict, copies: int = 3,
        strategy: str = "serial") -> tuple[xleval.Workbook, dict]:
    """Calculate `formulas` ({name: formula}), each placed `copies` times in column Z, and
    return the workbook and {name: value}; every copy must agree."""
    sheet = dict(cells)
    where = {}
    r = 1
    for name, f in formulas.items():
        where[name] = []
        for _ in range(copies):
            sheet[f"Z{r}"] = "=" + f
            where[name].append(f"Sheet1!Z{r}")
            r += 1
    wb = xleval.Workbook.from_dict({"Sheet1": sheet})
    wb.calculate(strategy=strategy)
    out = {}
    for name, refs in where.items():
        got = [wb[ref] for ref in refs]
        assert all(g == got[0] for g in got), (name, got)
        out[name] = got[0]
    return wb, out


# ---------------------------------------------------------------------------------------
# SUMIFS / COUNTIFS / AVERAGEIFS / MAXIFS / MINIFS
# ---------------------------------------------------------------------------------------

def grid(n: int) -> dict:
    """Row i (1..n): A = "Cat" & i mod 4, B = i mod 3 (a number), C = i, D = "x"/"y"."""
    cells = {}
    for i in range(1, n + 1):
        cells[f"A{i}"] = f"Cat{i % 4}"
        cells[f"B{i}"] = float(i % 3)
        cells[f"C{i}"] = float(i)
        cells[f"D{i}"] = "x" if i % 2 else "y"
    return cells


def test_sumifs_one_two_three_pairs():
    n = 200
    wb, got = run(grid(n), {
        "one": f"SUMIFS(C1:C{n},A1:A{n},\"Cat1\")",
        "two": f"SUMIFS(C1:C{n},A1:A{n},\"cat1\",B1:B{n},2)",
        "three": f"SUMIFS(C1:C{n},A1:A{n},\"CAT1\",B1:B{n},\"2\",D1:D{n},\"x\")",
        "count3": f"COUNTIFS(A1:A{n},\"Cat3\",B1:B{n},0,D1:D{n},\"=x\")",
        "avg": f"AVERAGEIFS(C1:C{n},A1:A{n},\"Cat2\")",
        "max": f"MAXIFS(C1:C{n},A1:A{n},\"Cat0\",B1:B{n},1)",
        "min": f"MINIFS(C1:C{n},A1:A{n},\"Cat0\",B1:B{n},1)",
        "none": f"SUMIFS(C1:C{n},A1:A{n},\"Cat9\")",
        "avg_none": f"AVERAGEIFS(C1:C{n},A1:A{n},\"Cat9\")",
    })
    rows = range(1, n + 1)
    # i = 1, 5, 9, ..., 197: 50 terms, sum = 50 * (1 + 197) / 2
    assert got["one"] == 4950.0 == sum(i for i in rows if i % 4 == 1)
    # i = 1 mod 4 and 2 mod 3: i = 5 mod 12 -> 5, 17, ..., 197 (17 terms)
    assert got["two"] == sum(range(5, 201, 12)) == 17 * (5 + 197) / 2
    # ... and odd: every such i is odd already (5 mod 12)
    assert got["three"] == got["two"]
    # i = 3 mod 4, 0 mod 3, odd: i = 3 mod 12 -> 3, 15, ..., 195: 17 cells
    assert got["count3"] == 17.0 == len(range(3, 201, 12))
    # i = 2, 6, ..., 198: mean 100
    assert got["avg"] == 100.0
    # i = 0 mod 4 and 1 mod 3: i = 4 mod 12 -> 4 .. 196
    assert got["max"] == 196.0 and got["min"] == 4.0
    assert got["none"] == 0.0 and got["avg_none"] == DIV0
    assert index_stats(wb.engine)["ifs_hits"] > 0


def test_text_case_numbers_and_numeric_text():
    rows = [("apple", 1.0), ("APPLE", 2.0), ("Apple ", 4.0),        # trailing space differs
            (5.0, 8.0), ("5", 16.0), (" 5", 32.0), ("5.0", 64.0), ("five", 128.0),
            (0.1 + 0.2, 256.0),                                      # 0.30000000000000004
            ("0.30000000000000004", 512.0), (0.3, 1024.0)]
    cells = padded(rows, "AB")
    _, got = run(cells, {
        "apple": 'SUMIF(A1:A100,"apple",B1:B100)',
        "num5": "SUMIF(A1:A100,5,B1:B100)",
        "text5": 'SUMIF(A1:A100,"5",B1:B100)',
        "eq5": 'SUMIF(A1:A100,"=5",B1:B100)',
        "x03": "SUMIF(A1:A100,0.3,B1:B100)",
        "t03": 'SUMIF(A1:A100,"0.3",B1:B100)',
    })
    assert got["apple"] == 1 + 2                       # case-insensitive, "Apple " is not it
    # a number criterion matches the number and every text that reads as exactly 5
    assert got["num5"] == got["text5"] == got["eq5"] == 8 + 16 + 32 + 64
    # numbers compare at 15 digits (0.1+0.2 matches 0.3); text must read as exactly 0.3,
    # and "0.30000000000000004" reads as a different double
    assert got["x03"] == got["t03"] == 256 + 1024


def test_booleans_errors_and_blanks():
    rows = [(True, 1.0), (False, 2.0), ("TRUE", 4.0), (1.0, 8.0), ("#N/A", 16.0),
            ("#DIV/0!", 32.0), (None, 64.0), ("", 128.0), (0.0, 256.0), ("0", 512.0)]
    cells = padded(rows, "AB")
    _, got = run(cells, {
        "true": "SUMIF(A1:A100,TRUE,B1:B100)",
        "true_text": 'SUMIF(A1:A100,"true",B1:B100)',
        "one": "SUMIF(A1:A100,1,B1:B100)",
        "na": 'SUMIF(A1:A100,"#N/A",B1:B100)',
        "na_value": "COUNTIF(A1:A100,A5)",
        "blank": 'SUMIF(A1:A100,"",B1:B100)',
        "eq_blank": 'SUMIF(A1:A100,"=",B1:B100)',
        "empty_cell_crit": "SUMIF(A1:A100,Y1,B1:B100)",     # Y1 is empty: the number 0
    })
    assert got["true"] == got["true_text"] == 1        # text "TRUE" and 1 are not TRUE
    assert got["one"] == 8
    assert got["na"] == 16 and got["na_value"] == 1
    assert got["blank"] == 64 + 128                     # blank cells and ""
    assert got["eq_blank"] == 64    # "=": blank cells only (see test_lo_diff_fixes [lo])
    assert got["empty_cell_crit"] == 256 + 512          # 0 and "0"


def test_error_in_sum_range_only_when_matched():
    rows = [("k", 1.0), ("k", "#VALUE!"), ("j", "#DIV/0!"), ("k", "text"), ("k", True)]
    cells = padded(rows, "AB")
    _, got = run(cells, {
        "j": 'SUMIFS(B1:B100,A1:A100,"j")',
        "k": 'SUMIFS(B1:B100,A1:A100,"k")',
        "kcount": 'COUNTIFS(A1:A100,"k")',
        "zz": 'SUMIFS(B1:B100,A1:A100,"zz")',
    })
    assert got["j"] == DIV0 and got["k"] == VALUE     # the matched error propagates
    assert got["kcount"] == 4
    assert got["zz"] == 9999.0 * (FILL - 5)           # text and TRUE in B are skipped


def test_wildcards_and_comparisons_fall_back_and_mix():
    n = 120
    cells = grid(n)
    _, got = run(cells, {
        "wild": f'SUMIFS(C1:C{n},A1:A{n},"cat?",B1:B{n},1)',
        "star": f'COUNTIFS(A1:A{n},"*3",D1:D{n},"y")',
        "gt": f'SUMIFS(C1:C{n},A1:A{n},"Cat2",C1:C{n},">100")',
        "ne": f'COUNTIFS(A1:A{n},"<>Cat2",B1:B{n},0)',
        "le": f'COUNTIFS(C1:C{n},"<=10",D1:D{n},"x",A1:A{n},"Cat1")',
    })
    rows = range(1, n + 1)
    assert got["wild"] == sum(i for i in rows if i % 3 == 1)
    assert got["star"] == 0.0                 # i = 3 mod 4 is odd: always "x"
    assert got["gt"] == sum(i for i in rows if i % 4 == 2 and i > 100)   # 102+...+118
    assert got["ne"] == len([i for i in rows if i % 4 != 2 and i % 3 == 0])
    assert got["le"] == 3.0                   # 1, 5, 9


def test_criteria_of_mixed_types_copied_down():
    # one column of criteria cells of every type, each against the same ranges
    rows = [("a", 1.0), (2.0, 2.0), ("2", 4.0), (True, 8.0), ("#N/A", 16.0), (None, 32.0)]
    cells = padded(rows, "AB")
    crit = {"Y1": "A", "Y2": 2.0, "Y3": "2", "Y4": True, "Y5": "#N/A", "Y6": "=", "Y7": ">1",
            "Y8": "a*"}
    cells.update(crit)
    wb, got = run(cells, {f"r{i}": f"SUMIFS(B1:B100,A1:A100,Y{i})" for i in range(1, 9)})
    assert [got[f"r{i}"] for i in range(1, 9)] == [
        1.0, 2 + 4, 2 + 4, 8.0, 16.0, 32.0,
        2.0,                # ">1": numbers only, text "2" does not compare
        1.0]                # "a*" matches the text "a" only
    assert index_stats(wb.engine)["ifs_hits"] > 0


@pytest.mark.parametrize("strategy", ["serial", "pool"])
def test_criteria_range_of_formula_cells(strategy):
    # the criteria and sum columns are themselves computed in the same calculation
    n = 150
    cells = {}
    for i in range(1, n + 1):
        cells[f"A{i}"] = '="K"&MOD(ROW(),5)'
        cells[f"B{i}"] = "=ROW()"
    _, got = run(cells, {"k2": f'SUMIFS(B1:B{n},A1:A{n},"k2")',
                         "k0": f'COUNTIF(A1:A{n},"K0")'}, copies=5, strategy=strategy)
    assert got["k2"] == sum(i for i in range(1, n + 1) if i % 5 == 2)
    assert got["k0"] == 30.0


def test_value_changed_between_calculations():
    n = 100
    cells = grid(n)
    cells["Z1"] = f'=SUMIFS(C1:C{n},A1:A{n},"Cat1")'
    cells["Z2"] = f'=SUMIFS(C1:C{n},A1:A{n},"Cat1",B1:B{n},1)'
    cells["Z3"] = f'=COUNTIF(A1:A{n},"Cat1")'
    wb = xleval.Workbook.from_dict({"Sheet1": cells})
    wb.calculate()
    base1 = sum(i for i in range(1, n + 1) if i % 4 == 1)
    base2 = sum(i for i in range(1, n + 1) if i % 4 == 1 and i % 3 == 1)
    assert wb["Sheet1!Z1"] == base1 and wb["Sheet1!Z2"] == base2 and wb["Sheet1!Z3"] == 25
    wb.set_value("Sheet1!A4", "cat1")          # row 4: B = 1, C = 4 joins both groups
    wb.set_value("Sheet1!C1", 1000)            # row 1 is Cat1, B = 1: 1 -> 1000
    wb.calculate()
    assert wb["Sheet1!Z1"] == base1 + 4 + 999
    assert wb["Sheet1!Z2"] == base2 + 4 + 999
    assert wb["Sheet1!Z3"] == 26
    wb.set_value("Sheet1!A4", "Cat0")
    wb.calculate(strategy="pool", workers=2)
    assert wb["Sheet1!Z1"] == base1 + 999 and wb["Sheet1!Z3"] == 25


def test_grouped_index_is_used_on_2000_rows():
    n = 2000
    cells = grid(n)
    for i in range(1, n + 1):
        cells[f"E{i}"] = f'=SUMIFS($C$1:$C${n},$A$1:$A${n},A{i},$B$1:$B${n},B{i})'
    wb = xleval.Workbook.from_dict({"Sheet1": cells})
    wb.calculate()
    stats = index_stats(wb.engine)
    assert stats["ifs_indexes"] == 1
    assert stats["ifs_hits"] >= n - 2          # the first call scans, the second builds
    for i in (1, 2, 777, 1999, 2000):
        # rows with the same i mod 12 (i mod 4 and i mod 3 together)
        assert wb[f"Sheet1!E{i}"] == sum(j for j in range(1, n + 1) if j % 12 == i % 12)


# ---------------------------------------------------------------------------------------
# exact and approximate lookups
# ---------------------------------------------------------------------------------------

def lookup_table() -> dict:
    rows = [("b", "first b"), ("B", "second b"), (5.0, "number 5"), ("5", "text 5"),
            (True, "true"), ("#N/A", "error"), (None, "blank"), ("a*c", "star"),
            ("abc", "abc"), (0.1 + 0.2, "0.3-ish"), ("b", "third b")]
    return padded(rows, "AB", fill=lambda i: (f"k{i}", f"v{i}"))


def test_exact_lookups_duplicates_case_types():
    cells = lookup_table()
    _, got = run(cells, {
        "v_b": 'VLOOKUP("B",A1:B100,2,FALSE)',
        "m_b": 'MATCH("b",A1:A100,0)',
        "x_b_last": 'XLOOKUP("b",A1:A100,B1:B100,"none",0,-1)',
        "xm_b": 'XMATCH("B",A1:A100)',
        "v_5": "VLOOKUP(5,A1:B100,2,FALSE)",
        "v_t5": 'VLOOKUP("5",A1:B100,2,FALSE)',
        "v_03": "VLOOKUP(0.3,A1:B100,2,FALSE)",
        "v_true": "VLOOKUP(TRUE,A1:B100,2,FALSE)",
        "v_1": "VLOOKUP(1,A1:B100,2,FALSE)",
        "m_na": "MATCH(A6,A1:A100,0)",
        "m_blank": "MATCH(Y1,A1:A100,0)",
        "x_missing": 'XLOOKUP("nope",A1:A100,B1:B100,"none")',
        "fill": 'VLOOKUP("K57",A1:B100,2,FALSE)',
    })
    assert got["v_b"] == "first b" and got["m_b"] == 1.0      # the first duplicate wins
    assert got["x_b_last"] == "third b" and got["xm_b"] == 1.0
    assert got["v_5"] == "number 5" and got["v_t5"] == "text 5"  # "5" never matches 5
    assert got["v_03"] == "0.3-ish"                           # 15-digit comparison
    assert got["v_true"] == "true" and got["v_1"] == NA        # 1 is not TRUE
    assert got["m_na"] == NA                                   # the error propagates
    assert got["m_blank"] == NA                                # blanks never match
    assert got["x_missing"] == "none"
    assert got["fill"] == "v57"


def test_wildcard_lookups_fall_back():
    cells = lookup_table()
    _, got = run(cells, {
        "m_star": 'MATCH("a*",A1:A100,0)',        # "a*c" comes first
        "m_tilde": 'MATCH("a~*c",A1:A100,0)',     # the literal "a*c"
        "m_q": 'MATCH("?bc",A1:A100,0)',
        "x_wild": 'XLOOKUP("k9?",A1:A100,B1:B100,"none",2)',
        "x_plain": 'XLOOKUP("a*c",A1:A100,B1:B100,"none",0)',   # mode 0: no wildcards
    })
    assert got["m_star"] == 8.0 and got["m_tilde"] == 8.0 and got["m_q"] == 9.0
    assert got["x_wild"] == "v90" and got["x_plain"] == "star"


def test_hlookup_exact_and_index_match_pairs():
    cells = {}
    for j in range(1, 81):                       # a row of keys 10, 20, ... 800
        col = num_to_col(j)
        cells[f"{col}1"] = float(10 * j)
        cells[f"{col}2"] = f"h{j}"
    cells["A3"] = "=HLOOKUP(300,A1:CB2,2,FALSE)"
    cells["A4"] = "=HLOOKUP(305,A1:CB2,2,FALSE)"
    cells["A5"] = "=INDEX(A2:CB2,MATCH(800,A1:CB1,0))"
    cells["A6"] = "=INDEX(A2:CB2,MATCH(810,A1:CB1,0))"
    cells["A7"] = "=HLOOKUP(305,A1:CB2,2,TRUE)"
    wb = xleval.Workbook.from_dict({"Sheet1": cells})
    wb.calculate()
    assert [wb[f"Sheet1!A{r}"] for r in range(3, 8)] == ["h30", NA, "h80", NA, "h30"]


def test_approximate_match_sorted_and_unsorted():
    sorted_rows = [(float(10 * i), f"s{i}") for i in range(1, 101)]        # 10 .. 1000
    cells = padded(sorted_rows, "AB")
    # unsorted keys in D1:D5 (Excel's binary search over 1, 5, 3, 9, 2):
    for i, v in enumerate([1.0, 5.0, 3.0, 9.0, 2.0], start=1):
        cells[f"D{i}"] = v
    _, got = run(cells, {
        "v_355": "VLOOKUP(355,A1:B100,2,TRUE)",
        "v_10": "VLOOKUP(10,A1:B100,2)",
        "v_5": "VLOOKUP(5,A1:B100,2,TRUE)",
        "m_2000": "MATCH(2000,A1:A100,1)",
        # lo=0 hi=4: mid 2 (3 <= 4) -> lo 3; mid 3 (9 > 4) -> hi 2: position 3
        "u_4": "MATCH(4,D1:D5,1)",
        # mid 2 (3 > 2.5) -> hi 1; mid 0 (1 <= 2.5) -> lo 1; mid 1 (5 > 2.5): position 1
        "u_25": "MATCH(2.5,D1:D5,1)",
        # mid 2 (3 <= 10) -> lo 3; mid 3 (9 <= 10) -> lo 4; mid 4 (2 <= 10): position 5
        "u_10": "MATCH(10,D1:D5,1)",
    })
    assert got["v_355"] == "s35" and got["v_10"] == "s1" and got["v_5"] == NA
    assert got["m_2000"] == 100.0
    assert got["u_4"] == 3.0 and got["u_25"] == 1.0 and got["u_10"] == 5.0


def test_lookup_sees_value_changed_between_calculations():
    cells = padded([(float(i), f"r{i}") for i in range(1, 101)], "AB")
    cells["Z1"] = "=VLOOKUP(42,A1:B100,2,FALSE)"
    cells["Z2"] = "=MATCH(42,A1:A100,0)"
    cells["Z3"] = '=XLOOKUP(42,A1:A100,B1:B100,"none")'
    wb = xleval.Workbook.from_dict({"Sheet1": cells})
    wb.calculate()
    assert [wb["Sheet1!Z1"], wb["Sheet1!Z2"], wb["Sheet1!Z3"]] == ["r42", 42.0, "r42"]
    wb.set_value("Sheet1!A10", 42)            # an earlier duplicate now wins
    wb.calculate()
    assert [wb["Sheet1!Z1"], wb["Sheet1!Z2"], wb["Sheet1!Z3"]] == ["r10", 10.0, "r10"]
    wb.set_value("Sheet1!A10", 10)
    wb.set_value("Sheet1!A42", "gone")
    wb.calculate()
    assert [wb["Sheet1!Z1"], wb["Sheet1!Z2"], wb["Sheet1!Z3"]] == [NA, NA, "none"]


def test_lookup_index_is_used_on_2000_rows():
    n = 2000
    cells = {}
    for i in range(1, n + 1):
        cells[f"A{i}"] = f"key{i}"
        cells[f"B{i}"] = float(i * i)
        cells[f"C{i}"] = f"key{n + 1 - i}"
        cells[f"D{i}"] = f"=VLOOKUP(C{i},$A$1:$B${n},2,FALSE)"
        cells[f"E{i}"] = f"=INDEX($B$1:$B${n},MATCH(C{i},$A$1:$A${n},0))"
    wb = xleval.Workbook.from_dict({"Sheet1": cells})
    wb.calculate()
    stats = index_stats(wb.engine)
    assert stats["lookup_vectors"] == 1        # VLOOKUP and MATCH share the A column
    assert stats["lookup_hits"] >= 2 * n - 2
    for i in (1, 500, 2000):
        j = n + 1 - i
        assert wb[f"Sheet1!D{i}"] == wb[f"Sheet1!E{i}"] == float(j * j)


def test_indexed_and_scanned_results_agree_on_mixed_data(monkeypatch):
    """Differential check: random mixed-type ranges and criteria of every kind give the
    same results through the grouped index as through the cell-by-cell scan (forced by
    raising the index's minimum size)."""
    import random

    from xleval.functions import math as xmath
    rnd = random.Random(7)
    pool = [1.0, 2.0, 5.0, 0.1 + 0.2, 0.3, 0.0, "a", "A", "b", "5", " 5", "5.0", "0.3", "0",
            "TRUE", "", "a*", True, False, None, "#N/A", "#DIV/0!", "x y"]
    crits = [1.0, 5.0, 0.3, 0.0, "a", "=A", "5", "=5", "0.3", "true", "FALSE", "", "=",
             "<>", "<>a", ">1", "<=5", "a*", "?", "#N/A", "=#DIV/0!", True, None, "x y"]
    n = 150
    cells = {}
    for i in range(1, n + 1):
        for col in "ABC":
            v = rnd.choice(pool)
            if v is not None:
                cells[f"{col}{i}"] = v
        cells[f"D{i}"] = float(rnd.randint(1, 50))
    formulas = {}
    for k in range(60):
        c1, c2, c3 = (rnd.choice(crits) for _ in range(3))
        for j, c in enumerate((c1, c2, c3)):
            if c is not None:
                cells[f"{'XYZ'[j]}{k + 1}"] = c
        r = k + 1
        formulas[f"s{k}"] = f"SUMIFS(D1:D{n},A1:A{n},X{r},B1:B{n},Y{r})"
        formulas[f"c{k}"] = f"COUNTIFS(A1:A{n},X{r},B1:B{n},Y{r},C1:C{n},Z{r})"
        formulas[f"i{k}"] = f"SUMIF(C1:C{n},Z{r},D1:D{n})"
    wb, indexed = run(cells, formulas, copies=2)
    assert index_stats(wb.engine)["ifs_hits"] > 50
    monkeypatch.setattr(xmath, "_INDEX_MIN_CELLS", 10 ** 9)
    wb2, scanned = run(cells, formulas, copies=2)
    assert index_stats(wb2.engine)["ifs_hits"] == 0
    assert indexed == scanned


def test_xlookup_next_smaller_larger_on_unsorted_data():
    # XLOOKUP/XMATCH match_mode -1/1 look at every value (no sort order assumed):
    # numbers < text < logicals; equal values: the first in the search direction
    rows = [(30.0, "a30"), (10.0, "a10"), ("pear", "pear"), (20.0, "a20"), (True, "t"),
            (10.0, "b10"), ("Apple", "apple"), (None, "blank"), ("#N/A", "err"),
            (40.0, "a40")]
    cells = padded(rows, "AB", fill=lambda i: (None, f"f{i}"))
    _, got = run(cells, {
        "le15": 'XLOOKUP(15,A1:A100,B1:B100,"none",-1)',      # 10 (first of two)
        "le15_rev": 'XLOOKUP(15,A1:A100,B1:B100,"none",-1,-1)',  # 10, the later one
        "ge15": 'XLOOKUP(15,A1:A100,B1:B100,"none",1)',       # 20
        "ge41": 'XLOOKUP(41,A1:A100,B1:B100,"none",1)',       # text is above numbers
        "le5": 'XLOOKUP(5,A1:A100,B1:B100,"none",-1)',        # nothing below 5
        "eq20": 'XMATCH(20,A1:A100,-1)',
        "le_b": 'XLOOKUP("b",A1:A100,B1:B100,"none",-1)',     # "Apple" < "b" < "pear"
        "ge_q": 'XLOOKUP("q",A1:A100,B1:B100,"none",1)',      # TRUE: logicals after text
        "ge_true": 'XLOOKUP(TRUE,A1:A100,B1:B100,"none",1)',
        "le_a": 'XMATCH("APPLE",A1:A100,1)',                  # case-insensitive equal
    })
    assert got["le15"] == "a10" and got["le15_rev"] == "b10" and got["ge15"] == "a20"
    assert got["ge41"] == "apple" and got["le5"] == "none" and got["eq20"] == 4.0
    assert got["le_b"] == "apple" and got["ge_q"] == "t" and got["ge_true"] == "t"
    assert got["le_a"] == 7.0


def test_xlookup_approximate_indexed_and_walked_agree(monkeypatch):
    """Differential check: match_mode -1/1 answered from the sorted keys equals the walk."""
    import random

    from xleval.functions import lookup as xlookup
    rnd = random.Random(11)
    pool = [1.0, 2.0, 2.5, 0.1 + 0.2, 0.3, -4.0, "a", "A", "b", "ß", "ss", "Z", "", True,
            False, None, "#N/A"]
    n = 80
    cells = {}
    for i in range(1, n + 1):
        v = rnd.choice(pool)
        if v is not None:
            cells[f"A{i}"] = v
    formulas = {}
    for k, x in enumerate([0.0, 0.3, 2.0, 2.2, 9.0, -9.0, "a", "b", "s", "zz", "", True,
                           False]):
        cells[f"Y{k + 1}"] = x
        for mm in (-1, 1):
            for sm in (1, -1):
                formulas[f"{k}_{mm}_{sm}"] = f"XMATCH(Y{k + 1},A1:A{n},{mm},{sm})"
    wb, indexed = run(cells, formulas, copies=2)
    assert index_stats(wb.engine)["lookup_hits"] > 20
    monkeypatch.setattr(xlookup, "_CACHE_MIN", 10 ** 9)
    _, walked = run(cells, formulas, copies=2)
    assert indexed == walked


def test_whole_columns_blank_criteria_count_cells_beyond_the_data():
    n = 100
    cells = grid(n)
    cells["A5"] = ""                           # an empty text counts as blank too
    del cells["A7"]                            # a blank inside the data
    _, got = run(cells, {
        "blank": 'COUNTIF(A:A,"")',
        "blank2": 'COUNTIFS(A:A,"",D:D,"x")',
        "cat1": 'SUMIFS(C:C,A:A,"Cat1",B:B,1)',
    })
    assert got["blank"] == 1048576 - n + 2      # every row but the 98 non-empty texts
    # rows 5 and 7 are odd ("x"); beyond row 100 D is blank, so "x" does not match there
    assert got["blank2"] == 2.0
    assert got["cat1"] == sum(i for i in range(1, n + 1) if i % 12 == 1)


def test_repeated_sumifs_groups_keep_their_sum_and_their_error():
    """The same whole groups asked over and over (copies=5): the group's numbers and sum
    are kept with its values; a group whose targets hold an error gives that error every
    time, and AVERAGEIFS/MAXIFS over the same group reuse its numbers."""
    n = 200
    cells = grid(n)
    cells["C8"] = "=1/0"                     # row 8: Cat0 -> the Cat0 group holds #DIV/0!
    wb, got = run(cells, {
        "sum1": f"SUMIFS(C1:C{n},A1:A{n},\"Cat1\")",
        "avg1": f"AVERAGEIFS(C1:C{n},A1:A{n},\"Cat1\")",
        "max1": f"MAXIFS(C1:C{n},A1:A{n},\"Cat1\")",
        "sum0": f"SUMIFS(C1:C{n},A1:A{n},\"Cat0\")",
        "max0": f"MAXIFS(C1:C{n},A1:A{n},\"Cat0\")",
        "sumif1": f"SUMIF(A1:A{n},\"Cat1\",C1:C{n})",
    }, copies=5)
    ones = [float(i) for i in range(1, n + 1) if i % 4 == 1]     # [hand] 1, 5, ..., 197
    assert got["sum1"] == got["sumif1"] == sum(ones) == 4950.0
    assert got["avg1"] == 99.0 and got["max1"] == 197.0
    assert got["sum0"] == DIV0 and got["max0"] == DIV0
    assert index_stats(wb.engine)["ifs_hits"] > 0
