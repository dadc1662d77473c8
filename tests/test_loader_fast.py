"""The loader's fast scanner reads a row's cells with one findall (issue 7): a group that takes
no part then gives b"" instead of None, so the scanner must still tell an absent element
from an empty one (<v></v> vs no <v>, <is><t></t></is> vs no <is>, <f></f> vs <f/>), and
anything between cells that is not a usual-form cell must hand the sheet to the lxml
loader. Expected values are written by hand from the XML; the lxml loader must agree."""
from __future__ import annotations

import zipfile

import pytest

from xleval.loader import load_workbook
from xleval.loader import xlsx as X
from xleval.values import XLError


NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def one_sheet(tmp_path, body: str, sst: list[str]) -> str:
    """A one-sheet workbook whose <sheetData> content is `body`."""
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("_rels/.rels", f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
                   f'Type="{RT}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="{RT}"><sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}">'
                   f'<Relationship Id="rId1" Type="{RT}/worksheet" Target="worksheets/sheet1.xml"/>'
                   f'<Relationship Id="rId2" Type="{RT}/sharedStrings" Target="sharedStrings.xml"/>'
                   "</Relationships>")
        z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{NS}">{"".join(sst)}</sst>')
        z.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0" encoding="UTF-8"?>\n'
                   f'<worksheet xmlns="{NS}"><sheetData>{body}</sheetData></worksheet>')
    return str(path)


def _fast_and_lxml(path):
    """The sheet as the fast scanner reads it (asserting that it did), and as lxml reads it."""
    used = []
    orig = X._scan_sheet

    def spy(reader, sheet, data):
        ok = orig(reader, sheet, data)
        used.append(ok)
        return ok

    X._scan_sheet = spy
    try:
        fast = load_workbook(path).sheets[0]
        X._scan_sheet = lambda reader, sheet, data: False
        slow = load_workbook(path).sheets[0]
    finally:
        X._scan_sheet = orig
    return fast, slow, used[0]


def _same(fast, slow):
    for f in ("values", "formulas", "cached", "max_row", "max_col", "hidden_rows"):
        assert getattr(fast, f) == getattr(slow, f), f


EMPTY_VS_ABSENT = (
    '<row r="1">'
    '<c r="A1" t="str"><f>""</f><v></v></c>'          # cached empty string
    '<c r="B1" t="str"><f>X1</f></c>'                   # no cached value at all
    '<c r="C1" t="str"><f>""</f><v/></c>'              # <v/>: present, empty
    '<c r="D1" t="inlineStr"><is><t></t></is></c>'      # empty inline string
    '<c r="E1" t="inlineStr"><is><t xml:space="preserve"> a </t></is></c>'
    '<c r="F1" t="inlineStr"><v>via v</v></c>'         # inline string held in <v>
    '<c r="G1"><f></f><v>3</v></c>'                     # empty <f></f>: no formula
    '<c r="H1"><f/><v>4</v></c>'
    '<c r="I1" s="2"><v></v></c>'                        # empty number: blank
    '<c r="J1" t="s"><v>1</v></c>'
    '<c r="K1" t="b"><v>0</v></c>'
    '<c r="L1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
    '<c r="M1" s="3" t="n"><f t="shared" ref="M1:M3" si="0">A1&amp;"x"</f><v>2.5</v></c>'
    "</row>"
    '<row r="2" hidden="1">  <c r="M2"><f t="shared" si="0"/></c>\n'
    '  <c r="N2" cm="1"><f>SEQUENCE(2)</f><v>1</v></c> </row>'
    '<row r="3"><c r="M3" t="str"><f t="shared" si="0"></f><v>m3</v></c></row>')


def test_empty_and_absent_elements_are_told_apart(tmp_path):
    path = one_sheet(tmp_path, EMPTY_VS_ABSENT, sst=["<si><t>zero</t></si>", "<si><t>one</t></si>"])
    s, slow, fast_used = _fast_and_lxml(path)
    assert fast_used
    _same(s, slow)
    assert s.cached[(1, 1)] == "" and s.formulas[(1, 1)].text == '""'
    assert (1, 2) in s.formulas and (1, 2) not in s.cached
    assert s.cached[(1, 3)] == ""
    assert s.values[(1, 4)] == "" and s.values[(1, 5)] == " a " and s.values[(1, 6)] == "via v"
    assert (1, 7) not in s.formulas and s.values[(1, 7)] == 3.0
    assert (1, 8) not in s.formulas and s.values[(1, 8)] == 4.0
    assert (1, 9) not in s.values and (1, 9) not in s.cached
    assert s.values[(1, 10)] == "one" and s.values[(1, 11)] is False
    assert s.cached[(1, 12)] == XLError("#DIV/0!")
    anchor = s.formulas[(1, 13)]
    assert anchor.text == 'A1&"x"' and s.cached[(1, 13)] == 2.5
    assert s.formulas[(2, 13)] is anchor and s.formulas[(3, 13)] is anchor
    assert s.cached[(3, 13)] == "m3" and (2, 13) not in s.cached
    assert s.formulas[(2, 14)].text == "SEQUENCE(2)" and s.formulas[(2, 14)].dynamic
    assert s.hidden_rows == {2} and (s.max_row, s.max_col) == (3, 14)


@pytest.mark.parametrize("body", [
    '<row r="1"><c r="A1"><v>1</v></c><!-- note --><c r="B1"><v>2</v></c></row>',
    '<row r="1"><c r="A1"><v>1</v></c>stray text</row>',
    '<row r="1"><c r="A1"><v>1</v></c><extLst><ext uri="x"/></extLst></row>',
    '<row r="1"><c r="A1" t=\'s\'><v>0</v></c></row>',               # single quotes
    '<row r="1"><c r="A1"><v>1</v><extLst/></c></row>',               # a cell's extLst
    '<row r="1"><c r="A1"><f t="array" ref="A1:A2">B1:B2</f><v>1</v></c></row>',
    '<row r="1"><c r="A1"><v a="1">1</v></c></row>',                  # <v> with attributes
])
def test_other_forms_go_to_the_lxml_loader(tmp_path, body):
    path = one_sheet(tmp_path, body, sst=["<si><t>zero</t></si>"])
    s, slow, fast_used = _fast_and_lxml(path)
    assert not fast_used
    _same(s, slow)
    assert s.values.get((1, 1), s.cached.get((1, 1))) in (1.0, "zero")
