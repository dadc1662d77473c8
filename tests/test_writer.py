"""Tests for xleval.writer: patched workbook copies, DataFrame/CSV/JSON outputs."""
from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import warnings
import zipfile

import openpyxl
import pytest
from lxml import etree

from xleval.errors import OutputError
from xleval.values import DIV0, NA, REF, XLError
from xleval.writer import resolve_sheet_parts, to_frame, write_csv, write_json, write_values
from xleval.writer.xlsx import encode_number, encode_text, patch_external_xml, patch_sheet_xml

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WS_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"

# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def load_quiet(path, **kw):
    """openpyxl load that fails the test on any warning (except openpyxl's notice about
    extension lists it drops, which the raw fixture's source file triggers too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*extension is not supported")
        return openpyxl.load_workbook(path, **kw)


def raw_cells(xml: bytes) -> dict[str, dict]:
    """{ref: {"t":..., "v":..., "f": (attrs, text) or None, "attrs": {...}, "children": [...]}}"""
    root = etree.fromstring(xml)
    out = {}
    for c in root.iter("{*}c"):
        ref = c.get("r")
        v = c.find("{*}v")
        f = c.find("{*}f")
        isel = c.find("{*}is")
        out[ref] = {
            "t": c.get("t"),
            "v": v.text if v is not None else None,
            "has_v": v is not None,
            "is": "".join(isel.itertext()) if isel is not None else None,
            "f": (dict(f.attrib), f.text) if f is not None else None,
            "attrs": dict(c.attrib),
            "children": [etree.QName(ch).localname for ch in c],
        }
    return out


def f_elements(xml: bytes) -> list[bytes]:
    return re.findall(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>.*?</(?:\w+:)?f>)", xml, re.S)


def unescape_x(s: str) -> str:
    """Decode Excel's _xHHHH_ escapes."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), s)


def entries(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def assert_untouched(src, dst, changed: set[str]):
    """Every entry not in `changed` is byte-identical with the same order/date/compression."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst) as b:
        ia = [i for i in a.infolist()]
        ib = {i.filename: i for i in b.infolist()}
        order_b = [i.filename for i in b.infolist()]
        assert order_b == [i.filename for i in ia if i.filename in ib]
        for i in ia:
            if i.filename not in ib:
                assert i.filename in changed, f"{i.filename} went missing"
                continue
            j = ib[i.filename]
            assert j.date_time == i.date_time
            assert j.compress_type == i.compress_type
            if i.filename not in changed:
                assert a.read(i) == b.read(j), f"{i.filename} changed"


def sheet_xml(name_or_path, part):
    with zipfile.ZipFile(name_or_path) as z:
        return z.read(part)


# ---------------------------------------------------------------------------------------
# an openpyxl-built workbook: styles, comment, chart, second sheet
# ---------------------------------------------------------------------------------------


@pytest.fixture
def styled_book(tmp_path):
    from openpyxl.chart import BarChart, Reference
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    for r in range(1, 6):
        ws.cell(r, 1, r * 10)
        ws.cell(r, 2, f"=A{r}*2")
        ws.cell(r, 3, f'=IF(A{r}>20,"big","small")')
    ws["A1"].font = Font(bold=True, color="FF0000")
    ws["B2"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["B2"].number_format = "0.00%"
    ws["D1"] = "=SUM(B1:B5)"
    ws["D2"] = "=1/0"
    ws["D3"] = "=A1>5"
    ws["D4"] = '=""'
    ws["A1"].comment = Comment("a note", "me")
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=1, min_row=1, max_row=5))
    ws.add_chart(chart, "F2")
    ws2 = wb.create_sheet("Other Sheet")
    ws2["A1"] = "=Data!D1+1"
    ws2["B1"] = "label"
    path = tmp_path / "styled.xlsx"
    wb.save(path)
    return path


STYLED_VALUES = {
    "Data": {
        **{(r, 2): float(r * 20) for r in range(1, 6)},
        **{(r, 3): ("big" if r * 10 > 20 else "small") for r in range(1, 6)},
        (1, 4): 300.0, (2, 4): DIV0, (3, 4): True, (4, 4): None,
    },
    "Other Sheet": {(1, 1): 301.0},
}


def test_styled_workbook_values_and_preservation(styled_book, tmp_path):
    dst = tmp_path / "out.xlsx"
    write_values(str(styled_book), str(dst), STYLED_VALUES)

    wb = load_quiet(dst, data_only=True)
    ws = wb["Data"]
    for r in range(1, 6):
        assert ws.cell(r, 2).value == r * 20
        assert ws.cell(r, 3).value == ("big" if r * 10 > 20 else "small")
        assert ws.cell(r, 1).value == r * 10            # constants untouched
    assert ws["D1"].value == 300
    assert ws["D2"].value == "#DIV/0!"
    assert ws["D3"].value is True
    assert ws["D4"].value in ("", None)
    assert wb["Other Sheet"]["A1"].value == 301
    assert wb["Other Sheet"]["B1"].value == "label"
    # styles, comment, chart still there
    assert ws["A1"].font.bold and ws["B2"].number_format == "0.00%"

    wbf = load_quiet(dst)
    src_wb = load_quiet(styled_book)
    for name in ("Data", "Other Sheet"):
        for row_a, row_b in zip(src_wb[name].iter_rows(), wbf[name].iter_rows()):
            for a, b in zip(row_a, row_b):
                assert a.value == b.value                   # formulas and constants
                assert a.style_id == b.style_id
    assert wbf["Data"]["A1"].comment.text.startswith("a note")
    assert len(wbf["Data"]._charts) == 1

    with zipfile.ZipFile(styled_book) as z:
        parts = resolve_sheet_parts(z)
    changed = set(parts.values())
    assert_untouched(styled_book, dst, changed)
    for part in changed:
        assert f_elements(sheet_xml(styled_book, part)) == f_elements(sheet_xml(dst, part))

    cells = raw_cells(sheet_xml(dst, parts["Data"]))
    assert cells["D2"]["t"] == "e" and cells["D2"]["v"] == "#DIV/0!"
    assert cells["D3"]["t"] == "b" and cells["D3"]["v"] == "1"
    assert cells["D4"]["t"] == "str" and cells["D4"]["has_v"] and not cells["D4"]["v"]
    assert cells["C1"]["t"] == "str" and cells["C1"]["v"] == "small"
    assert cells["B1"]["t"] is None and cells["B1"]["v"] == "20"
    assert cells["B2"]["attrs"].get("s") is not None  # style index kept
    for c in cells.values():
        if c["f"] is not None:
            assert c["children"][0] == "f"


def test_image_preserved(tmp_path):
    pytest.importorskip("PIL")
    from openpyxl.drawing.image import Image
    from PIL import Image as PILImage

    png = tmp_path / "x.png"
    PILImage.new("RGB", (4, 4), "red").save(png)
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+1"
    wb.active.add_image(Image(str(png)), "C3")
    src = tmp_path / "img.xlsx"
    wb.save(src)
    dst = tmp_path / "img_out.xlsx"
    write_values(str(src), str(dst), {"Sheet": {(1, 1): 2.0}})
    with zipfile.ZipFile(src) as z:
        parts = resolve_sheet_parts(z)
    assert_untouched(src, dst, set(parts.values()))
    assert load_quiet(dst, data_only=True)["Sheet"]["A1"].value == 2


# ---------------------------------------------------------------------------------------
# a raw-XML workbook: shared/array formulas, cm markers, empty sheetData, prefixes,
# calcChain, VBA, external link
# ---------------------------------------------------------------------------------------

SHEET1 = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{NS}" xmlns:r="{REL_NS}" xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision"><dimension ref="A1:E3"/><sheetViews><sheetView workbookViewId="0"/></sheetViews><sheetFormatPr defaultRowHeight="15"/><sheetData><row r="1" spans="1:5"><c r="A1"><v>1</v></c><c r="B1" s="1"><f t="shared" ref="B1:B3" si="0">A1*2</f><v>0</v></c><c r="C1"><f t="array" ref="C1:C3">A1:A3*10</f><v>0</v></c><c r="D1" t="s"><v>0</v></c><c r="E1" cm="1"><f t="array" ref="E1:E2">SEQUENCE(2)</f><v>0</v></c></row><row r="2" spans="1:5"><c r="A2"><v>2</v></c><c r="B2" s="1"><f t="shared" si="0"/><v>0</v></c></row><row r="3" spans="1:5" ht="20" customHeight="1"><c r="A3"><v>3</v></c><c r="B3" s="1" t="str"><f t="shared" si="0"/><v>old</v><extLst><ext uri="{{X}}"><foo xmlns="urn:x"/></ext></extLst></c></row></sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/><rowBreaks count="1" manualBreakCount="1"><brk id="5" max="16383" man="1"/></rowBreaks></worksheet>"""

SHEET_EMPTY = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{NS}"><dimension ref="A1"/><sheetData/></worksheet>"""

SHEET_PREFIXED = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<x:worksheet xmlns:x="{NS}"><x:dimension ref="A1:B2"/><x:sheetData><x:row r="1"><x:c r="A1"><x:v>5</x:v></x:c><x:c r="B1"><x:f>A1+1</x:f><x:v>0</x:v></x:c></x:row><x:row r="2"><x:c r="B2" s="0" t="e"><x:f>1/0</x:f><x:v>#DIV/0!</x:v></x:c></x:row></x:sheetData></x:worksheet>"""

# rows and cells without r attributes; self-closing cells; attributes in odd order
SHEET_NOREF = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{NS}"><sheetData><row><c><v>1</v></c><c t="n" s="0"><f>A1+1</f><v>0</v></c></row><row><c s="0"/><c><f>B1*2</f></c></row><row r="5"><c t="str" r="C5" s="0"><f>"x"</f><v>x</v></c></row></sheetData></worksheet>"""

EXTERNAL_LINK = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<externalLink xmlns="{NS}" xmlns:r="{REL_NS}"><externalBook r:id="rId1"><sheetNames><sheetName val="Prices"/><sheetName val="Rates &amp; Fees"/></sheetNames><sheetDataSet><sheetData sheetId="0"><row r="1"><cell r="A1"><v>10</v></cell><cell r="B1" t="str"><v>old</v></cell></row></sheetData></sheetDataSet></externalBook></externalLink>"""


def _raw_book(path, *, calc_chain=True, vba=False, external=True):
    sheets = [("Main", "sheet1.xml", SHEET1), ("Empty", "sheet2.xml", SHEET_EMPTY),
              ("Pref", "sheet3.xml", SHEET_PREFIXED), ("NoRef", "sheet4.xml", SHEET_NOREF)]
    main_ct = ("application/vnd.ms-excel.sheet.macroEnabled.main+xml" if vba else
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
    ct = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{CT_NS}">',
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>',
          '<Default Extension="xml" ContentType="application/xml"/>']
    if vba:
        ct.append('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>')
    ct.append(f'<Override PartName="/xl/workbook.xml" ContentType="{main_ct}"/>')
    for _n, f, _x in sheets:
        ct.append(f'<Override PartName="/xl/worksheets/{f}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
    ct.append('<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>')
    ct.append('<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    ct.append('<Override PartName="/xl/metadata.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"/>')
    if calc_chain:
        ct.append('<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/>')
    if external:
        ct.append('<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/>')
    ct.append("</Types>")

    wb_rels = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL_NS}">']
    for i, (_n, f, _x) in enumerate(sheets, 1):
        wb_rels.append(f'<Relationship Id="rId{i}" Type="{WS_TYPE}" Target="worksheets/{f}"/>')
    wb_rels.append('<Relationship Id="rId10" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>')
    wb_rels.append('<Relationship Id="rId11" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')
    if calc_chain:
        wb_rels.append('<Relationship Id="rId12" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain" Target="calcChain.xml"/>')
    wb_rels.append('<Relationship Id="rId13" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata" Target="metadata.xml"/>')
    if vba:
        wb_rels.append('<Relationship Id="rId14" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>')
    if external:
        wb_rels.append('<Relationship Id="rId15" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink" Target="externalLinks/externalLink1.xml"/>')
    wb_rels.append("</Relationships>")

    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{NS}" xmlns:r="{REL_NS}">'
                '<bookViews><workbookView/></bookViews><sheets>'
                + "".join(f'<sheet name="{n}" sheetId="{i}" r:id="rId{i}"/>' for i, (n, _f, _x) in enumerate(sheets, 1))
                + "</sheets>"
                + ('<externalReferences><externalReference r:id="rId15"/></externalReferences>' if external else "")
                + '<calcPr calcId="191029"/></workbook>')
    styles = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{NS}">'
              '<numFmts count="1"><numFmt numFmtId="164" formatCode="0.000"/></numFmts>'
              '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
              '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
              '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
              '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
              '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
              '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
              '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
    sst = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{NS}" count="1" uniqueCount="1">'
           '<si><t>shared text</t></si></sst>')
    metadata = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<metadata xmlns="{NS}" '
                'xmlns:xda="http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray">'
                '<metadataTypes count="1"><metadataType name="XLDAPR" minSupportedVersion="120000" copy="1" '
                'pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" '
                'clearComments="1" assign="1" coerce="1" cellMeta="1"/></metadataTypes>'
                '<futureMetadata name="XLDAPR" count="1"><bk><extLst><ext uri="{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}">'
                '<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk></futureMetadata>'
                '<cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata></metadata>')
    calc = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns="{NS}">'
            '<c r="B1" i="1" l="1"/><c r="C1"/><c r="E1"/></calcChain>')
    root_rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL_NS}">'
                 '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                 '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>')
    core = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties '
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>test</dc:creator></cp:coreProperties>')
    ext_rels = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL_NS}">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" '
                'Target="prices.xlsx" TargetMode="External"/></Relationships>')

    dt = (2021, 3, 4, 5, 6, 8)
    with zipfile.ZipFile(path, "w") as z:
        def put(name, data, method=zipfile.ZIP_DEFLATED):
            zi = zipfile.ZipInfo(name, dt)
            zi.compress_type = method
            z.writestr(zi, data)
        put("[Content_Types].xml", "".join(ct))
        put("_rels/.rels", root_rels)
        put("docProps/core.xml", core, zipfile.ZIP_STORED)
        put("xl/workbook.xml", workbook)
        put("xl/_rels/workbook.xml.rels", "".join(wb_rels))
        for _n, f, x in sheets:
            put(f"xl/worksheets/{f}", x)
        put("xl/styles.xml", styles)
        put("xl/sharedStrings.xml", sst)
        put("xl/metadata.xml", metadata)
        if calc_chain:
            put("xl/calcChain.xml", calc)
        if vba:
            put("xl/vbaProject.bin", bytes(range(256)) * 8, zipfile.ZIP_STORED)
        if external:
            put("xl/externalLinks/externalLink1.xml", EXTERNAL_LINK)
            put("xl/externalLinks/_rels/externalLink1.xml.rels", ext_rels)
        put("customXml/item1.xml", "<root>custom</root>")
    return path


RAW_VALUES = {
    "Main": {
        (1, 2): 2.0, (2, 2): 4.0, (3, 2): "six",                 # shared formula group
        (1, 3): 10.0, (2, 3): 20.0, (3, 3): 30.0,                # array formula; C2, C3 absent
        (1, 5): 1.0, (2, 5): 2.0,                                # dynamic array (cm=1); E2 absent
        (5, 4): NA,                                               # row 5 absent
        (4, 2): None,                                             # blank result, absent: no-op
        (1, 7): 0.1,                                              # beyond the row's spans
    },
    "Empty": {(2, 2): 42.0, (1, 1): "first", (3, 1): False},
    "Pref": {(1, 2): 6.0, (2, 2): 7.5, (2, 1): "new"},
    "NoRef": {(1, 2): 2.0, (2, 2): 4.0, (2, 1): REF, (5, 3): "y", (4, 1): 9.0},
}


@pytest.fixture
def raw_book(tmp_path):
    return _raw_book(tmp_path / "raw.xlsx")


SHEET_PARTS = {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
               "xl/worksheets/sheet3.xml", "xl/worksheets/sheet4.xml"}
META_PARTS = {"xl/_rels/workbook.xml.rels", "[Content_Types].xml", "xl/calcChain.xml"}


def test_raw_workbook(raw_book, tmp_path):
    dst = tmp_path / "raw_out.xlsx"
    src_bytes = raw_book.read_bytes()
    write_values(str(raw_book), str(dst), RAW_VALUES)
    assert raw_book.read_bytes() == src_bytes                   # source untouched

    assert_untouched(raw_book, dst, SHEET_PARTS | META_PARTS)
    out = entries(dst)
    src = entries(raw_book)

    # --- Main: shared formulas, array formula covered cells, cm marker
    x = out["xl/worksheets/sheet1.xml"]
    cells = raw_cells(x)
    assert f_elements(x) == f_elements(src["xl/worksheets/sheet1.xml"])
    assert cells["B1"]["v"] == "2" and cells["B2"]["v"] == "4"
    assert cells["B1"]["f"] == ({"t": "shared", "ref": "B1:B3", "si": "0"}, "A1*2")
    assert cells["B2"]["f"] == ({"t": "shared", "si": "0"}, None)
    assert cells["B3"]["t"] == "str" and cells["B3"]["v"] == "six"
    assert cells["B3"]["children"] == ["f", "v", "extLst"]          # CT_Cell order kept
    assert cells["B3"]["attrs"]["s"] == "1"
    assert [cells[r]["v"] for r in ("C1", "C2", "C3")] == ["10", "20", "30"]
    assert cells["C2"]["f"] is None
    assert cells["E1"]["attrs"]["cm"] == "1" and cells["E1"]["v"] == "1"
    assert cells["E2"]["v"] == "2"
    assert cells["D5"]["t"] == "e" and cells["D5"]["v"] == "#N/A"
    assert cells["D1"]["t"] == "s" and cells["D1"]["v"] == "0"     # untouched cell
    assert cells["G1"]["v"] == "0.1"
    assert "B4" not in cells
    root = etree.fromstring(x)
    rows = [(int(r.get("r")), [c.get("r") for c in r]) for r in root.iter(f"{{{NS}}}row")]
    assert rows == [(1, ["A1", "B1", "C1", "D1", "E1", "G1"]), (2, ["A2", "B2", "C2", "E2"]),
                    (3, ["A3", "B3", "C3"]), (5, ["D5"])]
    assert root.find(f"{{{NS}}}dimension").get("ref") == "A1:G5"
    r1 = root.find(f"{{{NS}}}sheetData/{{{NS}}}row")
    assert r1.get("spans") == "1:7"
    r3 = root.findall(f"{{{NS}}}sheetData/{{{NS}}}row")[2]
    assert r3.get("ht") == "20" and r3.get("customHeight") == "1"
    assert b"<rowBreaks" in x and x.endswith(b"</rowBreaks></worksheet>")

    # --- Empty: <sheetData/> expanded
    cells = raw_cells(out["xl/worksheets/sheet2.xml"])
    assert cells["A1"]["t"] == "inlineStr" and cells["A1"]["is"] == "first"
    assert cells["B2"]["v"] == "42"
    assert cells["A3"]["t"] == "b" and cells["A3"]["v"] == "0"
    root = etree.fromstring(out["xl/worksheets/sheet2.xml"])
    assert root.find(f"{{{NS}}}dimension").get("ref") == "A1:B3"

    # --- Pref: x: prefix kept on new/patched elements
    x3 = out["xl/worksheets/sheet3.xml"]
    cells = raw_cells(x3)
    assert cells["B1"]["v"] == "6" and cells["B2"]["v"] == "7.5" and cells["B2"]["t"] is None
    assert cells["A2"]["is"] == "new"
    assert b"<x:c r=\"A2\" t=\"inlineStr\"><x:is><x:t>new</x:t></x:is></x:c><x:c r=\"B2\" s=\"0\">" in x3
    assert b"<v>" not in x3 and b"<c " not in x3

    # --- NoRef: positions inferred
    x4 = out["xl/worksheets/sheet4.xml"]
    root = etree.fromstring(x4)
    rows = root.findall(f"{{{NS}}}sheetData/{{{NS}}}row")
    assert [r.get("r") for r in rows] == [None, None, "4", "5"]
    vals = [[(c.get("r"), c.get("t"), c.findtext(f"{{{NS}}}v")) for c in r] for r in rows]
    assert vals[0] == [(None, None, "1"), (None, None, "2")]
    assert vals[1] == [(None, "e", "#REF!"), (None, None, "4")]
    assert vals[2] == [("A4", None, "9")]
    assert vals[3] == [("C5", "str", "y")]
    assert f_elements(x4) == f_elements(src["xl/worksheets/sheet4.xml"])

    # --- calcChain gone with its rel and override; nothing else in those parts changed
    assert "xl/calcChain.xml" not in out
    assert b"calcChain" not in out["xl/_rels/workbook.xml.rels"]
    assert b"calcChain" not in out["[Content_Types].xml"]
    for part in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
        a = re.sub(rb"<(Relationship|Override)[^>]*calcChain[^>]*/>", b"", src[part])
        assert out[part] == a

    # --- openpyxl reads it, without warnings
    wb = load_quiet(dst, data_only=True)
    assert wb["Main"]["C2"].value == 20 and wb["Main"]["B3"].value == "six"
    assert wb["Main"]["D5"].value == "#N/A"
    assert wb["Empty"]["A1"].value == "first" and wb["Empty"]["B2"].value == 42
    assert wb["Pref"]["B2"].value == 7.5
    assert wb["NoRef"]["C5"].value == "y" and wb["NoRef"]["A2"].value == "#REF!"
    wbf = load_quiet(dst)
    assert wbf["Main"]["B1"].value == "=A1*2"
    assert wbf["Pref"]["B2"].value == "=1/0"


def test_no_calc_chain_leaves_meta_parts(tmp_path):
    src = _raw_book(tmp_path / "nochain.xlsx", calc_chain=False)
    dst = tmp_path / "o.xlsx"
    write_values(str(src), str(dst), {"Main": {(1, 2): 5.0}})
    assert_untouched(src, dst, {"xl/worksheets/sheet1.xml"})
    assert entries(src).keys() == entries(dst).keys()


def test_calc_chain_named_by_character_references_is_dropped(tmp_path):
    """The rels part is searched for the chain's type name before its relationships are
    read; a type spelled with character references must still be found."""
    src = _raw_book(tmp_path / "refs.xlsx")
    parts = entries(src)
    rels = parts["xl/_rels/workbook.xml.rels"].replace(b"calcChain", b"calc&#x43;hain")
    assert b"calcChain" not in rels
    with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, rels if name == "xl/_rels/workbook.xml.rels" else data)
    dst = tmp_path / "o.xlsx"
    write_values(str(src), str(dst), {"Main": {(1, 2): 5.0}})
    out = entries(dst)
    assert "xl/calcChain.xml" not in out
    assert b"calc&#x43;hain" not in out["xl/_rels/workbook.xml.rels"]
    assert b"calcChain" not in out["[Content_Types].xml"]


def test_xlsm_vba_and_external_values(tmp_path):
    src = _raw_book(tmp_path / "macro.xlsm", vba=True)
    dst = tmp_path / "macro_out.xlsm"
    ext = {"xl/externalLinks/externalLink1.xml": {
        "Prices": {(1, 1): 11.5, (1, 2): "new", (3, 1): True},
        "rates & fees": {(2, 2): NA},
    }}
    write_values(str(src), str(dst), {"Main": {(1, 2): 2.0}}, external_values=ext)
    assert_untouched(src, dst, {"xl/worksheets/sheet1.xml", "xl/externalLinks/externalLink1.xml"}
                     | META_PARTS)
    out = entries(dst)
    assert out["xl/vbaProject.bin"] == bytes(range(256)) * 8
    with zipfile.ZipFile(dst) as z:
        assert z.getinfo("xl/vbaProject.bin").compress_type == zipfile.ZIP_STORED
        assert z.getinfo("docProps/core.xml").compress_type == zipfile.ZIP_STORED
    root = etree.fromstring(out["xl/externalLinks/externalLink1.xml"])
    got = {}
    for sd in root.iter(f"{{{NS}}}sheetData"):
        for cell in sd.iter(f"{{{NS}}}cell"):
            got[(sd.get("sheetId"), cell.get("r"))] = (cell.get("t"), cell.findtext(f"{{{NS}}}v"))
    assert got == {("0", "A1"): (None, "11.5"), ("0", "B1"): ("str", "new"),
                   ("0", "A3"): ("b", "1"), ("1", "B2"): ("e", "#N/A")}
    wb = load_quiet(dst, keep_vba=True)
    assert wb.vba_archive is not None
    # openpyxl keeps the macros in an in-memory zip it never closes: close it here, or
    # the garbage collector does it after its buffer is gone (an unraisable ValueError)
    wb.vba_archive.close()


# ---------------------------------------------------------------------------------------
# value encoding
# ---------------------------------------------------------------------------------------


def test_encode_number_round_trips():
    rnd = random.Random(7)
    samples = [0.0, -0.0, 1.0, -3.0, 0.1, 1 / 3, 1e-10, 1e16, 2.0**53, 1.7976931348623157e308,
               5e-324, 123456789012345.6, -2.5e-7, 1e15 + 0.5]
    samples += [rnd.uniform(-1e6, 1e6) for _ in range(200)]
    samples += [rnd.random() * 10 ** rnd.randint(-300, 300) for _ in range(200)]
    for x in samples:
        s = encode_number(x)
        assert float(s) == x, (x, s)
        assert "e" not in s and not s.endswith(".0")
    assert encode_number(3.0) == "3" and encode_number(-0.0) == "0"
    assert encode_number(float("nan")) is None and encode_number(float("inf")) is None


def test_encode_text_escapes():
    assert encode_text("a & b < c > d") == b"a &amp; b &lt; c &gt; d"
    s = "x\x00y\x1fz\r\n\t_x0041_ _x12_ \ufffe é😀"
    enc = encode_text(s).decode("utf-8")
    etree.fromstring(f"<t>{enc}</t>".encode())                        # well-formed
    assert "_x0000_" in enc and "_x001F_" in enc and "_x000D_" in enc
    assert "_x005F_x0041_" in enc and "_x12_" in enc and "\t" in enc and "\n" in enc
    assert unescape_x(enc) == s


def test_special_values_in_sheet(tmp_path, raw_book):
    dst = tmp_path / "special.xlsx"
    text = "tab\there <&> \x07 _x0041_"
    write_values(str(raw_book), str(dst), {"Main": {
        (1, 2): float("nan"), (2, 2): float("-inf"), (3, 2): text, (1, 3): 7,
        (2, 3): XLError("#SPILL!"), (3, 3): "  padded  "}})
    cells = raw_cells(entries(dst)["xl/worksheets/sheet1.xml"])
    assert cells["B1"]["t"] == "e" and cells["B1"]["v"] == "#NUM!"
    assert cells["B2"]["t"] == "e" and cells["B2"]["v"] == "#NUM!"
    assert cells["B3"]["t"] == "str" and unescape_x(cells["B3"]["v"]) == text
    assert cells["C1"]["v"] == "7"
    assert cells["C2"]["t"] == "e" and cells["C2"]["v"] == "#SPILL!"
    assert cells["C3"]["t"] == "inlineStr" and cells["C3"]["is"] == "  padded  "
    wb = load_quiet(dst, data_only=True)
    assert wb["Main"]["C3"].value == "  padded  "


def test_constant_cell_blanked_keeps_style():
    xml = (f'<worksheet xmlns="{NS}"><sheetData><row r="1"><c r="A1" s="4" t="s"><v>3</v></c>'
           '<c r="B1" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>').encode()
    out = patch_sheet_xml(xml, {(1, 1): None, (1, 2): 2.0})
    assert b'<c r="A1" s="4"/>' in out and b'<c r="B1"><v>2</v></c>' in out


def test_patch_sheet_namespace_and_order_edge_cases():
    xml = (f'<worksheet xmlns="{NS}"><sheetData><row r="2" spans="2:2"><c r="B2"><v>1</v></c>'
           '<extLst><ext uri="u"/></extLst></row><row r="4"/></sheetData></worksheet>').encode()
    out = patch_sheet_xml(xml, {(2, 1): 1.0, (2, 3): 3.0, (4, 2): True, (1, 1): "top", (9, 9): 9.0})
    root = etree.fromstring(out)
    rows = root.findall(f"{{{NS}}}sheetData/{{{NS}}}row")
    assert [r.get("r") for r in rows] == ["1", "2", "4", "9"]
    assert [etree.QName(ch).localname for ch in rows[1]] == ["c", "c", "c", "extLst"]
    assert rows[1].get("spans") == "1:3"
    assert [c.get("r") for c in rows[1].findall(f"{{{NS}}}c")] == ["A2", "B2", "C2"]
    assert rows[2][0].get("t") == "b"


def test_external_link_without_sheetdataset():
    xml = (f'<externalLink xmlns="{NS}" xmlns:r="{REL_NS}"><externalBook r:id="rId1"><sheetNames>'
           '<sheetName val="A"/><sheetName val="B"/></sheetNames><definedNames><definedName name="n" '
           'refersTo="A!$A$1"/></definedNames></externalBook></externalLink>').encode()
    out = patch_external_xml(xml, {"B": {(1, 1): 1.0}, "A": {(2, 1): "s"}})
    root = etree.fromstring(out)
    book = root[0]
    assert [etree.QName(c).localname for c in book] == ["sheetNames", "definedNames", "sheetDataSet"]
    sds = book[2]
    assert [sd.get("sheetId") for sd in sds] == ["0", "1"]
    with pytest.raises(ValueError):
        patch_external_xml(xml, {"Nope": {(1, 1): 1.0}})


# ---------------------------------------------------------------------------------------
# atomicity and refusal
# ---------------------------------------------------------------------------------------


def _listing(folder):
    return sorted(os.listdir(folder))


def test_failure_leaves_no_output(raw_book, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dst = out_dir / "fail.xlsx"
    with pytest.raises(OutputError) as ei:
        write_values(str(raw_book), str(dst), {"Main": {(1, 2): object()}})
    assert "\n" not in str(ei.value)
    assert _listing(out_dir) == []

    dst.write_bytes(b"previous content")
    for bad in ({"Main": {(1, 2): [1, 2]}}, {"Nope": {(1, 1): 1.0}}, {"Main": {(0, 1): 1.0}}):
        with pytest.raises(OutputError):
            write_values(str(raw_book), str(dst), bad)
        assert dst.read_bytes() == b"previous content"
        assert _listing(out_dir) == ["fail.xlsx"]

    with pytest.raises(OutputError):
        write_values(str(tmp_path / "missing.xlsx"), str(dst), {})
    with pytest.raises(OutputError):
        write_values(str(raw_book), str(tmp_path / "no_such_dir" / "x.xlsx"), {})
    assert dst.read_bytes() == b"previous content"


def test_refuses_to_overwrite_source_unless_in_place(raw_book, tmp_path):
    before = raw_book.read_bytes()
    with pytest.raises(OutputError):
        write_values(str(raw_book), str(raw_book), {"Main": {(1, 2): 2.0}})
    with pytest.raises(OutputError):
        write_values(str(raw_book), str(tmp_path / "." / "raw.xlsx"), {"Main": {(1, 2): 2.0}})
    assert raw_book.read_bytes() == before
    write_values(str(raw_book), str(raw_book), {"Main": {(1, 2): 2.0}}, in_place=True)
    assert raw_cells(entries(raw_book)["xl/worksheets/sheet1.xml"])["B1"]["v"] == "2"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []


def test_explicit_sheet_parts_and_noop(raw_book, tmp_path):
    dst = tmp_path / "o.xlsx"
    write_values(str(raw_book), str(dst), {"Whatever": {(1, 2): 8.0}},
                 sheet_parts={"Whatever": "/xl/worksheets/sheet3.xml"})
    assert raw_cells(entries(dst)["xl/worksheets/sheet3.xml"])["B1"]["v"] == "8"
    # no values at all: everything but the calc chain bookkeeping is identical
    dst2 = tmp_path / "o2.xlsx"
    write_values(str(raw_book), str(dst2), {})
    assert_untouched(raw_book, dst2, META_PARTS)


def test_large_sheet_is_fast(tmp_path):
    import time
    rows = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{c}{r}" s="1"><f>ROW()*{i}</f><v>0</v></c>'
                                   for i, c in enumerate("ABCDEFGHIJ", 1)) + "</row>"
        for r in range(1, 5001))
    xml = f'<worksheet xmlns="{NS}"><sheetData>{rows}</sheetData></worksheet>'.encode()
    values = {(r, c): r * c + 0.25 for r in range(1, 5001) for c in range(1, 11)}
    t = time.perf_counter()
    out = patch_sheet_xml(xml, values)
    assert time.perf_counter() - t < 3.0
    cells = raw_cells(out)
    assert cells["J5000"]["v"] == "50000.25" and cells["J5000"]["f"][1] == "ROW()*10"


# ---------------------------------------------------------------------------------------
# tabular outputs
# ---------------------------------------------------------------------------------------

TAB = {(1, 1): 1.0, (2, 1): 2.5, (3, 1): 3.0, (1, 2): "x", (2, 2): None, (3, 2): True,
       (1, 3): NA, (3, 3): 4.0, (2, 4): False}


def test_to_frame():
    import numpy as np

    df = to_frame(TAB)
    assert list(df.columns) == ["A", "B", "C", "D"]
    assert list(df.index) == [1, 2, 3]
    assert df["A"].dtype == np.float64 and df.loc[2, "A"] == 2.5
    assert df["B"].dtype == object and df.loc[1, "B"] == "x" and df.loc[2, "B"] is None
    assert df.loc[3, "B"] is True
    assert df.loc[1, "C"] == "#N/A" and df.loc[2, "C"] is None and df.loc[3, "C"] == 4.0
    assert df["C"].dtype == object
    assert df.loc[2, "D"] is False
    df2 = to_frame(TAB, max_row=5, max_col=2)
    assert df2.shape == (5, 2) and df2.loc[5, "A"] is None and df2["A"].dtype == object
    assert to_frame({}).shape == (0, 0)
    wide = to_frame({(1, 28): 1.0})
    assert wide.columns[-1] == "AB" and wide.shape == (1, 28)


def test_write_csv(tmp_path):
    p = tmp_path / "s.csv"
    write_csv(TAB, str(p))
    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["1", "x", "#N/A", ""], ["2.5", "", "", "FALSE"], ["3", "TRUE", "4", ""]]
    # from a frame, and text needing quotes
    write_csv(to_frame({(1, 1): 'a,"b"\nc', (2, 2): 0.1}), str(p))
    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows == [['a,"b"\nc', ""], ["", "0.1"]]
    assert [n for n in os.listdir(tmp_path) if n != "s.csv"] == []


def test_write_json(tmp_path):
    p = tmp_path / "all.json"
    write_json({"Data": TAB, "Empty": {}, "Odd": {(1, 1): float("nan"), (1, 2): DIV0}}, str(p))
    doc = json.loads(p.read_text(encoding="utf-8"))
    assert list(doc) == ["sheets"]
    assert doc["sheets"]["Data"] == {"A1": 1.0, "B1": "x", "C1": "#N/A", "A2": 2.5, "B2": None,
                                     "D2": False, "A3": 3.0, "B3": True, "C3": 4.0}
    assert list(doc["sheets"]["Data"])[:3] == ["A1", "B1", "C1"]      # row-major
    assert doc["sheets"]["Empty"] == {}
    assert doc["sheets"]["Odd"] == {"A1": "#NUM!", "B1": "#DIV/0!"}
    assert math.isclose(doc["sheets"]["Data"]["A2"], 2.5)


def test_tabular_atomic_failure(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("keep")
    with pytest.raises(OutputError):
        write_json({"S": {(1, 1): object()}}, str(p))
    with pytest.raises(OutputError):
        write_csv({(1, 1): object()}, str(p))
    assert p.read_text() == "keep"
    assert os.listdir(tmp_path) == ["x.json"]


def test_xml_attribute_values_are_unescaped_like_an_xml_parser():
    # relationship targets and content types are read from attributes without a parser
    from xleval.writer.xlsx import _xml_unescape
    assert _xml_unescape("a&amp;b&lt;c&gt;&quot;&apos;") == "a&b<c>\"'"
    assert _xml_unescape("x&#65;&#x42;y") == "xABy"          # character references
    assert _xml_unescape("&amp;lt;") == "&lt;"                 # one level only
    assert _xml_unescape("no entities") == "no entities"


def test_values_reach_columns_beyond_zz(tmp_path):
    # the writer's fast path looks columns up in a table of A..ZZ and adds AAA..XFD as
    # it meets them (refs.far_column): a formula in ABC and one in XFD get their values
    src = tmp_path / "far.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["AAA1"] = 2
    ws["ABC1"] = "=AAA1*2"
    ws["XFD2"] = "=ABC1+1"
    ws["B3"] = "=XFD2*10"
    wb.save(src)
    import xleval
    book = xleval.load(str(src))
    book.calculate()
    out = tmp_path / "far_out.xlsx"
    book.save(str(out))
    got = openpyxl.load_workbook(out, data_only=True).active
    assert (got["ABC1"].value, got["XFD2"].value, got["B3"].value) == (4, 5, 50)
    assert got["AAA1"].value == 2
