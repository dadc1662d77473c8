"""Linked data types (rich values) and field access: the loader reads the rich data parts,
_FV / FIELDVALUE read an entity's fields, the writer keeps vm attributes and the parts.

The fixture workbooks are written here by hand following [MS-XLSX]'s rich data layout
(metadata.xml valueMetadata -> futureMetadata XLRICHVALUE rvb -> rdrichvalue.xml values
keyed by rdrichvaluestructure.xml, arrays in rdarray.xml); every expected value below is
read off that hand-written XML, not produced by xleval."""
from __future__ import annotations

import pathlib
import pickle
import re
import zipfile
from html import escape

import pytest

import xleval
from xleval.loader.xlsx import load_workbook
from xleval.values import FIELD, VALUE, Array, Entity, XLError

CORPUS = (pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "conformance"
          / "workbooks" / "sheetjs" / "metadata_2019.xlsx")

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RD = "http://schemas.microsoft.com/office/spreadsheetml/2017/richdata"
RD2 = "http://schemas.microsoft.com/office/spreadsheetml/2017/richdata2"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
XDA = "http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray"
MSREL = "http://schemas.microsoft.com/office/2017/06/relationships"

CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/metadata.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"/>
</Types>"""

ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""

WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="{NS}" xmlns:r="{REL}"><sheets>
<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""

WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="{REL}/sheetMetadata" Target="metadata.xml"/>
<Relationship Id="rId3" Type="{MSREL}/rdRichValue" Target="richData/rdrichvalue.xml"/>
<Relationship Id="rId4" Type="{MSREL}/rdRichValueStructure" Target="richData/rdrichvaluestructure.xml"/>
<Relationship Id="rId5" Type="{MSREL}/rdArray" Target="richData/rdarray.xml"/>
</Relationships>"""

# cm="1" (cellMetadata block 1 -> XLDAPR fDynamic) marks D1 and E1 as dynamic arrays.
# rich value i is pointed to by futureMetadata block b (0-based), i.e. by vm = b + 1:
#   vm 1 -> rv 0 (country stub "Atlantis", fields in core rv 5 of the same %EntityId)
#   vm 2 -> rv 7 (_linkedentity whose %cvi is the stock core rv 6)
#   vm 3 -> rv 2, vm 4 -> rv 3 (the two leader stubs, spilled by D1)
#   vm 5 -> rv 8 (_error, errorType 8 = #SPILL!)
METADATA = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<metadata xmlns="{NS}" xmlns:xlrd="{RD}" xmlns:xda="{XDA}">
<metadataTypes count="2"><metadataType name="XLDAPR"/><metadataType name="XLRICHVALUE"/></metadataTypes>
<futureMetadata name="XLDAPR" count="1"><bk><extLst><ext uri="{{bdbb8cdc-fa1e-496e-a857-3c3f30c029c3}}">
<xda:dynamicArrayProperties fDynamic="1" fCollapsed="0"/></ext></extLst></bk></futureMetadata>
<futureMetadata name="XLRICHVALUE" count="5">
<bk><extLst><ext uri="{{3e2802c4-a4d2-4d8b-9148-e3be6c30e623}}"><xlrd:rvb i="0"/></ext></extLst></bk>
<bk><extLst><ext uri="{{3e2802c4-a4d2-4d8b-9148-e3be6c30e623}}"><xlrd:rvb i="7"/></ext></extLst></bk>
<bk><extLst><ext uri="{{3e2802c4-a4d2-4d8b-9148-e3be6c30e623}}"><xlrd:rvb i="2"/></ext></extLst></bk>
<bk><extLst><ext uri="{{3e2802c4-a4d2-4d8b-9148-e3be6c30e623}}"><xlrd:rvb i="3"/></ext></extLst></bk>
<bk><extLst><ext uri="{{3e2802c4-a4d2-4d8b-9148-e3be6c30e623}}"><xlrd:rvb i="8"/></ext></extLst></bk>
</futureMetadata>
<cellMetadata count="1"><bk><rc t="1" v="0"/></bk></cellMetadata>
<valueMetadata count="5"><bk><rc t="2" v="0"/></bk><bk><rc t="2" v="1"/></bk>
<bk><rc t="2" v="2"/></bk><bk><rc t="2" v="3"/></bk><bk><rc t="2" v="4"/></bk></valueMetadata>
</metadata>"""

STRUCTURES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<rvStructures xmlns="{RD}" count="7">
<s t="_linkedentity2"><k n="%EntityServiceId" t="i"/><k n="_DisplayString" t="s"/><k n="%EntityId" t="s"/><k n="%EntityCulture" t="s"/></s>
<s t="_linkedentity2core"><k n="%EntityId" t="s"/><k n="_DisplayString" t="s"/><k n="Name" t="s"/><k n="Population" t="r"/><k n="Area"/><k n="Leaders" t="r"/><k n="Landlocked" t="b"/><k n="Motto" t="s"/><k n="_Format" t="spb"/></s>
<s t="_formattednumber"><k n="_Format" t="spb"/></s>
<s t="_array"><k n="array" t="a"/></s>
<s t="_linkedentity"><k n="%cvi" t="r"/></s>
<s t="_linkedentitycore"><k n="_DisplayString" t="s"/><k n="High"/><k n="Low"/><k n="Currency" t="s"/></s>
<s t="_error"><k n="colOffset" t="i"/><k n="errorType" t="i"/><k n="rwOffset" t="i"/><k n="subType" t="i"/></s>
</rvStructures>"""

RICH_VALUES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<rvData xmlns="{RD}" count="9">
<rv s="0"><v>1</v><v>Atlantis</v><v>ent-1</v><v>en-US</v></rv>
<rv s="2"><fb>5000</fb><v>0</v></rv>
<rv s="0"><v>1</v><v>Ruler A</v><v>ent-2</v><v>en-US</v></rv>
<rv s="0"><v>1</v><v>Ruler B</v><v>ent-3</v><v>en-US</v></rv>
<rv s="3"><v>0</v></rv>
<rv s="1"><v>ent-1</v><v>Atlantis</v><v>Atlantis</v><v>1</v><v>123.5</v><v>4</v><v>1</v><v>Per aquam</v><v>0</v></rv>
<rv s="5"><v>Acme Corp (XNAS:ACME)</v><v>12.5</v><v>10.25</v><v>USD</v></rv>
<rv s="4"><v>6</v></rv>
<rv s="6"><v>0</v><v>8</v><v>1</v><v>1</v></rv>
</rvData>"""

ARRAYS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<arrayData xmlns="{RD2}" count="1"><a r="2"><v t="r">2</v><v t="r">3</v></a></arrayData>"""


def _c(ref: str, formula: str | None = None, *, t: str | None = None, v: str | None = None,
       extra: str = "") -> str:
    tattr = f' t="{t}"' if t else ""
    f = ""
    if formula is not None:
        f = f"<f>{escape(formula, quote=False)}</f>"
    val = f"<v>{v}</v>" if v is not None else ""
    return f'<c r="{ref}"{tattr}{extra}>{f}{val}</c>'


def _sheet() -> str:
    rows = {
        1: [_c("A1", t="e", v="#VALUE!", extra=' vm="1"'),
            _c("B1", '_FV(A1,"Population")'),
            _c("C1", v="5"),
            '<c r="D1" t="e" cm="1" vm="3"><f t="array" ref="D1:D2">_FV(A1,"Leaders",TRUE)</f>'
            "<v>#VALUE!</v></c>",
            '<c r="E1" t="e" cm="1" vm="5"><f t="array" ref="E1">_xlfn.UNIQUE(F1:F3)</f>'
            "<v>#VALUE!</v></c>",
            _c("F1", v="1")],
        2: [_c("A2", t="e", v="#VALUE!", extra=' vm="2"'),
            _c("B2", '_FV(A2,"High")'),
            _c("D2", t="e", v="#VALUE!", extra=' vm="4"'),
            _c("E2", t="inlineStr", extra="").replace("></c>", "><is><t>x</t></is></c>"),
            _c("F2", v="2")],
        3: [_c("B3", '_xlfn.FIELDVALUE(A2,"low")'), _c("F3", v="3")],
        4: [_c("B4", '_FV(A1,"Motto")')],
        5: [_c("B5", '_FV(A1,"Landlocked")')],
        6: [_c("B6", '_FV(A1,"Nope")')],
        7: [_c("B7", '_xlfn.FIELDVALUE(C1,"High")')],
        8: [_c("B8", "ISERROR(A1)")],
        9: [_c("B9", '_FV(A1,"Area")')],
        10: [_c("B10", '_FV(A1,"%EntityId")')],
        11: [_c("B11", '_FV(INDEX(A1:A2,2),"High")')],
        12: [_c("B12", "LEN(A1)")],
        13: [_c("B13", '_FV(A2,"Currency")&"/"&_FV(A1,"Name")')],
    }
    body = "".join(f'<row r="{r}">{"".join(cells)}</row>' for r, cells in rows.items())
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{NS}"><sheetData>{body}</sheetData></worksheet>')


def _write(path: pathlib.Path, **override: str | None) -> pathlib.Path:
    parts = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": _sheet(),
        "xl/metadata.xml": METADATA,
        "xl/richData/rdrichvalue.xml": RICH_VALUES,
        "xl/richData/rdrichvaluestructure.xml": STRUCTURES,
        "xl/richData/rdarray.xml": ARRAYS,
    }
    for name, text in override.items():
        part = {"values": "xl/richData/rdrichvalue.xml",
                "structures": "xl/richData/rdrichvaluestructure.xml",
                "metadata": "xl/metadata.xml", "arrays": "xl/richData/rdarray.xml"}[name]
        if text is None:
            del parts[part]
        else:
            parts[part] = text
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return path


@pytest.fixture
def book(tmp_path):
    return _write(tmp_path / "rich.xlsx")


def test_loader_gives_entity_cells_their_fields(book):
    sheet = load_workbook(str(book)).sheets[0]
    a1 = sheet.values[(1, 1)]
    assert isinstance(a1, Entity)
    assert a1.display == "Atlantis"
    # the stub's fields come from the core value with the same %EntityId; '_' and '%'
    # keys and property bags are not fields
    assert dict(a1.fields) == {"Name": "Atlantis", "Population": 5000.0, "Area": 123.5,
                               "Leaders": Array([[Entity("Ruler A")], [Entity("Ruler B")]]),
                               "Landlocked": True, "Motto": "Per aquam"}
    leaders = a1.fields["Leaders"]
    assert [row[0].display for row in leaders.rows] == ["Ruler A", "Ruler B"]
    a2 = sheet.values[(2, 1)]
    assert a2.display == "Acme Corp (XNAS:ACME)" and a2.kind == "_linkedentity"
    assert a2.field("HIGH") == 12.5 and a2.field("Currency") == "USD"
    # the spilled entities of D1:D2 and the rich #SPILL! of E1 replace their fallbacks
    assert sheet.cached[(1, 4)].display == "Ruler A"
    assert sheet.cached[(2, 4)].display == "Ruler B"
    assert sheet.cached[(1, 5)] == XLError("#SPILL!")
    assert set(sheet.rich) == {(1, 1), (2, 1), (1, 4), (2, 4), (1, 5)}


def test_entity_is_the_value_error_to_everything_else():
    e = Entity("X", {"a": 1.0}, "_linkedentity2", 3)
    assert e == VALUE and isinstance(e, XLError) and e.code == "#VALUE!"
    assert e.field("A") == 1.0 and e.field("b") == FIELD
    back = pickle.loads(pickle.dumps(e))
    assert isinstance(back, Entity)
    assert (back.display, dict(back.fields), back.kind, back.rv) == \
        ("X", {"a": 1.0}, "_linkedentity2", 3)


def test_field_access_values(book):
    wb = xleval.load(book)
    wb.calculate()
    g = lambda ref: wb.get("Sheet1!" + ref)  # noqa: E731
    assert g("B1") == 5000.0                 # a _formattednumber field: its number
    assert g("B2") == 12.5                   # through the _linkedentity's %cvi core
    assert g("B3") == 10.25                  # FIELDVALUE, field name case-insensitive
    assert g("B4") == "Per aquam"
    assert g("B5") is True
    assert g("B6") == FIELD                  # no such field
    assert g("B7") == VALUE                  # not an entity
    assert g("B8") is True                   # other functions see #VALUE!
    assert g("B9") == 123.5                  # a key without t= is a number
    assert g("B10") == FIELD                 # internal keys are not fields
    assert g("B11") == 12.5                  # the entity flows through INDEX
    assert g("B12") == VALUE
    assert g("B13") == "USD/Atlantis"
    d1, d2 = g("D1"), g("D2")                # an array field spills its entities
    assert isinstance(d1, Entity) and d1.display == "Ruler A"
    assert isinstance(d2, Entity) and d2.display == "Ruler B"
    assert g("E1") == XLError("#SPILL!")     # E2 blocks UNIQUE's spill


def _cell_xml(data: bytes, ref: str) -> bytes:
    m = re.search(rb'<c r="' + ref.encode() + rb'"[^>]*?(?:/>|>.*?</c>)', data, re.S)
    assert m is not None, ref
    return m.group(0)


def test_writer_keeps_vm_and_rich_parts(book, tmp_path):
    out = tmp_path / "out.xlsx"
    wb = xleval.load(book)
    wb.save(str(out))
    with zipfile.ZipFile(book) as zi, zipfile.ZipFile(out) as zo:
        for part in ("xl/metadata.xml", "xl/richData/rdrichvalue.xml",
                     "xl/richData/rdrichvaluestructure.xml", "xl/richData/rdarray.xml"):
            assert zo.read(part) == zi.read(part)
        sheet = zo.read("xl/worksheets/sheet1.xml")
    d1 = _cell_xml(sheet, "D1")
    assert b'vm="3"' in d1 and b't="e"' in d1 and b"<v>#VALUE!</v>" in d1
    assert b'vm="4"' in _cell_xml(sheet, "D2")
    # the #SPILL! its vm names is written as Excel writes it: the #VALUE! fallback
    e1 = _cell_xml(sheet, "E1")
    assert b'vm="5"' in e1 and b"<v>#VALUE!</v>" in e1
    assert b"<v>#FIELD!</v>" in _cell_xml(sheet, "B6")
    assert b"<v>12.5</v>" in _cell_xml(sheet, "B2")
    assert b'vm="1"' in _cell_xml(sheet, "A1")


def test_spill_without_rich_error_is_written_as_itself(tmp_path):
    # the same workbook with E1's vm pointing to nothing (valueMetadata has 5 blocks, the
    # 5th now aimed at a rich value that does not exist): E1 keeps its own #SPILL!
    meta = METADATA.replace('<xlrd:rvb i="8"/>', '<xlrd:rvb i="99"/>')
    out = tmp_path / "out.xlsx"
    xleval.load(_write(tmp_path / "r.xlsx", metadata=meta)).save(str(out))
    with zipfile.ZipFile(out) as z:
        assert b"<v>#SPILL!</v>" in _cell_xml(z.read("xl/worksheets/sheet1.xml"), "E1")


@pytest.mark.parametrize("override", [
    {"values": "<rvData><rv s='0'><v>unclosed"},
    {"structures": None},
    {"values": None},
    {"metadata": METADATA.replace('name="XLRICHVALUE"', 'name="OTHER"')},
    {"arrays": "not xml"},
])
def test_unreadable_rich_data_keeps_cached_values(tmp_path, override):
    path = _write(tmp_path / "bad.xlsx", **override)
    sheet = load_workbook(str(path)).sheets[0]
    if "arrays" in override:
        # the values still read; only the array-valued field is lost
        assert not sheet.rich
        assert sheet.values[(1, 1)] == VALUE
        return
    a1 = sheet.values[(1, 1)]
    assert a1 == VALUE and not isinstance(a1, Entity)
    wb = xleval.load(path)
    wb.calculate()
    assert wb.get("Sheet1!B2") == VALUE      # _FV of a plain #VALUE! passes it on


@pytest.mark.skipif(not CORPUS.exists(), reason="conformance corpus not present")
def test_corpus_metadata_2019(tmp_path):
    # expected values: what Excel cached in the file (Sheet1 B9:C10), and the leaders Excel
    # spilled into B2 and B3:B4 (their rich values' display strings in the file)
    wb = xleval.load(CORPUS)
    wb.calculate()
    g = lambda ref: wb.get("Sheet1!" + ref)  # noqa: E731
    assert g("B9") == 439.77 and g("C9") == 429.755
    assert g("B10") == 124.97 and g("C10") == 116.485
    assert g("B2").display == "Justin Trudeau (Prime Minister)"
    assert [g("B3").display, g("B4").display] == ["Joe Biden (President)",
                                                  "Kamala Harris (Vice President)"]
    assert g("C13") == XLError("#SPILL!")
    out = tmp_path / "out.xlsx"
    wb.save(str(out))
    with zipfile.ZipFile(CORPUS) as zi, zipfile.ZipFile(out) as zo:
        for name in zi.namelist():
            if name.startswith("xl/richData/") or name == "xl/metadata.xml":
                assert zo.read(name) == zi.read(name), name
        sheet = zo.read("xl/worksheets/sheet1.xml")
    for ref, vm in (("B2", 2), ("B3", 4), ("B4", 5), ("C13", 8)):
        cell = _cell_xml(sheet, ref)
        assert b'vm="%d"' % vm in cell and b"<v>#VALUE!</v>" in cell, ref
