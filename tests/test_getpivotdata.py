"""GETPIVOTDATA: the loader reads pivot table layouts, the function maps field/item pairs to
the report cell that shows the value and reads it.

The fixtures are hand-written .xlsx packages: a source table, pivot reports rendered as
Excel lays them out (plain constants), the pivotTable and pivotCacheDefinition parts that
describe them, and formulas on a Calc sheet with no cached values. Expected values are
read off the rendered reports written below."""
from __future__ import annotations

import pathlib
import zipfile

import pytest

import xleval
from xleval.loader import load_workbook
from xleval.values import XLError

CORPUS = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
SSML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
REF = XLError("#REF!")


def _rels(rels: list[tuple[str, str, str]]) -> str:
    body = "".join(f'<Relationship Id="{i}" Type="{RNS}/{t}" Target="{target}"/>'
                   for i, t, target in rels)
    return (f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">'
            f"{body}</Relationships>")


def _cell(ref: str, v) -> str:
    if isinstance(v, str) and v.startswith("="):
        return f'<c r="{ref}"><f>{_esc(v[1:])}</f></c>'
    if isinstance(v, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{_esc(v)}</t></is></c>'
    return f'<c r="{ref}"><v>{v}</v></c>'


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _sheet(cells: dict[str, object]) -> str:
    rows: dict[int, list[str]] = {}
    for ref, v in cells.items():
        r = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(r, []).append(_cell(ref, v))
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    return f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'


# --- the source data (Data!A1:D6) and its pivot cache ----------------------------------
# cache field 0 Region: East, West, North (order of appearance); 1 Product: Apples, Pears;
# 2 Year: 2023, 2024; 3 Sales (values only)
DATA = {"A1": "Region", "B1": "Product", "C1": "Year", "D1": "Sales",
        "A2": "East", "B2": "Apples", "C2": 2023, "D2": 10,
        "A3": "East", "B3": "Pears", "C3": 2024, "D3": 20,
        "A4": "West", "B4": "Apples", "C4": 2024, "D4": 30,
        "A5": "West", "B5": "Apples", "C5": 2023, "D5": 5,
        "A6": "North", "B6": "Pears", "C6": 2023, "D6": 7}

CACHE = (
    f'<pivotCacheDefinition xmlns="{MAIN}" xmlns:r="{RNS}" recordCount="5">'
    '<cacheSource type="worksheet"><worksheetSource ref="A1:D6" sheet="Data"/></cacheSource>'
    '<cacheFields count="4">'
    '<cacheField name="Region" numFmtId="0"><sharedItems count="3">'
    '<s v="East"/><s v="West"/><s v="North"/></sharedItems></cacheField>'
    '<cacheField name="Product" numFmtId="0"><sharedItems count="2">'
    '<s v="Apples"/><s v="Pears"/></sharedItems></cacheField>'
    '<cacheField name="Year" numFmtId="0"><sharedItems containsSemiMixedTypes="0" '
    'containsString="0" containsNumber="1" containsInteger="1" count="2">'
    '<n v="2023"/><n v="2024"/></sharedItems></cacheField>'
    '<cacheField name="Sales" numFmtId="0"><sharedItems containsNumber="1"/></cacheField>'
    '</cacheFields></pivotCacheDefinition>')

# Region items sorted East, North, West (cache indexes 0, 2, 1); Year 2023, 2024
_REGION = ('<pivotField axis="axisRow" showAll="0"{attrs}><items count="4"><item x="0"/>'
           '<item x="2"/><item x="1"/><item t="default"/></items></pivotField>')
_YEAR_COL = ('<pivotField axis="axisCol" showAll="0"><items count="3"><item x="0"/>'
             '<item x="1"/><item t="default"/></items></pivotField>')

# --- report 1 on sheet Report, Region down, Year across, Sum of Sales: F3:I8 -------------
#        F              G        H        I
#   3    Sum of Sales   Column Labels
#   4    Row Labels     2023     2024     Grand Total
#   5    East           10       20       30
#   6    North          7                 7
#   7    West           5        30       35
#   8    Grand Total    22       50       72
REPORT1_CELLS = {
    "F3": "Sum of Sales", "G3": "Column Labels",
    "F4": "Row Labels", "G4": 2023, "H4": 2024, "I4": "Grand Total",
    "F5": "East", "G5": 10, "H5": 20, "I5": 30,
    "F6": "North", "G6": 7, "I6": 7,
    "F7": "West", "G7": 5, "H7": 30, "I7": 35,
    "F8": "Grand Total", "G8": 22, "H8": 50, "I8": 72,
}
PIVOT1 = (
    f'<pivotTableDefinition xmlns="{MAIN}" name="Pivot1" cacheId="7" dataCaption="Values" '
    'outline="1" outlineData="1">'
    '<location ref="F3:I8" firstHeaderRow="1" firstDataRow="2" firstDataCol="1"/>'
    '<pivotFields count="4">' + _REGION.format(attrs="") + '<pivotField showAll="0"/>'
    + _YEAR_COL + '<pivotField dataField="1" showAll="0"/></pivotFields>'
    '<rowFields count="1"><field x="0"/></rowFields>'
    '<rowItems count="4"><i><x/></i><i><x v="1"/></i><i><x v="2"/></i>'
    '<i t="grand"><x/></i></rowItems>'
    '<colFields count="1"><field x="2"/></colFields>'
    '<colItems count="3"><i><x/></i><i><x v="1"/></i><i t="grand"><x/></i></colItems>'
    '<dataFields count="1"><dataField name="Sum of Sales" fld="3" baseField="0" '
    'baseItem="0"/></dataFields></pivotTableDefinition>')

# --- report 2 on sheet Report2: filter Year = 2023; Region > Product down (outline, each
# region's subtotal on its own label line); Sum and Count of Sales across -----------------
#        A              B              C
#   1    Year           2023
#   3    Row Labels     Sum of Sales   Count of Sales
#   4    East           10             1
#   5      Apples       10             1
#   6    North          7              1
#   7      Pears        7              1
#   8    West           5              1
#   9      Apples       5              1
#  10    Grand Total    22             3
REPORT2_CELLS = {
    "A1": "Year", "B1": 2023,
    "A3": "Row Labels", "B3": "Sum of Sales", "C3": "Count of Sales",
    "A4": "East", "B4": 10, "C4": 1, "A5": "Apples", "B5": 10, "C5": 1,
    "A6": "North", "B6": 7, "C6": 1, "A7": "Pears", "B7": 7, "C7": 1,
    "A8": "West", "B8": 5, "C8": 1, "A9": "Apples", "B9": 5, "C9": 1,
    "A10": "Grand Total", "B10": 22, "C10": 3,
}
# the same report with Region's subtotals switched off: its label lines show no values
REPORT2_NOSUB_CELLS = {k: v for k, v in REPORT2_CELLS.items()
                       if k not in ("B4", "C4", "B6", "C6", "B8", "C8")}


def _pivot2(region_attrs: str = "") -> str:
    return (
        f'<pivotTableDefinition xmlns="{MAIN}" name="Pivot2" cacheId="7" '
        'dataCaption="Values" outline="1" outlineData="1">'
        '<location ref="A3:C10" firstHeaderRow="1" firstDataRow="1" firstDataCol="1" '
        'rowPageCount="1" colPageCount="1"/>'
        '<pivotFields count="4">' + _REGION.format(attrs=region_attrs)
        + '<pivotField axis="axisRow" showAll="0"><items count="3"><item x="0"/>'
        '<item x="1"/><item t="default"/></items></pivotField>'
        '<pivotField axis="axisPage" showAll="0"><items count="3"><item x="0"/>'
        '<item x="1"/><item t="default"/></items></pivotField>'
        '<pivotField dataField="1" showAll="0"/></pivotFields>'
        '<rowFields count="2"><field x="0"/><field x="1"/></rowFields>'
        '<rowItems count="7"><i><x/></i><i r="1"><x/></i><i><x v="1"/></i>'
        '<i r="1"><x v="1"/></i><i><x v="2"/></i><i r="1"><x/></i>'
        '<i t="grand"><x/></i></rowItems>'
        '<colFields count="1"><field x="-2"/></colFields>'
        '<colItems count="2"><i><x/></i><i i="1"><x v="1"/></i></colItems>'
        '<pageFields count="1"><pageField fld="2" item="0" hier="-1"/></pageFields>'
        '<dataFields count="2"><dataField name="Sum of Sales" fld="3" baseField="0" '
        'baseItem="0"/><dataField name="Count of Sales" fld="3" subtotal="count" '
        'baseField="0" baseItem="0"/></dataFields></pivotTableDefinition>')


def make_book(path: pathlib.Path, calc: dict[str, str], *, report1: dict | None = None,
              pivot1: str | bytes | None = PIVOT1, pivot2: str | bytes | None = None,
              report2: dict | None = None, cache: str | bytes | None = CACHE,
              cache_link: str = "pivot") -> str:
    """A workbook with sheets Data, Report (report 1), Report2 (report 2 when given) and
    Calc (`calc` cells). The pivot tables find their cache through their own relationship
    (`cache_link` 'pivot') or only through the workbook's cacheId ('workbook')."""
    sheets = [("Data", DATA), ("Report", report1 if report1 is not None else REPORT1_CELLS)]
    if pivot2 is not None:
        sheets.append(("Report2", report2 if report2 is not None else REPORT2_CELLS))
    sheets.append(("Calc", calc))
    parts: dict[str, str | bytes] = {}
    ct = [f'<Default Extension="xml" ContentType="application/xml"/>'
          f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
          f'relationships+xml"/>'
          f'<Override PartName="/xl/workbook.xml" ContentType="{SSML}.sheet.main+xml"/>']
    wb_rels, sheet_els = [], []
    for i, (name, cells) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = _sheet(cells)
        ct.append(f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                  f'ContentType="{SSML}.worksheet+xml"/>')
        wb_rels.append((f"rId{i}", "worksheet", f"worksheets/sheet{i}.xml"))
        sheet_els.append(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>')
    wb_rels.append(("rIdCache", "pivotCacheDefinition", "pivotCache/pivotCacheDefinition1.xml"))
    pivots = [(2, 1, pivot1)] + ([(3, 2, pivot2)] if pivot2 is not None else [])
    for sheet_no, n, xml in pivots:
        if xml is None:
            continue
        parts[f"xl/worksheets/_rels/sheet{sheet_no}.xml.rels"] = _rels(
            [("rId1", "pivotTable", f"../pivotTables/pivotTable{n}.xml")])
        parts[f"xl/pivotTables/pivotTable{n}.xml"] = xml
        ct.append(f'<Override PartName="/xl/pivotTables/pivotTable{n}.xml" '
                  f'ContentType="{SSML}.pivotTable+xml"/>')
        if cache_link == "pivot":
            parts[f"xl/pivotTables/_rels/pivotTable{n}.xml.rels"] = _rels(
                [("rId1", "pivotCacheDefinition", "../pivotCache/pivotCacheDefinition1.xml")])
    if cache is not None:
        parts["xl/pivotCache/pivotCacheDefinition1.xml"] = cache
        ct.append('<Override PartName="/xl/pivotCache/pivotCacheDefinition1.xml" '
                  f'ContentType="{SSML}.pivotCacheDefinition+xml"/>')
    parts["xl/workbook.xml"] = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{RNS}"><sheets>{"".join(sheet_els)}</sheets>'
        '<pivotCaches><pivotCache cacheId="7" r:id="rIdCache"/></pivotCaches></workbook>')
    parts["xl/_rels/workbook.xml.rels"] = _rels(wb_rels)
    parts["_rels/.rels"] = _rels([("rId1", "officeDocument", "xl/workbook.xml")])
    parts["[Content_Types].xml"] = f'<Types xmlns="{CT}">{"".join(ct)}</Types>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return str(path)


def calc(path: str) -> xleval.Workbook:
    wb = xleval.load(path)
    wb.calculate()
    return wb


# ---------------------------------------------------------------------------------------
# loader
# ---------------------------------------------------------------------------------------

def test_loader_reads_layout(tmp_path):
    data = load_workbook(make_book(tmp_path / "b.xlsx", {"A1": 1}, pivot2=_pivot2()))
    assert [(p.name, p.sheet, p.ref) for p in data.pivots] == [
        ("Pivot1", "Report", (3, 6, 8, 9)), ("Pivot2", "Report2", (3, 1, 10, 3))]
    p1, p2 = data.pivots
    assert p1.fields == ["Region", "Product", "Year", "Sales"]
    assert (p1.first_data_row, p1.first_data_col) == (2, 1)
    assert [(it.kind, it.labels) for it in p1.row_items] == [
        ("data", [(0, "East", None)]), ("data", [(0, "North", None)]),
        ("data", [(0, "West", None)]), ("grand", [])]
    assert [(it.kind, it.labels) for it in p1.col_items] == [
        ("data", [(2, 2023.0, None)]), ("data", [(2, 2024.0, None)]), ("grand", [])]
    assert [(d.name, d.field) for d in p1.data_fields] == [("Sum of Sales", 3)]
    # r="1" repeats the region of the line above; -2 on the column axis: data field index
    assert [lab for it in p2.row_items for lab in it.labels][:3] == [
        (0, "East", None), (0, "East", None), (1, "Apples", None)]
    assert [it.data for it in p2.col_items] == [0, 1]
    assert p2.page_fields == [(2, (2023.0, None))]
    assert p2.page_rows == 2


def test_loader_marks_label_lines_without_values(tmp_path):
    data = load_workbook(make_book(tmp_path / "b.xlsx", {"A1": 1},
                                   pivot2=_pivot2(' defaultSubtotal="0"')))
    kinds = [it.kind for it in data.pivots[1].row_items]
    assert kinds == ["header", "data", "header", "data", "header", "data", "grand"]


def test_unnamed_data_field_gets_excels_default_name(tmp_path):
    pivot = PIVOT1.replace('name="Sum of Sales" fld="3"', 'fld="3" subtotal="average"')
    data = load_workbook(make_book(tmp_path / "b.xlsx", {"A1": 1}, pivot1=pivot))
    assert data.pivots[0].data_fields[0].name == "Average of Sales"


# ---------------------------------------------------------------------------------------
# GETPIVOTDATA on report 1 (rows and columns)
# ---------------------------------------------------------------------------------------

REPORT1_CASES = {
    "A1": ('=GETPIVOTDATA("Sum of Sales",Report!F3)', 72.0),          # grand total
    "A2": ('=GETPIVOTDATA("Sum of Sales",Report!$H$6,"Region","west")', 35.0),
    "A3": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Region","East","Year",2024)', 20.0),
    "A4": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Year",2023,"Region","North")', 7.0),
    "A5": ('=GETPIVOTDATA("sum of sales",Report!F3,"year","2024")', 50.0),
    "A6": ('=GETPIVOTDATA("Sales",Report!F3,"Region","East")', 30.0),   # source name
    "A7": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Region","South")', REF),
    "A8": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Colour","Red")', REF),
    "A9": ('=GETPIVOTDATA("Sum of Cost",Report!F3)', REF),
    "A10": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Product","Apples")', REF),  # hidden
    "A11": ('=GETPIVOTDATA("Sum of Sales",Report!A1)', REF),           # not in a pivot
    "A12": ('=GETPIVOTDATA("Sum of Sales",Data!F3)', REF),             # other sheet
    "A13": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Year",2025)', REF),
    "A14": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Region",B1)', 35.0),
    "A15": ('=GETPIVOTDATA("Sum of Sales",Report!F3,"Year",DATE(1905,7,15))', 22.0),
}


def test_report1(tmp_path):
    cells = {k: f for k, (f, _want) in REPORT1_CASES.items()}
    cells["B1"] = "West"
    wb = calc(make_book(tmp_path / "b.xlsx", cells))
    got = {k: wb[f"Calc!{k}"] for k in REPORT1_CASES}
    assert got == {k: want for k, (_f, want) in REPORT1_CASES.items()}


def test_reads_the_reports_cells_after_a_change(tmp_path):
    """The value comes from the report's cell (Excel does not recalculate pivot tables):
    a changed cell is what GETPIVOTDATA returns on the next calculation."""
    wb = calc(make_book(tmp_path / "b.xlsx",
                        {"A1": '=GETPIVOTDATA("Sum of Sales",Report!F3,"Region","West")'}))
    assert wb["Calc!A1"] == 35.0
    wb.set_value("Report!I7", 99)
    wb.calculate()
    assert wb["Calc!A1"] == 99.0


def test_pivot_cell_holding_a_formula_is_computed_first(tmp_path):
    """Excel never writes formulas into a report, but another tool may: the cell is read
    after it is computed (the read is not in the graph; the engine computes a pending
    cell on demand)."""
    report = dict(REPORT1_CELLS, I7="=G7+H7+100")
    wb = calc(make_book(tmp_path / "b.xlsx", {
        "A1": '=GETPIVOTDATA("Sum of Sales",Report!F3,"Region","West")'}, report1=report))
    assert wb["Calc!A1"] == 135.0


def test_item_by_custom_caption(tmp_path):
    pivot = PIVOT1.replace('<items count="4"><item x="0"/>',
                           '<items count="4"><item x="0" n="Eastern"/>')
    report = dict(REPORT1_CELLS, F5="Eastern")
    wb = calc(make_book(tmp_path / "b.xlsx", {
        "A1": '=GETPIVOTDATA("Sum of Sales",Report!F3,"Region","eastern")',
        "A2": '=GETPIVOTDATA("Sum of Sales",Report!F3,"Region","EASTERN","Year",2023)',
    }, pivot1=pivot, report1=report))
    assert (wb["Calc!A1"], wb["Calc!A2"]) == (30.0, 10.0)


def test_cache_found_through_the_workbook_cache_id(tmp_path):
    wb = calc(make_book(tmp_path / "b.xlsx", {"A1": '=GETPIVOTDATA("Sum of Sales",Report!F3)'},
                        cache_link="workbook"))
    assert wb["Calc!A1"] == 72.0


# ---------------------------------------------------------------------------------------
# GETPIVOTDATA on report 2 (two row fields in outline form, two data fields, a filter)
# ---------------------------------------------------------------------------------------

REPORT2_CASES = {
    "A1": ('=GETPIVOTDATA("Sum of Sales",Report2!A3,"Region","East")', 10.0),
    "A2": ('=GETPIVOTDATA("Count of Sales",Report2!A3)', 3.0),
    "A3": ('=GETPIVOTDATA("Sum of Sales",Report2!B5,"Region","West","Product","apples")',
           5.0),
    "A4": ('=GETPIVOTDATA("Sum of Sales",Report2!A3,"Product","Apples")', REF),
    "A5": ('=GETPIVOTDATA("Sum of Sales",Report2!A3,"Year",2023)', 22.0),
    "A6": ('=GETPIVOTDATA("Sum of Sales",Report2!A3,"Year",2024)', REF),
    "A7": ('=GETPIVOTDATA("Sum of Sales",Report2!A1)', 22.0),          # filter area
    "A8": ('=GETPIVOTDATA("Count of Sales",Report2!A3,"Region","North","Product","Pears")',
           1.0),
}


def test_report2(tmp_path):
    cells = {k: f for k, (f, _want) in REPORT2_CASES.items()}
    wb = calc(make_book(tmp_path / "b.xlsx", cells, pivot2=_pivot2()))
    got = {k: wb[f"Calc!{k}"] for k in REPORT2_CASES}
    assert got == {k: want for k, (_f, want) in REPORT2_CASES.items()}


def test_subtotal_not_shown_is_ref(tmp_path):
    wb = calc(make_book(tmp_path / "b.xlsx", {
        "A1": '=GETPIVOTDATA("Sum of Sales",Report2!A3,"Region","East")',
        "A2": '=GETPIVOTDATA("Sum of Sales",Report2!A3,"Region","East","Product","Apples")',
    }, pivot2=_pivot2(' defaultSubtotal="0"'), report2=REPORT2_NOSUB_CELLS))
    assert (wb["Calc!A1"], wb["Calc!A2"]) == (REF, 10.0)


# ---------------------------------------------------------------------------------------
# broken pivot parts: the workbook loads, GETPIVOTDATA gives #REF!
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("broken", [
    {"pivot1": b"<pivotTableDefinition xmlns='x'><location ref="},     # not XML
    {"pivot1": PIVOT1.replace('ref="F3:I8"', 'ref="nonsense"')},
    {"pivot1": PIVOT1.replace('<x v="2"/></i>', '<x v="9"/></i>')},    # no such item
    {"cache": b"<pivotCacheDefinition"},                                 # not XML
    {"cache": None},                                                     # part missing
    {"cache": CACHE.replace('<n v="2024"/>', '<n v="many"/>')},
])
def test_malformed_pivot_parts(tmp_path, broken):
    path = make_book(tmp_path / "b.xlsx", {
        "A1": '=GETPIVOTDATA("Sum of Sales",Report!F3)', "A2": "=Report!I8*2"}, **broken)
    assert load_workbook(path).pivots == []
    wb = calc(path)
    assert (wb["Calc!A1"], wb["Calc!A2"]) == (REF, 144.0)


def test_compiled_model_keeps_pivots(tmp_path):
    path = make_book(tmp_path / "b.xlsx", {
        "A1": '=GETPIVOTDATA("Sum of Sales",Report!F3,"Region",B1)', "B1": "East"})
    model = xleval.compile(path, inputs=["Calc!B1"], outputs=["Calc!A1"])
    again = xleval.Model.from_bytes(model.to_bytes())
    assert again({"Calc!B1": "West"}) == {"Calc!A1": 35.0}
    assert again({"Calc!B1": "Nowhere"}) == {"Calc!A1": REF}


# ---------------------------------------------------------------------------------------
# the conformance corpus (skipped when absent): Excel's cached results
# ---------------------------------------------------------------------------------------

CORPUS_CELLS = [
    ("workbooks/sheetjs/formula_stress_test.xlsx", "Database!B16"),
    ("workbooks/poi/test-data/spreadsheet/54436.xlsx", "Sheet1!A14"),
]


@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(),
                    reason="conformance corpus not present")
@pytest.mark.parametrize("rel,cell", CORPUS_CELLS)
def test_corpus_getpivotdata_matches_excel(rel, cell):
    path = CORPUS / rel
    sheet, ref = cell.split("!")
    cached = load_workbook(str(path)).sheet(sheet)
    from xleval.refs import parse_cell
    want = cached.cached[parse_cell(ref)]
    assert isinstance(want, float)
    assert calc(str(path))[cell] == want


def _corpus_pivot_books() -> list[str]:
    if not (CORPUS / "workbooks").is_dir():
        return []
    out = []
    for p in sorted((CORPUS / "workbooks").rglob("*.xls[xm]")):
        try:
            with zipfile.ZipFile(p) as zf:
                if any(n.startswith("xl/pivotTables/") for n in zf.namelist()):
                    out.append(str(p))
        except zipfile.BadZipFile:
            continue
    return out


@pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(),
                    reason="conformance corpus not present")
def test_corpus_pivot_layouts_line_up_with_rendered_labels():
    """Every pivot table in the corpus loads, and each body line's innermost item label
    is the text Excel rendered in that line's label cells: the line -> cell mapping
    GETPIVOTDATA uses is the one Excel drew."""
    books = _corpus_pivot_books()
    assert books
    checked = 0
    for path in books:
        data = load_workbook(path)
        assert data.pivots, path
        for p in data.pivots:
            sheet = data.sheet(p.sheet)
            r1, c1, _r2, _c2 = p.ref
            for axis, items in (("row", p.row_items), ("col", p.col_items)):
                for k, it in enumerate(items):
                    if it.kind not in ("data", "header") or not it.labels:
                        continue
                    _f, value, cap = it.labels[-1]
                    if value is None:
                        continue
                    if axis == "row":
                        r = r1 + p.first_data_row + k
                        shown = [sheet.values.get((r, c))
                                 for c in range(c1, c1 + p.first_data_col)]
                    else:
                        c = c1 + p.first_data_col + k
                        shown = [sheet.values.get((r, c))
                                 for r in range(r1, r1 + p.first_data_row)]
                    want = cap if cap is not None else value
                    if isinstance(want, bool):
                        want = "TRUE" if want else "FALSE"
                    texts = [x.casefold() if isinstance(x, str) else x for x in shown]
                    assert (want.casefold() if isinstance(want, str) else want) in texts, \
                        (path, p.name, axis, k, it.labels, shown)
                    checked += 1
    assert checked > 50
