"""Dynamic arrays (spills) and legacy CSE array formulas at their edges.

Expected values come from Excel's documented behaviour, derived by hand:
  * a dynamic array spills to its own size, and the range it spills into grows and
    shrinks with it; A1# refers to that range as it is now ("Dynamic array formulas and
    spilled array behavior", "Spilled range operator", support.microsoft.com);
  * it shows #SPILL! instead when a cell of that range is not empty, when the range would
    pass the sheet's edge, or when the formula is in a table (the SpillErrorCellValueSubType
    values collision, worksheetEdge and table, learn.microsoft.com/javascript/api/excel);
  * a CSE array formula entered over a range larger than its result shows #N/A in the
    extra cells, over a smaller one only the part that fits.
The files are written by hand: a cm attribute on an array formula marks a dynamic array
(as Excel writes it), and its ref is the range Excel last spilled into.
"""
from __future__ import annotations

import re
import zipfile
from xml.sax.saxutils import escape

import xleval
from xleval.values import XLError

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
SPILL, NA = XLError("#SPILL!"), XLError("#N/A")


def _cell(ref, v) -> str:
    if isinstance(v, tuple):
        kind, text, *rng = v
        if kind == "f":
            return f'<c r="{ref}"><f>{escape(text)}</f></c>'
        if kind == "dt":                # a one-input column data table over rng[0]
            return (f'<c r="{ref}"><f t="dataTable" ref="{rng[0]}" dt2D="0" dtr="0" '
                    'r1="A1"/></c>')
        cm = ' cm="1"' if kind == "dyn" else ""          # "dyn": dynamic; "cse": legacy
        return f'<c r="{ref}"{cm}><f t="array" ref="{rng[0]}">{escape(text)}</f></c>'
    if isinstance(v, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
    return f'<c r="{ref}"><v>{v}</v></c>'


def _book(tmp_path, cells: dict, table: tuple | None = None,
          merged: tuple = ()) -> xleval.Workbook:
    """A one-sheet workbook "S"; `table`: (name, ref, column names); `merged`: refs."""
    rows: dict = {}
    for ref, v in cells.items():
        col, row = re.match(r"([A-Z]+)(\d+)$", ref).groups()
        n = 0
        for ch in col:
            n = n * 26 + ord(ch) - 64
        rows.setdefault(int(row), []).append((n, _cell(ref, v)))
    body = "".join(f'<row r="{r}">' + "".join(x for _, x in sorted(cs)) + "</row>"
                   for r, cs in sorted(rows.items()))
    parts = ""
    if merged:
        parts = (f'<mergeCells count="{len(merged)}">'
                 + "".join(f'<mergeCell ref="{m}"/>' for m in merged) + "</mergeCells>")
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
                   f'Type="{RT}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="{RT}"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}">'
                   f'<Relationship Id="rId1" Type="{RT}/worksheet" '
                   'Target="worksheets/sheet1.xml"/></Relationships>')
        if table:
            name, ref, cols = table
            tc = "".join(f'<tableColumn id="{i}" name="{c}"/>' for i, c in enumerate(cols, 1))
            z.writestr("xl/tables/table1.xml",
                       f'<table xmlns="{NS}" id="1" name="{name}" displayName="{name}" '
                       f'ref="{ref}"><tableColumns count="{len(cols)}">{tc}</tableColumns>'
                       "</table>")
            z.writestr("xl/worksheets/_rels/sheet1.xml.rels",
                       f'<Relationships xmlns="{PKG}"><Relationship Id="rIdT" '
                       f'Type="{RT}/table" Target="../tables/table1.xml"/></Relationships>')
            parts += '<tableParts count="1"><tablePart r:id="rIdT"/></tableParts>'
        z.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{NS}" xmlns:r="{RT}">'
                   f"<sheetData>{body}</sheetData>{parts}</worksheet>")
    return xleval.load(str(path))


def _col(wb, col: str, n: int) -> list:
    return [wb[f"S!{col}{i}"] for i in range(1, n + 1)]


def test_spill_past_the_recorded_range_and_calculated_again(tmp_path):
    # the file recorded only the anchor (as a blocked spill is saved, or as other tools
    # write it): the array spills to its own size, and does so again on the next
    # calculation (its own cells from the last one do not block it)
    wb = _book(tmp_path, {"A1": ("dyn", "_xlfn.SEQUENCE(3)", "A1")})
    for _ in range(2):
        wb.calculate()
        assert _col(wb, "A", 4) == [1.0, 2.0, 3.0, None]


def test_reader_of_a_cell_spilled_into_beyond_the_recorded_range(tmp_path):
    # A1 comes first and the graph knows nothing of B5 (not in B1's recorded range): it
    # must still read the spilled 5, not a blank
    wb = _book(tmp_path, {"A1": ("f", "B5*2"), "B1": ("dyn", "_xlfn.SEQUENCE(5)", "B1")})
    wb.calculate()
    assert wb["S!A1"] == 10.0


def test_spill_past_the_sheet_edge(tmp_path):
    wb = _book(tmp_path, {"A1048570": ("dyn", "_xlfn.SEQUENCE(10)", "A1048570"),
                          "XFA1": ("dyn", "_xlfn.SEQUENCE(1,20)", "XFA1"),
                          "A2": ("dyn", "_xlfn.SEQUENCE(1,16384)", "A2")})
    wb.calculate()
    assert wb["S!A1048570"] == SPILL and wb["S!A1048571"] is None
    assert wb["S!XFA1"] == SPILL and wb["S!XFB1"] is None
    assert wb["S!XFD2"] == 16384.0          # exactly to the edge: spills


def test_spill_blocked_by_a_value_a_formula_or_another_array(tmp_path):
    wb = _book(tmp_path, {
        "A1": ("dyn", "_xlfn.SEQUENCE(3)", "A1"), "A3": "x",
        "B1": ("dyn", "_xlfn.SEQUENCE(3)", "B1"), "B3": ("f", '""'),   # "" is not empty
        "C1": ("dyn", "_xlfn.SEQUENCE(3)", "C1"), "C3": ("cse", "7", "C3:D3"),
        "E1": ("dyn", "_xlfn.SEQUENCE(3)", "E1"), "E2": ("dyn", "_xlfn.SEQUENCE(1,2)", "E2:F2"),
    })
    wb.calculate()
    assert _col(wb, "A", 3) == [SPILL, None, "x"]
    assert _col(wb, "B", 3) == [SPILL, None, ""]
    assert _col(wb, "C", 3) == [SPILL, None, 7.0]
    assert wb["S!E1"] == SPILL and wb["S!E2:F2"] == [[1.0, 2.0]] and wb["S!E3"] is None


def test_two_spills_that_would_overlap(tmp_path):
    # B1 spills down over B2, A2 spills right over B2: they cannot both spill. Which one
    # Excel blocks depends on its calculation order (not documented), so only this holds:
    # one anchor shows #SPILL! and the other spills whole
    wb = _book(tmp_path, {"B1": ("dyn", "_xlfn.SEQUENCE(3)", "B1"),
                          "A2": ("dyn", "_xlfn.SEQUENCE(1,3,10)", "A2")})
    for _ in range(2):
        wb.calculate()
        down, right = _col(wb, "B", 3), wb["S!A2:C2"][0]
        assert (down[0] == SPILL) != (right[0] == SPILL)
        if down[0] == SPILL:
            assert right == [10.0, 11.0, 12.0] and down[2] is None
        else:
            assert down == [1.0, 2.0, 3.0] and right[2] is None


def test_spill_anchored_in_a_table(tmp_path):
    wb = _book(tmp_path, {"A1": "h", "B1": "g", "A2": ("dyn", "_xlfn.SEQUENCE(2)", "A2"),
                          "B2": 1, "D1": ("dyn", "_xlfn.SEQUENCE(2)", "D1")},
               table=("T1", "A1:B3", ["h", "g"]))
    wb.calculate()
    assert wb["S!A2"] == SPILL and wb["S!A3"] is None
    assert _col(wb, "D", 2) == [1.0, 2.0]           # outside the table: spills


def test_spill_resized_between_calculations(tmp_path):
    wb = _book(tmp_path, {"E1": 3, "A1": ("dyn", "_xlfn.SEQUENCE(E1)", "A1:A3"),
                          "B1": ("f", "SUM(_xlfn.ANCHORARRAY(A1))"),
                          "B2": ("f", "ROWS(_xlfn.ANCHORARRAY(A1))"),
                          "B3": ("f", "A5"), "B4": ("f", "COUNT(A:A)")})
    expect = {3: [1.0, 2.0, 3.0, None, None, None, None],
              6: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None],
              2: [1.0, 2.0, None, None, None, None, None],
              5: [1.0, 2.0, 3.0, 4.0, 5.0, None, None],
              1: [1.0, None, None, None, None, None, None]}
    for n in (3, 6, 2, 5, 1):
        wb.set_value("S!E1", n)
        wb.calculate()
        assert _col(wb, "A", 7) == expect[n], n
        # SUM(A1#) = n(n+1)/2, ROWS(A1#) = n, A5 = 5 while the spill reaches it, else 0
        assert _col(wb, "B", 4) == [n * (n + 1) / 2, float(n),
                                    5.0 if n >= 5 else 0.0, float(n)], n


def test_value_typed_into_a_spill_blocks_it_until_cleared(tmp_path):
    wb = _book(tmp_path, {"E1": 5, "A1": ("dyn", "_xlfn.SEQUENCE(E1)", "A1:A3"),
                          "B1": ("f", "ROWS(_xlfn.ANCHORARRAY(A1))")})
    wb.calculate()
    assert _col(wb, "A", 5) == [1.0, 2.0, 3.0, 4.0, 5.0]
    for ref in ("S!A4", "S!A2"):          # past the recorded range, then inside it
        wb.set_value(ref, "x")
        wb.calculate()
        assert wb["S!A1"] == SPILL and wb[ref] == "x"
        assert [v for v in _col(wb, "A", 5)[1:] if v is not None] == ["x"]
        assert wb["S!B1"] == 1.0           # A1# of a blocked anchor is the anchor alone
        wb.set_value(ref, None)
        wb.calculate()
        assert _col(wb, "A", 5) == [1.0, 2.0, 3.0, 4.0, 5.0]
        assert wb["S!B1"] == 5.0


def test_spill_operator_follows_a_spill_smaller_than_recorded(tmp_path):
    # recorded as A1:A5, now 3 rows: A1# is A1:A3, and the chain B1 = A1#*10 spills 3
    wb = _book(tmp_path, {"A1": ("dyn", "_xlfn.SEQUENCE(3)", "A1:A5"),
                          "B1": ("dyn", "_xlfn.ANCHORARRAY(A1)*10", "B1:B5"),
                          "C1": ("f", "ROWS(_xlfn.ANCHORARRAY(B1))"),
                          "C2": ("f", "SUM(_xlfn.ANCHORARRAY(B1))")})
    wb.calculate()
    assert _col(wb, "A", 5) == [1.0, 2.0, 3.0, None, None]
    assert _col(wb, "B", 5) == [10.0, 20.0, 30.0, None, None]
    assert _col(wb, "C", 2) == [3.0, 60.0]


def test_spill_of_a_range_reads_blank_cells_as_zero(tmp_path):
    # =A1:A3 spilled shows the referenced values; a blank cell shows 0
    wb = _book(tmp_path, {"A1": 1, "A3": 3, "B1": ("dyn", "A1:A3", "B1:B3")})
    wb.calculate()
    assert _col(wb, "B", 3) == [1.0, 0.0, 3.0]


def test_cse_array_over_larger_smaller_and_single_cell_ranges(tmp_path):
    wb = _book(tmp_path, {"A1": 1, "A2": 2, "A3": 3,
                          "B1": ("cse", "A1:A3*2", "B1:B5"), "C1": ("cse", "A1:A3*2", "C1:C2"),
                          "D1": ("cse", "A1:A3*2", "D1"), "E1": ("cse", "A1:A3", "E1:F4")})
    wb.calculate()
    assert _col(wb, "B", 5) == [2.0, 4.0, 6.0, NA, NA]
    assert _col(wb, "C", 3) == [2.0, 4.0, None]
    assert wb["S!D1"] == 2.0
    # a one-column array fills every column of the range; rows past it are #N/A
    assert wb["S!E1:F4"] == [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [NA, NA]]


def _saved_sheet(wb, tmp_path) -> str:
    out = tmp_path / "out.xlsx"
    wb.save(str(out))
    with zipfile.ZipFile(out) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


def test_saved_file_records_the_range_a_spill_fills_now(tmp_path):
    # Excel reads the cells past an array's recorded ref as constants in its way: after
    # growing, shrinking or being blocked, the saved <f t="array" ref> must be the range
    # it fills now (the anchor alone for #SPILL!), and cells it left hold nothing
    wb = _book(tmp_path, {"E1": 3, "A1": ("dyn", "_xlfn.SEQUENCE(E1)", "A1:A3")})
    for n, ref in ((5, "A1:A5"), (2, "A1:A2"), (3, "A1:A3")):
        wb.set_value("S!E1", n)
        wb.calculate()
        xml = _saved_sheet(wb, tmp_path)
        assert re.search(r'<c r="A1"[^>]*><f t="array" ref="([^"]+)"', xml).group(1) == ref
        for i in range(2, 7):
            m = re.search(rf'<c r="A{i}"[^>]*?(?:/>|>(.*?)</c>)', xml)
            has_value = bool(m and m.group(1) and "<v>" in m.group(1))
            assert has_value == (i <= n), (n, i)
    wb.set_value("S!A2", "x")                    # in the way: #SPILL!, the anchor alone
    wb.calculate()
    xml = _saved_sheet(wb, tmp_path)
    assert re.search(r'<c r="A1"[^>]*><f t="array" ref="([^"]+)"', xml).group(1) == "A1"
    assert "#SPILL!" in re.search(r'<c r="A1".*?</c>', xml).group(0)


def test_an_array_anchor_given_new_content_lets_go_of_its_cells(tmp_path):
    # the cells an array filled are blank once its anchor holds something else (Excel:
    # typing over the anchor removes the array); they showed 0, or Excel's old values
    for kind in ("dyn", "cse"):
        wb = _book(tmp_path, {"A1": (kind, "_xlfn.SEQUENCE(3)", "A1:A3"),
                              "B1": ("f", "COUNT(A1:A3)")})
        wb.calculate()
        assert _col(wb, "A", 3) == [1.0, 2.0, 3.0] and wb["S!B1"] == 3.0
        wb.set_value("S!A1", "=5")
        wb.calculate()
        assert _col(wb, "A", 3) == [5.0, None, None] and wb["S!B1"] == 1.0, kind
        wb.set_value("S!A1", 7)
        wb.calculate()
        assert _col(wb, "A", 3) == [7.0, None, None] and wb["S!B1"] == 1.0, kind


def test_merged_cells_block_a_spill(tmp_path, monkeypatch):
    # Excel's SpillErrorCellValueSubType lists mergedCell: an array cannot spill into
    # merged cells (#SPILL!); merged cells elsewhere do not matter. Both sheet readers.
    from xleval.loader import xlsx as X
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(X, "_scan_sheet", lambda *a: False)
        wb = _book(tmp_path, {"A1": ("dyn", "_xlfn.SEQUENCE(3)", "A1:A3"),
                              "C1": ("dyn", "_xlfn.SEQUENCE(2)", "C1:C2")},
                   merged=("A3:B3", "E1:F2"))
        assert wb.data.sheets[0].merged == [(3, 1, 3, 2), (1, 5, 2, 6)]
        wb.calculate()
        assert _col(wb, "A", 3) == [SPILL, None, None], fast
        assert _col(wb, "C", 2) == [1.0, 2.0], fast


def test_compiled_model_follows_a_spill_that_changes_size(tmp_path):
    # B1 reads A5, past the range the file recorded for A1's spill: no edge leads from the
    # input E1 to it, so a scenario where the spill reaches A5 is calculated in full
    _book(tmp_path, {"E1": 3, "A1": ("dyn", "_xlfn.SEQUENCE(E1)", "A1:A3"),
                     "B1": ("f", "A5*10"), "B2": ("f", "SUM(_xlfn.ANCHORARRAY(A1))")})
    model = xleval.compile(str(tmp_path / "book.xlsx"), inputs=["S!E1"],
                           outputs=["S!B1", "S!B2"])
    # [hand] A5 is 5 while SEQUENCE(n) reaches it, else blank (0); SUM = n(n+1)/2
    for n in (3, 6, 2, 5, 4):
        assert model({"S!E1": n}) == {"S!B1": 50.0 if n >= 5 else 0.0,
                                      "S!B2": n * (n + 1) / 2}, n
