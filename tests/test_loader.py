"""Tests for the streaming workbook loader (xleval.loader.xlsx)."""
from __future__ import annotations

import csv
import importlib.util
import io
import os
import pathlib
import random
import struct
import zipfile

import openpyxl
import pytest

from xleval import errors
from xleval.loader import FormulaCell, load_workbook
from xleval.loader.xlsx import _BoundedReader, decode_xstring, iso_to_serial
from xleval.values import XLError

CONFORMANCE = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance"

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
RT = RNS + "/"


# ---------------------------------------------------------------------------------------
# Building raw workbooks
# ---------------------------------------------------------------------------------------

def rels_xml(rels) -> str:
    """rels: [(id, type-suffix-or-full-type, target, external)]"""
    out = [f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG}">']
    for rid, typ, target, external in rels:
        full = typ if "://" in typ else RT + typ
        mode = ' TargetMode="External"' if external else ""
        out.append(f'<Relationship Id="{rid}" Type="{full}" Target="{target}"{mode}/>')
    out.append("</Relationships>")
    return "".join(out)


def sheet_xml(body: str, ns: str = MAIN) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}" xmlns:r="{RNS}">'
            f"<dimension ref=\"A1\"/><sheetData>{body}</sheetData></worksheet>")


def write_zip(path, parts: dict[str, str | bytes], compression=zipfile.ZIP_DEFLATED) -> str:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def make_book(path, sheets, *, workbook_pr="", calc_pr="", names="", sst=None,
              extra_parts=None, extra_wb_rels=(), ext_refs=(), sheet_rels=None,
              abs_targets=False, ns=MAIN) -> str:
    """sheets: [(name, body-or-None, extra-sheet-attrs, kind)] where kind is
    'worksheet' or 'chartsheet'; body is the <sheetData> content."""
    parts: dict[str, str | bytes] = {}
    wb_rels = []
    sheet_els = []
    for i, (name, body, attrs, kind) in enumerate(sheets, start=1):
        rid = f"rId{i}"
        if kind == "chartsheet":
            part = f"chartsheets/sheet{i}.xml"
            parts["xl/" + part] = (f'<chartsheet xmlns="{ns}" xmlns:r="{RNS}">'
                                   '<drawing r:id="rId1"/></chartsheet>')
        else:
            part = f"worksheets/sheet{i}.xml"
            parts["xl/" + part] = sheet_xml(body or "", ns)
        target = "/xl/" + part if abs_targets else part
        wb_rels.append((rid, kind, target, False))
        sheet_els.append(f'<sheet name="{name}" sheetId="{i}" {attrs} r:id="{rid}"/>')
    n = len(sheets)
    if sst is not None:
        n += 1
        wb_rels.append((f"rId{n}", "sharedStrings", "sharedStrings.xml", False))
        parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{ns}" count="{len(sst)}" '
                                         f'uniqueCount="{len(sst)}">' + "".join(sst) + "</sst>")
    wb_rels.extend(extra_wb_rels)
    ext = ""
    if ext_refs:
        ext = ("<externalReferences>"
               + "".join(f'<externalReference r:id="{r}"/>' for r in ext_refs)
               + "</externalReferences>")
    parts["xl/workbook.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}" xmlns:r="{RNS}">'
        f"{workbook_pr}<sheets>{''.join(sheet_els)}</sheets>{ext}{names}{calc_pr}</workbook>")
    parts["xl/_rels/workbook.xml.rels"] = rels_xml(wb_rels)
    parts["_rels/.rels"] = rels_xml([("rId1", "officeDocument", "xl/workbook.xml", False)])
    parts["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/></Types>')
    for sheet_index, rels in (sheet_rels or {}).items():
        parts[f"xl/worksheets/_rels/sheet{sheet_index}.xml.rels"] = rels_xml(rels)
    parts.update(extra_parts or {})
    return write_zip(path, parts)


def one_sheet(tmp_path, body, name="book.xlsx", **kw) -> str:
    return make_book(tmp_path / name, [("Sheet1", body, "", "worksheet")], **kw)


# ---------------------------------------------------------------------------------------
# Workbooks written by openpyxl
# ---------------------------------------------------------------------------------------

def test_openpyxl_basic(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["A1"] = 1
    ws["A2"] = 2.5
    ws["B1"] = "hello"
    ws["B2"] = True
    ws["C1"] = "=A1+A2"
    ws["C2"] = "=SUM(A1:A2)*2"
    ws["D5"] = "x"
    hidden = wb.create_sheet("Hidden")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "=Data!A1"
    wb.create_sheet("Very").sheet_state = "veryHidden"
    wb.defined_names["Rate"] = openpyxl.workbook.defined_name.DefinedName(
        "Rate", attr_text="Data!$A$1")
    hidden.defined_names["Local"] = openpyxl.workbook.defined_name.DefinedName(
        "Local", attr_text="Hidden!$A$1")
    p = tmp_path / "op.xlsx"
    wb.save(p)

    data = load_workbook(str(p))
    assert data.fmt == "xlsx"
    assert [s.name for s in data.sheets] == ["Data", "Hidden", "Very"]
    assert [s.index for s in data.sheets] == [0, 1, 2]
    assert [s.state for s in data.sheets] == ["visible", "hidden", "veryHidden"]
    s = data.sheet("data")
    assert s.values == {(1, 1): 1.0, (2, 1): 2.5, (1, 2): "hello", (2, 2): True, (5, 4): "x"}
    assert isinstance(s.values[(1, 1)], float)
    assert s.formulas[(1, 3)] == FormulaCell("A1+A2", (1, 3))
    assert s.formulas[(2, 3)].text == "SUM(A1:A2)*2"
    assert (1, 3) not in s.values and s.cached == {}
    assert (s.max_row, s.max_col) == (5, 4)
    assert data.sheet("Hidden").formulas[(1, 1)].text == "Data!A1"
    names = {(n.name, n.scope): n.text for n in data.names}
    assert names == {("Rate", None): "Data!$A$1", ("Local", 1): "Hidden!$A$1"}
    assert data.calc.full_calc_on_load is True      # openpyxl asks for a full recalculation


def test_openpyxl_table_and_1904(tmp_path):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904
    from openpyxl.worksheet.table import Table as OTable

    wb = openpyxl.Workbook()
    wb.epoch = CALENDAR_MAC_1904
    ws = wb.active
    ws.append(["Name", "Amount"])
    ws.append(["a", 1])
    ws.append(["b", 2])
    ws.add_table(OTable(displayName="Sales", ref="A1:B3"))
    p = tmp_path / "t.xlsx"
    wb.save(p)
    data = load_workbook(p)                          # a pathlib.Path works as well
    assert data.date1904 is True
    (t,) = data.tables
    assert (t.name, t.sheet, t.ref, t.columns) == ("Sales", "Sheet", (1, 1, 3, 2),
                                                   ["Name", "Amount"])
    assert (t.header_rows, t.totals_rows) == (1, 0)


def test_openpyxl_xlsm_extension(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = 1
    p = tmp_path / "m.xlsx"
    wb.save(p)
    q = tmp_path / "m.xlsm"
    os.rename(p, q)
    assert load_workbook(str(q)).fmt == "xlsm"


# ---------------------------------------------------------------------------------------
# Raw XML: cell types
# ---------------------------------------------------------------------------------------

def test_value_types(tmp_path):
    sst = ['<si><t>plain</t></si>',
           '<si><r><rPr><b/></rPr><t>rich </t></r><r><t xml:space="preserve">text</t></r>'
           '<rPh sb="0" eb="1"><t>PHONETIC</t></rPh><phoneticPr fontId="1"/></si>',
           '<si><t>a_x000D__x000A_b _x005F_x0041_ _x0041_</t></si>',
           '<si><t/></si>']
    body = ('<row r="1">'
            '<c r="A1"><v>42</v></c>'
            '<c r="B1" t="n"><v>-1.5E-3</v></c>'
            '<c r="C1" t="s"><v>0</v></c>'
            '<c r="D1" t="s"><v>1</v></c>'
            '<c r="E1" t="s"><v>2</v></c>'
            '<c r="F1" t="b"><v>1</v></c>'
            '<c r="G1" t="b"><v>0</v></c>'
            '<c r="H1" t="e"><v>#N/A</v></c>'
            '<c r="I1" t="e"><v>#DIV/0!</v></c>'
            '<c r="J1" t="inlineStr"><is><t>inline</t></is></c>'
            '<c r="K1" t="inlineStr"><is><r><t>in</t></r><r><t>_x0031_</t></r>'
            '<rPh><t>zz</t></rPh></is></c>'
            '<c r="L1" t="str"><v>const str</v></c>'
            '<c r="M1" s="3"/>'                                   # style only: blank
            '<c r="N1"><v></v></c>'                               # empty number: blank
            '</row>')
    p = one_sheet(tmp_path, body, sst=sst)
    s = load_workbook(p).sheets[0]
    assert s.values == {
        (1, 1): 42.0, (1, 2): -0.0015, (1, 3): "plain", (1, 4): "rich text",
        (1, 5): "a\r\nb _x0041_ A", (1, 6): True, (1, 7): False,
        (1, 8): XLError("#N/A"), (1, 9): XLError("#DIV/0!"), (1, 10): "inline",
        (1, 11): "in1", (1, 12): "const str"}
    assert s.values[(1, 6)] is True
    assert (s.max_row, s.max_col) == (1, 12)
    assert s.formulas == {} and s.cached == {}


def test_dates_t_d(tmp_path):
    body = ('<row r="1"><c r="A1" t="d"><v>2020-01-15</v></c>'
            '<c r="B1" t="d"><v>2020-01-15T12:00:00</v></c>'
            '<c r="C1" t="d"><v>1900-01-01T00:00:00</v></c>'
            '<c r="D1" t="d"><v>1900-03-01</v></c>'
            '<c r="E1" t="d"><v>not a date</v></c></row>')
    s = load_workbook(one_sheet(tmp_path, body)).sheets[0]
    assert s.values[(1, 1)] == 43845.0
    assert s.values[(1, 2)] == 43845.5
    assert s.values[(1, 3)] == 1.0
    assert s.values[(1, 4)] == 61.0
    assert s.values[(1, 5)] == "not a date"
    p = one_sheet(tmp_path, body, name="b1904.xlsx", workbook_pr='<workbookPr date1904="true"/>')
    data = load_workbook(p)
    assert data.date1904 is True
    assert data.sheets[0].values[(1, 1)] == 43845.0 - 1462


def test_iso_to_serial_and_decode_helpers():
    assert iso_to_serial("1899-12-31T06:00:00") == 0.25
    assert iso_to_serial("T18:00:00") == 0.75
    assert iso_to_serial("12:00") == 0.5
    assert iso_to_serial("1900-02-28") == 59.0
    assert iso_to_serial("1900-02-29") == 60.0
    assert iso_to_serial("2020-01-15T00:00:00Z") == 43845.0
    assert iso_to_serial("1904-01-02", True) == 1.0
    assert iso_to_serial("garbage") is None
    assert decode_xstring("no escapes") == "no escapes"
    assert decode_xstring("_x0009_tab") == "\ttab"
    assert decode_xstring("_x005F_x0009_") == "_x0009_"
    assert decode_xstring("_xD83D__xDE00_") == "\U0001F600"
    assert decode_xstring("_xlfn.CONCAT") == "_xlfn.CONCAT"


def test_missing_r_attributes(tmp_path):
    body = ('<row><c><v>1</v></c><c><v>2</v></c><c r="E1"><v>5</v></c><c><v>6</v></c></row>'
            '<row><c><v>10</v></c></row>'
            '<row r="7"><c><v>70</v></c><!-- a comment --><c><v>71</v></c></row>'
            '<row><c t="inlineStr"><is><t>x</t></is></c></row>')
    s = load_workbook(one_sheet(tmp_path, body)).sheets[0]
    assert s.values == {(1, 1): 1.0, (1, 2): 2.0, (1, 5): 5.0, (1, 6): 6.0, (2, 1): 10.0,
                        (7, 1): 70.0, (7, 2): 71.0, (8, 1): "x"}
    assert (s.max_row, s.max_col) == (8, 6)


def test_odd_references_fall_back(tmp_path):
    body = ('<row r="3"><c r="$B$3"><v>1</v></c><c r="c3"><v>2</v></c>'
            '<c r="D4"><v>3</v></c><c r="bogus"><v>4</v></c></row>')
    s = load_workbook(one_sheet(tmp_path, body)).sheets[0]
    # a cell reference that disagrees with its row wins; a bad one is inferred
    assert s.values == {(3, 2): 1.0, (3, 3): 2.0, (4, 4): 3.0, (3, 5): 4.0}


# ---------------------------------------------------------------------------------------
# Raw XML: formulas
# ---------------------------------------------------------------------------------------

def test_formulas_shared_array_datatable(tmp_path):
    body = (
        # plain formula with cached number, cached string, empty string, error, bool
        '<row r="1"><c r="A1"><f>1+1</f><v>2</v></c>'
        '<c r="B1" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>'
        '<c r="C1" t="str"><f>""</f><v/></c>'
        '<c r="D1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
        '<c r="E1" t="b"><f>TRUE()</f><v>1</v></c>'
        '<c r="F1"><f>NOW()</f></c></row>'
        # shared formula over A2:A4
        '<row r="2"><c r="A2"><f t="shared" ref="A2:A4" si="0">B2*2</f><v>4</v></c></row>'
        '<row r="3"><c r="A3"><f t="shared" si="0"/><v>6</v></c></row>'
        '<row r="4"><c r="A4"><f t="shared" si="0"/><v>8</v></c>'
        # CSE array formula over C4:D5
        '<c r="C4"><f t="array" ref="C4:D5">B1:C2*1</f><v>1</v></c><c r="D4"><v>2</v></c></row>'
        '<row r="5"><c r="C5"><v>3</v></c><c r="D5"><v>4</v></c><c r="E5"><v>99</v></c></row>'
        # single-cell array formula
        '<row r="6"><c r="A6"><f t="array" ref="A6">SUM(A1:A2*2)</f><v>12</v></c>'
        # what-if data table
        '<c r="C6"><f t="dataTable" ref="C6:C8" dt2D="0" dtr="0" r1="A1" ca="1"/><v>5</v></c>'
        '</row>'
        '<row r="7"><c r="C7"><v>6</v></c></row>'
        '<row r="8"><c r="C8"><v>7</v></c><c r="D8"><v>8</v></c></row>')
    s = load_workbook(one_sheet(tmp_path, body)).sheets[0]
    f = s.formulas
    assert f[(1, 1)] == FormulaCell("1+1", (1, 1))
    assert f[(1, 2)].text == '"a"&"b"'
    assert f[(2, 1)] == FormulaCell("B2*2", (2, 1))
    assert f[(3, 1)] == FormulaCell("B2*2", (2, 1))     # shared: anchor text and origin
    assert f[(4, 1)] == FormulaCell("B2*2", (2, 1))
    assert f[(4, 3)] == FormulaCell("B1:C2*1", (4, 3), kind="array", ref=(4, 3, 5, 4))
    for pos in [(4, 4), (5, 3), (5, 4), (7, 3), (8, 3)]:
        assert pos not in f and pos not in s.values
    assert f[(6, 1)] == FormulaCell("SUM(A1:A2*2)", (6, 1), kind="array", ref=(6, 1, 6, 1))
    dt = f[(6, 3)]
    assert (dt.kind, dt.ref, dt.text) == ("dataTable", (6, 3, 8, 3), "")
    assert {k: dt.dt[k] for k in ("r1", "dt2D", "dtr", "ca")} == {
        "r1": "A1", "dt2D": "0", "dtr": "0", "ca": "1"}
    assert s.cached == {(1, 1): 2.0, (1, 2): "ab", (1, 3): "", (1, 4): XLError("#DIV/0!"),
                        (1, 5): True, (2, 1): 4.0, (3, 1): 6.0, (4, 1): 8.0, (4, 3): 1.0,
                        (4, 4): 2.0, (5, 3): 3.0, (5, 4): 4.0, (6, 1): 12.0, (6, 3): 5.0,
                        (7, 3): 6.0, (8, 3): 7.0}
    assert (1, 6) in f and (1, 6) not in s.cached      # no cached value at all
    assert s.values == {(5, 5): 99.0, (8, 4): 8.0}       # outside the ranges: constants
    assert (s.max_row, s.max_col) == (8, 6)
    assert not any(x.dynamic for x in f.values())


def test_many_array_ranges(tmp_path):
    # more than 8 side-by-side array ranges active at once (the column-set path)
    rows = []
    for r in range(1, 4):
        cells = []
        for k in range(12):
            col = 2 * k + 1
            ref = f"{_col(col)}{r}"
            if r == 1:
                cells.append(f'<c r="{ref}"><f t="array" ref="{ref}:{_col(col)}3">X{k}</f>'
                             f'<v>{k}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{k}</v></c>')
            cells.append(f'<c r="{_col(col + 1)}{r}"><v>-1</v></c>')
        rows.append(f'<row r="{r}">' + "".join(cells) + "</row>")
    s = load_workbook(one_sheet(tmp_path, "".join(rows))).sheets[0]
    assert len(s.formulas) == 12 and len(s.cached) == 36 and len(s.values) == 36
    assert all(c % 2 == 0 for (_r, c) in s.values)


def _col(n: int) -> str:
    s = ""
    while n:
        n, rem = divmod(n - 1, 26)
        s = chr(65 + rem) + s
    return s


def test_spill_cells_with_empty_f_are_covered(tmp_path):
    # Excel writes <f ca="1"/> into the spilled cells of a volatile dynamic array
    body = ('<row r="1"><c r="A1" cm="1"><f t="array" ref="A1:A2" ca="1">OFFSET(B1,0,0,2)</f>'
            '<v>1</v></c></row><row r="2"><c r="A2"><f ca="1"/><v>2</v></c></row>'
            '<row r="3"><c r="A3"><f/><v>3</v></c></row>')
    s = load_workbook(one_sheet(tmp_path, body)).sheets[0]
    assert list(s.formulas) == [(1, 1)]
    assert s.formulas[(1, 1)].dynamic is True            # no metadata part: cm is enough
    assert s.cached == {(1, 1): 1.0, (2, 1): 2.0}
    assert s.values == {(3, 1): 3.0}                      # an empty formula is no formula


METADATA = (
    f'<metadata xmlns="{MAIN}" '
    'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
    '<metadataTypes count="2"><metadataType name="XLDAPR" minSupportedVersion="120000"/>'
    '<metadataType name="OTHER"/></metadataTypes>'
    '<futureMetadata name="XLDAPR" count="1"><bk><extLst><ext uri="{bdbb8cdc}">'
    '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk>'
    '</futureMetadata>'
    '<cellMetadata count="2"><bk><rc t="1" v="0"/></bk><bk><rc t="2" v="0"/></bk>'
    '</cellMetadata></metadata>')


def test_dynamic_array_metadata(tmp_path):
    body = ('<row r="1"><c r="A1" cm="1"><f t="array" ref="A1:A3">_xlfn.SEQUENCE(3)</f>'
            '<v>1</v></c><c r="B1" cm="2"><f t="array" ref="B1">SUM(A1:A3)</f><v>6</v></c>'
            '<c r="C1"><f t="array" ref="C1:C2">A1:A2</f><v>1</v></c></row>'
            '<row r="2"><c r="A2"><v>2</v></c><c r="C2"><v>2</v></c></row>'
            '<row r="3"><c r="A3"><v>3</v></c></row>')
    p = one_sheet(tmp_path, body, extra_wb_rels=[
        ("rIdM", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                 "sheetMetadata", "metadata.xml", False)],
        extra_parts={"xl/metadata.xml": METADATA})
    s = load_workbook(p).sheets[0]
    assert s.formulas[(1, 1)].dynamic is True
    assert s.formulas[(1, 2)].dynamic is False       # cm points at another metadata type
    assert s.formulas[(1, 3)].dynamic is False       # a CSE array
    assert s.formulas[(1, 1)].ref == (1, 1, 3, 1)
    assert s.cached == {(1, 1): 1.0, (1, 2): 6.0, (1, 3): 1.0, (2, 1): 2.0, (2, 3): 2.0,
                        (3, 1): 3.0}


def test_formula_text_escapes(tmp_path):
    body = '<row r="1"><c r="A1" t="str"><f>"a_x000A_b"&amp;_xlfn.CONCAT("c")</f><v>x</v></c></row>'
    s = load_workbook(one_sheet(tmp_path, body)).sheets[0]
    assert s.formulas[(1, 1)].text == '"a\nb"&_xlfn.CONCAT("c")'


# ---------------------------------------------------------------------------------------
# Raw XML: workbook-level parts
# ---------------------------------------------------------------------------------------

def test_workbook_settings_names_and_sheet_kinds(tmp_path):
    names = ('<definedNames>'
             '<definedName name="Global">Sheet1!$A$1:$B$2</definedName>'
             '<definedName name="Local" localSheetId="2" hidden="1">=Other!$C$3</definedName>'
             '<definedName name="_xlnm.Print_Area" localSheetId="0">Sheet1!$A$1</definedName>'
             '</definedNames>')
    calc = '<calcPr calcId="191029" iterate="1" iterateCount="7" iterateDelta="0.5" ' \
           'calcMode="manual" fullCalcOnLoad="true"/>'
    p = make_book(tmp_path / "k.xlsx", [
        ("Sheet1", '<row r="1"><c r="A1"><v>1</v></c></row>', "", "worksheet"),
        ("Chart", None, "", "chartsheet"),
        ("Other", '<row r="3"><c r="C3"><v>3</v></c></row>', 'state="hidden"', "worksheet"),
    ], workbook_pr='<workbookPr date1904="1"/>', calc_pr=calc, names=names, abs_targets=True)
    data = load_workbook(p)
    assert [(s.name, s.index, s.kind, s.state) for s in data.sheets] == [
        ("Sheet1", 0, "worksheet", "visible"), ("Chart", 1, "chartsheet", "visible"),
        ("Other", 2, "worksheet", "hidden")]
    assert data.sheets[1].values == {} and data.sheets[1].formulas == {}
    assert data.sheets[0].part == "xl/worksheets/sheet1.xml"
    assert data.sheets[2].values == {(3, 3): 3.0}
    assert data.date1904 is True
    c = data.calc
    assert (c.iterate, c.max_iterations, c.max_change, c.calc_mode, c.full_calc_on_load) == (
        True, 7, 0.5, "manual", True)
    got = [(n.name, n.text, n.scope, n.hidden) for n in data.names]
    assert got == [("Global", "Sheet1!$A$1:$B$2", None, False),
                   ("Local", "Other!$C$3", 2, True),
                   ("_xlnm.Print_Area", "Sheet1!$A$1", 0, False)]


def test_default_calc_settings(tmp_path):
    data = load_workbook(one_sheet(tmp_path, ""))
    c = data.calc
    assert (c.iterate, c.max_iterations, c.max_change, c.calc_mode, c.full_calc_on_load) == (
        False, 100, 0.001, "auto", False)
    assert data.date1904 is False and data.names == [] and data.externals == []


def test_relative_targets_and_nonstandard_paths(tmp_path):
    # workbook part not at xl/workbook.xml, sheet target with '../', strict namespaces
    strict = "http://purl.oclc.org/ooxml/spreadsheetml/main"
    srels = "http://purl.oclc.org/ooxml/officeDocument/relationships"
    parts = {
        "_rels/.rels": rels_xml([("rId1", srels + "/officeDocument", "/book/wb.xml", False)]),
        "book/wb.xml": (f'<workbook xmlns="{strict}" xmlns:r="{srels}"><sheets>'
                        '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "book/_rels/wb.xml.rels": rels_xml([
            ("rId1", srels + "/worksheet", "../sheets/one.xml", False),
            ("rId2", srels + "/sharedStrings", "strings.xml", False)]),
        "sheets/one.xml": sheet_xml('<row r="2"><c r="B2" t="s"><v>0</v></c>'
                                    '<c r="C2"><f>B2&amp;"!"</f><v>0</v></c></row>', strict),
        "book/strings.xml": f'<sst xmlns="{strict}"><si><t>strict</t></si></sst>',
    }
    data = load_workbook(write_zip(tmp_path / "strict.xlsx", parts))
    s = data.sheets[0]
    assert s.part == "sheets/one.xml"
    assert s.values == {(2, 2): "strict"}
    assert s.formulas[(2, 3)].text == 'B2&"!"'


def test_tables(tmp_path):
    t1 = (f'<table xmlns="{MAIN}" id="1" name="Table1" displayName="Sales_2" ref="A1:C5" '
          'totalsRowShown="0"><autoFilter ref="A1:C4"/><tableColumns count="3">'
          '<tableColumn id="1" name="Name"/><tableColumn id="2" name="Line_x000a_Break"/>'
          '<tableColumn id="3" name="Amount"/></tableColumns></table>')
    t2 = (f'<table xmlns="{MAIN}" id="2" name="NoHeader" ref="E2:F4" headerRowCount="0" '
          'totalsRowCount="1" totalsRowShown="1"><tableColumns count="2">'
          '<tableColumn id="1" name="Column1"/><tableColumn id="2" name="Column2"/>'
          '</tableColumns></table>')
    p = make_book(tmp_path / "tables.xlsx",
                  [("Data", '<row r="1"><c r="A1"><v>1</v></c></row>', "", "worksheet")],
                  sheet_rels={1: [("rId1", "table", "../tables/table1.xml", False),
                                  ("rId2", "table", "/xl/tables/table2.xml", False)]},
                  extra_parts={"xl/tables/table1.xml": t1, "xl/tables/table2.xml": t2})
    data = load_workbook(p)
    assert [(t.name, t.sheet, t.ref, t.columns, t.header_rows, t.totals_rows)
            for t in data.tables] == [
        ("Sales_2", "Data", (1, 1, 5, 3), ["Name", "Line\nBreak", "Amount"], 1, 0),
        ("NoHeader", "Data", (2, 5, 4, 6), ["Column1", "Column2"], 0, 1)]


EXT_LINK = (
    f'<externalLink xmlns="{MAIN}" xmlns:r="{RNS}"><externalBook r:id="rId1">'
    '<sheetNames><sheetName val="First"/><sheetName val="Second Sheet"/></sheetNames>'
    '<definedNames><definedName name="ExtName" refersTo="=First!$A$1"/>'
    '<definedName name="Scoped" refersTo="=Second!$B$2" sheetId="1"/></definedNames>'
    '<sheetDataSet><sheetData sheetId="0"><row r="1"><cell r="A1"><v>10</v></cell>'
    '<cell r="B1" t="str"><v>text</v></cell></row></sheetData>'
    '<sheetData sheetId="1" refreshError="1"><row r="3"><cell r="C3" t="e"><v>#REF!</v></cell>'
    '<cell r="D3" t="b"><v>1</v></cell></row></sheetData></sheetDataSet>'
    '</externalBook></externalLink>')


def test_external_links(tmp_path):
    p = make_book(
        tmp_path / "ext.xlsx",
        [("Sheet1", '<row r="1"><c r="A1"><f>[1]First!A1*2</f><v>20</v></c>'
                    '<c r="B1"><f>[2]Other!A1</f><v>0</v></c></row>', "", "worksheet")],
        ext_refs=["rIdE2", "rIdE1"],
        extra_wb_rels=[("rIdE1", "externalLink", "externalLinks/externalLink1.xml", False),
                       ("rIdE2", "externalLink", "externalLinks/externalLink2.xml", False)],
        extra_parts={
            "xl/externalLinks/externalLink2.xml": EXT_LINK,
            "xl/externalLinks/_rels/externalLink2.xml.rels": rels_xml([
                ("rId1", "externalLinkPath", "file:///C:/data/Source%20Book.xlsx", True)]),
            "xl/externalLinks/externalLink1.xml": (
                f'<externalLink xmlns="{MAIN}" xmlns:r="{RNS}"><externalBook r:id="rId1">'
                '<sheetNames><sheetName val="Other"/></sheetNames></externalBook>'
                '</externalLink>'),
            "xl/externalLinks/_rels/externalLink1.xml.rels": rels_xml([
                ("rId1", "externalLinkPath", "other.xlsx", True)]),
        })
    data = load_workbook(p)
    b1, b2 = data.externals
    assert (b1.index, b1.target, b1.part) == (1, "file:///C:/data/Source%20Book.xlsx",
                                             "xl/externalLinks/externalLink2.xml")
    assert b1.sheet_names == ["First", "Second Sheet"]
    assert b1.values == {"First": {(1, 1): 10.0, (1, 2): "text"},
                         "Second Sheet": {(3, 3): XLError("#REF!"), (3, 4): True}}
    assert b1.names == {"ExtName": "First!$A$1", "Scoped": "Second!$B$2"}
    assert (b2.index, b2.target, b2.sheet_names, b2.values) == (2, "other.xlsx", ["Other"], {})


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------

def _raises(exc_type, path, *words, **kw):
    with pytest.raises(exc_type) as info:
        load_workbook(str(path), **kw)
    msg = str(info.value).lower()
    for w in words:
        assert w.lower() in msg, msg
    assert isinstance(info.value, errors.WorkbookError)
    return info.value


def test_missing_and_directory(tmp_path):
    _raises(errors.FileMissingError, tmp_path / "nope.xlsx", "no such file")
    _raises(errors.FileMissingError, tmp_path, "directory")


def test_empty_text_and_truncated(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    _raises(errors.CorruptWorkbookError, empty, "empty file")
    text = tmp_path / "text.xlsx"
    text.write_text("name,value\na,1\n")
    _raises(errors.UnsupportedFormatError, text, "not an Excel workbook (not a zip file)")
    good = one_sheet(tmp_path, '<row r="1"><c r="A1"><v>1</v></c></row>')
    raw = pathlib.Path(good).read_bytes()
    trunc = tmp_path / "trunc.xlsx"
    trunc.write_bytes(raw[: len(raw) // 2])
    _raises(errors.CorruptWorkbookError, trunc, "zip")


def test_ole_encrypted_and_legacy_xls(tmp_path):
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    enc = tmp_path / "enc.xlsx"
    enc.write_bytes(header + b"\0" * 1000 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 64)
    _raises(errors.EncryptedWorkbookError, enc, "password-protected (encrypted) workbook")
    xls = tmp_path / "old.xls"
    xls.write_bytes(header + "Workbook".encode("utf-16-le") + b"\0" * 2000)
    _raises(errors.UnsupportedFormatError, xls, "legacy .xls (BIFF) workbook; save it as .xlsx")


def test_zip_that_is_not_a_workbook(tmp_path):
    p = write_zip(tmp_path / "doc.xlsx", {"word/document.xml": "<document/>"})
    _raises(errors.UnsupportedFormatError, p, "zip file is not an Excel workbook")
    p = write_zip(tmp_path / "b.xlsb", {
        "_rels/.rels": rels_xml([("rId1", "officeDocument", "xl/workbook.bin", False)]),
        "xl/workbook.bin": b"\x83\x01\x00"})
    _raises(errors.UnsupportedFormatError, p, "binary", ".xlsb")


@pytest.mark.parametrize("part", ["xl/worksheets/sheet1.xml", "xl/workbook.xml",
                                  "xl/sharedStrings.xml", "xl/_rels/workbook.xml.rels"])
def test_malformed_xml_names_the_part(tmp_path, part):
    p = one_sheet(tmp_path, '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',
                  sst=["<si><t>x</t></si>"])
    with zipfile.ZipFile(p) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts[part] = parts[part][: len(parts[part]) - 20] + b"<unclosed"
    q = write_zip(tmp_path / "bad.xlsx", parts)
    _raises(errors.CorruptWorkbookError, q, "malformed xml", part)


def test_missing_sheet_part(tmp_path):
    p = one_sheet(tmp_path, "")
    with zipfile.ZipFile(p) as zf:
        parts = {n: zf.read(n) for n in zf.namelist() if "worksheets" not in n}
    _raises(errors.CorruptWorkbookError, write_zip(tmp_path / "m.xlsx", parts), "missing")


def test_decompression_bomb(tmp_path):
    zeros = b"\0" * (12 * 2**20)        # 12 MB of zeros: deflates ~1000-fold
    p = one_sheet(tmp_path, "", extra_parts={"xl/media/blob.bin": zeros})
    _raises(errors.WorkbookTooLargeError, p, "decompression bomb")            # default ratio
    small = one_sheet(tmp_path, "", name="small.xlsx",
                      extra_parts={"xl/media/blob.bin": b"\0" * 200_000})
    _raises(errors.WorkbookTooLargeError, small, "size limit", max_uncompressed=100_000)
    assert load_workbook(small, max_uncompressed=10**6).sheets[0].values == {}


def test_bounded_reader_stops_reading():
    class Owner:
        path = "x.xlsx"
        max_uncompressed = 100
        budget = 100

    r = _BoundedReader(io.BytesIO(b"a" * 500), 1000, Owner(), "xl/big.xml")
    with pytest.raises(errors.WorkbookTooLargeError):
        while r.read(64):
            pass
    r = _BoundedReader(io.BytesIO(b"a" * 500), 50, Owner(), "xl/big.xml")
    with pytest.raises(errors.WorkbookTooLargeError, match="declared size"):
        r.read()


def test_lying_size_headers(tmp_path):
    # a part whose headers claim fewer bytes than it holds: zipfile's CRC check catches it
    p = one_sheet(tmp_path, '<row r="1"><c r="A1"><v>1</v></c></row>' * 50,
                  extra_parts={"xl/media/data.bin": b"x" * 5000})
    raw = bytearray(pathlib.Path(p).read_bytes())
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    size = struct.pack("<I", info.file_size)
    for i in range(len(raw) - 4):
        if raw[i:i + 4] == size:
            raw[i:i + 4] = struct.pack("<I", 100)
    bad = tmp_path / "lying.xlsx"
    bad.write_bytes(bytes(raw))
    with pytest.raises(errors.WorkbookError):
        load_workbook(str(bad))


def test_random_damage_only_raises_workbook_errors(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in range(1, 40):
        ws.append([r, f"s{r}", f"=A{r}*2"])
    src = tmp_path / "src.xlsx"
    wb.save(src)
    raw = src.read_bytes()
    rng = random.Random(1234)
    target = tmp_path / "damaged.xlsx"
    for i in range(60):
        data = bytearray(raw)
        if i % 3 == 0:
            data = data[: rng.randrange(1, len(data))]
        else:
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        target.write_bytes(bytes(data))
        try:
            load_workbook(str(target))
        except errors.WorkbookError:
            pass


# ---------------------------------------------------------------------------------------
# The conformance corpus (skipped when absent)
# ---------------------------------------------------------------------------------------

def _corpus():
    manifest = CONFORMANCE / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = [r for r in fh if not r.startswith("#")]
    return [r["path"] for r in csv.DictReader(rows, delimiter="\t") if r.get("path")]


@pytest.mark.skipif(not (CONFORMANCE / "MANIFEST.tsv").is_file(),
                    reason="conformance corpus not present")
def test_conformance_corpus_loads():
    spec = importlib.util.spec_from_file_location("_xleval_score",
                                                  CONFORMANCE / "score.py")
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    problems = []
    for rel in _corpus():
        path = str(CONFORMANCE / rel)
        try:
            data = load_workbook(path)
        except Exception as exc:  # noqa: BLE001 - collect every failure
            problems.append(f"{rel}: {type(exc).__name__}: {exc}")
            continue
        cells, _stats = score.formula_cells(path)
        for sheet_name, scored in cells.items():
            sheet = data.sheet(sheet_name)
            ranges = [f.ref for f in sheet.formulas.values()
                      if f.kind != "normal" and f.ref is not None]
            for (r, c) in scored:
                if (r, c) in sheet.formulas:
                    continue
                if any(r1 <= r <= r2 and c1 <= c <= c2 for r1, c1, r2, c2 in ranges):
                    continue
                problems.append(f"{rel}: {sheet_name}!{_col(c)}{r} is not a formula cell")
                break
    assert not problems, "\n".join(problems[:20])


def test_rows_hidden_by_a_tables_own_filter_are_filtered(tmp_path):
    """A table's autoFilter (in its table part, not the sheet's) hides rows the way the
    sheet's does: SUBTOTAL(9, ...) leaves them out (Excel-saved ClosedXML
    ConditionalFormattingSamples.xlsx: the totals row of a filtered table)."""
    from openpyxl.worksheet.table import Table as XTable

    import xleval
    wbx = openpyxl.Workbook()
    ws = wbx.active
    ws.title = "S"
    rows = [("Region", "Sales"), ("North", 100), ("West", 20), ("South", 300), ("East", 4)]
    for r in rows:
        ws.append(r)
    t = XTable(displayName="Sales1", ref="A1:B5")
    t._initialise_columns()
    for col, name in zip(t.tableColumns, rows[0]):
        col.name = name                     # (openpyxl names them Column1, Column2...)
    t.autoFilter.ref = "A1:B5"
    t.autoFilter.add_filter_column(1, ["20", "4"])    # Sales: only 20 and 4 shown
    ws.add_table(t)
    ws.row_dimensions[2].hidden = True      # North and South filtered out
    ws.row_dimensions[4].hidden = True
    # a second table with a filter button but no criteria: its hidden row is hidden by
    # hand, which SUBTOTAL(9, ...) still counts (ConditionalFormattingSamples.xlsx too)
    for i, r in enumerate([("Region", "Sales"), ("A", 1), ("B", 10)], start=8):
        ws.cell(i, 1, r[0])
        ws.cell(i, 2, r[1])
    t2 = XTable(displayName="Sales2", ref="A8:B10")
    t2._initialise_columns()
    for col, name in zip(t2.tableColumns, rows[0]):
        col.name = name
    t2.autoFilter.ref = "A8:B10"
    ws.add_table(t2)
    ws.row_dimensions[9].hidden = True
    ws["D1"] = "=SUBTOTAL(9,Sales1[Sales])"
    ws["D2"] = "=SUBTOTAL(109,Sales1[Sales])"
    ws["D3"] = "=SUM(Sales1[Sales])"
    ws["D4"] = "=SUBTOTAL(9,Sales2[Sales])"
    ws["D5"] = "=SUBTOTAL(109,Sales2[Sales])"
    path = tmp_path / "filtered_table.xlsx"
    wbx.save(path)
    wb = xleval.load(path)
    assert wb.data.tables[0].autofilter == (1, 1, 5, 2)
    assert wb.data.tables[1].autofilter is None
    assert wb.data.sheets[0].filtered_rows == {2, 4}
    wb.calculate()
    # [hand] visible rows of Sales1: West 20 + East 4; SUM ignores filters; Sales2: 1 is
    # hidden by hand (counted by 9, left out by 109)
    assert (wb["S!D1"], wb["S!D2"], wb["S!D3"]) == (24.0, 24.0, 424.0)
    assert (wb["S!D4"], wb["S!D5"]) == (11.0, 10.0)
