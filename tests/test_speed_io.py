"""The fast paths of loading and writing (xleval issue 7): the streaming sheet patcher must
give the same XML as the general in-memory patcher whatever the chunk boundaries, fall back
for parts it does not handle, and write workbooks that openpyxl and LibreOffice read back
with the new values. The loader shares one FormulaCell per shared-formula group."""
from __future__ import annotations

import csv
import io
import random
import shutil
import subprocess
import warnings
import zipfile

import openpyxl
import pytest
from lxml import etree

from xleval.loader import load_workbook
from xleval.values import NA, XLError
from xleval.writer import write_values
from xleval.writer.xlsx import _general_patch, patch_sheet_stream

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _sheet(rows: str, prefix: str = "") -> bytes:
    p = prefix + ":" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS}"' if prefix else f'xmlns="{NS}"'
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet {xmlns}>'
            f'<{p}dimension ref="A1:D40"/><{p}sheetData>{rows}</{p}sheetData>'
            f'<{p}pageMargins left="0.7"/></{p}worksheet>').encode()


def _rows(n: int = 40) -> str:
    """Rows 1..n except every 7th (missing rows), cells in several forms."""
    out = []
    for r in range(1, n + 1):
        if r % 7 == 0:
            continue
        cells = [f'<c r="A{r}"><v>{r}</v></c>',
                 f'<c r="B{r}" s="2"><f>A{r}*2</f><v>0</v></c>',
                 f'<c r="C{r}" t="str"><f>"x"&amp;A{r}</f><v>old &amp; stale</v></c>']
        if r % 5 == 0:   # a form the fast path leaves to the general patcher
            cells.append(f'<c r="D{r}" t="n"><f>C{r}</f><v>1</v>'
                         '<extLst><ext uri="u"/></extLst></c>')
        else:
            cells.append(f'<c r="D{r}"/>')
        out.append(f'<row r="{r}" spans="1:4">' + "".join(cells) + "</row>")
    return "".join(out)


def _targets(n: int = 40) -> dict:
    t = {}
    for r in range(1, n + 1):
        t[(r, 2)] = r * 2.0 if r % 3 else r / 3.0
        t[(r, 3)] = f"x{r} <&>" if r % 4 else (True if r % 8 else NA)
        t[(r, 4)] = None if r % 6 else -1.5e-12
    t[(45, 1)] = "appended"        # after the last row
    t[(3, 6)] = 9.0                # beyond the row's spans (cell inserted)
    return t


def _stream(data: bytes, targets: dict, chunk: int) -> bytes:
    out = io.BytesIO()
    patch_sheet_stream(io.BytesIO(data), out, targets, "S", chunk=chunk)
    return out.getvalue()


@pytest.mark.parametrize("chunk", [16, 100, 333, 1 << 22])
def test_stream_equals_general_patcher_at_any_chunk_size(chunk):
    data = _sheet(_rows())
    targets = _targets()
    expected = _general_patch(data, targets, "S")
    assert _stream(data, targets, chunk) == expected
    # the values read back independently (lxml) are the targets' encodings
    root = etree.fromstring(expected)
    cells = {c.get("r"): c for c in root.iter(f"{{{NS}}}c")}
    assert cells["B3"].findtext(f"{{{NS}}}v") == "1"            # 3/3.0
    assert cells["B4"].findtext(f"{{{NS}}}v") == "8"
    assert cells["C5"].get("t") == "str" and cells["C5"].findtext(f"{{{NS}}}v") == "x5 <&>"
    assert cells["C8"].get("t") == "e" and cells["C8"].findtext(f"{{{NS}}}v") == "#N/A"
    assert cells["C4"].get("t") == "b" and cells["C4"].findtext(f"{{{NS}}}v") == "1"
    assert cells["D6"].findtext(f"{{{NS}}}v") == "-1.5E-12"
    assert cells["D10"].find(f"{{{NS}}}extLst") is not None     # kept, value before it
    assert cells["A45"].get("t") == "inlineStr"
    assert cells["F3"].findtext(f"{{{NS}}}v") == "9"
    rows = [int(r.get("r")) for r in root.iter(f"{{{NS}}}row")]
    assert rows == list(range(1, 41)) + [45]            # missing rows 7, 14.. inserted


def test_stream_inserts_rows_between_chunks():
    data = _sheet("".join(f'<row r="{r}"><c r="A{r}"><v>1</v></c></row>' for r in (1, 10, 20, 30)))
    targets = {(r, 1): float(r) for r in range(1, 35)}
    expected = _general_patch(data, targets, "S")
    for chunk in (8, 40, 64, 1 << 20):
        assert _stream(data, targets, chunk) == expected
    rows = etree.fromstring(expected).findall(f".//{{{NS}}}row")
    assert [int(r.get("r")) for r in rows] == list(range(1, 35))
    assert b'<dimension ref="A1:D40"/>' in expected           # inside the old dimension


@pytest.mark.parametrize("xml", [
    _sheet('<x:row r="1"><x:c r="A1"><x:f>1+1</x:f><x:v>0</x:v></x:c></x:row>', prefix="x"),
    _sheet('<row><c r="A1"><f>1+1</f><v>0</v></c></row><row><c><v>3</v></c></row>'),
    _sheet('<row spans="1:1" r="1"><c r="A1"><f>1+1</f><v>0</v></c></row>'),
    _sheet(""),
])
def test_stream_falls_back_to_general_patcher(xml):
    targets = {(1, 1): 2.0, (2, 1): "two"}
    assert _stream(xml, targets, 16) == _general_patch(xml, targets, "S")
    root = etree.fromstring(_stream(xml, targets, 1 << 20))
    assert [v.text for v in root.iter(f"{{{NS}}}v")][0] == "2"


def test_bad_positions_and_values_still_rejected():
    data = _sheet(_rows(3))
    with pytest.raises(ValueError, match="bad cell position"):
        _stream(data, {(0, 1): 1.0}, 1 << 20)
    with pytest.raises(ValueError, match="bad cell position"):
        _stream(data, {"A1": 1.0}, 1 << 20)
    with pytest.raises(TypeError, match="unsupported value type"):
        _stream(data, {(1, 2): object()}, 1 << 20)


def _big_book(path, rows: int) -> dict:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["x", "double", "label", "flag"])
    for r in range(2, rows + 1):
        ws.append([r, f"=A{r}*2", f'="n"&A{r}', f"=A{r}>{rows // 2}"])
    wb.save(path)
    expect = {}
    for r in range(2, rows + 1):
        expect[(r, 2)] = r * 2.0
        expect[(r, 3)] = f"n{r}"
        expect[(r, 4)] = r > rows // 2
    return expect


def test_written_workbook_reads_back_in_openpyxl(tmp_path):
    src, dst = tmp_path / "big.xlsx", tmp_path / "out.xlsx"
    expect = _big_book(src, 3000)
    write_values(str(src), str(dst), {"Data": expect})
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst) as b:
        assert a.namelist() == b.namelist()                 # every part kept, same order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ws = openpyxl.load_workbook(dst, data_only=True)["Data"]
        formulas = openpyxl.load_workbook(dst)["Data"]
    for (r, c), v in random.Random(7).sample(sorted(expect.items()), 200):
        assert ws.cell(r, c).value == v
        assert str(formulas.cell(r, c).value).startswith("=")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice not installed")
def test_written_workbook_opens_in_libreoffice(tmp_path):
    src, dst = tmp_path / "lo.xlsx", tmp_path / "lo_out.xlsx"
    expect = _big_book(src, 200)
    write_values(str(src), str(dst), {"Data": expect})
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
                    "--convert-to", "csv", "--outdir", str(tmp_path), str(dst)],
                   check=True, capture_output=True, timeout=180)
    with open(tmp_path / "lo_out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["x", "double", "label", "flag"]
    assert rows[9] == ["10", "20", "n10", "FALSE"] and rows[199] == ["200", "400", "n200", "TRUE"]


def test_shared_formula_members_share_one_cell_object(tmp_path):
    rows = ['<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f t="shared" ref="B1:B4" si="0">A1*2</f>'
            "</c></row>"]
    for r in range(2, 5):
        cm = ' cm="1"' if r == 3 else ""
        rows.append(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"{cm}>'
                    '<f t="shared" si="0"/></c></row>')
    path = tmp_path / "shared.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/'
                   '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxml'
                   'formats.org/officeDocument/2006/relationships/officeDocument" '
                   'Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="http://schemas.openxml'
                   'formats.org/officeDocument/2006/relationships"><sheets><sheet name="S" '
                   'sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxml'
                   'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
                   'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                   'Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", _sheet("".join(rows)))
    f = load_workbook(str(path)).sheets[0].formulas
    assert f[(1, 2)] is f[(2, 2)] is f[(4, 2)]                 # one object for the group
    assert f[(4, 2)].text == "A1*2" and f[(4, 2)].origin == (1, 2) and not f[(4, 2)].dynamic
    assert f[(3, 2)] is not f[(2, 2)] and f[(3, 2)].dynamic    # the flagged member: its own
    assert f[(3, 2)].text == "A1*2" and f[(3, 2)].origin == (1, 2)
    assert not isinstance(f[(3, 2)], XLError)


# ---------------------------------------------------------------------------------------
# the loader's fast scanner gives what the lxml loader gives (and what the XML says)
# ---------------------------------------------------------------------------------------

def _book(path, body: str, *, date1904: bool = False, tail: str = "",
          sst: tuple[str, ...] = ()) -> str:
    rels_ns = "http://schemas.openxmlformats.org/package/2006/relationships"
    rt = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_rels/.rels", f'<Relationships xmlns="{rels_ns}"><Relationship Id="rId1" '
                   f'Type="{rt}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        pr = '<workbookPr date1904="1"/>' if date1904 else ""
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{NS}" xmlns:r="{rt}">{pr}<sheets>'
                   '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{rels_ns}">'
                   f'<Relationship Id="rId1" Type="{rt}/worksheet" Target="worksheets/sheet1.xml"/>'
                   f'<Relationship Id="rId2" Type="{rt}/sharedStrings" Target="sharedStrings.xml"/>'
                   "</Relationships>")
        z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{NS}">'
                   + "".join(f"<si><t>{x}</t></si>" for x in sst) + "</sst>")
        z.writestr("xl/worksheets/sheet1.xml",
                   f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{NS}">'
                   f"<sheetData>{body}</sheetData>{tail}</worksheet>")
    return str(path)


FAST_BODY = (
    '<row r="1"><c r="A1"><v>1.5</v></c><c r="B1" t="s"><v>1</v></c>'
    '<c r="C1" t="str"><f>"a"&amp;"&lt;b&gt;"</f><v>a&lt;b&gt;</v></c>'
    '<c r="D1" t="b"><v>1</v></c><c r="E1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
    '<c r="F1" t="inlineStr"><is><t xml:space="preserve"> x_x000A_y </t></is></c>'
    '<c r="G1" t="d"><v>1904-01-02</v></c><c r="H1" s="3"/><c r="I1" t="str"><f>""</f><v/></c>'
    '<c r="J1"><f t="shared" ref="J1:J3" si="0">A1*2</f><v>3</v></c></row>'
    '<row r="2" hidden="1"><c r="J2"><f t="shared" si="0"/><v>0</v></c>'
    '<c r="K2" t="n"><v>&#49;e3</v></c></row>'
    '<row r="3" hidden="true" spans="1:10"><c r="J3"><f t="shared" si="0"/></c>'
    '<c r="L3"><f>SUM(A1:A2)</f></c><c r="M3" t="str"><v>caf\u00e9</v></c></row>'
    '<row r="5" hidden="1"/>')


def _both(path):
    from xleval.loader import xlsx as X
    fast = load_workbook(path).sheets[0]
    orig = X._scan_sheet
    X._scan_sheet = lambda reader, sheet, data: False
    try:
        slow = load_workbook(path).sheets[0]
    finally:
        X._scan_sheet = orig
    for f in ("values", "formulas", "cached", "max_row", "max_col", "hidden_rows",
              "filtered_rows"):
        assert getattr(fast, f) == getattr(slow, f), f
    return fast


def test_fast_scanner_reads_every_value_type(tmp_path):
    path = _book(tmp_path / "fast.xlsx", FAST_BODY, date1904=True, sst=("zero", "one"),
                 tail='<autoFilter ref="A1:M4"><filterColumn colId="0"><filters>'
                      '<filter val="1.5"/></filters></filterColumn></autoFilter>')
    s = _both(path)
    assert s.values[(1, 1)] == 1.5 and s.values[(1, 2)] == "one" and s.values[(1, 4)] is True
    assert s.values[(1, 6)] == " x\ny " and s.values[(1, 7)] == 1.0     # 1904 system: day 1
    assert s.values[(2, 11)] == 1000.0 and s.values[(3, 13)] == "caf\u00e9"
    assert (1, 8) not in s.values                                        # style only
    assert s.formulas[(1, 3)].text == '"a"&"<b>"' and s.cached[(1, 3)] == "a<b>"
    assert s.cached[(1, 5)] == XLError("#DIV/0!") and s.cached[(1, 9)] == ""
    assert s.formulas[(3, 10)].text == "A1*2" and s.formulas[(3, 10)].origin == (1, 10)
    assert s.cached[(2, 10)] == 0.0 and (3, 10) not in s.cached
    assert s.hidden_rows == {2, 3, 5} and s.filtered_rows == {2, 3}
    assert (s.max_row, s.max_col) == (3, 13)
    # a filter without criteria hides nothing: rows hidden in its range are hidden by hand
    path = _book(tmp_path / "nofilter.xlsx", FAST_BODY, date1904=True, sst=("zero", "one"),
                 tail='<autoFilter ref="A1:M4"/>')
    s = _both(path)
    assert s.hidden_rows == {2, 3, 5} and s.filtered_rows == set()


@pytest.mark.parametrize("body", [
    FAST_BODY.replace('<row r="2" hidden="1">', '<!-- note --><row r="2" hidden="1">'),
    FAST_BODY.replace('<c r="L3"><f>', '<c r="L3"><f t="array" ref="L3:L4">'),
    FAST_BODY.replace('<c r="K2" t="n">', '<c t="n">'),                     # no r
    FAST_BODY.replace("caf\u00e9", "line\r\nend"),
    FAST_BODY.replace('<row r="1">', '<row r="1"><c r="Z1"><v>1</v><extLst/></c>'),
])
def test_fast_scanner_leaves_other_forms_to_lxml(tmp_path, body):
    s = _both(_book(tmp_path / "other.xlsx", body, sst=("zero", "one")))
    assert s.values[(1, 1)] == 1.5 and s.formulas[(3, 10)].origin == (1, 10)
